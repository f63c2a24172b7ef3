package server

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"drover/agent/scheduler"
	"drover/agent/state"
	"drover/agent/structs"
)

// maxPlanAttempts bounds how many plans in a row may commit nothing
// before a worker gives up on an evaluation (see planFailures).
const maxPlanAttempts = 5

var schedulerTypes = []string{structs.JobTypeService, structs.JobTypeBatch, structs.JobTypeSystem}

// runWorker takes evaluations from the broker, runs the scheduler on a
// state snapshot and submits the plan, until the server shuts down. Only
// the leader's broker hands out work.
func (s *Server) runWorker(id int) {
	defer s.wg.Done()
	for {
		eval, token, err := s.broker.Dequeue(s.shutdownCtx, schedulerTypes)
		if err != nil {
			if s.shutdownCtx.Err() != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err := s.processEval(eval, token); err != nil {
			s.logger.Printf("[ERROR] worker %d: evaluation %s: %v", id, eval.ID, err)
			s.broker.Nack(eval.ID, token)
			continue
		}
		s.broker.Ack(eval.ID, token)
	}
}

// planFailures counts the plans in a row that committed nothing: a plan
// that committed anything resets the count. So a busy cluster, where
// plans keep committing in part, never fails an evaluation that is
// making progress; only maxPlanAttempts refusals in a row do, as with
// the compatible scheduler.
func planFailures(failures int, result *structs.PlanResult) int {
	if result != nil && (len(result.NodeUpdate) > 0 || len(result.NodeAllocation) > 0 ||
		result.Deployment != nil || len(result.DeploymentUpdates) > 0) {
		return 0
	}
	return failures + 1
}

// processEval schedules one evaluation to completion. Its plans carry the
// delivery token, and the nack timer is reset at each step, so that a
// long pass keeps its evaluation while it makes progress.
func (s *Server) processEval(eval *structs.Evaluation, token string) error {
	keep := func() { s.broker.OutstandingReset(eval.ID, token) }
	if err := s.waitForIndex(eval.ModifyIndex, 5*time.Second); err != nil {
		return err
	}
	keep()
	var res *scheduler.Result
	failures := 0 // plans in a row that committed nothing
	for {
		snap := s.State().Snapshot()
		var err error
		res, err = scheduler.Schedule(snap, eval, now())
		if err != nil {
			return err
		}
		if res.Plan.IsNoOp() {
			break
		}
		keep()
		res.Plan.EvalToken = token
		result, err := s.planQ.Submit(s.shutdownCtx, res.Plan)
		if err != nil {
			return fmt.Errorf("submit plan: %w", err)
		}
		if full, _, _ := result.FullCommit(res.Plan); full {
			break
		}
		if failures = planFailures(failures, result); failures == maxPlanAttempts {
			// Give up for now; a failed-follow-up evaluation retries later.
			res.Eval.Status = structs.EvalStatusFailed
			res.Eval.StatusDescription = "maximum attempts reached (5)"
			break
		}
		if err := s.waitForIndex(result.RefreshIndex, 5*time.Second); err != nil {
			return err
		}
		keep()
	}
	updates := []*structs.Evaluation{res.Eval}
	if res.BlockedEval != nil {
		// A job keeps one blocked evaluation; a newer one replaces it.
		if prev, ok := s.blocked.Blocked(eval.Namespace, eval.JobID); ok && prev.ID != eval.ID {
			res.BlockedEval.ID = prev.ID
			res.Eval.BlockedEval = prev.ID
			res.BlockedEval.CreateIndex = prev.CreateIndex
		}
		updates = append(updates, res.BlockedEval)
	}
	updates = append(updates, res.FollowUps...)
	if res.Eval.Status == structs.EvalStatusFailed {
		updates = append(updates, s.failedFollowUp(res.Eval, now()))
	}
	_, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: updates})
	return err
}

// waitForIndex waits until the local state has applied index, so a worker
// never schedules from state older than the evaluation it handles.
func (s *Server) waitForIndex(index uint64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(s.shutdownCtx, timeout)
	defer cancel()
	for {
		latest, err := s.State().LatestIndex()
		if err != nil {
			return err
		}
		if latest >= index {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("state index %d not reached (at %d): %w", index, latest, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// planResultsRequest turns a checked plan into the raft entry that commits
// it, normalised so that its size follows the decisions, not the job: the
// plan's job travels once (state.ApplyPlanResultsRequest.Job) and the FSM
// gives it back to the allocations that run it; a stop is only its
// decision (state.AllocStop). An update leaves out what the FSM takes from
// the stored allocation: task states and deployment health always, and
// its job, allocated resources and metrics when they are the very objects
// the stored allocation has in snap, the applier's snapshot (the
// scheduler updates a copy of it). Its job is otherwise either the plan's
// (an in-place update), left out as well, or carried whole. Nodes are
// visited in order, so allocations apply in the same order whatever the
// order of the plan's maps.
func planResultsRequest(p *structs.Plan, r *structs.PlanResult, ts time.Time, snap *state.StateSnapshot) (*state.ApplyPlanResultsRequest, error) {
	req := &state.ApplyPlanResultsRequest{
		Job:               p.Job,
		Deployment:        r.Deployment,
		DeploymentUpdates: r.DeploymentUpdates,
		Timestamp:         ts.UnixNano(),
	}
	for _, node := range sortedKeys(r.NodeUpdate) {
		for _, a := range r.NodeUpdate[node] {
			req.AllocStops = append(req.AllocStops, state.NewAllocStop(a))
		}
	}
	for _, node := range sortedKeys(r.NodeAllocation) {
		for _, a := range r.NodeAllocation[node] {
			c := *a
			if c.CreateIndex == 0 {
				if c.Job == p.Job {
					c.Job = nil
				}
				req.AllocsPlaced = append(req.AllocsPlaced, &c)
				continue
			}
			c.TaskStates, c.DeploymentStatus = nil, nil
			stored, err := snap.AllocByID(nil, c.ID)
			if err != nil {
				return nil, err
			}
			if stored != nil {
				if c.AllocatedResources == stored.AllocatedResources {
					c.AllocatedResources = nil
				}
				if c.Metrics == stored.Metrics {
					c.Metrics = nil
				}
			}
			switch {
			case c.Job == p.Job:
				c.Job = nil
				req.AllocsUpdated = append(req.AllocsUpdated, &c)
			case stored != nil && c.Job == stored.Job:
				c.Job = nil
				req.AllocsUpdatedKeepJob = append(req.AllocsUpdatedKeepJob, &c)
			default:
				req.AllocsUpdated = append(req.AllocsUpdated, &c)
			}
		}
	}
	return req, nil
}

func sortedKeys(m map[string][]*structs.Allocation) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var errPlanQueueDisabled = errors.New("plan queue is disabled")
