package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tutorialJob is the second tutorial's job, run by the mock driver so the
// test needs no containers; count and a marker vary per step.
func tutorialJob(count int, marker string) string {
	return strings.NewReplacer("COUNT", itoa(count), "MARKER", marker).Replace(`job "example" {
  datacenters = ["dc1"]

  group "cache" {
    count = COUNT

    update {
      max_parallel     = 1
      min_healthy_time = "100ms"
    }

    network {
      port "db" {
        to = 6379
      }
    }

    task "redis" {
      driver = "mock"

      config {
        run_for       = "0s"
        stdout_string = "MARKER"
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
`)
}

func itoa(n int) string { return strconv.Itoa(n) }

// matchLines checks output line by line against regular expressions.
func matchLines(t *testing.T, what, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(patterns) {
		t.Fatalf("%s: %d lines, want %d:\n%s", what, len(lines), len(patterns), out)
	}
	for i, p := range patterns {
		if !regexp.MustCompile("^" + p + "$").MatchString(lines[i]) {
			t.Fatalf("%s: line %d is %q, want /%s/\n%s", what, i+1, lines[i], p, out)
		}
	}
}

const id8 = `[0-9a-f]{8}`

// TestJobCommands_TutorialFlow runs the tutorials' job commands against a
// dev agent: run, plan with count 3, run -check-index (and a stale index
// refused), status, stop, and the job list.
func TestJobCommands_TutorialFlow(t *testing.T) {
	addr, client := devAgent(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "example.nomad")
	write := func(src string) {
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runCLI(t, addr, "status")
	if code != 0 || out != "No running jobs\n" {
		t.Fatalf("status with no jobs: %d %q %q", code, out, errOut)
	}

	write(tutorialJob(1, "one"))
	code, out, errOut = runCLI(t, addr, "job", "run", file)
	if code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	matchLines(t, "job run", out,
		`==> Monitoring evaluation "`+id8+`"`,
		`    Evaluation triggered by job "example"`,
		`    Evaluation within deployment: "`+id8+`"`,
		`    Allocation "`+id8+`" created: node "`+id8+`", group "cache"`,
		`    Evaluation status changed: "pending" -> "complete"`,
		`==> Evaluation "`+id8+`" finished with status "complete"`)

	// Wait for the first deployment, so the plan below sees a settled job.
	waitUntil(t, 20*time.Second, "first deployment successful", func() bool {
		d, _, err := client.Jobs().LatestDeployment("example", nil)
		return err == nil && d != nil && d.Status == "successful"
	})

	write(tutorialJob(3, "one"))
	code, out, _ = runCLI(t, addr, "job", "plan", file)
	if code != 1 {
		t.Fatalf("plan exit %d, want 1 (allocations would be created)\n%s", code, out)
	}
	job, _, _ := client.Jobs().Info("example", nil)
	index := *job.JobModifyIndex
	want := `+/- Job: "example"
+/- Task Group: "cache" (2 create, 1 in-place update)
  +/- Count: "1" => "3" (forces create)
      Task: "redis"

Scheduler dry-run:
- All tasks successfully allocated.

Job Modify Index: ` + itoa64(index) + `
To submit the job with version verification run:

drover job run -check-index ` + itoa64(index) + ` ` + file + `

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid.
`
	if out != want {
		t.Fatalf("plan output:\n%s\nwant:\n%s", out, want)
	}

	code, out, errOut = runCLI(t, addr, "job", "run", "-check-index", itoa64(index), file)
	if code != 0 {
		t.Fatalf("run -check-index: %d\n%s%s", code, out, errOut)
	}
	matchLines(t, "run -check-index", out,
		`==> Monitoring evaluation "`+id8+`"`,
		`    Evaluation triggered by job "example"`,
		`    Evaluation within deployment: "`+id8+`"`,
		`    Allocation "`+id8+`" created: node "`+id8+`", group "cache"`,
		`    Allocation "`+id8+`" created: node "`+id8+`", group "cache"`,
		`    Allocation "`+id8+`" modified: node "`+id8+`", group "cache"`,
		`    Evaluation status changed: "pending" -> "complete"`,
		`==> Evaluation "`+id8+`" finished with status "complete"`)

	// The same index again is stale now.
	code, out, errOut = runCLI(t, addr, "run", "-check-index", itoa64(index), file)
	if code != 1 || out != "" || !regexp.MustCompile(`^Enforcing job modify index \d+: job exists with conflicting job modify index: \d+\nJob not updated\n$`).MatchString(errOut) {
		t.Fatalf("stale check index: %d %q %q", code, out, errOut)
	}

	waitUntil(t, 20*time.Second, "three running", func() bool {
		allocs, _, _ := client.Jobs().Allocations("example", false, nil)
		n := 0
		for _, a := range allocs {
			if a.ClientStatus == "running" {
				n++
			}
		}
		return n == 3
	})
	code, out, _ = runCLI(t, addr, "job", "status", "example")
	if code != 0 {
		t.Fatalf("job status: %d %s", code, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^ID            = example$`),
		regexp.MustCompile(`(?m)^Name          = example$`),
		regexp.MustCompile(`(?m)^Submit Date   = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$`),
		regexp.MustCompile(`(?m)^Type          = service$`),
		regexp.MustCompile(`(?m)^Priority      = 50$`),
		regexp.MustCompile(`(?m)^Datacenters   = dc1$`),
		regexp.MustCompile(`(?m)^Namespace     = default$`),
		regexp.MustCompile(`(?m)^Status        = running$`),
		regexp.MustCompile(`(?m)^Periodic      = false$`),
		regexp.MustCompile(`(?m)^Parameterized = false$`),
		regexp.MustCompile(`(?m)^Summary\nTask Group  Queued  Starting  Running  Failed  Complete  Lost\ncache       0       0         3        0       0         0$`),
		regexp.MustCompile(`(?m)^Latest Deployment\nID          = ` + id8 + `\nStatus      = (running|successful)\nDescription = Deployment (is running|completed successfully)$`),
		regexp.MustCompile(`(?m)^Deployed\nTask Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\ncache       3        3       [0-3]        0          \S+$`),
		regexp.MustCompile(`(?m)^Allocations\nID        Node ID   Task Group  Version  Desired  Status   Created  +Modified$`),
		regexp.MustCompile(`(?m)^` + id8 + `  ` + id8 + `  cache       1        run      running  \d+s ago +\d+s ago$`),
	} {
		if !want.MatchString(out) {
			t.Fatalf("job status lacks /%s/:\n%s", want, out)
		}
	}

	code, out, _ = runCLI(t, addr, "job", "stop", "example")
	if code != 0 {
		t.Fatalf("job stop: %d %s", code, out)
	}
	matchLines(t, "job stop", out,
		`==> Monitoring evaluation "`+id8+`"`,
		`    Evaluation triggered by job "example"`,
		`    Evaluation within deployment: "`+id8+`"`,
		`    Evaluation status changed: "pending" -> "complete"`,
		`==> Evaluation "`+id8+`" finished with status "complete"`)
	waitUntil(t, 20*time.Second, "dead (stopped)", func() bool {
		_, out, _ := runCLI(t, addr, "status")
		return regexp.MustCompile(`(?m)^example  service  50        dead \(stopped\)  \S+$`).MatchString(out)
	})
	_, out, _ = runCLI(t, addr, "status")
	matchLines(t, "status", out, `ID       Type     Priority  Status          Submit Date`, `example  service  50        dead \(stopped\)  \S+`)
}

// TestJobRun_PlacementFailureExplained: a job that cannot be placed exits
// 2, says why, and -explain shows the scheduler's reasons.
func TestJobRun_PlacementFailureExplained(t *testing.T) {
	addr, _ := devAgent(t)
	file := filepath.Join(t.TempDir(), "huge.nomad")
	os.WriteFile(file, []byte(strings.Replace(tutorialJob(1, "x"), "cpu    = 500", "cpu    = 9000000", 1)), 0o644)
	code, out, _ := runCLI(t, addr, "job", "run", "-explain", file)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, out)
	}
	for _, want := range []string{
		`finished with status "complete" but failed to place all allocations:`,
		`    Task Group "cache" (failed to place 1 allocation):`,
		`Dimension "cpu" exhausted on 1 nodes`,
		`waiting for additional capacity to place remainder`,
		"Scheduler decisions",
		"example.cache[0]",
		"cpu exhausted on 1 node(s)",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCLI(t, addr, "job", "plan", file)
	if code != 1 || !strings.Contains(out, "- WARNING: Failed to place all allocations.\n  Task Group \"cache\" (failed to place 1 allocation):") {
		t.Fatalf("plan: %d\n%s", code, out)
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func itoa64(n uint64) string { return strconv.FormatUint(n, 10) }
