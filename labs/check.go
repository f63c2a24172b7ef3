package labs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/jobspec"
)

// Result is the outcome of one check: what it wanted, what the cluster
// showed the last time it looked, and whether they agreed.
type Result struct {
	Check    *Check
	OK       bool
	Want     string
	Observed string
}

// String is the result as a transcript shows it, folded for an
// 80-column terminal.
func (r Result) String() string {
	if r.OK {
		return Fold("✓ "+r.Want, 78, "  ")
	}
	return Fold("✗ expected: "+r.Want, 78, "             ") + "\n" + Fold("  observed: "+r.Observed, 78, "             ")
}

// Fold breaks text at spaces into lines of at most width runes, the
// lines after the first starting with indent.
func Fold(text string, width int, indent string) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) > width:
			lines = append(lines, line)
			line = indent + word
		default:
			line += " " + word
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	// Keep the leading spaces of the first line, which Fields dropped.
	lead := text[:len(text)-len(strings.TrimLeft(text, " "))]
	lines[0] = lead + lines[0]
	return strings.Join(lines, "\n")
}

// evaluate looks once: want describes the condition, observed what is.
func (s *Session) evaluate(ctx context.Context, c *Check) (ok bool, want, observed string, err error) {
	a := c.Attrs
	job := s.Lab.Jobs[0]
	if a.Job != nil {
		job = *a.Job
	}
	switch c.Kind {
	case "job":
		return s.checkJob(job, a)
	case "allocs":
		return s.checkAllocs(job, a)
	case "deployment":
		return s.checkDeployment(job, a)
	case "plan":
		return s.checkPlan(a)
	case "node":
		return s.checkNode(a)
	case "nodes":
		return s.checkNodes(a)
	case "task":
		return s.checkTask(job, a)
	case "eval":
		return s.checkEval(job, a)
	case "output":
		return s.checkOutput(ctx, a)
	case "file":
		return s.checkFile(a)
	}
	return false, c.Kind, "", fmt.Errorf("unknown check %q", c.Kind)
}

// Check waits up to wait for the check to hold and returns what it saw.
func (s *Session) Check(ctx context.Context, c *Check, wait time.Duration) Result {
	deadline := time.Now().Add(wait)
	for {
		ok, want, observed, err := s.evaluate(ctx, c)
		if err != nil {
			observed = err.Error()
		}
		if ok || time.Now().After(deadline) || ctx.Err() != nil {
			return Result{Check: c, OK: ok, Want: want, Observed: observed}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// apiErr turns "not found" into an observation rather than a failure to look.
func notFound(err error) bool {
	return err != nil && strings.Contains(err.Error(), "404")
}

func (s *Session) checkJob(job string, a checkAttrs) (bool, string, string, error) {
	var want []string
	if a.Exists != nil && !*a.Exists {
		want = append(want, "does not exist")
	}
	if a.Status != nil {
		want = append(want, "status "+*a.Status)
	}
	if a.Version != nil {
		want = append(want, fmt.Sprintf("version %d", *a.Version))
	}
	if a.Stopped != nil {
		want = append(want, map[bool]string{true: "stopped", false: "not stopped"}[*a.Stopped])
	}
	if len(want) == 0 {
		want = append(want, "exists")
	}
	desc := fmt.Sprintf("job %q %s", job, strings.Join(want, ", "))
	j, _, err := s.Client.Jobs().Info(job, nil)
	if notFound(err) {
		return a.Exists != nil && !*a.Exists, desc, fmt.Sprintf("job %q does not exist", job), nil
	}
	if err != nil {
		return false, desc, "", err
	}
	status, version, stopped := deref(j.Status), derefU(j.Version), j.Stop != nil && *j.Stop
	observed := fmt.Sprintf("job %q exists, status %s, version %d, %s", job, status, version,
		map[bool]string{true: "stopped", false: "not stopped"}[stopped])
	ok := a.Exists == nil || *a.Exists
	ok = ok && (a.Status == nil || *a.Status == status)
	ok = ok && (a.Version == nil || uint64(*a.Version) == version)
	ok = ok && (a.Stopped == nil || *a.Stopped == stopped)
	return ok, desc, observed, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefU(v *uint64) uint64 {
	if v == nil {
		return 0
	}
	return *v
}

// nodeNames maps node IDs to names.
func (s *Session) nodeNames() (map[string]string, error) {
	nodes, _, err := s.Client.Nodes().List(nil)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, n := range nodes {
		names[n.ID] = n.Name
	}
	return names, nil
}

func (s *Session) checkAllocs(job string, a checkAttrs) (bool, string, string, error) {
	desired := "run"
	if a.Desired != nil {
		desired = *a.Desired
	}
	var want []string
	if a.Count != nil {
		want = append(want, fmt.Sprintf("%d allocation(s)", *a.Count))
	} else {
		want = append(want, "allocations")
	}
	want = append(want, "of job "+fmt.Sprintf("%q", job), "desired "+desired)
	if a.ClientStatus != nil {
		want = append(want, "client status "+*a.ClientStatus)
	}
	if a.Version != nil {
		want = append(want, fmt.Sprintf("version %d", *a.Version))
	}
	if a.Node != nil {
		want = append(want, "on "+*a.Node)
	}
	if a.Nodes != nil {
		want = append(want, fmt.Sprintf("over %d node(s)", *a.Nodes))
	}
	desc := strings.Join(want, ", ")
	// Only the current job's: a purged job's allocations stay listed (with
	// -all) until they are collected, and are not this lab's.
	allocs, _, err := s.Client.Jobs().Allocations(job, false, nil)
	if notFound(err) {
		return false, desc, fmt.Sprintf("job %q does not exist", job), nil
	}
	if err != nil {
		return false, desc, "", err
	}
	names, err := s.nodeNames()
	if err != nil {
		return false, desc, "", err
	}
	matching, nodes := 0, map[string]bool{}
	groups := map[string]int{}
	for _, al := range allocs {
		node := names[al.NodeID]
		groups[fmt.Sprintf("%s/%s v%d on %s", al.DesiredStatus, al.ClientStatus, al.JobVersion, node)]++
		if al.DesiredStatus != desired ||
			(a.ClientStatus != nil && al.ClientStatus != *a.ClientStatus) ||
			(a.Version != nil && al.JobVersion != uint64(*a.Version)) ||
			(a.Node != nil && node != *a.Node) {
			continue
		}
		matching++
		nodes[node] = true
	}
	ok := (a.Count == nil && matching > 0) || (a.Count != nil && matching == *a.Count)
	ok = ok && (a.Nodes == nil || len(nodes) == *a.Nodes)
	observed := fmt.Sprintf("%d matching over %d node(s)", matching, len(nodes))
	if len(groups) > 0 {
		var parts []string
		for k, n := range groups {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
		sort.Strings(parts)
		observed += "; all: " + strings.Join(parts, ", ")
	} else {
		observed += "; the job has no allocations"
	}
	return ok, desc, observed, nil
}

func (s *Session) checkDeployment(job string, a checkAttrs) (bool, string, string, error) {
	want := []string{fmt.Sprintf("the latest deployment of %q", job)}
	if a.Status != nil {
		want = append(want, "is "+*a.Status)
	}
	if a.Healthy != nil {
		want = append(want, fmt.Sprintf("%d healthy", *a.Healthy))
	}
	if a.Placed != nil {
		want = append(want, fmt.Sprintf("%d placed", *a.Placed))
	}
	desc := strings.Join(want, ", ")
	d, _, err := s.Client.Jobs().LatestDeployment(job, nil)
	if notFound(err) || (err == nil && d == nil) {
		return false, desc, "no deployment", nil
	}
	if err != nil {
		return false, desc, "", err
	}
	healthy, placed := 0, 0
	for _, g := range d.TaskGroups {
		healthy += g.HealthyAllocs
		placed += g.PlacedAllocs
	}
	observed := fmt.Sprintf("deployment %s of version %d is %s, %d healthy, %d placed", shortID(d.ID), d.JobVersion, d.Status, healthy, placed)
	ok := (a.Status == nil || *a.Status == d.Status) && (a.Healthy == nil || *a.Healthy == healthy) &&
		(a.Placed == nil || *a.Placed == placed)
	return ok, desc, observed, nil
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (s *Session) checkPlan(a checkAttrs) (bool, string, string, error) {
	counts := []struct {
		name string
		want *int
		get  func(*api.DesiredUpdates) uint64
	}{
		{"create", a.Create, func(u *api.DesiredUpdates) uint64 { return u.Place }},
		{"destroy", a.Destroy, func(u *api.DesiredUpdates) uint64 { return u.Stop }},
		{"stop", a.Stop, func(u *api.DesiredUpdates) uint64 { return u.Stop }},
		{"in-place update", a.InPlace, func(u *api.DesiredUpdates) uint64 { return u.InPlaceUpdate }},
		{"create/destroy update", a.Destructive, func(u *api.DesiredUpdates) uint64 { return u.DestructiveUpdate }},
		{"ignore", a.Ignore, func(u *api.DesiredUpdates) uint64 { return u.Ignore }},
		{"migrate", a.Migrate, func(u *api.DesiredUpdates) uint64 { return u.Migrate }},
	}
	var want []string
	for _, c := range counts {
		if c.want != nil {
			want = append(want, fmt.Sprintf("%d %s", *c.want, c.name))
		}
	}
	file := *a.File
	desc := fmt.Sprintf("planning %s: %s", file, strings.Join(want, ", "))
	parsed, err := jobspec.ParseFile(filepath.Join(s.Dir, file), jobspec.Options{})
	if err != nil {
		return false, desc, "", err
	}
	b, err := json.Marshal(parsed)
	if err != nil {
		return false, desc, "", err
	}
	var job api.Job
	if err := json.Unmarshal(b, &job); err != nil {
		return false, desc, "", err
	}
	resp, _, err := s.Client.Jobs().Plan(&job, true, nil)
	if err != nil {
		return false, desc, "", err
	}
	group := ""
	if a.Group != nil {
		group = *a.Group
	} else if len(job.TaskGroups) > 0 {
		group = deref(job.TaskGroups[0].Name)
	}
	var u *api.DesiredUpdates
	if resp.Annotations != nil {
		u = resp.Annotations.DesiredTGUpdates[group]
	}
	if u == nil {
		return false, desc, fmt.Sprintf("the plan has no changes for group %q", group), nil
	}
	ok := true
	var got []string
	for _, c := range counts {
		if c.want == nil {
			continue
		}
		n := c.get(u)
		got = append(got, fmt.Sprintf("%d %s", n, c.name))
		ok = ok && n == uint64(*c.want)
	}
	desc = fmt.Sprintf("planning %s, group %q: %s", file, group, strings.Join(want, ", "))
	return ok, desc, "the plan says " + strings.Join(got, ", "), nil
}

func (s *Session) findNode(name string) (*api.NodeListStub, error) {
	nodes, _, err := s.Client.Nodes().List(nil)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.Name == name {
			return n, nil
		}
	}
	return nil, nil
}

func nodeDesc(n *api.NodeListStub) string {
	return fmt.Sprintf("node %s is %s, %s, drain %t", n.Name, n.Status, n.SchedulingEligibility, n.Drain)
}

func (s *Session) checkNode(a checkAttrs) (bool, string, string, error) {
	want := []string{"node " + *a.Name}
	if a.Status != nil {
		want = append(want, "is "+*a.Status)
	}
	if a.Eligibility != nil {
		want = append(want, *a.Eligibility)
	}
	if a.Drain != nil {
		want = append(want, fmt.Sprintf("drain %t", *a.Drain))
	}
	desc := strings.Join(want, ", ")
	n, err := s.findNode(*a.Name)
	if err != nil {
		return false, desc, "", err
	}
	if n == nil {
		return false, desc, fmt.Sprintf("no node named %q has registered", *a.Name), nil
	}
	ok := (a.Status == nil || *a.Status == n.Status) && (a.Eligibility == nil || *a.Eligibility == n.SchedulingEligibility) &&
		(a.Drain == nil || *a.Drain == n.Drain)
	return ok, desc, nodeDesc(n), nil
}

func (s *Session) checkNodes(a checkAttrs) (bool, string, string, error) {
	want := []string{"nodes"}
	if a.Count != nil {
		want[0] = fmt.Sprintf("%d node(s)", *a.Count)
	}
	if a.Status != nil {
		want = append(want, *a.Status)
	}
	if a.Eligibility != nil {
		want = append(want, *a.Eligibility)
	}
	desc := strings.Join(want, ", ")
	nodes, _, err := s.Client.Nodes().List(nil)
	if err != nil {
		return false, desc, "", err
	}
	matching := 0
	var all []string
	for _, n := range nodes {
		all = append(all, fmt.Sprintf("%s %s/%s", n.Name, n.Status, n.SchedulingEligibility))
		if (a.Status == nil || *a.Status == n.Status) && (a.Eligibility == nil || *a.Eligibility == n.SchedulingEligibility) {
			matching++
		}
	}
	sort.Strings(all)
	ok := (a.Count == nil && matching > 0) || (a.Count != nil && matching == *a.Count)
	return ok, desc, fmt.Sprintf("%d matching; all: %s", matching, strings.Join(all, ", ")), nil
}

func (s *Session) checkTask(job string, a checkAttrs) (bool, string, string, error) {
	want := []string{fmt.Sprintf("a task of job %q", job)}
	if a.Task != nil {
		want[0] = fmt.Sprintf("task %q of job %q", *a.Task, job)
	}
	if a.State != nil {
		want = append(want, "is "+*a.State)
	}
	if a.Event != nil {
		want = append(want, fmt.Sprintf("has an event %q", *a.Event))
	}
	desc := strings.Join(want, ", ")
	stubs, _, err := s.Client.Jobs().Allocations(job, false, nil)
	if notFound(err) {
		return false, desc, fmt.Sprintf("job %q does not exist", job), nil
	}
	if err != nil {
		return false, desc, "", err
	}
	var seen []string
	for _, st := range stubs {
		if st.DesiredStatus != "run" {
			continue
		}
		alloc, _, err := s.Client.Allocations().Info(st.ID, nil)
		if err != nil {
			return false, desc, "", err
		}
		for name, ts := range alloc.TaskStates {
			if a.Task != nil && name != *a.Task {
				continue
			}
			var events []string
			hasEvent := a.Event == nil
			for _, e := range ts.Events {
				events = append(events, e.Type)
				if a.Event != nil && (e.Type == *a.Event || strings.Contains(e.DisplayMessage, *a.Event)) {
					hasEvent = true
				}
			}
			seen = append(seen, fmt.Sprintf("%s in %s is %s (events: %s)", name, shortID(st.ID), ts.State, strings.Join(events, ", ")))
			if (a.State == nil || *a.State == ts.State) && hasEvent {
				return true, desc, seen[len(seen)-1], nil
			}
		}
	}
	if len(seen) == 0 {
		return false, desc, "no task of a running allocation", nil
	}
	return false, desc, strings.Join(seen, "; "), nil
}

func (s *Session) checkEval(job string, a checkAttrs) (bool, string, string, error) {
	want := []string{fmt.Sprintf("the latest evaluation of %q", job)}
	if a.Status != nil {
		want = append(want, "is "+*a.Status)
	}
	if a.PlacementFailures != nil {
		want = append(want, fmt.Sprintf("placement failures %t", *a.PlacementFailures))
	}
	if a.Blocked != nil {
		want = append(want, fmt.Sprintf("a blocked evaluation %t", *a.Blocked))
	}
	desc := strings.Join(want, ", ")
	evals, _, err := s.Client.Jobs().Evaluations(job, nil)
	if notFound(err) {
		return false, desc, fmt.Sprintf("job %q does not exist", job), nil
	}
	if err != nil {
		return false, desc, "", err
	}
	if len(evals) == 0 {
		return false, desc, "no evaluation", nil
	}
	sort.Slice(evals, func(i, j int) bool { return evals[i].CreateIndex > evals[j].CreateIndex })
	// A blocked evaluation is created by the one that failed to place: the
	// latest completed one is the scheduler's answer.
	latest := evals[0]
	blocked := false
	for _, e := range evals {
		if e.Status == "blocked" {
			blocked = true
		}
	}
	for _, e := range evals {
		if e.Status != "blocked" {
			latest = e
			break
		}
	}
	failures := len(latest.FailedTGAllocs) > 0
	observed := fmt.Sprintf("evaluation %s is %s, placement failures %t, a blocked evaluation %t", shortID(latest.ID), latest.Status, failures, blocked)
	ok := (a.Status == nil || *a.Status == latest.Status) && (a.PlacementFailures == nil || *a.PlacementFailures == failures) &&
		(a.Blocked == nil || *a.Blocked == blocked)
	return ok, desc, observed, nil
}

func (s *Session) checkOutput(ctx context.Context, a checkAttrs) (bool, string, string, error) {
	cmd, err := s.Expand(*a.Run)
	if err != nil {
		return false, "drover " + *a.Run, "", err
	}
	var want []string
	if a.Contains != nil {
		want = append(want, fmt.Sprintf("prints %q", *a.Contains))
	}
	if a.Matches != nil {
		want = append(want, fmt.Sprintf("prints a line matching /%s/", *a.Matches))
	}
	exit := 0
	if a.Exit != nil {
		exit = *a.Exit
	}
	want = append(want, fmt.Sprintf("exits %d", exit))
	env, err := s.expandEnv(a.Env)
	if err != nil {
		return false, "drover " + *a.Run, "", err
	}
	desc := fmt.Sprintf("\"%sdrover %s\" %s", EnvPrefix(env), cmd, strings.Join(want, ", "))
	var out bytes.Buffer
	code := s.Run(ctx, strings.Fields(cmd), env, &out, &out)
	text := out.String()
	ok := code == exit
	if a.Contains != nil && !strings.Contains(text, *a.Contains) {
		ok = false
	}
	if a.Matches != nil && !regexp.MustCompile("(?m)"+*a.Matches).MatchString(text) {
		ok = false
	}
	return ok, desc, fmt.Sprintf("exit %d, output %s", code, summarize(text)), nil
}

// summarize keeps an observation of a command's output to a few lines.
func summarize(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 4 {
		lines = append(lines[:4], fmt.Sprintf("... (%d more lines)", len(lines)-4))
	}
	if len(lines) == 1 && lines[0] == "" {
		return "(nothing)"
	}
	return fmt.Sprintf("%q", strings.Join(lines, "\n"))
}

func (s *Session) checkFile(a checkAttrs) (bool, string, string, error) {
	desc := fmt.Sprintf("%s exists", *a.Path)
	if a.Contains != nil {
		desc = fmt.Sprintf("%s contains %q", *a.Path, *a.Contains)
	}
	b, err := os.ReadFile(filepath.Join(s.Dir, *a.Path))
	if os.IsNotExist(err) {
		return false, desc, fmt.Sprintf("there is no %s in %s", *a.Path, s.Dir), nil
	}
	if err != nil {
		return false, desc, "", err
	}
	if a.Contains != nil && !strings.Contains(string(b), *a.Contains) {
		return false, desc, fmt.Sprintf("%s does not contain it", *a.Path), nil
	}
	return true, desc, fmt.Sprintf("%s (%d bytes)", *a.Path, len(b)), nil
}
