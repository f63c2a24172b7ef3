package state

import (
	"fmt"
	"testing"

	"drover/agent/structs"
)

// benchStore returns a store holding one service job with n allocations
// spread over 1,000 nodes, all running, and the raft index of the last
// write.
func benchStore(b *testing.B, n int) (*StateStore, *structs.Job, uint64) {
	b.Helper()
	s, err := NewStateStore()
	if err != nil {
		b.Fatal(err)
	}
	idx := uint64(1)
	job := mockJob("big")
	job.TaskGroups[0].Count = n
	if err := s.UpsertJob(idx, job); err != nil {
		b.Fatal(err)
	}
	job, err = s.JobByID(nil, "default", "big")
	if err != nil {
		b.Fatal(err)
	}
	const batch = 5000
	for start := 0; start < n; start += batch {
		allocs := make([]*structs.Allocation, 0, batch)
		for i := start; i < start+batch && i < n; i++ {
			a := mockAlloc(i, job, "web", id("n", i%1000))
			a.ClientStatus = structs.AllocClientStatusRunning
			allocs = append(allocs, a)
		}
		idx++
		if err := s.UpsertAllocs(idx, allocs); err != nil {
			b.Fatal(err)
		}
	}
	return s, job, idx
}

// BenchmarkClientUpdateIn100kJob is one client update (one allocation's
// status and task states) in a job of 100,000 allocations: the cost of
// the FSM's commonest write must not grow with the job.
func BenchmarkClientUpdateIn100kJob(b *testing.B) {
	s, _, idx := benchStore(b, 100_000)
	statuses := []string{structs.AllocClientStatusPending, structs.AllocClientStatusRunning}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx++
		u := &structs.Allocation{ID: id("a", i%100_000), ClientStatus: statuses[i%2],
			TaskStates: map[string]*structs.TaskState{"t": {State: "running"}}}
		if err := s.UpdateAllocsFromClient(idx, []*structs.Allocation{u}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientUpdateTerminalIn100kJob is the worst case of the old
// status derivation: every allocation of the job is terminal, so finding
// none that runs meant reading them all.
func BenchmarkClientUpdateTerminalIn100kJob(b *testing.B) {
	s, _, idx := benchStore(b, 100_000)
	for start := 0; start < 100_000; start += 5000 {
		var us []*structs.Allocation
		for i := start; i < start+5000; i++ {
			us = append(us, &structs.Allocation{ID: id("a", i), ClientStatus: structs.AllocClientStatusComplete})
		}
		idx++
		if err := s.UpdateAllocsFromClient(idx, us); err != nil {
			b.Fatal(err)
		}
	}
	statuses := []string{structs.AllocClientStatusComplete, structs.AllocClientStatusFailed}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx++
		u := &structs.Allocation{ID: id("a", i%100_000), ClientStatus: statuses[i%2]}
		if err := s.UpdateAllocsFromClient(idx, []*structs.Allocation{u}); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = fmt.Sprint
