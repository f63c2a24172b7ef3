package state

import (
	"fmt"
	"sort"

	"drover/agent/structs"
)

// JobTrackedVersions is how many of a job's most recent versions are kept
// for "job history" and reverts. The newest stable version is kept too
// even when it is older, so that auto-revert always has a target.
const JobTrackedVersions = 6

// UpsertJob registers a job or a new version of it.
//
// A new job gets CreateIndex = ModifyIndex = JobModifyIndex = index and
// version 0. An existing one keeps its CreateIndex, gets ModifyIndex =
// JobModifyIndex = index and the next version number, and is not stable
// until a deployment says so. SubmitTime is the caller's. The version is
// recorded in the history, the job summary gains and loses groups to match
// the job, and the job's status is computed.
func (s *StateStore) UpsertJob(index uint64, job *structs.Job) error {
	return s.update(index, func(w *writer) error {
		if err := w.upsertJob(job); err != nil {
			return fmt.Errorf("upsert job: %w", err)
		}
		return nil
	})
}

func (w *writer) upsertJob(job *structs.Job) error {
	existing, err := jobByID(nil, w.txn, job.Namespace, job.ID)
	if err != nil {
		return err
	}
	job.ModifyIndex = w.index
	job.JobModifyIndex = w.index
	job.Stable = false
	prevStatus := ""
	if existing != nil {
		job.CreateIndex = existing.CreateIndex
		job.Version = existing.Version + 1
		prevStatus = existing.Status
	} else {
		job.CreateIndex = w.index
		job.Version = 0
	}

	if err := w.syncSummaryGroups(job); err != nil {
		return err
	}
	status, err := w.jobStatus(job, prevStatus)
	if err != nil {
		return err
	}
	job.Status = status

	if err := w.insert(TableJobs, job); err != nil {
		return err
	}
	// The history shares the object: stored jobs are immutable, and a later
	// status change replaces the current job with a copy.
	if err := w.insert(TableJobVersions, job); err != nil {
		return err
	}
	return w.trimVersions(job.Namespace, job.ID)
}

// trimVersions drops the versions beyond JobTrackedVersions, except the
// newest stable one.
func (w *writer) trimVersions(namespace, id string) error {
	vs, err := jobVersions(nil, w.txn, namespace, id)
	if err != nil {
		return err
	}
	if len(vs) <= JobTrackedVersions {
		return nil
	}
	keepStable := true
	for _, v := range vs[:JobTrackedVersions] {
		if v.Stable {
			keepStable = false
		}
	}
	for _, v := range vs[JobTrackedVersions:] {
		if keepStable && v.Stable {
			keepStable = false
			continue
		}
		if err := w.delete(TableJobVersions, v); err != nil {
			return err
		}
	}
	return nil
}

// syncSummaryGroups creates the job's summary or makes its groups match
// the job's. A group that appears again is counted from the allocations
// already stored, so the summary always equals a recount.
func (w *writer) syncSummaryGroups(job *structs.Job) error {
	sum, err := w.summary(job.Namespace, job.ID)
	if err != nil {
		return err
	}
	if sum == nil {
		sum = &structs.JobSummary{
			JobID: job.ID, Namespace: job.Namespace, Summary: map[string]structs.TaskGroupSummary{},
			CreateIndex: w.index,
		}
		w.summaries[nsKey{job.Namespace, job.ID}] = sum
	}
	wanted := map[string]bool{}
	var added []string
	for _, tg := range job.TaskGroups {
		wanted[tg.Name] = true
		if _, ok := sum.Summary[tg.Name]; !ok {
			added = append(added, tg.Name)
		}
	}
	for name := range sum.Summary {
		if !wanted[name] {
			delete(sum.Summary, name)
		}
	}
	if len(added) == 0 {
		return nil
	}
	counts, err := w.countAllocs(job)
	if err != nil {
		return err
	}
	for _, name := range added {
		sum.Summary[name] = counts[name]
	}
	return nil
}

// countAllocs counts the allocations of this incarnation of the job by
// group and client status, Queued left at zero.
func (w *writer) countAllocs(job *structs.Job) (map[string]structs.TaskGroupSummary, error) {
	allocs, err := list[*structs.Allocation](nil, w.txn, TableAllocs, indexJob, job.Namespace, job.ID)
	if err != nil {
		return nil, err
	}
	counts := map[string]structs.TaskGroupSummary{}
	for _, a := range allocs {
		if !belongsTo(a, job) {
			continue
		}
		c := counts[a.TaskGroup]
		addStatus(&c, a.ClientStatus, 1)
		counts[a.TaskGroup] = c
	}
	return counts, nil
}

// addStatus adds n to the summary column of a client status.
func addStatus(s *structs.TaskGroupSummary, clientStatus string, n int) {
	switch clientStatus {
	case structs.AllocClientStatusPending:
		s.Starting += n
	case structs.AllocClientStatusRunning:
		s.Running += n
	case structs.AllocClientStatusComplete:
		s.Complete += n
	case structs.AllocClientStatusFailed:
		s.Failed += n
	case structs.AllocClientStatusLost:
		s.Lost += n
	case structs.AllocClientStatusUnknown:
		s.Unknown += n
	}
}

// adjustSummary moves an allocation's count from its old client status
// to its new one (old or new may be nil for an insert or a delete). Only
// allocations of the current incarnation of the job count. A new
// allocation is a placement, which takes one from the group's Queued.
func (w *writer) adjustSummary(old, cur *structs.Allocation) error {
	ref := cur
	if ref == nil {
		ref = old
	}
	job, err := jobByID(nil, w.txn, ref.Namespace, ref.JobID)
	if err != nil || job == nil {
		return err
	}
	sum, err := w.summary(ref.Namespace, ref.JobID)
	if err != nil || sum == nil {
		return err
	}
	if old != nil && belongsTo(old, job) {
		if tg, ok := sum.Summary[old.TaskGroup]; ok {
			addStatus(&tg, old.ClientStatus, -1)
			sum.Summary[old.TaskGroup] = tg
		}
	}
	if cur != nil && belongsTo(cur, job) {
		if tg, ok := sum.Summary[cur.TaskGroup]; ok {
			addStatus(&tg, cur.ClientStatus, 1)
			if old == nil && tg.Queued > 0 {
				tg.Queued--
			}
			sum.Summary[cur.TaskGroup] = tg
		}
	}
	return nil
}

// DeleteJob purges a job: the job, its version history and its summary.
// Its allocations and evaluations stay until garbage collection, because
// they still describe work being stopped.
func (s *StateStore) DeleteJob(index uint64, namespace, id string) error {
	return s.update(index, func(w *writer) error {
		job, err := jobByID(nil, w.txn, namespace, id)
		if err != nil {
			return fmt.Errorf("delete job: %w", err)
		}
		if job == nil {
			return fmt.Errorf("delete job %q: %w", id, ErrJobNotFound)
		}
		if err := w.delete(TableJobs, job); err != nil {
			return fmt.Errorf("delete job: %w", err)
		}
		vs, err := jobVersions(nil, w.txn, namespace, id)
		if err != nil {
			return fmt.Errorf("delete job: %w", err)
		}
		for _, v := range vs {
			if err := w.delete(TableJobVersions, v); err != nil {
				return fmt.Errorf("delete job version: %w", err)
			}
		}
		sum, err := jobSummary(nil, w.txn, namespace, id)
		if err != nil {
			return fmt.Errorf("delete job: %w", err)
		}
		if sum != nil {
			if err := w.delete(TableJobSummary, sum); err != nil {
				return fmt.Errorf("delete job summary: %w", err)
			}
		}
		// Nothing is left to settle for this job.
		w.summaries[nsKey{namespace, id}] = nil
		delete(w.jobs, nsKey{namespace, id})
		return nil
	})
}

// UpdateJobStability marks a version of a job stable (or not). Only the
// stored version and, if it is the current one, the current job change;
// neither gets a new version, since stability is a verdict on a version,
// not a change to it.
func (s *StateStore) UpdateJobStability(index uint64, namespace, jobID string, version uint64, stable bool) error {
	return s.update(index, func(w *writer) error {
		if err := w.setStability(namespace, jobID, version, stable); err != nil {
			return fmt.Errorf("update job stability: %w", err)
		}
		return nil
	})
}

func (w *writer) setStability(namespace, jobID string, version uint64, stable bool) error {
	obj, err := first(nil, w.txn, TableJobVersions, indexID, namespace, jobID, version)
	if err != nil {
		return err
	}
	if obj == nil {
		return fmt.Errorf("job %q version %d: %w", jobID, version, ErrJobNotFound)
	}
	v := obj.(*structs.Job)
	if v.Stable != stable {
		c := v.Copy()
		c.Stable = stable
		c.ModifyIndex = w.index
		if err := w.insert(TableJobVersions, c); err != nil {
			return err
		}
	}
	cur, err := jobByID(nil, w.txn, namespace, jobID)
	if err != nil {
		return err
	}
	if cur != nil && cur.Version == version && cur.Stable != stable {
		c := cur.Copy()
		c.Stable = stable
		c.ModifyIndex = w.index
		if err := w.insert(TableJobs, c); err != nil {
			return err
		}
	}
	return nil
}

// settleJobStatus stores the job's recomputed status if it changed. The
// change goes on a copy, with a new ModifyIndex (the job object did
// change, and blocking queries must see it) but no new version: the
// user's specification is the same.
func (w *writer) settleJobStatus(k nsKey) error {
	job, err := jobByID(nil, w.txn, k.namespace, k.id)
	if err != nil || job == nil {
		return err
	}
	status, err := w.jobStatus(job, job.Status)
	if err != nil {
		return err
	}
	if status == job.Status {
		return nil
	}
	c := job.Copy()
	c.Status = status
	c.ModifyIndex = w.index
	return w.insert(TableJobs, c)
}

// jobStatus derives a job's status from its allocations, deployments and
// evaluations:
//   - a periodic or system job is running until stopped, then dead (its
//     work is done by child launches, or on whichever nodes exist);
//   - running while any allocation is not terminal or any deployment is
//     active;
//   - pending while an evaluation is pending or blocked;
//   - dead if it has been evaluated or is stopped;
//   - pending otherwise.
//
// prev is the stored status. Garbage collection deletes terminal
// evaluations, and a job that was dead must not turn pending because its
// history was collected, so a job that was dead and has nothing left
// stays dead.
//
// "Any allocation" means one made for this incarnation of the job (see
// belongsTo), "any deployment" an active one of this incarnation or one
// that does not record its incarnation, "an evaluation" any of the job
// ID. The answer is read from the job's counts (jobCounts), which every
// write of an allocation, evaluation or deployment keeps up to date, so
// it costs the same for a job of one allocation as for one of 100,000.
func (w *writer) jobStatus(job *structs.Job, prev string) (string, error) {
	// System jobs (one allocation per node, however many nodes there are)
	// and periodic jobs are running until stopped, as in Nomad.
	if job.Periodic != nil || job.Type == structs.JobTypeSystem {
		if job.Stop {
			return structs.JobStatusDead, nil
		}
		return structs.JobStatusRunning, nil
	}
	c, err := w.jobCounts(nsKey{job.Namespace, job.ID})
	if err != nil {
		return "", err
	}
	if c.LiveAllocs[job.CreateIndex] > 0 {
		return structs.JobStatusRunning, nil
	}
	if c.ActiveDeployments[0] > 0 || c.ActiveDeployments[job.CreateIndex] > 0 {
		return structs.JobStatusRunning, nil
	}
	if c.LiveEvals > 0 {
		return structs.JobStatusPending, nil
	}
	if c.Evals > 0 || job.Stop || prev == structs.JobStatusDead {
		return structs.JobStatusDead, nil
	}
	return structs.JobStatusPending, nil
}

// sortedGroupNames returns the keys of a per-group map in order, so that
// applying it does not depend on map iteration.
func sortedGroupNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
