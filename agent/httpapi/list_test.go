package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestNodeListFilterAndPages: /v1/nodes applies ?filter= (the compatible
// API's expression language) and pages with ?per_page= and ?next_token=,
// as the official client sends them; ?os=true adds the OS attributes.
func TestNodeListFilterAndPages(t *testing.T) {
	a := newTestAgent(t)
	var ids []string
	for _, name := range []string{"one", "two", "three", "four", "five"} {
		ids = append(ids, a.addNode(t, "", name).ID)
	}
	sort.Strings(ids)

	var seen []string
	token := ""
	for page := 0; ; page++ {
		nodes, meta, err := a.client.Nodes().List(&api.QueryOptions{PerPage: 2, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) > 2 {
			t.Fatalf("page %d has %d nodes", page, len(nodes))
		}
		for _, n := range nodes {
			seen = append(seen, n.ID)
		}
		if meta.NextToken == "" {
			break
		}
		token = meta.NextToken
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	sort.Strings(seen)
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("paging saw %v, want every node once: %v", seen, ids)
	}

	nodes, _, err := a.client.Nodes().List(&api.QueryOptions{Filter: `Name == "three" or Name == "five"`})
	if err != nil || len(nodes) != 2 {
		t.Fatalf("filter: %d nodes, %v", len(nodes), err)
	}
	for _, n := range nodes {
		if n.Name != "three" && n.Name != "five" {
			t.Errorf("filter let %s through", n.Name)
		}
	}
	for _, bad := range []string{`Name ==`, `NoSuchField == "x"`} {
		_, _, err := a.client.Nodes().List(&api.QueryOptions{Filter: bad})
		if statusCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "Invalid filter expression") {
			t.Errorf("filter %q: %v", bad, err)
		}
	}
	// A filter on an endpoint that does not apply one is refused, never ignored.
	if _, _, err := a.client.Jobs().List(&api.QueryOptions{Filter: `ID == "x"`}); statusCode(err) != http.StatusBadRequest {
		t.Errorf("jobs filter: %v", err)
	}

	nodes, _, err = a.client.Nodes().List(&api.QueryOptions{Params: map[string]string{"os": "true"}})
	if err != nil || len(nodes) != 5 || nodes[0].Attributes == nil {
		t.Fatalf("os=true: %v %+v", err, nodes)
	}
}

// TestOtherRegionHasNoPath: without federation, a request for another
// region is refused, not answered from this one.
func TestOtherRegionHasNoPath(t *testing.T) {
	a := newTestAgent(t)
	_, _, err := a.client.Jobs().List(&api.QueryOptions{Region: "mars"})
	if statusCode(err) != http.StatusBadRequest || !strings.Contains(err.Error(), `No path to region "mars"`) {
		t.Fatalf("got %v", err)
	}
	if _, _, err := a.client.Jobs().List(&api.QueryOptions{Region: "global"}); err != nil {
		t.Fatalf("own region: %v", err)
	}
}
