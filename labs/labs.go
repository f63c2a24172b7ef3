// Package labs holds the guided labs embedded in the drover binary and
// the runner that plays them: each step explains itself, runs drover
// commands, edits files, and checks what the cluster did (command output,
// allocation states, deployments) before going on.
//
// A lab is a text file of "key: value" lines; a line indented by two
// spaces continues the previous value, and a "step:" line starts a step.
//
//	title: ...              the lab's title
//	description: ...        what the student will do
//	job: example            the job the checks look at (default "example")
//	cluster: dev            where the lab runs when no address is given: "dev"
//	                        (one embedded dev agent, the default) or
//	                        "server-and-two-clients" (three embedded agents)
//	step: <title>
//	explain: <text>         printed before the step runs
//	run: <drover args>      run a drover command; {{name}} is a captured value
//	expect: <pattern>       the last command's output has a line matching the
//	                        pattern ("*" matches anything)
//	expect-exit: <code>     the last command's exit code (default 0; 0 or 1
//	                        for "job plan", which exits 1 when allocations change)
//	capture: <name> | <re>  keep the first group of the regexp as {{name}}
//	edit: <file> | <old> | <new>   replace the first <old> in <file> ("\n": a line break)
//	wait: running <n> version <v> | running <n> on <node name> | spread <n> |
//	      deployment <status> | status <job status>
//
// Built-in values: {{alloc}} is the ID of a running allocation of the job;
// {{node:<name>}} is the ID of the node of that name.
package labs

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed content/*.lab
var content embed.FS

// Lab is one parsed lab.
type Lab struct {
	Name        string
	Title       string
	Description string
	Job         string
	Cluster     string
	Steps       []*Step
}

// Step is one step of a lab: its actions, in order.
type Step struct {
	Title   string
	Explain string
	Actions []Action
}

// Action is one line of a step.
type Action struct {
	Kind  string // run, expect, expect-exit, capture, edit, wait
	Value string
	Line  int
}

// List returns the embedded labs, sorted by name.
func List() ([]*Lab, error) {
	entries, err := content.ReadDir("content")
	if err != nil {
		return nil, err
	}
	var out []*Lab
	for _, e := range entries {
		lab, err := Load(strings.TrimSuffix(e.Name(), ".lab"))
		if err != nil {
			return nil, err
		}
		out = append(out, lab)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Load returns the embedded lab of that name.
func Load(name string) (*Lab, error) {
	src, err := content.ReadFile(path.Join("content", name+".lab"))
	if err != nil {
		return nil, fmt.Errorf("no lab named %q (see \"drover lab list\")", name)
	}
	return Parse(name, string(src))
}

// Parse reads a lab's text, reporting problems with their line number.
func Parse(name, src string) (*Lab, error) {
	lab := &Lab{Name: name, Job: "example", Cluster: "dev"}
	type entry struct {
		key, value string
		line       int
	}
	var entries []*entry
	for i, raw := range strings.Split(src, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "  "):
			if len(entries) == 0 {
				return nil, fmt.Errorf("%s.lab:%d: a continuation line needs a line to continue", name, i+1)
			}
			last := entries[len(entries)-1]
			last.value += " " + strings.TrimSpace(line)
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("%s.lab:%d: want \"key: value\", got %q", name, i+1, line)
		}
		entries = append(entries, &entry{key: strings.TrimSpace(key), value: strings.TrimSpace(value), line: i + 1})
	}
	var step *Step
	for _, e := range entries {
		switch e.key {
		case "title":
			lab.Title = e.value
		case "description":
			lab.Description = e.value
		case "job":
			lab.Job = e.value
		case "cluster":
			if e.value != "dev" && e.value != "server-and-two-clients" {
				return nil, fmt.Errorf("%s.lab:%d: cluster must be \"dev\" or \"server-and-two-clients\"", name, e.line)
			}
			lab.Cluster = e.value
		case "step":
			step = &Step{Title: e.value}
			lab.Steps = append(lab.Steps, step)
		case "explain", "run", "expect", "expect-exit", "capture", "edit", "wait":
			if step == nil {
				return nil, fmt.Errorf("%s.lab:%d: %q before the first step", name, e.line, e.key)
			}
			if e.key == "explain" {
				step.Explain = e.value
				continue
			}
			if err := checkAction(e.key, e.value); err != nil {
				return nil, fmt.Errorf("%s.lab:%d: %v", name, e.line, err)
			}
			step.Actions = append(step.Actions, Action{Kind: e.key, Value: e.value, Line: e.line})
		default:
			return nil, fmt.Errorf("%s.lab:%d: unknown key %q", name, e.line, e.key)
		}
	}
	if lab.Title == "" || len(lab.Steps) == 0 {
		return nil, fmt.Errorf("%s.lab: a lab needs a title and at least one step", name)
	}
	return lab, nil
}

// checkAction refuses malformed actions when the lab is read, not when
// a student reaches them.
func checkAction(kind, value string) error {
	switch kind {
	case "capture":
		if parts := strings.SplitN(value, "|", 2); len(parts) != 2 || strings.TrimSpace(parts[0]) == "" {
			return fmt.Errorf("capture wants \"<name> | <regexp>\"")
		}
	case "edit":
		if parts := strings.Split(value, "|"); len(parts) != 3 {
			return fmt.Errorf("edit wants \"<file> | <old> | <new>\"")
		}
	case "wait":
		if _, err := parseWait(value); err != nil {
			return err
		}
	case "expect-exit":
		var n int
		if _, err := fmt.Sscanf(value, "%d", &n); err != nil {
			return fmt.Errorf("expect-exit wants a number")
		}
	}
	return nil
}

// waitSpec is a parsed "wait:" condition.
type waitSpec struct {
	kind    string // running, running-on, spread, deployment, status
	count   int
	version int
	value   string
}

func parseWait(value string) (*waitSpec, error) {
	f := strings.Fields(value)
	switch {
	case len(f) == 4 && f[0] == "running" && f[2] == "version":
		w := &waitSpec{kind: "running"}
		if _, err := fmt.Sscanf(f[1]+" "+f[3], "%d %d", &w.count, &w.version); err != nil {
			return nil, fmt.Errorf("wait: running <n> version <v> wants numbers")
		}
		return w, nil
	case len(f) == 4 && f[0] == "running" && f[2] == "on":
		w := &waitSpec{kind: "running-on", value: f[3]}
		if _, err := fmt.Sscanf(f[1], "%d", &w.count); err != nil {
			return nil, fmt.Errorf("wait: running <n> on <node> wants a number")
		}
		return w, nil
	case len(f) == 2 && f[0] == "spread":
		w := &waitSpec{kind: "spread"}
		if _, err := fmt.Sscanf(f[1], "%d", &w.count); err != nil {
			return nil, fmt.Errorf("wait: spread <n> wants a number")
		}
		return w, nil
	case len(f) == 2 && f[0] == "deployment":
		return &waitSpec{kind: "deployment", value: f[1]}, nil
	case len(f) == 2 && f[0] == "status":
		return &waitSpec{kind: "status", value: f[1]}, nil
	}
	return nil, fmt.Errorf("wait wants \"running <n> version <v>\", \"running <n> on <node>\", \"spread <n>\", \"deployment <status>\" or \"status <job status>\", got %q", value)
}
