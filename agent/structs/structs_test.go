package structs

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func minimalJob() *Job {
	return &Job{ID: "web", TaskGroups: []*TaskGroup{{
		Name: "g", Count: 1,
		Tasks: []*Task{{Name: "t", Driver: "mock", KillTimeout: DefaultKillTimeout}},
	}}}
}

func TestCanonicalize_IsIdempotent(t *testing.T) {
	for _, typ := range []string{JobTypeService, JobTypeBatch, JobTypeSystem} {
		t.Run(typ, func(t *testing.T) {
			j := minimalJob()
			j.Type = typ
			j.Canonicalize()
			once, _ := json.Marshal(j)
			j.Canonicalize()
			twice, _ := json.Marshal(j)
			if string(once) != string(twice) {
				t.Fatalf("second Canonicalize changed the job:\n%s\n%s", once, twice)
			}
			if err := j.Validate(); err != nil {
				t.Fatalf("canonical minimal job is invalid: %v", err)
			}
		})
	}
}

func TestCanonicalize_ServiceDefaults(t *testing.T) {
	j := minimalJob()
	j.Canonicalize()
	tg := j.TaskGroups[0]
	if !reflect.DeepEqual(tg.Update, DefaultUpdateStrategy()) {
		t.Errorf("group update = %+v", tg.Update)
	}
	if tg.Update == j.Update {
		t.Error("group update must be a copy, not shared with the job")
	}
	if !reflect.DeepEqual(tg.Migrate, DefaultMigrateStrategy()) {
		t.Errorf("migrate = %+v", tg.Migrate)
	}
	if tg.Tasks[0].RestartPolicy == tg.RestartPolicy || *tg.Tasks[0].RestartPolicy != *tg.RestartPolicy {
		t.Error("task restart policy must be an equal copy of the group's")
	}
	if j.Datacenters[0] != "*" || j.Priority != 50 || j.Region != "global" || j.Name != "web" {
		t.Errorf("job defaults: %+v", j)
	}
}

func TestTaskGroupJSON_CountAbsentOrZero(t *testing.T) {
	var absent, zero TaskGroup
	if err := json.Unmarshal([]byte(`{"Name":"g"}`), &absent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"Name":"g","Count":0}`), &zero); err != nil {
		t.Fatal(err)
	}
	if absent.Count != 1 || zero.Count != 0 || absent.Name != "g" {
		t.Errorf("absent count = %d, explicit zero = %d", absent.Count, zero.Count)
	}
	var task Task
	if err := json.Unmarshal([]byte(`{"Name":"t","KillTimeout":0}`), &task); err != nil || task.KillTimeout != 0 {
		t.Errorf("explicit zero kill timeout = %v (%v)", task.KillTimeout, err)
	}
	if err := json.Unmarshal([]byte(`{"Name":"t"}`), &task); err != nil || task.KillTimeout != 5*time.Second {
		t.Errorf("absent kill timeout = %v (%v)", task.KillTimeout, err)
	}
}

func TestValidate_ReportsEveryErrorWithItsPath(t *testing.T) {
	j := minimalJob()
	j.Canonicalize()
	j.ID = "has space"
	j.Priority = 101
	j.TaskGroups[0].Count = -1
	j.TaskGroups[0].Tasks[0].Driver = ""
	j.TaskGroups[0].Tasks[0].Resources.CPU = 0
	j.TaskGroups[0].Update.MaxParallel = -1
	err := j.Validate()
	verr, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("want *ValidationError, got %T %v", err, err)
	}
	want := []string{
		"ID: Job ID contains a space",
		"Priority: job priority must be between [1, 100]",
		"TaskGroups[0].Count: Task group count can't be negative",
		"TaskGroups[0].Update.MaxParallel: Max parallel can not be less than zero: -1 < 0",
		"TaskGroups[0].Tasks[0].Driver: Missing task driver",
		"TaskGroups[0].Tasks[0].Resources.CPU: minimum CPU value is 1; got 0",
	}
	var got []string
	for _, e := range verr.Errors {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "6 errors occurred:\n\t* ID: Job ID contains a space") {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestValidate_RestartPolicyMustFitInterval(t *testing.T) {
	j := minimalJob()
	j.TaskGroups[0].RestartPolicy = &RestartPolicy{Attempts: 10, Interval: time.Minute, Delay: 15 * time.Second, Mode: "fail"}
	j.Canonicalize()
	err := j.Validate()
	if err == nil || !strings.Contains(err.Error(), "Can't restart the task group 10 times in an interval of 1m0s with a delay of 15s") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidate_LogsMustFitOnDisk(t *testing.T) {
	j := minimalJob()
	j.TaskGroups[0].EphemeralDisk = &EphemeralDisk{SizeMB: 50}
	j.Canonicalize()
	err := j.Validate()
	if err == nil || !strings.Contains(err.Error(), "log storage (100 MB) must be less than requested disk capacity (50 MB)") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidate_SystemCount(t *testing.T) {
	j := minimalJob()
	j.Type = JobTypeSystem
	j.TaskGroups[0].Count = 3
	j.Canonicalize()
	err := j.Validate()
	if err == nil || !strings.Contains(err.Error(), "Count cannot exceed 1 with system scheduler") {
		t.Fatalf("err = %v", err)
	}
}
