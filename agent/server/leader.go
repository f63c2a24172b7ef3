package server

import (
	"context"
	"math/rand"
	"time"

	"drover/agent/structs"
)

// establishLeadership starts the leader's duties: the broker and blocked
// evaluations are rebuilt from state (they are not replicated), then the
// plan applier, heartbeat timers, deployment watcher and drainer run until
// leadership is lost.
func (s *Server) establishLeadership() {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leaderCancel != nil {
		return
	}
	// Everything applied before we became leader must be in our state.
	if err := s.await(s.raft.Barrier(0)); err != nil {
		s.logger.Printf("[ERROR] server: barrier on leadership: %v", err)
		return
	}
	ctx, cancel := context.WithCancel(s.shutdownCtx)
	s.leaderCancel = cancel

	// Timers first: WaitForLeader returns once the broker is enabled,
	// and a node registering from then on must get its timer.
	s.heartbeats.start()
	s.broker.SetEnabled(true)
	s.blocked.SetEnabled(true)
	s.restoreEvals()

	s.planQ.SetEnabled(true)
	s.goLeader(ctx, s.planApply)
	s.goLeader(ctx, s.reapFailedEvals)
	s.goLeader(ctx, s.heartbeats.run)
	s.goLeader(ctx, s.watchDeployments)
	s.goLeader(ctx, s.runDrainer)
	s.goLeader(ctx, s.reconcilePeers)
	s.goLeader(ctx, s.collectGarbage)
	s.goLeader(ctx, s.cancelSuperseded)
	s.logger.Printf("[INFO] server: cluster leadership acquired")
}

func (s *Server) goLeader(ctx context.Context, fn func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(ctx)
	}()
}

// revokeLeadership stops the leader's duties.
func (s *Server) revokeLeadership() {
	s.leaderMu.Lock()
	defer s.leaderMu.Unlock()
	if s.leaderCancel == nil {
		return
	}
	s.leaderCancel()
	s.leaderCancel = nil
	s.planQ.SetEnabled(false)
	s.broker.SetEnabled(false)
	s.blocked.SetEnabled(false)
	s.logger.Printf("[INFO] server: cluster leadership lost")
}

// restoreEvals puts every unfinished evaluation back in the broker or the
// blocked set.
func (s *Server) restoreEvals() {
	evals, err := s.State().Evals(nil)
	if err != nil {
		s.logger.Printf("[ERROR] server: restore evaluations: %v", err)
		return
	}
	s.evalsApplied(evals)
}

// evalsApplied is the FSM hook for evaluations written to state: pending
// ones are queued, blocked ones wait for capacity. On a follower the
// broker is disabled and this does nothing.
func (s *Server) evalsApplied(evals []*structs.Evaluation) {
	if !s.broker.Enabled() {
		return
	}
	for _, e := range evals {
		switch e.Status {
		case structs.EvalStatusPending:
			s.broker.Enqueue(e)
		case structs.EvalStatusBlocked:
			if replaced := s.blocked.Block(e); replaced != nil {
				s.cancelEvalAsync(replaced, "replaced by a newer blocked evaluation")
			}
		}
	}
}

// capacityFreed is the FSM hook for changes that may make room: blocked
// evaluations that the change can help get another try. The change names
// the nodes it happened on and the allocations that stopped; each is
// resolved to its node's computed class, datacenter and pool. Anything
// that cannot be resolved (an allocation or node already gone, or a change
// that names nothing) unblocks every evaluation: a missed wake-up would
// leave a job waiting forever.
func (s *Server) capacityFreed(index uint64, nodeIDs, allocIDs []string) {
	if !s.blocked.Enabled() {
		return
	}
	// Always tell the blocked set, even when it is empty: it remembers
	// the index, so an evaluation computed before this change but blocked
	// after it is retried at once instead of missing the wake-up.
	nodes, ok := s.capacityNodes(nodeIDs, allocIDs)
	if !ok {
		s.blocked.Unblock(index)
		return
	}
	s.blocked.UnblockNodes(index, nodes)
}

// capacityNodes resolves a capacity change to the nodes it happened on.
func (s *Server) capacityNodes(nodeIDs, allocIDs []string) ([]NodeCapacity, bool) {
	if len(nodeIDs) == 0 && len(allocIDs) == 0 {
		return nil, false
	}
	st := s.State()
	ids := append([]string(nil), nodeIDs...)
	for _, id := range allocIDs {
		a, err := st.AllocByID(nil, id)
		if err != nil || a == nil || a.NodeID == "" {
			return nil, false
		}
		ids = append(ids, a.NodeID)
	}
	seen := map[string]bool{}
	var out []NodeCapacity
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		n, err := st.NodeByID(nil, id)
		if err != nil || n == nil {
			return nil, false
		}
		out = append(out, NodeCapacity{Class: n.ComputedClass, Datacenter: n.Datacenter, Pool: n.NodePool})
	}
	return out, true
}

// jobScope is where a job may place: its datacenters and node pool, as
// the blocked set filters capacity changes by them.
func (s *Server) jobScope(namespace, jobID string) ([]string, string, bool) {
	job, err := s.State().JobByID(nil, namespace, jobID)
	if err != nil || job == nil {
		return nil, "", false
	}
	return job.Datacenters, job.NodePool, true
}

// cancelEvalAsync marks an evaluation canceled. It runs in its own
// goroutine because it is called from the FSM, which must not wait on raft.
func (s *Server) cancelEvalAsync(e *structs.Evaluation, why string) {
	c := e.Copy()
	c.Status = structs.EvalStatusCancelled
	c.StatusDescription = why
	go func() {
		if _, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{c}}); err != nil {
			s.logger.Printf("[WARN] server: cancel evaluation %s: %v", e.ID, err)
		}
	}()
}

// reapFailedEvals marks evaluations that exhausted their deliveries as
// failed.
func (s *Server) reapFailedEvals(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.broker.FailedCh():
			c := e.Copy()
			c.Status = structs.EvalStatusFailed
			c.StatusDescription = "evaluation reached delivery limit"
			follow := s.failedFollowUp(c, now())
			if _, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{c, follow}}); err != nil {
				s.logger.Printf("[ERROR] server: mark evaluation %s failed: %v", e.ID, err)
			}
		}
	}
}

// failedFollowUp is the delayed evaluation that looks at a failed
// evaluation's job again, as Nomad does: after a baseline delay plus a
// random part, so that a cluster-wide problem is not retried in lockstep.
// It links the two (NextEval, PreviousEval).
func (s *Server) failedFollowUp(failed *structs.Evaluation, ts time.Time) *structs.Evaluation {
	delay := s.config.FailedEvalFollowUpBaseline
	if r := s.config.FailedEvalFollowUpJitter; r > 0 {
		delay += time.Duration(rand.Int63n(int64(r)))
	}
	follow := failed.FollowUp(structs.EvalTriggerFailedFollowUp, ts)
	follow.WaitUntil = ts.Add(delay)
	failed.NextEval = follow.ID
	return follow
}

// cancelSuperseded marks canceled, in batches, the evaluations the broker
// found redundant: a newer evaluation of the same job runs instead.
func (s *Server) cancelSuperseded(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			evals := s.broker.TakeSuperseded(1000)
			if len(evals) == 0 {
				break
			}
			ts := now().UnixNano()
			for i, e := range evals {
				c := e.Copy()
				c.Status = structs.EvalStatusCancelled
				c.StatusDescription = "canceled after more recent eval was processed"
				c.ModifyTime = ts
				evals[i] = c
			}
			if _, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: evals}); err != nil {
				s.logger.Printf("[WARN] server: cancel %d superseded evaluations: %v", len(evals), err)
				break
			}
		}
	}
}
