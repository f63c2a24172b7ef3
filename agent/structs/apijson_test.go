package structs

import (
	"encoding/json"
	"testing"
	"time"
)

// The official CLI parses the job file itself and sends the blocks it
// read with the fields the file did not set as null. Those fields take
// the documented defaults (update: max_parallel 1, health_check checks,
// min_healthy_time 10s, healthy_deadline 5m, progress_deadline 10m,
// stagger 30s), a group's update block inherits the job's, and a task's
// restart policy its group's; a field that was sent, even as zero, stays.
func TestJobJSON_PartialBlocksTakeDefaults(t *testing.T) {
	const body = `{
	  "ID": "example", "Type": null,
	  "Update": {"MaxParallel": 2, "HealthyDeadline": 180000000000, "ProgressDeadline": null, "Stagger": null},
	  "TaskGroups": [
	    {"Name": "cache", "Count": null,
	     "Update": {"Canary": 1, "MinHealthyTime": 0},
	     "RestartPolicy": {"Attempts": 5},
	     "ReschedulePolicy": {"Attempts": 0, "Unlimited": false},
	     "Migrate": {"MaxParallel": 3},
	     "EphemeralDisk": {"Sticky": true},
	     "Tasks": [{"Name": "redis", "Driver": "raw_exec",
	       "RestartPolicy": {"Delay": 1000000000},
	       "LogConfig": {"MaxFiles": 2}}]},
	    {"Name": "web", "Update": {}}
	  ]}`
	var job Job
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		t.Fatal(err)
	}
	ju := job.Update
	if ju.MaxParallel != 2 || ju.HealthyDeadline != 3*time.Minute || ju.ProgressDeadline != 10*time.Minute ||
		ju.Stagger != 30*time.Second || ju.MinHealthyTime != 10*time.Second || ju.HealthCheck != "checks" {
		t.Fatalf("job update %+v", ju)
	}
	cache := job.TaskGroups[0]
	gu := cache.Update
	// From the job: max_parallel 2 and healthy_deadline 3m; its own: canary
	// 1 and an explicit min_healthy_time of 0; the rest the defaults.
	if gu.MaxParallel != 2 || gu.HealthyDeadline != 3*time.Minute || gu.Canary != 1 || gu.MinHealthyTime != 0 ||
		gu.ProgressDeadline != 10*time.Minute || gu.HealthCheck != "checks" {
		t.Fatalf("group update %+v", gu)
	}
	if rp := cache.RestartPolicy; rp.Attempts != 5 || rp.Interval != 30*time.Minute || rp.Delay != 15*time.Second || rp.Mode != "fail" {
		t.Fatalf("group restart %+v", rp)
	}
	if rp := cache.ReschedulePolicy; rp.Attempts != 0 || rp.Unlimited || rp.Delay != 30*time.Second || rp.DelayFunction != "exponential" {
		t.Fatalf("group reschedule %+v", rp)
	}
	if m := cache.Migrate; m.MaxParallel != 3 || m.HealthCheck != "checks" || m.HealthyDeadline != 5*time.Minute {
		t.Fatalf("migrate %+v", m)
	}
	if d := cache.EphemeralDisk; !d.Sticky || d.SizeMB != 300 {
		t.Fatalf("ephemeral disk %+v", d)
	}
	task := cache.Tasks[0]
	if rp := task.RestartPolicy; rp.Attempts != 5 || rp.Delay != time.Second || rp.Interval != 30*time.Minute {
		t.Fatalf("task restart %+v", rp)
	}
	if lc := task.LogConfig; lc.MaxFiles != 2 || lc.MaxFileSizeMB != 10 {
		t.Fatalf("log config %+v", lc)
	}
	if web := job.TaskGroups[1].Update; web.MaxParallel != 2 || web.ProgressDeadline != 10*time.Minute {
		t.Fatalf("an empty group update block: %+v", web)
	}
}

// A batch job's partial restart block takes the batch defaults.
func TestJobJSON_RestartDefaultsFollowTheJobType(t *testing.T) {
	var job Job
	if err := json.Unmarshal([]byte(`{"ID":"b","Type":"batch","TaskGroups":[{"Name":"g","RestartPolicy":{"Mode":"delay"}}]}`), &job); err != nil {
		t.Fatal(err)
	}
	if rp := job.TaskGroups[0].RestartPolicy; rp.Attempts != 3 || rp.Interval != 24*time.Hour || rp.Mode != "delay" {
		t.Fatalf("batch restart %+v", rp)
	}
}

// A job whose own JSON is complete (Drover's CLI sends every field) is
// decoded exactly as sent: explicit zeros are kept.
func TestJobJSON_CompleteBlocksAreKept(t *testing.T) {
	in := &Job{ID: "x", Type: JobTypeService, Update: &UpdateStrategy{MaxParallel: 0, ProgressDeadline: 0},
		TaskGroups: []*TaskGroup{{Name: "g", Count: 0, Update: &UpdateStrategy{MaxParallel: 0}}}}
	b, _ := json.Marshal(in)
	var out Job
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Update.ProgressDeadline != 0 || out.Update.MaxParallel != 0 || out.TaskGroups[0].Update.MaxParallel != 0 || out.TaskGroups[0].Count != 0 {
		t.Fatalf("explicit zeros changed: %+v %+v", out.Update, out.TaskGroups[0].Update)
	}
}

// Blocks sent as something other than objects are the decoder's error,
// and null blocks or groups are decoded as before; never a panic here.
func TestJobJSON_MalformedBlocks(t *testing.T) {
	var job Job
	if err := json.Unmarshal([]byte(`{"ID":"x","Update":[]}`), &job); err == nil {
		t.Fatal("an update block sent as a list was accepted")
	}
	for _, body := range []string{
		`{"ID":"x","TaskGroups":[null]}`, `{"ID":"x","TaskGroups":[{"Tasks":[null]}]}`,
		`{"ID":"x","TaskGroups":[{"Update":null,"Tasks":[{"LogConfig":{}}]}]}`,
	} {
		var job Job
		if err := json.Unmarshal([]byte(body), &job); err != nil || job.ID != "x" {
			t.Fatalf("%s: %v", body, err)
		}
	}
	if err := json.Unmarshal([]byte(`{"ID":"x","TaskGroups":[{"Tasks":[{"LogConfig":{}}]}]}`), &job); err != nil ||
		job.TaskGroups[0].Tasks[0].LogConfig.MaxFiles != 10 {
		t.Fatalf("an empty logs block: %v %+v", err, job.TaskGroups[0].Tasks[0].LogConfig)
	}
}

// An allocation's JSON carries Resources and TaskResources, derived from
// what was allocated: the compatible CLI's "Task Resources" table reads
// TaskResources[task] and the disk from Resources.DiskMB.
func TestAllocationJSON_LegacyResources(t *testing.T) {
	taskNet := []*NetworkResource{{IP: "10.0.0.1", DynamicPorts: []Port{{Label: "db", Value: 2000}}}}
	shared := make([]*NetworkResource, 1, 4)
	shared[0] = &NetworkResource{IP: "10.0.0.1"}
	a := &Allocation{ID: "a", AllocatedResources: &AllocatedResources{
		Tasks: map[string]*AllocatedTaskResources{
			"redis": {Cpu: AllocatedCpuResources{CpuShares: 500}, Memory: AllocatedMemoryResources{MemoryMB: 256, MemoryMaxMB: 512}, Networks: taskNet},
			"side":  {Cpu: AllocatedCpuResources{CpuShares: 100}, Memory: AllocatedMemoryResources{MemoryMB: 64}},
		},
		Shared: AllocatedSharedResources{DiskMB: 300, Networks: shared},
	}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		ID            string
		Resources     *Resources
		TaskResources map[string]*Resources
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.ID != "a" || out.Resources == nil || out.Resources.CPU != 600 || out.Resources.MemoryMB != 320 || out.Resources.DiskMB != 300 ||
		len(out.Resources.Networks) != 2 {
		t.Fatalf("Resources %+v", out.Resources)
	}
	r := out.TaskResources["redis"]
	if r == nil || r.CPU != 500 || r.MemoryMB != 256 || r.MemoryMaxMB != 512 || len(r.Networks) != 1 || r.Networks[0].DynamicPorts[0].Value != 2000 {
		t.Fatalf("TaskResources %+v", out.TaskResources)
	}
	// Deriving them leaves the allocation's own network list alone.
	if len(a.AllocatedResources.Shared.Networks) != 1 || shared[:2][1] != nil {
		t.Fatal("the shared network list was written to")
	}
	var none struct{ TaskResources map[string]*Resources }
	b, _ = json.Marshal(&Allocation{ID: "b"})
	if err := json.Unmarshal(b, &none); err != nil || none.TaskResources != nil {
		t.Fatalf("an allocation without resources: %s", b)
	}
}

// Member names match fields without regard to case, as encoding/json
// matches them: a camel-case key is a field sent, not one left out.
func TestJobJSON_KeysInAnyCase(t *testing.T) {
	var job Job
	body := `{"ID":"x","update":{"maxParallel":5,"progressdeadline":0},"TaskGroups":[{"Name":"g","restartPolicy":{"attempts":0}}]}`
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		t.Fatal(err)
	}
	if u := job.Update; u.MaxParallel != 5 || u.ProgressDeadline != 0 || u.HealthCheck != "checks" {
		t.Fatalf("update %+v", u)
	}
	if rp := job.TaskGroups[0].RestartPolicy; rp.Attempts != 0 || rp.Delay != 15*time.Second {
		t.Fatalf("restart %+v", rp)
	}
}
