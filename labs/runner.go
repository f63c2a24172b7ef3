package labs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
)

// CommandFunc runs one drover command (args without "drover") and
// returns its exit code. The CLI passes itself, so labs run exactly the
// commands a student types.
type CommandFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Runner plays labs against one agent.
type Runner struct {
	// Run executes drover commands.
	Run CommandFunc
	// Client reads the cluster's state for the checks.
	Client *api.Client
	// Dir is the working directory of the lab's files.
	Dir string
	// Out receives the lab's transcript.
	Out io.Writer
	// WaitTimeout bounds each "wait:" check.
	WaitTimeout time.Duration
}

// StepError is a failed check, with where it is in the lab.
type StepError struct {
	Lab  string
	Step int
	Line int
	Msg  string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s.lab:%d: step %d: %s", e.Lab, e.Line, e.Step, e.Msg)
}

// Play runs every step of the lab, stopping at the first failed check.
func (r *Runner) Play(ctx context.Context, lab *Lab) error {
	if r.WaitTimeout == 0 {
		r.WaitTimeout = 2 * time.Minute
	}
	vars := map[string]string{}
	fmt.Fprintf(r.Out, "== Lab: %s\n%s\n", lab.Title, wrap(lab.Description, 100))
	for i, step := range lab.Steps {
		n := i + 1
		fmt.Fprintf(r.Out, "\n-- Step %d/%d: %s\n", n, len(lab.Steps), step.Title)
		if step.Explain != "" {
			fmt.Fprintln(r.Out, wrap(step.Explain, 100))
		}
		var output string
		code, wantExit, lastRun := 0, -1, ""
		checkExit := func(line int) error {
			if lastRun == "" {
				return nil
			}
			ok := code == wantExit
			if wantExit < 0 {
				ok = code == 0 || (code == 1 && strings.HasPrefix(lastRun, "job plan"))
			}
			if !ok {
				return &StepError{lab.Name, n, line, fmt.Sprintf("\"drover %s\" exited with %d", lastRun, code)}
			}
			return nil
		}
		for _, a := range step.Actions {
			fail := func(format string, args ...interface{}) error {
				return &StepError{lab.Name, n, a.Line, fmt.Sprintf(format, args...)}
			}
			value, err := r.expand(a.Value, vars, lab.Job)
			if err != nil {
				return fail("%v", err)
			}
			switch a.Kind {
			case "run":
				if err := checkExit(a.Line); err != nil {
					return err
				}
				var buf bytes.Buffer
				fmt.Fprintf(r.Out, "\n$ drover %s\n", value)
				code = r.Run(ctx, strings.Fields(value), io.MultiWriter(r.Out, &buf), io.MultiWriter(r.Out, &buf))
				output, wantExit, lastRun = buf.String(), -1, value
			case "expect-exit":
				fmt.Sscanf(value, "%d", &wantExit)
			case "expect":
				if !matchLine(output, value) {
					return fail("the output of \"drover %s\" has no line matching %q", lastRun, value)
				}
				fmt.Fprintf(r.Out, "   ✓ %s\n", value)
			case "capture":
				name, expr, _ := strings.Cut(value, "|")
				re, err := regexp.Compile(strings.TrimSpace(expr))
				if err != nil {
					return fail("capture: %v", err)
				}
				m := re.FindStringSubmatch(output)
				if len(m) < 2 {
					return fail("capture %s: %q not found in the output", strings.TrimSpace(name), strings.TrimSpace(expr))
				}
				vars[strings.TrimSpace(name)] = m[1]
			case "edit":
				if err := r.edit(value); err != nil {
					return fail("%v", err)
				}
				parts := strings.Split(value, "|")
				fmt.Fprintf(r.Out, "   (edited %s: %s → %s)\n", strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2]))
			case "wait":
				w, _ := parseWait(value)
				desc, err := r.wait(ctx, lab.Job, w)
				if err != nil {
					return fail("waiting for %s: %v", value, err)
				}
				fmt.Fprintf(r.Out, "   ✓ %s\n", desc)
			}
		}
		last := 0
		if len(step.Actions) > 0 {
			last = step.Actions[len(step.Actions)-1].Line
		}
		if err := checkExit(last); err != nil {
			return err
		}
	}
	fmt.Fprintf(r.Out, "\n== Lab %q complete: every step did what it should.\n", lab.Name)
	return nil
}

var varRef = regexp.MustCompile(`\{\{([\w:-]+)\}\}`)

// expand replaces {{name}} with captured values and built-ins.
func (r *Runner) expand(s string, vars map[string]string, job string) (string, error) {
	var err error
	out := varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-2]
		if v, ok := vars[name]; ok {
			return v
		}
		if name == "alloc" {
			id, e := r.runningAlloc(job)
			if e != nil {
				err = e
			}
			return id
		}
		if node, ok := strings.CutPrefix(name, "node:"); ok {
			id, e := r.nodeID(node)
			if e != nil {
				err = e
			}
			return id
		}
		err = fmt.Errorf("unknown value {{%s}}", name)
		return ref
	})
	return out, err
}

func (r *Runner) runningAlloc(job string) (string, error) {
	allocs, _, err := r.Client.Jobs().Allocations(job, false, nil)
	if err != nil {
		return "", err
	}
	sort.Slice(allocs, func(i, j int) bool { return allocs[i].Name < allocs[j].Name })
	for _, a := range allocs {
		if a.DesiredStatus == "run" && a.ClientStatus == "running" {
			return a.ID[:8], nil
		}
	}
	return "", fmt.Errorf("job %q has no running allocation", job)
}

// nodeID finds the short ID of the node with that name.
func (r *Runner) nodeID(name string) (string, error) {
	nodes, _, err := r.Client.Nodes().List(nil)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if n.Name == name {
			return n.ID[:8], nil
		}
	}
	return "", fmt.Errorf("no node named %q", name)
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

func (r *Runner) edit(value string) error {
	parts := strings.Split(value, "|")
	// "\n" in a lab's edit stands for a line break, which a lab line cannot hold.
	unescape := func(v string) string { return strings.ReplaceAll(strings.TrimSpace(v), `\n`, "\n") }
	file, old, repl := strings.TrimSpace(parts[0]), unescape(parts[1]), unescape(parts[2])
	path := filepath.Join(r.Dir, file)
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(src), old) {
		return fmt.Errorf("edit %s: %q is not in the file", file, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(src), old, repl, 1)), 0o644)
}

// wait polls the cluster until the condition holds.
func (r *Runner) wait(ctx context.Context, job string, w *waitSpec) (string, error) {
	deadline := time.Now().Add(r.WaitTimeout)
	last := ""
	for {
		ok, desc, err := r.check(job, w)
		if err == nil && ok {
			return desc, nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = desc
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("timed out after %s (last seen: %s)", r.WaitTimeout, last)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r *Runner) check(job string, w *waitSpec) (bool, string, error) {
	switch w.kind {
	case "running":
		allocs, _, err := r.Client.Jobs().Allocations(job, false, nil)
		if err != nil {
			return false, "", err
		}
		running, other := 0, 0
		for _, a := range allocs {
			if a.DesiredStatus != "run" || a.ClientStatus != "running" {
				continue
			}
			if int(a.JobVersion) == w.version {
				running++
			} else {
				other++
			}
		}
		ok := running == w.count && other == 0
		return ok, fmt.Sprintf("%d allocation(s) of version %d running (%d of other versions)", running, w.version, other), nil
	case "running-on", "spread":
		allocs, _, err := r.Client.Jobs().Allocations(job, false, nil)
		if err != nil {
			return false, "", err
		}
		names := map[string]string{}
		nodes, _, err := r.Client.Nodes().List(nil)
		if err != nil {
			return false, "", err
		}
		for _, n := range nodes {
			names[n.ID] = n.Name
		}
		per := map[string]int{}
		total := 0
		for _, a := range allocs {
			if a.DesiredStatus == "run" && a.ClientStatus == "running" {
				per[names[a.NodeID]]++
				total++
			}
		}
		if w.kind == "spread" {
			return len(per) == w.count, fmt.Sprintf("%d running allocation(s) over %d node(s) %v", total, len(per), per), nil
		}
		return per[w.value] == w.count && total == w.count,
			fmt.Sprintf("%d of %d running allocation(s) on %s", per[w.value], total, w.value), nil
	case "deployment":
		d, _, err := r.Client.Jobs().LatestDeployment(job, nil)
		if err != nil || d == nil {
			return false, "no deployment", err
		}
		return d.Status == w.value, fmt.Sprintf("deployment %s is %s", d.ID[:8], d.Status), nil
	case "status":
		j, _, err := r.Client.Jobs().Info(job, nil)
		if err != nil {
			return false, "", err
		}
		if *j.Status != w.value {
			return false, fmt.Sprintf("job %s is %s", job, *j.Status), nil
		}
		if w.value == "dead" {
			// Dead also means its tasks have stopped, which is what a
			// student checks next.
			allocs, _, err := r.Client.Jobs().Allocations(job, false, nil)
			if err != nil {
				return false, "", err
			}
			for _, a := range allocs {
				switch a.ClientStatus {
				case "complete", "failed", "lost":
				default:
					return false, fmt.Sprintf("job %s is dead, allocation %s still %s", job, a.ID[:8], a.ClientStatus), nil
				}
			}
			return true, fmt.Sprintf("job %s is dead and its allocations have stopped", job), nil
		}
		return true, fmt.Sprintf("job %s is %s", job, *j.Status), nil
	}
	return false, "", fmt.Errorf("unknown wait %q", w.kind)
}

// wrap folds text at width, for explanations.
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		if n > 0 && n+1+len(w) > width {
			b.WriteString("\n")
			n = 0
		} else if n > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}
