package jobspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"drover/agent/structs"
)

// ParseJSONFile reads and parses a job in the API's JSON form.
func ParseJSONFile(path string) (*structs.Job, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseJSON(path, src)
}

// ParseJSON parses a job in the API's JSON form, either bare or wrapped as
// {"Job": {...}} (the register request body), then canonicalizes and
// validates it. Fields Drover does not model are refused when they carry a
// value, and accepted when null or empty, so the output of another
// Nomad-compatible tool's "job inspect" still loads.
func ParseJSON(filename string, src []byte) (*structs.Job, error) {
	var wrapper map[string]json.RawMessage
	if err := json.Unmarshal(src, &wrapper); err != nil {
		return nil, jsonError(filename, src, err)
	}
	body := src
	if inner, ok := wrapper["Job"]; ok {
		body = inner
	}
	job := &structs.Job{}
	if err := json.Unmarshal(body, job); err != nil {
		return nil, jsonError(filename, src, err)
	}
	var tree interface{}
	if err := json.Unmarshal(body, &tree); err == nil {
		var unknown []string
		unknownFields(reflect.TypeOf(structs.Job{}), tree, "", &unknown)
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, fmt.Errorf("%s: unsupported job fields: %s", filename, strings.Join(unknown, ", "))
		}
	}
	job.Canonicalize()
	if err := job.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return job, nil
}

// jsonError places a decoding error at line:col in the source.
func jsonError(filename string, src []byte, err error) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 1 || offset > int64(len(src)) {
		return fmt.Errorf("%s: %v", filename, err)
	}
	// Offset counts the bytes read, so the offending byte is the last one.
	before := src[:offset-1]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Errorf("%s:%d,%d: %v", filename, line, col, err)
}

// unknownFields walks decoded JSON alongside the Go type it was decoded
// into and lists keys that matched no field but held a real value.
func unknownFields(t reflect.Type, v interface{}, path string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]interface{})
		if !ok {
			return
		}
		for key, val := range obj {
			f, ok := fieldByJSONName(t, key)
			if !ok {
				if !isEmptyJSON(val) {
					*out = append(*out, joinPath(path, key))
				}
				continue
			}
			unknownFields(f.Type, val, joinPath(path, key), out)
		}
	case reflect.Slice:
		list, ok := v.([]interface{})
		if !ok {
			return
		}
		for i, e := range list {
			unknownFields(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return // opaque, e.g. a task's driver config
		}
		obj, ok := v.(map[string]interface{})
		if !ok {
			return
		}
		for k, e := range obj {
			unknownFields(t.Elem(), e, joinPath(path, k), out)
		}
	}
}

// fieldByJSONName matches a key the way encoding/json does: exact first,
// then case-insensitively.
func fieldByJSONName(t reflect.Type, key string) (reflect.StructField, bool) {
	if f, ok := t.FieldByName(key); ok && f.IsExported() {
		return f, true
	}
	return t.FieldByNameFunc(func(name string) bool { return strings.EqualFold(name, key) })
}

func isEmptyJSON(v interface{}) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case []interface{}:
		return len(x) == 0
	case map[string]interface{}:
		return len(x) == 0
	}
	return false
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
