package server

import (
	"context"
	"sync"

	"drover/agent/state"
	"drover/agent/structs"
)

// planQueue hands plans from workers to the leader's single plan applier.
// One applier, working through plans in order, is what makes optimistic
// scheduling safe: every plan is checked against the state that includes
// all plans committed before it.
type planQueue struct {
	mu      sync.Mutex
	enabled bool
	ch      chan *pendingPlan
}

type pendingPlan struct {
	plan   *structs.Plan
	result chan planResponse
}

type planResponse struct {
	result *structs.PlanResult
	err    error
}

func newPlanQueue() *planQueue {
	return &planQueue{ch: make(chan *pendingPlan, 64)}
}

func (q *planQueue) SetEnabled(enabled bool) {
	q.mu.Lock()
	q.enabled = enabled
	q.mu.Unlock()
}

// Submit queues a plan and waits for the applier's verdict.
func (q *planQueue) Submit(ctx context.Context, p *structs.Plan) (*structs.PlanResult, error) {
	q.mu.Lock()
	enabled := q.enabled
	q.mu.Unlock()
	if !enabled {
		return nil, errPlanQueueDisabled
	}
	pp := &pendingPlan{plan: p, result: make(chan planResponse, 1)}
	select {
	case q.ch <- pp:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-pp.result:
		return r.result, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// planApply is the leader's plan applier loop.
func (s *Server) planApply(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case pp := <-s.planQ.ch:
			result, err := s.applyPlan(pp.plan)
			pp.result <- planResponse{result: result, err: err}
		}
	}
}

// applyPlan checks a plan against the newest state and commits what still
// fits.
func (s *Server) applyPlan(p *structs.Plan) (*structs.PlanResult, error) {
	// Only the worker that holds the evaluation now may commit for it: one
	// that outlived the nack timeout lost it to a redelivery.
	if token, ok := s.broker.Outstanding(p.EvalID); !ok || token != p.EvalToken {
		return nil, errorf(ErrInvalidRequest, "plan for evaluation %s refused: its delivery token is no longer outstanding", p.EvalID)
	}
	snap := s.State().Snapshot()
	result, err := evaluatePlan(snap, p)
	if err != nil {
		return nil, err
	}
	if len(result.NodeUpdate) == 0 && len(result.NodeAllocation) == 0 && result.Deployment == nil && len(result.DeploymentUpdates) == 0 {
		return result, nil
	}
	req, err := planResultsRequest(p, result, now(), snap)
	if err != nil {
		return nil, err
	}
	index, err := s.apply(ApplyPlanResultsRequestType, req)
	if err != nil {
		return nil, err
	}
	result.AllocIndex = index
	return result, nil
}

// evaluatePlan keeps the nodes of the plan whose allocations still fit in
// the given state and drops the others, setting RefreshIndex so the
// scheduler retries them with newer state. Stops always apply.
func evaluatePlan(snap *state.StateSnapshot, p *structs.Plan) (*structs.PlanResult, error) {
	result := &structs.PlanResult{
		NodeUpdate:        map[string][]*structs.Allocation{},
		NodeAllocation:    map[string][]*structs.Allocation{},
		Deployment:        p.Deployment,
		DeploymentUpdates: p.DeploymentUpdates,
	}
	for node, stops := range p.NodeUpdate {
		result.NodeUpdate[node] = stops
	}
	partial := false
	for nodeID, allocs := range p.NodeAllocation {
		ok, err := nodeFits(snap, nodeID, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			partial = true
			continue
		}
		result.NodeAllocation[nodeID] = allocs
	}
	if partial {
		index, err := snap.LatestIndex()
		if err != nil {
			return nil, err
		}
		result.RefreshIndex = index
	}
	return result, nil
}

// nodeFits checks one node of a plan: the node must take new allocations
// (ready, eligible, not draining) and hold everything that would run on
// it, with no port used twice.
func nodeFits(snap *state.StateSnapshot, nodeID string, p *structs.Plan) (bool, error) {
	node, err := snap.NodeByID(nil, nodeID)
	if err != nil {
		return false, err
	}
	if node == nil || node.TerminalStatus() {
		return false, nil
	}
	planned := map[string]*structs.Allocation{}
	for _, a := range p.NodeAllocation[nodeID] {
		if a.CreateIndex == 0 && !node.Ready() {
			return false, nil // new work only goes to ready, eligible nodes
		}
		planned[a.ID] = a
	}
	stopping := map[string]bool{}
	for _, a := range p.NodeUpdate[nodeID] {
		stopping[a.ID] = true
	}
	existing, err := snap.AllocsByNode(nil, nodeID)
	if err != nil {
		return false, err
	}
	var used structs.ComparableResources
	ports := map[int]string{}
	reserved := node.ReservedHostPorts()
	add := func(a *structs.Allocation) bool {
		if a.TerminalStatus() {
			return true
		}
		used.Add(a.Comparable())
		for _, port := range a.HostPorts() {
			if reserved[port] && planned[a.ID] != nil {
				return false // the node withholds it (reserved_ports)
			}
			if owner, taken := ports[port]; taken && owner != a.ID {
				return false
			}
			ports[port] = a.ID
		}
		return true
	}
	for _, a := range existing {
		if stopping[a.ID] || planned[a.ID] != nil {
			continue
		}
		if !add(a) {
			return false, nil
		}
	}
	for _, a := range p.NodeAllocation[nodeID] {
		if !add(a) {
			return false, nil
		}
	}
	ok, _ := node.Comparable().Superset(used)
	return ok, nil
}
