package agent

import (
	"fmt"
	"testing"
	"time"
)

// TestAgentSelf_ClientOnlyReportsItself: /v1/agent/self on a client-only
// agent (joined to a separate server) reports that agent and its own node,
// while the server's and the rest of the API are unchanged.
func TestAgentSelf_ClientOnlyReportsItself(t *testing.T) {
	srv := startAgent(t, "server", `server {
  enabled = true
  bootstrap_expect = 1
}`)
	clientHCL := fmt.Sprintf(`client {
  enabled = true
  servers = [%q]
}`, srv.Server().RPCAddr())
	one := startAgent(t, "client-one", clientHCL)
	two := startAgent(t, "client-two", clientHCL)
	sc := apiClient(t, srv)
	waitFor(t, 15*time.Second, "two ready nodes", func() (bool, string) {
		nodes, _, err := sc.Nodes().List(nil)
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

	for _, a := range []*Agent{one, two} {
		c := apiClient(t, a)
		self, err := c.Agent().Self()
		if err != nil {
			t.Fatalf("self of %s: %v", a.HTTPAddr(), err)
		}
		id := self.Stats["client"]["node_id"]
		if id == "" || id != a.Client().NodeID() {
			t.Errorf("self of %s: node_id %q, want %q (stats %+v)", a.HTTPAddr(), id, a.Client().NodeID(), self.Stats)
		}
		node, _, err := c.Nodes().Info(id, nil)
		if err != nil {
			t.Fatalf("node %s through its own agent: %v", id, err)
		}
		name, err := c.Agent().NodeName()
		if err != nil || name != node.Name || self.Member.Name != node.Name {
			t.Errorf("node name: %v %q, member %q, node %q", err, name, self.Member.Name, node.Name)
		}
		if self.Stats["nomad"] != nil || self.Config["Server"].(map[string]interface{})["Enabled"] != false {
			t.Errorf("a client-only agent reports a server: %+v %+v", self.Stats["nomad"], self.Config["Server"])
		}
		// Forwarded endpoints still answer as the server does.
		if leader, err := c.Status().Leader(); err != nil || leader != srv.Server().RPCAddr() {
			t.Errorf("leader through %s: %v %q", a.HTTPAddr(), err, leader)
		}
	}
	if one.Client().NodeID() == two.Client().NodeID() {
		t.Fatalf("both clients have node %s", one.Client().NodeID())
	}

	self, err := sc.Agent().Self()
	if err != nil {
		t.Fatal(err)
	}
	if self.Stats["nomad"]["server"] != "true" || self.Stats["nomad"]["leader"] != "true" ||
		self.Stats["client"] != nil || self.Member.Name != "server.global" {
		t.Errorf("server self: member %+v stats %+v", self.Member, self.Stats)
	}
}

// TestAgentSelf_ReportsUI: /v1/agent/self reports the ui block's settings
// under config.UI, which the CLI reads to decide on its web UI hints.
func TestAgentSelf_ReportsUI(t *testing.T) {
	for _, tc := range []struct {
		hcl           string
		enabled, show bool
	}{
		{"", true, true},
		{"ui {\n  enabled = false\n}", false, true},
		{"ui {\n  show_cli_hints = false\n}", true, false},
	} {
		a := startAgent(t, "ui", "server {\n  enabled = true\n  bootstrap_expect = 1\n}\n"+tc.hcl)
		self, err := apiClient(t, a).Agent().Self()
		if err != nil {
			t.Fatal(err)
		}
		ui, _ := self.Config["UI"].(map[string]interface{})
		if ui["Enabled"] != tc.enabled || ui["ShowCLIHints"] != tc.show {
			t.Errorf("%q: config.UI %+v, want Enabled %v ShowCLIHints %v", tc.hcl, self.Config["UI"], tc.enabled, tc.show)
		}
	}
}
