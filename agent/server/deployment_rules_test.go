package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing"
	"time"

	"drover/agent/gc"
	"drover/agent/jobspec"
	"drover/agent/state"
	"drover/agent/structs"
)

// TestServer_HealthyCanariesOutwaitTheProgressDeadline encodes Nomad's
// rule that a group whose healthy canaries reach the desired number is
// waiting for a person (promotion), not failing to progress: the deadline
// does not fail it.
func TestServer_HealthyCanariesOutwaitTheProgressDeadline(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("nomad", 8000, 8192))
	base := []string{"count = 1", "count = 2", "canary = 0", "canary = 1", "min_healthy_time = \"10s\"", "min_healthy_time = \"50ms\"",
		"healthy_deadline = \"3m\"", "healthy_deadline = \"200ms\"", "progress_deadline = \"10m\"", "progress_deadline = \"500ms\""}
	job := parseJob(t, "seed003.nomad", base...)
	if _, err := s.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "version 0 stable", func() (bool, string) {
		j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
		return j.Stable, fmt.Sprintf("version %d stable %v", j.Version, j.Stable)
	})
	if _, err := s.RegisterJob(parseJob(t, "seed003.nomad", append(base, "redis:3.2", "redis:4.0")...), false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a healthy canary", func() (bool, string) {
		d, _ := s.State().LatestDeploymentByJobID(nil, job.Namespace, job.ID)
		g := d.TaskGroups["cache"]
		return d.JobVersion == 1 && g.HealthyAllocs == 1 && g.DesiredCanaries == 1, fmt.Sprintf("%+v", g)
	})
	time.Sleep(1500 * time.Millisecond) // three times the progress deadline
	d, _ := s.State().LatestDeploymentByJobID(nil, job.Namespace, job.ID)
	if d.Status != structs.DeploymentStatusRunning || d.StatusDescription != structs.DeploymentDescRunningNeedsPromotion {
		t.Fatalf("deployment waiting for promotion became %s: %s", d.Status, d.StatusDescription)
	}
}

// TestServer_AutoRevertIsPerGroup encodes that auto_revert belongs to the
// failing group's update strategy: a group without it fails the
// deployment without rolling the job back, even when another group has it.
func TestServer_AutoRevertIsPerGroup(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	node := testNode("nomad", 8000, 8192)
	client := startFakeClient(t, s, node)
	src := func(image string) *structs.Job {
		text := fmt.Sprintf(`job "two" {
  datacenters = ["dc1"]
  group "reverting" {
    update {
      max_parallel      = 1
      min_healthy_time  = "0s"
      progress_deadline = "0"
      auto_revert       = true
    }
    task "t" {
      driver = "docker"
      config { image = %[1]q }
    }
  }
  group "plain" {
    update {
      max_parallel      = 1
      min_healthy_time  = "0s"
      progress_deadline = "0"
      auto_revert       = false
    }
    task "t" {
      driver = "docker"
      config { image = %[1]q }
    }
  }
}`, image)
		job, err := jobspec.Parse("two.nomad", []byte(text), jobspec.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return job
	}
	job := src("redis:3.2")
	if _, err := s.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "version 0 stable", func() (bool, string) {
		j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
		return j.Stable, fmt.Sprintf("version %d stable %v", j.Version, j.Stable)
	})
	client.mu.Lock()
	client.manual[node.ID] = true
	client.mu.Unlock()
	if _, err := s.RegisterJob(src("redis:4.0"), false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the plain group's new allocation, reported unhealthy", func() (bool, string) {
		for _, a := range liveAllocs(t, s, job) {
			if a.Job.Version == 1 && a.TaskGroup == "plain" {
				no := false
				if _, err := s.UpdateAllocsFromClient([]*structs.Allocation{{ID: a.ID, ClientStatus: structs.AllocClientStatusRunning,
					DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &no, Timestamp: time.Now()}}}); err != nil {
					t.Fatal(err)
				}
				return true, ""
			}
		}
		return false, "not yet"
	})
	var failed *structs.Deployment
	waitFor(t, 10*time.Second, "version 1's deployment failed", func() (bool, string) {
		ds, _ := s.State().DeploymentsByJobID(nil, job.Namespace, job.ID)
		for _, d := range ds {
			if d.JobVersion == 1 && d.Status == structs.DeploymentStatusFailed {
				failed = d
				return true, ""
			}
		}
		return false, fmt.Sprint(len(ds), " deployments")
	})
	time.Sleep(300 * time.Millisecond)
	j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
	if failed.StatusDescription != structs.DeploymentDescFailedAllocations || j.Version != 1 {
		t.Fatalf("failing group without auto_revert: %q, job version %d (want no rollback)", failed.StatusDescription, j.Version)
	}
}

// TestServer_DrainBudgetSpansNodes encodes migrate.max_parallel as a limit
// per job across every draining node: two nodes drained at once move one
// allocation of a max_parallel = 1 group, not one each.
func TestServer_DrainBudgetSpansNodes(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a1, a2 := testNode("one", 1000, 8192), testNode("two", 1000, 8192) // two allocations each
	client := startFakeClient(t, s, a1, a2)
	job := parseJob(t, "seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 4\n    migrate { max_parallel = 1 }")
	if _, err := s.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "4 healthy", func() (bool, string) {
		n := 0
		for _, alloc := range liveAllocs(t, s, job) {
			if alloc.ClientStatus == structs.AllocClientStatusRunning && alloc.DeploymentStatus.IsHealthy() {
				n++
			}
		}
		return n == 4, fmt.Sprintf("%d healthy", n)
	})
	// Replacements land on a slow node and never turn healthy, so the
	// budget, once spent, stays spent.
	c := testNode("three", 8000, 8192)
	if _, err := s.RegisterNode(c); err != nil {
		t.Fatal(err)
	}
	client.mu.Lock()
	client.nodes[c.ID], client.manual[c.ID] = true, true
	client.mu.Unlock()
	for _, n := range []*structs.Node{a1, a2} {
		if _, err := s.UpdateDrain(n.ID, &structs.DrainSpec{Deadline: time.Hour}, false); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	most := 0
	for time.Now().Before(deadline) {
		moving := 0
		all, _ := s.State().AllocsByJob(nil, job.Namespace, job.ID, true)
		for _, alloc := range all {
			if alloc.DesiredTransition.ShouldMigrate() {
				moving++
			}
		}
		most = max(most, moving)
		time.Sleep(5 * time.Millisecond)
	}
	if most != 1 {
		t.Fatalf("%d allocations marked to migrate at once with migrate.max_parallel = 1 (want 1)", most)
	}
}

// TestServer_FailedEvaluationGetsAFollowUp encodes Nomad's retry of
// failed evaluations: one that reached its delivery limit is marked
// failed and a delayed "failed-follow-up" evaluation of the same job is
// created, so the job is looked at again later.
func TestServer_FailedEvaluationGetsAFollowUp(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	// A type no worker handles: the test plays the failing worker.
	e := &structs.Evaluation{ID: structs.GenerateUUID(), Namespace: "default", Priority: 50, Type: "test-failing",
		TriggeredBy: structs.EvalTriggerJobRegister, JobID: "flaky", Status: structs.EvalStatusPending}
	if _, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{e}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < s.config.EvalDeliveryLimit; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, token, err := s.broker.Dequeue(ctx, []string{"test-failing"})
		cancel()
		if err != nil || got.ID != e.ID {
			t.Fatalf("delivery %d: %v %v", i+1, got, err)
		}
		if err := s.broker.Nack(got.ID, token); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "the failed evaluation and its follow-up", func() (bool, string) {
		failed, _ := s.State().EvalByID(nil, e.ID)
		if failed == nil || failed.Status != structs.EvalStatusFailed || failed.NextEval == "" {
			return false, fmt.Sprintf("%+v", failed)
		}
		next, _ := s.State().EvalByID(nil, failed.NextEval)
		if next == nil {
			return false, "no follow-up " + failed.NextEval
		}
		return next.TriggeredBy == structs.EvalTriggerFailedFollowUp && next.Status == structs.EvalStatusPending &&
				next.JobID == "flaky" && next.PreviousEval == e.ID && next.WaitUntil.After(time.Now()),
			fmt.Sprintf("%+v", next)
	})
}

// TestServer_StalePlanIsRejected: a plan carries the delivery token of its
// evaluation; once the evaluation was redelivered (the first worker took
// longer than the nack timeout) the first worker's plan is refused, so two
// workers' plans for one evaluation never both apply.
func TestServer_StalePlanIsRejected(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeName, cfg.RPCAddr, cfg.NumSchedulers = "stale", "127.0.0.1:0", 1
	cfg.EvalNackTimeout = 200 * time.Millisecond
	cfg.Logger = log.New(testWriter{t}, "", 0)
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	e := &structs.Evaluation{ID: structs.GenerateUUID(), Namespace: "default", Priority: 50, Type: "test-slow",
		TriggeredBy: structs.EvalTriggerJobRegister, JobID: "slow", Status: structs.EvalStatusPending}
	if _, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{e}}); err != nil {
		t.Fatal(err)
	}
	_, first, err := s.broker.Dequeue(ctx, []string{"test-slow"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // past the nack timeout: redelivered
	_, second, err := s.broker.Dequeue(ctx, []string{"test-slow"})
	if err != nil || second == first {
		t.Fatalf("redelivery: token %q (first %q), %v", second, first, err)
	}
	d := &structs.Deployment{ID: structs.GenerateUUID(), Namespace: "default", JobID: "slow",
		Status: structs.DeploymentStatusRunning, TaskGroups: map[string]*structs.DeploymentState{}}
	plan := func(token string) *structs.Plan {
		return &structs.Plan{EvalID: e.ID, EvalToken: token, Priority: 50, Deployment: d.Copy()}
	}
	if _, err := s.planQ.Submit(ctx, plan(first)); err == nil {
		t.Fatal("the first worker's plan applied after its evaluation was redelivered")
	}
	if _, err := s.planQ.Submit(ctx, plan(second)); err != nil {
		t.Fatalf("the current worker's plan: %v", err)
	}
}

// TestServer_DownNodesUpdatesAreRefused: a node marked down must
// heartbeat (and so be ready again) before its allocation updates count;
// a late "running" from it would overwrite "lost".
func TestServer_DownNodesUpdatesAreRefused(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	a := testNode("client-one", 4000, 8192)
	client := startFakeClient(t, s, a)
	job := parseJob(t, "seed004.nomad")
	if _, err := s.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	var alloc *structs.Allocation
	waitFor(t, 10*time.Second, "a running allocation", func() (bool, string) {
		for _, x := range liveAllocs(t, s, job) {
			if x.ClientStatus == structs.AllocClientStatusRunning {
				alloc = x
				return true, ""
			}
		}
		return false, "none"
	})
	client.silence(a.ID)
	waitFor(t, 10*time.Second, "lost with its node", func() (bool, string) {
		got, _ := s.State().AllocByID(nil, alloc.ID)
		return got.ClientStatus == structs.AllocClientStatusLost, got.ClientStatus
	})
	_, err := s.UpdateAllocsFromClient([]*structs.Allocation{{ID: alloc.ID, NodeID: a.ID, ClientStatus: structs.AllocClientStatusRunning}})
	if err == nil {
		t.Fatal("an update from a down node was accepted")
	}
	if got, _ := s.State().AllocByID(nil, alloc.ID); got.ClientStatus != structs.AllocClientStatusLost {
		t.Fatalf("the update from the down node overwrote lost with %s", got.ClientStatus)
	}
}

// TestPlanApplierRefusesReservedPorts: the plan applier re-checks every
// node of a plan, reserved_ports included, since a plan may come from a
// snapshot that predates the node's latest fingerprint.
func TestPlanApplierRefusesReservedPorts(t *testing.T) {
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	node := testNode("ports", 4000, 4096)
	node.ReservedResources = &structs.NodeReservedResources{Networks: structs.NodeReservedNetworkResources{ReservedHostPorts: "22,8080"}}
	if err := st.UpsertNode(10, node); err != nil {
		t.Fatal(err)
	}
	plan := func(port int) *structs.Plan {
		a := &structs.Allocation{ID: structs.GenerateUUID(), NodeID: node.ID, DesiredStatus: structs.AllocDesiredStatusRun,
			ClientStatus: structs.AllocClientStatusPending,
			AllocatedResources: &structs.AllocatedResources{Shared: structs.AllocatedSharedResources{
				Ports: []structs.PortMapping{{Label: "http", Value: port}}}}}
		return &structs.Plan{NodeAllocation: map[string][]*structs.Allocation{node.ID: {a}}}
	}
	if ok, err := nodeFits(st.Snapshot(), node.ID, plan(8080)); err != nil || ok {
		t.Fatalf("a plan using reserved port 8080 fits: %v %v", ok, err)
	}
	if ok, err := nodeFits(st.Snapshot(), node.ID, plan(8081)); err != nil || !ok {
		t.Fatalf("a plan using free port 8081 does not fit: %v %v", ok, err)
	}
}

// TestServer_CheckIndexIsAtomic: -check-index compares the job modify
// index inside the FSM, the one writer, so of many writers that read the
// same index exactly one wins and the others get the index conflict.
func TestServer_CheckIndexIsAtomic(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	resp, err := s.RegisterJob(parseJob(t, "seed003.nomad"), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 50
	var wg sync.WaitGroup
	results := make(chan error, writers)
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		// Each writer changes the job differently, so each is a real
		// registration, all enforcing the index they read.
		job := parseJob(t, "seed003.nomad", "count = 1", fmt.Sprintf("count = 1\n    meta { writer = \"%d\" }", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.RegisterJob(job, true, resp.JobModifyIndex)
			results <- err
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrIndexMismatch) || !strings.Contains(err.Error(), "conflicting job modify index"):
			t.Errorf("a losing writer got %v, want the index conflict", err)
		}
	}
	t.Logf("%d of %d writers won", won, writers)
	if won != 1 {
		t.Fatalf("%d of %d writers with the same JobModifyIndex succeeded, want exactly 1", won, writers)
	}
}

// TestServer_GarbageCollection: the leader forgets a stopped job whose
// allocations finished, with its evaluations, allocations and deployment,
// once past the thresholds (here: at once, every 200ms), through raft.
func TestServer_GarbageCollection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.NodeName, cfg.RPCAddr, cfg.NumSchedulers = "gc", "127.0.0.1:0", 1
	cfg.GCInterval, cfg.GCThresholds = 200*time.Millisecond, gc.Thresholds{}
	cfg.Logger = log.New(testWriter{t}, "", 0)
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	startFakeClient(t, s, testNode("gc-node", 4000, 8192))
	job := parseJob(t, "seed003.nomad")
	if _, err := s.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "running", func() (bool, string) {
		return len(liveAllocs(t, s, job)) == 1, ""
	})
	if _, err := s.DeregisterJob(job.Namespace, job.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "everything of the stopped job collected", func() (bool, string) {
		j, _ := s.State().JobByID(nil, job.Namespace, job.ID)
		allocs, _ := s.State().AllocsByJob(nil, job.Namespace, job.ID, true)
		evals, _ := s.State().EvalsByJob(nil, job.Namespace, job.ID)
		deps, _ := s.State().DeploymentsByJobID(nil, job.Namespace, job.ID)
		return j == nil && len(allocs) == 0 && len(evals) == 0 && len(deps) == 0,
			fmt.Sprintf("job %v, %d allocs, %d evals, %d deployments", j != nil, len(allocs), len(evals), len(deps))
	})
}
