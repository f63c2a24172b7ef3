package ui_test

// The browser test: the getting-started flow against a cluster of one
// server and two clients, watched through the UI in headless Chromium
// over the DevTools protocol. It asserts what the topology page shows
// after each step without reloading it (the page follows the cluster by
// itself), and saves a screenshot of each step where the README says.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hashicorp/nomad/api"

	"drover/agent/labreport"
	"drover/agent/testcluster"
)

// ScreenshotDir is where the screenshots go, from the repository's root;
// CI keeps the folder as an artifact (README, "Web UI").
const ScreenshotDir = "artifacts/ui-screenshots"

// chromium finds the browser: $DROVER_CHROMIUM, else Debian's package. CI
// sets DROVER_REQUIRE_BROWSER=1 so that a missing browser fails the test
// rather than skipping it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DROVER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DROVER_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium found (apt-get install chromium), and DROVER_REQUIRE_BROWSER=1")
	}
	t.Skip("no Chromium found (apt-get install chromium); CI requires one with DROVER_REQUIRE_BROWSER=1")
	return ""
}

// browser starts headless Chromium and records every URL it requests.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	requests []string
}

func newBrowser(t *testing.T) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Cancelling the contexts ends the browser process, pass or fail.
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// The first Do starts the browser, bound to ctx (no timeout here).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	enable := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	}
	if err := chromedp.Do(ctx, enable); err != nil {
		t.Fatalf("enable the network domain: %v", err)
	}
	return b
}

// open loads a page and waits until sel is in it.
func (b *browser) open(t *testing.T, url, sel string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	b.waitFor(t, sel)
}

// waitFor waits until the page has an element matching the CSS selector.
func (b *browser) waitFor(t *testing.T, sel string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var found bool
		b.eval(t, fmt.Sprintf("!!document.querySelector(%q)", sel), &found)
		if found {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the page never showed %s", sel)
}

// text is the text of the first element matching the CSS selector.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.eval(t, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &s)
	return s
}

// eval runs a script in the page and decodes its JSON result into out.
func (b *browser) eval(t *testing.T, script string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string]("JSON.stringify("+script+")"))
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
}

func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// Quality 100 makes a PNG; less makes a JPEG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "..", ScreenshotDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// topologyBox is a box as the topology page shows it.
type topologyBox struct {
	Node    string `json:"node"`
	Job     string `json:"job"`
	Version int    `json:"version"`
	Status  string `json:"status"`
}

const boxesScript = `Array.from(document.querySelectorAll(".box")).map(b => ({
  node: b.closest(".column").dataset.node, job: b.dataset.job, version: +b.dataset.version, status: b.dataset.status}))`

func (b *browser) boxes(t *testing.T) []topologyBox {
	var out []topologyBox
	b.eval(t, boxesScript, &out)
	return out
}

// waitBoxes polls the page (never reloading it) until cond holds.
func (b *browser) waitBoxes(t *testing.T, what string, cond func([]topologyBox) bool) []topologyBox {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last []topologyBox
	for time.Now().Before(deadline) {
		last = b.boxes(t)
		if cond(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("topology never showed %s; last: %+v", what, last)
	return nil
}

func count(boxes []topologyBox, f func(topologyBox) bool) int {
	n := 0
	for _, b := range boxes {
		if f(b) {
			n++
		}
	}
	return n
}

// exampleJob is the tutorial's job with the mock driver in place of
// Docker: group "cache", a rolling update one allocation at a time.
func exampleJob(count int, image string) *api.Job {
	job := api.NewServiceJob("example", "example", "global", 50)
	job.Datacenters = []string{"dc1"}
	tg := api.NewTaskGroup("cache", count)
	mp, mht, hd := 1, 1*time.Second, 10*time.Second
	tg.Update = &api.UpdateStrategy{MaxParallel: &mp, MinHealthyTime: &mht, HealthyDeadline: &hd}
	task := api.NewTask("redis", "mock")
	task.Config = map[string]any{"run_for": "0", "stdout_string": "image " + image + " ready to accept connections"}
	cpu, mem := 100, 64
	task.Resources = &api.Resources{CPU: &cpu, MemoryMB: &mem}
	tg.AddTask(task)
	job.AddTaskGroup(tg)
	return job
}

func TestBrowserGettingStarted(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster and a browser")
	}
	b := newBrowser(t)
	c := testcluster.New(t, 1, 2, testcluster.Options{})
	srv := c.Servers[0]
	client := srv.API(t)
	waitNodes(t, client, 2)
	origin := srv.Addr()

	// The topology page, opened once: two empty client columns.
	b.open(t, origin+"/ui/topology", ".topology")
	var columns []string
	b.eval(t, `Array.from(document.querySelectorAll(".column")).map(c => c.dataset.node)`, &columns)
	if len(columns) != 2 {
		t.Fatalf("topology shows clients %v, want 2", columns)
	}
	b.screenshot(t, "01-topology-empty")

	// job run: version 0, one allocation.
	register(t, client, exampleJob(1, "redis:3.2"))
	b.waitBoxes(t, "one running allocation of version 0", func(bs []topologyBox) bool {
		return len(bs) == 1 && bs[0].Version == 0 && bs[0].Status == "running"
	})
	b.screenshot(t, "02-job-run")

	// count = 3 (version 1): three allocations, spread over both clients.
	register(t, client, exampleJob(3, "redis:3.2"))
	bs := b.waitBoxes(t, "three running allocations of version 1", func(bs []topologyBox) bool {
		return len(bs) == 3 && count(bs, func(x topologyBox) bool { return x.Version == 1 && x.Status == "running" }) == 3
	})
	nodes := map[string]int{}
	for _, x := range bs {
		nodes[x.Node]++
	}
	if len(nodes) != 2 {
		t.Errorf("3 allocations on clients %v, want both clients used", nodes)
	}
	b.screenshot(t, "03-scaled-to-3")

	// A new image (version 2) rolls out one allocation at a time. The page
	// is sampled as it redraws: never more than one new allocation is on
	// its way at once, and every intermediate mix is seen.
	register(t, client, exampleJob(3, "redis:4.0"))
	seenNew := map[int]bool{}
	midShot := false
	deadline := time.Now().Add(60 * time.Second)
	for {
		bs := b.boxes(t)
		v2 := count(bs, func(x topologyBox) bool { return x.Version == 2 })
		v2Starting := count(bs, func(x topologyBox) bool { return x.Version == 2 && x.Status != "running" })
		if v2Starting > 1 {
			t.Fatalf("%d allocations of version 2 starting at once (max_parallel = 1): %+v", v2Starting, bs)
		}
		seenNew[v2] = true
		if v2 == 1 && !midShot {
			b.screenshot(t, "04-rolling-update")
			midShot = true
		}
		if len(bs) == 3 && count(bs, func(x topologyBox) bool { return x.Version == 2 && x.Status == "running" }) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rolling update never finished; last %+v", bs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range []int{1, 2, 3} {
		if !seenNew[n] {
			t.Errorf("never saw %d allocation(s) of version 2 during the update (saw %v)", n, seenNew)
		}
	}
	b.screenshot(t, "05-update-done")

	// The job page: version 2, its deployment successful, three healthy.
	b.open(t, origin+"/ui/jobs/example@default", "#job-status")
	waitText(t, b, "#deployment", "successful")
	var progress []string
	b.eval(t, `Array.from(document.querySelectorAll("tr[data-group] progress")).map(p => p.value + "/" + p.max)`, &progress)
	if strings.Join(progress, ",") != "3/3" {
		t.Errorf("deployment progress %v, want 3/3", progress)
	}
	version := b.text(t, "#job-version")
	if version != "2" {
		t.Errorf("job page shows version %q, want 2", version)
	}
	b.screenshot(t, "06-job")

	// An allocation: its task events, and its log read through the agent.
	var allocHref string
	b.eval(t, `document.querySelector("tr[data-alloc][data-status=running] a").getAttribute("href")`, &allocHref)
	b.open(t, origin+allocHref, ".task")
	waitText(t, b, `pre[data-logs*="type=stdout"]`, "image redis:4.0 ready to accept connections")
	events := b.text(t, "table.events")
	if !strings.Contains(events, "Started") {
		t.Errorf("task events %q lack Started", events)
	}
	b.screenshot(t, "07-allocation")

	// Evaluations and one evaluation's decisions, in -explain's words.
	b.open(t, origin+"/ui/evaluations", "table.evals")
	var evalHref string
	b.eval(t, `document.querySelector("tr[data-eval] a").getAttribute("href")`, &evalHref)
	b.screenshot(t, "08-evaluations")
	b.open(t, origin+evalHref, "h1")
	decisions := b.text(t, "main")
	if !strings.Contains(decisions, "Decisions") {
		t.Errorf("evaluation page has no decisions section: %q", decisions)
	}
	b.screenshot(t, "09-evaluation")

	// The cluster: the leader and two ready clients with their use.
	b.open(t, origin+"/ui/clients", "#clients")
	var cluster struct {
		Leaders int      `json:"leaders"`
		Clients []string `json:"clients"`
	}
	b.eval(t, `({leaders: document.querySelectorAll("#servers tr.leader").length,
	  clients: Array.from(document.querySelectorAll("#clients tr[data-node]")).map(r => r.dataset.node + ":" + r.dataset.status)})`, &cluster)
	if cluster.Leaders != 1 || len(cluster.Clients) != 2 || !strings.HasSuffix(cluster.Clients[0], ":ready") {
		t.Errorf("cluster page: %+v", cluster)
	}
	b.screenshot(t, "10-cluster")

	// job stop: the topology empties and the jobs page says dead, both
	// without a reload.
	b.open(t, origin+"/ui/topology", ".topology")
	if _, _, err := client.Jobs().Deregister("example", false, nil); err != nil {
		t.Fatal(err)
	}
	b.waitBoxes(t, "no allocations after job stop", func(bs []topologyBox) bool { return len(bs) == 0 })
	b.screenshot(t, "11-stopped-topology")
	b.open(t, origin+"/ui/jobs", "#jobs")
	waitAttr(t, b, `#jobs tr[data-job="example"]`, "data-status", "dead")
	b.screenshot(t, "12-job-dead")

	// Lab progress: the page follows the report a lab publishes as a
	// variable (here written as the lab engine writes it), live.
	b.open(t, origin+"/ui/lab", "#no-lab")
	report := &labreport.Report{Lab: "getting-started", Title: "Your first job", Current: 1, Updated: time.Now(),
		Steps: []labreport.Step{
			{ID: "init", Title: "Write the job", Done: true, Checks: []labreport.Check{{Want: "example.nomad.hcl", Checked: true, OK: true}}},
			{ID: "run", Title: "Run it", Checks: []labreport.Check{{Want: "job example running", Checked: true, OK: false, Observed: "job example is dead"}}},
		}}
	publish := func() {
		items, err := report.Items()
		if err != nil {
			t.Fatal(err)
		}
		v := &api.Variable{Namespace: labreport.Namespace, Path: labreport.PathPrefix + report.Lab, Items: items}
		if _, _, err := client.Variables().Update(v, nil); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	waitAttr(t, b, `.lab[data-lab="getting-started"]`, "data-current", "2")
	var marks []string
	b.eval(t, `Array.from(document.querySelectorAll(".lab li[data-step] .mark")).map(m => m.textContent)`, &marks)
	if strings.Join(marks, "") != "✓✗" {
		t.Errorf("lab checks show %q, want ✓ then ✗", marks)
	}
	b.screenshot(t, "13-lab-step-2")
	report.Steps[1].Done, report.Steps[1].Checks[0].OK, report.Current = true, true, 2
	publish()
	waitAttr(t, b, `.lab[data-lab="getting-started"]`, "data-complete", "true")
	b.screenshot(t, "14-lab-complete")

	// Nothing came from anywhere but the agent.
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("recorded no requests")
	}
	for _, u := range b.requests {
		if !strings.HasPrefix(u, origin+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page fetched %s, outside the agent %s", u, origin)
		}
	}
}

func waitNodes(t *testing.T, client *api.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		nodes, _, err := client.Nodes().List(nil)
		ready := 0
		for _, node := range nodes {
			if node.Status == "ready" {
				ready++
			}
		}
		if err == nil && ready == n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("fewer than %d clients ready", n)
}

func register(t *testing.T, client *api.Client, job *api.Job) {
	t.Helper()
	if _, _, err := client.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
}

// waitText waits until the element's text contains want; the page updates
// itself, so no reload.
func waitText(t *testing.T, b *browser, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		b.eval(t, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel), &got)
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q; last %q", sel, want, got)
}

func waitAttr(t *testing.T, b *browser, sel, attr, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		b.eval(t, fmt.Sprintf(`(document.querySelector(%q) || {getAttribute: () => ""}).getAttribute(%q) || ""`, sel, attr), &got)
		if got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s[%s] never became %q; last %q", sel, attr, want, got)
}
