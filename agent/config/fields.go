package config

import (
	"reflect"
	"strings"
	"time"
)

var durationType = reflect.TypeOf(time.Duration(0))

// fieldKind says how a tagged struct field appears in a configuration body.
type fieldKind int

const (
	kindAttr    fieldKind = iota // a single attribute
	kindBlock                    // a single unlabelled block decoded into a struct
	kindPlugins                  // labelled plugin blocks collected into a map
)

// field describes one configurable field of a struct.
type field struct {
	name  string
	index int
	kind  fieldKind
}

// fieldsOf lists the fields of struct type t that carry an hcl tag.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("hcl")
		if !ok || tag == "-" || !sf.IsExported() {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		f := field{name: name, index: i, kind: kindAttr}
		switch {
		case opt == "plugins":
			f.kind = kindPlugins
		case sf.Type.Kind() == reflect.Struct && sf.Type != durationType:
			f.kind = kindBlock
		}
		out = append(out, f)
	}
	return out
}

// joinPath appends an hcl key to a dotted configuration path.
func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}
