package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// tiny returns a preset's options scaled down for a unit test. The
// timeouts are generous: these tests assert the outcome and the sanity of
// the figures, never how fast anything was.
func tiny(t *testing.T, preset string, edit func(*Options)) Options {
	t.Helper()
	o, err := DefaultOptions(preset)
	if err != nil {
		t.Fatal(err)
	}
	o.Timeout = 2 * time.Minute
	edit(&o)
	return o
}

// checkResult asserts what every successful run reports.
func checkResult(t *testing.T, r *Result, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !r.OK || r.Error != "" {
		t.Fatalf("not OK: %q", r.Error)
	}
	if r.Placed != r.Allocs || r.Running != r.Allocs {
		t.Errorf("placed %d, running %d, want %d each", r.Placed, r.Running, r.Allocs)
	}
	if r.TimeToAllPlaced <= 0 || r.TimeToAllRunning <= 0 || r.TimeToAllPlaced > r.TimeToAllRunning {
		t.Errorf("time to all placed %v, to all running %v", r.TimeToAllPlaced, r.TimeToAllRunning)
	}
	if r.PlacementsPerSec <= 0 {
		t.Errorf("placements/s %v", r.PlacementsPerSec)
	}
	p := r.RegisterToPlaced
	if p.Count != r.Allocs || p.P50 <= 0 || p.P50 > p.P99 || p.P99 > p.Max {
		t.Errorf("register → placed: %+v for %d allocations", p, r.Allocs)
	}
	if n := len(r.Milestones); n != len(milestonePercents) || r.Milestones[n-1].Placed != r.Allocs {
		t.Errorf("milestones: %+v", r.Milestones)
	}
	for i := 1; i < len(r.Milestones); i++ {
		if r.Milestones[i].At < r.Milestones[i-1].At {
			t.Errorf("milestones out of order: %+v", r.Milestones)
		}
	}
	raft := r.Raft
	if raft.Total.Entries == 0 || raft.Total.Bytes == 0 || raft.Total.Largest == 0 || raft.Total.Largest > raft.Total.Bytes {
		t.Errorf("raft: %+v", raft.Total)
	}
	var entries, nbytes uint64
	for _, c := range raft.ByType {
		entries += c.Entries
		nbytes += c.Bytes
	}
	if entries != raft.Total.Entries || nbytes != raft.Total.Bytes {
		t.Errorf("raft types add up to %d entries, %d bytes; total %+v", entries, nbytes, raft.Total)
	}
	for _, typ := range []string{"JobRegister", "ApplyPlanResults", "AllocClientUpdate"} {
		if raft.ByType[typ].Entries == 0 {
			t.Errorf("no %s entry in %v", typ, raft.ByType)
		}
	}
	if raft.ByType[raft.LargestType].Largest != raft.Total.Largest {
		t.Errorf("largest entry %d is not the largest of its type %q", raft.Total.Largest, raft.LargestType)
	}
	m := r.Memory
	if m.HeapInUse == 0 || m.PeakHeapInUse < m.HeapInUse || m.Goroutines == 0 {
		t.Errorf("memory: %+v", m)
	}
	if m.RSS == 0 || m.PeakRSS < m.RSS {
		t.Errorf("RSS: %+v", m)
	}
	if r.Evals == 0 || r.Elapsed <= 0 || r.NodesRegistered <= 0 {
		t.Errorf("evals %d, elapsed %v, nodes registered %v", r.Evals, r.Elapsed, r.NodesRegistered)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "outcome") || !strings.Contains(table.String(), "ok: every allocation") {
		t.Errorf("table:\n%s", table.String())
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil || back.Allocs != r.Allocs || back.Raft.Total != r.Raft.Total {
		t.Errorf("JSON round trip: %v, %s", err, b)
	}
}

func TestBenchC100kTiny(t *testing.T) {
	r, err := Run(context.Background(), tiny(t, PresetC100k, func(o *Options) {
		o.Nodes, o.Allocs, o.Jobs = 20, 200, 2
	}))
	checkResult(t, r, err)
	if r.Jobs != 2 || r.Nodes != 20 {
		t.Errorf("sizes: %+v", r)
	}
}

func TestBenchBootTiny(t *testing.T) {
	r, err := Run(context.Background(), tiny(t, PresetBoot, func(o *Options) { o.Nodes = 50 }))
	checkResult(t, r, err)
	if r.Allocs != 50 {
		t.Errorf("boot places one allocation per node: %d for 50 nodes", r.Allocs)
	}
}

func TestBenchChurnTiny(t *testing.T) {
	r, err := Run(context.Background(), tiny(t, PresetChurn, func(o *Options) {
		o.Nodes, o.Allocs, o.Duration = 20, 200, 3*time.Second
		o.FailPerMinute = 1 // all of them per minute: about 10 over 3 s
	}))
	checkResult(t, r, err)
	c := r.Churn
	if c == nil {
		t.Fatal("no churn figures")
	}
	if c.Failed == 0 || c.Replaced != c.Failed || c.Reschedule.Count != c.Failed {
		t.Errorf("churn: %+v", c)
	}
	if c.Reschedule.P50 <= 0 || c.Reschedule.P50 > c.Reschedule.P99 || c.Duration <= 0 || c.MaxBacklog < c.BacklogAtEnd {
		t.Errorf("churn figures: %+v", c)
	}
}

// Simulated nodes heartbeat on their own, however slow their allocation
// updates: with TTLs of 300 ms a node that missed one would be marked
// down, which the run's verification refuses.
func TestBenchNodesHeartbeat(t *testing.T) {
	r, err := Run(context.Background(), tiny(t, PresetChurn, func(o *Options) {
		o.Nodes, o.Allocs, o.Duration = 10, 50, 2*time.Second
		o.heartbeatTTL = 300 * time.Millisecond
	}))
	checkResult(t, r, err)
}

func TestBenchC1kTiny(t *testing.T) {
	r, err := Run(context.Background(), tiny(t, PresetC1k, func(o *Options) { o.Allocs = 20 }))
	checkResult(t, r, err)
}

// A run that cannot reach its outcome fails with ErrOutcome, saying how
// far it got, and still reports what it measured.
func TestBenchTimeoutIsAnError(t *testing.T) {
	r, err := Run(context.Background(), tiny(t, PresetC100k, func(o *Options) {
		o.Nodes, o.Allocs, o.Jobs = 2, 100, 1
		o.Timeout = time.Nanosecond
	}))
	if !errors.Is(err, ErrOutcome) {
		t.Fatalf("err = %v, want ErrOutcome", err)
	}
	if r == nil || r.OK || !strings.Contains(r.Error, "timed out") {
		t.Fatalf("result: %+v", r)
	}
}

func TestBenchOptionsValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		preset string
		edit   func(*Options)
		want   string
	}{
		"unknown preset":    {"c2m", func(*Options) {}, "unknown preset"},
		"group too big":     {PresetC100k, func(o *Options) { o.Jobs = 5 }, "use more jobs"},
		"c1k has one node":  {PresetC1k, func(o *Options) { o.Nodes = 2 }, "must be 1"},
		"boot has one job":  {PresetBoot, func(o *Options) { o.Jobs = 2 }, "one system job"},
		"churn needs time":  {PresetChurn, func(o *Options) { o.Duration = 0 }, "positive duration"},
		"fewer than a job":  {PresetC100k, func(o *Options) { o.Allocs, o.Jobs = 3, 5 }, "at least one per job"},
		"no nodes":          {PresetC100k, func(o *Options) { o.Nodes = 0 }, "nodes must be"},
		"fail rate too big": {PresetChurn, func(o *Options) { o.FailPerMinute = 2 }, "fraction"},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := DefaultOptions(PresetC100k)
			if err != nil {
				t.Fatal(err)
			}
			if d, err := DefaultOptions(tc.preset); err == nil {
				o = d
			}
			o.Preset = tc.preset
			tc.edit(&o)
			_, err = Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
