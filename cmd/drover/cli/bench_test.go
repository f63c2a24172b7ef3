package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"drover/agent/bench"
)

// drover bench runs a preset in-process and prints its result as JSON
// (or a table), and exits 0 once the outcome is verified.
func TestBench_JSONResult(t *testing.T) {
	code, out, errOut := run(t, "", "bench", "c100k", "-nodes", "10", "-allocs", "40", "-jobs", "2", "-json")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
	if !res.OK || res.Preset != "c100k" || res.Nodes != 10 || res.Allocs != 40 || res.Jobs != 2 ||
		res.Running != 40 || res.Raft.Total.Bytes == 0 {
		t.Fatalf("result: %+v", res)
	}
}

func TestBench_Table(t *testing.T) {
	code, out, errOut := run(t, "", "bench", "boot", "-nodes", "5")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, want := range []string{"preset", "boot", "ok: every allocation", "node ready → placed", "raft entries", "RSS"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// An outcome not reached in time still prints what was measured, then
// the error, and exits 1.
func TestBench_TimeoutExitsOne(t *testing.T) {
	code, out, errOut := run(t, "", "bench", "c100k", "-nodes", "2", "-allocs", "10", "-jobs", "1", "-timeout", "1ns")
	if code != 1 || !strings.Contains(out, "NOT REACHED") || !strings.Contains(errOut, "Error running bench c100k: outcome not reached: timed out") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestBench_Misuse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "This command takes one argument: a preset (c1k, c100k, churn, boot)"},
		{[]string{"bench", "c2m"}, `Unknown preset "c2m": one of c1k, c100k, churn, boot`},
		{[]string{"bench", "c100k", "-nodes", "x"}, `Error parsing -nodes: "x" is not a number`},
		{[]string{"bench", "c100k", "-jobs", "1"}, "use more jobs"},
		{[]string{"bench", "c1k", "-nodes", "3"}, "-nodes must be 1"},
	} {
		code, _, errOut := run(t, "", tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}
