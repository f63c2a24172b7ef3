package server

import (
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"

	"drover/agent/structs"
)

// largestJob is a job at every limit structs.Limits allows at once.
func largestJob(t *testing.T) *structs.Job {
	l := structs.DefaultLimits
	job := parseJob(t, "seed004.nomad")
	id := strings.Repeat("j", l.MaxNameLength)
	job.ID, job.Name = id, id
	job.Meta = map[string]string{"m": strings.Repeat("x", l.MaxMapBytes-1)}
	tg := job.TaskGroups[0]
	tg.Count = 50 // placements of a big count are the scheduler's business, not the codecs'
	tg.Meta = map[string]string{"m": strings.Repeat("y", l.MaxMapBytes-1)}
	task := tg.Tasks[0]
	task.Meta = map[string]string{"m": strings.Repeat("z", l.MaxMapBytes-1)}
	task.Env = map[string]string{"E": strings.Repeat("e", l.MaxMapBytes-1)}
	var deep interface{} = "leaf"
	for i := 1; i < l.MaxNestingDepth; i++ {
		deep = map[string]interface{}{"k": deep}
	}
	task.Config["deep"] = deep
	return job
}

// TestServer_LargestObjectsSurviveSnapshotAndRestart: what the limits
// accept can be replicated, encoded for clients (msgpack) and restored
// from a snapshot after a restart.
func TestServer_LargestObjectsSurviveSnapshotAndRestart(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	s := testServerAt(t, dir, addr)
	job := largestJob(t)
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatalf("the largest job allowed was refused: %v", err)
	}
	waitFor(t, 10*time.Second, "evaluation", evalDone(t, s, resp.EvalID))
	stored, _ := s.State().JobByID(nil, job.Namespace, job.ID)

	// The client's codec: what a node fetches must decode.
	var buf []byte
	h := &codec.MsgpackHandle{}
	if err := codec.NewEncoderBytes(&buf, h).Encode(stored); err != nil {
		t.Fatal(err)
	}
	var back structs.Job
	if err := codec.NewDecoderBytes(buf, h).Decode(&back); err != nil {
		t.Fatalf("msgpack round trip: %v", err)
	}

	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	before := dumpState(t, s.State())
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	s2 := testServerAt(t, dir, addr)
	after := dumpState(t, s2.State())
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s differs after restore", k)
		}
	}
	// And it schedules.
	if _, err := s2.RegisterJob(parseJob(t, "seed003.nomad"), false, 0); err != nil {
		t.Fatal(err)
	}
	s2.Shutdown()
}

// TestServer_UnrestorableSnapshotRefusesToStart: a snapshot that cannot be
// restored stops the start with the reason and what to do, instead of
// running on lost state.
func TestServer_UnrestorableSnapshotRefusesToStart(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	s := testServerAt(t, dir, addr)
	if _, err := s.RegisterJob(parseJob(t, "seed004.nomad"), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	states, _ := filepath.Glob(filepath.Join(dir, "server", "snapshots", "*", "state.bin"))
	if len(states) == 0 {
		t.Fatal("no snapshot written")
	}
	for _, f := range states {
		if err := os.WriteFile(f, []byte("{\"Type\":\"jobs\",\"Data\":{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := DefaultConfig()
	cfg.NodeName, cfg.DataDir, cfg.RPCAddr = "test", dir, addr
	cfg.Logger = log.New(testWriter{t}, "", 0)
	s2, err := NewServer(cfg)
	if err == nil {
		s2.Shutdown()
		t.Fatal("a server with an unrestorable snapshot started")
	}
	msg := err.Error()
	for _, want := range []string{"cannot be restored", filepath.Join(dir, "server", "snapshots"), "Nothing was skipped", "To recover"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q:\n%s", want, msg)
		}
	}
}
