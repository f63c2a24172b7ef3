package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"drover/labs"
)

// mockLab is the getting-started story in small, with the mock driver, so
// the runner is tested without containers.
const mockLab = `title: Mock lab
description: Runs, scales and stops a mock job.
step: Write a job
run: job init -short
expect: Example job file written to example.nomad
edit: example.nomad | driver = "docker" | driver = "mock"
edit: example.nomad | image = "redis:3.2" | run_for = "0s"
edit: example.nomad | ports = ["db"] | stdout_string = "hello"
step: Run it
run: job run example.nomad
expect: finished with status "complete"
wait: running 1 version 0
step: Scale it
edit: example.nomad | group "cache" { | group "cache" {\n    count = 3
run: job plan example.nomad
expect: (2 create, 1 in-place update)
capture: index | Job Modify Index: (\d+)
run: job run -check-index {{index}} example.nomad
wait: running 3 version 1
run: alloc logs {{alloc}}
expect: hello
step: A stale index is refused
run: job run -check-index {{index}} example.nomad
expect-exit: 1
expect: Job not updated
step: Stop it
run: job stop example
wait: status dead
`

func playLab(t *testing.T, src string) (string, error) {
	t.Helper()
	lab, err := labs.Parse("mock", src)
	if err != nil {
		t.Fatal(err)
	}
	addr, client := devAgent(t)
	dir := t.TempDir()
	prev, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(prev)
	var out bytes.Buffer
	r := &labs.Runner{
		Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
			return MainContext(ctx, args, stdout, stderr, []string{"DROVER_ADDR=" + addr})
		},
		Client: client, Dir: dir, Out: &out, WaitTimeout: 30 * time.Second,
	}
	err = r.Play(context.Background(), lab)
	return out.String(), err
}

func TestLabRunner_PlaysAndChecks(t *testing.T) {
	out, err := playLab(t, mockLab)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"== Lab: Mock lab",
		"-- Step 1/5: Write a job",
		"$ drover job run example.nomad",
		"   ✓ 1 allocation(s) of version 0 running (0 of other versions)",
		"   ✓ (2 create, 1 in-place update)",
		"   ✓ 3 allocation(s) of version 1 running (0 of other versions)",
		"   ✓ Job not updated",
		"   ✓ job example is dead and its allocations have stopped",
		`== Lab "mock" complete`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

// TestLabRunner_StopsAtAFailedCheck: a check that does not hold stops the
// lab with the lab file's line.
func TestLabRunner_StopsAtAFailedCheck(t *testing.T) {
	_, err := playLab(t, "title: t\nstep: s\nrun: status\nexpect: something that is not there\n")
	if err == nil || err.Error() != `mock.lab:4: step 1: the output of "drover status" has no line matching "something that is not there"` {
		t.Fatalf("err = %v", err)
	}
	_, err = playLab(t, "title: t\nstep: s\nrun: job status nope\n")
	if err == nil || !strings.Contains(err.Error(), `"drover job status nope" exited with 1`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLabList(t *testing.T) {
	code, out, _ := run(t, "", "lab", "list")
	if code != 0 || !strings.Contains(out, "getting-started") || !strings.HasPrefix(out, "Name") {
		t.Fatalf("lab list: %d %q", code, out)
	}
}
