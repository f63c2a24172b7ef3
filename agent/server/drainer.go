package server

import (
	"context"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/state"
	"drover/agent/structs"
)

// runDrainer is the leader's node drainer. For every draining node it
// marks allocations to migrate, at most each group's migrate.max_parallel
// at a time and only while enough of the group is healthy elsewhere; batch
// allocations may run until the deadline; system allocations go last.
// When nothing is left, the drain completes and the node stays ineligible.
func (s *Server) runDrainer(ctx context.Context) {
	var index uint64
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		next, err := s.State().BlockingQuery(wctx, index, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
			if _, err := snap.Nodes(ws); err != nil {
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
		s.drainNodes()
	}
}

func (s *Server) drainNodes() {
	snap := s.State().Snapshot()
	nodes, err := snap.Nodes(nil)
	if err != nil {
		return
	}
	ts := now()
	// migrate.max_parallel limits a job's group across every draining
	// node, so all nodes of this pass spend one budget.
	budget := map[string]int{}
	for _, n := range nodes {
		if n.DrainStrategy == nil {
			continue
		}
		if err := s.drainNode(snap, n, ts, budget); err != nil {
			s.logger.Printf("[ERROR] drainer: node %s: %v", n.ID, err)
		}
	}
}

func (s *Server) drainNode(snap *state.StateSnapshot, node *structs.Node, ts time.Time, budget map[string]int) error {
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
			if n, err = s.drainBudget(snap, a); err != nil {
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
			evals = append(evals, &structs.Evaluation{
				ID: structs.GenerateUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
				TriggeredBy: structs.EvalTriggerNodeDrain, JobID: job.ID, NodeID: node.ID,
				Status: structs.EvalStatusPending, CreateTime: ts.UnixNano(), ModifyTime: ts.UnixNano(),
			})
		}
		_, err := s.apply(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{Transitions: transitions, Evals: evals})
		return err
	}
	if remaining == 0 {
		_, err := s.apply(NodeDrainUpdateRequestType, &NodeDrainUpdateRequest{
			NodeID: node.ID, UpdatedAt: ts.Unix(),
			Event: &structs.NodeEvent{Message: structs.NodeEventDrainComplete, Subsystem: "Drain", Timestamp: ts},
		})
		return err
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
func (s *Server) drainBudget(snap *state.StateSnapshot, a *structs.Allocation) (int, error) {
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
