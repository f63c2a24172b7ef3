package state

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"drover/agent/structs"
)

// recountSummary derives a job's summary counts from scratch: the
// allocations of the job's current incarnation by group and client
// status. Queued is not derivable from allocations and is left zero.
func recountSummary(t *testing.T, s *StateStore, job *structs.Job) map[string]structs.TaskGroupSummary {
	t.Helper()
	allocs, err := s.AllocsByJob(nil, job.Namespace, job.ID, false)
	must(t, err)
	out := map[string]structs.TaskGroupSummary{}
	for _, tg := range job.TaskGroups {
		out[tg.Name] = structs.TaskGroupSummary{}
	}
	for _, a := range allocs {
		c, ok := out[a.TaskGroup]
		if !ok {
			continue
		}
		addStatus(&c, a.ClientStatus, 1)
		out[a.TaskGroup] = c
	}
	return out
}

// TestSummaryConsistency applies a pseudo-random sequence of writes and
// checks after each that the incrementally maintained summaries equal a
// recount, that Queued follows its rules, and that every stored job
// status equals a fresh derivation.
func TestSummaryConsistency(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	s := mustStore(t)
	groups := []string{"a", "b", "c"}
	statuses := []string{
		structs.AllocClientStatusPending, structs.AllocClientStatusRunning, structs.AllocClientStatusComplete,
		structs.AllocClientStatusFailed, structs.AllocClientStatusLost, structs.AllocClientStatusUnknown,
	}
	jobIDs := []string{"j1", "j2"}
	// queued models the Queued column: set by evals, less one per placement.
	queued := map[string]map[string]int{}
	nextAlloc, nextEval := 1, 1
	idx := uint64(1)

	randomGroups := func() []string {
		var out []string
		for _, g := range groups {
			if rng.Intn(2) == 0 {
				out = append(out, g)
			}
		}
		if len(out) == 0 {
			out = []string{groups[rng.Intn(len(groups))]}
		}
		return out
	}
	randomAlloc := func(jobID string) *structs.Allocation {
		all, err := s.AllocsByJob(nil, "default", jobID, true)
		must(t, err)
		if len(all) == 0 {
			return nil
		}
		return all[rng.Intn(len(all))]
	}
	newAllocs := func(job *structs.Job, n int) []*structs.Allocation {
		var out []*structs.Allocation
		for i := 0; i < n; i++ {
			g := groups[rng.Intn(len(groups))] // sometimes a group the job lacks
			a := mockAlloc(nextAlloc, job, g, id("n", rng.Intn(3)))
			a.ID = id(fmt.Sprintf("%s-", job.ID), nextAlloc)
			nextAlloc++
			if q := queued[job.ID]; q != nil && q[g] > 0 && job.LookupTaskGroup(g) != nil {
				q[g]--
			}
			out = append(out, a)
		}
		return out
	}

	for step := 0; step < 400; step++ {
		idx++
		jobID := jobIDs[rng.Intn(len(jobIDs))]
		job, err := s.JobByID(nil, "default", jobID)
		must(t, err)
		op := rng.Intn(9)
		if job == nil {
			op = 0
		}
		var desc string
		switch op {
		case 0: // register a version with a random set of groups
			gs := randomGroups()
			desc = fmt.Sprintf("register %s %v", jobID, gs)
			q := queued[jobID]
			if q == nil || job == nil {
				q = map[string]int{}
			}
			kept := map[string]int{}
			for _, g := range gs {
				kept[g] = q[g]
			}
			queued[jobID] = kept
			must(t, s.UpsertJob(idx, mockJob(jobID, gs...)))
		case 1: // purge, rarely
			if rng.Intn(4) != 0 {
				continue
			}
			desc = "purge " + jobID
			delete(queued, jobID)
			must(t, s.DeleteJob(idx, "default", jobID))
		case 2: // place
			desc = "place " + jobID
			must(t, s.UpsertAllocs(idx, newAllocs(job, 1+rng.Intn(3))))
		case 3, 4: // client report
			a := randomAlloc(jobID)
			if a == nil {
				continue
			}
			st := statuses[rng.Intn(len(statuses))]
			desc = fmt.Sprintf("client %s %s", a.ID, st)
			must(t, s.UpdateAllocsFromClient(idx, []*structs.Allocation{{ID: a.ID, ClientStatus: st}}))
		case 5: // scheduler: stop, lose or update in place
			a := randomAlloc(jobID)
			if a == nil {
				continue
			}
			c := a.Copy()
			switch rng.Intn(3) {
			case 0:
				c.DesiredStatus = structs.AllocDesiredStatusStop
			case 1:
				c.ClientStatus = structs.AllocClientStatusLost
			case 2:
				c.Job = job
			}
			desc = "scheduler update " + a.ID
			must(t, s.UpsertAllocs(idx, []*structs.Allocation{c}))
		case 6: // eval with queued allocations
			e := mockEval(nextEval, jobID, structs.EvalStatusComplete)
			nextEval++
			e.QueuedAllocations = map[string]int{}
			for _, g := range groups {
				if rng.Intn(2) == 0 {
					e.QueuedAllocations[g] = rng.Intn(4)
					if job.LookupTaskGroup(g) != nil {
						queued[jobID][g] = e.QueuedAllocations[g]
					}
				}
			}
			desc = fmt.Sprintf("eval %v", e.QueuedAllocations)
			must(t, s.UpsertEvals(idx, []*structs.Evaluation{e}))
		case 7: // garbage collection
			a := randomAlloc(jobID)
			if a == nil {
				continue
			}
			desc = "gc " + a.ID
			must(t, s.DeleteEvals(idx, nil, []string{a.ID}))
		case 8: // a plan: stop one, place some
			req := &ApplyPlanResultsRequest{Job: job, Timestamp: int64(idx)}
			if a := randomAlloc(jobID); a != nil {
				req.AllocsStopped = []*structs.Allocation{{
					ID: a.ID, DesiredStatus: structs.AllocDesiredStatusStop, ClientStatus: statuses[rng.Intn(len(statuses))],
				}}
			}
			req.AllocsPlaced = newAllocs(job, rng.Intn(3))
			desc = "plan " + jobID
			must(t, s.UpsertPlanResults(idx, req))
		}

		for _, jid := range jobIDs {
			j, err := s.JobByID(nil, "default", jid)
			must(t, err)
			sum, err := s.JobSummaryByID(nil, "default", jid)
			must(t, err)
			if j == nil {
				if sum != nil {
					t.Fatalf("step %d (%s): summary of absent job %s", step, desc, jid)
				}
				continue
			}
			want := recountSummary(t, s, j)
			for g, w := range want {
				w.Queued = queued[jid][g]
				want[g] = w
			}
			if fmt.Sprint(sortedSummary(sum.Summary)) != fmt.Sprint(sortedSummary(want)) {
				t.Fatalf("step %d (%s): job %s summary\n got %v\nwant %v", step, desc, jid,
					sortedSummary(sum.Summary), sortedSummary(want))
			}
			w := &writer{txn: s.db.Txn(false)}
			status, err := w.jobStatus(j, j.Status)
			must(t, err)
			if status != j.Status {
				t.Fatalf("step %d (%s): job %s status %q, derived %q", step, desc, jid, j.Status, status)
			}
		}
	}
}

func sortedSummary(m map[string]structs.TaskGroupSummary) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s:%+v", k, v))
	}
	sort.Strings(out)
	return out
}
