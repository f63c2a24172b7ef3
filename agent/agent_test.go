package agent

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
	"drover/testutil/freeport"
)

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func freePort(t *testing.T) int {
	t.Helper()
	return freeport.Get(t)
}

// startAgent starts an agent from HCL text, on free loopback ports, with
// its own data dir.
func startAgent(t *testing.T, name, hcl string) *Agent {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`name = %q
data_dir = %q
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
%s`, name, dir, freePort(t), freePort(t), freePort(t), hcl)
	path := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Load([]string{path}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, log.New(testLog{t}, name+" ", 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Tests leave nothing running: stop the tasks too, which a real
		// client deliberately does not do when it shuts down.
		if a.Client() != nil {
			a.Client().Stop()
		}
		a.Shutdown()
	})
	return a
}

// serverClientRawExec is the configuration of a one-agent cluster that
// runs raw_exec tasks: a server and a client with the driver enabled.
const serverClientRawExec = `server {
  enabled          = true
  bootstrap_expect = 1
}
client {
  enabled = true
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}`

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
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %s", what, last)
}

func apiClient(t *testing.T, a *Agent) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCluster_ServerAndTwoClients is the lab topology in one process: a
// server and two client-only agents on loopback, each with its own data
// dir and ports, talking real RPC. A client that stops heartbeating goes
// down and its allocations are replaced on the other; the log of an
// allocation on client-two is read through the server's address.
func TestCluster_ServerAndTwoClients(t *testing.T) {
	srv := startAgent(t, "server", `server {
  enabled = true
  bootstrap_expect = 1
  min_heartbeat_ttl = "300ms"
  heartbeat_grace = "300ms"
}`)
	clientHCL := fmt.Sprintf(`client {
  enabled = true
  servers = [%q]
  options {
    "driver.mock.enable" = "1"
  }
}`, srv.Server().RPCAddr())
	one := startAgent(t, "client-one", clientHCL)
	two := startAgent(t, "client-two", clientHCL)
	c := apiClient(t, srv)
	waitFor(t, 15*time.Second, "two ready nodes", func() (bool, string) {
		nodes, _, err := c.Nodes().List(nil)
		if err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, n := range nodes {
			if n.Status == "ready" {
				ready++
			}
		}
		return ready == 2, fmt.Sprintf("%d ready", ready)
	})

	job, err := c.Jobs().ParseHCL(`job "echo" {
  datacenters = ["dc1"]
  group "g" {
    count = 4
    update {
      min_healthy_time = "100ms"
    }
    task "t" {
      driver = "mock"
      config {
        run_for       = "0s"
        stdout_string = "hello from the task\n"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}`, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	running := func() map[string]int {
		allocs, _, _ := c.Jobs().Allocations("echo", false, nil)
		per := map[string]int{}
		for _, a := range allocs {
			if a.ClientStatus == "running" && a.DesiredStatus == "run" {
				per[a.NodeID]++
			}
		}
		return per
	}
	waitFor(t, 20*time.Second, "4 running over both clients", func() (bool, string) {
		per := running()
		return per[one.Client().NodeID()]+per[two.Client().NodeID()] == 4 && len(per) == 2, fmt.Sprint(per)
	})

	// The log of an allocation on client-two, read through the server.
	allocs, _, _ := c.Jobs().Allocations("echo", false, nil)
	var onTwo string
	for _, a := range allocs {
		if a.NodeID == two.Client().NodeID() && a.DesiredStatus == "run" {
			onTwo = a.ID
		}
	}
	waitFor(t, 10*time.Second, "the log through the server", func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=t&type=stdout&plain=true", srv.HTTPAddr(), onTwo))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && string(body) == "hello from the task\n", fmt.Sprintf("%d %q", resp.StatusCode, body)
	})
	// And through the official client's framed stream, from client-one's
	// address (forwarded to a server, then to client-two).
	viaOne := apiClient(t, one)
	alloc, _, err := viaOne.Allocations().Info(onTwo, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel := make(chan struct{})
	frames, errs := viaOne.AllocFS().Logs(alloc, false, "t", "stdout", "start", 0, cancel, nil)
	var got strings.Builder
	for done := false; !done; {
		select {
		case f, ok := <-frames:
			if !ok {
				done = true
				break
			}
			got.Write(f.Data)
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no log frames")
		}
	}
	close(cancel)
	if got.String() != "hello from the task\n" {
		t.Fatalf("framed log: %q", got.String())
	}

	// client-one dies: its allocations are lost and replaced on client-two.
	lost := one.Client().NodeID()
	one.Shutdown()
	waitFor(t, 30*time.Second, "all 4 on client-two", func() (bool, string) {
		per := running()
		node, _, err := c.Nodes().Info(lost, nil)
		if err != nil {
			return false, err.Error()
		}
		return per[two.Client().NodeID()] == 4 && node.Status == "down", fmt.Sprintf("%v, client-one %s", per, node.Status)
	})
}

// TestRawExec_RefusedUnlessEnabled: a client that did not enable raw_exec
// is filtered out with "missing drivers"; one that did runs the task.
func TestRawExec_RefusedUnlessEnabled(t *testing.T) {
	srv := startAgent(t, "server", `server {
  enabled = true
  bootstrap_expect = 1
}`)
	plain := startAgent(t, "plain", fmt.Sprintf(`client {
  enabled = true
  servers = [%q]
}`, srv.Server().RPCAddr()))
	c := apiClient(t, srv)
	waitFor(t, 15*time.Second, "the node", func() (bool, string) {
		n, _, err := c.Nodes().Info(plain.Client().NodeID(), nil)
		if err != nil {
			return false, err.Error()
		}
		return n.Status == "ready", n.Status
	})
	job, err := c.Jobs().ParseHCL(`job "hello" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from raw_exec"]
      }
    }
  }
}`, true)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := c.Jobs().Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the placement failure", func() (bool, string) {
		e, _, err := c.Evaluations().Info(resp.EvalID, nil)
		if err != nil || e.Status != "complete" {
			return false, fmt.Sprint(err)
		}
		m := e.FailedTGAllocs["g"]
		return m != nil && m.ConstraintFiltered["missing drivers"] == 1, fmt.Sprintf("%+v", m)
	})

	enabled := startAgent(t, "enabled", fmt.Sprintf(`client {
  enabled = true
  servers = [%q]
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}`, srv.Server().RPCAddr()))
	waitFor(t, 20*time.Second, "the batch task done on the enabled client", func() (bool, string) {
		allocs, _, err := c.Jobs().Allocations("hello", false, nil)
		if err != nil || len(allocs) != 1 {
			return false, fmt.Sprint(len(allocs), err)
		}
		return allocs[0].ClientStatus == "complete" && allocs[0].NodeID == enabled.Client().NodeID(), allocs[0].ClientStatus
	})
	allocs, _, _ := c.Jobs().Allocations("hello", false, nil)
	res, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=t&type=stdout&plain=true", srv.HTTPAddr(), allocs[0].ID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "hello from raw_exec\n" {
		t.Fatalf("log: %d %q", res.StatusCode, body)
	}
}
