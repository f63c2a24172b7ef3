package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestAgentScripts runs the transcripts in testdata/agent. Each script
// gets a dev agent of its own (server and client in this test process,
// with the mock driver), and DROVER_ADDR and NOMAD_ADDR pointing at it, so
// `exec drover ...` talks to it as a student's shell would. The commands
// below let a script name what it needs to refer to, since IDs differ
// from run to run.
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
			"wait-allocs": cmdWaitAllocs,
			"alloc-id":    cmdAllocID,
			"eval-id":     cmdEvalID,
			"node-id":     cmdNodeID,
			"exits":       cmdExits,
			"wait-file":   cmdWaitFile,
		},
	})
}

// startScriptAgent starts an in-process dev agent on free ports, with its
// data under dir, and waits until its node is ready.
func startScriptAgent(dir string) (string, func(), error) {
	var ports [3]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cfgDir, err := os.MkdirTemp("", "drover-script-agent")
	if err != nil {
		return "", nil, err
	}
	cfg := filepath.Join(cfgDir, "ports.hcl")
	body := fmt.Sprintf("ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n", ports[0], ports[1], ports[2])
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
		nodes, _, err := client.Nodes().List(nil)
		if err == nil && len(nodes) == 1 && nodes[0].Status == "ready" {
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

// cmdEvalID: eval-id <VAR> <job> sets VAR (and VAR8) to the job's newest
// evaluation.
func cmdEvalID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: eval-id <VAR> <job>")
	}
	evals, _, err := scriptClient(ts).Jobs().Evaluations(args[1], nil)
	ts.Check(err)
	if len(evals) == 0 {
		ts.Fatalf("job %s has no evaluations", args[1])
	}
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

// cmdExits: exits <code> <program> [args...] runs the program as exec
// does (its output is then what stdout and stderr check) and fails unless
// it exits with exactly that code.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits <code> <program> [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
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
