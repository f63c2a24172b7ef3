// Package labs holds the guided labs (embedded in the drover binary, or
// pulled as packs from git) and the engine that checks them: a learner
// types each step's commands and `drover lab check` verifies the outcome
// from the cluster's state; `drover lab run` plays every solution and
// every check, for instructors and for regression.
//
// A lab is an HCL file; the format is documented in labs/README.md. The
// parser is a pure function of the file's bytes, with every problem at
// file:line,col.
package labs

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Topologies a lab may need.
const (
	TopologyDev             = "dev"
	TopologyServerAndClient = "server-and-two-clients"

	SecurityNone   = "none"
	SecurityACL    = "acl"
	SecurityACLTLS = "acl+tls"
)

// Lab is one parsed lab.
type Lab struct {
	Name     string // the file's base name, without ".lab.hcl"
	Pack     string // "" for the labs built into drover
	File     string
	Title    string
	Level    string
	Topology string
	// Security is SecurityNone, SecurityACL or SecurityACLTLS: with acl,
	// the embedded cluster runs with ACLs on and is bootstrapped, its
	// management token written to the workspace's bootstrap.token, and
	// the lab's commands run without a token of the environment; acl+tls
	// adds mutual TLS (HTTPS with client certificates) from a lab CA, the
	// lab's commands given the CLI's certificate.
	Security    string
	Description string
	// Jobs are the jobs the lab works with: purged when it starts, so it
	// can be replayed on a lasting cluster, and when `lab run` ends. The
	// first is the one checks look at by default.
	Jobs []string
	// Images the lab's jobs run; `drover lab images` reports them.
	Images []string
	Files  []File
	Steps  []*Step
}

// File is a file the lab hands the learner, written into the workspace.
type File struct {
	Path    string
	Content string
}

// Step is one step: what the learner reads and types, the checks that
// say whether it worked, hints, the solution and why it works.
type Step struct {
	ID           string
	Title        string
	Instructions string   // markdown
	Commands     []string // what the learner types, as shown
	Hints        []string
	Why          string // what -explain would say
	Solution     []Action
	Checks       []*Check
	Range        hcl.Range
}

// Action is one part of a step's solution: a command to run or an edit.
type Action struct {
	// Run is the drover command (without "drover"); {{name}} expands to a
	// value captured by an earlier action, {{node:<name>}} to a node's ID
	// and {{alloc}} to a running allocation of the lab's job.
	Run     string
	Exit    *int              // the exit code wanted (default 0; job plan may exit 1)
	Expect  []string          // lines the output must have ("*" matches anything)
	Capture map[string]string // name → regexp whose first group is kept
	// Env sets environment variables for the command alone, as
	// "NAME=value drover ..." does in a shell; an empty value unsets one.
	Env map[string]string
	// Edit replaces the first Replace in the workspace file Edit with With.
	Edit, Replace, With string
	Range               hcl.Range
}

// diagError renders diagnostics one per line as file:line:col: summary;
// detail, the form editors and terminals jump to.
func diagError(diags hcl.Diagnostics) error {
	var lines []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		line := d.Summary
		if d.Detail != "" {
			line += "; " + d.Detail
		}
		if d.Subject != nil {
			line = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line)
		}
		lines = append(lines, line)
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// Check kinds and the attributes each takes.
var checkKinds = map[string][]string{
	"job":        {"job", "status", "version", "stopped", "exists"},
	"allocs":     {"job", "desired", "client_status", "version", "count", "node", "nodes"},
	"deployment": {"job", "status", "healthy", "placed"},
	"plan":       {"file", "group", "create", "destroy", "in_place", "destructive", "ignore", "migrate", "stop"},
	"node":       {"name", "status", "drain", "eligibility"},
	"nodes":      {"status", "eligibility", "count"},
	"task":       {"job", "task", "state", "event"},
	"eval":       {"job", "status", "placement_failures", "blocked"},
	"output":     {"run", "contains", "matches", "exit", "env"},
	"file":       {"path", "contains"},
}

// Check asserts one fact about the cluster (or the workspace), waiting up
// to Wait for it to hold.
type Check struct {
	Kind  string
	Wait  time.Duration
	Attrs checkAttrs
	Range hcl.Range
}

// Summary says what the check looks for before it has looked, for the
// web UI's list of a lab's steps: the kind and its attributes as written,
// e.g. `allocs: job = "example", client_status = "running", count = 3`.
// (A check's result has the fuller words, with the values it resolved.)
func (c *Check) Summary() string {
	var parts []string
	v := reflect.ValueOf(c.Attrs)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := strings.Split(v.Type().Field(i).Tag.Get("hcl"), ",")[0]
		if f.Kind() != reflect.Pointer || f.IsNil() || name == "wait" {
			continue
		}
		val := f.Elem().Interface()
		if str, ok := val.(string); ok {
			parts = append(parts, fmt.Sprintf("%s = %q", name, str))
		} else {
			parts = append(parts, fmt.Sprintf("%s = %v", name, val))
		}
	}
	if len(parts) == 0 {
		return c.Kind
	}
	return c.Kind + ": " + strings.Join(parts, ", ")
}

// checkAttrs is the union of every kind's attributes; Parse refuses an
// attribute that the kind does not take.
type checkAttrs struct {
	Wait              *string `hcl:"wait"`
	Job               *string `hcl:"job"`
	Status            *string `hcl:"status"`
	Version           *int    `hcl:"version"`
	Stopped           *bool   `hcl:"stopped"`
	Exists            *bool   `hcl:"exists"`
	Desired           *string `hcl:"desired"`
	ClientStatus      *string `hcl:"client_status"`
	Count             *int    `hcl:"count"`
	Node              *string `hcl:"node"`
	Nodes             *int    `hcl:"nodes"`
	Healthy           *int    `hcl:"healthy"`
	Placed            *int    `hcl:"placed"`
	File              *string `hcl:"file"`
	Group             *string `hcl:"group"`
	Create            *int    `hcl:"create"`
	Destroy           *int    `hcl:"destroy"`
	InPlace           *int    `hcl:"in_place"`
	Destructive       *int    `hcl:"destructive"`
	Ignore            *int    `hcl:"ignore"`
	Migrate           *int    `hcl:"migrate"`
	Stop              *int    `hcl:"stop"`
	Name              *string `hcl:"name"`
	Drain             *bool   `hcl:"drain"`
	Eligibility       *string `hcl:"eligibility"`
	Task              *string `hcl:"task"`
	State             *string `hcl:"state"`
	Event             *string `hcl:"event"`
	PlacementFailures *bool   `hcl:"placement_failures"`
	Blocked           *bool   `hcl:"blocked"`
	Run               *string `hcl:"run"`
	Contains          *string `hcl:"contains"`
	Matches           *string `hcl:"matches"`
	Exit              *int    `hcl:"exit"`
	Path              *string `hcl:"path"`
	// Env is an output check's command's own environment, as an action's.
	Env map[string]string `hcl:"env,optional"`
}

// DefaultCheckWait is how long a check waits for its condition when the
// lab does not say.
const DefaultCheckWait = 60 * time.Second

// Parse reads a lab file. name is the lab's name; file names it in
// errors. Every problem comes back at once, one per line, each at
// file:line,col.
func Parse(name, file string, src []byte) (*Lab, error) {
	f, diags := hclsyntax.ParseConfig(src, file, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	p := &parser{}
	lab := p.lab(name, file, f.Body.(*hclsyntax.Body))
	if len(p.diags) > 0 {
		return nil, diagError(p.diags)
	}
	return lab, nil
}

type parser struct{ diags hcl.Diagnostics }

func (p *parser) errorf(r hcl.Range, summary, format string, args ...interface{}) {
	rr := r
	p.diags = append(p.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &rr})
}

// attrs decodes a body's attributes into v, refusing unknown ones, and
// returns the attributes by name (for their ranges).
func (p *parser) attrs(b *hclsyntax.Body, v interface{}) map[string]*hclsyntax.Attribute {
	schema, _ := gohcl.ImpliedBodySchema(v)
	known := map[string]bool{}
	var names []string
	for _, a := range schema.Attributes {
		known[a.Name] = true
		names = append(names, a.Name)
	}
	sort.Strings(names)
	for name, a := range b.Attributes {
		if !known[name] {
			valid := "none"
			if len(names) > 0 {
				valid = strings.Join(names, ", ")
			}
			p.errorf(a.NameRange, "Unsupported argument", "An argument named %q is not expected here (valid: %s).", name, valid)
		}
	}
	p.diags = append(p.diags, gohcl.DecodeBody(attrsOnly{b}, nil, v)...)
	return b.Attributes
}

// attrsOnly hides a body's blocks from gohcl, which would otherwise
// refuse the blocks it is not told about.
type attrsOnly struct{ *hclsyntax.Body }

func (a attrsOnly) Content(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	c, _, d := a.Body.PartialContent(s)
	return c, d
}

func (a attrsOnly) PartialContent(s *hcl.BodySchema) (*hcl.BodyContent, hcl.Body, hcl.Diagnostics) {
	return a.Body.PartialContent(s)
}

func (p *parser) blocks(b *hclsyntax.Body, allowed ...string) {
	for _, blk := range b.Blocks {
		if !contains(allowed, blk.Type) {
			p.errorf(blk.TypeRange, "Unsupported block type", "Blocks of type %q are not expected here (valid: %s).", blk.Type, strings.Join(allowed, ", "))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *parser) lab(name, file string, body *hclsyntax.Body) *Lab {
	var top struct {
		Title       string   `hcl:"title"`
		Level       string   `hcl:"level,optional"`
		Topology    string   `hcl:"topology,optional"`
		Security    string   `hcl:"security,optional"`
		Description string   `hcl:"description,optional"`
		Jobs        []string `hcl:"jobs,optional"`
		Images      []string `hcl:"images,optional"`
	}
	attrs := p.attrs(body, &top)
	lab := &Lab{Name: name, File: file, Title: top.Title, Level: top.Level, Topology: top.Topology, Security: top.Security,
		Description: strings.TrimSpace(top.Description), Jobs: top.Jobs, Images: top.Images}
	if lab.Topology == "" {
		lab.Topology = TopologyDev
	}
	if lab.Topology != TopologyDev && lab.Topology != TopologyServerAndClient {
		p.errorf(attrs["topology"].Expr.Range(), "Invalid topology", "topology must be %q or %q.", TopologyDev, TopologyServerAndClient)
	}
	if lab.Security == "" {
		lab.Security = SecurityNone
	}
	if !contains([]string{SecurityNone, SecurityACL, SecurityACLTLS}, lab.Security) {
		p.errorf(attrs["security"].Expr.Range(), "Invalid security", "security must be %q, %q or %q.", SecurityNone, SecurityACL, SecurityACLTLS)
	}
	if lab.Level == "" {
		lab.Level = "beginner"
	}
	if !contains([]string{"beginner", "intermediate", "advanced"}, lab.Level) {
		p.errorf(attrs["level"].Expr.Range(), "Invalid level", "level must be beginner, intermediate or advanced.")
	}
	if len(lab.Jobs) == 0 {
		lab.Jobs = []string{"example"}
	}
	p.blocks(body, "file", "step")
	ids := map[string]hcl.Range{}
	for _, blk := range body.Blocks {
		switch blk.Type {
		case "file":
			var f struct {
				Content string `hcl:"content"`
			}
			if len(blk.Labels) != 1 || filepath.IsAbs(blk.Labels[0]) || strings.Contains(blk.Labels[0], "..") {
				p.errorf(blk.DefRange(), "Invalid file", "A file block has one label: a path inside the workspace.")
				continue
			}
			p.attrs(blk.Body, &f)
			p.blocks(blk.Body)
			lab.Files = append(lab.Files, File{Path: blk.Labels[0], Content: f.Content})
		case "step":
			if len(blk.Labels) != 1 {
				p.errorf(blk.DefRange(), "Invalid step", "A step block has one label: its ID, such as step \"scale\".")
				continue
			}
			if prev, dup := ids[blk.Labels[0]]; dup {
				p.errorf(blk.LabelRanges[0], "Duplicate step", "Step %q is already defined at line %d.", blk.Labels[0], prev.Start.Line)
				continue
			}
			ids[blk.Labels[0]] = blk.DefRange()
			lab.Steps = append(lab.Steps, p.step(lab, blk))
		}
	}
	if len(lab.Steps) == 0 && len(p.diags) == 0 {
		p.errorf(body.SrcRange, "No steps", "A lab needs at least one step block.")
	}
	return lab
}

func (p *parser) step(lab *Lab, blk *hclsyntax.Block) *Step {
	var s struct {
		Title        string   `hcl:"title"`
		Instructions string   `hcl:"instructions,optional"`
		Commands     []string `hcl:"commands,optional"`
		Hints        []string `hcl:"hints,optional"`
		Why          string   `hcl:"why,optional"`
	}
	p.attrs(blk.Body, &s)
	step := &Step{ID: blk.Labels[0], Title: s.Title, Instructions: strings.TrimSpace(s.Instructions),
		Commands: s.Commands, Hints: s.Hints, Why: strings.TrimSpace(s.Why), Range: blk.DefRange()}
	p.blocks(blk.Body, "solution", "check")
	for _, b := range blk.Body.Blocks {
		switch b.Type {
		case "solution":
			p.blocks(b.Body, "run", "edit")
			p.attrs(b.Body, &struct{}{})
			for _, a := range b.Body.Blocks {
				if act, ok := p.action(a); ok {
					step.Solution = append(step.Solution, act)
				}
			}
		case "check":
			if c, ok := p.check(b); ok {
				step.Checks = append(step.Checks, c)
			}
		}
	}
	hasCheckBlock := false
	for _, b := range blk.Body.Blocks {
		hasCheckBlock = hasCheckBlock || b.Type == "check"
	}
	// A step whose check blocks are broken has been told so already.
	if len(step.Checks) == 0 && !hasCheckBlock {
		p.errorf(blk.DefRange(), "Step without a check", "Step %q needs at least one check block: a lab verifies every step.", step.ID)
	}
	return step
}

func (p *parser) action(b *hclsyntax.Block) (Action, bool) {
	act := Action{Range: b.DefRange()}
	if len(b.Labels) != 1 {
		p.errorf(b.DefRange(), "Invalid "+b.Type, "A %s block has one label: %s.", b.Type,
			map[string]string{"run": "the drover command, as in run \"job run example.nomad\"", "edit": "the file to change"}[b.Type])
		return act, false
	}
	p.blocks(b.Body)
	switch b.Type {
	case "run":
		var r struct {
			Exit    *int              `hcl:"exit,optional"`
			Expect  []string          `hcl:"expect,optional"`
			Capture map[string]string `hcl:"capture,optional"`
			Env     map[string]string `hcl:"env,optional"`
		}
		attrs := p.attrs(b.Body, &r)
		act.Run = strings.TrimPrefix(strings.TrimSpace(b.Labels[0]), "drover ")
		act.Exit, act.Expect, act.Capture, act.Env = r.Exit, r.Expect, r.Capture, r.Env
		p.envNames(attrs["env"], r.Env)
		for name, expr := range r.Capture {
			re, err := regexp.Compile(expr)
			if err != nil || re.NumSubexp() < 1 {
				p.errorf(attrs["capture"].Expr.Range(), "Invalid capture", "capture %q must be a regular expression with a group: %v", name, err)
			}
		}
	case "edit":
		var e struct {
			Replace string `hcl:"replace"`
			With    string `hcl:"with"`
		}
		p.attrs(b.Body, &e)
		act.Edit, act.Replace, act.With = b.Labels[0], e.Replace, e.With
	}
	return act, true
}

func (p *parser) check(b *hclsyntax.Block) (*Check, bool) {
	if len(b.Labels) != 1 || checkKinds[b.Labels[0]] == nil {
		kinds := make([]string, 0, len(checkKinds))
		for k := range checkKinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		p.errorf(b.DefRange(), "Invalid check", "A check block has one label, its kind: one of %s.", strings.Join(kinds, ", "))
		return nil, false
	}
	c := &Check{Kind: b.Labels[0], Wait: DefaultCheckWait, Range: b.DefRange()}
	p.blocks(b.Body)
	// Decode against the union of attributes, then refuse what this kind
	// does not take.
	before := len(p.diags)
	attrs := p.attrs(b.Body, &c.Attrs)
	if len(p.diags) > before {
		return nil, false
	}
	wait := c.Attrs
	allowed := checkKinds[c.Kind]
	for name, a := range attrs {
		if name != "wait" && !contains(allowed, name) {
			p.errorf(a.NameRange, "Unsupported argument", "A %q check takes %s, and wait; not %q.", c.Kind, strings.Join(allowed, ", "), name)
		}
	}
	if wait.Wait != nil {
		d, err := time.ParseDuration(*wait.Wait)
		if err != nil || d < 0 || d > 10*time.Minute {
			p.errorf(attrs["wait"].Expr.Range(), "Invalid wait", "wait must be a duration of at most 10m, such as \"30s\".")
		}
		c.Wait = d
	}
	need := map[string]string{"node": "name", "output": "run", "file": "path", "plan": "file"}
	if key := need[c.Kind]; key != "" && attrs[key] == nil {
		p.errorf(b.DefRange(), "Missing argument", "A %q check needs %s.", c.Kind, key)
	}
	p.envNames(attrs["env"], c.Attrs.Env)
	if c.Attrs.Matches != nil {
		if _, err := regexp.Compile(*c.Attrs.Matches); err != nil {
			p.errorf(attrs["matches"].Expr.Range(), "Invalid regular expression", "%v", err)
		}
	}
	return c, true
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envNames refuses an env whose names a shell would not take.
func (p *parser) envNames(a *hclsyntax.Attribute, env map[string]string) {
	for name := range env {
		if !envName.MatchString(name) {
			p.errorf(a.Expr.Range(), "Invalid env", "%q is not an environment variable's name.", name)
		}
	}
}
