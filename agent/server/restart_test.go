package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"drover/agent/state"
	"drover/agent/structs"
)

// dumpState renders everything a restart must preserve.
func dumpState(t *testing.T, st *state.StateStore) map[string]string {
	t.Helper()
	out := map[string]string{}
	add := func(name string, v interface{}, err error) {
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	jobs, err := st.Jobs(nil)
	add("jobs", jobs, err)
	for _, j := range jobs {
		v, err := st.JobVersionsByID(nil, j.Namespace, j.ID)
		add("versions/"+j.ID, v, err)
		sum, err := st.JobSummaryByID(nil, j.Namespace, j.ID)
		add("summary/"+j.ID, sum, err)
	}
	allocs, err := st.Allocs(nil)
	add("allocs", allocs, err)
	evals, err := st.Evals(nil)
	add("evals", evals, err)
	nodes, err := st.Nodes(nil)
	add("nodes", nodes, err)
	ds, err := st.Deployments(nil)
	add("deployments", ds, err)
	for _, table := range []string{"jobs", "job_versions", "job_summary", "evals", "allocs", "nodes", "deployments"} {
		idx, err := st.Index(table)
		add("index/"+table, idx, err)
	}
	return out
}

// TestServer_RestartKeepsState: a server restarted on the same data_dir
// comes back with every job, allocation, evaluation and index.
func TestServer_RestartKeepsState(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	s := testServerAt(t, dir, addr)
	c := startFakeClient(t, s, testNode("a", 4000, 8192))
	for i, file := range []string{"seed003.nomad", "seed004.nomad"} {
		job := parseJob(t, file, "job \"example\"", fmt.Sprintf("job \"example%d\"", i))
		resp, err := s.RegisterJob(job, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "evaluation", evalDone(t, s, resp.EvalID))
	}
	waitFor(t, 10*time.Second, "deployments done", func() (bool, string) {
		ds, _ := s.State().Deployments(nil)
		for _, d := range ds {
			if d.Status != structs.DeploymentStatusSuccessful {
				return false, d.Status
			}
		}
		return len(ds) == 2, fmt.Sprintf("%d deployments", len(ds))
	})
	c.stop()
	// Let in-flight follow-ups (watcher evaluations) settle.
	waitFor(t, 10*time.Second, "no pending evaluations", func() (bool, string) {
		evals, _ := s.State().Evals(nil)
		for _, e := range evals {
			if !e.TerminalStatus() && e.Status != structs.EvalStatusBlocked {
				return false, e.ID + " " + e.Status
			}
		}
		return true, ""
	})
	before := dumpState(t, s.State())
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}

	s2 := testServerAt(t, dir, addr)
	defer s2.Shutdown()
	after := dumpState(t, s2.State())
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s differs after restart:\nbefore %s\nafter  %s", k, v, after[k])
		}
	}
	if len(after) != len(before) {
		t.Errorf("restored %d tables, want %d", len(after), len(before))
	}
}

// TestServer_RestartFromSnapshot: the same holds when raft restores from a
// snapshot rather than replaying its log.
func TestServer_RestartFromSnapshot(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	s := testServerAt(t, dir, addr)
	job := parseJob(t, "seed004.nomad")
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "evaluation", evalDone(t, s, resp.EvalID))
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	before := dumpState(t, s.State())
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	s2 := testServerAt(t, dir, addr)
	defer s2.Shutdown()
	after := dumpState(t, s2.State())
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s differs after restart:\nbefore %s\nafter  %s", k, v, after[k])
		}
	}
}

// TestServer_ConcurrentRegistrations: 50 goroutines register and update
// jobs at once. No update is lost, indexes strictly increase, and no node
// is ever committed beyond its resources.
func TestServer_ConcurrentRegistrations(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	nodes := []*structs.Node{testNode("a", 4000, 8192), testNode("b", 4000, 8192), testNode("c", 4000, 8192)}
	startFakeClient(t, s, nodes...)
	const workers, updates = 50, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	indexes := make([][]uint64, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for u := 0; u <= updates; u++ {
				job := parseJob(t, "seed004.nomad", "job \"example\"", fmt.Sprintf("job \"job-%02d\"", w),
					"memory = 256", fmt.Sprintf("memory = %d", 100+u))
				resp, err := s.RegisterJob(job, false, 0)
				if err != nil {
					errs <- err
					return
				}
				indexes[w] = append(indexes[w], resp.JobModifyIndex)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for w, list := range indexes {
		for i := 1; i < len(list); i++ {
			if list[i] <= list[i-1] {
				t.Fatalf("worker %d: job modify indexes not increasing: %v", w, list)
			}
		}
		for _, idx := range list {
			if seen[idx] {
				t.Fatalf("index %d returned twice", idx)
			}
			seen[idx] = true
		}
	}
	for w := 0; w < workers; w++ {
		j, err := s.State().JobByID(nil, "default", fmt.Sprintf("job-%02d", w))
		if err != nil || j == nil {
			t.Fatalf("job-%02d missing: %v", w, err)
		}
		if j.Version != updates || j.TaskGroups[0].Tasks[0].Resources.MemoryMB != 100+updates {
			t.Fatalf("job-%02d: version %d memory %d, want the last update", w, j.Version, j.TaskGroups[0].Tasks[0].Resources.MemoryMB)
		}
	}
	// Wait until scheduling settles, then check every node's commitments.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if st := s.broker.Stats(); st.TotalReady == 0 && st.TotalUnacked == 0 && st.TotalBlocked == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, n := range nodes {
		allocs, _ := s.State().AllocsByNode(nil, n.ID)
		var used structs.ComparableResources
		for _, a := range allocs {
			if !a.TerminalStatus() {
				used.Add(a.AllocatedResources.Comparable())
			}
		}
		if ok, dim := n.Comparable().Superset(used); !ok {
			t.Fatalf("node %s over its %s: used %+v of %+v", n.Name, dim, used, n.Comparable())
		}
	}
}
