package structs

import (
	"fmt"
	"regexp"
	"strings"
)

// Variable is a small set of string items stored at a path in a
// namespace, as the compatible /v1/var API serves it. Drover stores the
// items as they are (no encryption at rest) and has no locks. The JSON
// names are the field names, as the compatible API's clients expect;
// the times are Unix nanoseconds.
type Variable struct {
	Namespace   string
	Path        string
	Items       map[string]string
	CreateIndex uint64
	ModifyIndex uint64
	CreateTime  int64
	ModifyTime  int64
}

// VariableMetadata is a variable without its items: what a list shows.
type VariableMetadata struct {
	Namespace   string
	Path        string
	CreateIndex uint64
	ModifyIndex uint64
	CreateTime  int64
	ModifyTime  int64
}

// Metadata returns the variable without its items.
func (v *Variable) Metadata() *VariableMetadata {
	return &VariableMetadata{Namespace: v.Namespace, Path: v.Path, CreateIndex: v.CreateIndex,
		ModifyIndex: v.ModifyIndex, CreateTime: v.CreateTime, ModifyTime: v.ModifyTime}
}

// Copy returns a deep copy.
func (v *Variable) Copy() *Variable {
	if v == nil {
		return nil
	}
	c := *v
	if v.Items != nil {
		c.Items = make(map[string]string, len(v.Items))
		for k, val := range v.Items {
			c.Items[k] = val
		}
	}
	return &c
}

// MaxVariableSize bounds the total size of a variable's items (keys and
// values): variables are for small settings, and every server keeps all
// of them in memory.
const MaxVariableSize = 64 << 10

var (
	variablePathRe      = regexp.MustCompile(`^[a-zA-Z0-9-_~/]{1,128}$`)
	variableNamespaceRe = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,128}$`)
)

// ValidateVariableNamespace checks the namespace a variable is written
// in: a namespace's name, 1 to 128 letters, digits, "-" and "_". Anything
// else (a NUL, say) would sort into another namespace's prefix scans.
func ValidateVariableNamespace(ns string) error {
	if !variableNamespaceRe.MatchString(ns) {
		return fmt.Errorf("Namespace: %q must be 1 to 128 characters among a-z, A-Z, 0-9, \"-\" and \"_\"", ns)
	}
	return nil
}

// ValidateVariablePath checks a variable's path: 1 to 128 letters,
// digits and "-_~/", no leading or trailing "/", no empty segment.
func ValidateVariablePath(path string) error {
	switch {
	case path == "":
		return fmt.Errorf("Path: must not be empty")
	case !variablePathRe.MatchString(path):
		return fmt.Errorf("Path: %q must be 1 to 128 characters among a-z, A-Z, 0-9 and \"-_~/\"", path)
	case strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/"):
		return fmt.Errorf("Path: %q must not start or end with \"/\"", path)
	case strings.Contains(path, "//"):
		return fmt.Errorf("Path: %q must not contain an empty segment (\"//\")", path)
	}
	return nil
}

// Validate checks a variable before it is written: its namespace, its path, and items
// that are present, with non-empty keys, and within MaxVariableSize.
func (v *Variable) Validate() error {
	if err := ValidateVariableNamespace(v.Namespace); err != nil {
		return err
	}
	if err := ValidateVariablePath(v.Path); err != nil {
		return err
	}
	if len(v.Items) == 0 {
		return fmt.Errorf("Items: a variable must have at least one item")
	}
	size := 0
	for k, val := range v.Items {
		if k == "" {
			return fmt.Errorf("Items: keys must not be empty")
		}
		size += len(k) + len(val)
	}
	if size > MaxVariableSize {
		return fmt.Errorf("Items: %d bytes, more than the %d a variable may hold", size, MaxVariableSize)
	}
	return nil
}
