package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// clusterRoot is a root command holding only the node, deployment and
// server commands (and their legacy names), so their tests do not depend
// on what the real root registers.
func clusterRoot(s *streams) *cobra.Command {
	root := &cobra.Command{Use: "drover", SilenceErrors: true, SilenceUsage: true}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{cmd: c, msg: err.Error()}
	})
	root.AddCommand(
		newNodeCommand(s),
		newNodeStatusLegacyCommand(s),
		newNodeDrainLegacyCommand(s),
		newDeploymentCommand(s),
		newServerCommand(s),
		newServerMembersLegacyCommand(s),
	)
	return root
}

// runCluster runs one command of clusterRoot against addr, handling its
// error as Main does, and returns the exit code, stdout and stderr.
func runCluster(t *testing.T, addr string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	s := &streams{Out: &out, Err: &errOut, Env: []string{"DROVER_ADDR=" + addr, noHints}}
	root := clusterRoot(s)
	root.SetArgs(normalizeArgs(root, args))
	err := root.ExecuteContext(ctx)
	if ctx.Err() != nil {
		t.Fatalf("%v did not finish:\n%s\n%s", args, out.String(), errOut.String())
	}
	var ee *exitError
	var ue *usageError
	code := 0
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(&errOut, ee.msg)
		}
		code = ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(&errOut, ue.msg)
		fmt.Fprintf(&errOut, "For additional help try '%s -help'\n", ue.cmd.CommandPath())
		code = 1
	default:
		fmt.Fprintln(&errOut, err)
		code = 1
	}
	return code, out.String(), errOut.String()
}

// clusterRun runs a command that must succeed and returns its stdout.
func clusterRun(t *testing.T, addr string, args ...string) string {
	t.Helper()
	code, out, errOut := runCluster(t, addr, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errOut)
	}
	return out
}

// clusterWait polls cond until it holds or the deadline passes.
func clusterWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterNode waits for the dev agent's node to be ready and returns it.
func clusterNode(t *testing.T, client *api.Client) *api.NodeListStub {
	t.Helper()
	var node *api.NodeListStub
	clusterWait(t, "a ready node", func() bool {
		nodes, _, err := client.Nodes().List(nil)
		if err == nil && len(nodes) == 1 && nodes[0].Status == "ready" {
			node = nodes[0]
			return true
		}
		return false
	})
	return node
}

// clusterRegister registers an HCL job and returns its evaluation ID.
func clusterRegister(t *testing.T, client *api.Client, src string) string {
	t.Helper()
	job, err := client.Jobs().ParseHCL(src, true)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := client.Jobs().Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.EvalID
}

// clusterMockJob is a service job of count 1 whose mock task runs until
// stopped. update is the body of its update block; when empty, the
// deployment needs the allocation healthy for 100ms. extra goes into the
// task's config, so changing it changes the job destructively.
func clusterMockJob(update, extra string) string {
	if update == "" {
		update = `min_healthy_time = "100ms"`
	}
	return fmt.Sprintf(`job "example" {
  datacenters = ["dc1"]
  group "cache" {
    update {
      %s
    }
    task "redis" {
      driver = "mock"
      config {
        run_for = "0s"
        %s
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}`, update, extra)
}

// clusterRunningAlloc waits for the job's allocation to run and returns it.
func clusterRunningAlloc(t *testing.T, client *api.Client, jobID string) *api.AllocationListStub {
	t.Helper()
	var alloc *api.AllocationListStub
	clusterWait(t, "a running allocation", func() bool {
		allocs, _, err := client.Jobs().Allocations(jobID, false, nil)
		if err != nil {
			return false
		}
		for _, a := range allocs {
			if a.ClientStatus == "running" && a.DesiredStatus == "run" {
				alloc = a
				return true
			}
		}
		return false
	})
	return alloc
}

// clusterKV returns the value of "key = value" in a KV block.
func clusterKV(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` *= (.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", key, out)
	}
	return m[1]
}

func TestNodeStatus_ListMatchesTutorial(t *testing.T) {
	addr, client := devAgent(t)
	node := clusterNode(t, client)

	out := clusterRun(t, addr, "node", "status")
	// The seed's listing, with this node's ID and name:
	//   ID        DC   Name   Class   Drain  Eligibility  Status
	//   e84125ed  dc1  nomad  <none>  false  eligible     ready
	w := max(len("Name"), len(node.Name))
	want := fmt.Sprintf("%-8s  %-3s  %-*s  %-6s  %-5s  %-11s  %s\n", "ID", "DC", w, "Name", "Class", "Drain", "Eligibility", "Status") +
		fmt.Sprintf("%-8s  %-3s  %-*s  %-6s  %-5s  %-11s  %s\n", node.ID[:8], "dc1", w, node.Name, "<none>", "false", "eligible", "ready")
	if out != want {
		t.Errorf("node status:\n%s\nwant:\n%s", out, want)
	}
	if node.Name == "nomad" && !strings.HasPrefix(out, "ID        DC   Name   Class   Drain  Eligibility  Status\n") {
		t.Errorf("header differs from the tutorial's:\n%s", out)
	}
	// The hyphenated name of older tutorials is the same command.
	if legacy := clusterRun(t, addr, "node-status"); legacy != want {
		t.Errorf("node-status:\n%s\nwant:\n%s", legacy, want)
	}

	out = clusterRun(t, addr, "node", "status", "-allocs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasSuffix(lines[0], "Status  Running Allocs") || !strings.HasSuffix(lines[1], "ready   0") {
		t.Errorf("node status -allocs:\n%s", out)
	}
	out = clusterRun(t, addr, "node", "status", "-verbose")
	if !strings.Contains(out, node.ID) || !strings.Contains(out, "Address") || !strings.Contains(out, "Version") {
		t.Errorf("node status -verbose:\n%s", out)
	}
	out = clusterRun(t, addr, "node", "status", "-quiet")
	if out != node.ID[:8]+"\n" {
		t.Errorf("node status -quiet: %q", out)
	}
	var stubs []*api.NodeListStub
	if err := json.Unmarshal([]byte(clusterRun(t, addr, "node", "status", "-json")), &stubs); err != nil || len(stubs) != 1 || stubs[0].ID != node.ID {
		t.Errorf("node status -json: %v %+v", err, stubs)
	}
}

func TestNodeStatus_Detail(t *testing.T) {
	addr, client := devAgent(t)
	node := clusterNode(t, client)
	clusterRegister(t, client, clusterMockJob("", ""))
	alloc := clusterRunningAlloc(t, client, "example")

	for _, args := range [][]string{
		{"node-status", "-self"},
		{"node", "status", "-self"},
		{"node", "status", node.ID[:6]},
		{"node", "status", node.ID},
	} {
		out := clusterRun(t, addr, args...)
		for key, want := range map[string]string{
			"ID": node.ID, "Name": node.Name, "Class": "<none>", "DC": "dc1",
			"Drain": "false", "Eligibility": "eligible", "Status": "ready",
		} {
			if got := clusterKV(t, out, key); got != want {
				t.Errorf("%v: %s = %q, want %q", args, key, got, want)
			}
		}
		drivers := strings.Split(clusterKV(t, out, "Driver Status"), ",")
		if !clusterHas(drivers, "mock") {
			t.Errorf("%v: Driver Status lacks mock: %v", args, drivers)
		}
		if strings.Contains(out, "Node Pool") {
			t.Errorf("%v: shows a Node Pool:\n%s", args, out)
		}
		for _, want := range []string{
			"\n\nNode Events\nTime  ", "  Subsystem  Message\n",
			"\n\nAllocated Resources\nCPU  ", "\n100/",
			"\n\nAllocations\nID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: lacks %q:\n%s", args, want, out)
			}
		}
		row := regexp.MustCompile(`(?m)^` + alloc.ID[:8] + `  ` + node.ID[:8] + `  cache       0        run      running  \S+ ago +\S+ ago$`)
		if !row.MatchString(out) {
			t.Errorf("%v: no allocation row for %s:\n%s", args, alloc.ID[:8], out)
		}
	}

	out := clusterRun(t, addr, "node", "status", "-verbose", "-self")
	for _, want := range []string{alloc.ID + "  " + alloc.EvalID, "\n\nDrivers\nDriver ", "\n\nAttributes\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("-verbose lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^Driver +Detected +Healthy +Message +Time\n(.*\n)*mock +true +true +Healthy +`).MatchString(out) {
		t.Errorf("-verbose drivers table:\n%s", out)
	}
	out = clusterRun(t, addr, "node", "status", "-short", "-self")
	if strings.Contains(out, "Node Events") || !strings.Contains(out, "\n\nAllocations\n") {
		t.Errorf("-short:\n%s", out)
	}
	var full api.Node
	if err := json.Unmarshal([]byte(clusterRun(t, addr, "node", "status", "-json", "-self")), &full); err != nil || full.ID != node.ID {
		t.Errorf("-json: %v %+v", err, full)
	}
}

func TestNodeStatus_Errors(t *testing.T) {
	addr, client := devAgent(t)
	clusterNode(t, client)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "status", "zz99"}, "No node(s) with prefix \"zz99\" found\n"},
		{[]string{"node-status", "zz99"}, "No node(s) with prefix \"zz99\" found\n"},
		{[]string{"node", "status", "z"}, "Identifier must contain at least two characters.\n"},
		{[]string{"node", "drain", "-enable", "-yes", "zz99"}, "No node(s) with prefix or id \"zz99\" found\n"},
		{[]string{"node", "eligibility", "-enable", "zz99"}, "No node(s) with prefix or id \"zz99\" found\n"},
		{[]string{"node", "status", "a", "b"}, "This command takes either one or no arguments\nFor additional help try 'drover node status -help'\n"},
		{[]string{"node-status", "a", "b"}, "This command takes either one or no arguments\nFor additional help try 'drover node status -help'\n"},
		{[]string{"node", "drain", "-self"}, "Either the '-enable' or '-disable' flag must be set, unless using '-monitor'\nFor additional help try 'drover node drain -help'\n"},
		{[]string{"node-drain", "-enable"}, "Node ID must be specified if -self isn't being used\nFor additional help try 'drover node drain -help'\n"},
		{[]string{"node", "drain", "-self", "-disable", "-force"}, "-disable can't be combined with flags configuring drain strategy\nFor additional help try 'drover node drain -help'\n"},
		{[]string{"node", "drain", "-self", "-enable", "-deadline", "5m", "-force"}, "-deadline can't be combined with -force or -no-deadline\nFor additional help try 'drover node drain -help'\n"},
		{[]string{"node", "drain", "-self", "-enable", "-force", "-no-deadline"}, "-force and -no-deadline are mutually exclusive\nFor additional help try 'drover node drain -help'\n"},
		{[]string{"node", "drain", "-self", "-enable", "-deadline", "soon"}, "Failed to parse deadline \"soon\": time: invalid duration \"soon\"\n"},
		{[]string{"node", "drain", "-self", "-enable", "-deadline", "-5m"}, "A positive drain duration must be given\n"},
		{[]string{"node", "eligibility", "-self"}, "Either the '-enable' or '-disable' flag must be set\nFor additional help try 'drover node eligibility -help'\n"},
	} {
		code, out, errOut := runCluster(t, addr, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want stderr %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestNodeEligibility(t *testing.T) {
	addr, client := devAgent(t)
	id := clusterNode(t, client).ID

	out := clusterRun(t, addr, "node", "eligibility", "-self", "-disable")
	if want := fmt.Sprintf("Node %q scheduling eligibility set: ineligible for scheduling\n", id); out != want {
		t.Errorf("disable: %q, want %q", out, want)
	}
	if got := clusterKV(t, clusterRun(t, addr, "node", "status", "-self"), "Eligibility"); got != "ineligible" {
		t.Errorf("Eligibility = %q after -disable", got)
	}
	out = clusterRun(t, addr, "node", "eligibility", "-enable", id[:8])
	if want := fmt.Sprintf("Node %q scheduling eligibility set: eligible for scheduling\n", id); out != want {
		t.Errorf("enable: %q, want %q", out, want)
	}
	if got := clusterKV(t, clusterRun(t, addr, "node", "status", "-self"), "Eligibility"); got != "eligible" {
		t.Errorf("Eligibility = %q after -enable", got)
	}
}

func TestNodeDrain_DetachAndDisable(t *testing.T) {
	addr, client := devAgent(t)
	id := clusterNode(t, client).ID
	// An allocation that takes half an hour to count as healthy may not
	// leave before the deadline, so the drain stays under way.
	clusterRegister(t, client, clusterMockJob(`min_healthy_time = "30m"
      healthy_deadline = "1h"
      progress_deadline = "2h"`, ""))
	clusterRunningAlloc(t, client, "example")

	out := clusterRun(t, addr, "node", "drain", "-self", "-enable", "-yes", "-detach")
	if want := fmt.Sprintf("Node %q drain strategy set\n", id); out != want {
		t.Errorf("enable: %q, want %q", out, want)
	}
	status := clusterRun(t, addr, "node", "status", "-self")
	if got := clusterKV(t, status, "Drain"); !regexp.MustCompile(`^true; \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[-+]\d\d:\d\d) deadline$`).MatchString(got) {
		t.Errorf("Drain = %q", got)
	}
	if got := clusterKV(t, status, "Eligibility"); got != "ineligible" {
		t.Errorf("Eligibility = %q while draining", got)
	}
	list := clusterRun(t, addr, "node", "status")
	if fields := strings.Fields(strings.Split(list, "\n")[1]); len(fields) < 3 || fields[len(fields)-3] != "true" || fields[len(fields)-2] != "ineligible" {
		t.Errorf("list while draining:\n%s", list)
	}
	// Making a draining node eligible is refused by the server.
	if code, _, errOut := runCluster(t, addr, "node", "eligibility", "-self", "-enable"); code != 1 || !strings.HasPrefix(errOut, "Error updating scheduling eligibility: ") {
		t.Errorf("eligible while draining: exit %d, %q", code, errOut)
	}

	out = clusterRun(t, addr, "node", "drain", "-self", "-disable", "-yes")
	if want := fmt.Sprintf("Node %q drain strategy unset\n", id); out != want {
		t.Errorf("disable: %q, want %q", out, want)
	}
	status = clusterRun(t, addr, "node", "status", "-self")
	if clusterKV(t, status, "Drain") != "false" || clusterKV(t, status, "Eligibility") != "eligible" {
		t.Errorf("after -disable:\n%s", status)
	}
	if !strings.Contains(status, "  Drain      Node drain strategy set\n") && !strings.Contains(status, "Node drain strategy set") {
		t.Errorf("no drain event:\n%s", status)
	}

	// -no-deadline and -ignore-system show in the Drain line;
	// -keep-ineligible keeps the node out of scheduling after the drain.
	clusterRun(t, addr, "node-drain", "-self", "-enable", "-no-deadline", "-ignore-system", "-detach")
	if got := clusterKV(t, clusterRun(t, addr, "node", "status", "-self"), "Drain"); got != "true; no deadline; ignoring system jobs" {
		t.Errorf("Drain = %q with -no-deadline -ignore-system", got)
	}
	clusterRun(t, addr, "node", "drain", "-self", "-disable", "-keep-ineligible")
	if got := clusterKV(t, clusterRun(t, addr, "node", "status", "-self"), "Eligibility"); got != "ineligible" {
		t.Errorf("Eligibility = %q after -keep-ineligible", got)
	}
	clusterRun(t, addr, "node", "eligibility", "-self", "-enable")

	// -monitor with no drain under way.
	if out := clusterRun(t, addr, "node", "drain", "-self", "-monitor"); out != "No drain strategy set\n" {
		t.Errorf("-monitor: %q", out)
	}
}

func TestNodeDrain_ConfirmsPrefix(t *testing.T) {
	addr, client := devAgent(t)
	id := clusterNode(t, client).ID
	question := fmt.Sprintf("Are you sure you want to enable drain mode for node %q? [y/N] ", id)
	t.Cleanup(func() { drainStdin = strings.NewReader("") })

	for _, tc := range []struct {
		answer, out, errOut string
		code                int
	}{
		{"\n", question + "Canceling drain toggle\n", "", 0},
		{"no\n", question + "Canceling drain toggle\n", "", 0},
		{"yes\n", question, "For confirmation, an exact ‘y’ is required.\n", 1},
		{"sure\n", question, "No confirmation detected. For confirmation, an exact 'y' is required.\n", 1},
	} {
		drainStdin = strings.NewReader(tc.answer)
		code, out, errOut := runCluster(t, addr, "node", "drain", "-enable", "-detach", id[:8])
		if code != tc.code || out != tc.out || errOut != tc.errOut {
			t.Errorf("answer %q: exit %d, stdout %q, stderr %q", tc.answer, code, out, errOut)
		}
	}
	if n, _, _ := client.Nodes().Info(id, nil); n.DrainStrategy != nil {
		t.Fatal("a refused confirmation drained the node")
	}
	drainStdin = strings.NewReader("y\n")
	out := clusterRun(t, addr, "node", "drain", "-enable", "-detach", "-no-deadline", id[:8])
	if want := question + fmt.Sprintf("Node %q drain strategy set\n", id); out != want {
		t.Errorf("answer y: %q, want %q", out, want)
	}
	// An empty node's drain completes as soon as the drainer looks at it
	// (the leader's drainer loop, not the write itself).
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := clusterKV(t, clusterRun(t, addr, "node", "status", "-self"), "Drain")
		if got == "false" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Drain = %q: an empty node's drain did not complete", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A full ID needs no confirmation.
	drainStdin = strings.NewReader("")
	out = clusterRun(t, addr, "node", "drain", "-disable", id)
	if want := fmt.Sprintf("Node %q drain strategy unset\n", id); out != want {
		t.Errorf("disable by full ID: %q", out)
	}
}

func TestNodeDrain_MonitorsUntilComplete(t *testing.T) {
	addr, client := devAgent(t)
	id := clusterNode(t, client).ID
	clusterRegister(t, client, clusterMockJob("", ""))
	alloc := clusterRunningAlloc(t, client, "example")
	// The drainer moves an allocation only once its deployment counts it
	// healthy.
	clusterWait(t, "a healthy allocation", func() bool {
		a, _, err := client.Allocations().Info(alloc.ID, nil)
		return err == nil && a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy
	})

	// The tutorial's "node-drain -self -enable": on a single node the
	// allocation has nowhere to go, so it stops and the drain completes.
	out := clusterRun(t, addr, "node-drain", "-self", "-enable", "-yes")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	stamp := `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[-+]\d\d:\d\d): `
	for _, l := range lines {
		if !regexp.MustCompile(stamp).MatchString(l) {
			t.Errorf("line without a time: %q", l)
		}
	}
	for _, want := range []string{
		"Ctrl-C to stop monitoring: will not cancel the node drain",
		fmt.Sprintf("Node %q drain strategy set", id),
		fmt.Sprintf("Drain complete for node %s", id),
		fmt.Sprintf("All allocations on node %q have stopped", id),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("monitor lacks %q:\n%s", want, out)
		}
	}
	// The drainer marks the allocation, the scheduler stops it, the client
	// ends it: the monitor reports the steps it sees, at least the last.
	if !regexp.MustCompile(`(?m): Alloc "` + alloc.ID + `" (marked for migration|draining|status running -> complete)$`).MatchString(out) {
		t.Errorf("monitor shows nothing of the allocation:\n%s", out)
	}
	if !strings.HasSuffix(lines[0], "Ctrl-C to stop monitoring: will not cancel the node drain") {
		t.Errorf("first line: %q", lines[0])
	}
	a, _, err := client.Allocations().Info(alloc.ID, nil)
	if err != nil || a.DesiredStatus != "stop" || (a.ClientStatus != "complete" && a.ClientStatus != "failed") {
		t.Errorf("allocation after the drain: %v %s/%s", err, a.DesiredStatus, a.ClientStatus)
	}
	status := clusterRun(t, addr, "node-status", "-self")
	if clusterKV(t, status, "Drain") != "false" || clusterKV(t, status, "Eligibility") != "ineligible" {
		t.Errorf("after the drain:\n%s", status)
	}
	if !strings.Contains(status, "Node drain complete") {
		t.Errorf("no completion event:\n%s", status)
	}
}

func clusterHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestNodeDrainText(t *testing.T) {
	at := time.Date(2024, 5, 3, 12, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		node *api.Node
		want string
	}{
		{&api.Node{}, "false"},
		{&api.Node{Drain: true}, "true"},
		{&api.Node{Drain: true, DrainStrategy: &api.DrainStrategy{DrainSpec: api.DrainSpec{Deadline: time.Hour}, ForceDeadline: at}}, "true; 2024-05-03T12:30:00Z deadline"},
		{&api.Node{Drain: true, DrainStrategy: &api.DrainStrategy{DrainSpec: api.DrainSpec{Deadline: -time.Second}, ForceDeadline: at}}, "true; force drain"},
		{&api.Node{Drain: true, DrainStrategy: &api.DrainStrategy{DrainSpec: api.DrainSpec{IgnoreSystemJobs: true}}}, "true; no deadline; ignoring system jobs"},
	} {
		if got := nodeDrainText(tc.node); got != tc.want {
			t.Errorf("nodeDrainText = %q, want %q", got, tc.want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 9: "9 B", 300 << 20: "300 MiB", 1008 << 10: "1008 KiB", 7900 << 20: "7.7 GiB", 50 << 30: "50 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
