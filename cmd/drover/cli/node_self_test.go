package cli

import (
	"fmt"
	"log"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/agent"
	"drover/agent/config"
)

// selfTestAgent starts an embedded agent from cfg on free loopback ports,
// with its own data dir, and stops it (and its tasks) when the test ends.
func selfTestAgent(t *testing.T, cfg *config.Config, name string) (*agent.Agent, *api.Client) {
	t.Helper()
	cfg.Name = name
	cfg.Ports.HTTP, cfg.Ports.RPC, cfg.Ports.Serf = freePort(t), freePort(t), freePort(t)
	cfg.BindAddr = "127.0.0.1"
	cfg.DataDir = filepath.Join(t.TempDir(), name)
	cfg.MarkSet("name", "ports.http", "ports.rpc", "ports.serf", "bind_addr", "data_dir")
	cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(cfg, log.New(testWriter{t}, name+" ", 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c := a.Client(); c != nil {
			c.Stop()
		}
		a.Shutdown()
	})
	c, err := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

// testWriter logs an agent's output through the test, until it ends.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestNodeSelf_ClientOnlyAgents: -self asked of a client-only agent (a
// client joined to a separate server, as in the lab's cluster) is that
// client's node, for node status and node drain alike.
func TestNodeSelf_ClientOnlyAgents(t *testing.T) {
	srvCfg := config.Default()
	srvCfg.Server.Enabled, srvCfg.Server.BootstrapExpect = true, 1
	srvCfg.MarkSet("server.enabled", "server.bootstrap_expect")
	srv, sc := selfTestAgent(t, srvCfg, "server")
	clients := map[string]*agent.Agent{}
	for _, name := range []string{"client-one", "client-two"} {
		cfg := config.Default()
		cfg.Client.Enabled = true
		cfg.Client.Servers = []string{srv.Server().RPCAddr()}
		cfg.Client.Options = map[string]string{"driver.mock.enable": "1"}
		cfg.MarkSet("client.enabled", "client.servers", "client.options")
		clients[name], _ = selfTestAgent(t, cfg, name)
	}
	one, two := clients["client-one"], clients["client-two"]
	oneID, twoID := one.Client().NodeID(), two.Client().NodeID()
	clusterWait(t, "two ready nodes", func() bool {
		nodes, _, err := sc.Nodes().List(nil)
		ready := 0
		for _, n := range nodes {
			if err == nil && n.Status == "ready" {
				ready++
			}
		}
		return ready == 2
	})

	// The official client, asked through client-one, reports client-one.
	oc, err := api.NewClient(&api.Config{Address: "http://" + one.HTTPAddr()})
	if err != nil {
		t.Fatal(err)
	}
	self, err := oc.Agent().Self()
	if err != nil {
		t.Fatal(err)
	}
	if got := self.Stats["client"]["node_id"]; got != oneID {
		t.Errorf("Agent().Self() through client-one: node_id %q, want %q", got, oneID)
	}
	if name, err := oc.Agent().NodeName(); err != nil || name != "client-one" {
		t.Errorf("Agent().NodeName() through client-one: %v %q", err, name)
	}

	for name, want := range map[string]string{"client-one": oneID, "client-two": twoID} {
		code, out, errOut := runCLI(t, clients[name].HTTPAddr(), "node", "status", "-self")
		if code != 0 {
			t.Fatalf("node status -self against %s: exit %d\n%s\n%s", name, code, out, errOut)
		}
		if got := clusterKV(t, out, "ID"); got != want {
			t.Errorf("node status -self against %s: ID %q, want %q", name, got, want)
		}
		if got := clusterKV(t, out, "Name"); got != name {
			t.Errorf("node status -self against %s: Name %q", name, got)
		}
	}
	// A server-only agent has no node of its own.
	code, _, errOut := runCLI(t, srv.HTTPAddr(), "node", "status", "-self")
	if code != 1 || !strings.Contains(errOut, "Drover not running in client mode") {
		t.Errorf("node status -self against the server: exit %d, %q", code, errOut)
	}

	code, out, errOut := runCLI(t, one.HTTPAddr(), "node", "drain", "-self", "-enable", "-yes", "-detach")
	if want := fmt.Sprintf("Node %q drain strategy set\n", oneID); code != 0 || out != want {
		t.Fatalf("node drain -self against client-one: exit %d, %q (want %q)\n%s", code, out, want, errOut)
	}
	n1, _, err := sc.Nodes().Info(oneID, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The node is empty, so its drain may already have completed: what
	// counts is that the drain was set on it and left it ineligible.
	drained := false
	for _, e := range n1.Events {
		drained = drained || e.Message == "Node drain strategy set"
	}
	if !drained || n1.SchedulingEligibility != "ineligible" {
		t.Errorf("client-one after drain -self: drain set %v, eligibility %q", drained, n1.SchedulingEligibility)
	}
	n2, _, err := sc.Nodes().Info(twoID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n2.DrainStrategy != nil || n2.Drain || n2.SchedulingEligibility != "eligible" {
		t.Errorf("client-two drained by -self asked of client-one: drain %+v, eligibility %q", n2.DrainStrategy, n2.SchedulingEligibility)
	}
}
