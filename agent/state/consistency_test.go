package state

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/hashicorp/go-memdb"

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
			status, err := jobStatusByScan(s.db.Txn(false), j, j.Status)
			must(t, err)
			if status != j.Status {
				t.Fatalf("step %d (%s): job %s status %q, derived %q", step, desc, jid, j.Status, status)
			}
		}
	}
}

// jobStatusByScan is the job status derived the slow way, by reading
// every allocation, deployment and evaluation of the job, with the rules
// of jobStatus's comment. The store's incremental status must always
// equal it.
func jobStatusByScan(txn *memdb.Txn, job *structs.Job, prev string) (string, error) {
	if job.Periodic != nil || job.Type == structs.JobTypeSystem {
		if job.Stop {
			return structs.JobStatusDead, nil
		}
		return structs.JobStatusRunning, nil
	}
	allocs, err := list[*structs.Allocation](nil, txn, TableAllocs, indexJob, job.Namespace, job.ID)
	if err != nil {
		return "", err
	}
	for _, a := range allocs {
		if belongsTo(a, job) && !a.TerminalStatus() {
			return structs.JobStatusRunning, nil
		}
	}
	deps, err := list[*structs.Deployment](nil, txn, TableDeployments, indexJob, job.Namespace, job.ID)
	if err != nil {
		return "", err
	}
	for _, d := range deps {
		if d.Active() && (d.JobCreateIndex == 0 || d.JobCreateIndex == job.CreateIndex) {
			return structs.JobStatusRunning, nil
		}
	}
	evals, err := list[*structs.Evaluation](nil, txn, TableEvals, indexJob, job.Namespace, job.ID)
	if err != nil {
		return "", err
	}
	for _, e := range evals {
		if !e.TerminalStatus() {
			return structs.JobStatusPending, nil
		}
	}
	if len(evals) > 0 || job.Stop || prev == structs.JobStatusDead {
		return structs.JobStatusDead, nil
	}
	return structs.JobStatusPending, nil
}

func sortedSummary(m map[string]structs.TaskGroupSummary) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s:%+v", k, v))
	}
	sort.Strings(out)
	return out
}

// TestJobStatusConsistency applies a pseudo-random sequence of every kind
// of write that moves a job's status (registrations of service, batch,
// stopped, periodic and system jobs, purges and re-registrations, stale
// plans made for a purged incarnation, placements, client reports,
// scheduler stops, evaluations in every status, deployments started,
// paused, ended and collected, garbage collection, snapshot restores and
// a stored object changed in place) and checks after each that every
// stored job status equals the status derived by a full scan, and that
// the incrementally kept counts of every job ID equal a recount.
func TestJobStatusConsistency(t *testing.T) {
	for seed := int64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { jobStatusConsistency(t, seed, 500) })
	}
}

func jobStatusConsistency(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	s := mustStore(t)
	jobIDs := []string{"j1", "j2", "j3"}
	clientStatuses := []string{
		structs.AllocClientStatusPending, structs.AllocClientStatusRunning, structs.AllocClientStatusComplete,
		structs.AllocClientStatusFailed, structs.AllocClientStatusLost, structs.AllocClientStatusUnknown,
	}
	evalStatuses := []string{
		structs.EvalStatusBlocked, structs.EvalStatusPending, structs.EvalStatusComplete,
		structs.EvalStatusFailed, structs.EvalStatusCancelled,
	}
	depStatuses := []string{
		structs.DeploymentStatusRunning, structs.DeploymentStatusPaused, structs.DeploymentStatusFailed,
		structs.DeploymentStatusSuccessful, structs.DeploymentStatusCancelled,
	}
	// Incarnations of each job seen so far: a stale plan may carry one.
	seen := map[string][]*structs.Job{}
	nextAlloc, nextEval, nextDep := 1, 1, 1
	idx := uint64(1)

	pick := func(n int) int { return rng.Intn(n) }
	randomAlloc := func(jobID string) *structs.Allocation {
		all, err := s.AllocsByJob(nil, "default", jobID, true)
		must(t, err)
		if len(all) == 0 {
			return nil
		}
		return all[pick(len(all))]
	}
	randomEval := func(jobID string) *structs.Evaluation {
		all, err := s.EvalsByJob(nil, "default", jobID)
		must(t, err)
		if len(all) == 0 {
			return nil
		}
		return all[pick(len(all))]
	}
	randomDep := func(jobID string) *structs.Deployment {
		all, err := s.DeploymentsByJobID(nil, "default", jobID)
		must(t, err)
		if len(all) == 0 {
			return nil
		}
		return all[pick(len(all))]
	}
	newAllocs := func(job *structs.Job, n int, depID string) []*structs.Allocation {
		var out []*structs.Allocation
		for i := 0; i < n; i++ {
			a := mockAlloc(nextAlloc, job, []string{"a", "b"}[pick(2)], id("n", pick(3)))
			a.ID = id(job.ID+"-", nextAlloc)
			a.ClientStatus = clientStatuses[pick(len(clientStatuses))]
			a.DeploymentID = depID
			nextAlloc++
			out = append(out, a)
		}
		return out
	}

	for step := 0; step < steps; step++ {
		idx++
		jobID := jobIDs[pick(len(jobIDs))]
		job, err := s.JobByID(nil, "default", jobID)
		must(t, err)
		op := pick(13)
		if job == nil && op != 1 && op != 8 {
			op = 0
		}
		var desc string
		switch op {
		case 0: // register (a new version, or a new incarnation after a purge)
			j := mockJob(jobID, "a", "b")
			switch pick(10) {
			case 0:
				j.Type = structs.JobTypeSystem
			case 1:
				j.Type = structs.JobTypeBatch
				j.Periodic = &structs.PeriodicConfig{Enabled: true, Spec: "* * * * *"}
			case 2, 3:
				j.Type = structs.JobTypeBatch
			}
			j.Stop = pick(5) == 0
			desc = fmt.Sprintf("register %s type %s stop %v", jobID, j.Type, j.Stop)
			must(t, s.UpsertJob(idx, j))
			stored, err := s.JobByID(nil, "default", jobID)
			must(t, err)
			seen[jobID] = append(seen[jobID], stored)
		case 1: // purge, rarely
			if job == nil || pick(3) != 0 {
				continue
			}
			desc = "purge " + jobID
			must(t, s.DeleteJob(idx, "default", jobID))
		case 2: // place, sometimes from a stale plan for an older incarnation
			pj := job
			if old := seen[jobID]; len(old) > 0 && pick(4) == 0 {
				pj = old[pick(len(old))]
			}
			desc = fmt.Sprintf("place %s (incarnation %d)", jobID, pj.CreateIndex)
			must(t, s.UpsertAllocs(idx, newAllocs(pj, 1+pick(3), "")))
		case 3, 4: // client report
			a := randomAlloc(jobID)
			if a == nil {
				continue
			}
			st := clientStatuses[pick(len(clientStatuses))]
			desc = fmt.Sprintf("client %s %s", a.ID, st)
			must(t, s.UpdateAllocsFromClient(idx, []*structs.Allocation{{ID: a.ID, ClientStatus: st}}))
		case 5: // scheduler: stop, lose or update in place
			a := randomAlloc(jobID)
			if a == nil {
				continue
			}
			c := a.Copy()
			switch pick(3) {
			case 0:
				c.DesiredStatus = structs.AllocDesiredStatusStop
			case 1:
				c.ClientStatus = structs.AllocClientStatusLost
			case 2:
				c.Job = job
			}
			desc = "scheduler update " + a.ID
			must(t, s.UpsertAllocs(idx, []*structs.Allocation{c}))
		case 6: // an evaluation, new or changing status
			e := mockEval(nextEval, jobID, evalStatuses[pick(len(evalStatuses))])
			if old := randomEval(jobID); old != nil && pick(2) == 0 {
				e = old.Copy()
				e.Status = evalStatuses[pick(len(evalStatuses))]
			} else {
				nextEval++
			}
			desc = fmt.Sprintf("eval %s %s", e.ID, e.Status)
			must(t, s.UpsertEvals(idx, []*structs.Evaluation{e}))
		case 7: // garbage collection of an evaluation and an allocation
			var evals, allocs []string
			if e := randomEval(jobID); e != nil && pick(2) == 0 {
				evals = append(evals, e.ID)
			}
			if a := randomAlloc(jobID); a != nil && pick(2) == 0 {
				allocs = append(allocs, a.ID)
			}
			desc = fmt.Sprintf("gc %v %v", evals, allocs)
			must(t, s.DeleteEvals(idx, evals, allocs))
		case 8: // a deployment starts, changes status or is collected
			d := randomDep(jobID)
			switch {
			case job != nil && (d == nil || pick(3) == 0):
				d = mockDeployment(nextDep, job, "a", "b")
				nextDep++
				if pick(4) == 0 {
					d.JobCreateIndex = 0
				}
				desc = "deployment " + d.ID
				must(t, s.UpsertDeployment(idx, d))
			case d == nil:
				continue
			case !d.Active() && pick(2) == 0:
				desc = "collect deployment " + d.ID
				must(t, s.DeleteDeployments(idx, []string{d.ID}))
			case pick(2) == 0:
				st := depStatuses[pick(len(depStatuses))]
				desc = fmt.Sprintf("deployment %s %s", d.ID, st)
				must(t, s.UpdateDeploymentStatus(idx, &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: st}, nil, nil))
			default:
				c := d.Copy()
				c.Status = depStatuses[pick(len(depStatuses))]
				desc = fmt.Sprintf("upsert deployment %s %s", d.ID, c.Status)
				must(t, s.UpsertDeployment(idx, c))
			}
		case 9: // a plan: a deployment, a stop, some placements, an eval
			req := &ApplyPlanResultsRequest{Job: job, Timestamp: int64(idx)}
			if pick(2) == 0 {
				req.Deployment = mockDeployment(nextDep, job, "a", "b")
				nextDep++
			}
			if a := randomAlloc(jobID); a != nil {
				req.AllocsStopped = []*structs.Allocation{{
					ID: a.ID, DesiredStatus: structs.AllocDesiredStatusStop,
					ClientStatus: clientStatuses[pick(len(clientStatuses))],
				}}
			}
			depID := ""
			if req.Deployment != nil {
				depID = req.Deployment.ID
			}
			req.AllocsPlaced = newAllocs(job, pick(3), depID)
			e := mockEval(nextEval, jobID, evalStatuses[pick(len(evalStatuses))])
			nextEval++
			req.EvalUpdates = []*structs.Evaluation{e}
			desc = "plan " + jobID
			must(t, s.UpsertPlanResults(idx, req))
		case 10: // a snapshot restore
			if pick(3) != 0 {
				continue
			}
			desc = "restore"
			var buf bytes.Buffer
			must(t, s.Persist(&buf))
			r, err := Restore(&buf)
			must(t, err)
			s = r
		case 11: // a stored allocation changed in place and written back
			a := randomAlloc(jobID)
			if a == nil || pick(3) != 0 {
				continue
			}
			a.DesiredStatus = []string{structs.AllocDesiredStatusRun, structs.AllocDesiredStatusStop}[pick(2)]
			desc = "in-place " + a.ID
			must(t, s.UpsertAllocs(idx, []*structs.Allocation{a}))
		case 12: // a transition mark (counts nothing, moves nothing)
			a := randomAlloc(jobID)
			if a == nil {
				continue
			}
			desc = "transition " + a.ID
			yes := true
			must(t, s.UpdateAllocsDesiredTransitions(idx, map[string]*structs.DesiredTransition{a.ID: {Migrate: &yes}}, nil))
		}

		txn := s.db.Txn(false)
		for _, jid := range jobIDs {
			got, err := readJobCounts(txn, "default", jid)
			must(t, err)
			want, err := recountJob(txn, nsKey{"default", jid})
			must(t, err)
			if !got.equal(want) {
				t.Fatalf("step %d (%s): job %s counts\n got %+v\nwant %+v", step, desc, jid, got, want)
			}
			j, err := jobByID(nil, txn, "default", jid)
			must(t, err)
			if j == nil {
				continue
			}
			status, err := jobStatusByScan(txn, j, j.Status)
			must(t, err)
			if status != j.Status {
				t.Fatalf("step %d (%s): job %s status %q, a full scan derives %q", step, desc, jid, j.Status, status)
			}
		}
	}
}
