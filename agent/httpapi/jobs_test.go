package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestJobLifecycle drives a job from registration to purge through the
// official client: register, inspect, plan, check-index, stop, purge.
func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	n1 := a.addNode(t, "", "node-1")
	a.addNode(t, "", "node-2")
	jobs := a.client.Jobs()

	// Register the example job, parsed by /v1/jobs/parse.
	job := a.seed003(t)
	if *job.ID != "example" || *job.TaskGroups[0].Name != "cache" {
		t.Fatalf("parsed job: ID %q group %q", *job.ID, *job.TaskGroups[0].Name)
	}
	reg, wm, err := jobs.Register(job, nil)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if reg.EvalID == "" || reg.JobModifyIndex == 0 || wm.LastIndex != reg.JobModifyIndex {
		t.Fatalf("register response: %+v, write index %d", reg, wm.LastIndex)
	}
	eval := a.waitEvalDone(t, reg.EvalID)
	if eval.Status != "complete" || eval.TriggeredBy != "job-register" || eval.JobID != "example" {
		t.Fatalf("eval: status %q triggered by %q job %q", eval.Status, eval.TriggeredBy, eval.JobID)
	}
	var stubs []*api.AllocationListStub
	waitFor(t, 10*time.Second, func() (bool, string) {
		stubs, _, err = jobs.Allocations("example", false, nil)
		if err != nil {
			return false, err.Error()
		}
		return len(stubs) == 1, fmt.Sprintf("%d allocs", len(stubs))
	})

	// Inspect it.
	info, qm, err := jobs.Info("example", nil)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	if *info.Version != 0 || *info.JobModifyIndex != reg.JobModifyIndex || *info.Namespace != "default" ||
		*info.Type != "service" || *info.Status != "running" {
		t.Fatalf("info: version %d jmi %d ns %q type %q status %q", *info.Version, *info.JobModifyIndex,
			*info.Namespace, *info.Type, *info.Status)
	}
	if qm.LastIndex < reg.JobModifyIndex || !qm.KnownLeader {
		t.Fatalf("info meta: %+v", qm)
	}
	if got := info.TaskGroups[0].Tasks[0].Services[0].Name; got != "redis-cache" {
		t.Fatalf("service name %q", got)
	}

	summary, _, err := jobs.Summary("example", nil)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	if s := summary.Summary["cache"]; summary.JobID != "example" || s.Starting != 1 {
		t.Fatalf("summary: %+v", summary)
	}

	evals, _, err := jobs.Evaluations("example", nil)
	if err != nil || len(evals) != 1 || evals[0].ID != reg.EvalID {
		t.Fatalf("evaluations: %v %+v", err, evals)
	}

	dep, _, err := jobs.LatestDeployment("example", nil)
	if err != nil || dep == nil {
		t.Fatalf("latest deployment: %v %+v", err, dep)
	}
	if dep.Status != "running" || dep.JobID != "example" || dep.TaskGroups["cache"].DesiredTotal != 1 {
		t.Fatalf("deployment: %+v", dep)
	}
	deps, _, err := jobs.Deployments("example", false, nil)
	if err != nil || len(deps) != 1 || deps[0].ID != dep.ID {
		t.Fatalf("job deployments: %v %+v", err, deps)
	}
	allDeps, _, err := a.client.Deployments().List(nil)
	if err != nil || len(allDeps) != 1 || allDeps[0].ID != dep.ID {
		t.Fatalf("deployments: %v %+v", err, allDeps)
	}
	gotDep, _, err := a.client.Deployments().Info(dep.ID[:8], nil)
	if err != nil || gotDep.ID != dep.ID {
		t.Fatalf("deployment by short ID: %v %+v", err, gotDep)
	}
	depAllocs, _, err := a.client.Deployments().Allocations(dep.ID, nil)
	if err != nil || len(depAllocs) != 1 || depAllocs[0].ID != stubs[0].ID {
		t.Fatalf("deployment allocations: %v %+v", err, depAllocs)
	}

	alloc, _, err := a.client.Allocations().Info(stubs[0].ID, nil)
	if err != nil {
		t.Fatalf("alloc info: %v", err)
	}
	if alloc.Name != "example.cache[0]" || alloc.DesiredStatus != "run" || alloc.ClientStatus != "pending" ||
		alloc.Job == nil || *alloc.Job.Version != 0 || alloc.EvalID != reg.EvalID || alloc.DeploymentID != dep.ID {
		t.Fatalf("alloc: name %q desired %q client %q eval %q deployment %q", alloc.Name, alloc.DesiredStatus,
			alloc.ClientStatus, alloc.EvalID, alloc.DeploymentID)
	}
	if alloc.AllocatedResources == nil || alloc.AllocatedResources.Tasks["redis"].Cpu.CpuShares != 500 {
		t.Fatalf("alloc resources: %+v", alloc.AllocatedResources)
	}
	short, _, err := a.client.Allocations().Info(alloc.ID[:8], nil)
	if err != nil || short.ID != alloc.ID {
		t.Fatalf("alloc by short ID: %v", err)
	}
	evalAllocs, _, err := a.client.Evaluations().Allocations(reg.EvalID, nil)
	if err != nil || len(evalAllocs) != 1 || evalAllocs[0].ID != alloc.ID {
		t.Fatalf("eval allocations: %v %+v", err, evalAllocs)
	}
	allAllocs, _, err := a.client.Allocations().List(&api.QueryOptions{Prefix: alloc.ID[:4]})
	if err != nil || len(allAllocs) != 1 || allAllocs[0].JobVersion != 0 || allAllocs[0].JobType != "service" {
		t.Fatalf("alloc list by prefix: %v %+v", err, allAllocs)
	}

	nodes, _, err := a.client.Nodes().List(nil)
	if err != nil || len(nodes) != 2 {
		t.Fatalf("nodes: %v %+v", err, nodes)
	}
	node, _, err := a.client.Nodes().Info(n1.ID[:8], nil)
	if err != nil {
		t.Fatalf("node info: %v", err)
	}
	if node.ID != n1.ID || node.Name != "node-1" || node.Status != "ready" ||
		node.NodeResources.Cpu.CpuShares != 4000 || !node.Drivers["docker"].Healthy {
		t.Fatalf("node: %+v", node)
	}
	nodeAllocs, _, err := a.client.Nodes().Allocations(alloc.NodeID, nil)
	if err != nil || len(nodeAllocs) != 1 || nodeAllocs[0].Job == nil {
		t.Fatalf("node allocations: %v %+v", err, nodeAllocs)
	}

	// Plan a count of 3: two placements and an in-place update of the
	// running allocation, against the registered job's modify index.
	job.TaskGroups[0].Count = ptr(3)
	plan, _, err := jobs.Plan(job, true, nil)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	upd := plan.Annotations.DesiredTGUpdates["cache"]
	if upd == nil || upd.Place != 2 || upd.InPlaceUpdate != 1 || upd.Stop != 0 || upd.DestructiveUpdate != 0 {
		t.Fatalf("plan updates: %+v", upd)
	}
	if plan.Diff == nil || plan.Diff.Type != "Edited" || plan.JobModifyIndex != reg.JobModifyIndex {
		t.Fatalf("plan: diff %+v jmi %d want %d", plan.Diff, plan.JobModifyIndex, reg.JobModifyIndex)
	}
	if len(plan.FailedTGAllocs) != 0 {
		t.Fatalf("plan failed allocs: %+v", plan.FailedTGAllocs)
	}

	// -check-index: a wrong index is refused and changes nothing.
	_, _, err = jobs.EnforceRegister(job, plan.JobModifyIndex+1000, nil)
	if err == nil || !strings.Contains(err.Error(), "Enforcing job modify index") {
		t.Fatalf("enforce wrong index: %v", err)
	}
	if code := statusCode(err); code != http.StatusInternalServerError {
		t.Fatalf("enforce wrong index: status %d", code)
	}
	info, _, err = jobs.Info("example", nil)
	if err != nil || *info.Version != 0 || *info.JobModifyIndex != reg.JobModifyIndex || *info.TaskGroups[0].Count != 1 {
		t.Fatalf("job changed by refused register: %v version %d", err, *info.Version)
	}
	reg2, _, err := jobs.EnforceRegister(job, plan.JobModifyIndex, nil)
	if err != nil {
		t.Fatalf("enforce right index: %v", err)
	}
	info, _, err = jobs.Info("example", nil)
	if err != nil || *info.Version != 1 || *info.TaskGroups[0].Count != 3 || *info.JobModifyIndex != reg2.JobModifyIndex {
		t.Fatalf("after update: %v version %d count %d", err, *info.Version, *info.TaskGroups[0].Count)
	}
	versions, diffs, _, err := jobs.Versions("example", true, nil)
	if err != nil || len(versions) != 2 || *versions[0].Version != 1 || *versions[1].Version != 0 || len(diffs) != 1 {
		t.Fatalf("versions: %v %d versions %d diffs", err, len(versions), len(diffs))
	}
	if diffs[0].Type != "Edited" {
		t.Fatalf("version diff: %+v", diffs[0])
	}
	a.waitEvalDone(t, reg2.EvalID)

	other := smallJob("other", 1)
	if _, _, err := jobs.EnforceRegister(other, 0, nil); err != nil {
		t.Fatalf("enforce index 0 on a new job: %v", err)
	}
	_, _, err = jobs.EnforceRegister(other, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "job already exists") {
		t.Fatalf("enforce index 0 on an existing job: %v", err)
	}

	list, _, err := jobs.List(nil)
	if err != nil || len(list) != 2 || list[0].ID != "example" || list[1].ID != "other" {
		t.Fatalf("jobs list: %v %+v", err, list)
	}
	if list[0].JobSummary == nil || list[0].JobSummary.Summary["cache"].Starting != 3 {
		t.Fatalf("jobs list summary: %+v", list[0].JobSummary)
	}
	list, _, err = jobs.PrefixList("oth")
	if err != nil || len(list) != 1 || list[0].ID != "other" {
		t.Fatalf("jobs prefix list: %v %+v", err, list)
	}

	// A stop whose parameters do not parse is refused, naming the
	// parameter, and the job keeps running.
	for _, c := range []struct{ query, want string }{
		{"eval_priority=high", `error parsing eval_priority: "high" is not a number`},
		{"purge=maybe", `Failed to parse value of "purge" (maybe) as a bool: strconv.ParseBool: parsing "maybe": invalid syntax`},
	} {
		code, body, _ := a.do(t, http.MethodDelete, "/v1/job/example?"+c.query, "")
		if code != http.StatusBadRequest || body != c.want {
			t.Errorf("stop ?%s = %d %q, want 400 %q", c.query, code, body, c.want)
		}
	}
	if info, _, err = jobs.Info("example", nil); err != nil || *info.Stop {
		t.Fatalf("after refused stops: %v stop=%v", err, info != nil && *info.Stop)
	}

	// Stop: the job stays, stopped, and becomes dead once its
	// allocations are stopped.
	evalID, wm, err := jobs.Deregister("example", false, nil)
	if err != nil || evalID == "" || wm.LastIndex == 0 {
		t.Fatalf("stop: %v %q", err, evalID)
	}
	if e := a.waitEvalDone(t, evalID); e.TriggeredBy != "job-deregister" {
		t.Fatalf("stop eval: %+v", e)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		info, _, err = jobs.Info("example", nil)
		if err != nil {
			return false, err.Error()
		}
		return *info.Stop && *info.Status == "dead", fmt.Sprintf("stop %v status %q", *info.Stop, *info.Status)
	})
	stubs, _, err = jobs.Allocations("example", false, nil)
	if err != nil || len(stubs) != 3 {
		t.Fatalf("allocs after stop: %v %d", err, len(stubs))
	}
	for _, s := range stubs {
		if s.DesiredStatus != "stop" {
			t.Fatalf("alloc %s desired %q after stop", s.Name, s.DesiredStatus)
		}
	}

	// Purge: the job is gone.
	if _, _, err := jobs.Deregister("example", true, nil); err != nil {
		t.Fatalf("purge: %v", err)
	}
	_, _, err = jobs.Info("example", nil)
	if code := statusCode(err); code != http.StatusNotFound || !strings.Contains(err.Error(), "job not found") {
		t.Fatalf("info after purge: %v", err)
	}
	if _, _, err := jobs.Deregister("example", true, nil); statusCode(err) != http.StatusNotFound {
		t.Fatalf("purge of a purged job: %v", err)
	}
}

// TestJobRegisterChecks covers the handler's own checks of register and
// plan requests, and the namespace of a job that names none.
func TestJobRegisterChecks(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")

	cases := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"no job", "PUT", "/v1/jobs", `{}`, 400, "Job must be specified"},
		{"empty body", "PUT", "/v1/jobs", ``, 400, "Job must be specified"},
		{"no ID", "PUT", "/v1/jobs", `{"Job": {"Name": "x"}}`, 400, "Job ID hasn't been provided"},
		{"ID mismatch", "POST", "/v1/job/a", `{"Job": {"ID": "b"}}`, 400, "Job ID does not match"},
		{"plan no job", "PUT", "/v1/job/a/plan", `{"Diff": true}`, 400, "Job must be specified"},
		{"plan no ID", "PUT", "/v1/job/a/plan", `{"Job": {}}`, 400, "Job must have a valid ID"},
		{"plan ID mismatch", "PUT", "/v1/job/a/plan", `{"Job": {"ID": "b"}}`, 400, "Job ID does not match"},
		{"malformed", "PUT", "/v1/jobs", `{"Job": {`, 400, "failed to decode request body"},
		{"wrong type", "PUT", "/v1/jobs", `{"Job": {"ID": 5}}`, 400, "Job.ID"},
		{"parse empty", "PUT", "/v1/jobs/parse", `{"JobHCL": ""}`, 400, "Job HCL must be specified"},
		{"parse error", "PUT", "/v1/jobs/parse", `{"JobHCL": "job \"x\" {\n  bogus = 1\n}\n"}`, 400, "input.hcl:2,"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := a.do(t, tc.method, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.code, tc.want)
			}
		})
	}

	// Unknown fields of the client's job are ignored, and the job gets
	// the request's namespace.
	body := `{"Job": {"ID": "raw", "Datacenters": ["dc1"], "Multiregion": null, "Spreads": [{"Attribute": "x"}],
	  "TaskGroups": [{"Name": "g", "Count": 1, "Volumes": {}, "Tasks": [{"Name": "t", "Driver": "mock",
	  "Lifecycle": null, "Resources": {"CPU": 100, "MemoryMB": 64, "Devices": null}}]}]}, "PolicyOverride": true}`
	code, resp, hdr := a.do(t, "POST", "/v1/job/raw", body)
	if code != 200 || hdr.Get("X-Nomad-Index") == "" || !strings.Contains(resp, `"EvalID"`) {
		t.Fatalf("register with unknown fields: %d %s", code, resp)
	}
	job, _, err := a.client.Jobs().Info("raw", nil)
	if err != nil || *job.Namespace != "default" || *job.TaskGroups[0].Tasks[0].KillTimeout != 5*time.Second {
		t.Fatalf("raw job: %v", err)
	}

	// Jobs the client canonicalized itself carry every field of its model
	// (Consul, Identity, Lifecycle, ...); they register just the same.
	for _, j := range []*api.Job{smallJob("canon", 1), a.seed003(t)} {
		j.Canonicalize()
		if _, _, err := a.client.Jobs().Register(j, nil); err != nil {
			t.Fatalf("register canonicalized %s: %v", *j.ID, err)
		}
		got, _, err := a.client.Jobs().Info(*j.ID, nil)
		if err != nil || *got.TaskGroups[0].Count != 1 || *got.TaskGroups[0].Tasks[0].Resources.CPU != *j.TaskGroups[0].Tasks[0].Resources.CPU {
			t.Fatalf("canonicalized %s: %v", *j.ID, err)
		}
	}

	// An invalid job is refused with the validation text, as a 400.
	bad := smallJob("bad", 1)
	bad.TaskGroups[0].Count = ptr(-1)
	_, _, err = a.client.Jobs().Register(bad, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "Task group count can't be negative") {
		t.Fatalf("invalid job: %v", err)
	}
	_, _, err = a.client.Jobs().Plan(bad, false, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "Task group count can't be negative") {
		t.Fatalf("plan of invalid job: %v", err)
	}

	// -preserve-counts keeps the running count.
	scaled := smallJob("scaled", 2)
	if _, _, err := a.client.Jobs().Register(scaled, nil); err != nil {
		t.Fatal(err)
	}
	scaled.TaskGroups[0].Count = ptr(5)
	scaled.Meta = map[string]string{"v": "2"}
	if _, _, err := a.client.Jobs().RegisterOpts(scaled, &api.RegisterOptions{PreserveCounts: true}, nil); err != nil {
		t.Fatal(err)
	}
	job, _, err = a.client.Jobs().Info("scaled", nil)
	if err != nil || *job.TaskGroups[0].Count != 2 || job.Meta["v"] != "2" {
		t.Fatalf("preserve counts: %v", err)
	}
}

// TestJobsParse checks the HCL endpoint, with variables.
func TestJobsParse(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	src := `
variable "count" {
  type    = number
  default = 1
}
job "web" {
  datacenters = ["dc1"]
  group "g" {
    count = var.count
    task "t" {
      driver = "mock"
    }
  }
}
`
	job, err := a.client.Jobs().ParseHCLOpts(&api.JobsParseRequest{JobHCL: src, Variables: "count = 4\n", Canonicalize: true})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if *job.ID != "web" || *job.TaskGroups[0].Count != 4 || *job.Type != "service" || *job.Priority != 50 {
		t.Fatalf("parsed: %+v", job)
	}
	_, err = a.client.Jobs().ParseHCLOpts(&api.JobsParseRequest{JobHCL: src, Variables: "count = \"many\"\n"})
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "variables.hcl:1,") {
		t.Fatalf("bad variable: %v", err)
	}
	_, err = a.client.Jobs().ParseHCL(strings.Replace(src, "var.count", "-1", 1), true)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "Task group count can't be negative") ||
		!strings.Contains(err.Error(), "input.hcl:") {
		t.Fatalf("invalid job: %v", err)
	}
}
