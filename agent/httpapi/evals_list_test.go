package httpapi

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestEvalsListPaging: ?job=, ?status=, ?per_page= with X-Nomad-NextToken
// and ?next_token=, ?reverse=, through the official client.
func TestEvalsListPaging(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	for i := 1; i <= 5; i++ {
		reg, _, err := a.client.Jobs().Register(smallJob(fmt.Sprintf("job%d", i), 1), nil)
		if err != nil {
			t.Fatal(err)
		}
		a.waitEvalDone(t, reg.EvalID)
	}
	all, _, err := a.client.Evaluations().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 5 {
		t.Fatalf("%d evaluations, want at least 5", len(all))
	}
	// The client sorts newest first.
	for i := 1; i < len(all); i++ {
		if all[i-1].CreateIndex < all[i].CreateIndex {
			t.Fatalf("not newest first: %d before %d", all[i-1].CreateIndex, all[i].CreateIndex)
		}
	}

	// Pages of two, oldest first from page to page, until no token.
	walk := func(reverse bool) []*api.Evaluation {
		var got []*api.Evaluation
		token := ""
		for pages := 0; ; pages++ {
			if pages > len(all) {
				t.Fatal("paging does not end")
			}
			evals, meta, err := a.client.Evaluations().List(&api.QueryOptions{PerPage: 2, NextToken: token, Reverse: reverse})
			if err != nil {
				t.Fatal(err)
			}
			if len(evals) > 2 || len(evals) == 0 {
				t.Fatalf("a page of %d", len(evals))
			}
			sort.Slice(evals, func(i, j int) bool { return evals[i].CreateIndex < evals[j].CreateIndex })
			if reverse {
				sort.Slice(evals, func(i, j int) bool { return evals[i].CreateIndex > evals[j].CreateIndex })
			}
			got = append(got, evals...)
			if meta.NextToken == "" {
				return got
			}
			if !strings.Contains(meta.NextToken, ".") {
				t.Fatalf("token %q is not <index>.<id>", meta.NextToken)
			}
			token = meta.NextToken
		}
	}
	for _, reverse := range []bool{false, true} {
		got := walk(reverse)
		if len(got) != len(all) {
			t.Fatalf("reverse=%v: pages hold %d evaluations, the list %d", reverse, len(got), len(all))
		}
		seen := map[string]bool{}
		for i, e := range got {
			if seen[e.ID] {
				t.Fatalf("reverse=%v: %s on two pages", reverse, e.ID)
			}
			seen[e.ID] = true
			if i > 0 && (got[i-1].CreateIndex > e.CreateIndex) != reverse && got[i-1].CreateIndex != e.CreateIndex {
				t.Fatalf("reverse=%v: out of order at %d: %d then %d", reverse, i, got[i-1].CreateIndex, e.CreateIndex)
			}
		}
	}

	// ?job= and ?status=, as the CLI's -job and -status send them.
	byJob, _, err := a.client.Evaluations().List(&api.QueryOptions{Params: map[string]string{"job": "job3"}})
	if err != nil || len(byJob) == 0 {
		t.Fatalf("job3: %v %d", err, len(byJob))
	}
	for _, e := range byJob {
		if e.JobID != "job3" {
			t.Errorf("?job=job3 lists %s of %s", e.ID, e.JobID)
		}
	}
	complete, _, err := a.client.Evaluations().List(&api.QueryOptions{Params: map[string]string{"status": "complete"}})
	if err != nil || len(complete) < 5 {
		t.Fatalf("complete: %v %d", err, len(complete))
	}
	for _, e := range complete {
		if e.Status != "complete" {
			t.Errorf("?status=complete lists a %s evaluation", e.Status)
		}
	}
	if none, _, err := a.client.Evaluations().List(&api.QueryOptions{Params: map[string]string{"status": "blocked", "job": "job1"}}); err != nil || len(none) != 0 {
		t.Errorf("blocked evaluations of job1: %v %d", err, len(none))
	}

	// With a prefix the order, and so the token, is the ID's.
	prefix := all[0].ID[:2]
	withPrefix, _, err := a.client.Evaluations().PrefixList(prefix)
	if err != nil || len(withPrefix) == 0 {
		t.Fatalf("prefix: %v", err)
	}
	code, _, hdr := a.do(t, "GET", "/v1/evaluations?per_page=1&prefix="+prefix, "")
	if code != 200 {
		t.Fatalf("prefix page: %d", code)
	}
	if tok := hdr.Get("X-Nomad-NextToken"); (tok != "") != (len(withPrefix) > 1) || strings.Contains(tok, ".") {
		t.Errorf("prefix page token %q with %d matches", tok, len(withPrefix))
	}

	// Bad paging input is the caller's mistake.
	for _, c := range []struct{ query, msg string }{
		{"per_page=two", `Invalid per_page: "two" is not a number of results (0 or more)`},
		{"per_page=-1", `Invalid per_page: "-1" is not a number of results (0 or more)`},
		{"next_token=nonsense", `Invalid next_token "nonsense": expected <index>.<id> as the X-Nomad-NextToken header gave it`},
		{"reverse=sideways", `Failed to parse value of "reverse" (sideways) as a bool: strconv.ParseBool: parsing "sideways": invalid syntax`},
		{"filter=Status+%3D%3D", `Invalid filter expression "Status ==": `},
	} {
		if code, body, _ := a.do(t, "GET", "/v1/evaluations?"+c.query, ""); code != 400 || !strings.HasPrefix(body, c.msg) {
			t.Errorf("%s: %d %q, want 400 %q", c.query, code, body, c.msg)
		}
	}
	// A filter expression selects, before the paging.
	filtered, _, err := a.client.Evaluations().List(&api.QueryOptions{Filter: `JobID == "job1" and Status == "complete"`})
	if err != nil || len(filtered) == 0 {
		t.Fatalf("filter: %v, %d evaluations", err, len(filtered))
	}
	for _, e := range filtered {
		if e.JobID != "job1" || e.Status != "complete" {
			t.Errorf("the filter let %s of %s (%s) through", e.ID, e.JobID, e.Status)
		}
	}

	// A token past the end gives an empty page, not an error.
	if code, body, _ := a.do(t, "GET", "/v1/evaluations?next_token=99999999.x", ""); code != 200 || body != "[]" {
		t.Errorf("past the end: %d %q", code, body)
	}
}

// An empty list is [], never null, with or without paging.
func TestEvalsListEmpty(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	for _, q := range []string{"", "?per_page=2", "?prefix=ab", "?job=none"} {
		if code, body, _ := a.do(t, "GET", "/v1/evaluations"+q, ""); code != 200 || body != "[]" {
			t.Errorf("%q: %d %q", q, code, body)
		}
	}
}
