package httpapi

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/structs"
)

// runAllocs plays the client of the test nodes: every live allocation of
// the job that is pending, or whose deployment health is not known,
// reports running and healthy, so its deployment can finish.
func (a *testAgent) runAllocs(t *testing.T, jobID string) {
	t.Helper()
	allocs, err := a.srv.State().AllocsByJob(nil, "default", jobID, false)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	var updates []*structs.Allocation
	for _, al := range allocs {
		if al.DesiredStatus == structs.AllocDesiredStatusRun && (al.ClientStatus == structs.AllocClientStatusPending ||
			(al.DeploymentID != "" && al.DeploymentStatus == nil)) {
			updates = append(updates, &structs.Allocation{ID: al.ID, ClientStatus: structs.AllocClientStatusRunning,
				DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes, Timestamp: time.Now()}})
		}
	}
	if len(updates) > 0 {
		if _, err := a.srv.UpdateAllocsFromClient(updates); err != nil {
			t.Fatal(err)
		}
	}
}

// waitDeploymentDone waits until the job's latest deployment is no longer
// running.
func (a *testAgent) waitDeploymentDone(t *testing.T, jobID string) {
	t.Helper()
	waitFor(t, 10*time.Second, func() (bool, string) {
		d, _, err := a.client.Jobs().LatestDeployment(jobID, nil)
		if err != nil || d == nil {
			return false, fmt.Sprintf("latest deployment: %v", err)
		}
		return d.Status != "running", "deployment is " + d.Status
	})
}

// jobState is what a refused write must leave as it was.
type jobState struct {
	version, jobModifyIndex uint64
	versions, evals         int
	counts                  string
}

func (a *testAgent) jobState(t *testing.T, id string) jobState {
	t.Helper()
	snap := a.srv.State().Snapshot()
	job, err := snap.JobByID(nil, "default", id)
	if err != nil || job == nil {
		t.Fatalf("job %s: %v", id, err)
	}
	vs, err := snap.JobVersionsByID(nil, "default", id)
	if err != nil {
		t.Fatal(err)
	}
	evals, err := snap.EvalsByJob(nil, "default", id)
	if err != nil {
		t.Fatal(err)
	}
	var counts []string
	for _, tg := range job.TaskGroups {
		counts = append(counts, fmt.Sprintf("%s=%d", tg.Name, tg.Count))
	}
	return jobState{job.Version, job.JobModifyIndex, len(vs), len(evals), strings.Join(counts, ",")}
}

// refused checks a raw request's status and text, and that the job's
// state did not change.
func (a *testAgent) refused(t *testing.T, jobID, method, path, body string, code int, want string) {
	t.Helper()
	before := a.jobState(t, jobID)
	got, text, _ := a.do(t, method, path, body)
	if got != code || !strings.Contains(text, want) {
		t.Fatalf("%s %s %s: %d %q, want %d containing %q", method, path, body, got, text, code, want)
	}
	if after := a.jobState(t, jobID); after != before {
		t.Fatalf("%s %s changed the job: %+v -> %+v", method, path, before, after)
	}
}

// TestJobVersionsAndRevert: the versions endpoint answers the client's
// Versions with diffs between neighbours; revert registers an old
// version's specification as a new version with an evaluation, and
// refuses the current version, an unknown version, an unknown job and a
// prior version that no longer holds, changing nothing.
func TestJobVersionsAndRevert(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	jobs := a.client.Jobs()

	job := smallJob("web", 1)
	reg, _, err := jobs.Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)
	job.TaskGroups[0].Count = ptr(2)
	reg, _, err = jobs.Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)

	versions, diffs, qm, err := jobs.Versions("web", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || *versions[0].Version != 1 || *versions[1].Version != 0 || qm.LastIndex == 0 {
		t.Fatalf("versions: %d, newest %d", len(versions), *versions[0].Version)
	}
	if len(diffs) != 1 || diffs[0].Type != "Edited" || len(diffs[0].TaskGroups) != 1 {
		t.Fatalf("diffs: %+v", diffs)
	}
	count := diffs[0].TaskGroups[0].Fields
	if len(count) != 1 || count[0].Name != "Count" || count[0].Old != "1" || count[0].New != "2" {
		t.Fatalf("count diff: %+v", count)
	}
	if _, noDiffs, _, err := jobs.Versions("web", false, nil); err != nil || len(noDiffs) != 0 {
		t.Fatalf("versions without diffs: %v %d", err, len(noDiffs))
	}

	// Refusals, each leaving the job as it was.
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobID": "web", "JobVersion": 1}`, 400, "can't revert to current version")
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobID": "web", "JobVersion": 7}`, 404,
		`job "web" in namespace "default" at version 7 not found`)
	a.refused(t, "web", "PUT", "/v1/job/nope/revert", `{"JobID": "nope", "JobVersion": 0}`, 404, `job "nope" not found`)
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 0}`, 400,
		"Current job has version 1; enforcing version 0")
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobVersion": 0}`, 400, "JobID must be specified")
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobID": "other", "JobVersion": 0}`, 400, "Job ID does not match")
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobID": "web", "JobVersion": -1}`, 400, "JobVersion")
	a.refused(t, "web", "PUT", "/v1/job/web/revert", `{"JobID": "web", "JobVersion": "one"}`, 400, "JobVersion")
	a.refused(t, "web", "GET", "/v1/job/web/revert", ``, 405, "Invalid method")

	// The client's Revert, enforcing the prior version: version 2 with
	// version 0's count, and an evaluation that places nothing new.
	resp, wm, err := jobs.Revert("web", 0, ptr(uint64(1)), nil, "", "")
	if err != nil {
		t.Fatalf("revert: %v", err)
	}
	if resp.EvalID == "" || resp.JobModifyIndex == 0 || wm.LastIndex < resp.JobModifyIndex {
		t.Fatalf("revert response: %+v", resp)
	}
	eval := a.waitEvalDone(t, resp.EvalID)
	if eval.TriggeredBy != "job-register" || eval.Status != "complete" {
		t.Fatalf("revert eval: %s %s", eval.TriggeredBy, eval.Status)
	}
	info, _, err := jobs.Info("web", nil)
	if err != nil || *info.Version != 2 || *info.TaskGroups[0].Count != 1 || *info.Stable {
		t.Fatalf("reverted job: %v version %d count %d", err, *info.Version, *info.TaskGroups[0].Count)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		stubs, _, err := jobs.Allocations("web", false, nil)
		live := 0
		for _, s := range stubs {
			if s.DesiredStatus == "run" {
				live++
			}
		}
		return err == nil && live == 1, fmt.Sprintf("%d allocations to run (%v)", live, err)
	})
	versions, diffs, _, err = jobs.Versions("web", true, nil)
	if err != nil || len(versions) != 3 || len(diffs) != 2 || diffs[0].TaskGroups[0].Fields[0].New != "1" {
		t.Fatalf("versions after revert: %v %d %d", err, len(versions), len(diffs))
	}

	// Version 0's specification is now the current one: reverting to it
	// again stores nothing, as resubmitting an unchanged job does, but
	// still creates an evaluation.
	before := a.jobState(t, "web")
	again, _, err := jobs.Revert("web", 0, nil, nil, "", "")
	if err != nil || again.EvalID == "" || again.JobModifyIndex != before.jobModifyIndex {
		t.Fatalf("revert to the current specification: %+v %v", again, err)
	}
	a.waitEvalDone(t, again.EvalID)
	if after := a.jobState(t, "web"); after.version != 2 || after.versions != 3 || after.evals != before.evals+1 {
		t.Fatalf("after reverting to the current specification: %+v", after)
	}
}

// TestJobScale: scaling stores the group's new count as a new version with
// a job-scaling evaluation, once the job's deployment is over; the scale
// status counts each group; bad requests are refused and change nothing.
func TestJobScale(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	jobs := a.client.Jobs()

	reg, _, err := jobs.Register(smallJob("web", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)

	// While the first deployment runs, scaling is blocked.
	a.refused(t, "web", "PUT", "/v1/job/web/scale", `{"Count": 3, "Target": {"Group": "grp"}}`, 400,
		"job scaling blocked due to active deployment")
	a.runAllocs(t, "web")
	a.waitDeploymentDone(t, "web")

	refusals := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"unknown job", "PUT", "/v1/job/nope/scale", `{"Count": 3, "Target": {"Group": "grp"}}`, 404, `job "nope" not found`},
		{"unknown group", "PUT", "/v1/job/web/scale", `{"Count": 3, "Target": {"Group": "db"}}`, 400,
			`task group "db" specified for scaling does not exist in job`},
		{"no group", "PUT", "/v1/job/web/scale", `{"Count": 3}`, 400, "missing task group name for scaling action"},
		{"negative", "PUT", "/v1/job/web/scale", `{"Count": -1, "Target": {"Group": "grp"}}`, 400, "scaling action count can't be negative"},
		{"not a number", "PUT", "/v1/job/web/scale", `{"Count": "three", "Target": {"Group": "grp"}}`, 400, "Count"},
		{"fraction", "PUT", "/v1/job/web/scale", `{"Count": 1.5, "Target": {"Group": "grp"}}`, 400, "Count"},
		{"no count", "PUT", "/v1/job/web/scale", `{"Target": {"Group": "grp"}}`, 400, "Count must be given"},
		{"error with count", "PUT", "/v1/job/web/scale", `{"Count": 2, "Error": true, "Target": {"Group": "grp"}}`, 400,
			"scaling action should not contain count if error is true"},
		{"over the limit", "PUT", "/v1/job/web/scale", `{"Count": 100000000, "Target": {"Group": "grp"}}`, 400, "Count"},
		{"job mismatch", "PUT", "/v1/job/web/scale", `{"Count": 2, "Target": {"Job": "other", "Group": "grp"}}`, 400,
			"job ID in payload did not match URL"},
		{"namespace mismatch", "PUT", "/v1/job/web/scale", `{"Count": 2, "Target": {"Namespace": "other", "Group": "grp"}}`, 400,
			"namespace in payload did not match header"},
		{"stale index", "PUT", "/v1/job/web/scale", `{"Count": 2, "Target": {"Group": "grp"}, "JobModifyIndex": 1}`, 500,
			"Enforcing job modify index 1"},
		{"wrong method", "DELETE", "/v1/job/web/scale", ``, 405, "Invalid method"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			a.refused(t, "web", tc.method, tc.path, tc.body, tc.code, tc.want)
		})
	}

	// Scale 1 -> 3 with the client's Scale.
	before := a.jobState(t, "web")
	resp, _, err := jobs.Scale("web", "grp", ptr(3), "more", false, nil, nil)
	if err != nil {
		t.Fatalf("scale: %v", err)
	}
	eval := a.waitEvalDone(t, resp.EvalID)
	if eval.TriggeredBy != "job-scaling" || eval.Status != "complete" {
		t.Fatalf("scale eval: %s %s", eval.TriggeredBy, eval.Status)
	}
	after := a.jobState(t, "web")
	if after.version != before.version+1 || after.counts != "grp=3" || after.jobModifyIndex != resp.JobModifyIndex {
		t.Fatalf("scaled job: %+v (response %+v)", after, resp)
	}
	st, _, err := jobs.ScaleStatus("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The running allocation was updated in place into the new
	// deployment, so its health is not known again yet.
	g := st.TaskGroups["grp"]
	if st.JobID != "web" || st.Namespace != "default" || st.JobStopped || g.Desired != 3 || g.Placed != 3 ||
		g.Running != 1 || g.Healthy != 0 || g.Events != nil {
		t.Fatalf("scale status: %+v %+v", st, g)
	}
	// The new allocations come with a deployment of the new version, as
	// an edited count submitted with job run does.
	d, _, err := jobs.LatestDeployment("web", nil)
	if err != nil || d == nil || d.JobVersion != after.version || d.TaskGroups["grp"].DesiredTotal != 3 {
		t.Fatalf("deployment of the scaled version: %v %+v", err, d)
	}

	// Scaling to the same count stores nothing but still evaluates.
	a.runAllocs(t, "web")
	a.waitDeploymentDone(t, "web")
	if st, _, err = jobs.ScaleStatus("web", nil); err != nil || st.TaskGroups["grp"].Running != 3 ||
		st.TaskGroups["grp"].Healthy != 3 {
		t.Fatalf("scale status once running: %v %+v", err, st.TaskGroups["grp"])
	}
	same, _, err := jobs.Scale("web", "grp", ptr(3), "", false, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, same.EvalID)
	if now := a.jobState(t, "web"); now.version != after.version || now.evals != after.evals+1 {
		t.Fatalf("scale to the same count: %+v", now)
	}

	// Scale status of an unknown job; system jobs cannot be scaled.
	if _, _, err := jobs.ScaleStatus("nope", nil); statusCode(err) != 404 {
		t.Fatalf("scale status of unknown job: %v", err)
	}
	sys := smallJob("sys", 1)
	sys.Type = ptr("system")
	if _, _, err := jobs.Register(sys, nil); err != nil {
		t.Fatal(err)
	}
	a.refused(t, "sys", "PUT", "/v1/job/sys/scale", `{"Count": 2, "Target": {"Group": "grp"}}`, 400,
		`cannot scale jobs of type "system"`)
}

// TestJobEvaluate: a forced evaluation is a job-register evaluation;
// -force-reschedule marks failed allocations so that it replaces them at
// once. Unknown and periodic jobs are refused.
func TestJobEvaluate(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	jobs := a.client.Jobs()

	// A batch job whose reschedule delay is an hour.
	job := smallJob("work", 1)
	job.Type = ptr("batch")
	job.TaskGroups[0].ReschedulePolicy = &api.ReschedulePolicy{Attempts: ptr(1), Interval: ptr(24 * time.Hour),
		Delay: ptr(time.Hour), DelayFunction: ptr("constant"), Unlimited: ptr(false)}
	reg, _, err := jobs.Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)

	evalID, wm, err := jobs.ForceEvaluate("work", nil)
	if err != nil || evalID == "" || wm.LastIndex == 0 {
		t.Fatalf("force evaluate: %v %q", err, evalID)
	}
	if e := a.waitEvalDone(t, evalID); e.TriggeredBy != "job-register" || e.Status != "complete" {
		t.Fatalf("forced eval: %s %s", e.TriggeredBy, e.Status)
	}

	// The allocation fails: its reschedule waits an hour.
	stubs, _, err := jobs.Allocations("work", false, nil)
	if err != nil || len(stubs) != 1 {
		t.Fatalf("allocations: %v %d", err, len(stubs))
	}
	failed := stubs[0].ID
	if _, err := a.srv.UpdateAllocsFromClient([]*structs.Allocation{{ID: failed,
		ClientStatus: structs.AllocClientStatusFailed}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		al, _, err := a.client.Allocations().Info(failed, nil)
		return err == nil && al.FollowupEvalID != "", "the failed allocation has no follow-up evaluation yet"
	})
	evalID, _, err = jobs.EvaluateWithOpts("work", api.EvalOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, evalID)
	if stubs, _, _ = jobs.Allocations("work", false, nil); len(stubs) != 1 {
		t.Fatalf("a plain evaluation rescheduled before the delay: %d allocations", len(stubs))
	}

	// -force-reschedule: replaced now.
	evalID, _, err = jobs.EvaluateWithOpts("work", api.EvalOptions{ForceReschedule: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, evalID)
	al, _, err := a.client.Allocations().Info(failed, nil)
	if err != nil || al.DesiredTransition.ForceReschedule == nil || !*al.DesiredTransition.ForceReschedule ||
		al.NextAllocation == "" {
		t.Fatalf("forced allocation: %v %+v next %q", err, al.DesiredTransition, al.NextAllocation)
	}
	next, _, err := a.client.Allocations().Info(al.NextAllocation, nil)
	if err != nil || next.EvalID != evalID || next.PreviousAllocation != failed {
		t.Fatalf("replacement: %v", err)
	}

	// Refusals.
	a.refused(t, "work", "PUT", "/v1/job/nope/evaluate", ``, 404, "job not found")
	a.refused(t, "work", "PUT", "/v1/job/work/evaluate", `{"JobID": "other"}`, 400, "JobID not same as job name")
	a.refused(t, "work", "PUT", "/v1/job/work/evaluate", `{"EvalOptions": {"ForceReschedule": "yes"}}`, 400, "ForceReschedule")
	periodic := smallJob("nightly", 1)
	periodic.Type = ptr("batch")
	periodic.Periodic = &api.PeriodicConfig{Enabled: ptr(true), Spec: ptr("@daily"), SpecType: ptr("cron")}
	if _, _, err := jobs.Register(periodic, nil); err != nil {
		t.Fatal(err)
	}
	a.refused(t, "nightly", "PUT", "/v1/job/nightly/evaluate", ``, 400, "can't evaluate periodic job")
}

// TestUnsupportedJobEndpoints: dispatch and periodic force exist and say
// what Drover does not do, after a 404 for an unknown job.
func TestUnsupportedJobEndpoints(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	jobs := a.client.Jobs()
	if _, _, err := jobs.Register(smallJob("web", 1), nil); err != nil {
		t.Fatal(err)
	}
	periodic := smallJob("nightly", 1)
	periodic.Type = ptr("batch")
	periodic.Periodic = &api.PeriodicConfig{Enabled: ptr(true), Spec: ptr("@daily"), SpecType: ptr("cron")}
	if _, _, err := jobs.Register(periodic, nil); err != nil {
		t.Fatal(err)
	}

	_, _, err := jobs.Dispatch("web", map[string]string{"k": "v"}, []byte("payload"), "", nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(),
		`job dispatch is not supported: Drover has no parameterized jobs, so job "web" cannot be dispatched`) {
		t.Fatalf("dispatch: %v", err)
	}
	if _, _, err := jobs.Dispatch("nope", nil, nil, "", nil); statusCode(err) != 404 {
		t.Fatalf("dispatch of unknown job: %v", err)
	}
	a.refused(t, "web", "PUT", "/v1/job/web/dispatch", `{"JobID": "other"}`, 400, "Job ID does not match")

	if _, _, err := jobs.PeriodicForce("nightly", nil); statusCode(err) != 400 ||
		!strings.Contains(err.Error(), "periodic force is not supported: Drover does not launch periodic jobs") {
		t.Fatalf("periodic force: %v", err)
	}
	if _, _, err := jobs.PeriodicForce("web", nil); statusCode(err) != 400 ||
		!strings.Contains(err.Error(), "can't force launch non-periodic job") {
		t.Fatalf("periodic force of a service job: %v", err)
	}
	if _, _, err := jobs.PeriodicForce("nope", nil); statusCode(err) != 404 {
		t.Fatalf("periodic force of unknown job: %v", err)
	}
	a.refused(t, "nightly", "GET", "/v1/job/nightly/periodic/force", ``, 405, "Invalid method")
}
