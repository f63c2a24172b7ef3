package state

import (
	"fmt"

	"drover/agent/structs"
)

// ApplyPlanResultsRequest is a scheduler plan as the leader's plan applier
// accepted it, ready to be replicated and applied in one transaction.
type ApplyPlanResultsRequest struct {
	// Job is the job the plan was made for; it fills in Job on placed and
	// in-place-updated allocations that carry none (plans leave it out to
	// stay small).
	Job *structs.Job
	// AllocsStopped are the allocations the scheduler stops. Only its
	// decision is taken from them (DesiredStatus, DesiredDescription,
	// ClientStatus with ClientDescription when lost or unknown,
	// FollowupEvalID when set); the rest comes from the stored allocation.
	AllocsStopped []*structs.Allocation
	// AllocsUpdated are in-place updates of existing allocations.
	AllocsUpdated []*structs.Allocation
	// AllocsPlaced are new allocations.
	AllocsPlaced []*structs.Allocation
	// Deployment is a deployment the plan creates or changes, or nil.
	Deployment *structs.Deployment
	// DeploymentUpdates change the status of other deployments (e.g.
	// cancelling the one a new job version supersedes).
	DeploymentUpdates []*structs.DeploymentStatusUpdate
	// EvalUpdates are evaluations to store with the plan, such as the
	// blocked evaluation for what could not be placed.
	EvalUpdates []*structs.Evaluation
	// Timestamp is when the leader accepted the plan (unix nanos). The
	// store never reads a clock, so creation and modification times and
	// progress deadlines are taken from it.
	Timestamp int64
}

// UpsertPlanResults applies a plan in one transaction, so no reader ever
// sees half a plan: the deployment first (allocations refer to it), then
// deployment status updates, then stopped, in-place-updated and placed
// allocations with the semantics of UpsertAllocs, then evaluations.
// Allocations get ModifyTime = Timestamp, and CreateTime = Timestamp when
// new and unset. A deployment group's first placement starts its progress
// deadline at Timestamp.
func (s *StateStore) UpsertPlanResults(index uint64, req *ApplyPlanResultsRequest) error {
	return s.update(index, func(w *writer) error {
		if req.Deployment != nil {
			if err := w.upsertDeployment(req.Deployment, req.Timestamp); err != nil {
				return fmt.Errorf("apply plan: upsert deployment %q: %w", req.Deployment.ID, err)
			}
		}
		for _, u := range req.DeploymentUpdates {
			if _, err := w.updateDeploymentStatus(u, req.Timestamp); err != nil {
				return fmt.Errorf("apply plan: %w", err)
			}
		}
		groups := []struct {
			allocs []*structs.Allocation
			how    allocWrite
		}{
			{req.AllocsStopped, allocWrite{job: req.Job, ts: req.Timestamp, stop: true}},
			{req.AllocsUpdated, allocWrite{job: req.Job, ts: req.Timestamp}},
			{req.AllocsPlaced, allocWrite{job: req.Job, ts: req.Timestamp}},
		}
		for _, g := range groups {
			for _, a := range g.allocs {
				if a.Job == nil && !g.how.stop && req.Job != nil {
					a.Job = req.Job
				}
				if err := w.upsertAlloc(a, g.how); err != nil {
					return fmt.Errorf("apply plan: alloc %q: %w", a.ID, err)
				}
			}
		}
		for _, e := range req.EvalUpdates {
			if err := w.upsertEval(e); err != nil {
				return fmt.Errorf("apply plan: upsert eval %q: %w", e.ID, err)
			}
		}
		return nil
	})
}
