package httpapi

import (
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"

	"drover/agent/structs"
)

func nested(levels int) interface{} {
	var v interface{} = "leaf"
	for i := 1; i < levels; i++ {
		v = map[string]interface{}{"k": v}
	}
	return v
}

// The job limits at their edges, through the real handler and the
// official client: the limit is accepted, one past it is refused with a
// 4xx naming the field, the agent keeps serving and no job appears.
func TestJobLimitsAtTheEdge(t *testing.T) {
	a := newTestAgent(t)
	l := structs.DefaultLimits
	cases := []struct {
		name   string
		edit   func(j *api.Job)
		ok     bool
		field  string
		reason string
	}{
		{"count at the limit", func(j *api.Job) { j.TaskGroups[0].Count = ptr(l.MaxGroupCount) }, true, "", ""},
		{"count past the limit", func(j *api.Job) { j.TaskGroups[0].Count = ptr(l.MaxGroupCount + 1) }, false,
			"TaskGroups[0].Count", "exceeds the limit of 10000"},
		{"a billion", func(j *api.Job) { j.TaskGroups[0].Count = ptr(1000000000) }, false, "TaskGroups[0].Count", "exceeds the limit"},
		{"config depth at the limit", func(j *api.Job) { j.TaskGroups[0].Tasks[0].Config["deep"] = nested(l.MaxNestingDepth) }, true, "", ""},
		{"config depth past the limit", func(j *api.Job) { j.TaskGroups[0].Tasks[0].Config["deep"] = nested(l.MaxNestingDepth + 1) }, false,
			"TaskGroups[0].Tasks[0].Config", "nested 33 levels deep; the limit is 32"},
		{"config a thousand deep", func(j *api.Job) { j.TaskGroups[0].Tasks[0].Config["deep"] = nested(1000) }, false,
			"TaskGroups[0].Tasks[0].Config", "the limit is 32"},
		{"meta at the limit", func(j *api.Job) { j.Meta = map[string]string{"m": strings.Repeat("x", l.MaxMapBytes-1)} }, true, "", ""},
		{"meta past the limit", func(j *api.Job) { j.Meta = map[string]string{"m": strings.Repeat("x", l.MaxMapBytes)} }, false,
			"Meta", "the limit is 65536"},
		{"ID at the length limit", func(j *api.Job) { id := strings.Repeat("a", l.MaxNameLength); j.ID, j.Name = &id, &id }, true, "", ""},
		{"ID past the length limit", func(j *api.Job) { id := strings.Repeat("a", l.MaxNameLength+1); j.ID, j.Name = &id, &id }, false,
			"ID", "the limit is 128"},
		{"ID with a newline", func(j *api.Job) { id := "evil\nJob registered"; j.ID = &id }, false, "ID", "control character"},
		{"ID with ESC", func(j *api.Job) { id := "evil\x1b[2J"; j.ID = &id }, false, "ID", "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := smallJob("limits", 1)
			tc.edit(job)
			if tc.ok {
				// Accepted: validated (not run, to keep the test cheap).
				resp, _, err := a.client.Jobs().Validate(job, nil)
				if err != nil || resp.Error != "" {
					t.Fatalf("refused at the limit: %v %+v", err, resp)
				}
				return
			}
			_, _, err := a.client.Jobs().Register(job, nil)
			if err == nil {
				t.Fatal("accepted")
			}
			if code := statusCode(err); code < 400 || code >= 500 {
				t.Fatalf("status %d, want a 4xx: %v", code, err)
			}
			if !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %q does not name %s and %q", err, tc.field, tc.reason)
			}
			if jobs, _, err := a.client.Jobs().List(nil); err != nil || len(jobs) != 0 {
				t.Fatalf("after the refusal: %d jobs, %v", len(jobs), err)
			}
		})
	}
}

// /v1/jobs/parse refuses an HCL expression that would produce a billion
// values with a 400 and the position, and keeps serving.
func TestParseRefusesExpressionBombs(t *testing.T) {
	a := newTestAgent(t)
	src := "job \"bomb\" {\n  datacenters = [\"dc1\"]\n  meta = {\n    x = jsonencode([for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]])\n  }\n" +
		"  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config { image = \"redis\" }\n    }\n  }\n}\n"
	_, err := a.client.Jobs().ParseHCL(src, true)
	if err == nil || statusCode(err) != 400 || !strings.Contains(err.Error(), "Expression too large") {
		t.Fatalf("parse of an expression bomb: %v", err)
	}
	if _, _, err := a.client.Jobs().List(nil); err != nil {
		t.Fatalf("the agent stopped serving: %v", err)
	}
}
