package structs

import (
	"strconv"
	"strings"
)

// Decision records one kind of choice a scheduling pass made: an action,
// its reason, and every allocation of a task group that got that action
// for that reason. A pass that leaves 10,000 allocations alone stores one
// "ignore" record naming them, not 10,000 records, so an evaluation's
// size follows what it changed rather than the size of the job.
//
// A record for one allocation is Name and AllocID (as records were before
// they were grouped, so older stored evaluations still read the same). A
// record for several also has Count and Indexes, the allocations' name
// indexes in the order they were decided ("0-2,7"; names are Name's
// prefix with each index), and AllocIDs in the same order, except for
// "ignore" records: an ignored allocation is unchanged and its name
// already identifies it among the job's live allocations.
type Decision struct {
	TaskGroup string
	Name      string
	AllocID   string `json:",omitempty"`
	Action    string
	Reason    string
	Count     int      `json:",omitempty"`
	Indexes   string   `json:",omitempty"`
	AllocIDs  []string `json:",omitempty"`
}

// DecisionRow is one allocation's decision, as -explain prints it.
type DecisionRow struct {
	TaskGroup, Name, AllocID, Action, Reason string
}

// Decisions collects a pass's decisions into grouped records, in the
// order each kind first occurred.
type Decisions struct {
	records []*Decision
	byKind  map[decisionKind]*decisionBuilder
}

type decisionKind struct{ group, action, reason string }

type decisionBuilder struct {
	d       *Decision
	indexes []int
	ids     []string
	grouped bool // every name so far is prefix[index]
}

// Add records that the allocation name (allocID, "" for a placement that
// failed) got action for reason.
func (ds *Decisions) Add(group, name, allocID, action, reason string) {
	if ds.byKind == nil {
		ds.byKind = map[decisionKind]*decisionBuilder{}
	}
	k := decisionKind{group, action, reason}
	b := ds.byKind[k]
	idx := AllocIndexFromName(name)
	if b != nil && b.grouped && idx >= 0 && namePrefix(name) == namePrefix(b.d.Name) {
		b.indexes = append(b.indexes, idx)
		b.ids = append(b.ids, allocID)
		return
	}
	d := &Decision{TaskGroup: group, Name: name, AllocID: allocID, Action: action, Reason: reason}
	ds.records = append(ds.records, d)
	nb := &decisionBuilder{d: d, grouped: idx >= 0, indexes: []int{idx}, ids: []string{allocID}}
	if b == nil || !b.grouped {
		// A name that is not prefix[index] keeps a record of its own;
		// later names of the kind start a new group only if this one
		// cannot take them.
		ds.byKind[k] = nb
	}
}

// Records returns the grouped records.
func (ds *Decisions) Records() []*Decision {
	for _, b := range ds.byKind {
		b.finish()
	}
	return ds.records
}

func (b *decisionBuilder) finish() {
	if len(b.indexes) < 2 {
		return
	}
	d := b.d
	d.Count = len(b.indexes)
	d.Indexes = formatIndexes(b.indexes)
	d.AllocIDs = nil
	if d.Action != DecisionIgnore {
		d.AllocIDs = append([]string(nil), b.ids...)
	}
}

// Rows expands a record into one row per allocation.
func (d *Decision) Rows() []DecisionRow {
	if d.Count < 2 || d.Indexes == "" {
		return []DecisionRow{{d.TaskGroup, d.Name, d.AllocID, d.Action, d.Reason}}
	}
	prefix := namePrefix(d.Name)
	indexes := parseIndexes(d.Indexes)
	rows := make([]DecisionRow, 0, len(indexes))
	for i, idx := range indexes {
		r := DecisionRow{TaskGroup: d.TaskGroup, Name: prefix + "[" + strconv.Itoa(idx) + "]", Action: d.Action, Reason: d.Reason}
		if i < len(d.AllocIDs) {
			r.AllocID = d.AllocIDs[i]
		}
		rows = append(rows, r)
	}
	return rows
}

// DecisionRows expands records into rows, in order.
func DecisionRows(records []*Decision) []DecisionRow {
	var rows []DecisionRow
	for _, d := range records {
		rows = append(rows, d.Rows()...)
	}
	return rows
}

// namePrefix is an allocation name without its "[index]".
func namePrefix(name string) string {
	if l := strings.LastIndexByte(name, '['); l >= 0 {
		return name[:l]
	}
	return name
}

// formatIndexes writes indexes in order, runs of consecutive ascending
// ones as "a-b": [0 1 2 7 3] is "0-2,7,3".
func formatIndexes(idx []int) string {
	var b strings.Builder
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(idx[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(idx[j]))
		}
		i = j + 1
	}
	return b.String()
}

// parseIndexes reads what formatIndexes wrote; malformed parts are
// skipped (the record is informational and must never fail a read).
func parseIndexes(s string) []int {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, err := strconv.Atoi(hi)
		if err != nil || b < a || b-a > 1<<20 {
			continue
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out
}
