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
	// every is the longest the drainer sleeps without a write, so that
	// deadlines pass on time.
	every time.Duration
}

// New returns a drainer. state returns the live store; now is the clock.
func New(st func() *state.StateStore, raft Raft, logger *log.Logger, now func() time.Time) *Drainer {
	return &Drainer{state: st, raft: raft, logger: logger, now: now, every: time.Second}
}

// Run drains until ctx ends (leadership is lost). It wakes when a
// draining node (or the set of them) changes, when an allocation on a
// draining node changes, or an allocation or the job of one of the jobs
// with work on them (a replacement turning healthy elsewhere frees
// migrate budget), and at least every second for deadlines. Writes that
// concern no drain do not wake it, and a wake reads only the draining
// nodes and their allocations, so with no drain it costs nothing.
func (d *Drainer) Run(ctx context.Context) {
	state.Watch(ctx, d.state, d.every, d.watch, d.Check)
}

// watch adds to ws what Check's decisions depend on (see Run).
func (d *Drainer) watch(ws memdb.WatchSet, snap *state.StateSnapshot) error {
	nodes, err := snap.DrainingNodes(ws)
	if err != nil {
		return err
	}
	type jobKey struct{ namespace, id string }
	jobs := map[jobKey]bool{}
	for _, n := range nodes {
		allocs, err := snap.AllocsByNode(ws, n.ID)
		if err != nil {
			return err
		}
		for _, a := range allocs {
			if a.TerminalStatus() {
				continue
			}
			k := jobKey{a.Namespace, a.JobID}
			if jobs[k] {
				continue
			}
			jobs[k] = true
			if err := snap.WatchAllocsByJob(ws, a.Namespace, a.JobID); err != nil {
				return err
			}
			if _, err := snap.JobByID(ws, a.Namespace, a.JobID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check moves every draining node along once.
func (d *Drainer) Check() {
	snap := d.state().Snapshot()
	nodes, err := snap.DrainingNodes(nil)
	if err != nil {
		d.logger.Printf("[ERROR] drainer: list draining nodes: %v", err)
		return
	}
	ts := d.now()
	// migrate.max_parallel limits a job's group across every draining
	// node, so all nodes of this pass spend one budget.
	budget := map[string]int{}
	for _, n := range nodes {
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
