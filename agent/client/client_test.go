package client

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"drover/agent/drivers"
	"drover/agent/drivers/mock"
	"drover/agent/jobspec"
	"drover/agent/server"
	"drover/agent/structs"
)

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testServer(t *testing.T) *server.Server {
	t.Helper()
	return testServerAt(t, "127.0.0.1:0")
}

func testServerAt(t *testing.T, addr string) *server.Server {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.RPCAddr = addr
	cfg.NumSchedulers = 2
	cfg.MinHeartbeatTTL = 300 * time.Millisecond
	cfg.HeartbeatGrace = 300 * time.Millisecond
	cfg.Logger = log.New(testLog{t}, "server ", 0)
	s, err := server.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitForLeader(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	return s
}

func testClient(t *testing.T, srv *server.Server, name string) *Client {
	t.Helper()
	dir := t.TempDir()
	c, err := New(&Config{
		NodeName: name, Datacenter: "dc1", Servers: []string{srv.RPCAddr()},
		StateDir: dir + "/client", AllocDir: dir + "/alloc", CPUTotalCompute: 4000, MemoryTotalMB: 4096,
		Version: "test", Logger: log.New(testLog{t}, name+" ", 0),
	}, drivers.NewRegistry(mock.New()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	return c
}

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
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
}

func mockJob(t *testing.T, typ, group, config string) *structs.Job {
	t.Helper()
	src := fmt.Sprintf(`job "work" {
  type = %q
  group "g" {
%s
    task "t" {
      driver = "mock"
      config {
%s
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}`, typ, group, config)
	job, err := jobspec.Parse("work.nomad", []byte(src), jobspec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func allocsOf(t *testing.T, srv *server.Server, jobID string) []*structs.Allocation {
	t.Helper()
	allocs, err := srv.State().AllocsByJob(nil, "default", jobID, true)
	if err != nil {
		t.Fatal(err)
	}
	return allocs
}

// eventTypes lists a task's event types, leaving out the driver's own
// progress events, which depend on the driver.
func eventTypes(ts *structs.TaskState) []string {
	var out []string
	for _, e := range ts.Events {
		if e.Type != EventDriver {
			out = append(out, e.Type)
		}
	}
	return out
}

// TestClient_RunsServiceAndBecomesHealthy: a service allocation runs, its
// task events read as users know them, and it reports healthy after
// min_healthy_time, which completes the deployment.
func TestClient_RunsServiceAndBecomesHealthy(t *testing.T) {
	srv := testServer(t)
	c := testClient(t, srv, "client-one")
	job := mockJob(t, "service", `    update {
      min_healthy_time = "200ms"
      healthy_deadline = "10s"
    }`, `run_for = "0s"`)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a healthy running allocation and a successful deployment", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		d, _ := srv.State().LatestDeploymentByJobID(nil, "default", "work")
		if len(allocs) != 1 || d == nil {
			return false, fmt.Sprintf("%d allocs", len(allocs))
		}
		a := allocs[0]
		return a.ClientStatus == structs.AllocClientStatusRunning && a.DeploymentStatus.IsHealthy() &&
				d.Status == structs.DeploymentStatusSuccessful,
			fmt.Sprintf("client %s, deployment %s", a.ClientStatus, d.Status)
	})
	a := allocsOf(t, srv, "work")[0]
	if a.NodeID != c.NodeID() {
		t.Fatalf("placed on %s, want %s", a.NodeID, c.NodeID())
	}
	ts := a.TaskStates["t"]
	if got := strings.Join(eventTypes(ts), ","); got != "Received,Task Setup,Started" {
		t.Fatalf("events %s", got)
	}
	if ts.Events[0].DisplayMessage != "Task received by client" || ts.Events[1].DisplayMessage != "Building Task Directory" ||
		ts.Events[2].DisplayMessage != "Task started by client" {
		t.Fatalf("event texts: %+v", ts.Events)
	}
	node, _ := srv.State().NodeByID(nil, c.NodeID())
	if node.Status != structs.NodeStatusReady || !node.Drivers["mock"].Healthy {
		t.Fatalf("node %s drivers %+v", node.Status, node.Drivers)
	}

	// Stop: Killing, then Killed; the allocation completes.
	if _, err := srv.DeregisterJob("default", "work", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "complete after stop", func() (bool, string) {
		a := allocsOf(t, srv, "work")[0]
		return a.ClientStatus == structs.AllocClientStatusComplete, a.ClientStatus
	})
	ts = allocsOf(t, srv, "work")[0].TaskStates["t"]
	n := len(ts.Events)
	if ts.Events[n-2].Type != EventKilling || ts.Events[n-2].DisplayMessage != "Sent interrupt. Waiting 5s before force killing" ||
		ts.Events[n-1].Type != EventKilled || ts.Events[n-1].DisplayMessage != "Task successfully killed" {
		t.Fatalf("stop events: %v", eventTypes(ts))
	}
}

// TestClient_RestartPolicyThenFail: a task that keeps failing is
// restarted per its policy and then given up: "Not Restarting", failed.
func TestClient_RestartPolicyThenFail(t *testing.T) {
	srv := testServer(t)
	testClient(t, srv, "client-one")
	job := mockJob(t, "service", `    restart {
      attempts = 2
      interval = "10m"
      delay    = "50ms"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }`, `run_for = "50ms"
        exit_code = 3`)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a failed allocation", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		if len(allocs) == 0 {
			return false, "no alloc"
		}
		return allocs[0].ClientStatus == structs.AllocClientStatusFailed, allocs[0].ClientStatus
	})
	ts := allocsOf(t, srv, "work")[0].TaskStates["t"]
	got := strings.Join(eventTypes(ts), ",")
	want := "Received,Task Setup,Started,Terminated,Restarting,Started,Terminated,Restarting,Started,Terminated,Not Restarting"
	if !strings.HasSuffix(want, got) || ts.Restarts != 2 || !ts.Failed {
		t.Fatalf("events %s (restarts %d, failed %v)", got, ts.Restarts, ts.Failed)
	}
	last := ts.Events[len(ts.Events)-1]
	if last.DisplayMessage != `Exceeded allowed attempts 2 in interval 10m0s and mode is "fail"` {
		t.Fatalf("last event %q", last.DisplayMessage)
	}
	for _, e := range ts.Events {
		if e.Type == EventTerminated && e.DisplayMessage != "Exit Code: 3" {
			t.Fatalf("terminated event %q", e.DisplayMessage)
		}
	}
}

// TestClient_BatchCompletes: a batch task that exits 0 completes.
func TestClient_BatchCompletes(t *testing.T) {
	srv := testServer(t)
	testClient(t, srv, "client-one")
	if _, err := srv.RegisterJob(mockJob(t, "batch", "", `run_for = "50ms"`), false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "complete", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		if len(allocs) == 0 {
			evals, _ := srv.State().Evals(nil)
			nodes, _ := srv.State().Nodes(nil)
			desc := fmt.Sprintf("no alloc; %d nodes", len(nodes))
			for _, n := range nodes {
				desc += fmt.Sprintf(" node %s %s drivers %v;", n.Status, n.SchedulingEligibility, n.Drivers["mock"])
			}
			for _, e := range evals {
				desc += fmt.Sprintf(" eval %s %s %+v;", e.TriggeredBy, e.Status, e.FailedTGAllocs["g"])
			}
			return false, desc
		}
		return allocs[0].ClientStatus == structs.AllocClientStatusComplete, allocs[0].ClientStatus
	})
	j, _ := srv.State().JobByID(nil, "default", "work")
	if j.Status != structs.JobStatusDead {
		t.Errorf("batch job status %q, want dead", j.Status)
	}
}

// TestClient_LostNodeIsReplaced: a client that stops heartbeating is
// marked down; its allocations are lost and run on the other client.
func TestClient_LostNodeIsReplaced(t *testing.T) {
	srv := testServer(t)
	a := testClient(t, srv, "client-one")
	job := mockJob(t, "service", "    count = 2", `run_for = "0s"`)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "2 running on client-one", func() (bool, string) {
		n := 0
		for _, al := range allocsOf(t, srv, "work") {
			if al.ClientStatus == structs.AllocClientStatusRunning {
				n++
			}
		}
		return n == 2, fmt.Sprint(n)
	})
	b := testClient(t, srv, "client-two")
	a.Shutdown() // the client dies: no more heartbeats
	waitFor(t, 20*time.Second, "replacements running on client-two", func() (bool, string) {
		n := 0
		for _, al := range allocsOf(t, srv, "work") {
			if al.NodeID == b.NodeID() && al.ClientStatus == structs.AllocClientStatusRunning {
				n++
			}
		}
		node, _ := srv.State().NodeByID(nil, a.NodeID())
		return n == 2 && node.Status == structs.NodeStatusDown, fmt.Sprintf("%d on b, a is %s", n, node.Status)
	})
	for _, al := range allocsOf(t, srv, "work") {
		if al.NodeID == a.NodeID() && al.ClientStatus != structs.AllocClientStatusLost {
			t.Errorf("%s on the dead node is %s, want lost", al.Name, al.ClientStatus)
		}
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// TestClient_InPlaceUpdateDoesNotRestart: a change the scheduler applies
// in place (here, the count) reaches the running allocation without
// stopping or restarting its task.
func TestClient_InPlaceUpdateDoesNotRestart(t *testing.T) {
	srv := testServer(t)
	testClient(t, srv, "client-one")
	if _, err := srv.RegisterJob(mockJob(t, "service", "    count = 1", `run_for = "0s"`), false, 0); err != nil {
		t.Fatal(err)
	}
	var first *structs.Allocation
	waitFor(t, 15*time.Second, "running", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		if len(allocs) == 1 && allocs[0].ClientStatus == structs.AllocClientStatusRunning {
			first = allocs[0]
			return true, ""
		}
		return false, fmt.Sprint(len(allocs))
	})
	if _, err := srv.RegisterJob(mockJob(t, "service", "    count = 2", `run_for = "0s"`), false, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the first allocation at version 1, and a second one", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		for _, a := range allocs {
			if a.ID == first.ID {
				return len(allocs) == 2 && a.Job.Version == 1, fmt.Sprintf("%d allocs, first at version %d", len(allocs), a.Job.Version)
			}
		}
		return false, "first allocation gone"
	})
	after, _ := srv.State().AllocByID(nil, first.ID)
	ts := after.TaskStates["t"]
	if got := strings.Join(eventTypes(ts), ","); got != "Received,Task Setup,Started" || ts.Restarts != 0 ||
		after.ClientStatus != structs.AllocClientStatusRunning {
		t.Fatalf("after the in-place update: %s, events %s, restarts %d", after.ClientStatus, got, ts.Restarts)
	}
}

// TestClient_ReregistersWithARestartedServer: a dev server restarted
// without its state no longer knows the node; the client registers again
// on its next heartbeat.
func TestClient_ReregistersWithARestartedServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	first := testServerAt(t, addr)
	c := testClient(t, first, "client-one")
	waitFor(t, 15*time.Second, "registered", func() (bool, string) {
		n, _ := first.State().NodeByID(nil, c.NodeID())
		return n != nil && n.Status == structs.NodeStatusReady, ""
	})
	first.Shutdown()
	second := testServerAt(t, addr)
	waitFor(t, 30*time.Second, "registered again with the new server", func() (bool, string) {
		n, _ := second.State().NodeByID(nil, c.NodeID())
		if n == nil {
			return false, "unknown node"
		}
		return n.Status == structs.NodeStatusReady, n.Status
	})
}

// TestClient_UnhealthyFailsTheDeployment: an allocation whose task fails
// reports unhealthy, and one that never stays up for min_healthy_time
// reports unhealthy at healthy_deadline; without a progress deadline
// either fails the deployment at once (with one, the allocation would be
// marked for rescheduling and the deadline would decide).
func TestClient_UnhealthyFailsTheDeployment(t *testing.T) {
	cases := []struct {
		name, group, config string
	}{
		{"task failure", `    update {
      min_healthy_time  = "1s"
      healthy_deadline  = "30s"
      progress_deadline = "0"
    }
    restart {
      attempts = 0
      mode     = "fail"
    }`, `run_for = "100ms"
        exit_code = 1`},
		{"healthy deadline", `    update {
      min_healthy_time = "2s"
      healthy_deadline = "3s"
      progress_deadline = "0"
    }
    restart {
      attempts = 100
      interval = "1h"
      delay    = "10ms"
      mode     = "fail"
    }`, `run_for = "300ms"
        exit_code = 1`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := testServer(t)
			testClient(t, srv, "client-one")
			if _, err := srv.RegisterJob(mockJob(t, "service", tc.group, tc.config), false, 0); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 20*time.Second, "an unhealthy allocation and a failed deployment", func() (bool, string) {
				allocs := allocsOf(t, srv, "work")
				d, _ := srv.State().LatestDeploymentByJobID(nil, "default", "work")
				if len(allocs) == 0 || d == nil {
					return false, "nothing yet"
				}
				return allocs[0].DeploymentStatus.IsUnhealthy() && d.Status == structs.DeploymentStatusFailed,
					fmt.Sprintf("deployment %s: %s", d.Status, d.StatusDescription)
			})
			d, _ := srv.State().LatestDeploymentByJobID(nil, "default", "work")
			if d.StatusDescription != structs.DeploymentDescFailedAllocations {
				t.Fatalf("description %q", d.StatusDescription)
			}
		})
	}
}

// TestClient_ProgressEventsReplaceEachOther: a driver's progress reports
// (here the mock's start_delay, as an image pull's would be) show as one
// "Driver" event, the newest report, so the task keeps its other events.
func TestClient_ProgressEventsReplaceEachOther(t *testing.T) {
	srv := testServer(t)
	testClient(t, srv, "client-one")
	// 1.5s of delay is six progress reports, enough to push "Received"
	// and "Task Setup" out of a ten-event history were they all kept.
	job := mockJob(t, "batch", "", `start_delay = "1500ms"
        run_for = "10ms"`)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	seenProgress := false
	waitFor(t, 15*time.Second, "a progress event, then the task complete", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		if len(allocs) == 0 || allocs[0].TaskStates["t"] == nil {
			return false, "no task state"
		}
		ts := allocs[0].TaskStates["t"]
		last := ts.Events[len(ts.Events)-1]
		if last.Type == EventDriver && strings.HasPrefix(last.DisplayMessage, "Mock start in progress: ") {
			seenProgress = true
		}
		return allocs[0].ClientStatus == structs.AllocClientStatusComplete, allocs[0].ClientStatus
	})
	if !seenProgress {
		t.Error("no progress event was the task's newest while it started")
	}
	ts := allocsOf(t, srv, "work")[0].TaskStates["t"]
	var types []string
	progress := 0
	for _, e := range ts.Events {
		types = append(types, e.Type)
		if strings.HasPrefix(e.DisplayMessage, "Mock start in progress: ") {
			progress++
			if !strings.HasSuffix(e.DisplayMessage, " of 1.5s") {
				t.Errorf("progress event %q", e.DisplayMessage)
			}
		}
	}
	// The second Driver event is the mock's "mock task runs for 10ms".
	if got := strings.Join(types, ","); got != "Received,Task Setup,Driver,Driver,Started,Terminated" || progress != 1 ||
		!strings.HasPrefix(ts.Events[2].DisplayMessage, "Mock start in progress: ") {
		t.Errorf("events %s (%d progress events), want Received, Task Setup and one progress event before the task", got, progress)
	}
}
