package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestClientHandler_AgentSelfIsLocal: a client-only agent answers
// /v1/agent/self about itself, with its own node ID, and not with the
// identity of the server it forwards the rest of the API to.
func TestClientHandler_AgentSelfIsLocal(t *testing.T) {
	t.Parallel()
	srv := newTestAgent(t)
	const nodeID = "5b6c1d1e-0f3a-4c2d-9e8f-7a6b5c4d3e2f"
	info := AgentInfo{
		NodeName: "client-one", Datacenter: "dc1", Version: "0.1.0-test",
		Client: true, NodeID: nodeID,
	}
	serverHTTP := func() (string, error) { return srv.info.HTTPAddr, nil }
	ts := httptest.NewUnstartedServer(nil)
	info.HTTPAddr = ts.Listener.Addr().String()
	ts.Config.Handler = NewClientHandler(nil, serverHTTP, info, nil)
	ts.Start()
	t.Cleanup(ts.Close)
	c, err := api.NewClient(&api.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}

	self, err := c.Agent().Self()
	if err != nil {
		t.Fatalf("self: %v", err)
	}
	if got := self.Stats["client"]["node_id"]; got != nodeID {
		t.Errorf("stats.client.node_id = %q, want %q (stats %+v)", got, nodeID, self.Stats)
	}
	if got := self.Stats["client"]["node_name"]; got != "client-one" {
		t.Errorf("stats.client.node_name = %q", got)
	}
	if _, ok := self.Stats["nomad"]; ok {
		t.Errorf("a client-only agent reports server stats: %+v", self.Stats["nomad"])
	}
	if _, ok := self.Stats["raft"]; ok {
		t.Errorf("a client-only agent reports raft stats: %+v", self.Stats["raft"])
	}
	if self.Stats["runtime"]["os"] == "" {
		t.Errorf("no runtime stats: %+v", self.Stats)
	}
	if self.Member.Name != "client-one" || self.Member.Status != "alive" ||
		self.Member.Addr != "127.0.0.1" || self.Member.Tags["dc"] != "dc1" || self.Member.Tags["region"] != "global" {
		t.Errorf("member: %+v", self.Member)
	}
	if self.Config["NodeName"] != "client-one" || self.Config["Region"] != "global" {
		t.Errorf("config: %+v", self.Config)
	}
	if s, _ := self.Config["Server"].(map[string]interface{}); s["Enabled"] != false {
		t.Errorf("config Server: %+v", self.Config["Server"])
	}
	if cl, _ := self.Config["Client"].(map[string]interface{}); cl["Enabled"] != true {
		t.Errorf("config Client: %+v", self.Config["Client"])
	}
	if name, err := c.Agent().NodeName(); err != nil || name != "client-one" {
		t.Errorf("node name: %v %q", err, name)
	}

	// The rest of the API still comes from the server.
	leader, err := c.Status().Leader()
	if err != nil || leader != srv.srv.RPCAddr() {
		t.Errorf("leader through the client: %v %q, want %q", err, leader, srv.srv.RPCAddr())
	}
	members, err := c.Agent().Members()
	if err != nil || members.ServerName != "drover-test" {
		t.Errorf("members through the client: %v %+v", err, members)
	}
	// The server's own self is unchanged.
	sself, err := srv.client.Agent().Self()
	if err != nil || sself.Stats["nomad"]["server"] != "true" || sself.Stats["client"] != nil ||
		!strings.HasPrefix(sself.Member.Name, "drover-test.") {
		t.Errorf("server self: %v %+v %+v", err, sself.Member, sself.Stats)
	}
}
