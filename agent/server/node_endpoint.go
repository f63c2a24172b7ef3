package server

import (
	"context"
	"math/rand"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/state"
	"drover/agent/structs"
	"drover/agent/wire"
)

// The node-facing RPC messages live in agent/wire, which clients import
// without linking the server; the aliases keep the server's code short.
type (
	NodeRegisterArgs      = wire.NodeRegisterArgs
	NodeUpdateResponse    = wire.NodeUpdateResponse
	NodeHeartbeatArgs     = wire.NodeHeartbeatArgs
	NodeStatusArgs        = wire.NodeStatusArgs
	NodeAllocsUpdateArgs  = wire.NodeAllocsUpdateArgs
	GenericResponse       = wire.GenericResponse
	NodeGetAllocsArgs     = wire.NodeGetAllocsArgs
	NodeGetAllocsResponse = wire.NodeGetAllocsResponse
	NodeDrainArgs         = wire.NodeDrainArgs
	NodeEligibilityArgs   = wire.NodeEligibilityArgs
	NodeDrainResponse     = wire.NodeDrainResponse
)

// The messages of a client that fetches only the allocations that changed.
type (
	NodeClientAllocsResponse = wire.NodeClientAllocsResponse
	NodeAllocsByIDArgs       = wire.NodeAllocsByIDArgs
)

// heartbeatTTL spreads heartbeats: at least the minimum TTL, longer on big
// clusters so the leader sees at most MaxHeartbeatsPerSecond, plus a
// random stagger so nodes registered together do not beat together.
//
// The nodes counted are those with a heartbeat timer: listing the node
// table instead would make every heartbeat cost as much as the cluster.
func (s *Server) heartbeatTTL() time.Duration {
	live := s.heartbeats.tracked()
	ttl := s.config.MinHeartbeatTTL
	if s.config.MaxHeartbeatsPerSecond > 0 {
		scaled := time.Duration(float64(live) / s.config.MaxHeartbeatsPerSecond * float64(time.Second))
		if scaled > ttl {
			ttl = scaled
		}
	}
	return ttl + time.Duration(rand.Int63n(int64(ttl)+1))
}

// RegisterNode registers or re-registers a client node.
func (s *Server) RegisterNode(node *structs.Node) (*NodeUpdateResponse, error) {
	if node == nil || node.ID == "" {
		return nil, errorf(ErrInvalidRequest, "missing node ID")
	}
	if node.Datacenter == "" {
		return nil, errorf(ErrInvalidRequest, "missing datacenter")
	}
	var fwd NodeUpdateResponse
	if done, err := s.forward("Node.Register", &NodeRegisterArgs{Node: node}, &fwd); done {
		return &fwd, err
	}
	node = node.Copy()
	ts := now()
	snap := s.State().Snapshot()
	existing, err := snap.NodeByID(nil, node.ID)
	if err != nil {
		return nil, err
	}
	if node.Status == "" {
		node.Status = structs.NodeStatusInit
	}
	if node.SchedulingEligibility == "" {
		node.SchedulingEligibility = structs.NodeSchedulingEligible
	}
	if node.NodePool == "" {
		node.NodePool = structs.DefaultNodePool
	}
	node.StatusUpdatedAt = ts.Unix()
	node.Events = nil
	switch {
	case existing == nil:
		node.Events = []*structs.NodeEvent{{Message: structs.NodeEventRegistered, Subsystem: "Cluster", Timestamp: ts}}
	case existing.Status == structs.NodeStatusDown:
		node.Events = []*structs.NodeEvent{{Message: structs.NodeEventReregistered, Subsystem: "Cluster", Timestamp: ts}}
	}
	// A node that registers ready has its jobs evaluated, also when it was
	// ready already: a restarted client re-registers, and its drivers or
	// attributes may have changed since.
	var evals []*structs.Evaluation
	if node.Status == structs.NodeStatusReady {
		if evals, err = s.evalsForNode(snap, node.ID, structs.EvalTriggerNodeUpdate, ts); err != nil {
			return nil, err
		}
	}
	index, err := s.apply(NodeRegisterRequestType, &NodeRegisterRequest{Node: node, Evals: evals})
	if err != nil {
		return nil, err
	}
	ttl := s.heartbeatTTL()
	s.heartbeats.reset(node.ID, ttl)
	return &NodeUpdateResponse{HeartbeatTTL: ttl, Index: index, Leader: s.Leader(), Servers: s.Peers()}, nil
}

// UpdateNodeStatus records a status the client reports (normally
// "ready" after fingerprinting) and acts as a heartbeat.
func (s *Server) UpdateNodeStatus(nodeID, status string) (*NodeUpdateResponse, error) {
	switch status {
	case structs.NodeStatusInit, structs.NodeStatusReady, structs.NodeStatusDown:
	default:
		return nil, errorf(ErrInvalidRequest, "invalid node status %q", status)
	}
	var fwd NodeUpdateResponse
	if done, err := s.forward("Node.UpdateStatus", &NodeStatusArgs{NodeID: nodeID, Status: status}, &fwd); done {
		return &fwd, err
	}
	snap := s.State().Snapshot()
	node, err := snap.NodeByID(nil, nodeID)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, errorf(ErrNotFound, "node not found")
	}
	index := uint64(0)
	if node.Status != status {
		ts := now()
		var event *structs.NodeEvent
		var evals []*structs.Evaluation
		if status == structs.NodeStatusReady {
			if node.Status == structs.NodeStatusDown {
				event = &structs.NodeEvent{Message: "Node reregistered by heartbeat", Subsystem: "Cluster", Timestamp: ts}
			}
			if evals, err = s.evalsForNode(snap, nodeID, structs.EvalTriggerNodeUpdate, ts); err != nil {
				return nil, err
			}
		}
		index, err = s.apply(NodeStatusUpdateRequestType, &NodeStatusUpdateRequest{
			NodeID: nodeID, Status: status, UpdatedAt: ts.Unix(), Event: event, Evals: evals})
		if err != nil {
			return nil, err
		}
	}
	ttl := s.heartbeatTTL()
	if status != structs.NodeStatusDown {
		s.heartbeats.reset(nodeID, ttl)
	}
	return &NodeUpdateResponse{HeartbeatTTL: ttl, Index: index, Leader: s.Leader(), Servers: s.Peers()}, nil
}

// Heartbeat keeps a node alive; a node that was marked down comes back.
func (s *Server) Heartbeat(nodeID string) (*NodeUpdateResponse, error) {
	var fwd NodeUpdateResponse
	if done, err := s.forward("Node.Heartbeat", &NodeHeartbeatArgs{NodeID: nodeID}, &fwd); done {
		return &fwd, err
	}
	node, err := s.State().NodeByID(nil, nodeID)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, errorf(ErrNotFound, "node not found")
	}
	status := node.Status
	if status == structs.NodeStatusDown {
		status = structs.NodeStatusReady
	}
	return s.UpdateNodeStatus(nodeID, status)
}

// UpdateAllocsFromClient records what a client reports about its
// allocations. A failed allocation gets an evaluation, so the scheduler
// can reschedule it.
func (s *Server) UpdateAllocsFromClient(allocs []*structs.Allocation) (uint64, error) {
	if len(allocs) == 0 {
		return 0, nil
	}
	var fwd GenericResponse
	if done, err := s.forward("Node.UpdateAllocs", &NodeAllocsUpdateArgs{Allocs: allocs}, &fwd); done {
		return fwd.Index, err
	}
	ts := now()
	snap := s.State().Snapshot()
	// A node marked down must heartbeat first: until then what it says
	// about its allocations would undo "lost" and the replacements.
	for _, a := range allocs {
		existing, err := snap.AllocByID(nil, a.ID)
		if err != nil || existing == nil {
			continue
		}
		if node, err := snap.NodeByID(nil, existing.NodeID); err == nil && node != nil && node.Status == structs.NodeStatusDown {
			return 0, errorf(ErrInvalidRequest, "node %s is down: its allocation updates are refused until it heartbeats again", node.ID)
		}
	}
	var failedJobs []*structs.Job
	for _, a := range allocs {
		if a.ModifyTime == 0 {
			a.ModifyTime = ts.UnixNano()
		}
		if a.ClientStatus != structs.AllocClientStatusFailed {
			continue
		}
		if existing, err := snap.AllocByID(nil, a.ID); err == nil && existing != nil && existing.Job != nil {
			failedJobs = append(failedJobs, existing.Job)
		}
	}
	// Reports that arrive together share one raft entry (allocBatcher).
	return s.allocUpdates.wait(s.allocUpdates.add(allocs, failedJobs, ts))
}

// GetNodeAllocs returns the allocations of a node once the allocation
// table's index passes minIndex, or when maxWait expires.
func (s *Server) GetNodeAllocs(ctx context.Context, nodeID string, minIndex uint64, maxWait time.Duration) (*NodeGetAllocsResponse, error) {
	resp := &NodeGetAllocsResponse{}
	index, err := s.BlockingQuery(ctx, minIndex, maxWait, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		allocs, err := snap.AllocsOnNode(ws, nodeID)
		if err != nil {
			return 0, err
		}
		resp.Allocs = allocs
		return snap.Index("allocs")
	})
	resp.Index = index
	return resp, err
}

// GetClientAllocs names the allocations of a node, each with its
// AllocModifyIndex, once the allocation table's index passes minIndex, or
// when maxWait expires.
func (s *Server) GetClientAllocs(ctx context.Context, nodeID string, minIndex uint64, maxWait time.Duration) (*NodeClientAllocsResponse, error) {
	resp := &NodeClientAllocsResponse{}
	index, err := s.BlockingQuery(ctx, minIndex, maxWait, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		allocs, err := snap.AllocsOnNode(ws, nodeID)
		if err != nil {
			return 0, err
		}
		resp.Allocs = make(map[string]uint64, len(allocs))
		for _, a := range allocs {
			resp.Allocs[a.ID] = a.AllocModifyIndex
		}
		return snap.Index("allocs")
	})
	resp.Index = index
	return resp, err
}

// GetAllocsByID returns the named allocations of a node, leaving out
// those of other nodes and those that are gone.
func (s *Server) GetAllocsByID(nodeID string, ids []string) (*NodeGetAllocsResponse, error) {
	snap := s.State().Snapshot()
	resp := &NodeGetAllocsResponse{Allocs: make([]*structs.Allocation, 0, len(ids))}
	for _, id := range ids {
		a, err := snap.AllocByID(nil, id)
		if err != nil {
			return nil, err
		}
		if a != nil && a.NodeID == nodeID {
			resp.Allocs = append(resp.Allocs, a)
		}
	}
	var err error
	resp.Index, err = snap.Index("allocs")
	return resp, err
}

// UpdateDrain starts, changes or ends the drain of a node.
func (s *Server) UpdateDrain(nodeID string, spec *structs.DrainSpec, markEligible bool) (*NodeDrainResponse, error) {
	return s.UpdateDrainWith(&NodeDrainArgs{NodeID: nodeID, DrainSpec: spec, MarkEligible: markEligible})
}

// UpdateDrainWith is UpdateDrain with the whole request, token included.
func (s *Server) UpdateDrainWith(args *NodeDrainArgs) (*NodeDrainResponse, error) {
	nodeID, spec, markEligible := args.NodeID, args.DrainSpec, args.MarkEligible
	var fwd NodeDrainResponse
	if done, err := s.forward("Node.UpdateDrain", args, &fwd); done {
		return &fwd, err
	}
	node, err := s.State().NodeByID(nil, nodeID)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, errorf(ErrNotFound, "node not found")
	}
	ts := now()
	req := &NodeDrainUpdateRequest{NodeID: nodeID, MarkEligible: markEligible, UpdatedAt: ts.Unix()}
	if spec != nil {
		d := &structs.DrainStrategy{DrainSpec: *spec, StartedAt: ts}
		if spec.Deadline > 0 {
			d.ForceDeadline = ts.Add(spec.Deadline)
		} else if spec.Deadline < 0 {
			d.ForceDeadline = ts // a negative deadline forces the drain at once
		}
		if node.DrainStrategy != nil {
			d.StartedAt = node.DrainStrategy.StartedAt
		}
		req.Drain = d
		msg := structs.NodeEventDrainSet
		if node.DrainStrategy != nil {
			msg = structs.NodeEventDrainUpdated
		}
		req.Event = &structs.NodeEvent{Message: msg, Subsystem: "Drain", Timestamp: ts}
	} else {
		req.Event = &structs.NodeEvent{Message: structs.NodeEventDrainDisabled, Subsystem: "Drain", Timestamp: ts}
	}
	index, err := s.apply(NodeDrainUpdateRequestType, req)
	if err != nil {
		return nil, err
	}
	return &NodeDrainResponse{NodeModifyIndex: index, Index: index}, nil
}

// UpdateEligibility marks a node eligible or ineligible for new work.
func (s *Server) UpdateEligibility(nodeID, eligibility string) (*NodeDrainResponse, error) {
	return s.UpdateEligibilityWith(&NodeEligibilityArgs{NodeID: nodeID, Eligibility: eligibility})
}

// UpdateEligibilityWith is UpdateEligibility with the whole request,
// token included.
func (s *Server) UpdateEligibilityWith(args *NodeEligibilityArgs) (*NodeDrainResponse, error) {
	nodeID, eligibility := args.NodeID, args.Eligibility
	switch eligibility {
	case structs.NodeSchedulingEligible, structs.NodeSchedulingIneligible:
	default:
		return nil, errorf(ErrInvalidRequest, "invalid scheduling eligibility %q", eligibility)
	}
	var fwd NodeDrainResponse
	if done, err := s.forward("Node.UpdateEligibility", args, &fwd); done {
		return &fwd, err
	}
	node, err := s.State().NodeByID(nil, nodeID)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, errorf(ErrNotFound, "node not found")
	}
	if node.DrainStrategy != nil && eligibility == structs.NodeSchedulingEligible {
		return nil, errorf(ErrInvalidRequest, "can not set node's scheduling eligibility to eligible while it is draining")
	}
	ts := now()
	msg := structs.NodeEventIneligible
	if eligibility == structs.NodeSchedulingEligible {
		msg = structs.NodeEventEligible
	}
	index, err := s.apply(NodeEligibilityUpdateRequestType, &NodeEligibilityUpdateRequest{
		NodeID: nodeID, Eligibility: eligibility, UpdatedAt: ts.Unix(),
		Event: &structs.NodeEvent{Message: msg, Subsystem: "Cluster", Timestamp: ts}})
	if err != nil {
		return nil, err
	}
	return &NodeDrainResponse{NodeModifyIndex: index, Index: index}, nil
}

// nodeEndpoint exposes the node-facing methods over RPC ("Node.Register",
// ...). Its methods follow net/rpc's shape.
type nodeEndpoint struct {
	srv *Server
}

// authorize admits a node's own RPC: its SecretID must match the one the
// node registered with. On a follower the request goes to the leader
// as it came, secret included, and the leader decides (done is true and
// reply filled). A refusal is logged, with the node, for the operator.
func (e *nodeEndpoint) authorize(method, nodeID, secretID string, args, reply interface{}) (done bool, err error) {
	if done, err := e.srv.forward(method, args, reply); done {
		return true, wireError(err)
	}
	return false, e.srv.checkSecret(method, nodeID, secretID)
}

// checkSecret compares a node's secret with the stored one. A node not
// registered yet has nothing to compare with; its requests then fail on
// their own ("node not found").
func (s *Server) checkSecret(method, nodeID, secretID string) error {
	node, err := s.State().NodeByID(nil, nodeID)
	if err != nil || node == nil || node.SecretID == "" {
		return nil
	}
	if node.SecretID != secretID {
		s.logger.Printf("[WARN] server: %s for node %s refused: wrong or missing node secret", method, nodeID)
		return wireError(errorf(ErrPermissionDenied, "Permission denied"))
	}
	return nil
}

func (e *nodeEndpoint) Register(args *NodeRegisterArgs, reply *NodeUpdateResponse) error {
	if args.Node == nil {
		return wireError(errorf(ErrInvalidRequest, "missing node"))
	}
	if args.Node.SecretID == "" {
		return wireError(errorf(ErrInvalidRequest, "missing node secret ID"))
	}
	// Re-registering a known node takes its secret: a node ID alone must
	// not let anyone take a node over.
	if done, err := e.authorize("Node.Register", args.Node.ID, args.Node.SecretID, args, reply); done || err != nil {
		return err
	}
	r, err := e.srv.RegisterNode(args.Node)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *nodeEndpoint) UpdateStatus(args *NodeStatusArgs, reply *NodeUpdateResponse) error {
	if done, err := e.authorize("Node.UpdateStatus", args.NodeID, args.SecretID, args, reply); done || err != nil {
		return err
	}
	r, err := e.srv.UpdateNodeStatus(args.NodeID, args.Status)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *nodeEndpoint) Heartbeat(args *NodeHeartbeatArgs, reply *NodeUpdateResponse) error {
	if done, err := e.authorize("Node.Heartbeat", args.NodeID, args.SecretID, args, reply); done || err != nil {
		return err
	}
	r, err := e.srv.Heartbeat(args.NodeID)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *nodeEndpoint) UpdateAllocs(args *NodeAllocsUpdateArgs, reply *GenericResponse) error {
	if done, err := e.authorize("Node.UpdateAllocs", args.NodeID, args.SecretID, args, reply); done || err != nil {
		return err
	}
	// A node speaks only for its own allocations.
	for _, a := range args.Allocs {
		if existing, err := e.srv.State().AllocByID(nil, a.ID); err == nil && existing != nil && existing.NodeID != args.NodeID {
			e.srv.logger.Printf("[WARN] server: Node.UpdateAllocs from node %s refused: allocation %s runs on node %s",
				args.NodeID, a.ID, existing.NodeID)
			return wireError(errorf(ErrPermissionDenied, "Permission denied"))
		}
	}
	index, err := e.srv.UpdateAllocsFromClient(args.Allocs)
	reply.Index = index
	return wireError(err)
}

func (e *nodeEndpoint) GetAllocs(args *NodeGetAllocsArgs, reply *NodeGetAllocsResponse) error {
	// A read, answered locally like any stale read: the secret is checked
	// against this server's state.
	if err := e.srv.checkSecret("Node.GetAllocs", args.NodeID, args.SecretID); err != nil {
		return err
	}
	r, err := e.srv.GetNodeAllocs(e.srv.shutdownCtx, args.NodeID, args.MinIndex, args.MaxWait)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

// GetClientAllocs is GetAllocs naming the allocations only, with the
// index of the server's last change to each; a client then fetches the
// ones it does not have in that version with GetAllocsByID.
func (e *nodeEndpoint) GetClientAllocs(args *NodeGetAllocsArgs, reply *NodeClientAllocsResponse) error {
	if err := e.srv.checkSecret("Node.GetClientAllocs", args.NodeID, args.SecretID); err != nil {
		return err
	}
	r, err := e.srv.GetClientAllocs(e.srv.shutdownCtx, args.NodeID, args.MinIndex, args.MaxWait)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

// GetAllocsByID returns the node's allocations among those named.
func (e *nodeEndpoint) GetAllocsByID(args *NodeAllocsByIDArgs, reply *NodeGetAllocsResponse) error {
	if err := e.srv.checkSecret("Node.GetAllocsByID", args.NodeID, args.SecretID); err != nil {
		return err
	}
	r, err := e.srv.GetAllocsByID(args.NodeID, args.AllocIDs)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *nodeEndpoint) UpdateDrain(args *NodeDrainArgs, reply *NodeDrainResponse) error {
	if err := e.srv.authorizeNodeWrite(args.AuthToken); err != nil {
		return wireError(err)
	}
	r, err := e.srv.UpdateDrainWith(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *nodeEndpoint) UpdateEligibility(args *NodeEligibilityArgs, reply *NodeDrainResponse) error {
	if err := e.srv.authorizeNodeWrite(args.AuthToken); err != nil {
		return wireError(err)
	}
	r, err := e.srv.UpdateEligibilityWith(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

// statusEndpoint answers agents' questions about the server ("Status.*").
type statusEndpoint struct {
	srv *Server
}

// HTTPAddr returns the server's HTTP API address, so a client-only agent
// can forward API requests to it.
func (e *statusEndpoint) HTTPAddr(_ *struct{}, reply *string) error {
	*reply = e.srv.config.HTTPAddr
	return nil
}

// Peers returns the RPC addresses of raft's servers.
func (e *statusEndpoint) Peers(_ *struct{}, reply *[]string) error {
	*reply = e.srv.Peers()
	return nil
}

// Leader returns the leader's RPC address, "" when none is known.
func (e *statusEndpoint) Leader(_ *struct{}, reply *string) error {
	*reply = e.srv.Leader()
	return nil
}

// AppliedIndex is the newest index in the leader's state: a follower whose
// state has reached it answers a read as the leader would.
func (e *statusEndpoint) AppliedIndex(_ *struct{}, reply *uint64) error {
	if !e.srv.IsLeader() || !e.srv.leaderReady() {
		return wireError(ErrNotLeader)
	}
	*reply = e.srv.stateIndex()
	return nil
}
