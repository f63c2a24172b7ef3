package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// runHinted runs a command in-process against addr with exactly env
// (no NOMAD_CLI_SHOW_HINTS unless env has it), in dir.
func runHinted(t *testing.T, addr, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out, errOut bytes.Buffer
	code := MainContext(context.Background(), args, &out, &errOut, append([]string{"DROVER_ADDR=" + addr}, env...))
	return code, out.String(), errOut.String()
}

// hintLine is the hint as the CLI prints it on stderr.
func hintLine(desc, url string) string {
	return "\n\n==> " + desc + " in the Web UI: " + url + "\n"
}

// TestUIHints: with the agent's UI enabled, the commands that show a job,
// an allocation, a client, evaluations, deployments or the servers end
// with the address of the matching web UI page on stderr; stdout is the
// same as with the hints off; NOMAD_CLI_SHOW_HINTS=false (or 0) turns
// them off, and an agent without UI gives none.
func TestUIHints(t *testing.T) {
	dir := t.TempDir()
	addr, stop, err := startScriptAgent(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	if code, _, errOut := runHinted(t, addr, dir, nil, "job", "init", "-short"); code != 0 {
		t.Fatalf("job init: %d %s", code, errOut)
	}
	code, out, errOut := runHinted(t, addr, dir, nil, "job", "run", "-detach", "example.nomad")
	if code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	if want := hintLine("View this job", addr+"/ui/jobs/example@default"); !strings.HasSuffix(errOut, want) {
		t.Errorf("job run stderr %q, want it to end with %q", errOut, want)
	}
	if strings.Contains(out, "Web UI") {
		t.Errorf("job run: a hint on stdout:\n%s", out)
	}

	client, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, err := client.Nodes().List(nil)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("nodes: %v %v", nodes, err)
	}
	nodeID := nodes[0].ID
	evals, _, err := client.Evaluations().List(nil)
	if err != nil || len(evals) == 0 {
		t.Fatalf("evals: %v %v", evals, err)
	}
	evalID := evals[0].ID

	cases := []struct {
		args []string
		desc string
		path string
		// stable: stdout has no times or usage that may change
		// between two runs.
		stable bool
	}{
		{[]string{"job", "status", "example"}, "View this job", "/ui/jobs/example@default", false},
		{[]string{"job", "status"}, "View and manage jobs", "/ui/jobs", false},
		{[]string{"job", "deployments", "example"}, "View this job's deployments", "/ui/jobs/example@default/deployments", false},
		{[]string{"node", "status"}, "View and manage clients", "/ui/clients", true},
		{[]string{"node", "status", nodeID}, "View this client", "/ui/clients/" + nodeID, false},
		{[]string{"eval", "list"}, "View evaluations", "/ui/evaluations", true},
		{[]string{"eval", "status", evalID}, "View this evaluation", "/ui/evaluations/" + evalID, false},
		{[]string{"server", "members"}, "View and manage servers", "/ui/clients", true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := runHinted(t, addr, "", nil, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if want := hintLine(tc.desc, addr+tc.path); !strings.HasSuffix(errOut, want) {
				t.Errorf("stderr %q, want it to end with %q", errOut, want)
			}
			for _, off := range []string{"NOMAD_CLI_SHOW_HINTS=false", "NOMAD_CLI_SHOW_HINTS=0"} {
				code, offOut, offErr := runHinted(t, addr, "", []string{off}, tc.args...)
				if code != 0 || strings.Contains(offErr, "Web UI") {
					t.Errorf("%s: exit %d, stderr %q", off, code, offErr)
				}
				if tc.stable && offOut != out {
					t.Errorf("%s: stdout differs:\n%s\nwith hints:\n%s", off, offOut, out)
				}
			}
		})
	}

	// An allocation's page, once the job has one.
	allocs, _, err := client.Jobs().Allocations("example", false, nil)
	if err == nil && len(allocs) > 0 {
		_, _, errOut := runHinted(t, addr, "", nil, "alloc", "status", allocs[0].ID)
		if want := hintLine("View this allocation", addr+"/ui/allocations/"+allocs[0].ID); !strings.HasSuffix(errOut, want) {
			t.Errorf("alloc status stderr %q, want it to end with %q", errOut, want)
		}
	}

	// -json output is for programs: no hint.
	if _, _, errOut := runHinted(t, addr, "", nil, "node", "status", "-json"); strings.Contains(errOut, "Web UI") {
		t.Errorf("node status -json: a hint: %q", errOut)
	}
	// NOMAD_CLI_SHOW_HINTS=true shows them too; an address with a
	// trailing slash gives the same URL.
	if _, _, errOut := runHinted(t, addr+"/", "", []string{"NOMAD_CLI_SHOW_HINTS=true"}, "node", "status"); !strings.HasSuffix(errOut, hintLine("View and manage clients", addr+"/ui/clients")) {
		t.Errorf("NOMAD_CLI_SHOW_HINTS=true: stderr %q", errOut)
	}
	// -ui prints the page (and opens it: a no-op in tests) even with the
	// hints off.
	if _, _, errOut := runHinted(t, addr, "", []string{"NOMAD_CLI_SHOW_HINTS=false"}, "job", "status", "-ui", "example"); errOut != "==> View this job in the Web UI: "+addr+"/ui/jobs/example@default\n" {
		t.Errorf("job status -ui: stderr %q", errOut)
	}

	// ui [id] prints the page it opens.
	for _, tc := range []struct{ id, path string }{
		{"", "/ui/jobs"}, {"example", "/ui/jobs/example@default"}, {"exam", "/ui/jobs/example@default"},
		{nodeID, "/ui/clients/" + nodeID}, {evalID, "/ui/evaluations/" + evalID},
	} {
		args := []string{"ui"}
		if tc.id != "" {
			args = append(args, tc.id)
		}
		code, out, errOut := runHinted(t, addr, "", nil, args...)
		if want := "Opening URL \"" + addr + tc.path + "\"\n"; code != 0 || out != want {
			t.Errorf("%v: exit %d, stdout %q, want %q (stderr %q)", args, code, out, want, errOut)
		}
	}
	if code, _, errOut := runHinted(t, addr, "", nil, "ui", "no-such-thing"); code != 1 || !strings.Contains(errOut, `No job, allocation, node or evaluation with prefix or ID "no-such-thing" found`) {
		t.Errorf("ui no-such-thing: exit %d, stderr %q", code, errOut)
	}
}

// TestUIHints_UIDisabled: an agent with ui { enabled = false } gets no
// hints, and -ui says it is ignored.
func TestUIHints_UIDisabled(t *testing.T) {
	dir := t.TempDir()
	addr, stop, err := startScriptAgentWith(dir, "ui {\n  enabled = false\n}\n", func(client *api.Client) (bool, error) {
		nodes, _, err := client.Nodes().List(nil)
		return err == nil && len(nodes) == 1 && nodes[0].Status == "ready", err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for _, args := range [][]string{{"node", "status"}, {"server", "members"}, {"eval", "list"}} {
		code, out, errOut := runHinted(t, addr, "", nil, args...)
		if code != 0 || errOut != "" {
			t.Errorf("%v: exit %d, stderr %q\n%s", args, code, errOut, out)
		}
	}
	if _, _, errOut := runHinted(t, addr, "", nil, "job", "status", "-ui"); !strings.Contains(errOut, "-ui is ignored") {
		t.Errorf("job status -ui without UI: stderr %q", errOut)
	}
}

// TestUIHints_LookupFails: when the agent does not answer
// /v1/agent/self, the command prints no hint.
func TestUIHints_LookupFails(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/agent/self" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Nomad-Index", "1")
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	code, out, errOut := runHinted(t, srv.URL, "", nil, "job", "status")
	if code != 0 || errOut != "" || out != "No running jobs\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestUIHints_Env: how NOMAD_CLI_SHOW_HINTS is read, and that the lab's
// commands run with the hints off.
func TestUIHints_Env(t *testing.T) {
	for v, want := range map[string][2]bool{
		"": {false, false}, "false": {false, true}, "0": {false, true}, "FALSE": {false, true},
		"true": {true, true}, "1": {true, true}, "maybe": {false, false},
	} {
		s := &streams{Env: []string{"NOMAD_CLI_SHOW_HINTS=" + v}}
		if on, set := s.hintsSetting(); [2]bool{on, set} != want {
			t.Errorf("%q: on %v set %v, want %v", v, on, set, want)
		}
	}
	lab := &streams{Env: labEnv(&streams{Env: []string{"NOMAD_CLI_SHOW_HINTS=true", "DROVER_CLI_SHOW_HINTS=1"}}, "http://127.0.0.1:4646", t.TempDir(), "")}
	if on, set := lab.hintsSetting(); on || !set {
		t.Errorf("the lab's environment: hints on %v (set %v), want off", on, set)
	}
	for _, tc := range []struct{ id, ns, want string }{
		{"example", "", "/ui/jobs/example@default"},
		{"example", "default", "/ui/jobs/example@default"},
		{"web@v2", "default", "/ui/jobs/web@v2@default"},
		{"example", "prod", "/ui/jobs/example@prod"},
		{"a b", "default", "/ui/jobs/a%20b@default"},
	} {
		if got := jobUIPath(tc.id, tc.ns); got != tc.want {
			t.Errorf("jobUIPath(%q, %q) = %q, want %q", tc.id, tc.ns, got, tc.want)
		}
	}
	if got := (&streams{Env: []string{"NOMAD_ADDR=127.0.0.1:4646"}}).uiURL("/ui/jobs"); got != "http://127.0.0.1:4646/ui/jobs" {
		t.Errorf("uiURL = %q", got)
	}
}
