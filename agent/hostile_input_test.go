package agent

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
)

// TestHostileJobsLeaveTheAgentWorking runs the two inputs that used to
// wedge or crash an agent (a task config nested a thousand levels deep, a
// count of a billion) against a server and client with a data_dir. Both
// are refused with a 4xx; the deepest config the limits allow is stored
// and runs; then a raft snapshot, a restart, and a new job runs on the
// same node.
func TestHostileJobsLeaveTheAgentWorking(t *testing.T) {
	dir := t.TempDir()
	src := fmt.Sprintf(`name = "sturdy"
data_dir  = %q
bind_addr = "127.0.0.1"
log_level = "DEBUG"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled = true
  options = {
    "driver.mock.enable" = "true"
  }
}
`, filepath.Join(dir, "data"), freePort(t), freePort(t), freePort(t))
	path := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() *Agent {
		cfg, _, err := config.Load([]string{path}, false)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(cfg, log.New(testLog{t}, "sturdy ", 0))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	mock := func(id string, count int, deep int) *api.Job {
		task := api.NewTask("t", "mock").SetConfig("run_for", "0")
		if deep > 0 {
			var v interface{} = "leaf"
			for i := 1; i < deep; i++ {
				v = map[string]interface{}{"k": v}
			}
			task.SetConfig("deep", v)
		}
		task.Require(&api.Resources{CPU: intp(50), MemoryMB: intp(32)})
		job := api.NewServiceJob(id, id, "global", 50).AddDatacenter("dc1")
		return job.AddTaskGroup(api.NewTaskGroup("g", count).AddTask(task))
	}
	running := func(c *api.Client, id string) func() (bool, string) {
		return func() (bool, string) {
			allocs, _, err := c.Jobs().Allocations(id, false, nil)
			if err != nil || len(allocs) == 0 {
				return false, fmt.Sprint(err)
			}
			return allocs[0].ClientStatus == "running", allocs[0].ClientStatus
		}
	}

	a := start()
	c, _ := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	for name, job := range map[string]*api.Job{"deep": mock("deep", 1, 1000), "huge": mock("huge", 1000000000, 0)} {
		_, _, err := c.Jobs().Register(job, nil)
		if err == nil || !strings.Contains(err.Error(), "400") {
			a.Shutdown()
			t.Fatalf("%s job: %v, want a 400", name, err)
		}
	}
	if _, _, err := c.Jobs().Register(mock("deepest", 1, 32), nil); err != nil {
		a.Shutdown()
		t.Fatalf("the deepest config allowed: %v", err)
	}
	// The node fetched and decoded it (msgpack, 32 levels): the mock driver
	// then refuses the key it does not know, which it can only do once
	// the allocation reached it.
	waitFor(t, 30*time.Second, "the node received the deepest allowed job", func() (bool, string) {
		allocs, _, err := c.Jobs().Allocations("deepest", false, nil)
		if err != nil || len(allocs) == 0 {
			return false, fmt.Sprint(err)
		}
		for _, ts := range allocs[0].TaskStates {
			for _, e := range ts.Events {
				if e.Type == "Driver Failure" && strings.Contains(e.DisplayMessage+e.DriverError, `unknown config key "deep"`) {
					return true, ""
				}
			}
		}
		return false, "no driver event yet"
	})
	node := a.Client().NodeID()
	if err := a.Server().SnapshotNow(); err != nil {
		a.Shutdown()
		t.Fatal(err)
	}
	a.Client().Stop()
	a.Shutdown()

	a = start()
	defer func() {
		a.Client().Stop()
		a.Shutdown()
	}()
	c, _ = api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	if _, _, err := c.Jobs().Info("deepest", nil); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if _, _, err := c.Jobs().Register(mock("after", 1, 0), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a new job runs after the restart", running(c, "after"))
	allocs, _, _ := c.Jobs().Allocations("after", false, nil)
	if allocs[0].NodeID != node {
		t.Fatalf("the new job ran on node %s, want the same node %s", allocs[0].NodeID, node)
	}
}

func intp(i int) *int { return &i }
