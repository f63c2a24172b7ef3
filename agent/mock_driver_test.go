package agent

import (
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The mock driver answers to Nomad's name for it, mock_driver, as well as
// to mock: the node advertises both, and a job naming either runs (with
// the same config keys).
func TestMockDriver_AnswersToBothNames(t *testing.T) {
	a := startAgent(t, "mock", `server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled = true
  options {
    "driver.mock.enable" = "true"
  }
}`)
	c := apiClient(t, a)
	var node *api.Node
	waitFor(t, 20*time.Second, "the node", func() (bool, string) {
		nodes, _, err := c.Nodes().List(nil)
		if err != nil || len(nodes) != 1 || nodes[0].Status != "ready" {
			return false, "not ready"
		}
		node, _, err = c.Nodes().Info(nodes[0].ID, nil)
		return err == nil, "no node"
	})
	for _, name := range []string{"mock", "mock_driver"} {
		if d := node.Drivers[name]; d == nil || !d.Detected || !d.Healthy {
			t.Fatalf("driver %q on the node: %+v", name, d)
		}
	}
	for _, driver := range []string{"mock_driver", "mock"} {
		job := api.NewBatchJob("j-"+driver, "j-"+driver, "global", 50)
		job.Datacenters = []string{"dc1"}
		task := api.NewTask("t", driver)
		task.Config = map[string]interface{}{"run_for": "100ms", "exit_code": 0}
		job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
		if _, _, err := c.Jobs().Register(job, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, driver+"'s job to complete", func() (bool, string) {
			allocs, _, err := c.Jobs().Allocations(*job.ID, false, nil)
			if err != nil || len(allocs) != 1 {
				return false, "no allocation"
			}
			return allocs[0].ClientStatus == "complete", allocs[0].ClientStatus
		})
	}
}
