package config

import (
	"reflect"

	"github.com/hashicorp/hcl/v2"
)

// Merge returns a new Config with b layered over a; neither input is
// modified and the result shares no maps or slices with them.
//
// For every setting, b's value wins when b set it explicitly (it came from
// a file, or was named in MarkSet) or when it is not the zero value; so a
// later file's `enabled = false` overrides an earlier true, while Go-built
// configs such as Default() only override with non-zero values. Lists,
// including client.servers and server_join.retry_join, are replaced as a
// whole. Maps (client.options, client.meta) are merged key by key. Plugins
// are merged by name: args are replaced, config maps are merged by
// top-level key. DevMode is true if either input has it. The record of
// explicitly set paths is the union of both.
func Merge(a, b *Config) *Config {
	out := &Config{}
	dst := reflect.ValueOf(out).Elem()
	for _, c := range []*Config{a, b} {
		if c == nil {
			continue
		}
		overlay(dst, reflect.ValueOf(c).Elem(), "", c.set)
		out.DevMode = out.DevMode || c.DevMode
		for k, r := range c.set {
			if out.set == nil {
				out.set = make(map[string]hcl.Range)
			}
			out.set[k] = r
		}
	}
	return out
}

// overlay copies the settings of src into dst (both structs of the same
// type) following the rules described on Merge.
func overlay(dst, src reflect.Value, prefix string, set map[string]hcl.Range) {
	for _, f := range fieldsOf(src.Type()) {
		path := joinPath(prefix, f.name)
		dv, sv := dst.Field(f.index), src.Field(f.index)
		switch f.kind {
		case kindBlock:
			overlay(dv, sv, path, set)
		case kindPlugins:
			mergePlugins(dv.Addr().Interface().(*map[string]*PluginConfig),
				sv.Interface().(map[string]*PluginConfig), path, set)
		case kindAttr:
			if sv.Kind() == reflect.Map {
				if sv.Len() == 0 {
					continue
				}
				if dv.IsNil() {
					dv.Set(reflect.MakeMapWithSize(sv.Type(), sv.Len()))
				}
				for it := sv.MapRange(); it.Next(); {
					dv.SetMapIndex(it.Key(), it.Value())
				}
				continue
			}
			if _, explicit := set[path]; explicit || !sv.IsZero() {
				dv.Set(cloneValue(sv))
			}
		}
	}
}

// mergePlugins merges the plugins of src into *dst by name.
func mergePlugins(dst *map[string]*PluginConfig, src map[string]*PluginConfig, prefix string, set map[string]hcl.Range) {
	for name, p := range src {
		if p == nil {
			continue
		}
		if *dst == nil {
			*dst = make(map[string]*PluginConfig, len(src))
		}
		cur := (*dst)[name]
		if cur == nil {
			cur = &PluginConfig{Name: name}
			(*dst)[name] = cur
		}
		if _, explicit := set[joinPath(prefix, name)+".args"]; explicit || p.Args != nil {
			cur.Args = cloneValue(reflect.ValueOf(p.Args)).Interface().([]string)
		}
		if len(p.Config) > 0 && cur.Config == nil {
			cur.Config = make(map[string]interface{}, len(p.Config))
		}
		for k, v := range p.Config {
			cur.Config[k] = deepCopy(v)
		}
	}
}

// cloneValue returns v, with slices copied so that they are not shared.
func cloneValue(v reflect.Value) reflect.Value {
	if v.Kind() != reflect.Slice || v.IsNil() {
		return v
	}
	c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
	reflect.Copy(c, v)
	return c
}

// deepCopy copies the generic values found in plugin configs.
func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[k] = deepCopy(e)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, e := range t {
			l[i] = deepCopy(e)
		}
		return l
	case []map[string]interface{}:
		l := make([]map[string]interface{}, len(t))
		for i, e := range t {
			l[i] = deepCopy(e).(map[string]interface{})
		}
		return l
	default:
		return v
	}
}
