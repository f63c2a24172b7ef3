package server

import (
	"context"
	"sync"
	"time"

	"drover/agent/structs"
)

// heartbeats holds one timer per live node on the leader. A node that does
// not heartbeat within its TTL plus the grace period is marked down, its
// allocations become lost and are replaced elsewhere.
type heartbeats struct {
	srv    *Server
	mu     sync.Mutex
	timers map[string]*time.Timer
	active bool
}

func newHeartbeats(s *Server) *heartbeats {
	return &heartbeats{srv: s, timers: map[string]*time.Timer{}}
}

// start arms a timer for every live node when leadership starts. The
// first timers run for the failover TTL, not the normal one: every node
// must notice the old leader is gone and find this one, and a failover
// must mark no node down. Each heartbeat then re-arms its node's timer
// with the normal TTL. It runs before the leader serves anything, so a
// node that registers with the new leader is always timed.
func (h *heartbeats) start() {
	h.mu.Lock()
	h.active = true
	h.mu.Unlock()
	if nodes, err := h.srv.State().Nodes(nil); err == nil {
		for _, n := range nodes {
			if n.Status != structs.NodeStatusDown {
				h.reset(n.ID, h.failoverTTL())
			}
		}
	}
}

// run clears the timers when leadership ends.
func (h *heartbeats) run(ctx context.Context) {
	<-ctx.Done()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.active = false
	for id, t := range h.timers {
		t.Stop()
		delete(h.timers, id)
	}
}

func (h *heartbeats) failoverTTL() time.Duration {
	if ttl := h.srv.config.FailoverHeartbeatTTL; ttl > 0 {
		return ttl
	}
	return h.srv.config.MinHeartbeatTTL
}

// tracked is the number of nodes with a timer: the live nodes, on the
// leader.
func (h *heartbeats) tracked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.timers)
}

// reset (re)arms a node's timer for ttl plus the grace period.
func (h *heartbeats) reset(nodeID string, ttl time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.active {
		return
	}
	d := ttl + h.srv.config.HeartbeatGrace
	if t, ok := h.timers[nodeID]; ok {
		t.Reset(d)
		return
	}
	h.timers[nodeID] = time.AfterFunc(d, func() { h.expired(nodeID) })
}

// expired marks a silent node down and creates evaluations for the jobs
// that ran on it.
func (h *heartbeats) expired(nodeID string) {
	h.mu.Lock()
	delete(h.timers, nodeID)
	active := h.active
	h.mu.Unlock()
	if !active {
		return
	}
	s := h.srv
	snap := s.State().Snapshot()
	node, err := snap.NodeByID(nil, nodeID)
	if err != nil || node == nil || node.Status == structs.NodeStatusDown {
		return
	}
	ts := now()
	evals, err := s.evalsForNode(snap, nodeID, structs.EvalTriggerNodeUpdate, ts)
	if err != nil {
		s.logger.Printf("[ERROR] heartbeat: evaluations for node %s: %v", nodeID, err)
		return
	}
	_, err = s.apply(NodeStatusUpdateRequestType, &NodeStatusUpdateRequest{
		NodeID: nodeID, Status: structs.NodeStatusDown, UpdatedAt: ts.Unix(), Evals: evals,
		Event: &structs.NodeEvent{Message: structs.NodeEventHeartbeatMissed, Subsystem: "Cluster", Timestamp: ts},
	})
	if err != nil {
		s.logger.Printf("[ERROR] heartbeat: mark node %s down: %v", nodeID, err)
		return
	}
	s.logger.Printf("[WARN] heartbeat: node %s missed its heartbeat and is down", nodeID)
}
