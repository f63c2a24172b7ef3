package server

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/state"
	"drover/agent/structs"
)

// watchDeployments is the leader's deployment watcher. Whenever
// deployments or allocations change (and at least every second, for
// progress deadlines) it moves each running deployment along: on a new
// healthy allocation it creates an evaluation so the scheduler replaces
// the next batch; when every group is healthy it marks the deployment
// successful and the job version stable; on an unhealthy allocation or a
// passed progress deadline it fails it, rolling back if auto_revert says so.
func (s *Server) watchDeployments(ctx context.Context) {
	healthySeen := map[string]int{}
	var index uint64
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		next, err := s.State().BlockingQuery(wctx, index, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
			if _, err := snap.Deployments(ws); err != nil {
				return 0, err
			}
			if _, err := snap.Allocs(ws); err != nil {
				return 0, err
			}
			return snap.LatestIndex()
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && next > index {
			index = next
		}
		s.checkDeployments(healthySeen)
	}
}

func (s *Server) checkDeployments(healthySeen map[string]int) {
	snap := s.State().Snapshot()
	deployments, err := snap.Deployments(nil)
	if err != nil {
		s.logger.Printf("[ERROR] deployments: list: %v", err)
		return
	}
	ts := now()
	for _, d := range deployments {
		if d.Status != structs.DeploymentStatusRunning {
			delete(healthySeen, d.ID)
			continue
		}
		job, err := snap.JobByID(nil, d.Namespace, d.JobID)
		if err != nil || job == nil || job.Version != d.JobVersion {
			continue // the scheduler cancels deployments of old versions
		}
		if err := s.checkDeployment(snap, d, job, ts, healthySeen); err != nil {
			s.logger.Printf("[ERROR] deployments: %s: %v", d.ID, err)
		}
	}
}

func (s *Server) checkDeployment(snap *state.StateSnapshot, d *structs.Deployment, job *structs.Job, ts time.Time, healthySeen map[string]int) error {
	if promote, err := s.autoPromotable(snap, d); err != nil || promote {
		if err != nil {
			return err
		}
		_, err := s.apply(DeploymentPromoteRequestType, &DeploymentPromoteRequest{
			DeploymentID: d.ID, Eval: s.deploymentEval(job, d, ts)})
		return err
	}
	if failed, err := s.handleUnhealthy(snap, d, job, ts); failed || err != nil {
		return err
	}
	healthy, complete := 0, true
	for name, g := range d.TaskGroups {
		healthy += g.HealthyAllocs
		// A group whose healthy canaries are all there waits for a
		// person to promote it; that is not a lack of progress.
		awaitingPromotion := g.DesiredCanaries > 0 && !g.Promoted && g.HealthyAllocs >= g.DesiredCanaries
		if !awaitingPromotion && !g.RequireProgressBy.IsZero() && ts.After(g.RequireProgressBy) && g.HealthyAllocs < g.DesiredTotal {
			return s.failDeployment(snap, d, job, structs.DeploymentDescProgressDeadline, name)
		}
		if g.HealthyAllocs < g.DesiredTotal || (g.DesiredCanaries > 0 && !g.Promoted) {
			complete = false
		}
	}
	if complete {
		_, err := s.apply(DeploymentStatusUpdateRequestType, &DeploymentStatusUpdateRequest{
			Update: &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: structs.DeploymentStatusSuccessful,
				StatusDescription: structs.DeploymentDescSuccessful},
			Stable: &JobStabilityRequest{Namespace: d.Namespace, JobID: d.JobID, Version: d.JobVersion, Stable: true},
		})
		delete(healthySeen, d.ID)
		return err
	}
	if healthy > healthySeen[d.ID] {
		healthySeen[d.ID] = healthy
		// More healthy allocations: room for the next batch of updates.
		eval := s.deploymentEval(job, d, ts)
		_, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{eval}})
		return err
	}
	return nil
}

// handleUnhealthy acts on the deployment's unhealthy allocations as Nomad
// does: with no progress deadline, or for an allocation that has no
// reschedule attempt left, the deployment fails at once; otherwise the
// allocation is marked for replacement (DesiredTransition.Reschedule) and
// the progress deadline decides whether the deployment fails.
func (s *Server) handleUnhealthy(snap *state.StateSnapshot, d *structs.Deployment, job *structs.Job, ts time.Time) (bool, error) {
	unhealthy := false
	for _, g := range d.TaskGroups {
		unhealthy = unhealthy || g.UnhealthyAllocs > 0
	}
	if !unhealthy {
		return false, nil
	}
	allocs, err := snap.AllocsByDeployment(nil, d.ID)
	if err != nil {
		return false, err
	}
	transitions := map[string]*structs.DesiredTransition{}
	for _, a := range allocs {
		if a.DeploymentStatus == nil || a.DeploymentStatus.Healthy == nil || *a.DeploymentStatus.Healthy ||
			a.DesiredStatus != structs.AllocDesiredStatusRun {
			continue
		}
		g := d.TaskGroups[a.TaskGroup]
		tg := job.LookupTaskGroup(a.TaskGroup)
		if g == nil || tg == nil {
			continue
		}
		if g.ProgressDeadline == 0 || !a.RescheduleAttemptsLeft(tg.ReschedulePolicy, ts) {
			return true, s.failDeployment(snap, d, job, structs.DeploymentDescFailedAllocations, a.TaskGroup)
		}
		if !a.DesiredTransition.ShouldReschedule() {
			yes := true
			transitions[a.ID] = &structs.DesiredTransition{Reschedule: &yes}
		}
	}
	if len(transitions) == 0 {
		return false, nil
	}
	_, err = s.apply(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{
		Transitions: transitions, Evals: []*structs.Evaluation{s.deploymentEval(job, d, ts)}})
	return false, err
}

// autoPromotable reports whether every group awaiting promotion asks for
// auto_promote and has all its canaries healthy.
func (s *Server) autoPromotable(snap *state.StateSnapshot, d *structs.Deployment) (bool, error) {
	waiting := false
	for _, g := range d.TaskGroups {
		if g.DesiredCanaries == 0 || g.Promoted {
			continue
		}
		if !g.AutoPromote {
			return false, nil
		}
		waiting = true
	}
	if !waiting {
		return false, nil
	}
	allocs, err := snap.AllocsByDeployment(nil, d.ID)
	if err != nil {
		return false, err
	}
	healthy := map[string]int{}
	for _, a := range allocs {
		if a.DeploymentStatus != nil && a.DeploymentStatus.Canary && a.DeploymentStatus.IsHealthy() && !a.TerminalStatus() {
			healthy[a.TaskGroup]++
		}
	}
	for name, g := range d.TaskGroups {
		if g.DesiredCanaries > 0 && !g.Promoted && healthy[name] < g.DesiredCanaries {
			return false, nil
		}
	}
	return true, nil
}

func (s *Server) deploymentEval(job *structs.Job, d *structs.Deployment, ts time.Time) *structs.Evaluation {
	return &structs.Evaluation{
		ID: structs.GenerateUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
		TriggeredBy: structs.EvalTriggerDeploymentWatcher, JobID: job.ID, JobModifyIndex: job.JobModifyIndex,
		DeploymentID: d.ID, Status: structs.EvalStatusPending, CreateTime: ts.UnixNano(), ModifyTime: ts.UnixNano(),
	}
}

// failDeployment fails a deployment because of one of its groups and,
// when that group's update strategy asks for auto_revert, re-registers
// the latest stable version of the job.
func (s *Server) failDeployment(snap *state.StateSnapshot, d *structs.Deployment, job *structs.Job, desc, group string) error {
	req := &DeploymentStatusUpdateRequest{
		Update: &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: structs.DeploymentStatusFailed, StatusDescription: desc},
	}
	autoRevert := d.TaskGroups[group] != nil && d.TaskGroups[group].AutoRevert
	ts := now()
	if autoRevert {
		versions, err := snap.JobVersionsByID(nil, job.Namespace, job.ID)
		if err != nil {
			return err
		}
		var stable *structs.Job
		for _, v := range versions {
			if v.Stable && v.Version < job.Version {
				stable = v
				break
			}
		}
		switch {
		case stable == nil:
			req.Update.StatusDescription += " - no stable job version to auto revert to"
		case !specChanged(stable, job):
			req.Update.StatusDescription += fmt.Sprintf(
				" - not rolling back to stable job version %d as current job has same specification", stable.Version)
		default:
			req.Update.StatusDescription += fmt.Sprintf(" - rolling back to job version %d", stable.Version)
			revert := stable.Copy()
			revert.Stable = false
			revert.SubmitTime = ts.UnixNano()
			req.Job = revert
		}
	}
	eval := s.deploymentEval(job, d, ts)
	req.Eval = eval
	_, err := s.apply(DeploymentStatusUpdateRequestType, req)
	return err
}

// PromoteDeployment promotes the canaries of a deployment (all groups when
// groups is empty) so the rolling update continues.
func (s *Server) PromoteDeployment(deploymentID string, groups []string) (string, uint64, error) {
	var fwd DeploymentUpdateResponse
	if done, err := s.forward("Deployment.Promote", &DeploymentArgs{DeploymentID: deploymentID, Groups: groups}, &fwd); done {
		return fwd.EvalID, fwd.Index, err
	}
	d, job, err := s.activeDeployment(deploymentID)
	if err != nil {
		return "", 0, err
	}
	eval := s.deploymentEval(job, d, now())
	index, err := s.apply(DeploymentPromoteRequestType, &DeploymentPromoteRequest{DeploymentID: d.ID, Groups: groups, Eval: eval})
	if err != nil {
		return "", 0, err
	}
	return eval.ID, index, nil
}

// FailDeployment marks a running deployment failed at a user's request.
func (s *Server) FailDeployment(deploymentID string) (string, uint64, error) {
	var fwd DeploymentUpdateResponse
	if done, err := s.forward("Deployment.Fail", &DeploymentArgs{DeploymentID: deploymentID}, &fwd); done {
		return fwd.EvalID, fwd.Index, err
	}
	d, job, err := s.activeDeployment(deploymentID)
	if err != nil {
		return "", 0, err
	}
	eval := s.deploymentEval(job, d, now())
	index, err := s.apply(DeploymentStatusUpdateRequestType, &DeploymentStatusUpdateRequest{
		Update: &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: structs.DeploymentStatusFailed,
			StatusDescription: structs.DeploymentDescFailedByUser},
		Eval: eval,
	})
	if err != nil {
		return "", 0, err
	}
	return eval.ID, index, nil
}

func (s *Server) activeDeployment(id string) (*structs.Deployment, *structs.Job, error) {
	snap := s.State().Snapshot()
	d, err := snap.DeploymentByID(nil, id)
	if err != nil {
		return nil, nil, err
	}
	if d == nil {
		return nil, nil, errorf(ErrNotFound, "deployment not found")
	}
	if !d.Active() {
		return nil, nil, errorf(ErrInvalidRequest, "can't change terminal deployment")
	}
	job, err := snap.JobByID(nil, d.Namespace, d.JobID)
	if err != nil {
		return nil, nil, err
	}
	if job == nil {
		return nil, nil, errorf(ErrNotFound, "job not found")
	}
	return d, job, nil
}
