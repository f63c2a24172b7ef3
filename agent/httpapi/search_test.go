package httpapi

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/hashicorp/nomad/api/contexts"
)

// searchFixture is an agent with one node, a job "web" (two allocations,
// an evaluation, a deployment) and a job "web-other" in namespace
// "other".
type searchFixture struct {
	*testAgent
	nodeID string
	evalID string
	allocs []*api.AllocationListStub
	depID  string
}

func newSearchFixture(t *testing.T) *searchFixture {
	t.Helper()
	a := newTestAgent(t)
	node := a.addNode(t, "", "search-node-1")
	reg, _, err := a.client.Jobs().Register(smallJob("web", 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)
	allocs, _, err := a.client.Jobs().Allocations("web", false, nil)
	if err != nil || len(allocs) != 2 {
		t.Fatalf("allocs of web: %v %d", err, len(allocs))
	}
	d, _, err := a.client.Jobs().LatestDeployment("web", nil)
	if err != nil || d == nil {
		t.Fatalf("deployment of web: %v %v", err, d)
	}
	other := smallJob("web-other", 0)
	other.Namespace = ptr("other")
	if _, _, err := a.client.Jobs().Register(other, nil); err != nil {
		t.Fatalf("register in namespace other: %v", err)
	}
	return &searchFixture{testAgent: a, nodeID: node.ID, evalID: reg.EvalID, allocs: allocs, depID: d.ID}
}

func TestPrefixSearchContexts(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	s := f.client.Search()
	alloc := f.allocs[0].ID

	for _, tc := range []struct {
		name   string
		prefix string
		ctx    contexts.Context
		want   string
	}{
		{"job by prefix", "we", contexts.Jobs, "web"},
		{"job by full ID", "web", contexts.Jobs, "web"},
		{"alloc, 8 characters", alloc[:8], contexts.Allocs, alloc},
		// An odd number of hex digits, and a prefix running into the
		// UUID's first dash, are still prefixes.
		{"alloc, odd length", alloc[:5], contexts.Allocs, alloc},
		{"alloc, with dash", alloc[:9], contexts.Allocs, alloc},
		{"node", f.nodeID[:7], contexts.Nodes, f.nodeID},
		{"eval", f.evalID[:8], contexts.Evals, f.evalID},
		{"deployment", f.depID[:6], contexts.Deployments, f.depID},
		{"namespace", "def", contexts.Namespaces, "default"},
	} {
		res, qm, err := s.PrefixSearch(tc.prefix, tc.ctx, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := res.Matches[tc.ctx]
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: matches of %q in %s = %v, want [%s]", tc.name, tc.prefix, tc.ctx, got, tc.want)
		}
		if trunc, ok := res.Truncations[tc.ctx]; !ok || trunc {
			t.Errorf("%s: truncations %v, want %s: false", tc.name, res.Truncations, tc.ctx)
		}
		if len(res.Matches) != 1 {
			t.Errorf("%s: one context asked, answered %v", tc.name, res.Matches)
		}
		if qm.LastIndex == 0 || !res.KnownLeader || !qm.KnownLeader {
			t.Errorf("%s: query meta: index %d, known leader %v/%v", tc.name, qm.LastIndex, res.KnownLeader, qm.KnownLeader)
		}
	}

	// A prefix that no UUID can have is no error, only no match.
	for _, prefix := range []string{"zz", "not-a-uuid", "0", "abc-xyz"} {
		for _, ctx := range []contexts.Context{contexts.Allocs, contexts.Nodes, contexts.Evals, contexts.Deployments} {
			res, _, err := s.PrefixSearch(prefix, ctx, nil)
			if err != nil {
				t.Fatalf("%s %q: %v", ctx, prefix, err)
			}
			if prefix != "0" && len(res.Matches[ctx]) != 0 {
				t.Errorf("%s %q matched %v", ctx, prefix, res.Matches[ctx])
			}
		}
	}

	// Both allocations share the empty prefix, sorted.
	res, _, err := s.PrefixSearch("", contexts.Allocs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{f.allocs[0].ID, f.allocs[1].ID}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if !reflect.DeepEqual(res.Matches[contexts.Allocs], want) {
		t.Errorf("all allocs: %v, want %v", res.Matches[contexts.Allocs], want)
	}
}

func TestPrefixSearchAllAndNamespaces(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	s := f.client.Search()

	res, _, err := s.PrefixSearch("web", contexts.All, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := []contexts.Context{contexts.Jobs, contexts.Allocs, contexts.Nodes, contexts.Evals, contexts.Deployments, contexts.Namespaces}
	if len(res.Matches) != len(all) || len(res.Truncations) != len(all) {
		t.Fatalf("all: %d contexts in Matches, %d in Truncations, want %d: %v", len(res.Matches), len(res.Truncations), len(all), res.Matches)
	}
	for _, c := range all {
		m, ok := res.Matches[c]
		if !ok || m == nil {
			t.Errorf("all: context %s missing or null in %v", c, res.Matches)
		}
		if tr, ok := res.Truncations[c]; !ok || tr {
			t.Errorf("all: truncation of %s: %v %v", c, tr, ok)
		}
	}
	// web-other is in another namespace.
	if got := res.Matches[contexts.Jobs]; !reflect.DeepEqual(got, []string{"web"}) {
		t.Errorf("all, jobs: %v", got)
	}
	for _, c := range all[1:] {
		if len(res.Matches[c]) != 0 {
			t.Errorf("all: %s matched %v", c, res.Matches[c])
		}
	}

	// The raw body carries the context names of the wire format, empty
	// lists rather than null, and the query metadata.
	code, body, hdr := f.do(t, "POST", "/v1/search", `{"Prefix": "web", "Context": "all"}`)
	if code != 200 || !strings.Contains(body, `"deployment":[]`) || !strings.Contains(body, `"jobs":["web"]`) ||
		!strings.Contains(body, `"Index":`) || !strings.Contains(body, `"KnownLeader":true`) || hdr.Get("X-Nomad-Index") == "" {
		t.Fatalf("raw search: %d %s %v", code, body, hdr)
	}

	// ?namespace= picks the jobs' namespace; "*" takes them all.
	res, _, err = s.PrefixSearch("web", contexts.Jobs, &api.QueryOptions{Namespace: "other"})
	if err != nil || !reflect.DeepEqual(res.Matches[contexts.Jobs], []string{"web-other"}) {
		t.Fatalf("jobs in other: %v %v", err, res)
	}
	res, _, err = s.PrefixSearch("web", contexts.Jobs, &api.QueryOptions{Namespace: "*"})
	if err != nil || !reflect.DeepEqual(res.Matches[contexts.Jobs], []string{"web", "web-other"}) {
		t.Fatalf("jobs in all namespaces: %v %v", err, res)
	}
	res, _, err = s.PrefixSearch(f.allocs[0].ID, contexts.Allocs, &api.QueryOptions{Namespace: "other"})
	if err != nil || len(res.Matches[contexts.Allocs]) != 0 {
		t.Fatalf("an alloc of default searched in other: %v %v", err, res)
	}
	// Namespaces belong to no namespace: both are found from anywhere.
	res, _, err = s.PrefixSearch("", contexts.Namespaces, &api.QueryOptions{Namespace: "other"})
	if err != nil || !reflect.DeepEqual(res.Matches[contexts.Namespaces], []string{"default", "other"}) {
		t.Fatalf("namespaces: %v %v", err, res)
	}

	// An unknown region is refused as everywhere else.
	_, _, err = s.PrefixSearch("web", contexts.Jobs, &api.QueryOptions{Region: "mars"})
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "mars") {
		t.Fatalf("unknown region: %v", err)
	}
}

func TestPrefixSearchTruncates(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	for i := 0; i < 23; i++ {
		if _, _, err := a.client.Jobs().Register(smallJob(fmt.Sprintf("batch-%02d", i), 0), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := a.client.Jobs().Register(smallJob("other", 0), nil); err != nil {
		t.Fatal(err)
	}
	res, _, err := a.client.Search().PrefixSearch("batch-", contexts.Jobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Matches[contexts.Jobs]
	if len(got) != 20 || got[0] != "batch-00" || got[19] != "batch-19" || !res.Truncations[contexts.Jobs] {
		t.Fatalf("23 matches: got %d %v, truncated %v", len(got), got, res.Truncations)
	}
	// Exactly 20 is not truncated.
	res, _, err = a.client.Search().PrefixSearch("batch-1", contexts.Jobs, nil)
	if err != nil || len(res.Matches[contexts.Jobs]) != 10 || res.Truncations[contexts.Jobs] {
		t.Fatalf("10 matches: %v %v", err, res)
	}
	// "all" truncates per context.
	res, _, err = a.client.Search().PrefixSearch("", contexts.All, nil)
	if err != nil || len(res.Matches[contexts.Jobs]) != 20 || !res.Truncations[contexts.Jobs] ||
		res.Truncations[contexts.Namespaces] || !reflect.DeepEqual(res.Matches[contexts.Namespaces], []string{"default"}) {
		t.Fatalf("all with an empty prefix: %v %+v", err, res)
	}
}

func TestSearchBadRequests(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	s := a.client.Search()

	_, _, err := s.PrefixSearch("web", "bogus", nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), `Invalid Context "bogus"`) {
		t.Fatalf("unknown context: %v", err)
	}
	_, _, err = s.PrefixSearch("web", "", nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "Context") {
		t.Fatalf("no context: %v", err)
	}
	// Groups are found by the fuzzy search only.
	_, _, err = s.PrefixSearch("web", contexts.Groups, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "Context") {
		t.Fatalf("groups context: %v", err)
	}
	_, _, err = s.FuzzySearch("w", contexts.All, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "at least 2 characters") {
		t.Fatalf("one-character term: %v", err)
	}
	_, _, err = s.FuzzySearch("", contexts.Jobs, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "Text") {
		t.Fatalf("empty term: %v", err)
	}
	_, _, err = s.FuzzySearch("web", contexts.Evals, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), `Invalid Context "evals"`) {
		t.Fatalf("fuzzy evals: %v", err)
	}

	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"PUT", "/v1/search", "", 400, "Missing request body"},
		{"POST", "/v1/search/fuzzy", "", 400, "Missing request body"},
		{"PUT", "/v1/search", "{", 400, "failed to decode"},
		{"PUT", "/v1/search", `{"Prefix": "a", "Context": "job"}`, 400, `Invalid Context "job"`},
		{"GET", "/v1/search", "", 405, "Invalid method"},
		{"GET", "/v1/search/fuzzy", "", 405, "Invalid method"},
	} {
		code, body, _ := a.do(t, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %q: %d %q, want %d %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.want)
		}
	}
}

func TestFuzzySearch(t *testing.T) {
	t.Parallel()
	f := newSearchFixture(t)
	s := f.client.Search()

	// smallJob("web") has group "grp" with task "work"; matching ignores
	// case.
	res, qm, err := s.FuzzySearch("WOR", contexts.Jobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if qm.LastIndex == 0 {
		t.Errorf("fuzzy: no index")
	}
	wantTasks := []api.FuzzyMatch{{ID: "work", Scope: []string{"default", "web", "grp"}}}
	if !reflect.DeepEqual(res.Matches[contexts.Tasks], wantTasks) || len(res.Matches[contexts.Jobs]) != 0 ||
		len(res.Matches[contexts.Groups]) != 0 {
		t.Fatalf("tasks: %+v", res.Matches)
	}
	if _, ok := res.Matches[contexts.Nodes]; ok {
		t.Errorf("a jobs search answered nodes: %+v", res.Matches)
	}
	res, _, err = s.FuzzySearch("eb", contexts.Jobs, nil)
	if err != nil || !reflect.DeepEqual(res.Matches[contexts.Jobs], []api.FuzzyMatch{{ID: "web", Scope: []string{"default", "web"}}}) {
		t.Fatalf("jobs: %v %+v", err, res)
	}
	res, _, err = s.FuzzySearch("Gr", contexts.Jobs, nil)
	if err != nil || !reflect.DeepEqual(res.Matches[contexts.Groups], []api.FuzzyMatch{{ID: "grp", Scope: []string{"default", "web"}}}) {
		t.Fatalf("groups: %v %+v", err, res)
	}
	// The other namespace's job, and every namespace's.
	res, _, err = s.FuzzySearch("web", contexts.Jobs, &api.QueryOptions{Namespace: "*"})
	if err != nil || len(res.Matches[contexts.Jobs]) != 2 || res.Matches[contexts.Jobs][1].ID != "web-other" ||
		!reflect.DeepEqual(res.Matches[contexts.Jobs][1].Scope, []string{"other", "web-other"}) {
		t.Fatalf("jobs of all namespaces: %v %+v", err, res)
	}

	res, _, err = s.FuzzySearch("NODE-1", contexts.Nodes, nil)
	if err != nil || !reflect.DeepEqual(res.Matches[contexts.Nodes], []api.FuzzyMatch{{ID: "search-node-1", Scope: []string{f.nodeID}}}) {
		t.Fatalf("nodes: %v %+v", err, res)
	}

	// Allocation names are <job>.<group>[<index>].
	res, _, err = s.FuzzySearch("grp[", contexts.Allocs, nil)
	if err != nil || len(res.Matches[contexts.Allocs]) != 2 {
		t.Fatalf("allocs: %v %+v", err, res)
	}
	for i, m := range res.Matches[contexts.Allocs] {
		if m.ID != fmt.Sprintf("web.grp[%d]", i) || len(m.Scope) != 2 || m.Scope[0] != "default" || len(m.Scope[1]) != 36 {
			t.Errorf("alloc match %d: %+v", i, m)
		}
	}

	// "all" answers every context it searches, empty or not.
	res, _, err = s.FuzzySearch("other", contexts.All, &api.QueryOptions{Namespace: "*"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []contexts.Context{contexts.Jobs, contexts.Groups, contexts.Tasks, contexts.Allocs, contexts.Nodes, contexts.Namespaces} {
		if m, ok := res.Matches[c]; !ok || m == nil {
			t.Errorf("all: %s missing: %+v", c, res.Matches)
		}
		if _, ok := res.Truncations[c]; !ok {
			t.Errorf("all: truncation of %s missing", c)
		}
	}
	if !reflect.DeepEqual(res.Matches[contexts.Namespaces], []api.FuzzyMatch{{ID: "other"}}) ||
		len(res.Matches[contexts.Jobs]) != 1 || len(res.Matches[contexts.Nodes]) != 0 {
		t.Fatalf("all: %+v", res.Matches)
	}
}
