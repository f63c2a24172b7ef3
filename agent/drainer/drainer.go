// Package drainer is the leader's node drainer. For every draining node
// it marks allocations to migrate (DesiredTransition.Migrate), at most
// each group's migrate.max_parallel at a time across all draining nodes
// and only while enough of the group is healthy elsewhere; batch
// allocations may run until the deadline; system allocations go last.
// When nothing is left, the drain completes and the node stays
// ineligible. The scheduler does the moving.
//
// It reads the state store and changes the cluster only through Raft,
// so it can be tested alone.
package drainer

import (
	"context"
	"log"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/state"
	"drover/agent/structs"
)

// Raft is how the drainer changes the cluster; each call is one
// replicated write.
type Raft interface {
	// UpdateDesiredTransitions marks allocations and queues the
	// evaluations that let the scheduler act on the marks.
	UpdateDesiredTransitions(t map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error
	// CompleteDrain ends a node's drain, recording event.
	CompleteDrain(nodeID string, updatedAt int64, event *structs.NodeEvent) error
}

// Drainer drains the nodes of the state it is given.
type Drainer struct {
	state  func() *state.StateStore
	raft   Raft
	logger *log.Logger
	now    func() time.Time
}

// New returns a drainer. state returns the live store; now is the clock.
func New(st func() *state.StateStore, raft Raft, logger *log.Logger, now func() time.Time) *Drainer {
	return &Drainer{state: st, raft: raft, logger: logger, now: now}
}

// Run drains until ctx ends (leadership is lost), looking again whenever
// nodes or allocations change and at least every second (deadlines).
func (d *Drainer) Run(ctx context.Context) {
	state.Watch(ctx, d.state, time.Second, func(ws memdb.WatchSet, snap *state.StateSnapshot) error {
		if _, err := snap.Nodes(ws); err != nil {
			return err
		}
		_, err := snap.Allocs(ws)
		return err
	}, d.Check)
}

// Check moves every draining node along once.
func (d *Drainer) Check() {
	snap := d.state().Snapshot()
	nodes, err := snap.Nodes(nil)
	if err != nil {
		return
	}
	ts := d.now()
	// migrate.max_parallel limits a job's group across every draining
	// node, so all nodes of this pass spend one budget.
	budget := map[string]int{}
	for _, n := range nodes {
		if n.DrainStrategy == nil {
			continue
		}
		if err := d.drainNode(snap, n, ts, budget); err != nil {
			d.logger.Printf("[ERROR] drainer: node %s: %v", n.ID, err)
		}
	}
}

func (d *Drainer) drainNode(snap *state.StateSnapshot, node *structs.Node, ts time.Time, budget map[string]int) error {
	allocs, err := snap.AllocsByNode(nil, node.ID)
	if err != nil {
		return err
	}
	forced := !node.DrainStrategy.ForceDeadline.IsZero() && !ts.Before(node.DrainStrategy.ForceDeadline)
	transitions := map[string]*structs.DesiredTransition{}
	jobs := map[string]*structs.Job{}
	remaining, system := 0, []*structs.Allocation{}
	for _, a := range allocs {
		if a.TerminalStatus() {
			continue
		}
		job := a.Job
		if job == nil {
			continue
		}
		switch job.Type {
		case structs.JobTypeSystem:
			if !node.DrainStrategy.IgnoreSystemJobs {
				system = append(system, a)
			}
			continue
		case structs.JobTypeBatch:
			remaining++
			if forced && !a.DesiredTransition.ShouldMigrate() {
				transitions[a.ID] = migrateTransition()
				jobs[a.JobID] = job
			}
			continue
		}
		remaining++
		if a.DesiredTransition.ShouldMigrate() {
			continue // already on its way
		}
		if forced {
			transitions[a.ID] = migrateTransition()
			jobs[a.JobID] = job
			continue
		}
		key := a.Namespace + "\x00" + a.JobID + "\x00" + a.TaskGroup
		n, ok := budget[key]
		if !ok {
			if n, err = drainBudget(snap, a); err != nil {
				return err
			}
		}
		if n > 0 {
			transitions[a.ID] = migrateTransition()
			jobs[a.JobID] = job
			n--
		}
		budget[key] = n
	}
	// System allocations leave last, once everything else has.
	if remaining == 0 || forced {
		for _, a := range system {
			remaining++
			if !a.DesiredTransition.ShouldMigrate() {
				transitions[a.ID] = migrateTransition()
				jobs[a.JobID] = a.Job
			}
		}
	} else {
		remaining += len(system)
	}
	if len(transitions) > 0 {
		var evals []*structs.Evaluation
		for _, job := range jobs {
			eval := structs.NewEval(job, structs.EvalTriggerNodeDrain, ts)
			eval.NodeID = node.ID
			evals = append(evals, eval)
		}
		return d.raft.UpdateDesiredTransitions(transitions, evals)
	}
	if remaining == 0 {
		return d.raft.CompleteDrain(node.ID, ts.Unix(),
			&structs.NodeEvent{Message: structs.NodeEventDrainComplete, Subsystem: "Drain", Timestamp: ts})
	}
	return nil
}

func migrateTransition() *structs.DesiredTransition {
	t := true
	return &structs.DesiredTransition{Migrate: &t}
}

// drainBudget is how many allocations of a's group may start migrating
// now: the healthy ones, not already migrating, beyond count minus
// migrate.max_parallel. A replacement must be healthy before the next
// allocation leaves.
func drainBudget(snap *state.StateSnapshot, a *structs.Allocation) (int, error) {
	job, err := snap.JobByID(nil, a.Namespace, a.JobID)
	if err != nil || job == nil {
		return 0, err
	}
	tg := job.LookupTaskGroup(a.TaskGroup)
	if tg == nil {
		return 1, nil // the scheduler stops it anyway
	}
	maxParallel := 1
	if tg.Migrate != nil && tg.Migrate.MaxParallel > 0 {
		maxParallel = tg.Migrate.MaxParallel
	}
	all, err := snap.AllocsByJob(nil, a.Namespace, a.JobID, false)
	if err != nil {
		return 0, err
	}
	healthy := 0
	for _, o := range all {
		if o.TaskGroup != tg.Name || o.TerminalStatus() || o.DesiredTransition.ShouldMigrate() {
			continue
		}
		if o.ClientStatus == structs.AllocClientStatusRunning && o.DeploymentStatus.IsHealthy() {
			healthy++
		}
	}
	return healthy - (tg.Count - maxParallel), nil
}
