package structs

import (
	"reflect"
	"testing"
	"time"

	"drover/testutil/fill"
)

// TestJobCopy fills every field of a job by reflection (so a field added
// later is covered without touching this test), copies it, and checks
// that the copy is deeply equal and shares nothing: changing every leaf
// of the copy through its own pointers, slices and maps leaves the
// original as it was. Nil and empty slices and maps keep their kind.
func TestJobCopy(t *testing.T) {
	var orig, ref Job
	fill.Fill(&orig, 1)
	fill.Fill(&ref, 1)
	c := orig.Copy()
	if !reflect.DeepEqual(c, &orig) {
		t.Fatalf("copy differs:\n got %+v\nwant %+v", c, &orig)
	}
	fill.Fill(c, 2)
	if reflect.DeepEqual(c, &orig) {
		t.Fatal("refilling the copy changed nothing: the test does not test")
	}
	if !reflect.DeepEqual(&orig, &ref) {
		t.Fatal("changing the copy changed the original: something is shared")
	}

	var empty Job
	fill.Fill(&empty, 3)
	fill.Empty(&empty)
	if c := empty.Copy(); !reflect.DeepEqual(c, &empty) {
		t.Fatalf("empty slices or maps not kept:\n got %+v\nwant %+v", c, &empty)
	}
	var zero Job
	if c := zero.Copy(); !reflect.DeepEqual(c, &zero) {
		t.Fatalf("nil slices or maps not kept: %+v", c)
	}
	if (*Job)(nil).Copy() != nil {
		t.Fatal("nil job copied to non-nil")
	}
}

// TestJobCopy_DriverConfig: the driver config is copied to any depth and
// keeps its values' types (a JSON round trip made every number float64),
// including kinds only Go callers produce.
func TestJobCopy_DriverConfig(t *testing.T) {
	d := 5 * time.Second
	cfg := map[string]interface{}{
		"image": "redis", "port": 6379, "ratio": 0.5, "big": int64(1) << 40, "on": true, "none": nil,
		"args":    []interface{}{"a", 1.0, []interface{}{"nested"}},
		"mounts":  []map[string]interface{}{{"source": "/a", "readonly": true}},
		"labels":  map[string]string{"k": "v"},
		"nested":  map[string]interface{}{"m": map[string]interface{}{"k": []interface{}{"v"}}},
		"timeout": &d,
		"nilmap":  map[string]interface{}(nil),
	}
	job := &Job{TaskGroups: []*TaskGroup{{Tasks: []*Task{{Config: cfg}}}}}
	c := job.Copy()
	got := c.TaskGroups[0].Tasks[0].Config
	if !reflect.DeepEqual(got, cfg) {
		t.Fatalf("config differs:\n got %#v\nwant %#v", got, cfg)
	}
	got["args"].([]interface{})[2].([]interface{})[0] = "changed"
	got["mounts"].([]map[string]interface{})[0]["source"] = "/b"
	got["labels"].(map[string]string)["k"] = "w"
	got["nested"].(map[string]interface{})["m"].(map[string]interface{})["k"] = nil
	*got["timeout"].(*time.Duration) = 0
	if cfg["args"].([]interface{})[2].([]interface{})[0] != "nested" || cfg["mounts"].([]map[string]interface{})[0]["source"] != "/a" ||
		cfg["labels"].(map[string]string)["k"] != "v" || cfg["nested"].(map[string]interface{})["m"].(map[string]interface{})["k"] == nil ||
		d != 5*time.Second {
		t.Fatalf("changing the copy's config changed the original: %#v", cfg)
	}
}
