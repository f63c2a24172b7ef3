package structs

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits bound what one job may ask for. They are enforced at the edge
// (validation of every registration and plan, and `job validate`), so
// that nothing accepted can exhaust memory when scheduled, or fail to be
// replicated, fetched by a client or restored from a snapshot.
//
//	limit             default   why
//	MaxGroupCount     10,000    allocations of one group (server option max_group_count raises it)
//	MaxJobAllocs      50,000    allocations of all groups together
//	MaxNestingDepth   32        levels of nesting in a task's config; the JSON, msgpack and
//	                            snapshot codecs all go deeper, so anything accepted round-trips
//	MaxMapBytes       64 KiB    encoded size of each Meta and Env map
//	MaxConfigBytes    256 KiB   encoded size of a task's config
//	MaxNameLength     128       bytes of a job ID, name, group or task name, printable UTF-8 only
type Limits struct {
	MaxGroupCount   int
	MaxJobAllocs    int
	MaxNestingDepth int
	MaxMapBytes     int
	MaxConfigBytes  int
	MaxNameLength   int
}

// DefaultLimits are the limits of the table above.
var DefaultLimits = Limits{
	MaxGroupCount: 10000, MaxJobAllocs: 50000, MaxNestingDepth: 32,
	MaxMapBytes: 64 << 10, MaxConfigBytes: 256 << 10, MaxNameLength: 128,
}

// ValidateWith is Validate with the given limits in place of the defaults.
func (j *Job) ValidateWith(l Limits) error {
	v := &validator{}
	j.validate(v)
	j.checkLimits(v, l)
	if len(v.errs) == 0 {
		return nil
	}
	return &ValidationError{Errors: v.errs}
}

func (j *Job) checkLimits(v *validator, l Limits) {
	checkName(v, "ID", "Job ID", j.ID, l)
	checkName(v, "Name", "Job name", j.Name, l)
	checkMap(v, "Meta", j.Meta, l)
	total := 0
	for i, tg := range j.TaskGroups {
		path := fmt.Sprintf("TaskGroups[%d]", i)
		checkName(v, path+".Name", "Task group name", tg.Name, l)
		if tg.Count > l.MaxGroupCount {
			v.add(path+".Count", "Task group count %d exceeds the limit of %d allocations per group", tg.Count, l.MaxGroupCount)
		}
		total += max(tg.Count, 0)
		checkMap(v, path+".Meta", tg.Meta, l)
		for k, t := range tg.Tasks {
			tpath := fmt.Sprintf("%s.Tasks[%d]", path, k)
			checkName(v, tpath+".Name", "Task name", t.Name, l)
			checkMap(v, tpath+".Meta", t.Meta, l)
			checkMap(v, tpath+".Env", t.Env, l)
			if d := depth(t.Config); d > l.MaxNestingDepth {
				v.add(tpath+".Config", "Task config is nested %d levels deep; the limit is %d", d, l.MaxNestingDepth)
			} else if n := encodedSize(t.Config); n > l.MaxConfigBytes {
				v.add(tpath+".Config", "Task config is %d bytes; the limit is %d", n, l.MaxConfigBytes)
			}
		}
	}
	if total > l.MaxJobAllocs {
		v.add("TaskGroups", "The job's groups ask for %d allocations; the limit is %d per job", total, l.MaxJobAllocs)
	}
}

// checkName refuses names that are too long, not UTF-8, or that hold
// control characters (a newline or ESC printed by the CLI would forge
// output or drive the terminal).
func checkName(v *validator, path, what, s string, l Limits) {
	switch {
	case len(s) > l.MaxNameLength:
		v.add(path, "%s is %d bytes long; the limit is %d", what, len(s), l.MaxNameLength)
	case !utf8.ValidString(s):
		v.add(path, "%s is not valid UTF-8", what)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != 0 }) >= 0:
		v.add(path, "%s contains a control character", what)
	}
}

func checkMap(v *validator, path string, m map[string]string, l Limits) {
	n := 0
	for k, val := range m {
		n += len(k) + len(val)
	}
	if n > l.MaxMapBytes {
		v.add(path, "%s holds %d bytes; the limit is %d", path[strings.LastIndex(path, ".")+1:], n, l.MaxMapBytes)
	}
}

// depth is how deeply a decoded config value nests maps and lists; it
// stops counting just past any limit worth having.
func depth(x interface{}) int {
	const stop = 1 << 10
	var walk func(x interface{}, d int) int
	walk = func(x interface{}, d int) int {
		if d > stop {
			return d
		}
		deepest := d
		switch t := x.(type) {
		case map[string]interface{}:
			for _, e := range t {
				deepest = max(deepest, walk(e, d+1))
			}
		case []interface{}:
			for _, e := range t {
				deepest = max(deepest, walk(e, d+1))
			}
		case []map[string]interface{}:
			for _, e := range t {
				deepest = max(deepest, walk(e, d+1))
			}
		}
		return deepest
	}
	if x == nil {
		return 0
	}
	return walk(x, 0)
}

func encodedSize(x interface{}) int {
	b, err := json.Marshal(x)
	if err != nil {
		return 0
	}
	return len(b)
}
