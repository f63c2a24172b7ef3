package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestAllocCommandsAmbiguousPrefix: every new alloc command lists the
// allocations a prefix matches (on stderr, exit 1), as the compatible CLI
// does; -verbose lengthens the IDs. Against a fake agent, since real IDs
// rarely share a prefix.
func TestAllocCommandsAmbiguousPrefix(t *testing.T) {
	now := time.Now().UnixNano()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/allocations" || r.URL.Query().Get("prefix") != "ab" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]*api.AllocationListStub{
			{ID: "ab000000-0000-0000-0000-000000000001", NodeID: "11111111-0000-0000-0000-000000000000", TaskGroup: "cache",
				JobVersion: 2, DesiredStatus: "run", ClientStatus: "running", CreateTime: now, ModifyTime: now, CreateIndex: 20},
			{ID: "ab000000-0000-0000-0000-000000000002", NodeID: "11111111-0000-0000-0000-000000000000", TaskGroup: "cache",
				JobVersion: 1, DesiredStatus: "stop", ClientStatus: "complete", CreateTime: now, ModifyTime: now, CreateIndex: 10},
		})
	}))
	defer srv.Close()

	for _, args := range [][]string{
		{"alloc", "stop", "ab"}, {"alloc", "restart", "ab"}, {"alloc", "signal", "ab"},
		{"alloc", "fs", "ab"}, {"fs", "ab", "alloc"}, {"alloc", "exec", "ab", "ls"}, {"exec", "ab", "ls"},
	} {
		code, out, errOut := runCLI(t, srv.URL, args...)
		if code != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
			continue
		}
		wantLines(t, strings.Join(args, " "), errOut,
			`Prefix matched multiple allocations`,
			``,
			`ID        Node ID   Task Group  Version  Desired  Status    Created  Modified`,
			`ab000000  11111111  cache       2        run      running   0s ago   0s ago`,
			`ab000000  11111111  cache       1        stop     complete  0s ago   0s ago`,
		)
	}
	for _, args := range [][]string{
		{"alloc", "stop", "-verbose", "ab"}, {"alloc", "restart", "-verbose", "ab"},
		{"alloc", "signal", "-verbose", "ab"}, {"alloc", "fs", "-verbose", "ab"},
	} {
		code, _, errOut := runCLI(t, srv.URL, args...)
		if code != 1 || !strings.Contains(errOut, "\nab000000-0000-0000-0000-000000000001  <none>   11111111-0000-0000-0000-000000000000") ||
			!strings.Contains(errOut, "Eval ID") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestAllocStopError: the agent refusing the stop is reported as the
// compatible CLI words it.
func TestAllocStopError(t *testing.T) {
	alloc := &api.Allocation{ID: "ab000000-0000-0000-0000-000000000001", Namespace: "default", TaskGroup: "cache"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/allocations":
			json.NewEncoder(w).Encode([]*api.AllocationListStub{{ID: alloc.ID}})
		case r.URL.Path == "/v1/allocation/"+alloc.ID:
			json.NewEncoder(w).Encode(alloc)
		case r.URL.Path == "/v1/allocation/"+alloc.ID+"/stop" && r.Method == http.MethodPut:
			http.Error(w, "No cluster leader", http.StatusInternalServerError)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	code, out, errOut := runCLI(t, srv.URL, "alloc", "stop", alloc.ID)
	if code != 1 || out != "" || errOut != "Error stopping allocation: Unexpected response code: 500 (No cluster leader)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
