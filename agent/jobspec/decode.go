package jobspec

import (
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder turns HCL bodies into the job model. It never stops at the first
// problem: every diagnostic is collected so the user sees all of them at once.
// It also remembers where each model field came from, so that validation
// errors found later on the model can point back at file:line:col.
type decoder struct {
	ctx    *hcl.EvalContext
	diags  hcl.Diagnostics
	ranges map[string]hcl.Range
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...interface{}) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

// record notes the source range of a model field path.
func (d *decoder) record(path string, rng hcl.Range) {
	d.ranges[path] = rng
}

// blockSpec describes what a block may contain: attribute names, nested
// block types (with whether they take a label), and block types that are
// part of the Nomad job format but not supported here, so they are refused
// with a clear message instead of a generic "unexpected block".
type blockSpec struct {
	attrs       []string
	blocks      []string
	labelled    []string
	unsupported []string
}

func (s blockSpec) schema() *hcl.BodySchema {
	sc := &hcl.BodySchema{}
	for _, a := range s.attrs {
		sc.Attributes = append(sc.Attributes, hcl.AttributeSchema{Name: a})
	}
	for _, b := range s.blocks {
		sc.Blocks = append(sc.Blocks, hcl.BlockHeaderSchema{Type: b})
	}
	for _, b := range s.labelled {
		sc.Blocks = append(sc.Blocks, hcl.BlockHeaderSchema{Type: b, LabelNames: []string{"name"}})
	}
	for _, b := range s.unsupported {
		// Accept any labels so the only error reported is "not supported".
		sc.Blocks = append(sc.Blocks, hcl.BlockHeaderSchema{Type: b})
	}
	return sc
}

// content is the decoded body of one block, indexed for the decoder's use.
type content struct {
	attrs  hcl.Attributes
	blocks map[string]hcl.Blocks
}

func (c content) first(typ string) *hcl.Block {
	if bs := c.blocks[typ]; len(bs) > 0 {
		return bs[0]
	}
	return nil
}

// content decodes body against spec. Unknown attributes and blocks become
// diagnostics (from hcl itself); unsupported blocks get a specific one; a
// block that may appear once but appears twice is reported too.
func (d *decoder) content(body hcl.Body, spec blockSpec) content {
	bc, diags := body.Content(spec.schema())
	// Labels on unsupported blocks are reported as "extraneous label"
	// by hcl; those diagnostics would only distract from ours.
	// A labelled unsupported block (volume "x" {}) is dropped by hcl with
	// an "extraneous label" error; say what is really wrong instead.
	unsupported := map[string]string{}
	for _, typ := range spec.unsupported {
		unsupported["Extraneous label for "+typ] = typ
	}
	for _, diag := range diags {
		if typ, ok := unsupported[diag.Summary]; ok && diag.Subject != nil {
			d.unsupported(*diag.Subject, typ)
			continue
		}
		d.diags = append(d.diags, diag)
	}
	c := content{attrs: hcl.Attributes{}, blocks: map[string]hcl.Blocks{}}
	if bc == nil {
		return c
	}
	c.attrs = bc.Attributes
	for _, b := range bc.Blocks {
		c.blocks[b.Type] = append(c.blocks[b.Type], b)
	}
	for _, typ := range spec.unsupported {
		for _, b := range c.blocks[typ] {
			d.unsupported(b.DefRange, typ)
		}
		delete(c.blocks, typ)
	}
	for _, typ := range spec.blocks {
		if bs := c.blocks[typ]; len(bs) > 1 && !repeatable[typ] {
			d.errorf(bs[1].DefRange, "Duplicate "+typ+" block",
				"Only one %q block is allowed here; another was defined at %s.", typ, bs[0].DefRange)
		}
	}
	return c
}

func (d *decoder) unsupported(rng hcl.Range, typ string) {
	d.errorf(rng, "Unsupported block type",
		"Blocks of type %q are part of the Nomad job format but are not supported by Drover yet.", typ)
}

// repeatable lists the unlabelled block types that may appear many times.
var repeatable = map[string]bool{
	"constraint": true, "network": true, "service": true, "check": true,
	"template": true, "artifact": true, "locals": true,
}

// eval evaluates an expression. References to names the job file did not
// define (node.unique.id, attr.kernel.name, NOMAD_PORT_db, ...) are runtime
// interpolations resolved on the client, so they evaluate to their own
// "${...}" text instead of failing.
func (d *decoder) eval(expr hcl.Expression) (cty.Value, bool) {
	ctx := d.ctx
	runtime := map[string]interface{}{}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if _, ok := d.ctx.Variables[root]; ok {
			continue
		}
		addRuntimeRef(runtime, tr)
	}
	if len(runtime) > 0 {
		ctx = d.ctx.NewChild()
		ctx.Variables = map[string]cty.Value{}
		for root, v := range runtime {
			ctx.Variables[root] = runtimeValue(v, root)
		}
	}
	val, diags := expr.Value(ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	return val, true
}

// addRuntimeRef records traversal root.a.b as a tree of names. A nil leaf
// marks the end of a reference.
func addRuntimeRef(tree map[string]interface{}, tr hcl.Traversal) {
	names := []string{tr.RootName()}
	for _, step := range tr[1:] {
		attr, ok := step.(hcl.TraverseAttr)
		if !ok {
			break
		}
		names = append(names, attr.Name)
	}
	node := tree
	for i, n := range names {
		if i == len(names)-1 {
			if _, ok := node[n]; !ok {
				node[n] = nil
			}
			return
		}
		child, ok := node[n].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			node[n] = child
		}
		node = child
	}
}

func runtimeValue(v interface{}, path string) cty.Value {
	m, ok := v.(map[string]interface{})
	if !ok {
		return cty.StringVal("${" + path + "}")
	}
	attrs := map[string]cty.Value{}
	for k, child := range m {
		attrs[k] = runtimeValue(child, path+"."+k)
	}
	return cty.ObjectVal(attrs)
}

// typed evaluates attr and converts it to ty, reporting a type error at
// the attribute's value.
func (d *decoder) typed(attr *hcl.Attribute, ty cty.Type, what string) (cty.Value, bool) {
	val, ok := d.eval(attr.Expr)
	if !ok {
		return val, false
	}
	if val.IsNull() {
		d.errorf(attr.Expr.Range(), "Invalid attribute value", "The argument %q must not be null.", attr.Name)
		return val, false
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		d.errorf(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s required.", attr.Name, what)
		return val, false
	}
	if !conv.IsWhollyKnown() {
		d.errorf(attr.Expr.Range(), "Invalid attribute value", "The value of %q cannot be known before the job runs.", attr.Name)
		return val, false
	}
	return conv, true
}

// The setters below decode attribute name of c into *dst when present and
// record its range under path. Absent attributes leave *dst untouched, which
// is how defaults survive: the caller fills *dst with the default first.

func (d *decoder) str(c content, name string, dst *string, path string) {
	attr, ok := c.attrs[name]
	if !ok {
		return
	}
	d.record(path, attr.Expr.Range())
	if v, ok := d.typed(attr, cty.String, "a string is"); ok {
		*dst = v.AsString()
	}
}

func (d *decoder) integer(c content, name string, dst *int, path string) {
	attr, ok := c.attrs[name]
	if !ok {
		return
	}
	d.record(path, attr.Expr.Range())
	v, ok := d.typed(attr, cty.Number, "a number is")
	if !ok {
		return
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errorf(attr.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: a whole number is required.", name)
		return
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > 1<<31-1 || i < -(1<<31) {
		d.errorf(attr.Expr.Range(), "Invalid attribute value", "The value of %q is out of range.", name)
		return
	}
	*dst = int(i)
}

func (d *decoder) boolean(c content, name string, dst *bool, path string) {
	attr, ok := c.attrs[name]
	if !ok {
		return
	}
	d.record(path, attr.Expr.Range())
	if v, ok := d.typed(attr, cty.Bool, "a bool is"); ok {
		*dst = v.True()
	}
}

func (d *decoder) duration(c content, name string, dst *time.Duration, path string) {
	attr, ok := c.attrs[name]
	if !ok {
		return
	}
	d.record(path, attr.Expr.Range())
	v, ok := d.typed(attr, cty.String, "a duration string such as \"10s\" is")
	if !ok {
		return
	}
	dur, err := time.ParseDuration(v.AsString())
	if err != nil {
		d.errorf(attr.Expr.Range(), "Invalid duration",
			"The value of %q must be a duration such as \"10s\" or \"1h30m\": %v.", name, err)
		return
	}
	*dst = dur
}

func (d *decoder) strList(c content, name string, dst *[]string, path string) {
	attr, ok := c.attrs[name]
	if !ok {
		return
	}
	d.record(path, attr.Expr.Range())
	v, ok := d.typed(attr, cty.List(cty.String), "a list of strings is")
	if !ok {
		return
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.errorf(attr.Expr.Range(), "Invalid attribute value", "The list %q must not contain null.", name)
			return
		}
		out = append(out, e.AsString())
	}
	*dst = out
}

// strMap decodes a map of strings given either as an attribute
// (meta = { a = "b" }) or as a block (meta { a = "b" }); both are accepted
// by the job format. Numbers and bools are turned into strings.
func (d *decoder) strMap(c content, name string, dst *map[string]string, path string) {
	if attr, ok := c.attrs[name]; ok {
		d.record(path, attr.Expr.Range())
		if v, ok := d.typed(attr, cty.Map(cty.String), "a map of strings is"); ok {
			*dst = mergeStrMap(*dst, v)
		}
	}
	for _, b := range c.blocks[name] {
		d.record(path, b.DefRange)
		attrs, diags := b.Body.JustAttributes()
		d.diags = append(d.diags, diags...)
		m := map[string]string{}
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if v, ok := d.typed(attrs[n], cty.String, "a string is"); ok {
				m[n] = v.AsString()
			}
		}
		if *dst == nil {
			*dst = map[string]string{}
		}
		for k, v := range m {
			(*dst)[k] = v
		}
	}
}

func mergeStrMap(dst map[string]string, v cty.Value) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if !e.IsNull() {
			dst[k.AsString()] = e.AsString()
		}
	}
	return dst
}
