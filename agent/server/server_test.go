package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"drover/agent/jobspec"
	"drover/agent/structs"
)

// testServer starts an in-memory (or on-disk, with dataDir) server with
// short timers and waits for it to lead.
func testServer(t *testing.T, dataDir string) *Server {
	t.Helper()
	return testServerAt(t, dataDir, "127.0.0.1:0")
}

// freeAddr finds a loopback address to restart a server on: raft knows a
// server by its address, so a restarted server must keep it.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func testServerAt(t *testing.T, dataDir, addr string) *Server {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeName = "test"
	cfg.DataDir = dataDir
	cfg.RPCAddr = addr
	cfg.NumSchedulers = 2
	cfg.MinHeartbeatTTL = 300 * time.Millisecond
	cfg.HeartbeatGrace = 200 * time.Millisecond
	cfg.EvalNackTimeout = 5 * time.Second
	cfg.Logger = log.New(testWriter{t}, "", 0)
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitForLeader(ctx); err != nil {
		t.Fatalf("no leader: %v", err)
	}
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
}

func testNode(name string, cpu, mem int64) *structs.Node {
	return &structs.Node{
		ID: structs.GenerateUUID(), Name: name, Datacenter: "dc1", Status: structs.NodeStatusReady,
		Attributes: map[string]string{"unique.network.ip-address": "127.0.0.1", "kernel.name": "linux"},
		NodeResources: &structs.NodeResources{
			Cpu: structs.NodeCpuResources{CpuShares: cpu}, Memory: structs.NodeMemoryResources{MemoryMB: mem},
			Disk: structs.NodeDiskResources{DiskMB: 100000}, MinDynamicPort: 20000, MaxDynamicPort: 32000,
		},
		Drivers: map[string]*structs.DriverInfo{"docker": {Detected: true, Healthy: true}, "mock": {Detected: true, Healthy: true}},
	}
}

func parseJob(t *testing.T, file string, edits ...string) *structs.Job {
	t.Helper()
	src, err := os.ReadFile("../jobspec/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	job, err := jobspec.Parse(file, []byte(text), jobspec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// fakeClient plays the client side of some nodes: it heartbeats and
// reports every allocation placed on them as running and healthy, until
// stopped.
type fakeClient struct {
	srv    *Server
	nodes  map[string]bool
	manual map[string]bool
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func startFakeClient(t *testing.T, srv *Server, nodes ...*structs.Node) *fakeClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &fakeClient{srv: srv, nodes: map[string]bool{}, manual: map[string]bool{}, cancel: cancel, done: make(chan struct{})}
	for _, n := range nodes {
		if _, err := srv.RegisterNode(n); err != nil {
			t.Fatal(err)
		}
		c.nodes[n.ID] = true
	}
	go c.loop(ctx)
	t.Cleanup(c.stop)
	return c
}

func (c *fakeClient) stop() {
	c.cancel()
	<-c.done
}

// silence stops heartbeating for one node, as if its client died.
func (c *fakeClient) silence(nodeID string) {
	c.mu.Lock()
	delete(c.nodes, nodeID)
	c.mu.Unlock()
}

func (c *fakeClient) loop(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		var ids []string
		for id := range c.nodes {
			ids = append(ids, id)
		}
		manual := map[string]bool{}
		for id := range c.manual {
			manual[id] = true
		}
		c.mu.Unlock()
		for _, id := range ids {
			c.srv.Heartbeat(id)
			allocs, err := c.srv.State().AllocsByNode(nil, id)
			if err != nil {
				continue
			}
			var updates []*structs.Allocation
			for _, a := range allocs {
				switch {
				case manual[id]:
					// Heartbeats only: the test reports this node's allocations itself.
				case a.DesiredStatus != structs.AllocDesiredStatusRun && !a.ClientTerminalStatus():
					updates = append(updates, &structs.Allocation{ID: a.ID, ClientStatus: structs.AllocClientStatusComplete})
				case a.DesiredStatus == structs.AllocDesiredStatusRun && (a.ClientStatus == structs.AllocClientStatusPending ||
					(a.DeploymentID != "" && a.DeploymentStatus == nil)):
					yes := true
					updates = append(updates, &structs.Allocation{ID: a.ID, ClientStatus: structs.AllocClientStatusRunning,
						DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes, Timestamp: time.Now()}})
				}
			}
			if len(updates) > 0 {
				c.srv.UpdateAllocsFromClient(updates)
			}
		}
	}
}

func liveAllocs(t *testing.T, s *Server, job *structs.Job) []*structs.Allocation {
	t.Helper()
	allocs, err := s.State().AllocsByJob(nil, job.Namespace, job.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	var out []*structs.Allocation
	for _, a := range allocs {
		if !a.TerminalStatus() {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func evalDone(t *testing.T, s *Server, id string) func() (bool, string) {
	return func() (bool, string) {
		e, err := s.State().EvalByID(nil, id)
		if err != nil || e == nil {
			return false, fmt.Sprintf("eval %s not found (%v)", id, err)
		}
		return e.Status == structs.EvalStatusComplete, "eval status " + e.Status
	}
}

// TestServer_RollingUpdateEndToEnd drives the first tutorial through the
// real server: raft, broker, workers, plan applier and deployment watcher.
func TestServer_RollingUpdateEndToEnd(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("nomad", 4000, 8192))

	job := parseJob(t, "seed003.nomad", "min_healthy_time = \"10s\"", "min_healthy_time = \"0s\"",
		"healthy_deadline = \"3m\"", "healthy_deadline = \"1m\"")
	resp, err := s.RegisterJob(job, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "first eval", evalDone(t, s, resp.EvalID))

	scaled := parseJob(t, "seed003.nomad", "count = 1", "count = 3")
	if _, err := s.RegisterJob(scaled, true, resp.JobModifyIndex+1); err == nil ||
		!strings.Contains(err.Error(), "Enforcing job modify index") {
		t.Fatalf("a wrong check index must be refused, got %v", err)
	}
	plan, err := s.PlanJob(scaled, true)
	if err != nil {
		t.Fatal(err)
	}
	if u := plan.Annotations.DesiredTGUpdates["cache"]; u.Place != 2 || u.InPlaceUpdate != 1 {
		t.Fatalf("plan: %+v", u)
	}
	if got := structs.FormatJobDiff(plan.Diff, false); !strings.Contains(got, "(2 create, 1 in-place update)") ||
		!strings.Contains(got, `Count: "1" => "3" (forces create)`) {
		t.Fatalf("plan diff:\n%s", got)
	}
	if _, err := s.RegisterJob(scaled, true, plan.JobModifyIndex); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "3 allocations of version 1", func() (bool, string) {
		live := liveAllocs(t, s, job)
		return len(live) == 3, fmt.Sprintf("%d live", len(live))
	})

	updated := parseJob(t, "seed003.nomad", "count = 1", "count = 3", "redis:3.2", "redis:4.0")
	plan, err = s.PlanJob(updated, true)
	if err != nil {
		t.Fatal(err)
	}
	if u := plan.Annotations.DesiredTGUpdates["cache"]; u.DestructiveUpdate != 1 || u.Ignore != 2 {
		t.Fatalf("plan: %+v", u)
	}
	if _, err := s.RegisterJob(updated, true, plan.JobModifyIndex); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "three allocations of version 2 and a successful deployment", func() (bool, string) {
		live := liveAllocs(t, s, job)
		v2 := 0
		for _, a := range live {
			if a.Job.Version == 2 {
				v2++
			}
		}
		d, _ := s.State().LatestDeploymentByJobID(nil, job.Namespace, job.ID)
		status := ""
		if d != nil {
			status = d.Status
		}
		return len(live) == 3 && v2 == 3 && status == structs.DeploymentStatusSuccessful,
			fmt.Sprintf("%d live, %d at version 2, deployment %s", len(live), v2, status)
	})

	stop, err := s.DeregisterJob(job.Namespace, job.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "stop", evalDone(t, s, stop.EvalID))
	waitFor(t, 10*time.Second, "dead (stopped)", func() (bool, string) {
		j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
		return j.Status == structs.JobStatusDead && j.Stop, "status " + j.Status
	})
	waitFor(t, 10*time.Second, "every allocation complete in the summary", func() (bool, string) {
		all, _ := s.State().AllocsByJob(nil, job.Namespace, job.ID, true)
		summary, _ := s.State().JobSummaryByID(nil, job.Namespace, job.ID)
		return summary.Summary["cache"].Complete == len(all), fmt.Sprintf("%+v of %d", summary.Summary["cache"], len(all))
	})
}

// TestServer_NodeDownReplacesAllocs: a client that stops heartbeating is
// marked down and its allocations are replaced on another node.
func TestServer_NodeDownReplacesAllocs(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a := testNode("client-one", 4000, 8192)
	client := startFakeClient(t, s, a)
	job := parseJob(t, "seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 2")
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "placement", evalDone(t, s, resp.EvalID))
	b := testNode("client-two", 4000, 8192)
	if _, err := s.RegisterNode(b); err != nil {
		t.Fatal(err)
	}
	client.mu.Lock()
	client.nodes[b.ID] = true
	client.mu.Unlock()
	client.silence(a.ID)

	waitFor(t, 10*time.Second, "node down and allocations replaced", func() (bool, string) {
		n, _ := s.State().NodeByID(nil, a.ID)
		live := liveAllocs(t, s, job)
		onB := 0
		for _, alloc := range live {
			if alloc.NodeID == b.ID {
				onB++
			}
		}
		return n.Status == structs.NodeStatusDown && onB == 2, fmt.Sprintf("node %s, %d of %d on b", n.Status, onB, len(live))
	})
	n, _ := s.State().NodeByID(nil, a.ID)
	if last := n.Events[len(n.Events)-1]; last.Message != structs.NodeEventHeartbeatMissed {
		t.Errorf("last node event %q", last.Message)
	}
	all, _ := s.State().AllocsByNode(nil, a.ID)
	for _, alloc := range all {
		if alloc.ClientStatus != structs.AllocClientStatusLost {
			t.Errorf("%s on the down node is %q, want lost", alloc.Name, alloc.ClientStatus)
		}
	}
}

// TestServer_DrainMigratesOneAtATime: draining a node with three
// allocations of a job with migrate { max_parallel = 1 } hands them over
// one by one, each replacement healthy before the next leaves.
func TestServer_DrainMigratesOneAtATime(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a := testNode("client-one", 4000, 8192)
	client := startFakeClient(t, s, a)
	job := parseJob(t, "seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 3\n    migrate { max_parallel = 1 }")
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "placement", evalDone(t, s, resp.EvalID))
	waitFor(t, 10*time.Second, "3 running", func() (bool, string) {
		n := 0
		for _, alloc := range liveAllocs(t, s, job) {
			if alloc.ClientStatus == structs.AllocClientStatusRunning {
				n++
			}
		}
		return n == 3, fmt.Sprintf("%d running", n)
	})

	// The second client is slow: its allocations become healthy only
	// when the test says so, which lets it watch the drain's pace.
	b := testNode("client-two", 4000, 8192)
	if _, err := s.RegisterNode(b); err != nil {
		t.Fatal(err)
	}
	client.mu.Lock()
	client.nodes[b.ID], client.manual[b.ID] = true, true
	client.mu.Unlock()
	if _, err := s.UpdateDrain(a.ID, &structs.DrainSpec{Deadline: time.Hour}, false); err != nil {
		t.Fatal(err)
	}
	for moved := 1; moved <= 3; moved++ {
		waitFor(t, 10*time.Second, fmt.Sprintf("replacement %d on client-two", moved), func() (bool, string) {
			onB := 0
			for _, alloc := range liveAllocs(t, s, job) {
				if alloc.NodeID == b.ID {
					onB++
				}
			}
			return onB == moved, fmt.Sprintf("%d on b", onB)
		})
		// Nothing more moves while the replacement is not healthy.
		time.Sleep(300 * time.Millisecond)
		onB := 0
		for _, alloc := range liveAllocs(t, s, job) {
			if alloc.NodeID == b.ID {
				onB++
				if alloc.ClientStatus == structs.AllocClientStatusPending {
					yes := true
					s.UpdateAllocsFromClient([]*structs.Allocation{{ID: alloc.ID, ClientStatus: structs.AllocClientStatusRunning,
						DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes, Timestamp: time.Now()}}})
				}
			}
		}
		if onB != moved {
			t.Fatalf("%d allocations moved before the replacement was healthy, want %d", onB, moved)
		}
	}
	waitFor(t, 10*time.Second, "drain complete", func() (bool, string) {
		n, _ := s.State().NodeByID(nil, a.ID)
		return !n.Drain && n.DrainStrategy == nil, fmt.Sprintf("drain %v", n.Drain)
	})
	n, _ := s.State().NodeByID(nil, a.ID)
	if n.SchedulingEligibility != structs.NodeSchedulingIneligible {
		t.Errorf("a drained node stays ineligible, got %q", n.SchedulingEligibility)
	}
	if last := n.Events[len(n.Events)-1]; last.Message != structs.NodeEventDrainComplete {
		t.Errorf("last node event %q", last.Message)
	}
}

// TestServer_BlockedEvalPlacesWhenCapacityAppears: the job waits pending,
// and places once a node with room registers.
func TestServer_BlockedEvalPlacesWhenCapacityAppears(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("small", 1000, 1024))
	job := parseJob(t, "seed004.nomad", "cpu    = 500", "cpu    = 3000")
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "first eval", evalDone(t, s, resp.EvalID))
	e, _ := s.State().EvalByID(nil, resp.EvalID)
	if e.BlockedEval == "" || e.FailedTGAllocs["cache"] == nil || e.FailedTGAllocs["cache"].DimensionExhausted["cpu"] != 1 {
		t.Fatalf("eval: blocked %q failed %+v", e.BlockedEval, e.FailedTGAllocs)
	}
	j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
	if j.Status != structs.JobStatusPending {
		t.Fatalf("job status %q, want pending", j.Status)
	}
	if _, err := s.RegisterNode(testNode("big", 8000, 8192)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "placed on the new node", func() (bool, string) {
		live := liveAllocs(t, s, job)
		return len(live) == 1, fmt.Sprintf("%d live", len(live))
	})
}

// TestServer_BlockedEvalWaitsForCapacityThatHelps: a blocked evaluation
// stays blocked when capacity appears where its job cannot run (a node
// of a class whose nodes fail its constraints, a node of another
// datacenter), and is retried when it appears on a node of an eligible
// class. (A node of a class the evaluation has not seen would unblock it:
// the class might fit.)
func TestServer_BlockedEvalWaitsForCapacityThatHelps(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("small", 1000, 1024))
	windows := func(name string) *structs.Node {
		n := testNode(name, 8000, 8192)
		n.Attributes["kernel.name"] = "windows"
		return n
	}
	if _, err := s.RegisterNode(windows("windows-1")); err != nil {
		t.Fatal(err)
	}
	job := parseJob(t, "seed004.nomad", "cpu    = 500", "cpu    = 3000")
	job.Constraints = append(job.Constraints, &structs.Constraint{LTarget: "${attr.kernel.name}", RTarget: "linux", Operand: "="})
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "first eval", evalDone(t, s, resp.EvalID))
	waitFor(t, 10*time.Second, "the blocked eval tracked", func() (bool, string) {
		_, ok := s.blocked.Blocked(job.Namespace, job.ID)
		return ok, ""
	})
	elsewhere := testNode("elsewhere", 8000, 8192)
	elsewhere.Datacenter = "dc9"
	for _, n := range []*structs.Node{windows("windows-2"), elsewhere} {
		// The FSM's hooks run before the write is acknowledged.
		if _, err := s.RegisterNode(n); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.blocked.Blocked(job.Namespace, job.ID); !ok {
			t.Fatalf("capacity on node %s (which the job cannot use) unblocked its evaluation", n.Name)
		}
	}
	if _, err := s.RegisterNode(testNode("big", 8000, 8192)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "placed on the new node", func() (bool, string) {
		live := liveAllocs(t, s, job)
		return len(live) == 1, fmt.Sprintf("%d live", len(live))
	})
}

// TestServer_AutoRevertOnUnhealthy: an update whose allocation turns
// unhealthy fails the deployment and rolls back to the stable version.
func TestServer_AutoRevertOnUnhealthy(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a := testNode("nomad", 4000, 8192)
	client := startFakeClient(t, s, a)
	// Without a progress deadline the first unhealthy allocation fails
	// the deployment at once (with one, it would be replaced instead).
	revert := []string{"auto_revert = false", "auto_revert = true", "min_healthy_time = \"10s\"", "min_healthy_time = \"0s\"",
		"progress_deadline = \"10m\"", "progress_deadline = \"0\""}
	job := parseJob(t, "seed003.nomad", revert...)
	if _, err := s.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "version 0 stable", func() (bool, string) {
		j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
		return j.Stable, fmt.Sprintf("version %d stable %v", j.Version, j.Stable)
	})
	// The client now reports the new version's allocation unhealthy.
	client.mu.Lock()
	client.manual[a.ID] = true
	client.mu.Unlock()
	bad := parseJob(t, "seed003.nomad", append(revert, "redis:3.2", "redis:4.0")...)
	if _, err := s.RegisterJob(bad, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the new allocation", func() (bool, string) {
		for _, alloc := range liveAllocs(t, s, job) {
			if alloc.Job.Version == 1 {
				no := false
				s.UpdateAllocsFromClient([]*structs.Allocation{{ID: alloc.ID, ClientStatus: structs.AllocClientStatusRunning,
					DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &no, Timestamp: time.Now()}}})
				return true, ""
			}
		}
		return false, "no version 1 allocation yet"
	})
	waitFor(t, 10*time.Second, "failed deployment and rollback", func() (bool, string) {
		ds, _ := s.State().DeploymentsByJobID(nil, job.Namespace, job.ID)
		j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
		for _, d := range ds {
			if d.JobVersion == 1 && d.Status == structs.DeploymentStatusFailed &&
				d.StatusDescription == "Failed due to unhealthy allocations - rolling back to job version 0" && j.Version == 2 {
				return j.TaskGroups[0].Tasks[0].Config["image"] == "redis:3.2", "rolled back"
			}
		}
		return false, fmt.Sprintf("job version %d", j.Version)
	})
}

// TestServer_ProgressDeadlineFailsDeployment: allocations that never turn
// healthy fail the deployment once its progress deadline passes.
func TestServer_ProgressDeadlineFailsDeployment(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a := testNode("nomad", 4000, 8192)
	client := startFakeClient(t, s, a)
	client.mu.Lock()
	client.manual[a.ID] = true
	client.mu.Unlock()
	job := parseJob(t, "seed003.nomad", "min_healthy_time = \"10s\"", "min_healthy_time = \"100ms\"",
		"healthy_deadline = \"3m\"", "healthy_deadline = \"200ms\"", "progress_deadline = \"10m\"", "progress_deadline = \"500ms\"")
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "placement", evalDone(t, s, resp.EvalID))
	waitFor(t, 10*time.Second, "failed by the progress deadline", func() (bool, string) {
		d, _ := s.State().LatestDeploymentByJobID(nil, job.Namespace, job.ID)
		if d == nil {
			return false, "no deployment"
		}
		return d.Status == structs.DeploymentStatusFailed && d.StatusDescription == structs.DeploymentDescProgressDeadline,
			d.Status + ": " + d.StatusDescription
	})
}

// TestCheckIndexMessages: -check-index refusals read exactly as users
// know them, with no prefix.
func TestCheckIndexMessages(t *testing.T) {
	existing := &structs.Job{JobModifyIndex: 24}
	cases := []struct {
		job  *structs.Job
		want uint64
		msg  string
	}{
		{existing, 0, "Enforcing job modify index 0: job already exists"},
		{nil, 7, "Enforcing job modify index 7: job does not exist"},
		{existing, 23, "Enforcing job modify index 23: job exists with conflicting job modify index: 24"},
	}
	for _, tc := range cases {
		err := checkIndex(tc.job, tc.want)
		if err == nil || err.Error() != tc.msg || !errors.Is(err, ErrIndexMismatch) {
			t.Errorf("checkIndex(%d) = %v, want %q", tc.want, err, tc.msg)
		}
	}
	if err := checkIndex(existing, 24); err != nil {
		t.Errorf("matching index refused: %v", err)
	}
}

// TestServer_DrainBatchAndSystem: on a draining node, service work leaves
// first; batch work may run until the deadline; system allocations leave
// last, once nothing else is left.
func TestServer_DrainBatchAndSystem(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a := testNode("client-one", 8000, 8192)
	client := startFakeClient(t, s, a)
	b := testNode("client-two", 8000, 8192)
	if _, err := s.RegisterNode(b); err != nil {
		t.Fatal(err)
	}
	client.mu.Lock()
	client.nodes[b.ID] = true
	client.mu.Unlock()
	// Pin the batch and service work to client-one at first.
	pin := fmt.Sprintf("group \"run\" {\n    constraint {\n      attribute = \"${node.unique.id}\"\n      value = %q\n    }", a.ID)
	batch := parseJob(t, "batch.nomad", "group \"run\" {", pin, "run_for   = \"2s\"", "run_for   = \"1h\"")
	batch.Periodic = nil
	sys := parseJob(t, "system.nomad", "raw_exec", "mock")
	svc := parseJob(t, "seed004.nomad", "driver = \"docker\"", "driver = \"mock\"",
		"group \"cache\" {", strings.Replace(pin, "group \"run\"", "group \"cache\"", 1))
	for _, job := range []*structs.Job{batch, sys, svc} {
		resp, err := s.RegisterJob(job, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "placement of "+job.ID, evalDone(t, s, resp.EvalID))
	}
	onA := func(job *structs.Job) int {
		n := 0
		for _, alloc := range liveAllocs(t, s, job) {
			if alloc.NodeID == a.ID {
				n++
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, "everything running on client-one", func() (bool, string) {
		return onA(batch) == 1 && onA(sys) == 1 && onA(svc) == 1, fmt.Sprintf("batch %d system %d service %d", onA(batch), onA(sys), onA(svc))
	})
	if _, err := s.UpdateDrain(a.ID, &structs.DrainSpec{Deadline: 2 * time.Second}, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "service moved, batch and system still there", func() (bool, string) {
		return onA(svc) == 0 && onA(batch) == 1 && onA(sys) == 1,
			fmt.Sprintf("batch %d system %d service %d", onA(batch), onA(sys), onA(svc))
	})
	waitFor(t, 10*time.Second, "deadline: batch and then system gone, drain complete", func() (bool, string) {
		n, _ := s.State().NodeByID(nil, a.ID)
		return onA(batch) == 0 && onA(sys) == 0 && !n.Drain,
			fmt.Sprintf("batch %d system %d drain %v", onA(batch), onA(sys), n.Drain)
	})
}

// TestServer_UnhealthyAllocationWithDeadline encodes Nomad's deployment
// watcher: with a progress deadline, an unhealthy allocation that may
// still be rescheduled is marked for replacement and the deployment keeps
// running; one with no reschedule attempt left fails the deployment.
func TestServer_UnhealthyAllocationWithDeadline(t *testing.T) {
	for _, tc := range []struct {
		name       string
		edits      []string
		wantFailed bool
	}{
		{name: "attempts left", wantFailed: false},
		{name: "no attempts", edits: []string{"restart {", "reschedule {\n      attempts = 0\n      unlimited = false\n    }\n    restart {"}, wantFailed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, "")
			defer s.Shutdown()
			a := testNode("nomad", 4000, 8192)
			client := startFakeClient(t, s, a)
			client.mu.Lock()
			client.manual[a.ID] = true
			client.mu.Unlock()
			job := parseJob(t, "seed003.nomad", tc.edits...)
			if _, err := s.RegisterJob(job, false, 0); err != nil {
				t.Fatal(err)
			}
			var bad *structs.Allocation
			waitFor(t, 10*time.Second, "an allocation", func() (bool, string) {
				for _, alloc := range liveAllocs(t, s, job) {
					bad = alloc
					return true, ""
				}
				return false, "none yet"
			})
			no := false
			if _, err := s.UpdateAllocsFromClient([]*structs.Allocation{{ID: bad.ID, ClientStatus: structs.AllocClientStatusRunning,
				DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &no, Timestamp: time.Now()}}}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the watcher's decision", func() (bool, string) {
				d, _ := s.State().LatestDeploymentByJobID(nil, job.Namespace, job.ID)
				got, _ := s.State().AllocByID(nil, bad.ID)
				if tc.wantFailed {
					return d.Status == structs.DeploymentStatusFailed && d.StatusDescription == structs.DeploymentDescFailedAllocations,
						d.Status + ": " + d.StatusDescription
				}
				return d.Status == structs.DeploymentStatusRunning && got.DesiredTransition.ShouldReschedule(),
					fmt.Sprintf("%s, reschedule mark %v", d.Status, got.DesiredTransition.ShouldReschedule())
			})
			if !tc.wantFailed {
				time.Sleep(1500 * time.Millisecond) // the watcher looks again every second
				if d, _ := s.State().LatestDeploymentByJobID(nil, job.Namespace, job.ID); d.Status != structs.DeploymentStatusRunning {
					t.Fatalf("the deployment became %s before its deadline", d.Status)
				}
			}
		})
	}
}
