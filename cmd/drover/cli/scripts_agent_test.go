package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"drover/testutil/freeport"
	"github.com/hashicorp/nomad/api"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestAgentScripts runs the transcripts in testdata/agent. Each script
// gets a dev agent of its own (server and client in this test process,
// with the mock driver), and DROVER_ADDR and NOMAD_ADDR pointing at it, so
// `exec drover ...` talks to it as a student's shell would. The commands
// below let a script name what it needs to refer to, since IDs differ
// from run to run, wait for the cluster, check an exact exit code
// (exits) and compare output whose times vary (cmp-masked).
func TestAgentScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/agent",
		Setup: func(env *testscript.Env) error {
			addr, stop, err := startScriptAgent(env.WorkDir)
			if err != nil {
				return err
			}
			env.Defer(stop)
			env.Setenv("DROVER_ADDR", addr)
			env.Setenv("NOMAD_ADDR", addr)
			env.Setenv("NOMAD_CLI_SHOW_HINTS", "false")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exit-code":       cmdExitCode,
			"wait-allocs":     cmdWaitAllocs,
			"alloc-id":        cmdAllocID,
			"eval-id":         cmdEvalID,
			"node-id":         cmdNodeID,
			"deployment-id":   cmdDeploymentID,
			"wait-deployment": cmdWaitDeployment,
			"cmp-masked":      cmdCmpMasked,
			"wait-event":      cmdWaitEvent,
			"wait-task":       cmdWaitTask,
			"wait-alloc-file": cmdWaitAllocFile,
			"wait-file":       cmdWaitFile,
		},
	})
}

// startScriptAgent starts an in-process dev agent on free ports, with its
// data under dir, and waits until its node is ready.
func startScriptAgent(dir string) (string, func(), error) {
	return startScriptAgentWith(dir, "", func(client *api.Client) (bool, error) {
		nodes, _, err := client.Nodes().List(nil)
		return err == nil && len(nodes) == 1 && nodes[0].Status == "ready", err
	})
}

// startScriptAgentWith starts the dev agent with extra configuration and
// waits until ready says so.
func startScriptAgentWith(dir, extraHCL string, ready func(*api.Client) (bool, error)) (string, func(), error) {
	var ports [3]int
	for i := range ports {
		port, err := freeport.Take()
		if err != nil {
			return "", nil, err
		}
		ports[i] = port
	}
	cfgDir, err := os.MkdirTemp("", "drover-script-agent")
	if err != nil {
		return "", nil, err
	}
	cfg := filepath.Join(cfgDir, "ports.hcl")
	body := fmt.Sprintf("ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n", ports[0], ports[1], ports[2]) + extraHCL
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- MainContext(ctx, []string{"agent", "-dev", "-config", cfg}, log, log, nil) }()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
		}
		os.RemoveAll(cfgDir)
	}
	addr := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	client, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		stop()
		return "", nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := ready(client)
		if ok {
			return addr, stop, nil
		}
		select {
		case code := <-done:
			stop()
			return "", nil, fmt.Errorf("the dev agent exited with %d:\n%s", code, log.String())
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the dev agent's node is not ready: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scriptClient(ts *testscript.TestScript) *api.Client {
	c, err := api.NewClient(&api.Config{Address: ts.Getenv("DROVER_ADDR")})
	ts.Check(err)
	return c
}

// waitScript polls cond for up to 30 seconds.
func waitScript(ts *testscript.TestScript, what string, cond func() bool) {
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			ts.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// cmdWaitAllocs: wait-allocs <job> <client status> <count> waits until
// exactly count allocations of the job have that client status.
func cmdWaitAllocs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: wait-allocs <job> <client status> <count>")
	}
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	client := scriptClient(ts)
	waitScript(ts, fmt.Sprintf("%d %s allocations of %s", want, args[1], args[0]), func() bool {
		stubs, _, err := client.Jobs().Allocations(args[0], true, nil)
		if err != nil {
			return false
		}
		n := 0
		for _, s := range stubs {
			if s.ClientStatus == args[1] {
				n++
			}
		}
		return n == want
	})
}

// cmdAllocID: alloc-id <VAR> <job> [index] sets VAR to the full ID of a
// running allocation of the job (the index-th by name, default 0), and
// VAR8 to its first eight characters.
func cmdAllocID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: alloc-id <VAR> <job> [index]")
	}
	index := 0
	if len(args) == 3 {
		var err error
		index, err = strconv.Atoi(args[2])
		ts.Check(err)
	}
	client := scriptClient(ts)
	var id string
	waitScript(ts, "a running allocation of "+args[1], func() bool {
		stubs, _, err := client.Jobs().Allocations(args[1], false, nil)
		if err != nil {
			return false
		}
		var running []*api.AllocationListStub
		for _, s := range stubs {
			if s.ClientStatus == "running" {
				running = append(running, s)
			}
		}
		if len(running) <= index {
			return false
		}
		sort.Slice(running, func(i, j int) bool { return running[i].Name < running[j].Name })
		id = running[index].ID
		return true
	})
	ts.Setenv(args[0], id)
	ts.Setenv(args[0]+"8", id[:8])
}

// cmdEvalID: eval-id <VAR> <job> [triggered-by [status]] sets VAR (and
// VAR8) to the job's newest evaluation (triggered that way and in that
// status, when given, waiting for one).
func cmdEvalID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 4 {
		ts.Fatalf("usage: eval-id <VAR> <job> [triggered-by [status]]")
	}
	var evals []*api.Evaluation
	// One triggered by the cluster itself may be yet to come: wait for it.
	waitScript(ts, "an evaluation of "+strings.Join(args[1:], " "), func() bool {
		all, _, err := scriptClient(ts).Jobs().Evaluations(args[1], nil)
		if err != nil {
			return false
		}
		evals = evals[:0]
		for _, e := range all {
			if (len(args) < 3 || e.TriggeredBy == args[2]) && (len(args) < 4 || e.Status == args[3]) {
				evals = append(evals, e)
			}
		}
		return len(evals) > 0
	})
	sort.Slice(evals, func(i, j int) bool { return evals[i].CreateIndex > evals[j].CreateIndex })
	ts.Setenv(args[0], evals[0].ID)
	ts.Setenv(args[0]+"8", evals[0].ID[:8])
}

// cmdNodeID: node-id <VAR> sets VAR (and VAR8) to the dev agent's node.
func cmdNodeID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: node-id <VAR>")
	}
	nodes, _, err := scriptClient(ts).Nodes().List(nil)
	ts.Check(err)
	if len(nodes) != 1 {
		ts.Fatalf("%d nodes, want 1", len(nodes))
	}
	ts.Setenv(args[0], nodes[0].ID)
	ts.Setenv(args[0]+"8", nodes[0].ID[:8])
}

// cmdDeploymentID: deployment-id <VAR> <job> sets VAR (and VAR8) to the
// job's latest deployment.
func cmdDeploymentID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: deployment-id <VAR> <job>")
	}
	d, _, err := scriptClient(ts).Jobs().LatestDeployment(args[1], nil)
	ts.Check(err)
	if d == nil {
		ts.Fatalf("job %s has no deployment", args[1])
	}
	ts.Setenv(args[0], d.ID)
	ts.Setenv(args[0]+"8", d.ID[:8])
}

// cmdWaitDeployment: wait-deployment <job> <status> waits until the job's
// latest deployment has the status (e.g. successful).
func cmdWaitDeployment(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wait-deployment <job> <status>")
	}
	client := scriptClient(ts)
	waitScript(ts, fmt.Sprintf("the latest deployment of %s to be %s", args[0], args[1]), func() bool {
		d, _, err := client.Jobs().LatestDeployment(args[0], nil)
		return err == nil && d != nil && d.Status == args[1]
	})
}

// maskedTime matches the times the CLI prints (RFC3339, and "3s ago").
var maskedTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)|\b(\d+[a-z]+)+ (ago|from now)\b`)

// cmdCmpMasked: cmp-masked <stdout|stderr|file> <file> compares like cmp,
// after replacing every printed time in the first with <time>, so output
// with submit dates compares exactly.
func cmdCmpMasked(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cmp-masked <stdout|stderr|file> <file>")
	}
	got := maskedTime.ReplaceAllString(ts.ReadFile(args[0]), "<time>")
	want := ts.ReadFile(args[1])
	if got != want {
		ts.Fatalf("%s (times masked) differs from %s:\n--- got ---\n%s--- want ---\n%s", args[0], args[1], got, want)
	}
}

// cmdWaitEvent: wait-event <alloc ID> <task> <event type> [count] waits
// until the task has at least count (default 1) events of that type, as
// the servers see it. Only the last ten events are kept.
func cmdWaitEvent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: wait-event <alloc ID> <task> <event type> [count]")
	}
	want := 1
	if len(args) == 4 {
		var err error
		want, err = strconv.Atoi(args[3])
		ts.Check(err)
	}
	client := scriptClient(ts)
	waitScript(ts, fmt.Sprintf("%d %q events of task %s", want, args[2], args[1]), func() bool {
		a, _, err := client.Allocations().Info(args[0], nil)
		if err != nil || a.TaskStates[args[1]] == nil {
			return false
		}
		n := 0
		for _, e := range a.TaskStates[args[1]].Events {
			if e.Type == args[2] {
				n++
			}
		}
		return n >= want
	})
}

// cmdWaitTask: wait-task <alloc ID> <task> <state> <restarts> waits until
// the task is in that state (pending, running, dead) having restarted
// that many times, as the servers see it.
func cmdWaitTask(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: wait-task <alloc ID> <task> <state> <restarts>")
	}
	want, err := strconv.ParseUint(args[3], 10, 64)
	ts.Check(err)
	client := scriptClient(ts)
	waitScript(ts, fmt.Sprintf("task %s %s after %d restarts", args[1], args[2], want), func() bool {
		a, _, err := client.Allocations().Info(args[0], nil)
		if err != nil || a.TaskStates[args[1]] == nil {
			return false
		}
		st := a.TaskStates[args[1]]
		return st.State == args[2] && st.Restarts == want
	})
}

// cmdWaitAllocFile: wait-alloc-file <alloc ID> <path> <text> waits until the file of
// the allocation directory contains the text.
func cmdWaitAllocFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: wait-alloc-file <alloc ID> <path> <text>")
	}
	client := scriptClient(ts)
	waitScript(ts, fmt.Sprintf("%q in %s", args[2], args[1]), func() bool {
		a, _, err := client.Allocations().Info(args[0], nil)
		if err != nil {
			return false
		}
		r, err := client.AllocFS().Cat(a, args[1], nil)
		if err != nil {
			return false
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return strings.Contains(string(b), args[2])
	})
}

// cmdWaitFile: wait-file <file> <regexp> waits up to 30 seconds until the
// file (say, the output of a command running in the background) matches
// the regular expression, in multi-line mode.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wait-file <file> <regexp>")
	}
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	waitScript(ts, fmt.Sprintf("%s to match %q", args[0], args[1]), func() bool {
		b, err := os.ReadFile(path)
		return err == nil && re.Match(b)
	})
}
