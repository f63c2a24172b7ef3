package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
	"drover/testutil/freeport"
)

// syncBuffer is a bytes.Buffer safe to read while the agent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	return freeport.Get(t)
}

// startAgent runs "drover agent" in-process until the test ends and
// returns its output and an API client.
func startAgent(t *testing.T, args ...string) (*syncBuffer, *api.Client, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- MainContext(ctx, args, out, errOut, nil) }()
	stop := func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(60 * time.Second):
			// Say where it hangs: every goroutine's stack.
			buf := make([]byte, 1<<20)
			t.Logf("%s", buf[:runtime.Stack(buf, true)])
			t.Fatal("agent did not stop")
			return -1
		}
	}
	t.Cleanup(func() { cancel() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "HTTP API listening on ") {
		select {
		case code := <-done:
			t.Fatalf("agent exited with %d:\n%s\n%s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent did not start:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	addr := strings.Fields(out.String()[strings.Index(out.String(), "HTTP API listening on ")+len("HTTP API listening on "):])[0]
	client, err := api.NewClient(&api.Config{Address: "http://" + addr})
	if err != nil {
		t.Fatal(err)
	}
	return out, client, stop
}

// TestAgent_TutorialServerFile runs the tutorial's server.hcl (verbatim),
// with a second file moving it to free loopback ports: the banner, then a
// server that leads and answers the API, then a clean stop.
func TestAgent_TutorialServerFile(t *testing.T) {
	dir := t.TempDir()
	tutorial := `# Increase log verbosity
log_level = "DEBUG"

# Setup data dir
data_dir = "/tmp/server1"

# Enable the server
server {
    enabled = true

    # Self-elect, should be 3 or 5 for production
    bootstrap_expect = 1
}

# Advertise an accessible IP address so the server is reachable by other servers
# and clients. The IPs can be materialized by Terraform or be replaced by an
# init script.
advertise {
    http = "172.17.8.101:4646"
    rpc = "172.17.8.101:4647"
    serf = "172.17.8.101:4648"
}
`
	http, rpc, serf := freePort(t), freePort(t), freePort(t)
	override := fmt.Sprintf(`bind_addr = "127.0.0.1"
data_dir = %q
region = "lab"
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
`, filepath.Join(dir, "data"), http, rpc, serf)
	server := filepath.Join(dir, "server.hcl")
	local := filepath.Join(dir, "local.hcl")
	os.WriteFile(server, []byte(tutorial), 0o644)
	os.WriteFile(local, []byte(override), 0o644)

	out, client, stop := startAgent(t, "agent", "-config", server, "--config", local)
	for _, want := range []string{
		"==> WARNING: Bootstrap mode enabled! Potentially unsafe operation.",
		"==> Loaded configuration from " + server + ", " + local,
		"==> Starting Drover agent...",
		"==> Drover agent configuration:",
		fmt.Sprintf("       Advertise Addrs: HTTP: 127.0.0.1:%d; RPC: 127.0.0.1:%d; Serf: 127.0.0.1:%d", http, rpc, serf),
		"                Region: lab (DC: dc1)",
		"                Server: true",
		"==> Drover agent started! Log data will stream in below:",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	leader, err := client.Status().Leader()
	if err != nil || leader != fmt.Sprintf("127.0.0.1:%d", rpc) {
		t.Fatalf("leader = %q, %v", leader, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "server", "raft", "raft.db")); err != nil {
		t.Errorf("raft state not under data_dir/server: %v", err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("agent exited with %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "==> Caught signal, shutting down...") {
		t.Errorf("no shutdown line:\n%s", out.String())
	}
}

// TestAgent_Dev runs the in-memory dev agent and registers a job through
// the official client.
func TestAgent_Dev(t *testing.T) {
	dir := t.TempDir()
	ports := filepath.Join(dir, "ports.hcl")
	os.WriteFile(ports, []byte(fmt.Sprintf("ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n",
		freePort(t), freePort(t), freePort(t))), 0o644)
	out, client, stop := startAgent(t, "agent", "-dev", "-config", ports)
	if !strings.Contains(out.String(), "                Client: true") {
		t.Errorf("dev banner:\n%s", out.String())
	}
	// A mock task: this test is about the agent command, not Docker.
	src := `job "example" {
  datacenters = ["dc1"]
  group "cache" {
    task "redis" {
      driver = "mock"
      config {
        run_for = "0s"
      }
    }
  }
}`
	job, err := client.Jobs().ParseHCL(src, true)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := client.Jobs().Register(job, nil)
	if err != nil || resp.EvalID == "" {
		t.Fatalf("register: %+v %v", resp, err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("agent exited with %d", code)
	}
}

// devAgent starts an in-process dev agent (server and client, with the
// mock, raw_exec and docker drivers) on free ports for CLI tests, and
// returns its address and an API client.
func devAgent(t *testing.T) (string, *api.Client) {
	t.Helper()
	dir := t.TempDir()
	ports := filepath.Join(dir, "ports.hcl")
	os.WriteFile(ports, []byte(fmt.Sprintf("ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n",
		freePort(t), freePort(t), freePort(t))), 0o644)
	_, client, stop := startAgent(t, "agent", "-dev", "-config", ports)
	t.Cleanup(func() { stop() })
	// The client registers in the background; tests start once its node
	// is ready, as a student does after the agent's banner.
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodes, _, err := client.Nodes().List(nil)
		if err == nil && len(nodes) == 1 && nodes[0].Status == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dev agent's node is not ready: %v %v", err, nodes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return client.Address(), client
}

// runCLI runs a drover command against addr in-process, with dir as the
// working directory when not empty.
func runCLI(t *testing.T, addr string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := []string{"DROVER_ADDR=" + addr, noHints}
	code := MainContext(context.Background(), args, &out, &errOut, env)
	return code, out.String(), errOut.String()
}

// TestDevConnect: -dev-connect is the dev configuration bound to every
// interface, with the client fingerprinting the default interface; a
// configuration file's own choice stays.
func TestDevConnect(t *testing.T) {
	cfg := config.DevConfig()
	devConnect(cfg)
	if cfg.BindAddr != "0.0.0.0" || cfg.Client.NetworkInterface != "" || !cfg.DevMode {
		t.Fatalf("bind %q, interface %q, dev %v", cfg.BindAddr, cfg.Client.NetworkInterface, cfg.DevMode)
	}
	cfg = config.DevConfig()
	cfg.BindAddr, cfg.Client.NetworkInterface = "10.1.2.3", "eth1"
	devConnect(cfg)
	if cfg.BindAddr != "10.1.2.3" || cfg.Client.NetworkInterface != "eth1" {
		t.Fatalf("a configured address was replaced: %q %q", cfg.BindAddr, cfg.Client.NetworkInterface)
	}
}
