package cli

import (
	"testing"

	"github.com/hashicorp/nomad/api/contexts"
)

func TestResolveSearch(t *testing.T) {
	const alloc = "6085301b-aaaa-4bbb-8ccc-000000000001"
	const eval = "60853aaa-aaaa-4bbb-8ccc-000000000002"
	for _, tc := range []struct {
		name    string
		id      string
		matches map[contexts.Context][]string
		ctx     contexts.Context
		fullID  string
		ok      bool
	}{
		{"nothing", "zz", map[contexts.Context][]string{contexts.Jobs: {}, contexts.Allocs: {}}, "", "", false},
		{"one alloc", "6085301b", map[contexts.Context][]string{contexts.Jobs: {}, contexts.Allocs: {alloc}}, contexts.Allocs, alloc, true},
		{"exact job among longer ones", "web", map[contexts.Context][]string{contexts.Jobs: {"web", "webapp"}}, contexts.Jobs, "web", true},
		{"exact namespace beside an alloc", "default", map[contexts.Context][]string{contexts.Namespaces: {"default"}, contexts.Allocs: {"defaultx"}}, contexts.Namespaces, "default", true},
		{"a job prefix that is also the default namespace's", "de", map[contexts.Context][]string{contexts.Jobs: {"demo"}, contexts.Namespaces: {"default"}}, contexts.Jobs, "demo", true},
		{"only a namespace prefix", "def", map[contexts.Context][]string{contexts.Namespaces: {"default"}}, contexts.Namespaces, "default", true},
		{"two jobs", "we", map[contexts.Context][]string{contexts.Jobs: {"web", "webapp"}}, contexts.Jobs, "web", false},
		{"one match in each of two contexts", "6085", map[contexts.Context][]string{contexts.Allocs: {alloc}, contexts.Evals: {eval}}, contexts.Evals, eval, false},
	} {
		ctx, fullID, ok := resolveSearch(tc.id, tc.matches)
		if ok != tc.ok || (ok && (ctx != tc.ctx || fullID != tc.fullID)) || (!ok && tc.fullID == "" && fullID != "") {
			t.Errorf("%s: got %q %q %v, want %q %q %v", tc.name, ctx, fullID, ok, tc.ctx, tc.fullID, tc.ok)
		}
	}
}

func TestFormatSearchMatches(t *testing.T) {
	got := formatSearchMatches("60", map[contexts.Context][]string{
		contexts.Jobs:        {},
		contexts.Allocs:      {"6085301b-1", "60aa-2"},
		contexts.Evals:       {"60ff-3"},
		contexts.Deployments: {"6011-4"},
		contexts.Nodes:       nil,
	})
	want := "Multiple matches found for id \"60\"\n\nAllocs:\n6085301b-1, 60aa-2\n\nEvals:\n60ff-3\n\nDeployment:\n6011-4"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// Namespaces are listed among the matches only when nothing else matched.
func TestFormatSearchMatches_Namespaces(t *testing.T) {
	withJob := formatSearchMatches("d", map[contexts.Context][]string{contexts.Jobs: {"demo", "dev"}, contexts.Namespaces: {"default"}})
	if want := "Multiple matches found for id \"d\"\n\nJobs:\ndemo, dev"; withJob != want {
		t.Errorf("got %q, want %q", withJob, want)
	}
	only := formatSearchMatches("d", map[contexts.Context][]string{contexts.Namespaces: {"default", "dev"}})
	if want := "Multiple matches found for id \"d\"\n\nNamespaces:\ndefault, dev"; only != want {
		t.Errorf("got %q, want %q", only, want)
	}
}
