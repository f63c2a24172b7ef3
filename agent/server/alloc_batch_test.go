package server

import (
	"sync"
	"testing"
	"time"

	"drover/agent/structs"
)

// TestClientUpdatesShareOneRaftEntry: reports that arrive together are
// committed as one raft entry, every caller gets that entry's index, and
// failed allocations of one job get one retry evaluation, however many
// reports name them.
func TestClientUpdatesShareOneRaftEntry(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	node := testNode("client-one", 100000, 100000)
	if _, err := s.RegisterNode(node); err != nil {
		t.Fatal(err)
	}
	job := parseJob(t, "seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 20")
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "placement", evalDone(t, s, resp.EvalID))
	allocs := liveAllocs(t, s, job)
	if len(allocs) != 20 {
		t.Fatalf("%d allocations placed, want 20", len(allocs))
	}
	before := s.RaftEntryStats().ByType["AllocClientUpdate"].Entries

	// Twenty reports at once (as twenty clients would send them): ten
	// say running, ten say failed.
	var wg sync.WaitGroup
	indexes := make([]uint64, len(allocs))
	errs := make([]error, len(allocs))
	for i, a := range allocs {
		status := structs.AllocClientStatusRunning
		if i%2 == 1 {
			status = structs.AllocClientStatusFailed
		}
		wg.Add(1)
		go func(i int, id, status string) {
			defer wg.Done()
			indexes[i], errs[i] = s.UpdateAllocsFromClient([]*structs.Allocation{{ID: id, ClientStatus: status}})
		}(i, a.ID, status)
	}
	wg.Wait()
	for i := range errs {
		if errs[i] != nil {
			t.Fatalf("report %d: %v", i, errs[i])
		}
		if indexes[i] != indexes[0] {
			t.Fatalf("reports committed at different indexes: %v", indexes)
		}
	}
	after := s.RaftEntryStats().ByType["AllocClientUpdate"].Entries
	// The reports may straddle a batch boundary, but never take one
	// entry each.
	if n := after - before; n < 1 || n > 2 {
		t.Fatalf("20 reports took %d raft entries", n)
	}
	retries := 0
	evals, _ := s.State().EvalsByJob(nil, job.Namespace, job.ID)
	for _, e := range evals {
		if e.TriggeredBy == structs.EvalTriggerRetryFailedAlloc {
			retries++
		}
	}
	if retries != int(after-before) {
		t.Fatalf("%d retry evaluations for %d batches of one job's failures", retries, after-before)
	}
	for _, a := range allocs {
		got, _ := s.State().AllocByID(nil, a.ID)
		if got.ClientStatus != structs.AllocClientStatusRunning && got.ClientStatus != structs.AllocClientStatusFailed {
			t.Fatalf("%s: client status %q after its report", a.Name, got.ClientStatus)
		}
	}
}
