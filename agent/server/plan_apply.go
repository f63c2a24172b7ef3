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

// planApply is the leader's plan applier loop. It checks a plan while
// the one before it is still being committed, with that plan's placements
// counted as if committed (see inflightPlan), and sends it to raft only
// once the one before is applied: every plan is still checked against
// everything committed before it, but checking and encoding the next plan
// no longer wait for the state machine.
func (s *Server) planApply(ctx context.Context) {
	var inflight *inflightPlan
	defer func() {
		if inflight != nil {
			<-inflight.done
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case pp := <-s.planQ.ch:
			prepared, err := s.preparePlan(pp.plan, inflight)
			if err == nil && prepared.entry == nil && prepared.result.RefreshIndex != 0 && inflight != nil {
				// Refused, perhaps for the placements still being
				// committed: the worker's retry must see them.
				<-inflight.done
				if prepared.result.RefreshIndex, err = s.State().LatestIndex(); err != nil {
					prepared.result = nil
				}
			}
			if err != nil || prepared.entry == nil {
				pp.result <- planResponse{result: prepared.result, err: err}
				continue
			}
			if inflight != nil {
				<-inflight.done
			}
			inflight = s.commitPlan(pp, prepared)
		}
	}
}

// inflightPlan is a plan sent to raft whose result is not known yet.
type inflightPlan struct {
	result *structs.PlanResult
	done   chan struct{} // closed once it is applied or failed
}

// preparedPlan is a checked plan: what fits, and its encoded entry (nil
// when nothing is left to commit).
type preparedPlan struct {
	result *structs.PlanResult
	entry  []byte
}

// applyPlan checks a plan against the newest state and commits what still
// fits.
func (s *Server) applyPlan(p *structs.Plan) (*structs.PlanResult, error) {
	prepared, err := s.preparePlan(p, nil)
	if err != nil || prepared.entry == nil {
		return prepared.result, err
	}
	index, err := s.applyEntry(ApplyPlanResultsRequestType, prepared.entry)
	if err != nil {
		return nil, err
	}
	prepared.result.AllocIndex = index
	return prepared.result, nil
}

// preparePlan checks a plan against the newest state, plus the
// placements of the plan still being committed, and encodes what fits.
func (s *Server) preparePlan(p *structs.Plan, inflight *inflightPlan) (preparedPlan, error) {
	// Only the worker that holds the evaluation now may commit for it: one
	// that outlived the nack timeout lost it to a redelivery.
	if token, ok := s.broker.Outstanding(p.EvalID); !ok || token != p.EvalToken {
		return preparedPlan{}, errorf(ErrInvalidRequest, "plan for evaluation %s refused: its delivery token is no longer outstanding", p.EvalID)
	}
	snap := s.State().Snapshot()
	var pending *structs.PlanResult
	if inflight != nil {
		select {
		case <-inflight.done: // applied: the snapshot may already hold it
		default:
			pending = inflight.result
		}
	}
	result, err := evaluatePlanOver(snap, pending, p)
	if err != nil {
		return preparedPlan{}, err
	}
	if len(result.NodeUpdate) == 0 && len(result.NodeAllocation) == 0 && result.Deployment == nil && len(result.DeploymentUpdates) == 0 {
		return preparedPlan{result: result}, nil
	}
	req, err := planResultsRequest(p, result, now(), snap)
	if err != nil {
		return preparedPlan{}, err
	}
	entry, err := encode(ApplyPlanResultsRequestType, req)
	if err != nil {
		return preparedPlan{}, err
	}
	return preparedPlan{result: result, entry: entry}, nil
}

// commitPlan sends a prepared plan to raft and answers its worker once
// the state machine has applied it.
func (s *Server) commitPlan(pp *pendingPlan, prepared preparedPlan) *inflightPlan {
	inflight := &inflightPlan{result: prepared.result, done: make(chan struct{})}
	go func() {
		defer close(inflight.done)
		index, err := s.applyEntry(ApplyPlanResultsRequestType, prepared.entry)
		if err != nil {
			pp.result <- planResponse{err: err}
			return
		}
		prepared.result.AllocIndex = index
		pp.result <- planResponse{result: prepared.result}
	}()
	return inflight
}

// evaluatePlan keeps the nodes of the plan whose allocations still fit in
// the given state and drops the others, setting RefreshIndex so the
// scheduler retries them with newer state. Stops always apply.
func evaluatePlan(snap *state.StateSnapshot, p *structs.Plan) (*structs.PlanResult, error) {
	return evaluatePlanOver(snap, nil, p)
}

// evaluatePlanOver is evaluatePlan with the placements of pending, a plan
// sent to raft but perhaps not applied yet, counted on their nodes. Its
// stops are not counted: should it fail, what they would free was never
// free.
func evaluatePlanOver(snap *state.StateSnapshot, pending *structs.PlanResult, p *structs.Plan) (*structs.PlanResult, error) {
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
		var also []*structs.Allocation
		if pending != nil {
			also = pending.NodeAllocation[nodeID]
		}
		ok, err := nodeFitsWith(snap, nodeID, p, also)
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
	return nodeFitsWith(snap, nodeID, p, nil)
}

// nodeFitsWith is nodeFits with also, allocations committed or about to
// be, on the node too: each replaces the stored allocation of its ID, if
// the snapshot has it, or joins the node's allocations.
func nodeFitsWith(snap *state.StateSnapshot, nodeID string, p *structs.Plan, also []*structs.Allocation) (bool, error) {
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
	existing, err := snap.AllocsOnNode(nil, nodeID)
	if err != nil {
		return false, err
	}
	if len(also) > 0 {
		existing = mergeAllocs(existing, also)
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

// mergeAllocs returns stored with each allocation of also in place of the
// stored one of the same ID, or added.
func mergeAllocs(stored, also []*structs.Allocation) []*structs.Allocation {
	byID := make(map[string]int, len(stored))
	out := make([]*structs.Allocation, len(stored), len(stored)+len(also))
	copy(out, stored)
	for i, a := range out {
		byID[a.ID] = i
	}
	for _, a := range also {
		if i, ok := byID[a.ID]; ok {
			out[i] = a
			continue
		}
		out = append(out, a)
	}
	return out
}
