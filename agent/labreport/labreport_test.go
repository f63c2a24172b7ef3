package labreport

import (
	"reflect"
	"testing"
	"time"
)

func TestItemsRoundTrip(t *testing.T) {
	in := &Report{Lab: "getting-started", Title: "Your first job", Current: 1,
		Updated: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC),
		Steps: []Step{
			{ID: "init", Title: "Write", Done: true, Checks: []Check{{Want: "a file", Checked: true, OK: true}}},
			{ID: "run", Title: "Run", Checks: []Check{{Want: "3 running", Checked: true, Observed: "1 running"}}},
		}}
	items, err := in.Items()
	if err != nil {
		t.Fatal(err)
	}
	out, err := FromItems(items)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestFromItemsRejectsBadReports(t *testing.T) {
	for name, items := range map[string]map[string]string{
		"no lab":      {"current": "0", "steps": "[]"},
		"bad current": {"lab": "x", "current": "one", "steps": "[]"},
		"bad steps":   {"lab": "x", "current": "0", "steps": "{"},
	} {
		if _, err := FromItems(items); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
