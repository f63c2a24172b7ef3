package state

import (
	"fmt"
	"sort"
	"time"

	"drover/agent/structs"
)

// allocWrite says how an allocation from the scheduler is applied.
type allocWrite struct {
	// job fills in Job for a new allocation that carries none; nil means
	// the current job.
	job *structs.Job
	// ts is the leader's timestamp of a plan (unix nanos), 0 outside plans.
	ts int64
	// stop applies only the scheduler's stop decision to the stored
	// allocation (see UpsertPlanResults).
	stop bool
	// existingOnly skips an allocation that is not stored (any more): a
	// plan's stop or annotation carries too little to create one.
	existingOnly bool
}

// UpsertAllocs stores allocations decided by the scheduler.
//
// A new allocation gets CreateIndex = ModifyIndex = AllocModifyIndex =
// index, a pending client status if it has none, and the current job if
// it carries none. An existing one keeps its job, allocated resources and
// placement metrics unless it carries new ones, its CreateIndex, CreateTime and
// the client's view of it: task states, health (unless it moves to
// another deployment, where its health is not yet known) and client
// status, unless the server sets lost or unknown (for allocations on a
// down or disconnected node); any other client status it carries is a
// possibly stale copy and is ignored. An allocation entering a
// deployment counts as placed in it. Job summaries and statuses follow.
func (s *StateStore) UpsertAllocs(index uint64, allocs []*structs.Allocation) error {
	return s.update(index, func(w *writer) error {
		for _, a := range allocs {
			if err := w.upsertAlloc(a, allocWrite{}); err != nil {
				return fmt.Errorf("upsert alloc %q: %w", a.ID, err)
			}
		}
		return nil
	})
}

func (w *writer) upsertAlloc(a *structs.Allocation, how allocWrite) error {
	existing, err := allocByID(nil, w.txn, a.ID)
	if err != nil {
		return err
	}
	if existing == nil && how.existingOnly {
		return nil
	}
	if how.stop && existing != nil {
		a = stopDecision(existing, a)
	}
	if how.ts != 0 {
		a.ModifyTime = how.ts
	}
	a.ModifyIndex = w.index
	a.AllocModifyIndex = w.index
	if existing == nil {
		a.CreateIndex = w.index
		if how.ts != 0 && a.CreateTime == 0 {
			a.CreateTime = how.ts
		}
		if a.ClientStatus == "" {
			a.ClientStatus = structs.AllocClientStatusPending
		}
		if a.Job == nil {
			a.Job = how.job
		}
		if a.Job == nil {
			if a.Job, err = jobByID(nil, w.txn, a.Namespace, a.JobID); err != nil {
				return err
			}
		}
		if a.Job == nil {
			return fmt.Errorf("job %q: %w", a.JobID, ErrJobNotFound)
		}
	} else {
		a.CreateIndex = existing.CreateIndex
		a.CreateTime = existing.CreateTime
		a.TaskStates = existing.TaskStates
		if a.DeploymentID == existing.DeploymentID {
			a.DeploymentStatus = existing.DeploymentStatus
		} else {
			a.DeploymentStatus = nil
		}
		if !serverClientStatus(a.ClientStatus) || a.ClientStatus == existing.ClientStatus {
			a.ClientStatus = existing.ClientStatus
			a.ClientDescription = existing.ClientDescription
		}
		if a.Job == nil {
			// An allocation keeps the job version it was made for; only
			// an in-place update, which carries its new job, changes it.
			a.Job = existing.Job
		}
		// What placement decided stays unless the update carries a new
		// value (plans leave these out of updates to stay small).
		if a.AllocatedResources == nil {
			a.AllocatedResources = existing.AllocatedResources
		}
		if a.Metrics == nil {
			a.Metrics = existing.Metrics
		}
	}
	if err := w.insert(TableAllocs, a); err != nil {
		return err
	}
	if err := w.adjustSummary(existing, a); err != nil {
		return err
	}
	if a.DeploymentID != "" && (existing == nil || existing.DeploymentID != a.DeploymentID) {
		if err := w.placedInDeployment(a, how.ts); err != nil {
			return err
		}
	}
	if existing == nil && a.PreviousAllocation != "" {
		if err := w.linkPrevious(a); err != nil {
			return err
		}
	}
	w.touchJob(a.Namespace, a.JobID)
	return nil
}

// serverClientStatus reports whether a client status is one the server
// decides on the client's behalf: lost (its node is down) or unknown (its
// node is disconnected). Any other status in a scheduler's allocation is
// just the client's status as of the scheduler's snapshot, possibly older
// than a report applied since, so it must not overwrite the stored one.
func serverClientStatus(s string) bool {
	return s == structs.AllocClientStatusLost || s == structs.AllocClientStatusUnknown
}

// stopDecision applies the scheduler's decision to stop an allocation to
// a copy of the stored one. Only the fields the scheduler decides are
// taken, so a plan may carry just those and still not wipe the rest.
func stopDecision(existing, in *structs.Allocation) *structs.Allocation {
	c := existing.Copy()
	c.DesiredStatus = in.DesiredStatus
	c.DesiredDescription = in.DesiredDescription
	if serverClientStatus(in.ClientStatus) {
		c.ClientStatus = in.ClientStatus
		c.ClientDescription = in.ClientDescription
	}
	if in.FollowupEvalID != "" {
		c.FollowupEvalID = in.FollowupEvalID
	}
	return c
}

// linkPrevious records on the allocation a replacement took over from
// which one replaced it, so "alloc status" can point forwards as well as
// backwards.
func (w *writer) linkPrevious(a *structs.Allocation) error {
	prev, err := allocByID(nil, w.txn, a.PreviousAllocation)
	if err != nil || prev == nil || prev.NextAllocation == a.ID {
		return err
	}
	c := prev.Copy()
	c.NextAllocation = a.ID
	c.ModifyIndex = w.index
	return w.insert(TableAllocs, c)
}

// placedInDeployment counts an allocation that entered a deployment. The
// first placement of a group starts its progress deadline (only plans
// carry the time to start it from).
func (w *writer) placedInDeployment(a *structs.Allocation, ts int64) error {
	return w.updateDeploymentGroup(a.DeploymentID, a.TaskGroup, func(st *structs.DeploymentState) {
		st.PlacedAllocs++
		if a.DeploymentStatus != nil && a.DeploymentStatus.Canary && !contains(st.PlacedCanaries, a.ID) {
			st.PlacedCanaries = append(st.PlacedCanaries, a.ID)
		}
		if ts != 0 && st.RequireProgressBy.IsZero() && st.ProgressDeadline > 0 {
			st.RequireProgressBy = utc(time.Unix(0, ts)).Add(st.ProgressDeadline)
		}
	})
}

// updateDeploymentGroup changes one group's state of an active
// deployment. Unknown deployments and groups, and finished deployments,
// are left alone: their counters no longer drive anything.
func (w *writer) updateDeploymentGroup(id, group string, fn func(st *structs.DeploymentState)) error {
	d, err := deploymentByID(nil, w.txn, id)
	if err != nil || d == nil || !d.Active() || d.TaskGroups[group] == nil {
		return err
	}
	c := d.Copy()
	fn(c.TaskGroups[group])
	c.ModifyIndex = w.index
	if err := w.insert(TableDeployments, c); err != nil {
		return err
	}
	w.touchJob(c.Namespace, c.JobID)
	return nil
}

// utc strips the monotonic reading and the local zone, so that a time in
// the state is the same value on every server and survives a snapshot.
func utc(t time.Time) time.Time { return t.Round(0).UTC() }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// UpdateAllocsFromClient applies what clients report about their
// allocations: client status and description, task states, deployment
// health and modify time; everything else is the server's and is kept.
// Unknown allocations are skipped (they may have been collected); an empty
// client status, nil task states or nil health keep the stored ones.
// ModifyIndex moves, AllocModifyIndex (the server's changes) does not.
//
// Health becoming known counts on the deployment: a healthy allocation
// also pushes the group's progress deadline out to its health time plus
// the group's progress deadline.
func (s *StateStore) UpdateAllocsFromClient(index uint64, allocs []*structs.Allocation) error {
	return s.update(index, func(w *writer) error {
		for _, a := range allocs {
			if err := w.updateFromClient(a); err != nil {
				return fmt.Errorf("update alloc %q from client: %w", a.ID, err)
			}
		}
		return nil
	})
}

func (w *writer) updateFromClient(in *structs.Allocation) error {
	existing, err := allocByID(nil, w.txn, in.ID)
	if err != nil || existing == nil {
		return err
	}
	c := existing.Copy()
	if in.ClientStatus != "" {
		c.ClientStatus = in.ClientStatus
		c.ClientDescription = in.ClientDescription
	}
	if in.TaskStates != nil {
		c.TaskStates = in.TaskStates
	}
	if in.DeploymentStatus != nil {
		ds := *in.DeploymentStatus
		ds.Timestamp = utc(ds.Timestamp)
		// Being a canary is the scheduler's decision, not the client's.
		ds.Canary = existing.DeploymentStatus != nil && existing.DeploymentStatus.Canary
		ds.ModifyIndex = w.index
		c.DeploymentStatus = &ds
	}
	c.ModifyTime = in.ModifyTime
	c.ModifyIndex = w.index
	if err := w.insert(TableAllocs, c); err != nil {
		return err
	}
	if err := w.adjustSummary(existing, c); err != nil {
		return err
	}
	wasKnown := existing.DeploymentStatus != nil && existing.DeploymentStatus.Healthy != nil
	nowKnown := c.DeploymentStatus != nil && c.DeploymentStatus.Healthy != nil
	if !wasKnown && nowKnown && c.DeploymentID != "" {
		healthy := *c.DeploymentStatus.Healthy
		at := c.DeploymentStatus.Timestamp
		err := w.updateDeploymentGroup(c.DeploymentID, c.TaskGroup, func(st *structs.DeploymentState) {
			if !healthy {
				st.UnhealthyAllocs++
				return
			}
			st.HealthyAllocs++
			if st.ProgressDeadline > 0 {
				st.RequireProgressBy = at.Add(st.ProgressDeadline)
			}
		})
		if err != nil {
			return err
		}
	}
	w.touchJob(c.Namespace, c.JobID)
	return nil
}

// UpdateAllocsDesiredTransitions asks the scheduler to move allocations
// (the drainer marks them to migrate) and stores the evaluations that
// will do it, in one transaction so an allocation is never marked without
// an evaluation to act on it. Set fields of a transition overwrite, unset
// ones keep the stored value. Unknown allocations are skipped.
func (s *StateStore) UpdateAllocsDesiredTransitions(index uint64, transitions map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error {
	return s.update(index, func(w *writer) error {
		ids := make([]string, 0, len(transitions))
		for id := range transitions {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			t := transitions[id]
			a, err := allocByID(nil, w.txn, id)
			if err != nil {
				return fmt.Errorf("update desired transition: %w", err)
			}
			if a == nil || t == nil {
				continue
			}
			c := a.Copy()
			if t.Migrate != nil {
				c.DesiredTransition.Migrate = t.Migrate
			}
			if t.Reschedule != nil {
				c.DesiredTransition.Reschedule = t.Reschedule
			}
			if t.ForceReschedule != nil {
				c.DesiredTransition.ForceReschedule = t.ForceReschedule
			}
			if t.NoShutdownDelay != nil {
				c.DesiredTransition.NoShutdownDelay = t.NoShutdownDelay
			}
			c.ModifyIndex = w.index
			if err := w.insert(TableAllocs, c); err != nil {
				return fmt.Errorf("update desired transition of %q: %w", id, err)
			}
		}
		for _, e := range evals {
			if err := w.upsertEval(e); err != nil {
				return fmt.Errorf("upsert eval %q: %w", e.ID, err)
			}
		}
		return nil
	})
}
