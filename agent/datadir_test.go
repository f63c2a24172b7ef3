package agent

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
)

// server { data_dir } overrides the top-level data_dir: raft lives under
// <server.data_dir>/server, and a restart finds every job there.
func TestServerDataDirIsHonoured(t *testing.T) {
	top, serverDir := t.TempDir(), t.TempDir()
	src := fmt.Sprintf(`name = "keeper"
data_dir  = %q
bind_addr = "127.0.0.1"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
server {
  enabled          = true
  bootstrap_expect = 1
  data_dir         = %q
}
`, top, freePort(t), freePort(t), freePort(t), serverDir)
	path := filepath.Join(t.TempDir(), "agent.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func() *Agent {
		cfg, _, err := config.Load([]string{path}, false)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(cfg, log.New(testLog{t}, "keeper ", 0))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := start()
	client, _ := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	job := api.NewServiceJob("kept", "kept", "global", 50)
	job.Datacenters = []string{"dc1"}
	job.AddTaskGroup(api.NewTaskGroup("g", 0).AddTask(api.NewTask("t", "mock")))
	resp, _, err := client.Jobs().Register(job, nil)
	if err != nil {
		a.Shutdown()
		t.Fatal(err)
	}
	a.Shutdown()

	if _, err := os.Stat(filepath.Join(serverDir, "server", "raft", "raft.db")); err != nil {
		t.Fatalf("raft is not under server.data_dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(top, "server")); err == nil {
		t.Fatalf("server state was written under the top-level data_dir too")
	}

	a = start()
	defer a.Shutdown()
	client, _ = api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	got, _, err := client.Jobs().Info("kept", nil)
	if err != nil || *got.JobModifyIndex != resp.JobModifyIndex {
		t.Fatalf("after the restart: %v %v (want JobModifyIndex %d)", err, got, resp.JobModifyIndex)
	}
}
