package labs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// CommandFunc runs one drover command (args without "drover") and
// returns its exit code. The CLI passes itself, so a lab's solutions run
// exactly the commands a student types. env holds NAME=value settings for
// this command alone, over the lab's environment.
type CommandFunc func(ctx context.Context, args, env []string, stdout, stderr io.Writer) int

// Session is one lab being worked on: the cluster it talks to, the
// workspace holding its files, and the values earlier steps captured.
type Session struct {
	Lab    *Lab
	Client *api.Client
	Run    CommandFunc
	// Dir is the workspace: the lab's files, where commands run.
	Dir string
	// Agents are the HTTP addresses of the cluster's agents by name,
	// for {{addr:<name>}}; empty on a cluster drover did not start.
	Agents map[string]string
	// Vars are the values captured by solutions, for {{name}}.
	Vars map[string]string
	// ManagementToken is the cluster's management token in a lab with
	// security = "acl", for {{token:management}}.
	ManagementToken string
}

var varRef = regexp.MustCompile(`\{\{([\w:.-]+)\}\}`)

// Expand replaces {{name}} with a captured value, {{node:<name>}} with
// that node's short ID, {{addr:<agent>}} with an agent's address and
// {{alloc}} with a running allocation of the lab's job.
func (s *Session) Expand(text string) (string, error) {
	var err error
	out := varRef.ReplaceAllStringFunc(text, func(ref string) string {
		name := ref[2 : len(ref)-2]
		v, e := s.value(name)
		if e != nil && err == nil {
			err = e
		}
		return v
	})
	return out, err
}

// Display is Expand for text shown to the learner: what cannot be known
// yet reads as <name>, for the learner to fill in.
func (s *Session) Display(text string) string {
	return varRef.ReplaceAllStringFunc(text, func(ref string) string {
		name := ref[2 : len(ref)-2]
		if name == "alloc" {
			return "<alloc>" // which one is the learner's choice
		}
		if v, err := s.value(name); err == nil {
			return v
		}
		return "<" + name + ">"
	})
}

func (s *Session) value(name string) (string, error) {
	if v, ok := s.Vars[name]; ok {
		return v, nil
	}
	if name == "alloc" {
		return s.runningAlloc(s.Lab.Jobs[0])
	}
	if name == "token:management" {
		if s.ManagementToken == "" {
			return "", fmt.Errorf("no management token: the lab's cluster was not bootstrapped here (set NOMAD_TOKEN)")
		}
		return s.ManagementToken, nil
	}
	if node, ok := strings.CutPrefix(name, "node:"); ok {
		n, err := s.findNode(node)
		if err != nil {
			return "", err
		}
		if n == nil {
			return "", fmt.Errorf("no node named %q", node)
		}
		return shortID(n.ID), nil
	}
	if agent, ok := strings.CutPrefix(name, "addr:"); ok {
		if a, ok := s.Agents[agent]; ok {
			return a, nil
		}
		return "", fmt.Errorf("the address of agent %q is not known (labs started with -address do not know their agents)", agent)
	}
	return "", fmt.Errorf("no value {{%s}}: an earlier action of this step captures it", name)
}

// runningAlloc waits up to half a minute for a running allocation of the
// job: "job run" returns once the evaluation is complete, which can be
// before the client has started the task.
func (s *Session) runningAlloc(job string) (string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		allocs, _, err := s.Client.Jobs().Allocations(job, false, nil)
		if err != nil {
			return "", err
		}
		sort.Slice(allocs, func(i, j int) bool { return allocs[i].Name < allocs[j].Name })
		for _, a := range allocs {
			if a.DesiredStatus == "run" && a.ClientStatus == "running" {
				return shortID(a.ID), nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("job %q has no running allocation", job)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Act performs one action of a solution, writing what a terminal would
// show to out.
func (s *Session) Act(ctx context.Context, a Action, out io.Writer) error {
	if a.Edit != "" {
		return s.edit(a, out)
	}
	cmd, err := s.Expand(a.Run)
	if err != nil {
		return err
	}
	env, err := s.expandEnv(a.Env)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "$ %sdrover %s\n", EnvPrefix(env), cmd)
	var buf bytes.Buffer
	w := io.MultiWriter(out, &buf)
	code := s.Run(ctx, splitArgs(cmd), env, w, w)
	text := buf.String()
	want := 0
	if a.Exit != nil {
		want = *a.Exit
	}
	// job plan exits 1 when allocations would change, as the tutorial shows.
	planChange := a.Exit == nil && code == 1 && strings.HasPrefix(cmd, "job plan")
	if code != want && !planChange {
		return fmt.Errorf("%q exited with %d, not %d", "drover "+cmd, code, want)
	}
	for _, pattern := range a.Expect {
		if !matchLine(text, pattern) {
			return fmt.Errorf("the output of %q has no line matching %q", "drover "+cmd, pattern)
		}
	}
	names := make([]string, 0, len(a.Capture))
	for name := range a.Capture {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m := regexp.MustCompile(a.Capture[name]).FindStringSubmatch(text)
		if len(m) < 2 {
			return fmt.Errorf("capture %s: /%s/ is not in the output of %q", name, a.Capture[name], "drover "+cmd)
		}
		if s.Vars == nil {
			s.Vars = map[string]string{}
		}
		s.Vars[name] = m[1]
	}
	return nil
}

// expandEnv is an action's env as NAME=value, sorted by name, values
// expanded.
func (s *Session) expandEnv(env map[string]string) ([]string, error) {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		v, err := s.Expand(env[name])
		if err != nil {
			return nil, err
		}
		out = append(out, name+"="+v)
	}
	return out, nil
}

// EnvPrefix is how a shell line gives env to one command: the settings,
// each followed by a space ("NAME=value NAME2= ").
func EnvPrefix(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return strings.Join(env, " ") + " "
}

// DisplayEnv is an action's env as the learner would type it, values
// shown as Display shows them.
func (s *Session) DisplayEnv(env map[string]string) string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(env)) {
		out = append(out, name+"="+s.Display(env[name]))
	}
	return EnvPrefix(out)
}

// splitArgs splits a command line at spaces, keeping "double quoted"
// words whole.
func splitArgs(cmd string) []string {
	var args []string
	var cur strings.Builder
	quoted, any := false, false
	for _, r := range cmd {
		switch {
		case r == '"':
			quoted, any = !quoted, true
		case r == ' ' && !quoted:
			if any {
				args = append(args, cur.String())
			}
			cur.Reset()
			any = false
		default:
			cur.WriteRune(r)
			any = true
		}
	}
	if any {
		args = append(args, cur.String())
	}
	return args
}

func (s *Session) edit(a Action, out io.Writer) error {
	path := filepath.Join(s.Dir, a.Edit)
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("edit %s: %w", a.Edit, err)
	}
	if !strings.Contains(string(src), a.Replace) {
		return fmt.Errorf("edit %s: %q is not in the file", a.Edit, a.Replace)
	}
	fmt.Fprintf(out, "(edit %s: %s)\n", a.Edit, describeEdit(a))
	return os.WriteFile(path, []byte(strings.Replace(string(src), a.Replace, a.With, 1)), 0o644)
}

// describeEdit says what an edit changes, on one line.
func describeEdit(a Action) string {
	one := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	return fmt.Sprintf("%q → %q", one(a.Replace), one(a.With))
}

// matchLine reports whether a line of out matches the pattern, where "*"
// matches anything.
func matchLine(out, pattern string) bool {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re := regexp.MustCompile(strings.Join(parts, ".*"))
	for _, line := range strings.Split(out, "\n") {
		if re.MatchString(line) {
			return true
		}
	}
	return false
}

// WriteFiles writes the files the lab hands the learner.
func (s *Session) WriteFiles() error {
	for _, f := range s.Lab.Files {
		path := filepath.Join(s.Dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// CleanJobs purges the lab's jobs and makes every node eligible and
// undrained, so the lab starts from a state of its own on a cluster that
// lasts (an earlier run's stopped job would otherwise change what
// "job run" does).
func (s *Session) CleanJobs() error {
	for _, job := range s.Lab.Jobs {
		if _, _, err := s.Client.Jobs().Deregister(job, true, nil); err != nil && !notFound(err) {
			return fmt.Errorf("purging job %q: %w", job, err)
		}
	}
	nodes, _, err := s.Client.Nodes().List(nil)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if n.Drain {
			if _, err := s.Client.Nodes().UpdateDrain(n.ID, nil, false, nil); err != nil {
				return fmt.Errorf("ending the drain of %s: %w", n.Name, err)
			}
		}
		if n.SchedulingEligibility != "eligible" {
			if _, err := s.Client.Nodes().ToggleEligibility(n.ID, true, nil); err != nil {
				return fmt.Errorf("making %s eligible: %w", n.Name, err)
			}
		}
	}
	return nil
}
