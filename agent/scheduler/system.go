package scheduler

import (
	"fmt"

	"drover/agent/structs"
)

// system schedules a system job: one allocation of each group on every
// ready node that can run it. Allocations on nodes that went down are
// lost; on nodes that no longer qualify they stop.
func (s *pass) system(allocs []*structs.Allocation) error {
	for _, tg := range s.job.TaskGroups {
		u := s.updates(tg.Name)
		onNode := map[string]*structs.Allocation{}
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
				s.stop(a, structs.AllocNodeTainted, "", fmt.Sprintf("node %s is draining", shortID(a.NodeID)))
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
		for _, node := range s.placer.nodes {
			a := onNode[node.ID]
			if a == nil {
				if groupFilter(s.job, tg, node) != "" {
					continue // not for this node: no failure, no placement
				}
				places = append(places, placement{name: name, onNode: node, action: structs.DecisionPlace,
					reason: "system jobs run on every eligible node"})
				u.Place++
				continue
			}
			delete(onNode, node.ID)
			if err := s.systemUpdate(tg, a, u, &places); err != nil {
				return err
			}
		}
		// Allocations left on nodes that are no longer ready or eligible
		// (but not draining) keep running, as on any ineligible node.
		for _, a := range onNode {
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, "its node is not eligible for new work but keeps what it runs")
			u.Ignore++
		}
		if err := s.place(tg, places); err != nil {
			return err
		}
	}
	return nil
}

func (s *pass) systemUpdate(tg *structs.TaskGroup, a *structs.Allocation, u *structs.DesiredUpdates, places *[]placement) error {
	if a.Job == nil || a.Job.JobModifyIndex == s.job.JobModifyIndex {
		s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, fmt.Sprintf("already runs job version %d", s.job.Version))
		u.Ignore++
		return nil
	}
	why := destructiveChange(a.Job, s.job, tg.Name)
	if why == "" {
		ok, err := s.placer.fitsInPlace(tg, a.NodeID)
		if err != nil {
			return err
		}
		if ok {
			c := a.Copy()
			c.Job = s.job
			c.EvalID = s.eval.ID
			s.plan.AppendAlloc(c)
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionInPlace, "the change can be applied to the running allocation")
			u.InPlaceUpdate++
			return nil
		}
		why = "its node no longer satisfies the job"
	}
	s.stop(a, structs.AllocUpdating, "", why)
	*places = append(*places, placement{name: a.Name, previous: a, onNode: s.nodes[a.NodeID],
		action: structs.DecisionDestructive, reason: "replaces " + shortID(a.ID) + ": " + why})
	u.DestructiveUpdate++
	return nil
}
