// Package deploymentwatcher is the leader's deployment watcher: whenever
// an active deployment, one of its allocations or its job changes (and at
// least every second, for progress deadlines) it moves each running
// deployment along. A new
// healthy allocation gets an evaluation so the scheduler replaces the
// next batch; a deployment whose groups are all healthy succeeds and its
// job version becomes stable; an unhealthy allocation is marked for
// replacement or fails the deployment; a passed progress deadline fails
// it, and the failing group's auto_revert rolls the job back.
//
// It reads the state store and changes the cluster only through Raft,
// so it can be tested alone, with a state store and a recording Raft.
package deploymentwatcher

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/state"
	"drover/agent/structs"
)

// Stability marks a job version stable (or not).
type Stability struct {
	Namespace string
	JobID     string
	Version   uint64
	Stable    bool
}

// Raft is how the watcher changes the cluster; each call is one
// replicated write.
type Raft interface {
	UpsertEvals(evals []*structs.Evaluation) error
	// UpdateDeploymentStatus ends a deployment; revert, when set, is the
	// job version to register again, stable the version to mark stable.
	UpdateDeploymentStatus(u *structs.DeploymentStatusUpdate, revert *structs.Job, stable *Stability, eval *structs.Evaluation) error
	PromoteDeployment(deploymentID string, groups []string, eval *structs.Evaluation) error
	UpdateDesiredTransitions(t map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error
}

// Watcher watches the deployments of the state it is given.
type Watcher struct {
	state  func() *state.StateStore
	raft   Raft
	logger *log.Logger
	now    func() time.Time
	// every is the longest the watcher sleeps without a write, so that
	// progress deadlines pass on time.
	every time.Duration

	healthySeen map[string]int
}

// New returns a watcher. state returns the live store (it may be replaced
// by a snapshot restore); now is the clock.
func New(st func() *state.StateStore, raft Raft, logger *log.Logger, now func() time.Time) *Watcher {
	return &Watcher{state: st, raft: raft, logger: logger, now: now, every: time.Second, healthySeen: map[string]int{}}
}

// Run watches until ctx ends (leadership is lost). It wakes when an
// active deployment, one of its allocations or its job changes, and at
// least every second for progress deadlines; a write that concerns no
// running deployment (the common case: most allocations belong to none)
// does not wake it, and a wake reads only the active deployments, so an
// idle server pays nothing for the allocations it holds.
func (w *Watcher) Run(ctx context.Context) {
	state.Watch(ctx, w.state, w.every, w.watch, w.Check)
}

// watch adds to ws what Check's decisions depend on: the active
// deployments (their counters are kept by the store as allocations are
// placed and report health), the allocations of each (unhealthy ones to
// mark or fail on, canaries to auto-promote) and each one's job (a new
// version supersedes a deployment).
func (w *Watcher) watch(ws memdb.WatchSet, snap *state.StateSnapshot) error {
	deployments, err := snap.ActiveDeployments(ws)
	if err != nil {
		return err
	}
	for _, d := range deployments {
		if err := snap.WatchAllocsByDeployment(ws, d.ID); err != nil {
			return err
		}
		if _, err := snap.JobByID(ws, d.Namespace, d.JobID); err != nil {
			return err
		}
	}
	return nil
}

// Check looks at every running deployment once.
func (w *Watcher) Check() {
	snap := w.state().Snapshot()
	deployments, err := snap.ActiveDeployments(nil)
	if err != nil {
		w.logger.Printf("[ERROR] deployments: list: %v", err)
		return
	}
	ts := w.now()
	running := make(map[string]bool, len(deployments))
	for _, d := range deployments {
		if d.Status != structs.DeploymentStatusRunning {
			continue
		}
		running[d.ID] = true
		job, err := snap.JobByID(nil, d.Namespace, d.JobID)
		if err != nil || job == nil || job.Version != d.JobVersion {
			continue // the scheduler cancels deployments of old versions
		}
		if err := w.checkDeployment(snap, d, job, ts); err != nil {
			w.logger.Printf("[ERROR] deployments: %s: %v", d.ID, err)
		}
	}
	// Forget what was seen of deployments that no longer run (paused,
	// ended or collected).
	for id := range w.healthySeen {
		if !running[id] {
			delete(w.healthySeen, id)
		}
	}
}

func (w *Watcher) checkDeployment(snap *state.StateSnapshot, d *structs.Deployment, job *structs.Job, ts time.Time) error {
	if promote, err := autoPromotable(snap, d); err != nil || promote {
		if err != nil {
			return err
		}
		return w.raft.PromoteDeployment(d.ID, nil, NewEval(job, d, ts))
	}
	if failed, err := w.handleUnhealthy(snap, d, job, ts); failed || err != nil {
		return err
	}
	healthy, complete := 0, true
	for name, g := range d.TaskGroups {
		healthy += g.HealthyAllocs
		// A group whose healthy canaries are all there waits for a
		// person to promote it; that is not a lack of progress.
		awaitingPromotion := g.DesiredCanaries > 0 && !g.Promoted && g.HealthyAllocs >= g.DesiredCanaries
		if !awaitingPromotion && !g.RequireProgressBy.IsZero() && ts.After(g.RequireProgressBy) && g.HealthyAllocs < g.DesiredTotal {
			return w.fail(snap, d, job, structs.DeploymentDescProgressDeadline, name)
		}
		if g.HealthyAllocs < g.DesiredTotal || (g.DesiredCanaries > 0 && !g.Promoted) {
			complete = false
		}
	}
	if complete {
		delete(w.healthySeen, d.ID)
		return w.raft.UpdateDeploymentStatus(&structs.DeploymentStatusUpdate{DeploymentID: d.ID,
			Status: structs.DeploymentStatusSuccessful, StatusDescription: structs.DeploymentDescSuccessful},
			nil, &Stability{Namespace: d.Namespace, JobID: d.JobID, Version: d.JobVersion, Stable: true}, nil)
	}
	if healthy > w.healthySeen[d.ID] {
		w.healthySeen[d.ID] = healthy
		// More healthy allocations: room for the next batch of updates.
		return w.raft.UpsertEvals([]*structs.Evaluation{NewEval(job, d, ts)})
	}
	return nil
}

// handleUnhealthy acts on the deployment's unhealthy allocations as Nomad
// does: with no progress deadline, or for an allocation that has no
// reschedule attempt left, the deployment fails at once; otherwise the
// allocation is marked for replacement (DesiredTransition.Reschedule) and
// the progress deadline decides whether the deployment fails.
func (w *Watcher) handleUnhealthy(snap *state.StateSnapshot, d *structs.Deployment, job *structs.Job, ts time.Time) (bool, error) {
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
			return true, w.fail(snap, d, job, structs.DeploymentDescFailedAllocations, a.TaskGroup)
		}
		if !a.DesiredTransition.ShouldReschedule() {
			yes := true
			transitions[a.ID] = &structs.DesiredTransition{Reschedule: &yes}
		}
	}
	if len(transitions) == 0 {
		return false, nil
	}
	return false, w.raft.UpdateDesiredTransitions(transitions, []*structs.Evaluation{NewEval(job, d, ts)})
}

// autoPromotable reports whether every group awaiting promotion asks for
// auto_promote and has all its canaries healthy.
func autoPromotable(snap *state.StateSnapshot, d *structs.Deployment) (bool, error) {
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

// NewEval is the evaluation a deployment change asks the scheduler for.
func NewEval(job *structs.Job, d *structs.Deployment, ts time.Time) *structs.Evaluation {
	eval := structs.NewEval(job, structs.EvalTriggerDeploymentWatcher, ts)
	eval.JobModifyIndex, eval.DeploymentID = job.JobModifyIndex, d.ID
	return eval
}

// fail fails a deployment because of one of its groups and, when that
// group's update strategy asks for auto_revert, registers the latest
// stable version of the job again.
func (w *Watcher) fail(snap *state.StateSnapshot, d *structs.Deployment, job *structs.Job, desc, group string) error {
	update := &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: structs.DeploymentStatusFailed, StatusDescription: desc}
	var revert *structs.Job
	ts := w.now()
	if g := d.TaskGroups[group]; g != nil && g.AutoRevert {
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
			update.StatusDescription += " - no stable job version to auto revert to"
		case !stable.SpecChanged(job):
			update.StatusDescription += fmt.Sprintf(
				" - not rolling back to stable job version %d as current job has same specification", stable.Version)
		default:
			update.StatusDescription += fmt.Sprintf(" - rolling back to job version %d", stable.Version)
			revert = stable.Copy()
			revert.Stable = false
			revert.SubmitTime = ts.UnixNano()
		}
	}
	return w.raft.UpdateDeploymentStatus(update, revert, nil, NewEval(job, d, ts))
}
