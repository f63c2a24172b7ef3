package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// unplaceableJob needs a driver no node has.
const unplaceableJob = `job "broken" {
  datacenters = ["dc1"]

  group "app" {
    task "app" {
      driver = "nonexistent"
    }
  }
}
`

// TestEvalStatus runs "eval status" for a placed job and for one that
// cannot be placed.
func TestEvalStatus(t *testing.T) {
	addr, client := devAgent(t)
	alloc := startJob(t, client, groupPortJob)
	eval8 := alloc.EvalID[:8]

	t.Run("placed", func(t *testing.T) {
		code, out, errOut := runOwn(t, addr, "eval", "status", eval8)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantLines(t, "eval status", out,
			`ID                 = `+eval8,
			`Create Time        = `+ago,
			`Modify Time        = `+ago,
			`Status             = complete`,
			`Status Description = complete`,
			`Type               = service`,
			`TriggeredBy        = job-register`,
			`Job ID             = cache`,
			`Priority           = 50`,
			`Placement Failures = false`,
		)
	})

	t.Run("legacy eval-status", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "eval-status", alloc.EvalID)
		if code != 0 || !strings.HasPrefix(out, "ID                 = "+eval8+"\n") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("explain", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "eval", "status", "-explain", eval8)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		re := regexp.MustCompile(`(?m)^Placement Failures = false\n\nDecisions\nName +Alloc ID +Action +Reason\ncache\.cache\[0\] +` +
			alloc.ID[:8] + ` +place +\S.*$`)
		if !re.MatchString(out) {
			t.Fatalf("no decisions table in:\n%s", out)
		}
	})

	t.Run("verbose", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "eval", "status", "-verbose", eval8)
		for _, want := range []string{"ID                 = " + alloc.EvalID + "\n", "Previous Eval      = <none>\n", "Blocked Eval       = <none>\n"} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("exit %d, no %q in:\n%s", code, want, out)
			}
		}
		if !regexp.MustCompile(`(?m)^Create Time        = ` + rfc3339 + `$`).MatchString(out) {
			t.Errorf("verbose times are not RFC 3339:\n%s", out)
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "eval", "status", "-json", eval8)
		var got evalWithDecisions
		if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
			t.Fatalf("exit %d, %v:\n%s", code, err, out)
		}
		if got.ID != alloc.EvalID || len(got.Decisions) == 0 || !strings.Contains(out, "\n    \"ID\": ") {
			t.Fatalf("decoded %+v from:\n%s", got, out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			err  string
		}{
			{[]string{"eval", "status", "0000000a"}, "No evaluation(s) with prefix or id \"0000000a\" found\n"},
			{[]string{"eval-status", "0000000a"}, "No evaluation(s) with prefix or id \"0000000a\" found\n"},
			{[]string{"eval", "status", eval8[:1]}, "Identifier must contain at least two characters.\n"},
			{[]string{"eval", "status"}, "This command takes one argument: <evaluation>\nFor additional help try 'drover eval status -help'\n"},
		} {
			code, out, errOut := runOwn(t, addr, tc.args...)
			if code != 1 || out != "" || errOut != tc.err {
				t.Errorf("%q: exit %d, stdout %q, stderr %q (want %q)", tc.args, code, out, errOut, tc.err)
			}
		}
	})

	t.Run("placement failure", func(t *testing.T) {
		job, err := client.Jobs().ParseHCL(unplaceableJob, true)
		if err != nil {
			t.Fatal(err)
		}
		resp, _, err := client.Jobs().Register(job, nil)
		if err != nil {
			t.Fatal(err)
		}
		var eval *api.Evaluation
		waitFor(t, "the evaluation to finish", func() bool {
			eval, _, err = client.Evaluations().Info(resp.EvalID, nil)
			return err == nil && eval.Status == "complete" && eval.BlockedEval != ""
		})
		code, out, errOut := runOwn(t, addr, "eval", "status", "-explain", resp.EvalID[:8])
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantLines(t, "eval status", out,
			`ID                 = `+resp.EvalID[:8],
			`Create Time        = `+ago,
			`Modify Time        = `+ago,
			`Status             = complete`,
			`Status Description = complete`,
			`Type               = service`,
			`TriggeredBy        = job-register`,
			`Job ID             = broken`,
			`Priority           = 50`,
			`Placement Failures = true`,
			``,
			`Failed Placements`,
			`Task Group "app" \(failed to place 1 allocation\):`,
			`  \* Constraint "missing drivers": 1 nodes excluded by filter`,
			``,
			`Evaluation "`+eval.BlockedEval[:8]+`" waiting for additional capacity to place remainder`,
			``,
			`Decisions`,
			`Name +Alloc ID +Action +Reason`,
			`broken\.app\[0\] +<none> +failed to place +\S.*`,
		)

		// The blocked evaluation is still waiting.
		code, out, _ = runOwn(t, addr, "eval", "status", eval.BlockedEval[:8])
		if code != 0 || !strings.Contains(out, "Status             = blocked\n") ||
			!strings.Contains(out, "Placement Failures = N/A - In Progress\n") ||
			!strings.Contains(out, "TriggeredBy        = queued-allocs\n") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}

// TestEvalAmbiguousPrefix lists the evaluations a prefix matches, against
// a fake agent.
func TestEvalAmbiguousPrefix(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/evaluations" || r.URL.Query().Get("prefix") != "cd" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]*api.Evaluation{
			{ID: "cd000000-0000-0000-0000-000000000001", Priority: 50, TriggeredBy: "job-register", JobID: "example", Status: "complete"},
			{ID: "cd000000-0000-0000-0000-000000000002", Priority: 50, TriggeredBy: "queued-allocs", JobID: "example", Status: "blocked"},
		})
	}))
	defer srv.Close()
	code, out, errOut := runOwn(t, srv.URL, "eval", "status", "cd")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantLines(t, "eval status cd", out,
		`Prefix matched multiple evaluations`,
		``,
		`ID        Priority  Triggered By   Job ID   Status    Placement Failures`,
		`cd000000  50        job-register   example  complete  false`,
		`cd000000  50        queued-allocs  example  blocked   N/A - In Progress`,
	)
}

// TestEvalFormatAllocMetrics covers every kind of reason, in order.
func TestEvalFormatAllocMetrics(t *testing.T) {
	m := &api.AllocationMetric{
		NodesEvaluated:     0,
		NodesAvailable:     map[string]int{"dc2": 0, "dc1": 3},
		ClassFiltered:      map[string]int{"gpu": 2},
		ConstraintFiltered: map[string]int{"missing drivers": 1, "${attr.kernel.name} = linux": 2},
		NodesExhausted:     3,
		ClassExhausted:     map[string]int{"small": 1},
		DimensionExhausted: map[string]int{"memory": 2, "cpu": 1},
		QuotaExhausted:     []string{"cpu"},
		AllocationTime:     time.Millisecond,
	}
	want := `  * No nodes were eligible for evaluation
  * No nodes are available in datacenter "dc2"
  * Class "gpu": 2 nodes excluded by filter
  * Constraint "${attr.kernel.name} = linux": 2 nodes excluded by filter
  * Constraint "missing drivers": 1 nodes excluded by filter
  * Resources exhausted on 3 nodes
  * Class "small" exhausted on 1 nodes
  * Dimension "cpu" exhausted on 1 nodes
  * Dimension "memory" exhausted on 2 nodes
  * Quota limit hit "cpu"
`
	if got := formatAllocMetrics(m, false, "  "); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	m = &api.AllocationMetric{NodesEvaluated: 1, ScoreMetaData: []*api.NodeScoreMeta{
		{NodeID: "abcdef0123", Scores: map[string]float64{"binpack": 0.5}, NormScore: 0.5}}}
	if got := formatAllocMetrics(m, true, ""); got != "* Score \"abcdef01.binpack\" = 0.500000\n* Score \"abcdef01.normalized-score\" = 0.500000\n" {
		t.Errorf("scores: %q", got)
	}
	if formatAllocMetrics(nil, false, "") != "" {
		t.Error("nil metric")
	}
}
