package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/hashicorp/nomad/api"

	"drover/testutil/dockerimg"
)

// These tests run the real CLI ("drover" on PATH, see TestMain) as a
// student's shell does: under a pseudo-terminal for the live view and
// colour, or with its output piped.

// childEnv is the environment of a drover process under test: the test
// process's, without what would change colour or the terminal, plus env.
func childEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "NO_COLOR", "NOMAD_CLI_NO_COLOR", "NOMAD_CLI_FORCE_COLOR", "TERM", "DROVER_ADDR", "NOMAD_ADDR":
			continue
		}
		out = append(out, kv)
	}
	return append(out, env...)
}

// ttyResult is what a drover process wrote and how it ended.
type ttyResult struct {
	raw  string // as written, with every control sequence
	code int
}

// runTTY runs drover with args under a pseudo-terminal of 120 columns and
// 50 rows, in dir, and returns what it wrote once it exits. It is killed
// (and the test fails) if it runs longer than timeout, and killed when the
// test ends whatever happens.
func runTTY(t *testing.T, dir string, timeout time.Duration, env []string, args ...string) ttyResult {
	t.Helper()
	path, err := exec.LookPath("drover")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = childEnv(append([]string{"TERM=xterm-256color", "NOMAD_CLI_SHOW_HINTS=false"}, env...)...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 50})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
		ptmx.Close()
	})
	var out syncBuffer
	copied := make(chan struct{})
	go func() {
		// Ends with an error (EIO) once the process has exited and its
		// output is read.
		io.Copy(&out, ptmx)
		close(copied)
	}()
	waited := make(chan error, 1)
	go func() {
		waited <- cmd.Wait()
		close(exited)
	}()
	select {
	case <-waited:
	case <-time.After(timeout):
		cmd.Process.Kill()
		t.Fatalf("drover %s still runs after %s; it wrote:\n%q", strings.Join(args, " "), timeout, out.String())
	}
	select {
	case <-copied:
	case <-time.After(10 * time.Second):
		t.Fatalf("the output of drover %s did not end", strings.Join(args, " "))
	}
	return ttyResult{raw: out.String(), code: cmd.ProcessState.ExitCode()}
}

// runPiped runs drover with its output in pipes, as in a script.
func runPiped(t *testing.T, dir string, timeout time.Duration, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "drover", args...)
	cmd.Dir = dir
	cmd.Env = childEnv(append([]string{"TERM=xterm-256color", "NOMAD_CLI_SHOW_HINTS=false"}, env...)...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("drover %s still ran after %s:\n%s", strings.Join(args, " "), timeout, out.String())
	}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func writeJob(t *testing.T, dir, name, src string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	cursorUp   = regexp.MustCompile(`\x1b\[\d+A`)
	anyEscape  = regexp.MustCompile(`\x1b`)
	monitoring = regexp.MustCompile(`==> Monitoring deployment "([0-9a-f]{8})"`)
)

// latestDeployment returns the job's latest deployment.
func latestDeployment(t *testing.T, client *api.Client, job string) *api.Deployment {
	t.Helper()
	d, _, err := client.Jobs().LatestDeployment(job, nil)
	if err != nil || d == nil {
		t.Fatalf("latest deployment of %s: %v %v", job, d, err)
	}
	return d
}

// (a) On a terminal, job run follows the deployment in a view redrawn in
// place: the deployment's groups and, while the task starts, its latest
// event (the mock's start delay reports progress as an image pull does);
// the view ends with the closing line, the time and the deployment; exit 0.
func TestJobRunTTY_LiveViewUntilSuccessful(t *testing.T) {
	addr, client := devAgent(t)
	dir := t.TempDir()
	writeJob(t, dir, "web.nomad", `job "web" {
  datacenters = ["dc1"]
  group "web" {
    update {
      min_healthy_time = "500ms"
    }
    task "app" {
      driver = "mock"
      config {
        run_for     = "1h"
        start_delay = "1500ms"
      }
    }
  }
}`)
	res := runTTY(t, dir, 60*time.Second, []string{"DROVER_ADDR=" + addr}, "job", "run", "web.nomad")
	if res.code != 0 {
		t.Fatalf("exit %d:\n%q", res.code, res.raw)
	}
	d := latestDeployment(t, client, "web")
	if d.Status != "successful" {
		t.Fatalf("deployment %s", d.Status)
	}
	m := monitoring.FindStringSubmatch(res.raw)
	if m == nil || m[1] != d.ID[:8] {
		t.Fatalf("no Monitoring deployment line for %s:\n%q", d.ID[:8], res.raw)
	}
	// Redrawn in place: the cursor moves up over the view and lines are
	// cleared; the screen as a whole is never cleared.
	if !cursorUp.MatchString(res.raw) || !strings.Contains(res.raw, "\x1b[2K") {
		t.Errorf("no cursor movement or line clearing:\n%q", res.raw)
	}
	if strings.Contains(res.raw, "\x1b[2J") || strings.Contains(res.raw, "\x1b[H") {
		t.Errorf("the whole screen was cleared:\n%q", res.raw)
	}
	// While it ran: the spinner line, and the task's latest event.
	for _, want := range []string{
		`Deployment "` + d.ID[:8] + `" in progress...`,
		"\x1b[1mStarting Allocations\x1b[0m",
		"Mock start in progress: ",
	} {
		if !strings.Contains(res.raw, want) {
			t.Errorf("the live view never showed %q:\n%q", want, res.raw)
		}
	}
	// What the terminal shows at the end: the evaluation's lines, then
	// only the final frame, in the compatible CLI's words.
	screen := screenOf(t, strings.ReplaceAll(res.raw, "\r\n", "\n"))
	want := regexp.MustCompile(`(?s)^==> Monitoring evaluation "[0-9a-f]{8}"
.*==> Evaluation "[0-9a-f]{8}" finished with status "complete"
==> Monitoring deployment "` + d.ID[:8] + `"
  ✓ Deployment "` + d.ID[:8] + `" successful

    ` + clusterTimeRE + `
    ID          = ` + d.ID[:8] + `
    Job ID      = web
    Job Version = 0
    Status      = successful
    Description = Deployment completed successfully

    Deployed
    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline
    web         1        1       1        0          ` + clusterTimeRE + `

$`)
	if !want.MatchString(screen) {
		t.Errorf("final screen:\n%s", screen)
	}
	// The closing mark is green on a colour terminal.
	if !strings.Contains(res.raw, "\x1b[32m✓\x1b[0m Deployment") {
		t.Errorf("closing line not coloured:\n%q", res.raw)
	}
}

// (b) A task that cannot start ends the view at once, naming the
// allocation, the task and the driver's message; exit 1.
func TestJobRunTTY_TaskCannotStart(t *testing.T) {
	addr, client := devAgent(t)
	dir := t.TempDir()
	writeJob(t, dir, "fail.nomad", `job "fail" {
  datacenters = ["dc1"]
  group "cache" {
    task "redis" {
      driver = "mock"
      config {
        start_error = "exec: \"redis-server\": executable file not found in $PATH"
      }
    }
  }
}`)
	start := time.Now()
	res := runTTY(t, dir, 60*time.Second, []string{"DROVER_ADDR=" + addr}, "job", "run", "fail.nomad")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1:\n%q", res.code, res.raw)
	}
	// Long before the progress deadline (10m) or the restart (15s).
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("took %s", took)
	}
	allocs, _, err := client.Jobs().Allocations("fail", false, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocations: %v %v", allocs, err)
	}
	d := latestDeployment(t, client, "fail")
	screen := screenOf(t, strings.ReplaceAll(res.raw, "\r\n", "\n"))
	line := `  ! Task "redis" of allocation "` + allocs[0].ID[:8] + `" cannot start: exec: "redis-server": executable file not found in $PATH` + "\n"
	if !strings.Contains(screen, "==> Monitoring deployment \""+d.ID[:8]+"\"\n"+line+"\n    ") {
		t.Errorf("final screen lacks %q after the monitoring line:\n%s", line, screen)
	}
	if strings.Contains(screen, "in progress") || !strings.Contains(screen, "    Status      = running\n") {
		t.Errorf("final screen:\n%s", screen)
	}
	if !strings.Contains(res.raw, "\x1b[31m!\x1b[0m Task") {
		t.Errorf("problem mark not red:\n%q", res.raw)
	}
}

// (c) Colour: on a terminal, headings are bold; -no-color and NO_COLOR
// turn every escape off; piped, there are none either, and job run prints
// the tutorials' plain output, without following the deployment.
func TestColourTTYAndPiped(t *testing.T) {
	addr, client := devAgent(t)
	dir := t.TempDir()
	writeJob(t, dir, "colour.nomad", `job "colour" {
  datacenters = ["dc1"]
  group "cache" {
    task "redis" {
      driver = "mock"
      config {
        run_for = "1h"
      }
    }
  }
}`)
	env := []string{"DROVER_ADDR=" + addr}
	out, errOut, code := runPiped(t, dir, 60*time.Second, env, "job", "run", "colour.nomad")
	plain := regexp.MustCompile(`^==> Monitoring evaluation "[0-9a-f]{8}"
    Evaluation triggered by job "colour"
    Evaluation within deployment: "[0-9a-f]{8}"
    Allocation "[0-9a-f]{8}" created: node "[0-9a-f]{8}", group "cache"
    Evaluation status changed: "pending" -> "complete"
==> Evaluation "[0-9a-f]{8}" finished with status "complete"
$`)
	if code != 0 || errOut != "" || !plain.MatchString(out) {
		t.Errorf("piped job run: exit %d, stderr %q, stdout:\n%s", code, errOut, out)
	}
	clusterRunningAlloc(t, client, "colour")

	res := runTTY(t, dir, 30*time.Second, env, "job", "status", "colour")
	if res.code != 0 || !strings.Contains(res.raw, "\x1b[1mSummary\x1b[0m") {
		t.Errorf("job status on a terminal: exit %d\n%q", res.code, res.raw)
	}
	res = runTTY(t, dir, 30*time.Second, env, "job", "status", "-no-color", "colour")
	if res.code != 0 || anyEscape.MatchString(res.raw) || !strings.Contains(res.raw, "Summary\r\n") {
		t.Errorf("job status -no-color on a terminal: exit %d\n%q", res.code, res.raw)
	}
	res = runTTY(t, dir, 30*time.Second, append(env, "NO_COLOR=1"), "job", "status", "colour")
	if res.code != 0 || anyEscape.MatchString(res.raw) || !strings.Contains(res.raw, "Summary\r\n") {
		t.Errorf("job status with NO_COLOR on a terminal: exit %d\n%q", res.code, res.raw)
	}
	out, _, code = runPiped(t, dir, 30*time.Second, env, "job", "status", "colour")
	if code != 0 || anyEscape.MatchString(out) || !strings.Contains(out, "\nSummary\n") {
		t.Errorf("piped job status: exit %d\n%q", code, out)
	}
}

// deployment status -monitor on a terminal is the same live view: it
// redraws in place and ends with the closing line; exit 0.
func TestDeploymentStatusMonitorTTY(t *testing.T) {
	addr, client := devAgent(t)
	clusterRegister(t, client, clusterMockJob(`min_healthy_time = "1500ms"`, ""))
	d := clusterDeployment(t, client, 0, "a running deployment with its allocation placed", func(d *api.Deployment) bool {
		return d.Status == "running" && d.TaskGroups["cache"] != nil && d.TaskGroups["cache"].PlacedAllocs == 1
	})
	res := runTTY(t, t.TempDir(), 60*time.Second, []string{"DROVER_ADDR=" + addr}, "deployment", "status", "-monitor", d.ID[:8])
	if res.code != 0 {
		t.Fatalf("exit %d:\n%q", res.code, res.raw)
	}
	if !cursorUp.MatchString(res.raw) || !strings.Contains(res.raw, `Deployment "`+d.ID[:8]+`" in progress...`) {
		t.Errorf("no live view:\n%q", res.raw)
	}
	screen := screenOf(t, strings.ReplaceAll(res.raw, "\r\n", "\n"))
	if !strings.HasPrefix(screen, "  ✓ Deployment \""+d.ID[:8]+"\" successful\n\n    ") ||
		strings.Count(screen, "Status      = ") != 1 || !strings.Contains(screen, "    Status      = successful\n") {
		t.Errorf("final screen:\n%s", screen)
	}
}

// A successful deployment clears the exit code 2 of placement failures:
// the job's second allocation fits only once another job stops, while
// job run -watch follows the deployment.
func TestJobRunWatch_SuccessClearsPlacementFailure(t *testing.T) {
	addr, client := devAgent(t)
	node := clusterNode(t, client)
	info, _, err := client.Nodes().Info(node.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	free := info.NodeResources.Memory.MemoryMB
	if r := info.ReservedResources; r != nil {
		free -= int64(r.Memory.MemoryMB)
	}
	// Two allocations of web need 2×each; with the hog placed, only one fits.
	each := free / 3
	hog := free - each - each/2
	job := func(name string, count int, memory int64, extra string) string {
		return fmt.Sprintf(`job %q {
  datacenters = ["dc1"]
  group "g" {
    count = %d
    %s
    task "t" {
      driver = "mock"
      config {
        run_for = "1h"
      }
      resources {
        cpu    = 10
        memory = %d
      }
    }
  }
}`, name, count, extra, memory)
	}
	dir := t.TempDir()
	writeJob(t, dir, "hog.nomad", job("hog", 1, hog, ""))
	update := `update {
      max_parallel     = 2
      min_healthy_time = "200ms"
    }`
	writeJob(t, dir, "plain.nomad", job("plain", 2, each, update))
	writeJob(t, dir, "web.nomad", job("web", 2, each, update))
	if code, out, errOut := runCLI(t, addr, "job", "run", filepath.Join(dir, "hog.nomad")); code != 0 {
		t.Fatalf("hog: %d\n%s%s", code, out, errOut)
	}
	// Without -watch: exit 2, the placement failure.
	if code, out, _ := runCLI(t, addr, "job", "run", filepath.Join(dir, "plain.nomad")); code != 2 {
		t.Fatalf("plain: exit %d, want 2\n%s", code, out)
	}
	if _, _, err := client.Jobs().Deregister("plain", true, nil); err != nil {
		t.Fatal(err)
	}

	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runCLI(t, addr, "job", "run", "-watch", filepath.Join(dir, "web.nomad"))
		done <- result{code, out, errOut}
	}()
	// Once web's evaluation has failed to place its second allocation,
	// stop the hog: the blocked evaluation places it, the deployment
	// completes.
	clusterWait(t, "web's blocked evaluation", func() bool {
		evals, _, err := client.Jobs().Evaluations("web", nil)
		if err != nil {
			return false
		}
		for _, e := range evals {
			if e.Status == "blocked" {
				return true
			}
		}
		return false
	})
	if _, _, err := client.Jobs().Deregister("hog", false, nil); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("job run -watch did not end")
	}
	if r.code != 0 {
		t.Fatalf("exit %d, want 0 (the deployment succeeded):\n%s\n%s", r.code, r.out, r.err)
	}
	for _, want := range []string{
		"finished with status \"complete\" but failed to place all allocations:",
		"==> Monitoring deployment ",
		"Status      = successful\n",
		"g           2        2       2        0",
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
}

// A docker task whose image does not exist: with no registry the pull
// fails at once, and job run -watch says so, with the driver's words.
func TestJobRunWatch_DockerImageMissing(t *testing.T) {
	dockerimg.Require(t)
	if !dockerimg.Available() {
		t.Skip("no Docker engine answers (CI requires one with DROVER_REQUIRE_DOCKER=1)")
	}
	addr, client := devAgent(t)
	node := clusterNode(t, client)
	clusterWait(t, "the docker driver on the node", func() bool {
		n, _, err := client.Nodes().Info(node.ID, nil)
		return err == nil && n.Drivers["docker"] != nil && n.Drivers["docker"].Healthy
	})
	// Port 1 of the loopback never has a registry.
	const image = "127.0.0.1:1/drover-test/redis:9"
	dir := t.TempDir()
	writeJob(t, dir, "missing.nomad", `job "missing" {
  datacenters = ["dc1"]
  group "cache" {
    task "redis" {
      driver = "docker"
      config {
        image = "`+image+`"
      }
    }
  }
}`)
	code, out, errOut := runCLI(t, addr, "job", "run", "-watch", filepath.Join(dir, "missing.nomad"))
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s\n%s", code, out, errOut)
	}
	allocs, _, err := client.Jobs().Allocations("missing", false, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocations: %v %v", allocs, err)
	}
	want := regexp.MustCompile(`(?m)^! Task "redis" of allocation "` + allocs[0].ID[:8] + `" cannot start: Failed to pull "` +
		regexp.QuoteMeta(image) + `": .+$`)
	if !want.MatchString(out) {
		t.Errorf("no cannot-start line:\n%s", out)
	}
}

// failWhenRunning fails the job's deployment once it runs with its
// allocation placed, from another goroutine, as an operator would from
// another shell; it returns the deployment's ID through the channel.
func failWhenRunning(t *testing.T, client *api.Client, job string) <-chan string {
	ids := make(chan string, 1)
	go func() {
		defer close(ids)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			d, _, err := client.Jobs().LatestDeployment(job, nil)
			if err == nil && d != nil && d.Status == "running" && d.TaskGroups["web"] != nil && d.TaskGroups["web"].PlacedAllocs == 1 {
				if _, _, err := client.Deployments().Fail(d.ID, nil); err != nil {
					t.Errorf("fail deployment: %v", err)
				}
				ids <- d.ID
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("no running deployment of %s to fail", job)
	}()
	return ids
}

const slowJob = `job %q {
  datacenters = ["dc1"]
  group "web" {
    update {
      min_healthy_time = "30m"
      healthy_deadline = "1h"
      progress_deadline = "2h"
    }
    task "app" {
      driver = "mock"
      config {
        run_for = "1h"
      }
    }
  }
}`

// A deployment that fails ends the watch with exit 1: on a terminal with
// the compatible CLI's "! Deployment ... failed" line, without one with
// the failed deployment as the last block printed.
func TestJobRunWatch_DeploymentFailed(t *testing.T) {
	addr, client := devAgent(t)
	dir := t.TempDir()
	writeJob(t, dir, "slow.nomad", fmt.Sprintf(slowJob, "slow"))
	writeJob(t, dir, "slowtty.nomad", fmt.Sprintf(slowJob, "slowtty"))

	ids := failWhenRunning(t, client, "slow")
	code, out, errOut := runCLI(t, addr, "job", "run", "-watch", filepath.Join(dir, "slow.nomad"))
	id := <-ids
	if code != 1 || errOut != "" {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errOut, out)
	}
	last := out[strings.LastIndex(out, "\nID          = "):]
	if !strings.HasPrefix(last, "\nID          = "+id[:8]+"\n") || !strings.Contains(last, "\nStatus      = failed\n") ||
		!strings.Contains(last, "\nDescription = Deployment marked as failed") || strings.Contains(out, "! ") {
		t.Errorf("output:\n%s", out)
	}

	ids = failWhenRunning(t, client, "slowtty")
	res := runTTY(t, dir, 60*time.Second, []string{"DROVER_ADDR=" + addr}, "job", "run", "slowtty.nomad")
	id = <-ids
	if res.code != 1 {
		t.Fatalf("exit %d:\n%q", res.code, res.raw)
	}
	screen := screenOf(t, strings.ReplaceAll(res.raw, "\r\n", "\n"))
	if !strings.Contains(screen, "==> Monitoring deployment \""+id[:8]+"\"\n  ! Deployment \""+id[:8]+"\" failed\n\n") ||
		!strings.Contains(screen, "    Status      = failed\n") || strings.Contains(screen, "in progress") {
		t.Errorf("final screen:\n%s", screen)
	}
}
