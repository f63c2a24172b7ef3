package scheduler

import (
	"fmt"
	"time"

	"drover/agent/structs"
)

// system schedules a system job: one allocation of each group on every
// ready node that can run it. Allocations on nodes that went down are
// lost; on nodes that no longer qualify they stop.
func (s *pass) system(allocs []*structs.Allocation) error {
	for _, tg := range s.job.TaskGroups {
		u := s.updates(tg.Name)
		onNode := map[string]*structs.Allocation{}
		// stoppedHere holds the ready nodes whose allocation this pass
		// stops because a user asked ("alloc stop"): as in Nomad, a
		// system allocation is not replaced by that evaluation, only by
		// the job's next one.
		stoppedHere := map[string]bool{}
		for _, a := range allocs {
			if a.TaskGroup != tg.Name || a.TerminalStatus() {
				continue
			}
			node := s.nodes[a.NodeID]
			switch {
			case node == nil || node.TerminalStatus():
				s.stop(a, structs.AllocLost, structs.AllocClientStatusLost, fmt.Sprintf("node %s is down", shortID(a.NodeID)))
				u.Stop++
			case a.DesiredTransition.ShouldMigrate():
				why := fmt.Sprintf("node %s is draining", shortID(a.NodeID))
				if node.DrainStrategy == nil && node.Ready() {
					why = "stopped by request (alloc stop); system allocations are not replaced until the job is evaluated again"
					stoppedHere[node.ID] = true
				}
				s.stop(a, structs.AllocNodeTainted, "", why)
				u.Migrate++
			case onNode[a.NodeID] != nil:
				s.stop(a, structs.AllocNotNeeded, "", "another allocation of the group already runs on its node")
				u.Stop++
			default:
				onNode[a.NodeID] = a
			}
		}
		var places []placement
		name := structs.AllocName(s.job.ID, tg.Name, 0)
		// update.max_parallel bounds the destructive updates of one pass;
		// a rolling-update evaluation after update.stagger does the next.
		budget := -1
		if tg.Update != nil && tg.Update.MaxParallel > 0 {
			budget = tg.Update.MaxParallel
		}
		held := false
		for _, node := range s.placer.nodes {
			a := onNode[node.ID]
			if a == nil {
				if groupFilter(s.job, tg, node) != "" || stoppedHere[node.ID] {
					continue // not for this node: no failure, no placement
				}
				places = append(places, placement{name: name, onNode: node, action: structs.DecisionPlace,
					reason: "system jobs run on every eligible node"})
				u.Place++
				continue
			}
			delete(onNode, node.ID)
			waited, err := s.systemUpdate(tg, a, u, &places, &budget)
			if err != nil {
				return err
			}
			held = held || waited
		}
		// Allocations left on nodes that are no longer ready or eligible
		// (but not draining) keep running, as on any ineligible node.
		for _, a := range onNode {
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, "its node is not eligible for new work but keeps what it runs")
			u.Ignore++
		}
		if held {
			s.rollingFollowUp(tg.Update.Stagger)
		}
		if err := s.place(tg, places); err != nil {
			return err
		}
	}
	return nil
}

// rollingFollowUp asks for the next batch of a system job's update after
// the stagger, once per pass.
func (s *pass) rollingFollowUp(stagger time.Duration) {
	for _, f := range s.followUps {
		if f.TriggeredBy == structs.EvalTriggerRollingUpdate {
			return
		}
	}
	follow := s.eval.FollowUp(structs.EvalTriggerRollingUpdate, s.now)
	follow.WaitUntil = s.now.Add(stagger)
	s.followUps = append(s.followUps, follow)
}

// systemUpdate brings one node's allocation to the current version. It
// reports waited when the update budget held a destructive update back.
func (s *pass) systemUpdate(tg *structs.TaskGroup, a *structs.Allocation, u *structs.DesiredUpdates, places *[]placement, budget *int) (waited bool, err error) {
	if a.Job == nil || a.Job.JobModifyIndex == s.job.JobModifyIndex {
		s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, fmt.Sprintf("already runs job version %d", s.job.Version))
		u.Ignore++
		return false, nil
	}
	why := destructiveChange(a.Job, s.job, tg.Name)
	if why == "" {
		ok, err := s.placer.fitsInPlace(tg, a.NodeID)
		if err != nil {
			return false, err
		}
		if ok {
			c := a.Copy()
			c.Job = s.job
			c.EvalID = s.eval.ID
			s.plan.AppendAlloc(c)
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionInPlace, "the change can be applied to the running allocation")
			u.InPlaceUpdate++
			return false, nil
		}
		why = "its node no longer satisfies the job"
	}
	if *budget == 0 {
		s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, fmt.Sprintf(
			"needs a new allocation (%s); waiting: update.max_parallel = %d, the next batch follows after update.stagger",
			why, tg.Update.MaxParallel))
		u.Ignore++
		return true, nil
	}
	if *budget > 0 {
		*budget--
	}
	s.stop(a, structs.AllocUpdating, "", why)
	*places = append(*places, placement{name: a.Name, previous: a, onNode: s.nodes[a.NodeID],
		action: structs.DecisionDestructive, reason: "replaces " + shortID(a.ID) + ": " + why})
	u.DestructiveUpdate++
	return false, nil
}
