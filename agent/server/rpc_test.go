package server

import (
	"context"
	"errors"
	"testing"
	"time"

	droverrpc "drover/agent/rpc"
	"drover/agent/structs"
)

// TestNodeRPC drives the node-facing endpoints over real msgpack RPC, as
// a client does: register, report ready, receive allocations with a
// blocking query, report them running, heartbeat, drain.
func TestNodeRPC(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	pool := droverrpc.NewPool(time.Second)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := s.RPCAddr()

	node := testNode("client-one", 4000, 8192)
	node.Status = structs.NodeStatusInit
	node.SecretID = structs.GenerateUUID()
	secret := node.SecretID
	var reg NodeUpdateResponse
	if err := pool.Call(ctx, addr, "Node.Register", &NodeRegisterArgs{Node: node}, &reg); err != nil {
		t.Fatal(err)
	}
	if reg.HeartbeatTTL < s.config.MinHeartbeatTTL || reg.Leader == "" {
		t.Fatalf("register reply: %+v", reg)
	}
	var up NodeUpdateResponse
	if err := pool.Call(ctx, addr, "Node.UpdateStatus", &NodeStatusArgs{NodeID: node.ID, SecretID: secret, Status: structs.NodeStatusReady}, &up); err != nil {
		t.Fatal(err)
	}
	stored, _ := s.State().NodeByID(nil, node.ID)
	if stored.Status != structs.NodeStatusReady || stored.Events[0].Message != structs.NodeEventRegistered {
		t.Fatalf("node after ready: %s %+v", stored.Status, stored.Events)
	}

	// A blocking GetAllocs returns once the job is placed.
	got := make(chan *NodeGetAllocsResponse, 1)
	go func() {
		var r NodeGetAllocsResponse
		idx, _ := s.State().Index("allocs")
		if err := pool.Call(ctx, addr, "Node.GetAllocs", &NodeGetAllocsArgs{NodeID: node.ID, SecretID: secret, MinIndex: idx, MaxWait: 10 * time.Second}, &r); err != nil {
			t.Error(err)
		}
		got <- &r
	}()
	if _, err := s.RegisterJob(parseJob(t, "seed004.nomad"), false, 0); err != nil {
		t.Fatal(err)
	}
	var allocs *NodeGetAllocsResponse
	select {
	case allocs = <-got:
	case <-ctx.Done():
		t.Fatal("GetAllocs did not return")
	}
	if len(allocs.Allocs) != 1 || allocs.Allocs[0].Job == nil || allocs.Allocs[0].Job.TaskGroups[0].Tasks[0].Config["image"] != "redis:3.2" {
		t.Fatalf("allocations over RPC: %+v", allocs.Allocs)
	}
	alloc := allocs.Allocs[0]
	if ports := alloc.AllocatedResources.Shared.Ports; len(ports) != 1 || ports[0].To != 6379 {
		t.Fatalf("ports over RPC: %+v", ports)
	}

	// The same allocation named with the index of its last change, then
	// fetched by ID, as a client follows its allocations.
	var list NodeClientAllocsResponse
	if err := pool.Call(ctx, addr, "Node.GetClientAllocs", &NodeGetAllocsArgs{NodeID: node.ID, SecretID: secret}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Allocs) != 1 || list.Allocs[alloc.ID] != alloc.AllocModifyIndex || list.Index < alloc.AllocModifyIndex {
		t.Fatalf("GetClientAllocs: %+v, want %s at %d", list, alloc.ID, alloc.AllocModifyIndex)
	}
	var byID NodeGetAllocsResponse
	if err := pool.Call(ctx, addr, "Node.GetAllocsByID", &NodeAllocsByIDArgs{NodeID: node.ID, SecretID: secret,
		AllocIDs: []string{alloc.ID, "unknown"}}, &byID); err != nil {
		t.Fatal(err)
	}
	if len(byID.Allocs) != 1 || byID.Allocs[0].ID != alloc.ID || byID.Allocs[0].Job == nil {
		t.Fatalf("GetAllocsByID: %+v", byID.Allocs)
	}

	yes := true
	var gen GenericResponse
	update := &structs.Allocation{ID: alloc.ID, ClientStatus: structs.AllocClientStatusRunning,
		DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes, Timestamp: time.Now()},
		TaskStates: map[string]*structs.TaskState{"redis": {State: structs.TaskStateRunning, StartedAt: time.Now().UTC(),
			Events: []*structs.TaskEvent{{Type: "Started", Time: time.Now().UnixNano(), DisplayMessage: "Task started by client"}}}}}
	if err := pool.Call(ctx, addr, "Node.UpdateAllocs", &NodeAllocsUpdateArgs{NodeID: node.ID, SecretID: secret, Allocs: []*structs.Allocation{update}}, &gen); err != nil {
		t.Fatal(err)
	}
	after, _ := s.State().AllocByID(nil, alloc.ID)
	if after.ClientStatus != structs.AllocClientStatusRunning || !after.DeploymentStatus.IsHealthy() ||
		after.TaskStates["redis"].Events[0].DisplayMessage != "Task started by client" {
		t.Fatalf("alloc after client update: %+v", after)
	}

	var hb NodeUpdateResponse
	if err := pool.Call(ctx, addr, "Node.Heartbeat", &NodeHeartbeatArgs{NodeID: node.ID, SecretID: secret}, &hb); err != nil {
		t.Fatal(err)
	}
	var drain NodeDrainResponse
	if err := pool.Call(ctx, addr, "Node.UpdateDrain", &NodeDrainArgs{NodeID: node.ID, DrainSpec: &structs.DrainSpec{Deadline: time.Hour}}, &drain); err != nil {
		t.Fatal(err)
	}
	// The drainer may already have finished (the only allocation has
	// nowhere to go, so it just stops): check what the drain left behind.
	stored, _ = s.State().NodeByID(nil, node.ID)
	drainSet := false
	for _, e := range stored.Events {
		drainSet = drainSet || e.Message == structs.NodeEventDrainSet
	}
	if !drainSet || stored.SchedulingEligibility != structs.NodeSchedulingIneligible {
		t.Fatalf("node after drain: events %+v eligibility=%s", stored.Events, stored.SchedulingEligibility)
	}
	// A remote error keeps its text and its kind.
	err := pool.Call(ctx, addr, "Node.Heartbeat", &NodeHeartbeatArgs{NodeID: "nope"}, &hb)
	if err == nil || !droverrpc.IsServerError(err) {
		t.Fatalf("error for an unknown node: %v", err)
	}
	if remote := RemoteError(err); remote.Error() != "node not found" || !errors.Is(remote, ErrNotFound) {
		t.Fatalf("remote error %q: want \"node not found\" of kind ErrNotFound", remote)
	}

	// Without the node's secret, or with another, every node RPC is
	// refused: a node ID alone reaches nothing.
	for name, call := range map[string]func(secret string) error{
		"Node.Heartbeat": func(sec string) error {
			return pool.Call(ctx, addr, "Node.Heartbeat", &NodeHeartbeatArgs{NodeID: node.ID, SecretID: sec}, &hb)
		},
		"Node.GetAllocs": func(sec string) error {
			var r NodeGetAllocsResponse
			return pool.Call(ctx, addr, "Node.GetAllocs", &NodeGetAllocsArgs{NodeID: node.ID, SecretID: sec}, &r)
		},
		"Node.GetClientAllocs": func(sec string) error {
			var r NodeClientAllocsResponse
			return pool.Call(ctx, addr, "Node.GetClientAllocs", &NodeGetAllocsArgs{NodeID: node.ID, SecretID: sec}, &r)
		},
		"Node.GetAllocsByID": func(sec string) error {
			var r NodeGetAllocsResponse
			return pool.Call(ctx, addr, "Node.GetAllocsByID", &NodeAllocsByIDArgs{NodeID: node.ID, SecretID: sec, AllocIDs: []string{alloc.ID}}, &r)
		},
		"Node.UpdateStatus": func(sec string) error {
			var r NodeUpdateResponse
			return pool.Call(ctx, addr, "Node.UpdateStatus", &NodeStatusArgs{NodeID: node.ID, SecretID: sec, Status: structs.NodeStatusReady}, &r)
		},
		"Node.Register": func(sec string) error {
			c := node.Copy()
			c.SecretID = sec
			var r NodeUpdateResponse
			return pool.Call(ctx, addr, "Node.Register", &NodeRegisterArgs{Node: c}, &r)
		},
		"Node.UpdateAllocs": func(sec string) error {
			var r GenericResponse
			return pool.Call(ctx, addr, "Node.UpdateAllocs", &NodeAllocsUpdateArgs{NodeID: node.ID, SecretID: sec,
				Allocs: []*structs.Allocation{{ID: update.ID, ClientStatus: structs.AllocClientStatusFailed}}}, &r)
		},
	} {
		for _, sec := range []string{"", "not-the-secret"} {
			err := RemoteError(call(sec))
			if name == "Node.Register" && sec == "" {
				if !errors.Is(err, ErrInvalidRequest) || err.Error() != "missing node secret ID" {
					t.Errorf("Node.Register without a secret: %v", err)
				}
				continue
			}
			if err == nil || !errors.Is(err, ErrPermissionDenied) {
				t.Errorf("%s with secret %q: %v, want Permission denied", name, sec, err)
			}
		}
	}
	// Another node cannot report this node's allocations.
	other := testNode("client-two", 4000, 8192)
	other.SecretID = structs.GenerateUUID()
	if _, err := s.RegisterNode(other); err != nil {
		t.Fatal(err)
	}
	var r GenericResponse
	err = pool.Call(ctx, addr, "Node.UpdateAllocs", &NodeAllocsUpdateArgs{NodeID: other.ID, SecretID: other.SecretID,
		Allocs: []*structs.Allocation{{ID: update.ID, ClientStatus: structs.AllocClientStatusFailed}}}, &r)
	if !errors.Is(RemoteError(err), ErrPermissionDenied) {
		t.Errorf("client-two reporting client-one's allocation: %v", err)
	}
	// Nor read them by ID.
	var theirs NodeGetAllocsResponse
	if err := pool.Call(ctx, addr, "Node.GetAllocsByID", &NodeAllocsByIDArgs{NodeID: other.ID, SecretID: other.SecretID,
		AllocIDs: []string{alloc.ID}}, &theirs); err != nil || len(theirs.Allocs) != 0 {
		t.Errorf("client-two reading client-one's allocation: %v %+v", err, theirs.Allocs)
	}
}
