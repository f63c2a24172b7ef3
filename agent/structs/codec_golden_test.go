package structs_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"drover/agent/msgpack"
	"drover/agent/structs"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/codec from the current encoder")

// TestCodecGolden pins the MessagePack encoding of fully populated plan
// and allocation values. Raft logs, snapshots and RPC between servers and
// clients of different builds hold these bytes, so the generated codec
// (structs.codecgen.go, `go generate`) must write the same fields and
// values as the reflection-based encoder that wrote the golden files
// (it writes them in source order where reflection sorted them by name,
// which no decoder minds), and read those files back to the same values.
func TestCodecGolden(t *testing.T) {
	for name, v := range map[string]interface{}{
		"allocation": &structs.Allocation{},
		"plan":       &structs.Plan{},
		"planresult": &structs.PlanResult{},
		"allocstub":  &structs.AllocListStub{},
	} {
		t.Run(name, func(t *testing.T) {
			fill(reflect.ValueOf(v).Elem(), 0)
			got, err := msgpack.Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "codec", name+".msgpack")
			if *updateGolden {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The same keys and values, in whatever order: decoded as
			// plain maps (which no generated code touches), both must be
			// equal, so a reader of either build reads the other's bytes.
			// One difference is allowed: the generated encoder leaves out
			// a struct-valued field that is all zero where reflection
			// wrote {}, and both decode to the same zero struct.
			var gotPlain, wantPlain interface{}
			if err := msgpack.Decode(got, &gotPlain); err != nil {
				t.Fatal(err)
			}
			if err := msgpack.Decode(want, &wantPlain); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(prune(gotPlain), prune(wantPlain)) {
				t.Errorf("encoding changed:\n got %v\nwant %v", gotPlain, wantPlain)
			}
			// Every field survives both ways: a field added to a type
			// without `go generate` is lost here.
			for what, data := range map[string][]byte{"the golden bytes": want, "a round trip": got} {
				back := reflect.New(reflect.TypeOf(v).Elem()).Interface()
				if err := msgpack.Decode(data, back); err != nil {
					t.Fatal(err)
				}
				a, _ := json.Marshal(v)
				b, _ := json.Marshal(back)
				if !bytes.Equal(a, b) {
					t.Errorf("decoding %s gave another value (run go generate ./agent/structs?):\n got %s\nwant %s", what, b, a)
				}
			}
		})
	}
}

// prune drops, at any depth, map entries whose value is an empty map.
func prune(v interface{}) interface{} {
	m, ok := v.(map[string]interface{})
	if !ok {
		if s, ok := v.([]interface{}); ok {
			for i := range s {
				s[i] = prune(s[i])
			}
		}
		return v
	}
	for k, e := range m {
		e = prune(e)
		if em, ok := e.(map[string]interface{}); ok && len(em) == 0 {
			delete(m, k)
			continue
		}
		m[k] = e
	}
	return m
}

// fill sets every exported field reachable from v to a non-zero value,
// maps and slices to one element (so the bytes do not depend on map
// order), down to a few levels.
func fill(v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + string(rune('a'+depth)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			v.SetInt(int64(1500 * time.Millisecond))
			return
		}
		v.SetInt(int64(7 + depth))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(9 + depth))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.25 + float64(depth))
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf("i"))
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 5, 10, 0, 0, 123, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}
