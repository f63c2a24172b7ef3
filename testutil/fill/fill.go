// Package fill gives tests values with every exported field set, found by
// reflection, so that a test over them (a codec round trip, a deep copy)
// also covers the fields added after it was written.
//
// Fill sets every reachable field to a non-zero value: a pointer gets a
// new pointee, a slice two elements, a map two entries, an interface{} a
// JSON-like tree (strings, float64, bool, []interface{} and
// map[string]interface{}, the values a decoded driver config holds), a
// time.Time a UTC instant with nanoseconds. Filling an already filled
// value again changes every leaf in place, through the pointers, slices
// and maps it already has: if two values share any of those, filling one
// changes the other, which is how a copy test finds aliasing.
//
// Empty replaces every slice and map reachable through pointers and
// struct fields with an empty one that is not nil, to check that empty
// and nil stay apart. A field tagged omitempty is set to nil instead:
// encoders drop it when empty, so it decodes nil by design.
package fill

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// maxDepth stops a recursive type from filling forever.
const maxDepth = 32

var timeType = reflect.TypeOf(time.Time{})

// Fill fills *ptr as described in the package comment. seed picks the
// numbers: two fills of zero values with one seed are deeply equal, and a
// second fill with another seed changes every leaf.
func Fill(ptr interface{}, seed int) {
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Ptr || v.IsNil() {
		panic("fill: Fill needs a non-nil pointer")
	}
	f := &filler{n: int64(seed) * 1_000_000}
	f.fill(v.Elem(), 0)
}

type filler struct{ n int64 }

func (f *filler) next() int64 {
	f.n++
	return f.n
}

func (f *filler) fill(v reflect.Value, depth int) {
	if depth > maxDepth {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(f.next())
	case reflect.Int8, reflect.Int16:
		v.SetInt(f.next()%100 + 1)
	case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uintptr:
		v.SetUint(uint64(f.next()))
	case reflect.Uint8, reflect.Uint16:
		v.SetUint(uint64(f.next()%100 + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.5)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", f.next()))
	case reflect.Ptr:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		f.fill(v.Elem(), depth+1)
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		}
		for i := 0; i < v.Len(); i++ {
			f.fill(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			f.fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		if v.Len() == 0 {
			for i := 0; i < 2; i++ {
				k := reflect.New(v.Type().Key()).Elem()
				f.fill(k, depth+1)
				e := reflect.New(v.Type().Elem()).Elem()
				f.fill(e, depth+1)
				v.SetMapIndex(k, e)
			}
			return
		}
		// Change each value in place: through its pointer if it is one,
		// else by storing a changed copy under the same key.
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			f.fill(e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Unix(1_700_000_000+f.next(), f.next()%1_000_000_000).UTC()))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), depth+1)
			}
		}
	case reflect.Interface:
		if v.IsNil() {
			v.Set(reflect.ValueOf(f.tree()))
			return
		}
		// A map or slice is changed in place (its elements), a scalar
		// replaced by another of its type.
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		f.fill(e, depth+1)
		v.Set(e)
	}
}

// tree is what an interface{} gets: a driver config's kind of value.
func (f *filler) tree() interface{} {
	return map[string]interface{}{
		"s": fmt.Sprintf("s%d", f.next()),
		"f": float64(f.next()) + 0.5,
		"b": true,
		"l": []interface{}{fmt.Sprintf("s%d", f.next()), float64(f.next())},
		"m": map[string]interface{}{"k": fmt.Sprintf("s%d", f.next())},
	}
}

// Empty replaces every slice and map reachable from *ptr through pointers
// and struct fields with an empty, non-nil one.
func Empty(ptr interface{}) {
	empty(reflect.ValueOf(ptr).Elem(), 0)
}

func empty(v reflect.Value, depth int) {
	if depth > maxDepth {
		return
	}
	switch v.Kind() {
	case reflect.Ptr:
		if !v.IsNil() {
			empty(v.Elem(), depth+1)
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	case reflect.Struct:
		if v.Type() == timeType {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			sf := v.Type().Field(i)
			switch {
			case !sf.IsExported():
			case omitEmpty(sf) && (sf.Type.Kind() == reflect.Slice || sf.Type.Kind() == reflect.Map):
				v.Field(i).Set(reflect.Zero(sf.Type))
			default:
				empty(v.Field(i), depth+1)
			}
		}
	}
}

func omitEmpty(sf reflect.StructField) bool {
	for _, key := range []string{"codec", "json"} {
		if tag, ok := sf.Tag.Lookup(key); ok {
			return strings.Contains(tag, ",omitempty")
		}
	}
	return false
}
