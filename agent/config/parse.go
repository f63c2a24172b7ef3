package config

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"drover/agent/hclerr"
	"drover/agent/structs"
)

// ParseFile reads and parses one configuration file. Files whose name ends
// in ".json" are read as HCL JSON, everything else as native HCL syntax.
// The result holds only what the file set; see Parse.
func ParseFile(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	return Parse(src, path)
}

// Parse parses configuration source. filename is used in diagnostics and
// selects the syntax: HCL JSON when it ends in ".json", native HCL
// otherwise.
//
// The returned Config holds only what the source set (no defaults), and
// remembers which settings were given so that Merge can let an explicit
// zero value override an earlier one. On failure the error lists every
// problem, one per line, as "<file>:<line>,<col>-<endcol>: <summary>;
// <detail>".
func Parse(src []byte, filename string) (*Config, error) {
	p := hclparse.NewParser()
	var (
		file  *hcl.File
		diags hcl.Diagnostics
	)
	if strings.EqualFold(filepath.Ext(filename), ".json") {
		file, diags = p.ParseJSON(src, filename)
	} else {
		file, diags = p.ParseHCL(rewriteMapBlocks(src, filename), filename)
	}
	if diags.HasErrors() {
		return nil, hclerr.Error(diags)
	}

	start := hcl.Pos{Line: 1, Column: 1, Byte: 0}
	cfg := &Config{set: map[string]hcl.Range{
		"": {Filename: filename, Start: start, End: start},
	}}
	d := &decoder{set: cfg.set}
	diags = append(diags, d.decodeStruct(file.Body, reflect.ValueOf(cfg).Elem(), "")...)
	if diags.HasErrors() {
		sortDiagnostics(diags)
		return nil, hclerr.Error(diags)
	}
	return cfg, nil
}

// LoadPaths parses and merges configuration files. Each path may be a file
// or a directory; a directory contributes its "*.hcl" and "*.json" files in
// lexical order, not recursing and skipping hidden files. Files are merged
// in the order found, later files overriding earlier ones (see Merge).
//
// The result holds only what the files set: merge it over Default() or
// DevConfig() (or use Load) to get the effective configuration. The second
// result lists the files in the order they were merged. Errors from all
// files are reported together.
func LoadPaths(paths []string) (*Config, []string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("loading config %s: %w", p, err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return nil, nil, fmt.Errorf("loading config directory %s: %w", p, err)
		}
		for _, e := range entries {
			name := e.Name()
			ext := strings.ToLower(filepath.Ext(name))
			if strings.HasPrefix(name, ".") || (ext != ".hcl" && ext != ".json") {
				continue
			}
			full := filepath.Join(p, name)
			if st, err := os.Stat(full); err != nil || st.IsDir() {
				continue
			}
			files = append(files, full)
		}
	}

	result := &Config{}
	var errs []error
	for _, f := range files {
		c, err := ParseFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		result = Merge(result, c)
	}
	if len(errs) > 0 {
		return nil, files, errors.Join(errs...)
	}
	return result, files, nil
}

// Load returns the effective configuration for the given paths: Default()
// (or DevConfig() when dev is true) with the files from LoadPaths merged
// over it, then normalised with Normalize. It does not call Validate.
func Load(paths []string, dev bool) (*Config, []string, error) {
	fromFiles, files, err := LoadPaths(paths)
	if err != nil {
		return nil, files, err
	}
	base := Default()
	if dev {
		base = DevConfig()
	}
	cfg := Merge(base, fromFiles)
	cfg.Normalize()
	return cfg, files, nil
}

// sortDiagnostics orders diagnostics by their position in the file.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

// decoder fills Go structs from configuration bodies, recording every path
// it sets together with the range it came from.
type decoder struct {
	set map[string]hcl.Range
}

// decodeStruct decodes body into the struct v, whose hcl tags give the
// schema. Unknown attributes and blocks are reported by body.Content.
func (d *decoder) decodeStruct(body hcl.Body, v reflect.Value, prefix string) hcl.Diagnostics {
	fields := fieldsOf(v.Type())
	schema := &hcl.BodySchema{}
	for _, f := range fields {
		switch f.kind {
		case kindAttr:
			schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: f.name})
		case kindBlock:
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: f.name})
		case kindPlugins:
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: f.name, LabelNames: []string{"name"}})
		}
	}

	content, diags := body.Content(schema)
	for _, f := range fields {
		path := joinPath(prefix, f.name)
		fv := v.Field(f.index)
		switch f.kind {
		case kindAttr:
			if attr, ok := content.Attributes[f.name]; ok {
				diags = append(diags, d.decodeAttr(attr, fv, path)...)
			}
		case kindBlock:
			for i, b := range content.Blocks.OfType(f.name) {
				if i > 0 {
					diags = append(diags, duplicateBlock(b, f.name, d.set[path]))
					continue
				}
				d.set[path] = b.DefRange
				diags = append(diags, d.decodeStruct(b.Body, fv, path)...)
			}
		case kindPlugins:
			plugins := fv.Addr().Interface().(*map[string]*PluginConfig)
			for _, b := range content.Blocks.OfType(f.name) {
				diags = append(diags, d.decodePlugin(b, plugins, path)...)
			}
		}
	}
	return diags
}

func duplicateBlock(b *hcl.Block, name string, first hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", name),
		Detail: fmt.Sprintf("Only one %q block is allowed in a file; another was defined at %s.",
			name, hclerr.Range(first)),
		Subject: b.DefRange.Ptr(),
	}
}

// decodePlugin decodes one `plugin "<name>" { args = [...] config { ... } }`
// block into plugins.
func (d *decoder) decodePlugin(b *hcl.Block, plugins *map[string]*PluginConfig, prefix string) hcl.Diagnostics {
	name := b.Labels[0]
	path := joinPath(prefix, name)
	if first, ok := d.set[path]; ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate plugin block",
			Detail:   fmt.Sprintf("Plugin %q was already configured at %s.", name, hclerr.Range(first)),
			Subject:  b.LabelRanges[0].Ptr(),
		}}
	}
	d.set[path] = b.DefRange

	pc := &PluginConfig{Name: name}
	content, diags := b.Body.Content(&hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "args"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "config"}},
	})
	if attr, ok := content.Attributes["args"]; ok {
		diags = append(diags, d.decodeAttr(attr, reflect.ValueOf(&pc.Args).Elem(), path+".args")...)
	}
	for i, cb := range content.Blocks.OfType("config") {
		cpath := path + ".config"
		if i > 0 {
			diags = append(diags, duplicateBlock(cb, "config", d.set[cpath]))
			continue
		}
		d.set[cpath] = cb.DefRange
		m, mdiags := decodeOpaque(cb.Body)
		diags = append(diags, mdiags...)
		pc.Config = m
	}
	if *plugins == nil {
		*plugins = make(map[string]*PluginConfig)
	}
	(*plugins)[name] = pc
	return diags
}

// decodeAttr evaluates attr and stores it in fv, converting to the Go type
// of fv, then runs any extra check registered for path.
func (d *decoder) decodeAttr(attr *hcl.Attribute, fv reflect.Value, path string) hcl.Diagnostics {
	val, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	rng := attr.Expr.Range()
	if val.IsNull() {
		// null means "not set".
		return diags
	}
	typeErr := func(err error) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", attr.Name, err),
			Subject:  rng.Ptr(),
		})
	}

	t := fv.Type()
	switch {
	case t == durationType:
		s, err := convert.Convert(val, cty.String)
		if err != nil {
			return typeErr(err)
		}
		dur, err := time.ParseDuration(s.AsString())
		if err != nil || dur < 0 {
			detail := fmt.Sprintf("%q for %q is not a valid duration; use a number with a unit, such as \"10s\" or \"5m\".", s.AsString(), attr.Name)
			if err == nil {
				detail = fmt.Sprintf("%q for %q is negative; durations must not be negative.", s.AsString(), attr.Name)
			}
			return append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid duration",
				Detail:   detail,
				Subject:  rng.Ptr(),
			})
		}
		fv.SetInt(int64(dur))
	case t.Kind() == reflect.String:
		s, err := convert.Convert(val, cty.String)
		if err != nil {
			return typeErr(err)
		}
		fv.SetString(s.AsString())
	case t.Kind() == reflect.Bool:
		b, err := convert.Convert(val, cty.Bool)
		if err != nil {
			return typeErr(err)
		}
		fv.SetBool(b.True())
	case t.Kind() == reflect.Int:
		n, err := convert.Convert(val, cty.Number)
		if err != nil {
			return typeErr(err)
		}
		i, acc := n.AsBigFloat().Int64()
		if !n.AsBigFloat().IsInt() || acc != big.Exact {
			return typeErr(errors.New("a whole number is required"))
		}
		fv.SetInt(i)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		l, err := convert.Convert(val, cty.List(cty.String))
		if err != nil {
			return typeErr(err)
		}
		out := make([]string, 0, l.LengthInt())
		for it := l.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() {
				return typeErr(errors.New("list elements must not be null"))
			}
			out = append(out, ev.AsString())
		}
		fv.Set(reflect.ValueOf(out))
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.String:
		m, err := convert.Convert(val, cty.Map(cty.String))
		if err != nil {
			return typeErr(err)
		}
		out := make(map[string]string, m.LengthInt())
		for it := m.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if ev.IsNull() {
				return typeErr(fmt.Errorf("value for key %q must not be null", k.AsString()))
			}
			out[k.AsString()] = ev.AsString()
		}
		fv.Set(reflect.ValueOf(out))
	default:
		// Unreachable for the types in this package.
		panic(fmt.Sprintf("config: unsupported field type %s at %s", t, path))
	}

	d.set[path] = rng
	if check := attrChecks[path]; check != nil {
		if summary, detail := check(fv); summary != "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  summary,
				Detail:   detail,
				Subject:  rng.Ptr(),
			})
		}
	}
	return diags
}

// attrChecks are value checks applied while parsing, so that problems that
// do not depend on other files are reported at the offending attribute.
// Each returns a diagnostic summary and detail, or "" when the value is
// fine. A check may also normalise the value in place.
var attrChecks = map[string]func(v reflect.Value) (string, string){
	"log_level": func(v reflect.Value) (string, string) {
		v.SetString(strings.ToUpper(v.String()))
		if msg := checkLogLevel(v.String()); msg != "" {
			return "Invalid log level", msg
		}
		return "", ""
	},
	"ports.http":              portCheck,
	"ports.rpc":               portCheck,
	"ports.serf":              portCheck,
	"client.min_dynamic_port": portCheck,
	"client.reserved.reserved_ports": func(v reflect.Value) (string, string) {
		if _, err := structs.ParsePortSpec(v.String()); err != nil {
			return "Invalid reserved_ports", fmt.Sprintf("reserved_ports: %v.", err)
		}
		return "", ""
	},
	"client.max_dynamic_port": portCheck,
	"server.bootstrap_expect": func(v reflect.Value) (string, string) {
		if v.Int() < 0 {
			return "Invalid bootstrap_expect", fmt.Sprintf("bootstrap_expect must be >= 0, got %d.", v.Int())
		}
		return "", ""
	},
	"advertise.http": addrCheck,
	"advertise.rpc":  addrCheck,
	"advertise.serf": addrCheck,
	"client.servers": func(v reflect.Value) (string, string) {
		for _, s := range v.Interface().([]string) {
			if _, _, err := SplitHostPort(s, DefaultRPCPort); err != nil {
				return "Invalid server address", fmt.Sprintf("%q is not a valid host or host:port: %v.", s, err)
			}
		}
		return "", ""
	},
}

func portCheck(v reflect.Value) (string, string) {
	if msg := checkPort(int(v.Int())); msg != "" {
		return "Invalid port", msg + "."
	}
	return "", ""
}

func addrCheck(v reflect.Value) (string, string) {
	if _, _, err := SplitHostPort(v.String(), 0); err != nil {
		return "Invalid advertise address", fmt.Sprintf("%q is not a valid host or host:port: %v.", v.String(), err)
	}
	return "", ""
}

// decodeOpaque turns a plugin "config" body into a generic map. In native
// syntax, attributes become values and nested blocks become
// []map[string]interface{} entries under the block type. JSON bodies have
// no way to tell blocks from objects, so every property is an attribute.
func decodeOpaque(body hcl.Body) (map[string]interface{}, hcl.Diagnostics) {
	out := map[string]interface{}{}
	var diags hcl.Diagnostics

	var attrs hcl.Attributes
	var blocks hclsyntax.Blocks
	if sb, ok := body.(*hclsyntax.Body); ok {
		attrs = make(hcl.Attributes, len(sb.Attributes))
		for name, a := range sb.Attributes {
			attrs[name] = a.AsHCLAttribute()
		}
		blocks = sb.Blocks
	} else {
		var adiags hcl.Diagnostics
		attrs, adiags = body.JustAttributes()
		diags = append(diags, adiags...)
	}

	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		attr := attrs[name]
		val, vdiags := attr.Expr.Value(nil)
		diags = append(diags, vdiags...)
		if vdiags.HasErrors() {
			continue
		}
		gv, err := ctyToGo(val)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid plugin config value",
				Detail:   fmt.Sprintf("Cannot use the value of %q: %v.", name, err),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		out[name] = gv
	}

	for _, b := range blocks {
		if len(b.Labels) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unexpected block labels",
				Detail:   fmt.Sprintf("Blocks of type %q inside plugin config take no labels.", b.Type),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if a, ok := attrs[b.Type]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting plugin config key",
				Detail:   fmt.Sprintf("%q is set as an argument at %s and also used as a block.", b.Type, hclerr.Range(a.Range)),
				Subject:  b.TypeRange.Ptr(),
			})
			continue
		}
		m, bdiags := decodeOpaque(b.Body)
		diags = append(diags, bdiags...)
		list, _ := out[b.Type].([]map[string]interface{})
		out[b.Type] = append(list, m)
	}
	return out, diags
}

// ctyToGo converts a known cty value to plain Go values: string, int64 for
// whole numbers that fit, float64 otherwise, bool, []interface{} and
// map[string]interface{}. Null becomes nil.
func ctyToGo(v cty.Value) (interface{}, error) {
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, errors.New("value is not known")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString(), nil
	case t == cty.Bool:
		return v.True(), nil
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i, nil
			}
		}
		f, _ := bf.Float64()
		return f, nil
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := make([]interface{}, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			gv, err := ctyToGo(ev)
			if err != nil {
				return nil, err
			}
			out = append(out, gv)
		}
		return out, nil
	case t.IsMapType() || t.IsObjectType():
		out := make(map[string]interface{}, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			gv, err := ctyToGo(ev)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = gv
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported value type %s", t.FriendlyName())
	}
}
