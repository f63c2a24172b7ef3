package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/agent/labreport"
	"drover/labs"
)

// TestLabPublishesProgress: lab start, check and next publish the lab's
// progress as a variable the web UI reads, with the latest check results.
func TestLabPublishesProgress(t *testing.T) {
	requireLabImages(t)
	l := newLearner(t)
	p := l.startLab("getting-started")
	client, err := api.NewClient(&api.Config{Address: p.Address})
	if err != nil {
		t.Fatal(err)
	}
	read := func() *labreport.Report {
		t.Helper()
		v, _, err := client.Variables().Read(labreport.PathPrefix+"getting-started", &api.QueryOptions{Namespace: "default"})
		if err != nil {
			t.Fatalf("the lab's variable: %v", err)
		}
		r, err := labreport.FromItems(v.Items)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := read()
	if r.Lab != "getting-started" || r.Title == "" || r.Current != 0 || len(r.Steps) != 8 || r.Updated.IsZero() {
		t.Fatalf("after start: %+v", r)
	}
	if c := r.Steps[0].Checks; len(c) == 0 || c[0].Checked {
		t.Fatalf("after start, step 1's checks: %+v", c)
	}

	l.fails([]string{"✗ expected"}, "lab", "check", "-wait", "0s")
	r = read()
	c := r.Steps[0].Checks
	if r.Current != 0 || r.Steps[0].Done || len(c) == 0 || !c[0].Checked || c[0].OK ||
		!strings.Contains(c[0].Want, "example.nomad contains") || !strings.Contains(c[0].Observed, "there is no example.nomad") {
		t.Fatalf("after a failed check: %+v", r.Steps[0])
	}

	l.must("Example job file written to example.nomad", "job", "init")
	l.edit("example.nomad", `min_healthy_time  = "10s"`, `min_healthy_time  = "2s"`)
	l.must("✓ example.nomad contains", "lab", "check")
	r = read()
	if s := r.Steps[0]; !s.Done || !s.Checks[0].Checked || !s.Checks[0].OK {
		t.Fatalf("after a passed check: %+v", s)
	}
	l.must("Step 2/8", "lab", "next")
	if r = read(); r.Current != 1 || !r.Steps[0].Done || r.Steps[1].Checks[0].Checked {
		t.Fatalf("after next: %+v", r)
	}
}

// TestLabPublishFailureIsOneLine: a cluster that refuses the variable
// costs one line on stderr, and nothing else.
func TestLabPublishFailureIsOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Permission denied\nsecond line", http.StatusForbidden)
	}))
	defer srv.Close()
	client, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	lab := &labs.Lab{Name: "demo", Title: "Demo", Steps: []*labs.Step{
		{ID: "one", Title: "One", Checks: []*labs.Check{{Kind: "file"}, {Kind: "job"}}},
		{ID: "two", Title: "Two", Checks: []*labs.Check{{Kind: "allocs"}}},
	}}
	var errOut bytes.Buffer
	w := &workspace{lab: lab, progress: &labs.Progress{Lab: "demo", Done: map[string]bool{"one": true}},
		sess: &labs.Session{Lab: lab, Client: client}, errOut: &errOut}
	w.recordResults("one", []labs.Result{{OK: true, Want: "a file"}, {OK: false, Want: "a job", Observed: "none"}})
	w.progress.Step = 1
	w.publish(context.Background())
	got := errOut.String()
	if !strings.HasPrefix(got, "lab progress not published: ") || strings.Count(got, "\n") != 1 || !strings.Contains(got, "403") {
		t.Fatalf("stderr: %q", got)
	}

	// The report itself: the latest results where there are some, the
	// checks' kinds unchecked elsewhere.
	r := w.report()
	want := []labreport.Step{
		{ID: "one", Title: "One", Done: true, Checks: []labreport.Check{{Want: "a file", Checked: true, OK: true},
			{Want: "a job", Checked: true, Observed: "none"}}},
		{ID: "two", Title: "Two", Checks: []labreport.Check{{Want: "allocs"}}},
	}
	if r.Lab != "demo" || r.Title != "Demo" || r.Current != 1 || !reflect.DeepEqual(r.Steps, want) {
		t.Fatalf("report: %+v", r)
	}
}
