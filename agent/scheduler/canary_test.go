package scheduler

import (
	"testing"
	"time"

	"drover/agent/structs"
)

// canaryBase is seed003 with count 3 and one canary.
var canaryBase = []string{"count = 1", "count = 3", "canary = 0", "canary = 1"}

// canaryStarted registers version 0 (stable), then version 1 with a new
// image, whose canary is placed and healthy but not promoted.
func canaryStarted(t *testing.T) (*harness, *structs.Job) {
	h := newHarness(t)
	h.node("a", 8000, 8192)
	job := h.register(h.parse("seed003.nomad", canaryBase...))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	h.succeed(job)
	job = h.register(h.parse("seed003.nomad", append(canaryBase, "redis:3.2", "redis:4.0")...))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Canary: 1, Ignore: 3})
	h.apply(res)
	h.run(job, all)
	return h, job
}

func canariesOf(allocs []*structs.Allocation) (canaries, others int) {
	for _, a := range allocs {
		if a.DeploymentStatus != nil && a.DeploymentStatus.Canary {
			canaries++
		} else {
			others++
		}
	}
	return
}

// Nomad sets a group's desired canaries only when a destructive change
// needs them: a job's first version has nothing to canary, and its
// deployment must not wait for a promotion that can never be asked for.
func TestFirstVersionWithCanaryNeedsNoPromotion(t *testing.T) {
	h := newHarness(t)
	h.node("a", 8000, 8192)
	job := h.register(h.parse("seed003.nomad", canaryBase...))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 3})
	d := res.Plan.Deployment
	if d == nil || d.TaskGroups["cache"].DesiredCanaries != 0 || d.StatusDescription != structs.DeploymentDescRunning {
		t.Fatalf("first version's deployment: %+v", d)
	}
}

// A new version while canaries await promotion: Nomad stops the previous
// deployment's canaries and canaries the new version; the healthy old
// allocations keep running.
func TestNewVersionDuringCanariesStopsTheOldCanaries(t *testing.T) {
	h, _ := canaryStarted(t)
	job := h.register(h.parse("seed003.nomad", append(canaryBase, "redis:3.2", "redis:5.0")...))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Canary: 1, Stop: 1, Ignore: 3})
	for _, stops := range res.Plan.NodeUpdate {
		for _, a := range stops {
			if a.DeploymentStatus == nil || !a.DeploymentStatus.Canary {
				t.Fatalf("stopped %s, which is no canary", a.Name)
			}
		}
	}
	h.apply(res)
	if c, o := canariesOf(h.live(job)); c != 1 || o != 3 {
		t.Fatalf("live: %d canaries, %d others; want 1 and 3", c, o)
	}
}

// A failed canary deployment stops its canaries (Nomad leaves count
// allocations, not count + canaries), and its failed allocations are not
// rescheduled.
func TestFailedCanaryDeploymentStopsCanaries(t *testing.T) {
	h, job := canaryStarted(t)
	d, _ := h.st.LatestDeploymentByJobID(nil, job.Namespace, job.ID)
	h.must(h.st.UpdateDeploymentStatus(h.next(), &structs.DeploymentStatusUpdate{DeploymentID: d.ID,
		Status: structs.DeploymentStatusFailed, StatusDescription: structs.DeploymentDescFailedAllocations}, nil, nil))
	res := h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Stop: 1, Ignore: 3})
	h.apply(res)
	if live := h.live(job); len(live) != 3 {
		t.Fatalf("live after the failed canary deployment: %v", names(live))
	}
}

// A failed allocation of a failed deployment stays failed: Nomad does not
// reschedule it (the deployment already judged that version).
func TestFailedDeploymentsAllocationsAreNotRescheduled(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	failed := h.live(job)[0]
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: failed.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: h.now.UnixNano()}}))
	h.must(h.st.UpdateDeploymentStatus(h.next(), &structs.DeploymentStatusUpdate{DeploymentID: failed.DeploymentID,
		Status: structs.DeploymentStatusFailed, StatusDescription: structs.DeploymentDescFailedAllocations}, nil, nil))
	h.now = h.now.Add(time.Hour)
	res := h.schedule(h.eval(job, structs.EvalTriggerRetryFailedAlloc))
	if len(res.FollowUps) != 0 || countAllocs(res.Plan.NodeAllocation) != 0 {
		t.Fatalf("a failed deployment's failed allocation was rescheduled: %d follow-ups, %d allocs",
			len(res.FollowUps), countAllocs(res.Plan.NodeAllocation))
	}
}

// Scaling up while canaries await promotion places nothing of the new
// version beyond its canaries: the new count waits for the promotion.
func TestScaleUpDuringCanariesWaitsForPromotion(t *testing.T) {
	h, _ := canaryStarted(t)
	job := h.register(h.parse("seed003.nomad", "count = 1", "count = 5", "canary = 0", "canary = 1", "redis:3.2", "redis:4.0"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	if u := updatesOf(res, "cache"); u.Place != 0 {
		t.Fatalf("placed %d new allocations before promotion\n%s", u.Place, decisions(res))
	}
	h.apply(res)
	if c, o := canariesOf(h.live(job)); c != 1 || o != 3 {
		t.Fatalf("live: %d canaries, %d others; want 1 and 3", c, o)
	}
}
