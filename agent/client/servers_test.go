package client

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/rpc"
	"sync/atomic"
	"testing"
	"time"

	"drover/agent/drivers"
	"drover/agent/drivers/mock"
	droverrpc "drover/agent/rpc"
	"drover/agent/server"
)

// fakeNode answers Node.Heartbeat with a fixed error (or success) and
// counts the calls.
type fakeNode struct {
	err   string
	calls int32
}

func (f *fakeNode) Heartbeat(args *server.NodeHeartbeatArgs, reply *server.NodeUpdateResponse) error {
	atomic.AddInt32(&f.calls, 1)
	if f.err != "" {
		return errors.New(f.err)
	}
	reply.HeartbeatTTL = time.Second
	return nil
}

func fakeServer(t *testing.T, f *fakeNode) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := droverrpc.NewMux(l, log.New(io.Discard, "", 0))
	srv := rpc.NewServer()
	if err := srv.RegisterName("Node", f); err != nil {
		t.Fatal(err)
	}
	mux.ServeRPC(srv)
	go mux.Serve()
	t.Cleanup(func() { mux.Close() })
	return l.Addr().String()
}

// A dead server and one without a leader are skipped; the one that
// answers is tried first from then on. A real error ends the call with
// its kind restored, without trying further servers.
func TestCallServersFailsOver(t *testing.T) {
	dead := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		return addr
	}()
	noLeader := &fakeNode{err: "[No cluster leader] No cluster leader"}
	good := &fakeNode{}
	c := &Client{pool: droverrpc.NewPool(time.Second)}
	defer c.pool.Close()
	c.servers = newServerList([]string{dead, fakeServer(t, noLeader)})
	goodAddr := fakeServer(t, good)
	c.servers.learn([]string{goodAddr, dead})
	if got := len(c.servers.all()); got != 3 {
		t.Fatalf("learn kept duplicates or lost servers: %v", c.servers.all())
	}

	ctx := context.Background()
	var reply server.NodeUpdateResponse
	if err := c.callServers(ctx, "Node.Heartbeat", &server.NodeHeartbeatArgs{NodeID: "n"}, &reply); err != nil {
		t.Fatalf("call: %v", err)
	}
	if reply.HeartbeatTTL != time.Second || atomic.LoadInt32(&noLeader.calls) != 1 || atomic.LoadInt32(&good.calls) != 1 {
		t.Fatalf("reply %+v, calls: no-leader %d, good %d", reply, noLeader.calls, good.calls)
	}
	if first := c.servers.all()[0]; first != goodAddr {
		t.Fatalf("the server that answered is not tried first: %v", c.servers.all())
	}
	if err := c.callServers(ctx, "Node.Heartbeat", &server.NodeHeartbeatArgs{NodeID: "n"}, &reply); err != nil ||
		atomic.LoadInt32(&noLeader.calls) != 1 {
		t.Fatalf("second call: %v, no-leader server called %d times", err, noLeader.calls)
	}

	// A real answer (here: unknown node) is final and keeps its kind.
	good.err = "[not found] node not found"
	err := c.callServers(ctx, "Node.Heartbeat", &server.NodeHeartbeatArgs{NodeID: "n"}, &reply)
	if !errors.Is(err, server.ErrNotFound) || err.Error() != "node not found" || atomic.LoadInt32(&noLeader.calls) != 1 {
		t.Fatalf("error %v (kind not found: %v), no-leader calls %d", err, errors.Is(err, server.ErrNotFound), noLeader.calls)
	}
	// Nothing answers: an error naming every failure.
	good.err, noLeader.err = "[No cluster leader] No cluster leader", "[not the leader] not the leader"
	err = c.callServers(ctx, "Node.Heartbeat", &server.NodeHeartbeatArgs{NodeID: "n"}, &reply)
	if !errors.Is(err, droverrpc.ErrNoServers) {
		t.Fatalf("no server answered: %v", err)
	}
}

// The client's reserved resources, reserved_ports included, reach the
// node the servers schedule on.
func TestReservedResourcesReachTheNode(t *testing.T) {
	srv := testServer(t)
	dir := t.TempDir()
	c, err := New(&Config{
		NodeName: "reserving", Datacenter: "dc1", Servers: []string{srv.RPCAddr()},
		StateDir: dir + "/client", AllocDir: dir + "/alloc", CPUTotalCompute: 4000, MemoryTotalMB: 4096,
		ReservedCPU: 500, ReservedMemoryMB: 256, ReservedDiskMB: 1024, ReservedPorts: "22,8000-8100",
		Version: "test", Logger: log.New(io.Discard, "", 0),
	}, drivers.NewRegistry(mock.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	waitFor(t, 10*time.Second, "the node registered", func() (bool, string) {
		n, _ := srv.State().NodeByID(nil, c.NodeID())
		return n != nil, ""
	})
	n, _ := srv.State().NodeByID(nil, c.NodeID())
	r := n.ReservedResources
	if r == nil || r.Cpu.CpuShares != 500 || r.Memory.MemoryMB != 256 || r.Disk.DiskMB != 1024 ||
		r.Networks.ReservedHostPorts != "22,8000-8100" || !n.ReservedHostPorts()[8050] {
		t.Fatalf("reserved resources on the server: %+v", r)
	}
}
