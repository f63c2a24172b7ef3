package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/labs"
	"drover/labs/images"
	"drover/testutil/dockerimg"
)

var (
	standInsOnce sync.Once
	standInsErr  error
)

// requireLabImages makes sure the labs' images, or their stand-ins, are
// on the engine: the stand-ins run a static drover binary built here,
// exactly as "drover lab images -standin" builds them.
func requireLabImages(t *testing.T) {
	t.Helper()
	dockerimg.Require(t)
	standInsOnce.Do(func() {
		root, err := dockerimg.ModuleRoot()
		if err != nil {
			standInsErr = err
			return
		}
		dir, err := os.MkdirTemp("", "drover-standin-")
		if err != nil {
			standInsErr = err
			return
		}
		defer os.RemoveAll(dir)
		exe := filepath.Join(dir, "drover")
		cmd := exec.Command("go", "build", "-o", exe, "./cmd/drover")
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			standInsErr = err
			t.Logf("%s", out)
			return
		}
		cli, err := dockerimg.Client()
		if err != nil {
			standInsErr = err
			return
		}
		defer cli.Close()
		ctx := context.Background()
		states, err := images.Status(ctx, cli, images.LabImages())
		if err != nil {
			standInsErr = err
			return
		}
		for _, st := range states {
			if st.Present && !st.RetaggedStandIn || st.StandInPresent {
				continue
			}
			if _, err := images.BuildStandIn(ctx, cli, st.Ref, exe); err != nil {
				standInsErr = err
				return
			}
		}
	})
	if standInsErr != nil {
		t.Fatalf("lab images: %v", standInsErr)
	}
}

// learner types commands in a workspace, as a student at a terminal.
type learner struct {
	t   *testing.T
	dir string
	env []string
	// started is what lab start printed.
	started string
}

func newLearner(t *testing.T) *learner {
	home := t.TempDir()
	return &learner{t: t, dir: t.TempDir(), env: []string{"HOME=" + home, "DROVER_LAB_CACHE=" + filepath.Join(home, "cache"), "NO_COLOR="}}
}

// drover runs one command in the learner's current directory.
func (l *learner) drover(args ...string) (int, string) {
	l.t.Helper()
	prev, _ := os.Getwd()
	if err := os.Chdir(l.dir); err != nil {
		l.t.Fatal(err)
	}
	defer os.Chdir(prev)
	var out, stdout bytes.Buffer
	code := MainContext(context.Background(), args, io.MultiWriter(&out, &stdout), &out, l.env)
	l.t.Logf("$ drover %s\n%s", strings.Join(args, " "), out.String())
	// The lab's own text fits 80 columns; what drover commands print
	// (lab run, solve -run) is as the tutorials show it, and errors (on
	// stderr) stay one per line, file:line:col first, for editors.
	own := args[0] == "lab" && args[1] != "run" && !(args[1] == "solve" && len(args) > 2)
	for _, line := range strings.Split(stdout.String(), "\n") {
		if n := len([]rune(line)); n > 80 && own {
			l.t.Errorf("drover %s: a line of %d columns: %q", strings.Join(args, " "), n, line)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		l.t.Errorf("drover %s: colour escapes when not on a terminal", strings.Join(args, " "))
	}
	// Publishing progress to the cluster is silent when it works.
	if strings.Contains(out.String(), "lab progress not published") {
		l.t.Errorf("drover %s: the lab's progress was not published:\n%s", strings.Join(args, " "), out.String())
	}
	return code, out.String()
}

func (l *learner) must(want string, args ...string) string {
	l.t.Helper()
	code, out := l.drover(args...)
	if code != 0 {
		l.t.Fatalf("drover %s exited with %d:\n%s", strings.Join(args, " "), code, out)
	}
	if !containsFolded(out, want) {
		l.t.Fatalf("drover %s: the output has no %q:\n%s", strings.Join(args, " "), want, out)
	}
	return out
}

func (l *learner) fails(want []string, args ...string) {
	l.t.Helper()
	code, out := l.drover(args...)
	if code == 0 {
		l.t.Fatalf("drover %s succeeded, want a failure:\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !containsFolded(out, w) {
			l.t.Fatalf("drover %s: the output has no %q:\n%s", strings.Join(args, " "), w, out)
		}
	}
}

// containsFolded reports whether out has want, whatever line breaks and
// indentation folding put in either.
func containsFolded(out, want string) bool {
	return strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " "))
}

// startLab starts a lab in the workspace dir/ws with its embedded cluster
// in the background, and stops it when the test ends, however it ends.
func (l *learner) startLab(lab string) *labs.Progress {
	l.t.Helper()
	ws := filepath.Join(l.dir, "ws")
	// Registered before lab start is checked: a start that fails its
	// check may still have left a cluster running.
	l.t.Cleanup(func() {
		l.dir = ws
		l.drover("lab", "stop")
		if p, err := labs.LoadProgress(ws); err == nil && p.Embedded != nil && processAlive(p.Embedded.PID) {
			syscall.Kill(p.Embedded.PID, syscall.SIGKILL)
			l.t.Errorf("lab stop left the cluster (pid %d) running", p.Embedded.PID)
		}
	})
	l.started = l.must("Step 1/", "lab", "start", "-dir", "ws", "-http-port", "0", lab)
	l.dir = ws
	p, err := labs.LoadProgress(l.dir)
	if err != nil {
		l.t.Fatal(err)
	}
	l.env = append(l.env, "DROVER_ADDR="+p.Address)
	return p
}

func (l *learner) progress() *labs.Progress {
	p, err := labs.LoadProgress(l.dir)
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

func (l *learner) edit(file, old, repl string) {
	l.t.Helper()
	path := filepath.Join(l.dir, file)
	b, err := os.ReadFile(path)
	if err != nil {
		l.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		l.t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, repl, 1)), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func TestLabLearnerGettingStarted(t *testing.T) {
	requireLabImages(t)
	l := newLearner(t)
	p := l.startLab("getting-started")
	if p.Embedded == nil || !processAlive(p.Embedded.PID) {
		t.Fatalf("lab start did not leave a cluster running: %+v", p)
	}
	if p.StandIns["redis:3.2"] == "" && !strings.Contains(l.must("", "lab", "show"), "") {
		t.Fatal("unreachable")
	}

	// Before the step's command: the check says what it expected and saw.
	l.fails([]string{"✗ expected: example.nomad contains", "observed: there is no example.nomad", "drover lab hint"}, "lab", "check", "-wait", "0s")
	// next refuses too.
	l.fails([]string{"✗ expected"}, "lab", "next")

	// The learner types the step.
	l.must("Example job file written to example.nomad", "job", "init")
	l.edit("example.nomad", `min_healthy_time  = "10s"`, `min_healthy_time  = "2s"`)
	l.must("✓ example.nomad contains", "lab", "check")
	l.must("Step 2/8: Run it", "lab", "next")

	// Hints, one at a time, then none.
	l.must("Hint 1/1:", "lab", "hint")
	l.must("No more hints", "lab", "hint")
	l.must("drover job run example.nomad", "lab", "solve")
	l.must("Step solved", "lab", "solve", "-run")
	l.must("Step 3/8", "lab", "next")
	if got := l.progress().Step; got != 2 {
		t.Fatalf("progress step = %d, want 2 (0-based)", got)
	}

	// reset 3 replays steps 1 and 2 on a clean state.
	l.must("Step 3/8", "lab", "reset", "3")
	client, _ := api.NewClient(&api.Config{Address: p.Address})
	job, _, err := client.Jobs().Info("example", nil)
	if err != nil || *job.Version != 0 || *job.Status != "running" {
		t.Fatalf("after reset 3: job %+v, %v; want example version 0 running", job, err)
	}
	b, _ := os.ReadFile(filepath.Join(l.dir, "example.nomad"))
	if !strings.Contains(string(b), "count = 1") || !strings.Contains(string(b), `min_healthy_time  = "2s"`) {
		t.Fatalf("after reset 3, example.nomad is not step 3's:\n%s", b)
	}
	l.fails([]string{"✗ expected: planning example.nomad", "observed: the plan says 0 create, 0 in-place update"}, "lab", "check", "-wait", "0s")

	// A wrong state fails the right check: scale to 2 instead of 3.
	l.must("Step 4/8", "lab", "reset", "4")
	l.edit("example.nomad", "count = 3", "count = 2")
	l.must("", "job", "run", "example.nomad")
	// The check reports what it last observed: let both allocations run
	// first, as a slow machine may still be starting the second.
	waitUntil(t, 60*time.Second, "2 allocations of version 1 running", func() bool {
		allocs, _, err := client.Jobs().Allocations("example", false, nil)
		n := 0
		for _, a := range allocs {
			if err == nil && a.DesiredStatus == "run" && a.ClientStatus == "running" && a.JobVersion == 1 {
				n++
			}
		}
		return n == 2
	})
	l.fails([]string{"✓ job \"example\" version 1", "✗ expected: 3 allocation(s), of job \"example\", desired run, client status running, version 1",
		"observed: 2 matching"}, "lab", "check", "-wait", "3s")

	// Stopping the job early fails the rollout's checks.
	l.must("Step 6/8", "lab", "reset", "6")
	l.must("", "job", "stop", "example")
	l.fails([]string{"✗ expected: 3 allocation(s), of job \"example\", desired run, client status running, version 2",
		"observed: 0 matching", "✗ expected: the latest deployment of \"example\", is successful, 3 healthy"}, "lab", "check", "-wait", "1s")

	l.must("Stopped the lab's cluster", "lab", "stop")
	if processAlive(p.Embedded.PID) {
		t.Fatalf("the lab cluster (pid %d) still runs after lab stop", p.Embedded.PID)
	}
	l.must("getting-started  8  step 6/8  Your first job", "lab", "list")
}

func TestLabLearnerClusterOps(t *testing.T) {
	requireLabImages(t)
	l := newLearner(t)
	p := l.startLab("cluster-ops")
	if len(p.Embedded.Agents) != 3 {
		t.Fatalf("agents %v, want a server and two clients", p.Embedded.Agents)
	}
	out := l.must("Step 1/8", "lab", "show")
	if !strings.Contains(out, "drover node-status") {
		t.Fatalf("lab show does not show the command:\n%s", out)
	}
	l.must("✓ 2 node(s), ready, eligible", "lab", "check")
	l.must("Step 2/8", "lab", "next")
	// The step's text gives client-one's own address, for -self.
	l.must("-address "+p.Embedded.Agents["client-one"], "lab", "show")

	// Step 3: before the commands, the jobs do not exist.
	l.must("Step 3/8", "lab", "reset", "3")
	l.fails([]string{`✗ expected: job "example" status running`, `observed: job "example" does not exist`}, "lab", "check", "-wait", "0s")
	l.must("", "job", "run", "example.nomad")
	l.drover("job", "run", "big.nomad") // exits 2: placement failures
	l.must(`✓ the latest evaluation of "big", placement failures true, a blocked evaluation true`, "lab", "check")
	l.must("Step 4/8", "lab", "next")
	l.must("Hint 1/2", "lab", "hint")
	l.must("Step solved", "lab", "solve", "-run")
	l.must("Step 5/8", "lab", "next")

	// Draining the wrong node fails the right check.
	l.must("Step 6/8", "lab", "reset", "6")
	l.must("", "node-drain", "-self", "-enable", "-address", p.Embedded.Agents["client-two"])
	l.fails([]string{"✗ expected: node client-one, ineligible", "observed: node client-one is ready, eligible",
		"✗ expected: node client-two, eligible"}, "lab", "check", "-wait", "1s")

	// reset 6 again, and the solution passes.
	l.must("Step 6/8", "lab", "reset", "6")
	l.must("Step solved", "lab", "solve", "-run")
	l.must("Step 7/8", "lab", "next")
}

// TestLabRunTwiceOnOneCluster replays labs on a cluster that outlives
// them: each starts from a clean job state of its own and leaves nothing
// running.
func TestLabRunTwiceOnOneCluster(t *testing.T) {
	requireLabImages(t)
	dir := t.TempDir()
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	states, err := images.Status(context.Background(), cli, images.LabImages())
	cli.Close()
	if err != nil {
		t.Fatal(err)
	}
	standIns := map[string]string{}
	for _, st := range states {
		if !st.Present || st.RetaggedStandIn {
			standIns[st.Ref] = st.StandIn
		}
	}
	cluster, err := startLabCluster(dir, labs.TopologyServerAndClient, 0, standIns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Shutdown)
	// getting-started's transcript is compared on its own topology, one
	// dev agent: with two clients, which one gets an allocation is the
	// scheduler's free choice between equals.
	dev, err := startLabCluster(t.TempDir(), labs.TopologyDev, 0, standIns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Shutdown)
	addr := cluster.Addr()
	golden := t.TempDir()
	// two-clients twice (the second run once found the first's stopped
	// job), then getting-started recorded and replayed against its record.
	for i, args := range [][]string{
		{"-address", addr, "two-clients"},
		{"-address", addr, "-json", "two-clients"},
		{"-address", dev.Addr(), "-record", golden, "getting-started"},
		{"-address", dev.Addr(), "-golden", golden, "getting-started"},
	} {
		code, out, errOut := runCLI(t, addr, append([]string{"lab", "run"}, args...)...)
		if code != 0 {
			t.Fatalf("run %d, lab run %v: exit %d\n%s\n%s", i+1, args, code, out, errOut)
		}
		if args[2] == "-json" {
			var reps []labs.Report
			if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 1 || !reps[0].OK || len(reps[0].Steps) != 5 {
				t.Fatalf("lab run -json: %v, %+v\n%s", err, reps, out)
			}
		} else if !strings.Contains(out, "passed") {
			t.Fatalf("run %d, lab run %v:\n%s", i+1, args, out)
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(golden, "getting-started.txt")), "-- Step 8/8: Stop the job") {
		t.Fatal("the recorded transcript lacks the last step")
	}
	// A transcript that differs fails the run, with a unified diff.
	path := filepath.Join(golden, "getting-started.txt")
	os.WriteFile(path, []byte(strings.Replace(readFile(t, path), "-- Step 8/8: Stop the job", "-- Step 8/8: Stop the job now", 1)), 0o644)
	code, out, _ := runCLI(t, addr, "lab", "run", "-address", dev.Addr(), "-golden", golden, "getting-started")
	if code == 0 || !strings.Contains(out, "-- Step 8/8: Stop the job now") || !strings.Contains(out, "+-- Step 8/8: Stop the job\n") {
		t.Fatalf("a differing golden transcript: exit %d\n%s", code, out)
	}
	client, _ := api.NewClient(&api.Config{Address: addr})
	deadline := time.Now().Add(30 * time.Second)
	for {
		allocs, _, err := client.Allocations().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, a := range allocs {
			if a.ClientStatus == "running" || a.ClientStatus == "pending" {
				running++
			}
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d allocations still running after the labs", running)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
