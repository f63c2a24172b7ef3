package msgpack

import (
	"reflect"
	"testing"
	"time"
)

type sample struct {
	Config  map[string]interface{}
	Nil     []string
	Empty   []string
	NilMap  map[string]string
	EmptyM  map[string]string
	When    time.Time
	Zero    time.Time
	Ptr     *int
	Omitted []string `json:",omitempty"`
}

// TestRoundTrip pins what the shared configuration promises: interface
// values come back as the JSON API's types (strings, float64,
// map[string]interface{}, []interface{}), nil and empty slices and maps
// stay apart, and times come back in UTC.
func TestRoundTrip(t *testing.T) {
	one := 1
	in := sample{
		Config: map[string]interface{}{
			"image": "redis", "n": 2.5, "ok": true, "none": nil,
			"ports":  []interface{}{"db", 1.0},
			"nested": map[string]interface{}{"k": []interface{}{map[string]interface{}{"a": "b"}}},
		},
		Empty: []string{}, EmptyM: map[string]string{},
		When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Ptr: &one,
	}
	buf, err := Append([]byte{42}, in)
	if err != nil {
		t.Fatal(err)
	}
	if buf[0] != 42 {
		t.Fatalf("Append lost the prefix: % x", buf[:4])
	}
	var out sample
	if err := Decode(buf[1:], &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", out, in)
	}
	if out.Nil != nil || out.NilMap != nil || out.Empty == nil || out.EmptyM == nil {
		t.Fatal("nil and empty were confused")
	}
}
