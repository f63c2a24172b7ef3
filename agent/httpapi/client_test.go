package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/agent/client"
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

// fakeLogClient is a client role that runs one allocation and serves its
// logs from memory. The rest of LocalClient is not implemented: a call to
// it panics.
type fakeLogClient struct {
	LocalClient
	allocID string
	log     []byte
	streams atomic.Int32 // StreamLogs calls
}

func (f *fakeLogClient) LocalAllocByPrefix(prefix string) (string, bool) {
	return f.allocID, strings.HasPrefix(f.allocID, prefix)
}

func (f *fakeLogClient) StreamLogs(ctx context.Context, allocID, task, stream string, follow bool, origin string, offset int64,
	emit func(client.LogChunk) error) error {
	f.streams.Add(1)
	offset = min(max(offset, 0), int64(len(f.log)))
	return emit(client.LogChunk{File: "alloc/logs/" + task + "." + stream + ".0", Offset: offset, Data: f.log[offset:]})
}

// TestClientLogs_BadOffset: the logs endpoint refuses an offset that is
// not a number with a 400 naming the parameter, as the fs stream does,
// before any log is read; a good offset still reads from there.
func TestClientLogs_BadOffset(t *testing.T) {
	t.Parallel()
	local := &fakeLogClient{allocID: "5b6c1d1e-0f3a-4c2d-9e8f-7a6b5c4d3e2f", log: []byte("hello\nworld\n")}
	noServer := func() (string, error) { return "", errors.New("no server in this test") }
	ts := httptest.NewServer(NewClientHandler(local, noServer, AgentInfo{NodeName: "client-one", Client: true}, nil))
	t.Cleanup(ts.Close)
	get := func(query string) (int, string) {
		t.Helper()
		res, err := http.Get(ts.URL + "/v1/client/fs/logs/" + local.allocID + "?task=web&type=stdout&plain=true" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, c := range []struct{ query, want string }{
		{"&offset=x", `error parsing offset: "x" is not a number`},
		{"&offset=2.5", `error parsing offset: "2.5" is not a number`},
		{"&offset=99999999999999999999", `error parsing offset: "99999999999999999999" is not a number`},
	} {
		if code, body := get(c.query); code != http.StatusBadRequest || body != c.want {
			t.Errorf("logs%s = %d %q, want 400 %q", c.query, code, body, c.want)
		}
	}
	if n := local.streams.Load(); n != 0 {
		t.Fatalf("refused requests read the log %d times", n)
	}
	if code, body := get("&offset=6"); code != http.StatusOK || body != "world\n" {
		t.Errorf("logs&offset=6 = %d %q", code, body)
	}
	if code, body := get(""); code != http.StatusOK || body != "hello\nworld\n" {
		t.Errorf("logs without offset = %d %q", code, body)
	}
}
