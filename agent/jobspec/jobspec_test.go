package jobspec_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/jobspec"
	"drover/agent/structs"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustParseFile(t *testing.T, path string, opts jobspec.Options) *structs.Job {
	t.Helper()
	job, err := jobspec.ParseFile(path, opts)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return job
}

func mustJSON(t *testing.T, v interface{}) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestParse_Golden pins the API JSON of every example job. Run with
// -update to rewrite the golden files after an intended change.
func TestParse_Golden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.nomad")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".nomad")
		t.Run(name, func(t *testing.T) {
			got := mustJSON(t, mustParseFile(t, file, jobspec.Options{}))
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from golden file; rerun with -update if intended\n got: %s", name, got)
			}
		})
	}
}

// decodeAPI decodes our JSON with the official API client's types,
// refusing any field name the API does not have.
func decodeAPI(t *testing.T, job *structs.Job) *api.Job {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(mustJSON(t, job)))
	dec.DisallowUnknownFields()
	var out api.Job
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("the API client cannot decode the job: %v", err)
	}
	return &out
}

func TestParse_EveryFieldIsAnAPIField(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.nomad")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			decodeAPI(t, mustParseFile(t, file, jobspec.Options{}))
		})
	}
}

// TestParse_Seed003 checks the full old-style job of the first tutorial
// as the API client sees it.
func TestParse_Seed003(t *testing.T) {
	job := decodeAPI(t, mustParseFile(t, "testdata/seed003.nomad", jobspec.Options{}))
	eq(t, "ID", *job.ID, "example")
	eq(t, "Name", *job.Name, "example")
	eq(t, "Type", *job.Type, "service")
	eq(t, "Priority", *job.Priority, 50)
	eq(t, "Region", *job.Region, "global")
	eq(t, "Namespace", *job.Namespace, "default")
	eq(t, "Datacenters", job.Datacenters, []string{"dc1"})
	tg := job.TaskGroups[0]
	eq(t, "group", *tg.Name, "cache")
	eq(t, "count", *tg.Count, 1)
	eq(t, "restart.attempts", *tg.RestartPolicy.Attempts, 2)
	eq(t, "restart.interval", *tg.RestartPolicy.Interval, 30*time.Minute)
	eq(t, "restart.delay", *tg.RestartPolicy.Delay, 15*time.Second)
	eq(t, "restart.mode", *tg.RestartPolicy.Mode, "fail")
	eq(t, "disk", *tg.EphemeralDisk.SizeMB, 300)
	eq(t, "update.max_parallel", *tg.Update.MaxParallel, 1)
	eq(t, "update.min_healthy_time", *tg.Update.MinHealthyTime, 10*time.Second)
	eq(t, "update.healthy_deadline", *tg.Update.HealthyDeadline, 3*time.Minute)
	eq(t, "update.progress_deadline", *tg.Update.ProgressDeadline, 10*time.Minute)
	eq(t, "update.auto_revert", *tg.Update.AutoRevert, false)
	eq(t, "update.canary", *tg.Update.Canary, 0)
	eq(t, "migrate.max_parallel", *tg.Migrate.MaxParallel, 1)
	eq(t, "migrate.healthy_deadline", *tg.Migrate.HealthyDeadline, 5*time.Minute)
	eq(t, "reschedule.unlimited", *tg.ReschedulePolicy.Unlimited, true)
	task := tg.Tasks[0]
	eq(t, "task", task.Name, "redis")
	eq(t, "driver", task.Driver, "docker")
	eq(t, "image", task.Config["image"], "redis:3.2")
	eq(t, "port_map", task.Config["port_map"], []interface{}{map[string]interface{}{"db": float64(6379)}})
	eq(t, "cpu", *task.Resources.CPU, 500)
	eq(t, "memory", *task.Resources.MemoryMB, 256)
	net := task.Resources.Networks[0]
	eq(t, "mbits", *net.MBits, 10)
	eq(t, "dynamic port", net.DynamicPorts[0].Label, "db")
	eq(t, "kill_timeout", *task.KillTimeout, 5*time.Second)
	eq(t, "logs.max_files", *task.LogConfig.MaxFiles, 10)
	svc := task.Services[0]
	eq(t, "service", svc.Name, "redis-cache")
	eq(t, "service tags", svc.Tags, []string{"global", "cache"})
	eq(t, "service port", svc.PortLabel, "db")
	eq(t, "check", svc.Checks[0].Name, "alive")
	eq(t, "check type", svc.Checks[0].Type, "tcp")
	eq(t, "check interval", svc.Checks[0].Interval, 10*time.Second)
	eq(t, "check timeout", svc.Checks[0].Timeout, 2*time.Second)
}

// TestParse_Seed004 checks the short new-style job of the second
// tutorial, and that defaults fill everything it leaves out.
func TestParse_Seed004(t *testing.T) {
	job := decodeAPI(t, mustParseFile(t, "testdata/seed004.nomad", jobspec.Options{}))
	eq(t, "Type", *job.Type, "service")
	eq(t, "Priority", *job.Priority, 50)
	eq(t, "job update default", *job.Update.MaxParallel, 1)
	tg := job.TaskGroups[0]
	eq(t, "count default", *tg.Count, 1)
	port := tg.Networks[0].DynamicPorts[0]
	eq(t, "port label", port.Label, "db")
	eq(t, "port to", port.To, 6379)
	eq(t, "host network", port.HostNetwork, "default")
	eq(t, "update default min_healthy_time", *tg.Update.MinHealthyTime, 10*time.Second)
	eq(t, "update default healthy_deadline", *tg.Update.HealthyDeadline, 5*time.Minute)
	eq(t, "update default progress_deadline", *tg.Update.ProgressDeadline, 10*time.Minute)
	eq(t, "update default stagger", *tg.Update.Stagger, 30*time.Second)
	eq(t, "update default health_check", *tg.Update.HealthCheck, "checks")
	eq(t, "migrate default", *tg.Migrate.MaxParallel, 1)
	eq(t, "restart default attempts", *tg.RestartPolicy.Attempts, 2)
	eq(t, "restart default interval", *tg.RestartPolicy.Interval, 30*time.Minute)
	eq(t, "reschedule default delay", *tg.ReschedulePolicy.Delay, 30*time.Second)
	eq(t, "reschedule default function", *tg.ReschedulePolicy.DelayFunction, "exponential")
	eq(t, "reschedule default max delay", *tg.ReschedulePolicy.MaxDelay, time.Hour)
	eq(t, "disk default", *tg.EphemeralDisk.SizeMB, 300)
	task := tg.Tasks[0]
	eq(t, "ports", task.Config["ports"], []interface{}{"db"})
	eq(t, "cpu", *task.Resources.CPU, 500)
	eq(t, "memory", *task.Resources.MemoryMB, 256)
	eq(t, "task restart inherited", *task.RestartPolicy.Attempts, 2)
	eq(t, "logs default", *task.LogConfig.MaxFileSizeMB, 10)
}

func TestParse_Defaults(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		check func(t *testing.T, j *structs.Job)
	}{
		{"minimal job", `job "a" {
  group "g" {
    task "t" { driver = "mock" }
  }
}`, func(t *testing.T, j *structs.Job) {
			eq(t, "datacenters", j.Datacenters, []string{"*"})
			eq(t, "node pool", j.NodePool, "default")
			eq(t, "cpu", j.TaskGroups[0].Tasks[0].Resources.CPU, 100)
			eq(t, "memory", j.TaskGroups[0].Tasks[0].Resources.MemoryMB, 300)
			eq(t, "disk", j.TaskGroups[0].EphemeralDisk.SizeMB, 300)
			eq(t, "kill timeout", j.TaskGroups[0].Tasks[0].KillTimeout, 5*time.Second)
		}},
		{"batch policies", `job "b" {
  type = "batch"
  group "g" {
    task "t" { driver = "mock" }
  }
}`, func(t *testing.T, j *structs.Job) {
			tg := j.TaskGroups[0]
			eq(t, "restart", *tg.RestartPolicy, structs.RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"})
			eq(t, "reschedule", *tg.ReschedulePolicy, structs.ReschedulePolicy{Attempts: 1, Interval: 24 * time.Hour, Delay: 5 * time.Second, DelayFunction: "constant"})
			eq(t, "no update", tg.Update == nil, true)
			eq(t, "no migrate", tg.Migrate == nil, true)
			eq(t, "no job update", j.Update == nil, true)
		}},
		{"system has no reschedule", `job "s" {
  type = "system"
  group "g" {
    task "t" { driver = "mock" }
  }
}`, func(t *testing.T, j *structs.Job) {
			eq(t, "reschedule", j.TaskGroups[0].ReschedulePolicy == nil, true)
			eq(t, "update", j.TaskGroups[0].Update.MaxParallel, 1)
		}},
		{"partial blocks keep other defaults", `job "p" {
  update { max_parallel = 3 }
  group "g" {
    count = 0
    update { canary = 1 }
    restart { attempts = 0 }
    task "t" {
      driver = "mock"
      resources { cpu = 20 }
      kill_timeout = "0s"
    }
  }
}`, func(t *testing.T, j *structs.Job) {
			tg := j.TaskGroups[0]
			eq(t, "count 0 stays 0", tg.Count, 0)
			eq(t, "job update merged", tg.Update.MaxParallel, 3)
			eq(t, "group update", tg.Update.Canary, 1)
			eq(t, "update default kept", tg.Update.MinHealthyTime, 10*time.Second)
			eq(t, "restart attempts", tg.RestartPolicy.Attempts, 0)
			eq(t, "restart interval kept", tg.RestartPolicy.Interval, 30*time.Minute)
			eq(t, "memory default", tg.Tasks[0].Resources.MemoryMB, 300)
			eq(t, "explicit zero kill timeout", tg.Tasks[0].KillTimeout, time.Duration(0))
		}},
		{"cores replace default cpu", `job "c" {
  group "g" {
    task "t" {
      driver = "mock"
      resources { cores = 2 }
    }
  }
}`, func(t *testing.T, j *structs.Job) {
			eq(t, "cpu", j.TaskGroups[0].Tasks[0].Resources.CPU, 0)
			eq(t, "cores", j.TaskGroups[0].Tasks[0].Resources.Cores, 2)
		}},
		{"periodic", `job "p" {
  type = "batch"
  periodic { cron = "@daily" }
  group "g" {
    task "t" { driver = "mock" }
  }
}`, func(t *testing.T, j *structs.Job) {
			eq(t, "periodic", *j.Periodic, structs.PeriodicConfig{Enabled: true, Spec: "@daily", SpecType: "cron", TimeZone: "UTC"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job, err := jobspec.Parse("job.nomad", []byte(tc.src), jobspec.Options{})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, job)
		})
	}
}

func TestParse_Features(t *testing.T) {
	job := mustParseFile(t, "testdata/features.nomad", jobspec.Options{})
	tg := job.TaskGroups[0]
	eq(t, "count from variable", tg.Count, 2)
	eq(t, "service name from locals", tg.Services[0].Name, "drover-worker")
	eq(t, "list variable", tg.Services[0].Tags, []string{"a", "b"})
	eq(t, "runtime interpolation kept", job.Constraints[0].LTarget, "${attr.kernel.name}")
	eq(t, "static port", tg.Networks[0].ReservedPorts[0], structs.Port{Label: "admin", Value: 9000, HostNetwork: "default"})
	eq(t, "dynamic port", tg.Networks[0].DynamicPorts[0], structs.Port{Label: "http", To: 8080, HostNetwork: "default"})
	worker := tg.Tasks[0]
	eq(t, "image variable", worker.Config["image"], "alpine:3.19")
	eq(t, "args", worker.Config["args"], []interface{}{"-listen", ":${NOMAD_PORT_http}", "X"})
	eq(t, "env runtime", worker.Env["NODE"], "${node.unique.name}")
	eq(t, "env number", worker.Env["REPLICAS"], "2")
	eq(t, "template", worker.Templates[0].DestPath, "local/app.conf")
	eq(t, "template default", worker.Templates[0].ChangeMode, "restart")
	eq(t, "artifact", worker.Artifacts[0].GetterOptions["checksum"], "sha256:abcd")
	eq(t, "logs", *worker.LogConfig, structs.LogConfig{MaxFiles: 3, MaxFileSizeMB: 5})
	eq(t, "reschedule job-level", tg.ReschedulePolicy.DelayFunction, "constant")
	eq(t, "reschedule job-level delay", tg.ReschedulePolicy.Delay, 10*time.Second)
	eq(t, "meta", job.Meta["owner"], "instructor")
	eq(t, "group meta attr", tg.Meta["tier"], "backend")
	eq(t, "kill signal", tg.Tasks[1].KillSignal, "SIGINT")
}

func TestParse_Variables(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "lab.vars")
	if err := os.WriteFile(varFile, []byte("image = \"redis:4.0\"\nreplicas = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badVarFile := filepath.Join(dir, "bad.vars")
	if err := os.WriteFile(badVarFile, []byte("nope = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		opts     jobspec.Options
		image    string
		replicas int
		wantErr  string
	}{
		{name: "defaults", image: "alpine:3.19", replicas: 2},
		{name: "var flag", opts: jobspec.Options{Vars: []string{"image=redis:3.2", "replicas=3"}}, image: "redis:3.2", replicas: 3},
		{name: "var file", opts: jobspec.Options{VarFiles: []string{varFile}}, image: "redis:4.0", replicas: 5},
		{name: "var flag beats var file", opts: jobspec.Options{VarFiles: []string{varFile}, Vars: []string{"replicas=1"}}, image: "redis:4.0", replicas: 1},
		{name: "environment", opts: jobspec.Options{Env: []string{"NOMAD_VAR_image=busybox", "NOMAD_VAR_unknown=1"}}, image: "busybox", replicas: 2},
		{name: "undeclared var", opts: jobspec.Options{Vars: []string{"colour=red"}}, wantErr: `Undefined -var variable; A "colour" variable was passed in`},
		{name: "undeclared var allowed", opts: jobspec.Options{Vars: []string{"colour=red"}, AllowUndeclared: true}, image: "alpine:3.19", replicas: 2},
		{name: "malformed var", opts: jobspec.Options{Vars: []string{"image"}}, wantErr: `Invalid -var option`},
		{name: "wrong type", opts: jobspec.Options{Vars: []string{"replicas=many"}}, wantErr: `Variables not allowed`},
		{name: "undeclared in var file", opts: jobspec.Options{VarFiles: []string{badVarFile}}, wantErr: "bad.vars:1,1-5: Undefined variable"},
		{name: "missing var file", opts: jobspec.Options{VarFiles: []string{filepath.Join(dir, "none")}}, wantErr: "Failed to read variable file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job, err := jobspec.ParseFile("testdata/features.nomad", tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "image", job.TaskGroups[0].Tasks[0].Config["image"], tc.image)
			eq(t, "replicas", job.TaskGroups[0].Count, tc.replicas)
		})
	}
}

// TestParse_Errors checks that each mistake is reported with its position,
// and that all mistakes of a file are reported together.
func TestParse_Errors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{"negative count", `job "a" {
  group "g" {
    count = -1
    task "t" { driver = "mock" }
  }
}`, []string{"job.nomad:3,13-15: Invalid job; Task group count can't be negative"}},
		{"missing driver", `job "a" {
  group "g" {
    task "t" {}
  }
}`, []string{"job.nomad:3,5-13: Invalid job; Missing task driver"}},
		{"duplicate tasks and groups", `job "a" {
  group "g" {
    task "t" { driver = "mock" }
    task "t" { driver = "mock" }
  }
  group "g" {
    task "u" { driver = "mock" }
  }
}`, []string{
			"job.nomad:4,10-13: Invalid job; Task 2 redefines 't' from task 1",
			"job.nomad:6,9-12: Invalid job; Job task group 2 redefines 'g' from group 1",
		}},
		{"unknown block", `job "a" {
  group "g" {
    tsak "t" { driver = "mock" }
  }
}`, []string{
			"job.nomad:2,3-12: Invalid job; Missing tasks for task group",
			`job.nomad:3,5-9: Unsupported block type; Blocks of type "tsak" are not expected here. Did you mean "task"?`,
		}},
		{"unknown argument", `job "a" {
  group "g" {
    task "t" {
      driver = "docker"
      imag = "redis"
    }
  }
}`, []string{`job.nomad:5,7-11: Unsupported argument; An argument named "imag" is not expected here.`}},
		{"wrong type", `job "a" {
  group "g" {
    count = "three"
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,13-20: Incorrect attribute value type; Inappropriate value for attribute "count": a number is required.`}},
		{"fractional count", `job "a" {
  group "g" {
    count = 1.5
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,13-16: Incorrect attribute value type; Inappropriate value for attribute "count": a whole number is required.`}},
		{"bad duration", `job "a" {
  group "g" {
    restart { delay = "soon" }
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,23-29: Invalid duration`}},
		{"unsupported nomad block", `job "a" {
  group "g" {
    volume "data" { type = "host" }
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,12-18: Unsupported block type; Blocks of type "volume" are part of the Nomad job format but are not supported by Drover yet.`}},
		{"parameterized refused", `job "a" {
  type = "batch"
  parameterized {}
  group "g" {
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,3-16: Unsupported block type; Blocks of type "parameterized"`}},
		{"periodic on service", `job "a" {
  periodic { cron = "@hourly" }
  group "g" {
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:2,3-11: Invalid job; Periodic can only be used with "batch" scheduler`}},
		{"bad cron", `job "a" {
  type = "batch"
  periodic { cron = "every tuesday" }
  group "g" {
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,21-36: Invalid job; Invalid cron spec "every tuesday"`}},
		{"batch with update", `job "a" {
  type = "batch"
  group "g" {
    update { max_parallel = 2 }
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:4,5-11: Invalid job; Job type "batch" does not allow update block`}},
		{"decode and validation errors together", `job "a" {
  priority = 500
  group "g" {
    count = -2
    task "t" {
      resources { memory = 5 }
      oops = true
    }
  }
}`, []string{
			"job.nomad:2,14-17: Invalid job; job priority must be between [1, 100]",
			"job.nomad:4,13-15: Invalid job; Task group count can't be negative",
			"job.nomad:5,5-13: Invalid job; Missing task driver",
			"job.nomad:6,28-29: Invalid job; minimum MemoryMB value is 10; got 5",
			`job.nomad:7,7-11: Unsupported argument; An argument named "oops" is not expected here.`,
		}},
		{"update deadlines", `job "a" {
  update {
    min_healthy_time = "5m"
    healthy_deadline = "1m"
  }
  group "g" {
    task "t" { driver = "mock" }
  }
}`, []string{"Minimum healthy time must be less than healthy deadline: 5m0s > 1m0s"}},
		{"port problems", `job "a" {
  group "g" {
    network {
      port "db" { static = 70000 }
      port "db" { to = -5 }
    }
    task "t" { driver = "mock" }
  }
}`, []string{
			"job.nomad:4,28-33: Invalid job; Port db (70000) cannot be greater than 65535",
			"job.nomad:5,12-16: Invalid job; Port label db already in use by taskgroup network",
			`job.nomad:5,24-26: Invalid job; Port "db" cannot be mapped to negative value -5`,
		}},
		{"service port must exist", `job "a" {
  group "g" {
    service { port = "http" }
    task "t" { driver = "mock" }
  }
}`, []string{`Port label "http" referenced by service a-g does not exist`}},
		{"task disk", `job "a" {
  group "g" {
    task "t" {
      driver = "mock"
      resources { disk = 100 }
    }
  }
}`, []string{"Task can't ask for disk resources, they have to be specified at the task group level."}},
		{"restart mode", `job "a" {
  group "g" {
    restart { mode = "sometimes" }
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,22-33: Invalid job; Unsupported restart mode: "sometimes"`}},
		{"no job", `variable "x" { default = 1 }`, []string{"Missing job block"}},
		{"two jobs", `job "a" {
  group "g" {
    task "t" { driver = "mock" }
  }
}
job "b" {}`, []string{"job.nomad:6,1-8: Duplicate job block"}},
		{"syntax error", `job "a" {
  group "g" {`, []string{"job.nomad:2,13-14: Unclosed configuration block"}},
		{"missing group", `job "a" {}`, []string{"job.nomad:1,1-8: Invalid job; Missing job task groups"}},
		{"undefined variable", `job "a" {
  group "g" {
    count = var.replicas
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:3,16-25: Unsupported attribute; This object does not have an attribute named "replicas".`}},
		{"unset variable", `variable "replicas" { type = number }
job "a" {
  group "g" {
    count = var.replicas
    task "t" { driver = "mock" }
  }
}`, []string{`job.nomad:1,1-20: Unset variable; The variable "replicas" has no default`}},
		{"local cycle", `locals {
  a = local.b
  b = local.a
}
job "x" {
  group "g" {
    task "t" { driver = "mock" }
  }
}`, []string{"job.nomad:2,7-14: Cycle in local values", "job.nomad:3,7-14: Cycle in local values"}},
		{"duplicate update block", `job "a" {
  group "g" {
    update {}
    update {}
    task "t" { driver = "mock" }
  }
}`, []string{"job.nomad:4,5-11: Duplicate update block"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jobspec.Parse("job.nomad", []byte(tc.src), jobspec.Options{})
			if err == nil {
				t.Fatal("expected an error")
			}
			msg := err.Error()
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q\nfull error:\n%s", want, msg)
				}
			}
			if lines := strings.Count(msg, "\n") + 1; lines != len(tc.want) && tc.name != "bad cron" {
				t.Errorf("got %d error lines, want %d:\n%s", lines, len(tc.want), msg)
			}
		})
	}
}

func TestParseJSON_RoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.nomad")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			want := mustParseFile(t, file, jobspec.Options{})
			raw := mustJSON(t, want)
			got, err := jobspec.ParseJSON("job.json", raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("bare JSON round trip differs:\n got %s\nwant %s", mustJSON(t, got), raw)
			}
			wrapped := append(append([]byte(`{"Job": `), raw...), '}')
			got, err = jobspec.ParseJSON("job.json", wrapped)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("wrapped JSON round trip differs")
			}
		})
	}
}

func TestParseJSON_Errors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"syntax", "{\n  \"ID\": \"a\",\n  \"TaskGroups\": [\n}", "job.json:4,1: invalid character '}'"},
		{"wrong type", "{\"ID\": \"a\",\n \"TaskGroups\": [{\"Count\": \"x\"}]}", "job.json:2,"},
		{"unsupported field", `{"ID": "a", "Affinities": [{"LTarget": "x"}], "Spreads": null}`, "unsupported job fields: Affinities"},
		{"validation", `{"ID": "a", "TaskGroups": [{"Name": "g", "Count": -1, "Tasks": [{"Name": "t", "Driver": "mock"}]}]}`,
			"TaskGroups[0].Count: Task group count can't be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jobspec.ParseJSON("job.json", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestParseJSON_DefaultsForAbsentFields(t *testing.T) {
	job, err := jobspec.ParseJSON("job.json", []byte(`{"ID": "a", "Type": "batch", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "mock"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tg := job.TaskGroups[0]
	eq(t, "count", tg.Count, 1)
	eq(t, "restart", tg.RestartPolicy.Attempts, 3)
	eq(t, "kill timeout", tg.Tasks[0].KillTimeout, 5*time.Second)
	eq(t, "name", job.Name, "a")
}

func eq(t *testing.T, what string, got, want interface{}) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestParse_BatchJobLevelUpdate(t *testing.T) {
	_, err := jobspec.Parse("job.nomad", []byte(`job "a" {
  type = "batch"
  update { max_parallel = 2 }
  group "g" {
    task "t" { driver = "mock" }
  }
}`), jobspec.Options{})
	want := `job.nomad:3,3-9: Invalid job; Job type "batch" does not allow update block`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want exactly %q", err, want)
	}
}
