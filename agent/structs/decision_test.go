package structs

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

func TestDecisionsGroupByKind(t *testing.T) {
	var ds Decisions
	ds.Add("cache", "example.cache[0]", "a0", DecisionStop, "task changed")
	for i := 1; i <= 3; i++ {
		ds.Add("cache", AllocName("example", "cache", i), fmt.Sprintf("a%d", i), DecisionIgnore, "waiting")
	}
	ds.Add("cache", "example.cache[0]", "b0", DecisionDestructive, "replaces a0")
	ds.Add("cache", "example.cache[7]", "a7", DecisionIgnore, "waiting")
	ds.Add("cache", "example.cache[4]", "", DecisionFailed, "no node")
	ds.Add("cache", "example.cache[5]", "", DecisionFailed, "no node")
	recs := ds.Records()
	if len(recs) != 4 {
		t.Fatalf("want 4 records (stop, ignore, update, failed), got %d: %+v", len(recs), recs)
	}
	ign := recs[1]
	if ign.Action != DecisionIgnore || ign.Count != 4 || ign.Indexes != "1-3,7" || ign.AllocIDs != nil {
		t.Fatalf("ignore record: %+v", ign)
	}
	if recs[0].Count != 0 || recs[0].Indexes != "" || recs[0].AllocID != "a0" {
		t.Fatalf("a record for one allocation is Name and AllocID only: %+v", recs[0])
	}
	if f := recs[3]; f.Count != 2 || f.Indexes != "4-5" || !reflect.DeepEqual(f.AllocIDs, []string{"", ""}) {
		t.Fatalf("failed record: %+v", f)
	}
	want := []DecisionRow{
		{"cache", "example.cache[0]", "a0", DecisionStop, "task changed"},
		{"cache", "example.cache[1]", "", DecisionIgnore, "waiting"},
		{"cache", "example.cache[2]", "", DecisionIgnore, "waiting"},
		{"cache", "example.cache[3]", "", DecisionIgnore, "waiting"},
		{"cache", "example.cache[7]", "", DecisionIgnore, "waiting"},
		{"cache", "example.cache[0]", "b0", DecisionDestructive, "replaces a0"},
		{"cache", "example.cache[4]", "", DecisionFailed, "no node"},
		{"cache", "example.cache[5]", "", DecisionFailed, "no node"},
	}
	if got := DecisionRows(recs); !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", got, want)
	}
}

// A stop of many allocations keeps every ID, in the order decided.
func TestDecisionsKeepIDsOfChanges(t *testing.T) {
	var ds Decisions
	for _, i := range []int{5, 6, 2, 3, 4, 9} {
		ds.Add("g", AllocName("j", "g", i), fmt.Sprintf("id%d", i), DecisionStop, "job stopped")
	}
	recs := ds.Records()
	if len(recs) != 1 || recs[0].Indexes != "5-6,2-4,9" {
		t.Fatalf("records: %+v", recs)
	}
	rows := DecisionRows(recs)
	for k, i := range []int{5, 6, 2, 3, 4, 9} {
		if rows[k].Name != AllocName("j", "g", i) || rows[k].AllocID != fmt.Sprintf("id%d", i) {
			t.Fatalf("row %d: %+v", k, rows[k])
		}
	}
}

// Evaluations stored before decisions were grouped read the same.
func TestDecisionOldRecordReadsAsOneRow(t *testing.T) {
	var d Decision
	if err := json.Unmarshal([]byte(`{"TaskGroup":"cache","Name":"example.cache[0]","AllocID":"x","Action":"place","Reason":"new"}`), &d); err != nil {
		t.Fatal(err)
	}
	if rows := d.Rows(); len(rows) != 1 || rows[0] != (DecisionRow{"cache", "example.cache[0]", "x", "place", "new"}) {
		t.Fatalf("rows: %+v", rows)
	}
}

// The point of grouping: a pass that leaves a large job alone records a
// few hundred bytes, not a record per allocation.
func TestDecisionsIgnoringManyStaySmall(t *testing.T) {
	var ds Decisions
	for i := 0; i < 10000; i++ {
		ds.Add("g", AllocName("job", "g", i), fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), DecisionIgnore, "unchanged")
	}
	b, err := json.Marshal(ds.Records())
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 300 {
		t.Fatalf("10,000 ignores take %d bytes: %s", len(b), b)
	}
	if n := len(DecisionRows(ds.Records())); n != 10000 {
		t.Fatalf("rows: %d", n)
	}
}

func TestIndexesRoundTrip(t *testing.T) {
	for _, idx := range [][]int{{0}, {0, 1, 2}, {3, 1, 2}, {0, 0, 1}, {10, 12, 13, 14, 2}} {
		s := formatIndexes(idx)
		if got := parseIndexes(s); !reflect.DeepEqual(got, idx) {
			t.Fatalf("%v -> %q -> %v", idx, s, got)
		}
	}
	if got := parseIndexes("x,3-1,2"); !reflect.DeepEqual(got, []int{2}) {
		t.Fatalf("malformed parts are skipped: %v", got)
	}
}
