package state

import (
	"fmt"

	"drover/agent/structs"
)

// ApplyPlanResultsRequest is a scheduler plan as the leader's plan applier
// accepted it, ready to be replicated and applied in one transaction.
//
// It is normalised: the plan's job travels once, in Job, and each
// allocation carries only what the plan decides about it. Allocations
// that leave out their job get one back here, on every replica alike:
// placed and in-place-updated ones the plan's Job, the others the job of
// the stored allocation. Entries written before normalisation (JSON, with
// whole allocations in AllocsStopped) still apply as they did.
type ApplyPlanResultsRequest struct {
	// Job is the job the plan was made for; it fills in Job on placed and
	// in-place-updated allocations that carry none.
	Job *structs.Job
	// AllocStops are the allocations the scheduler stops, as decisions
	// applied to the stored allocations; a stop of an allocation no longer
	// stored is skipped.
	AllocStops []*AllocStop
	// AllocsStopped is the stop form of entries written before AllocStops:
	// whole allocations of which only the decision was taken (the fields
	// of AllocStop), the rest coming from the stored allocation.
	AllocsStopped []*structs.Allocation
	// AllocsUpdated are in-place updates of existing allocations: they run
	// Job from now on unless they carry a job of their own. Task states and
	// deployment health are always the stored allocation's (the client
	// owns them), and allocated resources and placement metrics are when
	// left out, so plans leave them out unless the update changes them.
	AllocsUpdated []*structs.Allocation
	// AllocsUpdatedKeepJob are updates that leave the job version an
	// allocation runs alone (a failed allocation given its follow-up
	// evaluation): they carry no job and keep the stored allocation's. An
	// allocation no longer stored is skipped.
	AllocsUpdatedKeepJob []*structs.Allocation
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

// AllocStop is the scheduler's decision to stop an allocation, all that a
// plan carries of it (the stored allocation has the rest).
type AllocStop struct {
	ID                 string
	DesiredStatus      string
	DesiredDescription string
	// ClientStatus and ClientDescription are set when the server decides
	// the client status (lost, unknown); otherwise empty.
	ClientStatus      string
	ClientDescription string
	FollowupEvalID    string
}

// NewAllocStop is the stop decision carried by a whole allocation.
func NewAllocStop(a *structs.Allocation) *AllocStop {
	s := &AllocStop{ID: a.ID, DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription,
		FollowupEvalID: a.FollowupEvalID}
	if serverClientStatus(a.ClientStatus) {
		s.ClientStatus, s.ClientDescription = a.ClientStatus, a.ClientDescription
	}
	return s
}

// alloc returns the decision in the form stopDecision reads.
func (s *AllocStop) alloc() *structs.Allocation {
	return &structs.Allocation{ID: s.ID, DesiredStatus: s.DesiredStatus, DesiredDescription: s.DesiredDescription,
		ClientStatus: s.ClientStatus, ClientDescription: s.ClientDescription, FollowupEvalID: s.FollowupEvalID}
}

// UpsertPlanResults applies a plan in one transaction, so no reader ever
// sees half a plan: the deployment first (allocations refer to it), then
// deployment status updates, then stopped, updated and placed allocations
// with the semantics of UpsertAllocs, then evaluations. Allocations get
// ModifyTime = Timestamp, and CreateTime = Timestamp when new and unset. A
// deployment group's first placement starts its progress deadline at
// Timestamp.
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
		for _, st := range req.AllocStops {
			if err := w.upsertAlloc(st.alloc(), allocWrite{ts: req.Timestamp, stop: true, existingOnly: true}); err != nil {
				return fmt.Errorf("apply plan: stop alloc %q: %w", st.ID, err)
			}
		}
		groups := []struct {
			allocs []*structs.Allocation
			how    allocWrite
		}{
			{req.AllocsStopped, allocWrite{job: req.Job, ts: req.Timestamp, stop: true}},
			{req.AllocsUpdated, allocWrite{job: req.Job, ts: req.Timestamp}},
			{req.AllocsUpdatedKeepJob, allocWrite{ts: req.Timestamp, existingOnly: true}},
			{req.AllocsPlaced, allocWrite{job: req.Job, ts: req.Timestamp}},
		}
		for _, g := range groups {
			for _, a := range g.allocs {
				if a.Job == nil && !g.how.stop && g.how.job != nil {
					a.Job = g.how.job
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
