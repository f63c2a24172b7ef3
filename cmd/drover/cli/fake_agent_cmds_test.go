package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// twoNodesAgent is a fake agent with two nodes whose IDs share the
// prefix "ab", and a server-only /v1/agent/self.
func twoNodesAgent(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/nodes" && r.URL.Query().Get("prefix") == "ab":
			json.NewEncoder(w).Encode([]*api.NodeListStub{
				{ID: "ab000000-0000-0000-0000-000000000001", Datacenter: "dc1", Name: "one", Address: "10.0.0.1",
					Version: "0.1.0", SchedulingEligibility: "eligible", Status: "ready"},
				{ID: "ab000000-0000-0000-0000-000000000002", Datacenter: "dc1", Name: "two", Address: "10.0.0.2",
					Version: "0.1.0", SchedulingEligibility: "eligible", Status: "ready"},
			})
		case r.URL.Path == "/v1/agent/self":
			json.NewEncoder(w).Encode(&api.AgentSelf{Stats: map[string]map[string]string{"nomad": {"server": "true"}}})
		default:
			http.Error(w, "unexpected "+r.URL.String(), http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A prefix that matches several nodes lists them all, in full, as the
// compatible CLI's node lookups do.
func TestNodePrefixMatchesSeveral(t *testing.T) {
	srv := twoNodesAgent(t)
	table := `ID                                    DC   Name  Class   Address   Version  Drain  Eligibility  Status
ab000000-0000-0000-0000-000000000001  dc1  one   <none>  10.0.0.1  0.1.0    false  eligible     ready
ab000000-0000-0000-0000-000000000002  dc1  two   <none>  10.0.0.2  0.1.0    false  eligible     ready
`
	code, out, errOut := runCLI(t, srv.URL, "node", "eligibility", "-disable", "ab")
	if want := "Prefix matched multiple nodes\n\n" + table; code != 1 || out != "" || errOut != want {
		t.Errorf("node eligibility: exit %d, out %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
	code, out, errOut = runCLI(t, srv.URL, "monitor", "-node-id", "ab")
	if want := "==> Prefix matched multiple nodes\n\n" + table; code != 1 || out != "" || errOut != want {
		t.Errorf("monitor -node-id: exit %d, out %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

// -self on an agent that runs no client.
func TestNodeEligibilitySelfWithoutClient(t *testing.T) {
	srv := twoNodesAgent(t)
	code, out, errOut := runCLI(t, srv.URL, "node", "eligibility", "-self", "-enable")
	if code != 1 || out != "" || errOut != "Drover not running in client mode\n" {
		t.Errorf("exit %d, out %q, stderr %q", code, out, errOut)
	}
}
