package jobspec

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// taskConfig decodes a task's driver config. Its schema belongs to the
// driver, which checks it on the client, so here it is an opaque map. Nested
// blocks become lists of maps (port_map { db = 6379 } is
// "port_map": [{"db": 6379}]), the shape the API uses.
func (d *decoder) taskConfig(c content, path string) map[string]interface{} {
	if attr, ok := c.attrs["config"]; ok {
		d.record(path, attr.Expr.Range())
		val, ok := d.eval(attr.Expr)
		if !ok {
			return nil
		}
		if !val.Type().IsObjectType() && !val.Type().IsMapType() {
			d.errorf(attr.Expr.Range(), "Incorrect attribute value type",
				"Inappropriate value for attribute \"config\": an object is required.")
			return nil
		}
		m, _ := ctyToGo(val).(map[string]interface{})
		return m
	}
	b := c.first("config")
	if b == nil {
		return nil
	}
	d.record(path, b.DefRange)
	return d.opaqueBody(b.Body)
}

func (d *decoder) opaqueBody(body hcl.Body) map[string]interface{} {
	out := map[string]interface{}{}
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		attrs, diags := body.JustAttributes()
		d.diags = append(d.diags, diags...)
		for name, attr := range attrs {
			if v, ok := d.eval(attr.Expr); ok {
				out[name] = ctyToGo(v)
			}
		}
		return out
	}
	names := make([]string, 0, len(sb.Attributes))
	for name := range sb.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if v, ok := d.eval(sb.Attributes[name].Expr); ok {
			out[name] = ctyToGo(v)
		}
	}
	for _, blk := range sb.Blocks {
		inner := d.opaqueBody(blk.Body)
		// A labelled block nests its body under each label in turn.
		for i := len(blk.Labels) - 1; i >= 0; i-- {
			inner = map[string]interface{}{blk.Labels[i]: inner}
		}
		if _, clash := sb.Attributes[blk.Type]; clash {
			d.errorf(blk.DefRange(), "Duplicate argument",
				"%q is set both as an argument and as a block.", blk.Type)
			continue
		}
		list, _ := out[blk.Type].([]interface{})
		out[blk.Type] = append(list, inner)
	}
	return out
}

// ctyToGo converts a known value to plain Go data as encoding/json would
// produce it when decoding the API's JSON: numbers are float64. Using one
// representation means a job parsed here and the same job received as JSON
// are identical.
func ctyToGo(v cty.Value) interface{} {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString()
	case ty == cty.Bool:
		return v.True()
	case ty == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		out := []interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, ctyToGo(e))
		}
		return out
	case ty.IsMapType() || ty.IsObjectType():
		out := map[string]interface{}{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = ctyToGo(e)
		}
		return out
	}
	return nil
}
