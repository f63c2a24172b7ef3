package server

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"drover/agent/jobspec"
	"drover/agent/scheduler"
	"drover/agent/state"
	"drover/agent/structs"
)

// planFixture drives an FSM the way the leader does, without raft or
// network: nodes and jobs are registered through log entries, evaluations
// are scheduled from a snapshot, checked by the plan applier's
// evaluatePlan and committed as the entry planResultsRequest builds. It
// measures and checks what a plan costs in the log.
type planFixture struct {
	tb    testing.TB
	f     *fsm
	index uint64
	now   time.Time
	// enc builds log entries (encode unless a test plays an older server).
	enc func(MessageType, interface{}) ([]byte, error)
}

func newPlanFixture(tb testing.TB, nodes int) *planFixture {
	tb.Helper()
	f, err := newFSM()
	if err != nil {
		tb.Fatal(err)
	}
	p := &planFixture{tb: tb, f: f, index: 1, now: time.Unix(1700000000, 0).UTC(), enc: encode}
	for i := 0; i < nodes; i++ {
		n := testNode(fmt.Sprintf("node-%d", i), 16000, 65536)
		n.NodePool = "default"
		n.SchedulingEligibility = structs.NodeSchedulingEligible
		p.apply(NodeRegisterRequestType, &NodeRegisterRequest{Node: n})
	}
	return p
}

// apply encodes req as a log entry and applies it at the next index.
func (p *planFixture) apply(t MessageType, req interface{}) []byte {
	p.tb.Helper()
	buf, err := p.enc(t, req)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.applyRaw(buf)
	return buf
}

func (p *planFixture) applyRaw(buf []byte) {
	p.tb.Helper()
	p.index++
	if resp := p.f.Apply(&raft.Log{Index: p.index, Data: buf}); resp != nil {
		p.tb.Fatalf("apply at %d: %v", p.index, resp)
	}
}

// register stores a version of job, as Job.Register does, and returns it
// as stored.
func (p *planFixture) register(job *structs.Job) *structs.Job {
	p.tb.Helper()
	p.apply(JobRegisterRequestType, &JobRegisterRequest{Job: job.Copy()})
	stored, err := p.f.State().JobByID(nil, job.Namespace, job.ID)
	if err != nil || stored == nil {
		p.tb.Fatalf("job %q not stored: %v", job.ID, err)
	}
	return stored
}

// planned is the entry of one plan in both forms: as this server writes
// it and as servers before normalisation did.
type planned struct {
	cur, legacy *state.ApplyPlanResultsRequest
}

// plan schedules an evaluation of job and returns its plan results entry,
// not yet applied.
func (p *planFixture) plan(job *structs.Job) planned {
	p.tb.Helper()
	e := newEval(job)
	p.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{e}})
	return p.schedule(e)
}

func newEval(job *structs.Job) *structs.Evaluation {
	return &structs.Evaluation{
		ID: structs.GenerateUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
		TriggeredBy: structs.EvalTriggerJobRegister, JobID: job.ID, JobModifyIndex: job.JobModifyIndex,
		Status: structs.EvalStatusPending,
	}
}

// schedule runs the scheduler for a stored evaluation and returns the
// entry of its plan as the plan applier builds it, not yet applied.
func (p *planFixture) schedule(e *structs.Evaluation) planned {
	p.tb.Helper()
	snap := p.f.State().Snapshot()
	res, err := scheduler.Schedule(snap, e, p.now)
	if err != nil {
		p.tb.Fatal(err)
	}
	result, err := evaluatePlan(snap, res.Plan)
	if err != nil {
		p.tb.Fatal(err)
	}
	req, err := planResultsRequest(res.Plan, result, p.now, snap)
	if err != nil {
		p.tb.Fatal(err)
	}
	return planned{cur: req, legacy: legacyPlanResultsRequest(res.Plan, result, p.now)}
}

// legacyPlanResultsRequest is the entry servers wrote before plans were
// normalised: stops as whole allocations, updates with their jobs unless
// it was the plan's.
func legacyPlanResultsRequest(p *structs.Plan, r *structs.PlanResult, ts time.Time) *state.ApplyPlanResultsRequest {
	req := &state.ApplyPlanResultsRequest{
		Job: p.Job, Deployment: r.Deployment, DeploymentUpdates: r.DeploymentUpdates, Timestamp: ts.UnixNano(),
	}
	for _, node := range sortedKeys(r.NodeUpdate) {
		for _, a := range r.NodeUpdate[node] {
			c := *a
			c.Job = nil
			req.AllocsStopped = append(req.AllocsStopped, &c)
		}
	}
	for _, node := range sortedKeys(r.NodeAllocation) {
		for _, a := range r.NodeAllocation[node] {
			c := *a
			if c.Job == p.Job {
				c.Job = nil
			}
			if c.CreateIndex == 0 {
				req.AllocsPlaced = append(req.AllocsPlaced, &c)
			} else {
				req.AllocsUpdated = append(req.AllocsUpdated, &c)
			}
		}
	}
	return req
}

// benchJob is seed004 on the mock driver with count allocations, small
// enough that 10 fit on a fixture node.
func benchJob(tb testing.TB, count int) *structs.Job {
	tb.Helper()
	src, err := os.ReadFile("../jobspec/testdata/seed004.nomad")
	if err != nil {
		tb.Fatal(err)
	}
	text := string(src)
	for _, e := range [][2]string{
		{`group "cache" {`, fmt.Sprintf("group \"cache\" {\n    count = %d", count)},
		{`driver = "docker"`, `driver = "mock"`},
		{"cpu    = 500", "cpu    = 100"},
		{"memory = 256", "memory = 64"},
	} {
		if !strings.Contains(text, e[0]) {
			tb.Fatalf("edit %q not found", e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	job, err := jobspec.Parse("seed004.nomad", []byte(text), jobspec.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return job
}

func allocCount(req *state.ApplyPlanResultsRequest) int {
	return len(req.AllocStops) + len(req.AllocsStopped) + len(req.AllocsUpdated) + len(req.AllocsUpdatedKeepJob) +
		len(req.AllocsPlaced)
}

// BenchmarkPlanEntry10k measures the raft entry of a plan for 10,000
// allocations over 1,000 nodes, as servers before MessagePack and
// normalisation wrote it (json-legacy) and as this one does (msgpack):
// its size (entry-bytes, bytes/alloc) and the time to encode and decode
// it. place is the first placement, inplace a version that changes only
// scheduling policy (every allocation updated in place), destructive a
// new config without an update block (every allocation stopped and
// replaced in one plan), stop the job stopped.
//
//	go test ./agent/server -run '^$' -bench PlanEntry10k -benchtime 3x
func BenchmarkPlanEntry10k(b *testing.B) {
	const count = 10000
	p := newPlanFixture(b, 1000)
	job := benchJob(b, count)
	stored := p.register(job)
	entries := map[string]planned{}
	var order []string
	step := func(name string, next *structs.Job) {
		stored = p.register(next)
		pl := p.plan(stored)
		entries[name] = pl
		order = append(order, name)
		p.apply(ApplyPlanResultsRequestType, pl.cur)
	}
	step("place", job)
	inplace := stored.Copy()
	inplace.TaskGroups[0].Tasks[0].KillTimeout += time.Second
	step("inplace", inplace)
	destructive := stored.Copy()
	destructive.TaskGroups[0].Tasks[0].Config["image"] = "redis:7"
	// No update block: every allocation is replaced in one plan.
	destructive.Update, destructive.TaskGroups[0].Update = nil, nil
	step("destructive", destructive)
	stop := stored.Copy()
	stop.Stop = true
	step("stop", stop)

	for _, name := range order {
		for _, form := range []struct {
			name string
			req  *state.ApplyPlanResultsRequest
			enc  func(MessageType, interface{}) ([]byte, error)
		}{
			{"json-legacy", entries[name].legacy, encodeJSON},
			{"msgpack", entries[name].cur, encode},
		} {
			buf, err := form.enc(ApplyPlanResultsRequestType, form.req)
			if err != nil {
				b.Fatal(err)
			}
			n := allocCount(form.req)
			b.Logf("%s/%s: %d allocations, %d bytes", name, form.name, n, len(buf))
			b.Run(name+"/"+form.name+"/encode", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := form.enc(ApplyPlanResultsRequestType, form.req); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(buf)), "entry-bytes")
				b.ReportMetric(float64(len(buf))/float64(n), "bytes/alloc")
			})
			b.Run(name+"/"+form.name+"/decode", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					var back state.ApplyPlanResultsRequest
					if err := decodeEntry(buf[1:], &back); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestPlanEntries_NormalisedWithRightJobVersions: plan entries carry the
// job once and no allocation carries one; after each is applied, every
// allocation runs the version it should: the first placement v1, an
// in-place update the new version, a destructive update the new version
// for replacements while the stopped keep theirs, and a stop changes no
// version. Allocations placed by one entry share one job object, and an
// update leaves out the resources and metrics it does not change.
func TestPlanEntries_NormalisedWithRightJobVersions(t *testing.T) {
	const count = 20
	p := newPlanFixture(t, 5)
	job := benchJob(t, count)
	versions := func() map[string]uint64 {
		allocs, err := p.f.State().AllocsByJob(nil, job.Namespace, job.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]uint64{}
		for _, a := range allocs {
			if a.Job == nil {
				t.Fatalf("alloc %s has no job", a.ID)
			}
			out[a.ID] = a.Job.Version
		}
		return out
	}
	commit := func(next *structs.Job) (*structs.Job, *state.ApplyPlanResultsRequest) {
		t.Helper()
		stored := p.register(next)
		req := p.plan(stored).cur
		for _, group := range [][]*structs.Allocation{req.AllocsPlaced, req.AllocsUpdated, req.AllocsUpdatedKeepJob} {
			for _, a := range group {
				if a.Job != nil || a.TaskStates != nil {
					t.Fatalf("alloc %s carries its job or task states in the entry", a.ID)
				}
			}
		}
		if len(req.AllocsStopped) != 0 {
			t.Fatal("stops as whole allocations")
		}
		p.apply(ApplyPlanResultsRequestType, req)
		return stored, req
	}

	v1, req := commit(job)
	if len(req.AllocsPlaced) != count {
		t.Fatalf("place: %d placed", len(req.AllocsPlaced))
	}
	var shared *structs.Job
	for id, v := range versions() {
		if v != v1.Version {
			t.Fatalf("place: alloc %s runs version %d, want %d", id, v, v1.Version)
		}
		a, _ := p.f.State().AllocByID(nil, id)
		if shared == nil {
			shared = a.Job
		} else if a.Job != shared {
			t.Fatal("allocations placed by one entry do not share its job")
		}
	}

	next := v1.Copy()
	next.TaskGroups[0].Tasks[0].KillTimeout += time.Second
	v2, req := commit(next)
	if len(req.AllocsUpdated) != count {
		t.Fatalf("inplace: %d updated", len(req.AllocsUpdated))
	}
	for _, a := range req.AllocsUpdated {
		if a.AllocatedResources != nil || a.Metrics != nil {
			t.Fatalf("inplace: alloc %s carries its unchanged resources or metrics", a.ID)
		}
	}
	for id, v := range versions() {
		if v != v2.Version {
			t.Fatalf("inplace: alloc %s runs version %d, want %d", id, v, v2.Version)
		}
		if a, _ := p.f.State().AllocByID(nil, id); a.AllocatedResources == nil || a.Metrics == nil {
			t.Fatalf("inplace: alloc %s lost its resources or metrics", id)
		}
	}

	old := versions()
	next = v2.Copy()
	next.TaskGroups[0].Tasks[0].Config["image"] = "redis:7"
	next.Update, next.TaskGroups[0].Update = nil, nil
	v3, req := commit(next)
	if len(req.AllocStops) != count || len(req.AllocsPlaced) != count {
		t.Fatalf("destructive: %d stops, %d placed", len(req.AllocStops), len(req.AllocsPlaced))
	}
	for id, v := range versions() {
		want := v3.Version
		if _, ok := old[id]; ok {
			want = v2.Version
		}
		if v != want {
			t.Fatalf("destructive: alloc %s runs version %d, want %d", id, v, want)
		}
	}

	before := versions()
	next = v3.Copy()
	next.Stop = true
	_, req = commit(next)
	if len(req.AllocStops) != count {
		t.Fatalf("stop: %d stops", len(req.AllocStops))
	}
	buf, _ := encode(ApplyPlanResultsRequestType, req)
	if per := len(buf) / count; per > 300 {
		t.Errorf("stop entry: %d bytes per allocation, want a decision's worth (< 300)", per)
	}
	after := versions()
	if !reflect.DeepEqual(before, after) {
		t.Fatal("stopping changed job versions")
	}
	allocs, _ := p.f.State().AllocsByJob(nil, job.Namespace, job.ID, true)
	for _, a := range allocs {
		if a.DesiredStatus != structs.AllocDesiredStatusStop {
			t.Fatalf("alloc %s: desired %s after the job stopped", a.ID, a.DesiredStatus)
		}
	}
}
