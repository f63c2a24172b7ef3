package structs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/agent/jobspec"
	"drover/agent/structs"
)

// parseSeed parses one of the jobspec example jobs after applying edits,
// given as pairs of old and new text, so each test states its change in
// job-file terms.
func parseSeed(t *testing.T, name string, edits ...string) *structs.Job {
	t.Helper()
	path := filepath.Join("..", "jobspec", "testdata", name+".nomad")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("%s does not contain %q", path, edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	job, err := jobspec.Parse(path, []byte(text), jobspec.Options{})
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return job
}

func mustDiff(t *testing.T, old, new *structs.Job, contextual bool) *structs.JobDiff {
	t.Helper()
	d, err := old.Diff(new, contextual)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// plan is what "job plan" prints for a change and the scheduler's counts.
func plan(t *testing.T, old, new *structs.Job, updates map[string]*structs.DesiredUpdates) string {
	t.Helper()
	d := mustDiff(t, old, new, false)
	structs.AnnotateJobDiff(d, updates)
	return strings.TrimSpace(structs.FormatJobDiff(d, false))
}

func checkOutput(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimSpace(want)
	if got != want {
		t.Errorf("plan output mismatch\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func cache(u structs.DesiredUpdates) map[string]*structs.DesiredUpdates {
	return map[string]*structs.DesiredUpdates{"cache": &u}
}

// TestFormatJobDiff_Transcripts reproduces "job plan" output recorded from
// the tutorials.
func TestFormatJobDiff_Transcripts(t *testing.T) {
	count3 := []string{"count = 1", "count = 3"}
	stopped := parseSeed(t, "seed004")
	stopped.Stop = true

	tests := []struct {
		name     string
		old, new *structs.Job
		updates  map[string]*structs.DesiredUpdates
		want     string
	}{{
		name:    "count 1 to 3",
		old:     parseSeed(t, "seed003"),
		new:     parseSeed(t, "seed003", count3...),
		updates: cache(structs.DesiredUpdates{Place: 2, InPlaceUpdate: 1}),
		want: `
+/- Job: "example"
+/- Task Group: "cache" (2 create, 1 in-place update)
  +/- Count: "1" => "3" (forces create)
      Task: "redis"
`,
	}, {
		name:    "image change",
		old:     parseSeed(t, "seed003", count3...),
		new:     parseSeed(t, "seed003", "count = 1", "count = 3", "redis:3.2", "redis:4.0"),
		updates: cache(structs.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2}),
		want: `
+/- Job: "example"
+/- Task Group: "cache" (1 create/destroy update, 2 ignore)
  +/- Task: "redis" (forces create/destroy update)
    +/- Config {
      +/- image:           "redis:3.2" => "redis:4.0"
          port_map[0][db]: "6379"
        }
`,
	}, {
		name:    "run a stopped job",
		old:     stopped,
		new:     parseSeed(t, "seed004"),
		updates: cache(structs.DesiredUpdates{Place: 1}),
		want: `
+/- Job: "example"
+/- Stop: "true" => "false"
    Task Group: "cache" (1 create)
      Task: "redis"
`,
	}, {
		name:    "new job",
		old:     nil,
		new:     parseSeed(t, "seed004"),
		updates: cache(structs.DesiredUpdates{Place: 1}),
		want: `
+ Job: "example"
+ Task Group: "cache" (1 create)
  + Task: "redis" (forces create)
`,
	}, {
		name:    "unchanged job",
		old:     parseSeed(t, "seed003", count3...),
		new:     parseSeed(t, "seed003", count3...),
		updates: cache(structs.DesiredUpdates{Ignore: 3}),
		want: `
Job: "example"
Task Group: "cache" (3 ignore)
  Task: "redis"
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutput(t, plan(t, tt.old, tt.new, tt.updates), tt.want)
		})
	}
}

func TestFormatJobDiff_Changes(t *testing.T) {
	base := func() *structs.Job { return parseSeed(t, "seed004") }
	withMeta := base()
	withMeta.Meta = map[string]string{"owner": "ops"}
	withEnv := base()
	withEnv.TaskGroups[0].Tasks[0].Env = map[string]string{"FOO": "bar"}

	tests := []struct {
		name     string
		old, new *structs.Job
		updates  map[string]*structs.DesiredUpdates
		want     string
	}{{
		name:    "deleted job",
		old:     base(),
		new:     nil,
		updates: cache(structs.DesiredUpdates{Stop: 1}),
		want: `
- Job: "example"
- Task Group: "cache" (1 destroy)
  - Task: "redis" (forces destroy)
`,
	}, {
		// Adding a task to a running group replaces its allocations.
		name: "task added",
		old:  base(),
		new: parseSeed(t, "seed004", `    task "redis" {`, `    task "sidecar" {
      driver = "docker"
      config {
        image = "busybox"
      }
    }

    task "redis" {`),
		want: `
+/- Job: "example"
+/- Task Group: "cache"
    Task: "redis"
  + Task: "sidecar" (forces create/destroy update)
`,
	}, {
		name: "meta added",
		old:  base(),
		new:  withMeta,
		want: `
+/- Job: "example"
+ Meta[owner]: "ops"
  Task Group: "cache"
    Task: "redis"
`,
	}, {
		name: "env added",
		old:  base(),
		new:  withEnv,
		want: `
+/- Job: "example"
+/- Task Group: "cache"
  +/- Task: "redis" (forces create/destroy update)
    + Env[FOO]: "bar"
`,
	}, {
		name: "resources",
		old:  base(),
		new:  parseSeed(t, "seed004", "cpu    = 500", "cpu    = 600"),
		want: `
+/- Job: "example"
+/- Task Group: "cache"
  +/- Task: "redis" (forces create/destroy update)
    +/- Resources {
      +/- CPU:         "500" => "600"
          Cores:       "0"
          DiskMB:      "0"
          IOPS:        "0"
          MemoryMB:    "256"
          MemoryMaxMB: "0"
        }
`,
	}, {
		name: "kill timeout only",
		old:  base(),
		new: parseSeed(t, "seed004", `driver = "docker"`, `driver = "docker"
      kill_timeout = "10s"`),
		want: `
+/- Job: "example"
+/- Task Group: "cache"
  +/- Task: "redis" (forces in-place update)
    +/- KillTimeout: "5000000000" => "10000000000"
`,
	}, {
		name: "service tags",
		old:  parseSeed(t, "seed003"),
		new:  parseSeed(t, "seed003", `tags = ["global", "cache"]`, `tags = ["global", "cache", "v2"]`),
		want: `
+/- Job: "example"
+/- Task Group: "cache"
  +/- Task: "redis" (forces in-place update)
    +/- Service {
          AddressMode: "auto"
          Name:        "redis-cache"
          PortLabel:   "db"
          Provider:    "consul"
          TaskName:    ""
      +/- Tags {
          Tags: "cache"
          Tags: "global"
        + Tags: "v2"
          }
        }
`,
	}, {
		name:    "count decrease",
		old:     parseSeed(t, "seed003", "count = 1", "count = 3"),
		new:     parseSeed(t, "seed003"),
		updates: cache(structs.DesiredUpdates{Stop: 2, Ignore: 1}),
		want: `
+/- Job: "example"
+/- Task Group: "cache" (2 destroy, 1 ignore)
  +/- Count: "3" => "1" (forces destroy)
      Task: "redis"
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOutput(t, plan(t, tt.old, tt.new, tt.updates), tt.want)
		})
	}
}

func TestDiff_GroupNetworkPort(t *testing.T) {
	old := parseSeed(t, "seed004")
	new := parseSeed(t, "seed004", "to = 6379", "to = 6380")
	got := plan(t, old, new, nil)
	checkOutput(t, got, `
+/- Job: "example"
+/- Task Group: "cache"
  +/- Network {
        Hostname: ""
        MBits:    "0"
        Mode:     ""
    +/- Dynamic Port {
          HostNetwork: "default"
          Label:       "db"
      +/- To:          "6379" => "6380"
        }
      }
      Task: "redis"
`)
}

func TestDiff_MismatchedIDs(t *testing.T) {
	a := parseSeed(t, "seed004")
	b := parseSeed(t, "seed004", `job "example"`, `job "other"`)
	if _, err := a.Diff(b, false); err == nil {
		t.Fatal("diffing jobs with different IDs succeeded")
	}
}

func TestDiff_BothNil(t *testing.T) {
	var j *structs.Job
	d, err := j.Diff(nil, false)
	if err != nil || d.Type != structs.DiffTypeNone {
		t.Fatalf("got %+v, %v", d, err)
	}
}

// TestDiff_Symmetric checks that swapping the versions swaps Added and
// Deleted, and Old and New, everywhere in the diff.
func TestDiff_Symmetric(t *testing.T) {
	a := parseSeed(t, "seed003")
	b := parseSeed(t, "seed003",
		"count = 1", "count = 2",
		"redis:3.2", "redis:4.0",
		"cpu    = 500", "cpu    = 750",
		`type = "service"`, `type = "service"
  meta {
    owner = "ops"
  }
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }`,
		`tags = ["global", "cache"]`, `tags = ["global", "v2"]`,
		`    task "redis" {`, `    task "sidecar" {
      driver = "docker"
      env {
        A = "1"
      }
    }
    task "redis" {`)
	for _, pair := range [][2]*structs.Job{{a, b}, {nil, b}, {a, nil}} {
		forward := diffLines(mustDiff(t, pair[0], pair[1], false))
		backward := diffLines(mustDiff(t, pair[1], pair[0], false))
		for i, l := range backward {
			backward[i] = l.reversed()
		}
		sortLines(forward)
		sortLines(backward)
		if !reflect.DeepEqual(forward, backward) {
			t.Errorf("diff is not symmetric:\nforward:  %v\nbackward: %v", forward, backward)
		}
		if len(forward) < 5 {
			t.Errorf("suspiciously small diff: %v", forward)
		}
	}
}

type diffLine struct{ path, typ, old, new string }

func (l diffLine) reversed() diffLine {
	switch l.typ {
	case structs.DiffTypeAdded:
		l.typ = structs.DiffTypeDeleted
	case structs.DiffTypeDeleted:
		l.typ = structs.DiffTypeAdded
	}
	l.old, l.new = l.new, l.old
	return l
}

func sortLines(ls []diffLine) {
	sort.Slice(ls, func(i, j int) bool { return fmt.Sprint(ls[i]) < fmt.Sprint(ls[j]) })
}

// diffLines lists every element of a diff with its path, ignoring
// annotations, which legitimately differ between directions.
func diffLines(d *structs.JobDiff) []diffLine {
	var out []diffLine
	var fields func(path string, fs []*structs.FieldDiff)
	var objects func(path string, os []*structs.ObjectDiff)
	fields = func(path string, fs []*structs.FieldDiff) {
		for _, f := range fs {
			out = append(out, diffLine{path + "/" + f.Name, f.Type, f.Old, f.New})
		}
	}
	objects = func(path string, os []*structs.ObjectDiff) {
		for _, o := range os {
			p := path + "/" + o.Name
			out = append(out, diffLine{p, o.Type, "", ""})
			fields(p, o.Fields)
			objects(p, o.Objects)
		}
	}
	out = append(out, diffLine{"job", d.Type, "", ""})
	fields("job", d.Fields)
	objects("job", d.Objects)
	for _, tg := range d.TaskGroups {
		p := "job/group " + tg.Name
		out = append(out, diffLine{p, tg.Type, "", ""})
		fields(p, tg.Fields)
		objects(p, tg.Objects)
		for _, task := range tg.Tasks {
			tp := p + "/task " + task.Name
			out = append(out, diffLine{tp, task.Type, "", ""})
			fields(tp, task.Fields)
			objects(tp, task.Objects)
		}
	}
	return out
}

func TestDiff_AddedJobTypes(t *testing.T) {
	d := mustDiff(t, nil, parseSeed(t, "seed003"), false)
	for _, l := range diffLines(d) {
		if l.typ != structs.DiffTypeAdded && !(l.typ == structs.DiffTypeNone && l.new == "") {
			t.Errorf("%s: type %s in an added job", l.path, l.typ)
		}
	}
}

// TestDiff_Contextual checks that contextual diffs list unchanged values
// and that the plan output of an unchanged job does not change with it.
func TestDiff_Contextual(t *testing.T) {
	a := parseSeed(t, "seed004")
	d := mustDiff(t, a, parseSeed(t, "seed004"), true)
	if d.Type != structs.DiffTypeNone {
		t.Fatalf("unchanged job diffs as %s", d.Type)
	}
	var names []string
	for _, f := range d.Fields {
		if f.Type != structs.DiffTypeNone {
			t.Errorf("field %s is %s", f.Name, f.Type)
		}
		names = append(names, f.Name)
	}
	if !contains(names, "Priority") || !contains(names, "Stop") {
		t.Errorf("contextual job fields lack Priority or Stop: %v", names)
	}
	if len(d.TaskGroups) != 1 || len(d.TaskGroups[0].Objects) == 0 {
		t.Errorf("contextual group lacks its unchanged objects: %+v", d.TaskGroups)
	}
	structs.AnnotateJobDiff(d, cache(structs.DesiredUpdates{Ignore: 1}))
	checkOutput(t, strings.TrimSpace(structs.FormatJobDiff(d, false)), `
Job: "example"
Task Group: "cache" (1 ignore)
  Task: "redis"
`)

	// Without contextual, an unchanged job has nothing below its tasks.
	d = mustDiff(t, a, parseSeed(t, "seed004"), false)
	if len(d.Fields)+len(d.Objects)+len(d.TaskGroups[0].Fields)+len(d.TaskGroups[0].Objects) != 0 {
		t.Errorf("non-contextual diff of an unchanged job lists values: %+v", d)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestDiff_ConfigFlattening(t *testing.T) {
	job := func(config map[string]interface{}) *structs.Job {
		return &structs.Job{ID: "j", TaskGroups: []*structs.TaskGroup{{
			Name: "g", Count: 1,
			Tasks: []*structs.Task{{Name: "t", Driver: "docker", Config: config}},
		}}}
	}
	old := job(map[string]interface{}{
		"args":  []interface{}{"-v", "--port", float64(80)},
		"ratio": 1.5,
		"labels": []interface{}{map[string]interface{}{
			"nested": map[string]interface{}{"deep": true},
		}},
	})
	new := job(map[string]interface{}{
		"args":  []interface{}{"-v", "--port", float64(8080)},
		"ratio": 2.25,
	})
	d := mustDiff(t, old, new, false)
	cfg := d.TaskGroups[0].Tasks[0].Objects[0]
	var got []string
	for _, f := range cfg.Fields {
		got = append(got, fmt.Sprintf("%s %s %q %q", f.Type, f.Name, f.Old, f.New))
	}
	want := []string{
		`None args[0] "-v" "-v"`,
		`None args[1] "--port" "--port"`,
		`Edited args[2] "80" "8080"`,
		`Deleted labels[0][nested][deep] "true" ""`,
		`Edited ratio "1.5" "2.25"`,
	}
	if cfg.Name != "Config" || cfg.Type != structs.DiffTypeEdited || !reflect.DeepEqual(got, want) {
		t.Errorf("config diff %s %s:\n%s\nwant:\n%s", cfg.Type, cfg.Name, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestJobDiff_APIShape checks that the JSON of a diff decodes into the
// official API client's types with nothing left over or lost.
func TestJobDiff_APIShape(t *testing.T) {
	d := mustDiff(t, parseSeed(t, "seed003"), parseSeed(t, "seed003", "count = 1", "count = 3", "redis:3.2", "redis:4.0"), false)
	structs.AnnotateJobDiff(d, cache(structs.DesiredUpdates{Place: 2, DestructiveUpdate: 1}))
	ours, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(ours))
	dec.DisallowUnknownFields()
	var theirs api.JobDiff
	if err := dec.Decode(&theirs); err != nil {
		t.Fatalf("API client cannot decode the diff: %v", err)
	}
	back, err := json.Marshal(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, back) {
		t.Errorf("round trip through api.JobDiff changed the JSON:\n%s\n%s", ours, back)
	}
	if got := theirs.TaskGroups[0].Updates; got["create"] != 2 || got["create/destroy update"] != 1 || len(got) != 2 {
		t.Errorf("updates = %v", got)
	}
}

func TestFormatJobDiff_Verbose(t *testing.T) {
	d := mustDiff(t, nil, parseSeed(t, "seed004"), false)
	out := structs.FormatJobDiff(d, true)
	for _, want := range []string{
		"\n+ Priority:  \"50\"\n",
		"\n+ Datacenters {\n  + Datacenters: \"dc1\"\n  }\n",
		"\n  + Count: \"1\"\n",
		"\n    + Driver:        \"docker\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose output lacks %q:\n%s", want, out)
		}
	}
	if structs.FormatJobDiff(nil, false) != "" {
		t.Error("nil diff renders as text")
	}
}
