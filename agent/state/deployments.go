package state

import (
	"errors"
	"fmt"

	"drover/agent/structs"
)

// ErrNoCanaries refuses a promotion that would promote nothing.
var ErrNoCanaries = errors.New("no canaries to promote")

// ErrDeploymentTerminal refuses to change a deployment that has ended.
var ErrDeploymentTerminal = errors.New("deployment is not active")

// UpsertDeployment stores a deployment. A new one gets CreateIndex =
// ModifyIndex = index; an existing one keeps its CreateIndex and the
// counters the store maintains (see upsertDeployment).
func (s *StateStore) UpsertDeployment(index uint64, d *structs.Deployment) error {
	return s.update(index, func(w *writer) error {
		if err := w.upsertDeployment(d, 0); err != nil {
			return fmt.Errorf("upsert deployment %q: %w", d.ID, err)
		}
		return nil
	})
}

// upsertDeployment stores d. For groups already stored, PlacedAllocs,
// HealthyAllocs, UnhealthyAllocs and RequireProgressBy are kept from the
// stored deployment: the store counts them as allocations are placed and
// report health, and a scheduler's copy may predate a health report that
// landed since its snapshot. Placed canaries are the union of both, and a
// promotion is never undone. ts (unix nanos, 0 if none) stamps the times.
func (w *writer) upsertDeployment(d *structs.Deployment, ts int64) error {
	existing, err := deploymentByID(nil, w.txn, d.ID)
	if err != nil {
		return err
	}
	d.ModifyIndex = w.index
	if ts != 0 {
		d.ModifyTime = ts
	}
	if existing == nil {
		d.CreateIndex = w.index
		if ts != 0 && d.CreateTime == 0 {
			d.CreateTime = ts
		}
		for _, st := range d.TaskGroups {
			st.RequireProgressBy = utc(st.RequireProgressBy)
		}
	} else {
		d.CreateIndex = existing.CreateIndex
		if d.CreateTime == 0 {
			d.CreateTime = existing.CreateTime
		}
		for name, st := range d.TaskGroups {
			old := existing.TaskGroups[name]
			if old == nil {
				st.RequireProgressBy = utc(st.RequireProgressBy)
				continue
			}
			st.PlacedAllocs = old.PlacedAllocs
			st.HealthyAllocs = old.HealthyAllocs
			st.UnhealthyAllocs = old.UnhealthyAllocs
			st.RequireProgressBy = old.RequireProgressBy
			st.Promoted = st.Promoted || old.Promoted
			merged := append([]string(nil), old.PlacedCanaries...)
			for _, id := range st.PlacedCanaries {
				if !contains(merged, id) {
					merged = append(merged, id)
				}
			}
			st.PlacedCanaries = merged
		}
	}
	if err := w.insert(TableDeployments, d); err != nil {
		return err
	}
	w.touchJob(d.Namespace, d.JobID)
	return nil
}

// updateDeploymentStatus sets status and description. ts (unix nanos, 0
// if none) stamps ModifyTime.
func (w *writer) updateDeploymentStatus(u *structs.DeploymentStatusUpdate, ts int64) (*structs.Deployment, error) {
	d, err := deploymentByID(nil, w.txn, u.DeploymentID)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("deployment %q: %w", u.DeploymentID, ErrDeploymentNotFound)
	}
	c := d.Copy()
	c.Status = u.Status
	c.StatusDescription = u.StatusDescription
	c.ModifyIndex = w.index
	if ts != 0 {
		c.ModifyTime = ts
	}
	if err := w.insert(TableDeployments, c); err != nil {
		return nil, err
	}
	w.touchJob(c.Namespace, c.JobID)
	return c, nil
}

// UpdateDeploymentStatus sets a deployment's status, as the deployment
// watcher or a user (pause, resume, fail) decides. In the same
// transaction it registers job (optional; the stable version an
// auto-revert re-registers) and stores eval (optional; the evaluation
// that acts on the change), so that the decision and its consequences are
// one log entry. A successful deployment marks its job version stable.
func (s *StateStore) UpdateDeploymentStatus(index uint64, u *structs.DeploymentStatusUpdate, job *structs.Job, eval *structs.Evaluation) error {
	return s.update(index, func(w *writer) error {
		d, err := w.updateDeploymentStatus(u, 0)
		if err != nil {
			return fmt.Errorf("update deployment status: %w", err)
		}
		if d.Status == structs.DeploymentStatusSuccessful {
			if err := w.markDeployedStable(d); err != nil {
				return fmt.Errorf("update deployment status: %w", err)
			}
		}
		if job != nil {
			if err := w.upsertJob(job); err != nil {
				return fmt.Errorf("update deployment status: upsert job: %w", err)
			}
		}
		if eval != nil {
			if err := w.upsertEval(eval); err != nil {
				return fmt.Errorf("update deployment status: upsert eval: %w", err)
			}
		}
		return nil
	})
}

// markDeployedStable marks the job version a deployment rolled out as
// stable, if that version of that incarnation of the job is still tracked.
func (w *writer) markDeployedStable(d *structs.Deployment) error {
	job, err := jobByID(nil, w.txn, d.Namespace, d.JobID)
	if err != nil || job == nil {
		return err
	}
	if d.JobCreateIndex != 0 && d.JobCreateIndex != job.CreateIndex {
		return nil
	}
	v, err := first(nil, w.txn, TableJobVersions, indexID, d.Namespace, d.JobID, d.JobVersion)
	if err != nil || v == nil {
		return err
	}
	return w.setStability(d.Namespace, d.JobID, d.JobVersion, true)
}

// UpdateDeploymentPromotion promotes the canaries of the named groups
// (nil means every group), letting the rolling update continue past them.
// Only groups that have canaries are promoted; if none of the selected
// groups has any, or a named group is unknown, or the deployment has
// ended, nothing changes and an error says why. eval (optional) is the
// evaluation that continues the rollout, stored in the same transaction.
func (s *StateStore) UpdateDeploymentPromotion(index uint64, deploymentID string, groups []string, eval *structs.Evaluation) error {
	return s.update(index, func(w *writer) error {
		d, err := deploymentByID(nil, w.txn, deploymentID)
		if err != nil {
			return fmt.Errorf("promote deployment: %w", err)
		}
		if d == nil {
			return fmt.Errorf("promote deployment %q: %w", deploymentID, ErrDeploymentNotFound)
		}
		if !d.Active() {
			return fmt.Errorf("promote deployment %q: %w", deploymentID, ErrDeploymentTerminal)
		}
		if groups == nil {
			groups = sortedGroupNames(d.TaskGroups)
		}
		c := d.Copy()
		promoted := 0
		for _, name := range groups {
			st := c.TaskGroups[name]
			if st == nil {
				return fmt.Errorf("promote deployment %q: deployment has no task group %q", deploymentID, name)
			}
			if st.DesiredCanaries == 0 {
				continue
			}
			st.Promoted = true
			promoted++
		}
		if promoted == 0 {
			return fmt.Errorf("promote deployment %q: %w", deploymentID, ErrNoCanaries)
		}
		if c.Status == structs.DeploymentStatusRunning {
			c.StatusDescription = structs.DeploymentDescPromoted
		}
		c.ModifyIndex = index
		if err := w.insert(TableDeployments, c); err != nil {
			return fmt.Errorf("promote deployment %q: %w", deploymentID, err)
		}
		w.touchJob(c.Namespace, c.JobID)
		if eval != nil {
			if err := w.upsertEval(eval); err != nil {
				return fmt.Errorf("promote deployment: upsert eval: %w", err)
			}
		}
		return nil
	})
}

// DeleteDeployments is garbage collection of finished deployments. IDs not
// found are skipped, so a repeated collection is harmless.
func (s *StateStore) DeleteDeployments(index uint64, ids []string) error {
	return s.update(index, func(w *writer) error {
		for _, id := range ids {
			d, err := deploymentByID(nil, w.txn, id)
			if err != nil {
				return fmt.Errorf("delete deployments: %w", err)
			}
			if d == nil {
				continue
			}
			if err := w.delete(TableDeployments, d); err != nil {
				return fmt.Errorf("delete deployment %q: %w", id, err)
			}
			w.touchJob(d.Namespace, d.JobID)
		}
		return nil
	})
}
