package cli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// waitCond polls cond until it holds, failing the test after timeout.
func waitCond(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, why)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestJobActionsDecodeWithTheOfficialClient drives every endpoint behind
// the new job subcommands through the official client, against a real
// dev agent (server and client, mock driver), and checks that each answer
// decodes into the client's types with the values the cluster holds.
func TestJobActionsDecodeWithTheOfficialClient(t *testing.T) {
	_, client := devAgent(t)
	jobs := client.Jobs()

	task := api.NewTask("t", "mock").SetConfig("run_for", "1h").
		Require(&api.Resources{CPU: ptrTo(50), MemoryMB: ptrTo(32)})
	job := api.NewServiceJob("web", "web", "global", 50).AddDatacenter("dc1").
		AddTaskGroup(api.NewTaskGroup("grp", 1).AddTask(task))
	job.Update = &api.UpdateStrategy{MaxParallel: ptrTo(1), MinHealthyTime: ptrTo(500 * time.Millisecond),
		HealthyDeadline: ptrTo(time.Minute), ProgressDeadline: ptrTo(5 * time.Minute)}
	deployed := func(version uint64) {
		t.Helper()
		waitCond(t, 30*time.Second, fmt.Sprintf("a successful deployment of version %d", version), func() (bool, string) {
			d, _, err := jobs.LatestDeployment("web", nil)
			if err != nil || d == nil {
				return false, fmt.Sprint(err)
			}
			return d.JobVersion == version && d.Status == "successful", fmt.Sprintf("version %d %s", d.JobVersion, d.Status)
		})
	}
	if _, _, err := jobs.Register(job, nil); err != nil {
		t.Fatal(err)
	}
	deployed(0)

	// Scale and ScaleStatus.
	scaled, _, err := jobs.Scale("web", "grp", ptrTo(3), "by the test", false, nil, nil)
	if err != nil || scaled.EvalID == "" || scaled.JobModifyIndex == 0 {
		t.Fatalf("scale: %+v %v", scaled, err)
	}
	deployed(1)
	waitCond(t, 30*time.Second, "3 running and healthy in the scale status", func() (bool, string) {
		st, _, err := jobs.ScaleStatus("web", nil)
		if err != nil {
			return false, err.Error()
		}
		g := st.TaskGroups["grp"]
		return st.JobID == "web" && !st.JobStopped && g.Desired == 3 && g.Placed == 3 && g.Running == 3 && g.Healthy == 3,
			fmt.Sprintf("%+v", g)
	})

	// Versions with diffs: version 1 differs from 0 by its count.
	versions, diffs, _, err := jobs.Versions("web", true, nil)
	if err != nil || len(versions) != 2 || len(diffs) != 1 {
		t.Fatalf("versions: %v, %d versions, %d diffs", err, len(versions), len(diffs))
	}
	if *versions[0].Version != 1 || !*versions[0].Stable || *versions[0].TaskGroups[0].Count != 3 {
		t.Fatalf("newest version: %d stable %v count %d", *versions[0].Version, *versions[0].Stable, *versions[0].TaskGroups[0].Count)
	}
	if tg := diffs[0].TaskGroups; diffs[0].Type != "Edited" || diffs[0].ID != "web" || len(tg) != 1 || tg[0].Fields[0].Name != "Count" ||
		tg[0].Fields[0].Old != "1" || tg[0].Fields[0].New != "3" {
		t.Fatalf("diff: %+v", diffs[0])
	}

	// Revert to version 0: version 2, one allocation again.
	prior := uint64(1)
	reverted, _, err := jobs.Revert("web", 0, &prior, nil, "", "")
	if err != nil || reverted.EvalID == "" {
		t.Fatalf("revert: %+v %v", reverted, err)
	}
	deployed(2)
	info, _, err := jobs.Info("web", nil)
	if err != nil || *info.Version != 2 || *info.TaskGroups[0].Count != 1 {
		t.Fatalf("after revert: %v", err)
	}
	_, _, err = jobs.Revert("web", 2, nil, nil, "", "")
	if err == nil || !strings.Contains(err.Error(), "can't revert to current version") {
		t.Fatalf("revert to the current version: %v", err)
	}

	// Forced evaluations, with and without options.
	evalID, _, err := jobs.ForceEvaluate("web", nil)
	if err != nil || evalID == "" {
		t.Fatalf("force evaluate: %q %v", evalID, err)
	}
	evalID2, _, err := jobs.EvaluateWithOpts("web", api.EvalOptions{ForceReschedule: true}, nil)
	if err != nil || evalID2 == "" || evalID2 == evalID {
		t.Fatalf("evaluate with options: %q %v", evalID2, err)
	}
	for _, id := range []string{evalID, evalID2} {
		waitCond(t, 20*time.Second, "evaluation "+id, func() (bool, string) {
			e, _, err := client.Evaluations().Info(id, nil)
			if err != nil {
				return false, err.Error()
			}
			return e.Status == "complete" && e.TriggeredBy == "job-register", e.Status + " " + e.TriggeredBy
		})
	}

	// Deployments and allocations.
	ds, _, err := jobs.Deployments("web", false, nil)
	if err != nil || len(ds) != 3 {
		t.Fatalf("deployments: %v %d", err, len(ds))
	}
	for _, d := range ds {
		if d.JobID != "web" || d.Status != "successful" || d.TaskGroups["grp"] == nil {
			t.Fatalf("deployment: %+v", d)
		}
	}
	allocs, _, err := jobs.Allocations("web", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, a := range allocs {
		if a.JobID != "web" || a.TaskGroup != "grp" {
			t.Fatalf("allocation: %+v", a)
		}
		if a.DesiredStatus == "run" && a.ClientStatus == "running" {
			running++
		}
	}
	if running != 1 || len(allocs) != 3 {
		t.Fatalf("allocations: %d, %d running", len(allocs), running)
	}

	// Dispatch and periodic force are refused, with a 400 that says why.
	_, _, err = jobs.Dispatch("web", nil, nil, "", nil)
	var ue api.UnexpectedResponseError
	if !asResponseError(err, &ue) || ue.StatusCode() != 400 || !strings.Contains(ue.Body(), "Drover has no parameterized jobs") {
		t.Fatalf("dispatch: %v", err)
	}
	_, _, err = jobs.PeriodicForce("web", nil)
	if !asResponseError(err, &ue) || ue.StatusCode() != 400 || ue.Body() != "can't force launch non-periodic job" {
		t.Fatalf("periodic force: %v", err)
	}
}

func asResponseError(err error, out *api.UnexpectedResponseError) bool {
	e, ok := err.(api.UnexpectedResponseError)
	if ok {
		*out = e
	}
	return ok
}

func ptrTo[T any](v T) *T { return &v }
