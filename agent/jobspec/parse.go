package jobspec

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"drover/agent/hclerr"
	"drover/agent/structs"
)

// Options carries the inputs a job file may depend on besides its text.
type Options struct {
	// Vars are -var arguments, each "name=value".
	Vars []string
	// VarFiles are -var-file paths; later files override earlier ones.
	VarFiles []string
	// Env is the environment (os.Environ form) searched for NOMAD_VAR_name
	// values. Nil means none: the parser itself never reads the process
	// environment, so it stays a pure function of its inputs.
	Env []string
	// AllowUndeclared accepts -var values for variables the file does not
	// declare (the inverse of -hcl2-strict).
	AllowUndeclared bool
}

// ParseFile reads and parses a job file.
func ParseFile(path string, opts Options) (*structs.Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src, opts)
}

// Parse parses HCL job source into a canonical, validated job. filename is
// used only in diagnostics. It returns an *hclerr.DiagnosticsError listing every problem in the
// source, each at file:line:col.
func Parse(filename string, src []byte, opts Options) (*structs.Job, error) {
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, hclerr.Error(diags)
	}
	if diags := checkBudget(file.Body); diags.HasErrors() {
		return nil, hclerr.Error(diags)
	}
	d := &decoder{ranges: map[string]hcl.Range{}}
	d.ctx = &hcl.EvalContext{Functions: functions(), Variables: map[string]cty.Value{}}

	top, diags := file.Body.Content(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "job", LabelNames: []string{"id"}},
			{Type: "variable", LabelNames: []string{"name"}},
			{Type: "variables"},
			{Type: "locals"},
		},
	})
	d.diags = append(d.diags, diags...)
	if top == nil {
		return nil, hclerr.Error(d.diags)
	}
	var jobs, variables, locals []*hcl.Block
	for _, b := range top.Blocks {
		switch b.Type {
		case "job":
			jobs = append(jobs, b)
		case "variable", "variables":
			variables = append(variables, b)
		case "locals":
			locals = append(locals, b)
		}
	}
	d.ctx.Variables["var"] = d.variables(variables, opts)
	d.ctx.Variables["local"] = d.locals(locals)

	switch {
	case len(jobs) == 0 && !d.diags.HasErrors():
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing job block",
			Detail:   "A job file must contain exactly one job block, such as job \"example\" { ... }.",
			Subject:  file.Body.MissingItemRange().Ptr(),
		})
	case len(jobs) > 1:
		d.errorf(jobs[1].DefRange, "Duplicate job block",
			"A job file must contain exactly one job block; another was defined at %s.", jobs[0].DefRange)
	}
	if d.diags.HasErrors() || len(jobs) == 0 {
		return nil, hclerr.Error(d.diags)
	}
	job := d.decodeJob(jobs[0])
	// Validate even after decoding errors, so one run reports everything;
	// a field that failed to decode kept its default, so it adds no noise.
	job.Canonicalize()
	if err := job.Validate(); err != nil {
		d.validationDiags(err, jobs[0].DefRange)
	}
	if d.diags.HasErrors() {
		sortDiags(d.diags)
		return nil, hclerr.Error(d.diags)
	}
	return job, nil
}

// sortDiags orders diagnostics by position, so decoding and validation
// problems read top to bottom like the file.
func sortDiags(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a != nil
		}
		if a.Start.Line != b.Start.Line {
			return a.Start.Line < b.Start.Line
		}
		return a.Start.Column < b.Start.Column
	})
}

// validationDiags turns model validation errors into diagnostics placed at
// the source of the field, or of its nearest enclosing block.
func (d *decoder) validationDiags(err error, fallback hcl.Range) {
	var verr *structs.ValidationError
	if !errors.As(err, &verr) {
		d.errorf(fallback, "Invalid job", "%v", err)
		return
	}
	reported := map[hcl.Range]bool{}
	for _, diag := range d.diags {
		if diag.Subject != nil {
			reported[*diag.Subject] = true
		}
	}
	for _, fe := range verr.Errors {
		rng := d.rangeOf(fe.Path, fallback)
		if reported[rng] {
			continue // already explained by a decoding error
		}
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid job",
			Detail:   fe.Msg,
			Subject:  &rng,
		})
	}
}

// rangeOf finds the recorded range of path, trimming trailing field names
// and indexes until one is known.
func (d *decoder) rangeOf(path string, fallback hcl.Range) hcl.Range {
	for {
		if rng, ok := d.ranges[path]; ok {
			return rng
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			if rng, ok := d.ranges[""]; ok {
				return rng
			}
			return fallback
		}
		path = path[:i]
	}
}

// variable is one declared input variable.
type variable struct {
	name     string
	typ      cty.Type
	hasType  bool
	value    cty.Value
	set      bool
	declared hcl.Range
}

// variables resolves declared variables from, in rising precedence, their
// defaults, NOMAD_VAR_ environment values, -var-file files and -var flags.
func (d *decoder) variables(blocks []*hcl.Block, opts Options) cty.Value {
	vars := map[string]*variable{}
	for _, b := range blocks {
		if b.Type == "variables" {
			// variables { a = 1 } declares untyped variables with defaults.
			attrs, diags := b.Body.JustAttributes()
			d.diags = append(d.diags, diags...)
			for name, attr := range attrs {
				v := &variable{name: name, typ: cty.DynamicPseudoType, declared: attr.Range}
				if val, ok := d.eval(attr.Expr); ok {
					v.value, v.set = val, true
				}
				d.declare(vars, v)
			}
			continue
		}
		v := &variable{name: b.Labels[0], typ: cty.DynamicPseudoType, declared: b.DefRange}
		if !hclsyntax.ValidIdentifier(v.name) {
			d.errorf(b.LabelRanges[0], "Invalid variable name", "%q is not a valid identifier.", v.name)
			continue
		}
		c := d.content(b.Body, blockSpec{attrs: []string{"type", "default", "description", "sensitive"},
			unsupported: []string{"validation"}})
		if attr, ok := c.attrs["type"]; ok {
			ty, diags := typeexpr.TypeConstraint(attr.Expr)
			d.diags = append(d.diags, diags...)
			if !diags.HasErrors() {
				v.typ, v.hasType = ty, true
			}
		}
		if attr, ok := c.attrs["default"]; ok {
			if val, ok := d.eval(attr.Expr); ok {
				v.value, v.set = d.convertVar(v, val, attr.Expr.Range()), true
			}
		}
		d.declare(vars, v)
	}

	for _, kv := range opts.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "NOMAD_VAR_") {
			continue
		}
		// The environment is shared with everything else the user runs,
		// so undeclared NOMAD_VAR_ values are ignored rather than refused.
		if v, ok := vars[strings.TrimPrefix(name, "NOMAD_VAR_")]; ok {
			d.setFromString(v, value, "environment variable "+name, hcl.Range{Filename: name})
		}
	}
	for _, path := range opts.VarFiles {
		d.varFile(vars, path, opts.AllowUndeclared)
	}
	for _, arg := range opts.Vars {
		name, value, ok := strings.Cut(arg, "=")
		rng := hcl.Range{Filename: "-var " + arg}
		if !ok || name == "" {
			d.errorf(rng, "Invalid -var option", "The -var option %q is not of the form name=value.", arg)
			continue
		}
		v, ok := vars[name]
		if !ok {
			if !opts.AllowUndeclared {
				d.errorf(rng, "Undefined -var variable",
					"A %q variable was passed in but has not been declared in the job file. Declare it with a variable \"%s\" {} block.", name, name)
			}
			continue
		}
		d.setFromString(v, value, "-var "+name, rng)
	}

	obj := map[string]cty.Value{}
	names := make([]string, 0, len(vars))
	for name := range vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := vars[name]
		if !v.set {
			d.errorf(v.declared, "Unset variable",
				"The variable %q has no default and no value was given; set it with -var %s=..., a -var-file, or NOMAD_VAR_%s.", name, name, name)
			obj[name] = cty.DynamicVal
			continue
		}
		obj[name] = v.value
	}
	return cty.ObjectVal(obj)
}

func (d *decoder) declare(vars map[string]*variable, v *variable) {
	if prev, ok := vars[v.name]; ok {
		d.errorf(v.declared, "Duplicate variable", "The variable %q was already declared at %s.", v.name, prev.declared)
		return
	}
	vars[v.name] = v
}

func (d *decoder) convertVar(v *variable, val cty.Value, rng hcl.Range) cty.Value {
	conv, err := convert.Convert(val, v.typ)
	if err != nil {
		d.errorf(rng, "Invalid value for variable", "The value given for %q is not a valid %s: %v.",
			v.name, v.typ.FriendlyName(), err)
		return cty.DynamicVal
	}
	return conv
}

// setFromString sets a variable from a command-line or environment string:
// taken literally for string variables, parsed as an HCL expression for
// other types (so -var 'ports=[80,443]' works).
func (d *decoder) setFromString(v *variable, raw, source string, rng hcl.Range) {
	if !v.hasType || v.typ == cty.String || v.typ == cty.DynamicPseudoType {
		v.value, v.set = d.convertVar(v, cty.StringVal(raw), rng), true
		return
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.InitialPos)
	if diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return
	}
	v.value, v.set = d.convertVar(v, val, rng), true
}

func (d *decoder) varFile(vars map[string]*variable, path string, allowUndeclared bool) {
	src, err := os.ReadFile(path)
	if err != nil {
		d.errorf(hcl.Range{Filename: path}, "Failed to read variable file", "%v", err)
		return
	}
	file, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	if diags := checkBudget(file.Body); diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return
	}
	attrs, diags := file.Body.JustAttributes()
	d.diags = append(d.diags, diags...)
	for name, attr := range attrs {
		v, ok := vars[name]
		if !ok {
			if !allowUndeclared {
				d.errorf(attr.NameRange, "Undefined variable",
					"A %q variable was set in %s but has not been declared in the job file.", name, path)
			}
			continue
		}
		val, diags := attr.Expr.Value(nil)
		d.diags = append(d.diags, diags...)
		if !diags.HasErrors() {
			v.value, v.set = d.convertVar(v, val, attr.Expr.Range()), true
		}
	}
}

// locals evaluates locals blocks. A local may use another, in any order, so
// they are evaluated in rounds until none is left; what cannot be resolved
// (an undefined name or a cycle) is then evaluated once more to report why.
func (d *decoder) locals(blocks []*hcl.Block) cty.Value {
	pending := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		for name, attr := range attrs {
			if prev, ok := pending[name]; ok {
				d.errorf(attr.NameRange, "Duplicate local value", "The local %q was already defined at %s.", name, prev.NameRange)
				continue
			}
			pending[name] = attr
		}
	}
	done := map[string]cty.Value{}
	for len(pending) > 0 {
		progress := false
		for _, name := range sortedKeys(pending) {
			attr := pending[name]
			if !localsReady(attr.Expr, done) {
				continue
			}
			d.ctx.Variables["local"] = cty.ObjectVal(done)
			if val, ok := d.eval(attr.Expr); ok {
				done[name] = val
			} else {
				done[name] = cty.DynamicVal
			}
			delete(pending, name)
			progress = true
		}
		if !progress {
			d.ctx.Variables["local"] = cty.ObjectVal(done)
			for _, name := range sortedKeys(pending) {
				attr := pending[name]
				if refersTo(attr.Expr, pending) {
					d.errorf(attr.Expr.Range(), "Cycle in local values",
						"The local %q depends, directly or indirectly, on itself.", name)
				} else {
					d.eval(attr.Expr)
				}
			}
			break
		}
	}
	return cty.ObjectVal(done)
}

func sortedKeys(m map[string]*hcl.Attribute) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// localReferences lists the local.x names an expression uses.
func localReferences(expr hcl.Expression) []string {
	var out []string
	for _, tr := range expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if attr, ok := tr[1].(hcl.TraverseAttr); ok {
			out = append(out, attr.Name)
		}
	}
	return out
}

func localsReady(expr hcl.Expression, done map[string]cty.Value) bool {
	for _, name := range localReferences(expr) {
		if _, ok := done[name]; !ok {
			return false
		}
	}
	return true
}

func refersTo(expr hcl.Expression, pending map[string]*hcl.Attribute) bool {
	for _, name := range localReferences(expr) {
		if _, ok := pending[name]; ok {
			return true
		}
	}
	return false
}

// functions are the HCL functions a job file may call.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc,
		"coalesce": stdlib.CoalesceFunc, "compact": stdlib.CompactFunc, "concat": stdlib.ConcatFunc,
		"contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc, "element": stdlib.ElementFunc,
		"flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc, "format": stdlib.FormatFunc,
		"formatdate": stdlib.FormatDateFunc, "formatlist": stdlib.FormatListFunc, "indent": stdlib.IndentFunc,
		"join": stdlib.JoinFunc, "jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
		"keys": stdlib.KeysFunc, "length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc,
		"lower": stdlib.LowerFunc, "max": stdlib.MaxFunc, "merge": stdlib.MergeFunc, "min": stdlib.MinFunc,
		"range": stdlib.RangeFunc, "regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
		"replace": stdlib.ReplaceFunc, "reverse": stdlib.ReverseListFunc, "setunion": stdlib.SetUnionFunc,
		"slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "split": stdlib.SplitFunc,
		"strrev": stdlib.ReverseFunc, "substr": stdlib.SubstrFunc, "timeadd": stdlib.TimeAddFunc,
		"title": stdlib.TitleFunc, "tostring": toType(cty.String), "tonumber": toType(cty.Number),
		"tobool": toType(cty.Bool), "trim": stdlib.TrimFunc, "trimprefix": stdlib.TrimPrefixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "trimsuffix": stdlib.TrimSuffixFunc, "upper": stdlib.UpperFunc,
		"values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
	}
}

// toType builds a conversion function such as tostring.
func toType(ty cty.Type) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType, AllowNull: true}},
		Type:   function.StaticReturnType(ty),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := convert.Convert(args[0], ty)
			if err != nil {
				return cty.NilVal, fmt.Errorf("cannot convert %s to %s", args[0].Type().FriendlyName(), ty.FriendlyName())
			}
			return v, nil
		},
	})
}
