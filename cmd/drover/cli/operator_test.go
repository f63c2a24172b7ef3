package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// fakeAgent is an HTTP server standing in for an agent: it records every
// request and answers each path with a fixed status and body.
type fakeAgent struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	reqs   []fakeRequest
	status map[string]int
	bodies map[string]string
}

type fakeRequest struct {
	method string
	path   string
	query  url.Values
}

func newFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	f := &fakeAgent{t: t, status: map[string]int{}, bodies: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, fakeRequest{method: r.Method, path: r.URL.Path, query: r.URL.Query()})
		status, ok := f.status[r.URL.Path]
		body := f.bodies[r.URL.Path]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if status == http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Nomad-Index", "7")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeAgent) serve(path string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[path] = status
	f.bodies[path] = body
}

// requests returns what was received so far and forgets it.
func (f *fakeAgent) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	reqs := f.reqs
	f.reqs = nil
	return reqs
}

// only checks that exactly one request was made, and returns it.
func (f *fakeAgent) only(what string) fakeRequest {
	f.t.Helper()
	reqs := f.requests()
	if len(reqs) != 1 {
		f.t.Fatalf("%s: %d requests, want 1: %+v", what, len(reqs), reqs)
	}
	return reqs[0]
}

func (f *fakeAgent) none(what string) {
	f.t.Helper()
	if reqs := f.requests(); len(reqs) != 0 {
		f.t.Errorf("%s: made requests %+v, want none", what, reqs)
	}
}

func TestServerJoin(t *testing.T) {
	f := newFakeAgent(t)
	f.serve("/v1/agent/join", http.StatusOK, `{"num_joined":2,"error":""}`)

	code, out, errOut := runCLI(t, f.url, "server", "join", "10.0.0.8:4648", "10.0.0.9:4648")
	if code != 0 || out != "Joined 2 servers successfully\n" || errOut != "" {
		t.Errorf("join: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	req := f.only("join")
	if req.method != http.MethodPut || req.path != "/v1/agent/join" {
		t.Errorf("join sent %s %s", req.method, req.path)
	}
	if got := req.query["address"]; len(got) != 2 || got[0] != "10.0.0.8:4648" || got[1] != "10.0.0.9:4648" {
		t.Errorf("join addresses = %q", got)
	}

	// -address, with one dash, picks the agent over DROVER_ADDR.
	code, out, errOut = runCLI(t, "http://127.0.0.1:1", "server", "join", "-address", f.url, "10.0.0.8:4648")
	if code != 0 || out != "Joined 2 servers successfully\n" {
		t.Errorf("join -address: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if req := f.only("join -address"); req.query.Get("address") != "10.0.0.8:4648" {
		t.Errorf("join -address sent %v", req.query)
	}
}

func TestServerJoin_Errors(t *testing.T) {
	f := newFakeAgent(t)
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"error in body", http.StatusOK,
			`{"num_joined":0,"error":"1 error occurred:\n\t* Failed to join 10.0.0.8:4648: connection refused\n\n"}`,
			"Error joining: failed joining: 1 error occurred:\n\t* Failed to join 10.0.0.8:4648: connection refused\n\n\n"},
		{"none joined", http.StatusOK, `{"num_joined":0,"error":""}`,
			"Error joining: no servers were joined\n"},
		{"http error", http.StatusInternalServerError, "server is not a server",
			"Error joining: failed joining: Unexpected response code: 500 (server is not a server)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.serve("/v1/agent/join", tc.status, tc.body)
			code, out, errOut := runCLI(t, f.url, "server", "join", "10.0.0.8:4648")
			if code != 1 || out != "" || errOut != tc.wantErr {
				t.Errorf("exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errOut, tc.wantErr)
			}
			if req := f.only(tc.name); req.method != http.MethodPut || req.query.Get("address") != "10.0.0.8:4648" {
				t.Errorf("sent %+v", req)
			}
		})
	}

	code, out, errOut := runCLI(t, f.url, "server", "join")
	if code != 1 || out != "" || errOut != "One or more node addresses must be given as arguments\n"+
		"For additional help try 'drover server join -help'\n" {
		t.Errorf("join without addresses: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	f.none("join without addresses")

	code, out, errOut = runCLI(t, "http://127.0.0.1:1", "server", "join", "10.0.0.8:4648")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "Error joining: failed joining: ") {
		t.Errorf("join, agent unreachable: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestServerForceLeave(t *testing.T) {
	f := newFakeAgent(t)
	f.serve("/v1/agent/force-leave", http.StatusOK, "")

	code, out, errOut := runCLI(t, f.url, "server", "force-leave", "server-3.global")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("force-leave: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	req := f.only("force-leave")
	if req.method != http.MethodPut || req.path != "/v1/agent/force-leave" {
		t.Errorf("force-leave sent %s %s", req.method, req.path)
	}
	if got := req.query["node"]; len(got) != 1 || got[0] != "server-3.global" {
		t.Errorf("force-leave node = %q", got)
	}

	f.serve("/v1/agent/force-leave", http.StatusInternalServerError, "agent: member server-9.global not found")
	code, out, errOut = runCLI(t, f.url, "server", "force-leave", "server-9.global")
	want := "Error force-leaving server server-9.global: Unexpected response code: 500 " +
		"(agent: member server-9.global not found)\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("force-leave failing: exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errOut, want)
	}
	if req := f.only("force-leave failing"); req.query.Get("node") != "server-9.global" {
		t.Errorf("force-leave failing sent %v", req.query)
	}

	for _, args := range [][]string{{}, {"a.global", "b.global"}} {
		code, out, errOut := runCLI(t, f.url, append([]string{"server", "force-leave"}, args...)...)
		if code != 1 || out != "" || errOut != "This command takes one argument: <node>\n"+
			"For additional help try 'drover server force-leave -help'\n" {
			t.Errorf("force-leave %q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
		f.none("force-leave with wrong arguments")
	}
}

func TestOperatorRaftListPeers(t *testing.T) {
	f := newFakeAgent(t)
	// Not sorted, and with a peer no server knows: the table keeps the
	// agent's order and shows the stale peer as it comes.
	f.serve("/v1/operator/raft/configuration", http.StatusOK, `{
  "Index": 42,
  "Servers": [
    {"ID": "d7927f2b-067f-45a4-6266-af8bb84de082", "Node": "server-2.global", "Address": "10.1.0.20:4647",
     "Leader": false, "Voter": true, "RaftProtocol": "3"},
    {"ID": "c13f9998-a0f3-d765-0b52-55a0b3ce5f88", "Node": "server-1.global", "Address": "10.1.0.10:4647",
     "Leader": true, "Voter": true, "RaftProtocol": "3"},
    {"ID": "10.1.0.30:4647", "Node": "(unknown)", "Address": "10.1.0.30:4647",
     "Leader": false, "Voter": false, "RaftProtocol": "2"}
  ]
}`)
	want := "" +
		"Node             ID                                    Address         State     Voter  RaftProtocol\n" +
		"server-2.global  d7927f2b-067f-45a4-6266-af8bb84de082  10.1.0.20:4647  follower  true   3\n" +
		"server-1.global  c13f9998-a0f3-d765-0b52-55a0b3ce5f88  10.1.0.10:4647  leader    true   3\n" +
		"(unknown)        10.1.0.30:4647                        10.1.0.30:4647  follower  false  2\n"

	code, out, errOut := runCLI(t, f.url, "operator", "raft", "list-peers")
	if code != 0 || out != want || errOut != "" {
		t.Errorf("list-peers: exit %d, stderr %q\nstdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	req := f.only("list-peers")
	if req.method != http.MethodGet || req.path != "/v1/operator/raft/configuration" {
		t.Errorf("list-peers sent %s %s", req.method, req.path)
	}
	if req.query.Has("stale") {
		t.Errorf("list-peers asked for a stale answer: %v", req.query)
	}

	code, out, errOut = runCLI(t, f.url, "operator", "raft", "list-peers", "-stale")
	if code != 0 || out != want || errOut != "" {
		t.Errorf("list-peers -stale: exit %d, stderr %q\nstdout:\n%s", code, errOut, out)
	}
	if req := f.only("list-peers -stale"); !req.query.Has("stale") {
		t.Errorf("list-peers -stale did not ask for a stale answer: %v", req.query)
	}

	// A cluster of one, as a dev agent is.
	f.serve("/v1/operator/raft/configuration", http.StatusOK,
		`{"Index":1,"Servers":[{"ID":"0b8c","Node":"dev.global","Address":"127.0.0.1:4647","Leader":true,"Voter":true,"RaftProtocol":"3"}]}`)
	code, out, _ = runCLI(t, f.url, "operator", "raft", "list-peers")
	want = "Node        ID    Address         State   Voter  RaftProtocol\n" +
		"dev.global  0b8c  127.0.0.1:4647  leader  true   3\n"
	if code != 0 || out != want {
		t.Errorf("one server: exit %d\nstdout:\n%s\nwant:\n%s", code, out, want)
	}
	f.requests()
}

func TestOperatorRaftListPeers_Errors(t *testing.T) {
	f := newFakeAgent(t)
	f.serve("/v1/operator/raft/configuration", http.StatusInternalServerError, "No cluster leader")
	code, out, errOut := runCLI(t, f.url, "operator", "raft", "list-peers")
	want := "Failed to retrieve raft configuration: Unexpected response code: 500 (No cluster leader)\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("no leader: exit %d, stdout %q\nstderr %q\nwant   %q", code, out, errOut, want)
	}
	f.only("no leader")

	code, out, errOut = runCLI(t, f.url, "operator", "raft", "list-peers", "extra")
	if code != 1 || out != "" || errOut != "This command takes no arguments\n"+
		"For additional help try 'drover operator raft list-peers -help'\n" {
		t.Errorf("extra argument: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	f.none("extra argument")

	code, out, errOut = runCLI(t, "http://127.0.0.1:1", "operator", "raft", "list-peers")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "Failed to retrieve raft configuration: ") {
		t.Errorf("unreachable: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestOperator_Groups: "operator" and "operator raft" only hold
// subcommands and show their help.
func TestOperator_Groups(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"operator"}, []string{"drover operator raft list-peers", "raft "}},
		{[]string{"operator", "raft"}, []string{"drover operator raft list-peers -stale", "list-peers "}},
		{[]string{"operator", "raft", "list-peers", "-help"}, []string{"drover operator raft list-peers -stale", "--stale"}},
		{[]string{"server"}, []string{"join ", "force-leave ", "members ", "drover server join 10.0.0.8:4648"}},
		{[]string{"server", "join", "-h"}, []string{"drover server join 10.0.0.8:4648", "exit code 1"}},
		{[]string{"server", "force-leave", "-help"}, []string{"drover server force-leave server-3.global"}},
	} {
		code, out, errOut := runCLI(t, "http://127.0.0.1:1", tc.args...)
		if code != 0 || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	code, _, errOut := runCLI(t, "http://127.0.0.1:1", "operator", "bogus")
	if code != 1 || !strings.Contains(errOut, "For additional help try 'drover operator -help'") {
		t.Errorf("operator bogus: exit %d, stderr %q", code, errOut)
	}
}

// TestOperator_Help: every operator command has a short and a long
// description and an example, as the server commands do.
func TestOperator_Help(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s lacks a short or long description or an example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(sub)
			}
		}
	}
	walk(newOperatorCommand(&streams{Out: io.Discard, Err: io.Discard}))
}
