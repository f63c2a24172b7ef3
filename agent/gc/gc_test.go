package gc

import (
	"sort"
	"testing"
	"time"

	"drover/agent/state"
	"drover/agent/structs"
)

// TestCollect encodes Nomad's collection rules over one state.
func TestCollect(t *testing.T) {
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1800000000, 0)
	long := now.Add(-5 * time.Hour).UnixNano()
	recent := now.Add(-time.Minute).UnixNano()
	idx := uint64(10)
	next := func() uint64 { idx++; return idx }
	job := func(id, typ string, stop bool, submit int64) *structs.Job {
		j := &structs.Job{ID: id, Name: id, Namespace: "default", Type: typ, Priority: 50, Datacenters: []string{"dc1"},
			Stop: stop, SubmitTime: submit, TaskGroups: []*structs.TaskGroup{{Name: "g", Count: 1}}}
		if err := st.UpsertJob(next(), j); err != nil {
			t.Fatal(err)
		}
		j, _ = st.JobByID(nil, "default", id)
		return j
	}
	eval := func(id, jobID, status string, modify int64) {
		if err := st.UpsertEvals(next(), []*structs.Evaluation{{ID: id, Namespace: "default", JobID: jobID, Type: "service",
			Priority: 50, Status: status, ModifyTime: modify}}); err != nil {
			t.Fatal(err)
		}
	}
	alloc := func(id, evalID string, j *structs.Job, node, desired, client string) {
		if err := st.UpsertAllocs(next(), []*structs.Allocation{{ID: id, EvalID: evalID, Namespace: "default", JobID: j.ID, Job: j,
			TaskGroup: "g", NodeID: node, DesiredStatus: desired, ClientStatus: client}}); err != nil {
			t.Fatal(err)
		}
	}
	stopped := job("stopped", "service", true, long)
	eval("e-stopped", "stopped", structs.EvalStatusComplete, long)
	alloc("a-stopped", "e-stopped", stopped, "n1", structs.AllocDesiredStatusStop, structs.AllocClientStatusComplete)

	web := job("web", "service", false, long)
	eval("e-old-done", "web", structs.EvalStatusComplete, long)
	alloc("a-old-done", "e-old-done", web, "n1", structs.AllocDesiredStatusStop, structs.AllocClientStatusComplete)
	eval("e-old-running", "web", structs.EvalStatusComplete, long)
	alloc("a-running", "e-old-running", web, "n1", structs.AllocDesiredStatusRun, structs.AllocClientStatusRunning)
	eval("e-recent", "web", structs.EvalStatusComplete, recent)
	eval("e-pending", "web", structs.EvalStatusPending, long)
	eval("e-stopping", "web", structs.EvalStatusComplete, long)
	alloc("a-stopping", "e-stopping", web, "n1", structs.AllocDesiredStatusStop, structs.AllocClientStatusRunning)

	batch := job("nightly", "batch", false, long)
	eval("e-batch", "nightly", structs.EvalStatusComplete, long)
	alloc("a-batch", "e-batch", batch, "n1", structs.AllocDesiredStatusRun, structs.AllocClientStatusComplete)
	eval("e-batch-2", "nightly", structs.EvalStatusComplete, long)
	alloc("a-batch-2", "e-batch-2", batch, "n1", structs.AllocDesiredStatusRun, structs.AllocClientStatusRunning)

	for _, n := range []*structs.Node{
		{ID: "n-down-old", Status: structs.NodeStatusDown, StatusUpdatedAt: now.Add(-48 * time.Hour).Unix()},
		{ID: "n-down-new", Status: structs.NodeStatusDown, StatusUpdatedAt: now.Add(-time.Hour).Unix()},
		{ID: "n1", Status: structs.NodeStatusReady},
	} {
		if err := st.UpsertNode(next(), n); err != nil {
			t.Fatal(err)
		}
	}

	g, err := Collect(st.Snapshot(), now, DefaultThresholds)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(g.Evals)
	sort.Strings(g.Allocs)
	want := func(what string, got []string, w ...string) {
		t.Helper()
		sort.Strings(w)
		if len(got) != len(w) {
			t.Fatalf("%s: %v, want %v", what, got, w)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s: %v, want %v", what, got, w)
			}
		}
	}
	// Collected: the stopped job with its eval and alloc, and web's old
	// finished eval with its complete alloc. Kept: an eval with a running
	// allocation or one still being stopped, a recent or pending eval, a
	// live batch job's finished work, a recently down node.
	want("evals", g.Evals, "e-stopped", "e-old-done")
	want("allocs", g.Allocs, "a-stopped", "a-old-done")
	if len(g.Jobs) != 1 || g.Jobs[0].ID != "stopped" {
		t.Fatalf("jobs: %v", g.Jobs)
	}
	want("nodes", g.Nodes, "n-down-old")

	// A forced collection ignores ages, not the rules.
	g, _ = Collect(st.Snapshot(), now, Thresholds{})
	sort.Strings(g.Evals)
	want("forced evals", g.Evals, "e-stopped", "e-old-done", "e-recent")
	want("forced nodes", g.Nodes, "n-down-new", "n-down-old")
}
