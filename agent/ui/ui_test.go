package ui

import (
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"drover/agent/acl"
	"drover/agent/labreport"
	"drover/agent/structs"
)

func TestRedirectsAndNotFound(t *testing.T) {
	_, h := newFilled(t, 2, 2, 1)
	for path, want := range map[string]string{"/ui": "/ui/jobs", "/ui/": "/ui/jobs", "/ui/servers": "/ui/clients"} {
		w := get(h, path)
		if w.Code != http.StatusTemporaryRedirect || w.Header().Get("Location") != want {
			t.Errorf("%s: %d to %q, want 307 to %q", path, w.Code, w.Header().Get("Location"), want)
		}
	}
	for _, path := range []string{"/ui/nothing", "/ui/jobs/no-such-job", "/ui/allocations/0000",
		"/ui/clients/ffffffff", "/ui/evaluations/ffffffff"} {
		w := get(h, path)
		if w.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, w.Code)
		}
		if !strings.Contains(w.Body.String(), "<h1>Not found</h1>") {
			t.Errorf("%s: no not-found page:\n%s", path, w.Body.String())
		}
	}
}

func TestJobsPagination(t *testing.T) {
	_, h := newFilled(t, 3, perPage+7, 1)
	rows := regexp.MustCompile(`<tr data-job="`)
	first := get(h, "/ui/jobs").Body.String()
	if n := len(rows.FindAllString(first, -1)); n != perPage {
		t.Fatalf("first page has %d jobs, want %d", n, perPage)
	}
	if !strings.Contains(first, "Page 1 of 2 (57 in all)") {
		t.Errorf("no pager on the first page:\n%s", first)
	}
	second := get(h, "/ui/jobs?page=2").Body.String()
	if n := len(rows.FindAllString(second, -1)); n != 7 {
		t.Errorf("second page has %d jobs, want 7", n)
	}
	if !strings.Contains(second, `data-job="job-0056"`) || strings.Contains(second, `data-job="job-0000"`) {
		t.Errorf("second page shows the wrong jobs")
	}
	// A page past the end shows the last one rather than nothing.
	if past := get(h, "/ui/jobs?page=99").Body.String(); len(rows.FindAllString(past, -1)) != 7 {
		t.Errorf("page 99 is not the last page")
	}
}

// TestLiveWaitsForAChange: the page script's request blocks until the
// state the page read moves past the index it was built at, then answers
// with the new index and only the page's main section.
func TestLiveWaitsForAChange(t *testing.T) {
	c, h := newFilled(t, 2, 1, 1)
	first := get(h, "/ui/jobs")
	idx, err := strconv.ParseUint(first.Header().Get("X-Nomad-Index"), 10, 64)
	if err != nil || idx == 0 {
		t.Fatalf("no index on the page: %q", first.Header().Get("X-Nomad-Index"))
	}
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- get(h, "/ui/jobs?live=1&index="+strconv.FormatUint(idx, 10)) }()
	select {
	case w := <-done:
		t.Fatalf("live request answered before any change: %d", w.Code)
	case <-time.After(300 * time.Millisecond):
	}
	job := &structs.Job{Region: "global", Namespace: "default", ID: "late", Name: "late", Type: structs.JobTypeService,
		Priority: 50, Datacenters: []string{"dc1"},
		TaskGroups: []*structs.TaskGroup{{Name: "g", Count: 1, Tasks: []*structs.Task{{Name: "t", Driver: "mock"}}}}}
	if err := c.store.UpsertJob(idx+100, job); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-done:
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, `data-job="late"`) {
			t.Fatalf("live answer %d without the new job:\n%s", w.Code, body)
		}
		if strings.Contains(body, "<html") {
			t.Errorf("live answer is a whole page, want the main section only")
		}
		if got, _ := strconv.ParseUint(w.Header().Get("X-Nomad-Index"), 10, 64); got <= idx {
			t.Errorf("live answer at index %d, not past %d", got, idx)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("live request did not wake on the change")
	}
}

func TestEvaluationShowsFailuresAndDecisions(t *testing.T) {
	c, h := newFilled(t, 1, 1, 1)
	ev := &structs.Evaluation{ID: fixedID("f", 1), Namespace: "default", Priority: 50, Type: structs.JobTypeService,
		TriggeredBy: structs.EvalTriggerJobRegister, JobID: "job-0000", Status: structs.EvalStatusComplete,
		FailedTGAllocs: map[string]*structs.AllocMetric{"cache": {NodesEvaluated: 1, NodesExhausted: 1,
			DimensionExhausted: map[string]int{"memory": 1}, CoalescedFailures: 1}},
		Decisions: []*structs.Decision{{TaskGroup: "cache", Name: "job-0000.cache[1]", Action: "failed",
			Reason: "no client has 64 MB of memory free"}}}
	if err := c.store.UpsertEvals(100000, []*structs.Evaluation{ev}); err != nil {
		t.Fatal(err)
	}
	body := get(h, "/ui/evaluations/"+ev.ID).Body.String()
	for _, want := range []string{`Task Group "cache" (failed to place 2 allocations):`, "Dimension &#34;memory&#34; exhausted on 1 nodes",
		"no client has 64 MB of memory free", "job-0000.cache[1]"} {
		if !strings.Contains(body, want) {
			t.Errorf("evaluation page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// TestTokenField: with ACLs on, the browser's cookie decides what the
// pages show, a refused token is an error on the token page, and a good
// one is kept in the cookie.
func TestTokenField(t *testing.T) {
	readDefault, err := acl.Parse("read.hcl", []byte(`namespace "default" { policy = "read" }
node { policy = "read" }`))
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(secret string) (*acl.ACL, *structs.ACLToken, error) {
		switch secret {
		case "":
			return acl.Deny(), nil, nil
		case "good":
			return acl.New([]*acl.Policy{readDefault}), &structs.ACLToken{Name: "student", Type: "client", AccessorID: "acc-1"}, nil
		}
		return nil, nil, errors.New("ACL token not found")
	}
	_, h := newFilled(t, 2, 3, 1, WithACL(resolve))

	anon := get(h, "/ui/jobs").Body.String()
	if strings.Contains(anon, `data-job="job-0000"`) {
		t.Errorf("anonymous browser sees jobs")
	}
	if topo := get(h, "/ui/topology").Body.String(); !strings.Contains(topo, "may not read nodes") {
		t.Errorf("anonymous topology does not say nodes are hidden")
	}

	post := func(form url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/ui/settings/tokens", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := post(url.Values{"secret": {"wrong"}}); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Token refused") {
		t.Errorf("wrong token: %d\n%s", w.Code, w.Body.String())
	} else if len(w.Result().Cookies()) != 0 {
		t.Errorf("a refused token was kept")
	}
	w := post(url.Values{"secret": {"good"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("good token: %d", w.Code)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == TokenCookie {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != "good" || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie after a good token: %+v", cookie)
	}
	if page := get(h, "/ui/settings/tokens", cookie).Body.String(); !strings.Contains(page, "student") {
		t.Errorf("token page does not name the token:\n%s", page)
	}
	if jobs := get(h, "/ui/jobs", cookie).Body.String(); !strings.Contains(jobs, `data-job="job-0000"`) {
		t.Errorf("signed-in browser does not see the job")
	}
	bad := get(h, "/ui/jobs", &http.Cookie{Name: TokenCookie, Value: "stale"})
	if bad.Code != http.StatusForbidden || !strings.Contains(bad.Body.String(), "refused") {
		t.Errorf("stale cookie: %d", bad.Code)
	}
	// Another site's form is refused, by the browser's word or the
	// origin it names.
	for _, hdr := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}} {
		r := httptest.NewRequest(http.MethodPost, "/ui/settings/tokens", strings.NewReader("secret=good"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden || len(w.Result().Cookies()) != 0 {
			t.Errorf("cross-site token form %v: %d, cookies %v", hdr, w.Code, w.Result().Cookies())
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/ui/settings/tokens", strings.NewReader("secret=good"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Origin", "http://"+r.Host)
	if w := httptest.NewRecorder(); func() int { h.ServeHTTP(w, r); return w.Code }() != http.StatusSeeOther {
		t.Errorf("same-origin token form refused")
	}
	// Clearing expires the cookie.
	w = post(url.Values{"clear": {"1"}})
	for _, c := range w.Result().Cookies() {
		if c.Name == TokenCookie && c.MaxAge >= 0 {
			t.Errorf("clear did not expire the cookie: %+v", c)
		}
	}
}

// TestNothingFromElsewhere: no template or asset names an origin other
// than the agent's, and the pages tell the browser to load only from it.
func TestNothingFromElsewhere(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?(https?:|//)`)
	for _, fsys := range []fs.FS{templateFS, assetFS} {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			if m := external.Find(b); m != nil {
				t.Errorf("%s refers elsewhere: %q", path, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, h := newFilled(t, 1, 1, 1)
	w := get(h, "/ui/jobs")
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "http") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, src := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(w.Body.String(), -1) {
		// "data:," is the empty favicon that keeps browsers from asking
		// for /favicon.ico.
		if !strings.HasPrefix(src[1], "/ui/") && src[1] != "data:," {
			t.Errorf("page links to %q", src[1])
		}
	}
}

func TestBoxesAreEscaped(t *testing.T) {
	c := column{Boxes: []box{{ID: "a/b", Job: `<script>x</script>`, Name: `"n"`, Label: "&", Status: "running", Version: 9}}}
	got := string(c.BoxesHTML())
	for _, bad := range []string{"<script>", `title=""n"`, "/ui/allocations/a/b"} {
		if strings.Contains(got, bad) {
			t.Errorf("box HTML has %q: %s", bad, got)
		}
	}
	for _, want := range []string{`class="box v1 b-running"`, `data-version="9"`, "&lt;script&gt;", "&amp;"} {
		if !strings.Contains(got, want) {
			t.Errorf("box HTML lacks %q: %s", want, got)
		}
	}
}

func TestLabView(t *testing.T) {
	r := sampleReport()
	v := labViewOf([]*labreport.Report{r}, nil)
	if len(v.Labs) != 1 {
		t.Fatalf("%d labs", len(v.Labs))
	}
	c := v.Labs[0]
	if c.Current != 2 || c.Complete || c.Done != 1 || !c.Steps[1].Current || c.Steps[0].Current {
		t.Errorf("card %+v", c)
	}
	marks := []string{c.Steps[0].Checks[0].Mark, c.Steps[1].Checks[0].Mark, c.Steps[1].Checks[1].Mark}
	if strings.Join(marks, "") != "✓✗·" {
		t.Errorf("marks %q", marks)
	}
	r.Current = 3
	if !labViewOf([]*labreport.Report{r}, nil).Labs[0].Complete {
		t.Errorf("a lab past its last step is not complete")
	}
}

// TestLabPage: the page shows the report the lab engine wrote, says so
// when there is none, names one that does not decode, and shows reports
// only to a token that may read their variables.
func TestLabPage(t *testing.T) {
	c, h := newFilled(t, 1, 1, 1)
	if body := get(h, "/ui/lab").Body.String(); !strings.Contains(body, `id="no-lab"`) {
		t.Errorf("no 'no lab' message without reports:\n%s", body)
	}
	putLabReport(t, c.store, 1000, sampleReport())
	body := get(h, "/ui/lab").Body.String()
	for _, want := range []string{`data-lab="getting-started"`, `data-current="2"`, "Step 2 of 3, 1 done.",
		`<li class="current" data-step="run">`, `<li class="ok" data-check="ok"><span class="mark">✓</span> example.nomad.hcl exists`,
		`<li class="fail" data-check="fail"><span class="mark">✗</span> job example is running <small>— job example not found</small>`,
		`<span class="mark">·</span> 1 allocation running`} {
		if !strings.Contains(body, want) {
			t.Errorf("lab page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	if err := c.store.SetVariable(1001, &structs.Variable{Namespace: "default", Path: labreport.PathPrefix + "broken",
		Items: map[string]string{"lab": "broken", "current": "x"}}, 0, false); err != nil {
		t.Fatal(err)
	}
	if body := get(h, "/ui/lab").Body.String(); !strings.Contains(body, "Lab report drover/labs/broken could not be read.") {
		t.Errorf("a broken report is not named")
	}

	readOnly, err := acl.Parse("p.hcl", []byte(`namespace "default" {
  variables {
    path "drover/labs/getting-*" { capabilities = ["read"] }
  }
}`))
	if err != nil {
		t.Fatal(err)
	}
	for secret, want := range map[string]string{"labs": `data-lab="getting-started"`, "none": "may not read the lab"} {
		resolve := func(string) (*acl.ACL, *structs.ACLToken, error) {
			if secret == "labs" {
				return acl.New([]*acl.Policy{readOnly}), nil, nil
			}
			return acl.Deny(), nil, nil
		}
		body := get(New(c, WithACL(resolve)), "/ui/lab").Body.String()
		if !strings.Contains(body, want) {
			t.Errorf("token %s: lab page lacks %q", secret, want)
		}
		if strings.Contains(body, "drover/labs/broken") {
			t.Errorf("token %s sees a report its policy does not cover", secret)
		}
	}
}

// TestJobLinksEscapeTheID: a job ID with "/", "?", "#" or "@" links to
// its own page, and that page finds it.
func TestJobLinksEscapeTheID(t *testing.T) {
	c, h := newFilled(t, 1, 0, 0)
	for i, id := range []string{"team/web", "q?x#y", "web@v2"} {
		job := &structs.Job{Region: "global", Namespace: "default", ID: id, Name: id, Type: structs.JobTypeService,
			Priority: 50, Datacenters: []string{"dc1"},
			TaskGroups: []*structs.TaskGroup{{Name: "g", Count: 1, Tasks: []*structs.Task{{Name: "t", Driver: "mock"}}}}}
		if err := c.store.UpsertJob(uint64(100+i), job); err != nil {
			t.Fatal(err)
		}
		href := "/ui/jobs/" + jobKey("default", id)
		if !strings.Contains(get(h, "/ui/jobs").Body.String(), `href="`+href+`"`) {
			t.Errorf("jobs page lacks a link to %s", href)
		}
		w := get(h, href)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), template.HTMLEscapeString(id)) {
			t.Errorf("%s: %d", href, w.Code)
		}
	}
	if got := logsURL("a1", "web&x", "stdout"); !strings.Contains(got, "task=web%26x") {
		t.Errorf("logs URL %s", got)
	}
}

// TestTopologyShowsADrain: a draining, ineligible client's column says
// so, and an allocation the scheduler has told to stop is drawn as
// stopping until its tasks have stopped — what a class watches while a
// drain empties a client.
func TestTopologyShowsADrain(t *testing.T) {
	c, h := newFilled(t, 2, 1, 2)
	snap := c.store.Snapshot()
	node, err := snap.NodeByID(nil, fixedID("n", 0))
	if err != nil || node == nil {
		t.Fatal(node, err)
	}
	if err := c.store.UpdateNodeDrain(1000, node.ID, &structs.DrainStrategy{}, false, time.Now().Unix(), nil); err != nil {
		t.Fatal(err)
	}
	alloc, err := snap.AllocByID(nil, fixedID("a", 0))
	if err != nil || alloc == nil || alloc.NodeID != node.ID {
		t.Fatal(alloc, err)
	}
	alloc = alloc.Copy()
	alloc.DesiredStatus = structs.AllocDesiredStatusStop
	if err := c.store.UpsertAllocs(1001, []*structs.Allocation{alloc}); err != nil {
		t.Fatal(err)
	}
	body := get(h, "/ui/topology").Body.String()
	for _, want := range []string{`<section class="column draining" data-node="client-1">`, "ready · draining · ineligible",
		`data-job="job-0000" data-version="0" data-status="stopping"`, `<section class="column" data-node="client-2">`} {
		if !strings.Contains(body, want) {
			t.Errorf("topology lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

// TestShortIDs: as in the CLI, a prefix that names one record finds it.
func TestShortIDs(t *testing.T) {
	_, h := newFilled(t, 2, 2, 1)
	for _, path := range []string{"/ui/allocations/a0000001", "/ui/clients/n0000001", "/ui/evaluations/e0000001"} {
		if w := get(h, path); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "0000001-0000-4000-8000") {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
	// "a000000" is the prefix of both allocations: not one record.
	if w := get(h, "/ui/allocations/a000000"); w.Code != http.StatusNotFound {
		t.Errorf("an ambiguous prefix: %d", w.Code)
	}
}
