package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// runOwn runs a drover command line against addr in-process, on a root
// command that holds the alloc, eval and logs commands whether or not
// cli.go registers them yet, and maps errors to exit codes as Main does.
func runOwn(t *testing.T, addr string, args ...string) (int, string, string) {
	t.Helper()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	code := runOwnContext(context.Background(), addr, out, errOut, args...)
	return code, out.String(), errOut.String()
}

func runOwnContext(ctx context.Context, addr string, out, errOut *syncBuffer, args ...string) int {
	s := &streams{Out: out, Err: errOut, Env: []string{"DROVER_ADDR=" + addr, noHints}}
	root := newRootCommand(s)
	for _, c := range []*cobra.Command{
		newAllocCommand(s), newEvalCommand(s), newLogsCommand(s),
		newAllocStatusLegacyCommand(s), newEvalStatusLegacyCommand(s),
	} {
		if subcommand(root, c.Name()) == nil {
			root.AddCommand(c)
		}
	}
	root.SetArgs(normalizeArgs(root, args))
	err := root.ExecuteContext(ctx)
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(errOut, ee.msg)
		}
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(errOut, ue.msg)
		fmt.Fprintf(errOut, "For additional help try '%s -help'\n", ue.cmd.CommandPath())
		return 1
	default:
		fmt.Fprintln(errOut, err)
		return 1
	}
}

// startJob registers an HCL job and waits until one of its allocations
// runs every task, returning that allocation.
func startJob(t *testing.T, client *api.Client, src string) *api.Allocation {
	t.Helper()
	job, err := client.Jobs().ParseHCL(src, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	var alloc *api.Allocation
	waitFor(t, "a running allocation of "+*job.ID, func() bool {
		stubs, _, err := client.Jobs().Allocations(*job.ID, false, nil)
		if err != nil {
			return false
		}
		for _, s := range stubs {
			if s.ClientStatus != "running" {
				continue
			}
			a, _, err := client.Allocations().Info(s.ID, nil)
			if err != nil || len(a.TaskStates) == 0 {
				continue
			}
			started := true
			for _, ts := range a.TaskStates {
				if ts.State != "running" {
					started = false
				}
			}
			if started {
				alloc = a
				return true
			}
		}
		return false
	})
	return alloc
}

// waitFor polls cond until it holds or 30 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// wantLines checks output line by line against regular expressions.
func wantLines(t *testing.T, what, out string, patterns ...string) {
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

const (
	hex8    = `[0-9a-f]{8}`
	rfc3339 = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)`
	ago     = `(\d+[a-z]+)+ ago`
)

const groupPortJob = `job "cache" {
  datacenters = ["dc1"]

  group "cache" {
    network {
      port "db" {
        to = 6379
      }
    }

    task "redis" {
      driver = "mock"

      config {
        run_for       = "0s"
        stdout_string = "one\ntwo\nthree\n"
        stderr_string = "warning: low memory\n"
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
`

// oldStyleJob declares its port in the task's resources, as the first
// tutorial's job does.
const oldStyleJob = `job "legacy" {
  datacenters = ["dc1"]

  group "cache" {
    task "redis" {
      driver = "mock"

      config {
        run_for = "0s"
      }

      resources {
        cpu    = 500
        memory = 256

        network {
          mbits = 10
          port "db" {}
        }
      }
    }
  }
}
`

const twoTaskJob = `job "pair" {
  datacenters = ["dc1"]

  group "pair" {
    task "web" {
      driver = "mock"
      config {
        run_for       = "0s"
        stdout_string = "web says hi\n"
      }
    }

    task "sidecar" {
      driver = "mock"
      config {
        run_for       = "0s"
        stdout_string = "sidecar says hi\n"
      }
    }
  }
}
`

// TestAllocStatus runs "alloc status" against allocations of a dev agent.
func TestAllocStatus(t *testing.T) {
	addr, client := devAgent(t)
	alloc := startJob(t, client, groupPortJob)
	id8 := alloc.ID[:8]

	t.Run("tutorial layout", func(t *testing.T) {
		code, out, errOut := runOwn(t, addr, "alloc", "status", id8)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		wantLines(t, "alloc status", out,
			`ID                  = `+alloc.ID,
			`Eval ID             = `+alloc.EvalID[:8],
			`Name                = cache\.cache\[0\]`,
			`Node ID             = `+alloc.NodeID[:8],
			`Node Name           = \S+`,
			`Job ID              = cache`,
			`Job Version         = 0`,
			`Client Status       = running`,
			`Client Description  = Tasks are running`,
			`Desired Status      = run`,
			`Desired Description = <none>`,
			`Created             = `+ago,
			`Modified            = `+ago,
			`Deployment ID       = `+hex8,
			`Deployment Health   = (unset|healthy)`,
			``,
			`Allocation Addresses`,
			`Label  Dynamic  Address`,
			`\*db    yes      \d+\.\d+\.\d+\.\d+:\d+ -> 6379`,
			``,
			`Task "redis" is "running"`,
			`Task Resources`,
			`CPU +Memory +Disk +Addresses`,
			`\d+/500 MHz +\d+(\.\d)? [KM]iB/256 MiB +300 MiB +`,
			``,
			`Task Events:`,
			`Started At     = `+rfc3339,
			`Finished At    = N/A`,
			`Total Restarts = 0`,
			`Last Restart   = N/A`,
			``,
			`Recent Events:`,
			`Time +Type +Description`,
			rfc3339+`  Started     Task started by client`,
			rfc3339+`  Task Setup  Building Task Directory`,
			rfc3339+`  Received    Task received by client`,
		)
		// The address is the one the scheduler picked.
		port := alloc.AllocatedResources.Shared.Ports[0]
		if want := fmt.Sprintf("%s:%d -> 6379", port.HostIP, port.Value); !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	})

	t.Run("legacy alloc-status", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "alloc-status", id8)
		if code != 0 || !strings.HasPrefix(out, "ID                  = "+alloc.ID+"\n") || !strings.Contains(out, `Task "redis" is "running"`) {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("prefix and full ID", func(t *testing.T) {
		for _, id := range []string{alloc.ID, alloc.ID[:6], alloc.ID[:5]} {
			code, out, errOut := runOwn(t, addr, "alloc", "status", id)
			if code != 0 && !strings.Contains(out, "Prefix matched multiple allocations") {
				t.Fatalf("%s: exit %d: %s", id, code, errOut)
			}
			if code == 0 && !strings.Contains(out, alloc.ID) {
				t.Fatalf("%s:\n%s", id, out)
			}
		}
	})

	t.Run("one character", func(t *testing.T) {
		code, out, errOut := runOwn(t, addr, "alloc", "status", alloc.ID[:1])
		if code != 1 || out != "" || errOut != "Identifier must contain at least two characters.\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		code, out, errOut := runOwn(t, addr, "alloc", "status", "0000000a")
		if code != 1 || out != "" || errOut != "No allocation(s) with prefix or id \"0000000a\" found\n" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})

	t.Run("no argument", func(t *testing.T) {
		code, _, errOut := runOwn(t, addr, "alloc", "status")
		if code != 1 || !strings.Contains(errOut, "This command takes one argument") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})

	t.Run("verbose", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "alloc", "status", "-verbose", id8)
		for _, want := range []string{
			"Eval ID             = " + alloc.EvalID,
			"Node ID             = " + alloc.NodeID,
			"Evaluated Nodes     = 1",
			"Allocation Time     = ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("exit %d, no %q in:\n%s", code, want, out)
			}
		}
		if !regexp.MustCompile(`(?m)^Created +=  ?` + rfc3339 + `$`).MatchString(out) {
			t.Errorf("verbose times are not RFC 3339:\n%s", out)
		}
	})

	t.Run("short", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "alloc", "status", "-short", id8)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		wantLines(t, "alloc status -short", out,
			`ID       = `+alloc.ID,
			`Name     = cache\.cache\[0\]`,
			`Created  = `+ago,
			`Modified = `+ago,
			``,
			`Tasks`,
			`Name   State    Last Event  Time +Lifecycle`,
			`redis  running  Started     `+rfc3339+`  main`,
		)
	})

	t.Run("stats", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "alloc", "status", "-stats", id8)
		if code != 0 || !strings.Contains(out, "\nMemory Stats\nRSS") || !strings.Contains(out, "\nCPU Stats\nPercent") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, _ := runOwn(t, addr, "alloc", "status", "-json", id8)
		var got api.Allocation
		if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
			t.Fatalf("exit %d, %v:\n%s", code, err, out)
		}
		if got.ID != alloc.ID || got.TaskStates["redis"] == nil {
			t.Fatalf("decoded %+v", got)
		}
	})

	t.Run("task network", func(t *testing.T) {
		old := startJob(t, client, oldStyleJob)
		code, out, _ := runOwn(t, addr, "alloc", "status", old.ID[:8])
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		if strings.Contains(out, "Allocation Addresses") {
			t.Errorf("a job without a group network has no allocation addresses:\n%s", out)
		}
		net := old.AllocatedResources.Tasks["redis"].Networks[0]
		row := regexp.MustCompile(`(?m)^Task Resources\nCPU +Memory +Disk +Addresses\n\d+/500 MHz +\S+ [KM]iB/256 MiB +300 MiB +db: ` +
			regexp.QuoteMeta(fmt.Sprintf("%s:%d", net.IP, net.DynamicPorts[0].Value)) + `$`)
		if !row.MatchString(out) {
			t.Errorf("no task address row in:\n%s", out)
		}
	})

	t.Run("stopped", func(t *testing.T) {
		if _, _, err := client.Jobs().Deregister("cache", false, nil); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the allocation to stop", func() bool {
			a, _, err := client.Allocations().Info(alloc.ID, nil)
			return err == nil && a.ClientStatus == "complete" && a.TaskStates["redis"].State == "dead"
		})
		code, out, errOut := runOwn(t, addr, "alloc", "status", id8)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, re := range []string{
			`(?m)^Client Status       = complete$`,
			`(?m)^Desired Status      = stop$`,
			`(?m)^Task "redis" is "dead"$`,
			// No usage once the task is dead: the allocation alone.
			`(?m)^CPU +Memory +Disk +Addresses\n500 MHz +256 MiB +300 MiB +$`,
			`(?m)^Finished At    = ` + rfc3339 + `$`,
			// Newest first.
			`(?m)^` + rfc3339 + `  Killed +Task successfully killed\n` + rfc3339 + `  Killing `,
		} {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("no /%s/ in:\n%s", re, out)
			}
		}
	})
}

// TestAllocLogs reads task logs with "alloc logs" and its "logs" alias.
func TestAllocLogs(t *testing.T) {
	addr, client := devAgent(t)
	alloc := startJob(t, client, groupPortJob)
	id8 := alloc.ID[:8]
	// The mock writes its output as it starts; wait until it is there.
	waitFor(t, "the task's output", func() bool {
		_, out, _ := runOwn(t, addr, "alloc", "logs", id8)
		return out == "one\ntwo\nthree\n"
	})

	cases := []struct {
		name string
		args []string
		out  string
	}{
		{"default stdout", []string{"alloc", "logs", id8}, "one\ntwo\nthree\n"},
		{"task argument", []string{"alloc", "logs", id8, "redis"}, "one\ntwo\nthree\n"},
		{"task flag", []string{"alloc", "logs", "-task", "redis", id8}, "one\ntwo\nthree\n"},
		{"stdout flag", []string{"alloc", "logs", "-stdout", alloc.ID}, "one\ntwo\nthree\n"},
		{"stderr", []string{"alloc", "logs", "-stderr", id8}, "warning: low memory\n"},
		{"tail default", []string{"alloc", "logs", "-tail", id8}, "one\ntwo\nthree\n"},
		{"tail lines", []string{"alloc", "logs", "-tail", "-n", "2", id8}, "two\nthree\n"},
		{"tail one line", []string{"alloc", "logs", "-tail", "-n=1", id8}, "three\n"},
		{"tail bytes", []string{"alloc", "logs", "-tail", "-c", "6", id8}, "three\n"},
		{"lines imply tail", []string{"alloc", "logs", "-n", "1", id8}, "three\n"},
		{"no lines", []string{"alloc", "logs", "-tail", "-n", "0", id8}, ""},
		{"logs alias", []string{"logs", "-stderr", id8}, "warning: low memory\n"},
		{"job", []string{"alloc", "logs", "-job", "cache"}, "one\ntwo\nthree\n"},
		{"job, as the CircleCI guide", []string{"logs", "-job", "-stderr", "cache"}, "warning: low memory\n"},
		{"job prefix and group", []string{"logs", "-job", "-group", "cache", "cac"}, "one\ntwo\nthree\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runOwn(t, addr, tc.args...)
			if code != 0 || out != tc.out || errOut != "" {
				t.Fatalf("%q: exit %d, stdout %q (want %q), stderr %q", tc.args, code, out, tc.out, errOut)
			}
		})
	}

	errCases := []struct {
		name string
		args []string
		err  string
	}{
		{"no argument", []string{"alloc", "logs"}, "An allocation ID is required\nFor additional help try 'drover alloc logs -help'\n"},
		{"no job", []string{"logs", "-job"}, "A job ID is required\nFor additional help try 'drover logs -help'\n"},
		{"three arguments", []string{"alloc", "logs", id8, "redis", "x"}, "This command takes one or two arguments: <allocation> [<task>]\nFor additional help try 'drover alloc logs -help'\n"},
		{"both streams", []string{"alloc", "logs", "-stdout", "-stderr", id8}, "Unable to support both stdout and stderr\nFor additional help try 'drover alloc logs -help'\n"},
		{"negative lines", []string{"alloc", "logs", "-n", "-2", id8}, "-n and -c must not be negative\nFor additional help try 'drover alloc logs -help'\n"},
		{"one character", []string{"alloc", "logs", alloc.ID[:1]}, "Identifier must contain at least two characters.\n"},
		{"unknown alloc", []string{"alloc", "logs", "0000000a"}, "No allocation(s) with prefix or id \"0000000a\" found\n"},
		{"unknown task", []string{"alloc", "logs", id8, "nope"}, "Failed to validate task: Could not find task named: nope\n"},
		{"unknown job", []string{"logs", "-job", "nojob"}, "No job(s) with prefix or ID \"nojob\" found\n"},
		{"unknown group", []string{"logs", "-job", "-group", "nope", "cache"}, "task group \"nope\" doesn't exist or it has no allocations\n"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runOwn(t, addr, tc.args...)
			if code != 1 || out != "" || errOut != tc.err {
				t.Fatalf("%q: exit %d, stdout %q, stderr %q (want %q)", tc.args, code, out, errOut, tc.err)
			}
		})
	}

	t.Run("several tasks", func(t *testing.T) {
		pair := startJob(t, client, twoTaskJob)
		code, out, errOut := runOwn(t, addr, "alloc", "logs", pair.ID[:8])
		want := fmt.Sprintf("Failed to validate task: Allocation %q is running the following tasks:\n  * web\n  * sidecar\n\nPlease specify the task.\n", pair.ID[:8])
		if code != 1 || out != "" || errOut != want {
			t.Fatalf("exit %d, stdout %q, stderr %q, want %q", code, out, errOut, want)
		}
		waitFor(t, "the sidecar's output", func() bool {
			_, out, _ := runOwn(t, addr, "alloc", "logs", "-task", "sidecar", pair.ID[:8])
			return out == "sidecar says hi\n"
		})
		code, out, _ = runOwn(t, addr, "alloc", "logs", pair.ID[:8], "web")
		if code != 0 || out != "web says hi\n" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
	})

	t.Run("follow", func(t *testing.T) {
		ticker := startJob(t, client, `job "ticker" {
  datacenters = ["dc1"]
  group "ticker" {
    task "tick" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo first; while true; do echo tick; echo tock >&2; sleep 0.1; done"]
      }
    }
  }
}`)
		follow := func(t *testing.T, args []string, wantOut, wantErr string) {
			t.Helper()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out, errOut := &syncBuffer{}, &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- runOwnContext(ctx, addr, out, errOut, args...) }()
			waitFor(t, "followed output", func() bool {
				select {
				case code := <-done:
					t.Fatalf("%q ended early with %d: %q %q", args, code, out.String(), errOut.String())
				default:
				}
				return strings.Contains(out.String(), wantOut) && strings.Contains(errOut.String(), wantErr)
			})
			cancel() // as Ctrl-C does
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("%q: exit %d after interrupt: %s", args, code, errOut.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%q did not stop when interrupted", args)
			}
		}
		// One stream, from the start.
		follow(t, []string{"alloc", "logs", "-f", "-stdout", ticker.ID[:8]}, "first\ntick\ntick\ntick\n", "")
		// Both streams, each to its own output.
		follow(t, []string{"logs", "-f", ticker.ID[:8]}, "tick\ntick\n", "tock\ntock\n")
		// The end of the log, then what comes.
		follow(t, []string{"alloc", "logs", "-f", "-tail", "-n", "1", ticker.ID[:8]}, "tick\ntick\ntick\n", "")

		// A quiet task: -f first shows the recent tail, as the compatible
		// CLI does, not nothing.
		quiet := startJob(t, client, `job "quiet" {
  datacenters = ["dc1"]
  group "quiet" {
    task "hush" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo said once; echo warned once >&2; sleep 600"]
      }
    }
  }
}`)
		follow(t, []string{"logs", "-f", quiet.ID[:8]}, "said once\n", "warned once\n")
	})

	t.Run("follow ends with the allocation", func(t *testing.T) {
		done := make(chan int, 1)
		out, errOut := &syncBuffer{}, &syncBuffer{}
		go func() {
			done <- runOwnContext(context.Background(), addr, out, errOut, "alloc", "logs", "-follow", "-stderr", id8)
		}()
		waitFor(t, "followed output", func() bool { return out.String() == "warning: low memory\n" })
		if _, _, err := client.Jobs().Deregister("cache", false, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatal("following did not end when the allocation stopped")
		}
	})
}

// TestAllocAmbiguousPrefix checks the listing of allocations that share
// a prefix, against a fake agent (real IDs rarely collide).
func TestAllocAmbiguousPrefix(t *testing.T) {
	now := time.Now().UnixNano()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/allocations" || r.URL.Query().Get("prefix") != "ab" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode([]*api.AllocationListStub{
			{ID: "ab000000-0000-0000-0000-000000000001", NodeID: "11111111-0000-0000-0000-000000000000", TaskGroup: "cache",
				JobVersion: 2, DesiredStatus: "run", ClientStatus: "running", CreateTime: now, ModifyTime: now, CreateIndex: 20},
			{ID: "ab000000-0000-0000-0000-000000000002", NodeID: "11111111-0000-0000-0000-000000000000", TaskGroup: "cache",
				JobVersion: 1, DesiredStatus: "stop", ClientStatus: "complete", CreateTime: now, ModifyTime: now, CreateIndex: 10},
		})
	}))
	defer srv.Close()

	code, out, errOut := runOwn(t, srv.URL, "alloc", "status", "ab")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantLines(t, "alloc status ab", out,
		`Prefix matched multiple allocations`,
		``,
		`ID        Node ID   Task Group  Version  Desired  Status    Created  Modified`,
		`ab000000  11111111  cache       2        run      running   0s ago   0s ago`,
		`ab000000  11111111  cache       1        stop     complete  0s ago   0s ago`,
	)
	// "abc" is sent as "ab" (an even number of digits) and filtered here.
	code, out, errOut = runOwn(t, srv.URL, "alloc", "logs", "abc")
	if code != 1 || out != "" || errOut != "No allocation(s) with prefix or id \"abc\" found\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runOwn(t, srv.URL, "logs", "ab")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "Prefix matched multiple allocations\n\nID ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1008 << 10: "1008 KiB",
		3 << 20: "3.0 MiB", 10 << 20: "10 MiB", 256 << 20: "256 MiB", 300 << 20: "300 MiB", 1536 << 20: "1.5 GiB",
	} {
		if got := humanBytes(int64(n)); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAllocLogsLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int64
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc"},
		{"a\nb\nc\n", 5, "a\nb\nc\n"},
		{"a\nb\nc\n", 0, ""},
		{"", 3, ""},
	} {
		if got := string(lastLines([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
