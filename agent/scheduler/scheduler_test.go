package scheduler

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"drover/agent/state"
	"drover/agent/structs"
)

func wantUpdates(t *testing.T, res *Result, group string, want structs.DesiredUpdates) {
	t.Helper()
	if got := updatesOf(res, group); got != want {
		t.Fatalf("desired updates of %q = %+v, want %+v\ndecisions:\n%s", group, got, want, decisions(res))
	}
}

func decisions(res *Result) string {
	var b strings.Builder
	for _, d := range structs.DecisionRows(res.Eval.Decisions) {
		b.WriteString("  " + d.Name + " " + d.Action + ": " + d.Reason + "\n")
	}
	return b.String()
}

// TestSeed003Sequence replays the first tutorial on one node: run, scale
// 1 → 3, rolling image update with max_parallel 1, stop.
func TestSeed003Sequence(t *testing.T) {
	h := newHarness(t)
	node := h.node("nomad", 4000, 8192)

	// job run example.nomad: one allocation, and a deployment.
	job := h.register(h.parse("seed003.nomad"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
	if res.Plan.Deployment == nil || res.Eval.DeploymentID != res.Plan.Deployment.ID {
		t.Fatal("a service job's first run must start a deployment")
	}
	h.apply(res)
	first := h.live(job)
	if len(first) != 1 || first[0].Name != "example.cache[0]" || first[0].NodeID != node.ID {
		t.Fatalf("allocations after run: %+v", first)
	}
	if ports := first[0].AllocatedResources.Tasks["redis"].Networks[0].DynamicPorts; len(ports) != 1 ||
		ports[0].Label != "db" || ports[0].Value < 20000 || ports[0].Value > 32000 {
		t.Fatalf("dynamic port db: %+v", ports)
	}
	h.run(job, all)

	// count 1 → 3: "2 create, 1 in-place update".
	job = h.register(h.parse("seed003.nomad", "count = 1", "count = 3"))
	res = h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 2, InPlaceUpdate: 1})
	if res.Plan.Deployment == nil || res.Plan.Deployment.TaskGroups["cache"].DesiredTotal != 3 {
		t.Fatal("the scaled version must start a deployment of 3")
	}
	h.apply(res)
	live := h.live(job)
	if len(live) != 3 || live[0].ID != first[0].ID || live[1].Name != "example.cache[1]" || live[2].Name != "example.cache[2]" {
		t.Fatalf("after scaling: %v", names(live))
	}
	for _, a := range live {
		if a.Job.Version != 1 {
			t.Fatalf("%s runs version %d, want 1", a.Name, a.Job.Version)
		}
	}
	h.run(job, all)

	// image redis:3.2 → redis:4.0: "1 create/destroy update, 2 ignore",
	// then one more per healthy replacement.
	job = h.register(h.parse("seed003.nomad", "count = 1", "count = 3", "redis:3.2", "redis:4.0"))
	res = h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2})
	if !strings.Contains(decisions(res), "waiting: update.max_parallel = 1 and 1 destructive update is already in flight") {
		t.Errorf("the ignored allocations must say why:\n%s", decisions(res))
	}
	h.apply(res)
	if got := versions(h.live(job)); got != "example.cache[0]=2 example.cache[1]=1 example.cache[2]=1" {
		t.Fatalf("after the first pass: %s", got)
	}
	for round := 1; round <= 2; round++ {
		// The replacement runs but is not healthy yet: nothing moves.
		h.run(job, func(a *structs.Allocation) bool { return a.DeploymentStatus.IsHealthy() })
		res = h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
		wantUpdates(t, res, "cache", structs.DesiredUpdates{Ignore: 3})
		h.apply(res)
		// Once healthy, the next allocation is replaced.
		h.run(job, all)
		res = h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
		wantUpdates(t, res, "cache", structs.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2})
		h.apply(res)
	}
	h.run(job, all)
	if got := versions(h.live(job)); got != "example.cache[0]=2 example.cache[1]=2 example.cache[2]=2" {
		t.Fatalf("after the rollout: %s", got)
	}
	res = h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Ignore: 3})
	h.apply(res)

	// job stop: "stop 3" and the job ends dead.
	stopped := job.Copy()
	stopped.Stop = true
	job = h.register(stopped)
	res = h.schedule(h.eval(job, structs.EvalTriggerJobDeregister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Stop: 3})
	h.apply(res)
	if live := h.live(job); len(live) != 0 {
		t.Fatalf("still live after stop: %v", names(live))
	}
	final, err := h.st.JobByID(nil, job.Namespace, job.ID)
	h.must(err)
	if final.Status != structs.JobStatusDead || !final.Stop {
		t.Fatalf("job status %q stop=%v, want dead (stopped)", final.Status, final.Stop)
	}
}

func names(allocs []*structs.Allocation) []string {
	var out []string
	for _, a := range allocs {
		out = append(out, a.Name)
	}
	return out
}

func versions(allocs []*structs.Allocation) string {
	var parts []string
	for _, a := range allocs {
		parts = append(parts, a.Name+"="+itoa(a.Job.Version))
	}
	return strings.Join(parts, " ")
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }

// TestScaleDownStopsHighestIndexes: 3 → 1 stops [2] and [1].
func TestScaleDownStopsHighestIndexes(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 3"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	job = h.register(h.parse("seed004.nomad"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Stop: 2, InPlaceUpdate: 1})
	h.apply(res)
	if got := names(h.live(job)); len(got) != 1 || got[0] != "example.cache[0]" {
		t.Fatalf("after scaling down: %v", got)
	}
}

// TestSeed004SpreadsOverTwoClients: count 3 over two equal clients uses
// both, because allocations of one group repel each other.
func TestSeed004SpreadsOverTwoClients(t *testing.T) {
	for i := 0; i < 10; i++ {
		h := newHarness(t)
		a := h.node("client-one", 2000, 1024)
		b := h.node("client-two", 2000, 1024)
		job := h.register(h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 3"))
		res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
		wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 3})
		perNode := map[string]int{}
		for node, allocs := range res.Plan.NodeAllocation {
			perNode[node] = len(allocs)
		}
		if perNode[a.ID] == 0 || perNode[b.ID] == 0 || perNode[a.ID]+perNode[b.ID] != 3 {
			t.Fatalf("run %d: allocations per node %v, want both clients used", i, perNode)
		}
		// Each allocation has its own dynamic port mapped to 6379.
		for _, allocs := range res.Plan.NodeAllocation {
			for _, alloc := range allocs {
				ports := alloc.AllocatedResources.Shared.Ports
				if len(ports) != 1 || ports[0].Label != "db" || ports[0].To != 6379 || ports[0].Value < 20000 {
					t.Fatalf("ports of %s: %+v", alloc.Name, ports)
				}
			}
		}
	}
}

// TestOversizedJobBlocksUntilCapacity: a placement that fits nowhere
// reports the exhausted dimension and leaves a blocked evaluation, which
// places once a big enough node registers.
func TestOversizedJobBlocksUntilCapacity(t *testing.T) {
	h := newHarness(t)
	h.node("small", 1000, 1024)
	job := h.register(h.parse("seed004.nomad", "cpu    = 500", "cpu    = 3000"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	failed := res.Eval.FailedTGAllocs["cache"]
	if failed == nil || failed.DimensionExhausted["cpu"] != 1 || failed.NodesEvaluated != 1 || failed.NodesExhausted != 1 {
		t.Fatalf("failed placement metric: %+v", failed)
	}
	if res.Eval.QueuedAllocations["cache"] != 1 {
		t.Fatalf("queued = %v", res.Eval.QueuedAllocations)
	}
	if res.BlockedEval == nil || res.BlockedEval.Status != structs.EvalStatusBlocked ||
		res.BlockedEval.TriggeredBy != structs.EvalTriggerQueuedAllocs || res.Eval.BlockedEval != res.BlockedEval.ID {
		t.Fatalf("blocked eval: %+v", res.BlockedEval)
	}
	// eval status shows when it was made, as for every evaluation.
	if res.BlockedEval.CreateTime == 0 || res.BlockedEval.ModifyTime == 0 || res.BlockedEval.PreviousEval != res.Eval.ID {
		t.Fatalf("blocked eval without its times or link: %+v", res.BlockedEval)
	}
	if !strings.Contains(decisions(res), "cpu exhausted on 1 node(s)") {
		t.Errorf("decision must explain the failure:\n%s", decisions(res))
	}
	h.apply(res)
	summary, err := h.st.JobSummaryByID(nil, job.Namespace, job.ID)
	h.must(err)
	if summary.Summary["cache"].Queued != 1 {
		t.Errorf("summary queued = %d, want 1", summary.Summary["cache"].Queued)
	}
	stored, _ := h.st.JobByID(nil, job.Namespace, job.ID)
	if stored.Status != structs.JobStatusPending {
		t.Errorf("job status = %q, want pending while nothing runs and an evaluation waits", stored.Status)
	}

	big := h.node("big", 8000, 8192)
	blocked := res.BlockedEval.Copy()
	blocked.Status = structs.EvalStatusPending
	res = h.schedule(blocked)
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
	if len(res.Plan.NodeAllocation[big.ID]) != 1 || res.BlockedEval != nil {
		t.Fatalf("the blocked evaluation must place on the new node: %+v", res.Plan.NodeAllocation)
	}
}

// TestLostNodeReplacesAllocations: allocations on a node that went down
// stop as lost and are replaced, under the same names, elsewhere.
func TestLostNodeReplacesAllocations(t *testing.T) {
	h := newHarness(t)
	a := h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 2"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	b := h.node("b", 4000, 8192)
	h.must(h.st.UpdateNodeStatus(h.next(), a.ID, structs.NodeStatusDown, h.now.Unix(), nil))

	res := h.schedule(h.eval(job, structs.EvalTriggerNodeUpdate))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 2, Stop: 2})
	for _, stopped := range res.Plan.NodeUpdate[a.ID] {
		if stopped.ClientStatus != structs.AllocClientStatusLost || stopped.DesiredDescription != structs.AllocLost {
			t.Fatalf("lost alloc stopped as %q/%q", stopped.ClientStatus, stopped.DesiredDescription)
		}
	}
	h.apply(res)
	live := h.live(job)
	if got := names(live); len(got) != 2 || got[0] != "example.cache[0]" || got[1] != "example.cache[1]" {
		t.Fatalf("replacements: %v", got)
	}
	for _, alloc := range live {
		if alloc.NodeID != b.ID || alloc.PreviousAllocation == "" {
			t.Fatalf("%s on %s (previous %q), want node b", alloc.Name, alloc.NodeID, alloc.PreviousAllocation)
		}
	}
}

// TestMigrateFromDrainingNode: an allocation the drainer marked moves to
// another node under its name; unmarked ones stay.
func TestMigrateFromDrainingNode(t *testing.T) {
	h := newHarness(t)
	a := h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 3"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	b := h.node("b", 4000, 8192)
	h.must(h.st.UpdateNodeDrain(h.next(), a.ID, &structs.DrainStrategy{}, false, h.now.Unix(), nil))
	live := h.live(job)
	yes := true
	h.must(h.st.UpdateAllocsDesiredTransitions(h.next(),
		map[string]*structs.DesiredTransition{live[1].ID: {Migrate: &yes}}, nil))

	res := h.schedule(h.eval(job, structs.EvalTriggerNodeDrain))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Migrate: 1, Ignore: 2})
	if stops := res.Plan.NodeUpdate[a.ID]; len(stops) != 1 || stops[0].ID != live[1].ID || stops[0].DesiredDescription != structs.AllocMigrating {
		t.Fatalf("stops: %+v", stops)
	}
	if placed := res.Plan.NodeAllocation[b.ID]; len(placed) != 1 || placed[0].Name != "example.cache[1]" {
		t.Fatalf("replacement: %+v", placed)
	}
}

// TestSystemJobRunsOnEveryNode places one allocation per eligible node and
// follows a node that joins later.
func TestSystemJobRunsOnEveryNode(t *testing.T) {
	h := newHarness(t)
	h.node("a", 2000, 2048)
	h.node("b", 2000, 2048)
	job := h.register(h.parse("system.nomad", "raw_exec", "mock"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "agent", structs.DesiredUpdates{Place: 2})
	h.apply(res)
	h.run(job, nil)
	h.node("c", 2000, 2048)
	res = h.schedule(h.eval(job, structs.EvalTriggerNodeUpdate))
	wantUpdates(t, res, "agent", structs.DesiredUpdates{Place: 1, Ignore: 2})
}

// TestMissingDriverIsReported: a job for a driver no node has fails with
// the reason the CLI prints.
func TestMissingDriverIsReported(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	job := h.register(h.parse("system.nomad", "type = \"system\"", "type = \"service\""))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	m := res.Eval.FailedTGAllocs["agent"]
	if m == nil || m.ConstraintFiltered["missing drivers"] != 1 || m.NodesFiltered != 1 {
		t.Fatalf("metric: %+v", m)
	}
}

// TestUnchangedJobIsIgnored: re-running the same version changes nothing
// and starts no deployment.
func TestUnchangedJobIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad"))
	first := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	h.apply(first)
	h.run(job, all)
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Ignore: 1})
	if !res.Plan.IsNoOp() || res.Eval.DeploymentID != first.Plan.Deployment.ID {
		t.Fatalf("plan %+v, deployment %q", res.Plan, res.Eval.DeploymentID)
	}
}

// TestCanaryThenPromote: with update.canary = 1, a destructive change
// first places one canary beside the three old allocations; after
// promotion the canary takes its name's place and the rolling update
// continues.
func TestCanaryThenPromote(t *testing.T) {
	h := newHarness(t)
	h.node("a", 8000, 8192)
	base := []string{"count = 1", "count = 3", "canary = 0", "canary = 1"}
	job := h.register(h.parse("seed003.nomad", base...))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	d, _ := h.st.LatestDeploymentByJobID(nil, job.Namespace, job.ID)
	h.must(h.st.UpdateDeploymentStatus(h.next(), &structs.DeploymentStatusUpdate{DeploymentID: d.ID,
		Status: structs.DeploymentStatusSuccessful, StatusDescription: structs.DeploymentDescSuccessful}, nil, nil))

	job = h.register(h.parse("seed003.nomad", append(base, "redis:3.2", "redis:4.0")...))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Canary: 1, Ignore: 3})
	if res.Plan.Deployment == nil || res.Plan.Deployment.StatusDescription != structs.DeploymentDescRunningNeedsPromotion {
		t.Fatalf("deployment: %+v", res.Plan.Deployment)
	}
	h.apply(res)
	live := h.live(job)
	if len(live) != 4 {
		t.Fatalf("want 3 old allocations and 1 canary, got %v", names(live))
	}
	h.run(job, all)
	// Not promoted: nothing more happens.
	res = h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Ignore: 4})
	h.apply(res)

	d, _ = h.st.LatestDeploymentByJobID(nil, job.Namespace, job.ID)
	h.must(h.st.UpdateDeploymentPromotion(h.next(), d.ID, nil, nil))
	res = h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Stop: 1, DestructiveUpdate: 1, Ignore: 2})
	h.apply(res)
	for round := 0; round < 2; round++ {
		h.run(job, all)
		h.apply(h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher)))
	}
	h.run(job, all)
	if got := versions(h.live(job)); got != "example.cache[0]=1 example.cache[1]=1 example.cache[2]=1" {
		t.Fatalf("after promotion and rollout: %s", got)
	}
}

// TestRescheduleFailedAllocation: a failed service allocation is not
// replaced before its reschedule delay (a follow-up evaluation waits for
// it), then is replaced under its name, avoiding the node it failed on
// when another fits.
func TestRescheduleFailedAllocation(t *testing.T) {
	h := newHarness(t)
	a := h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	h.succeed(job)
	b := h.node("b", 4000, 8192)
	failed := h.live(job)[0]
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: failed.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: h.now.UnixNano()}}))

	// Too early: the default service policy waits 30s first.
	res := h.schedule(h.eval(job, structs.EvalTriggerRetryFailedAlloc))
	if len(res.FollowUps) != 1 || !res.FollowUps[0].WaitUntil.Equal(h.now.Add(30*time.Second)) {
		t.Fatalf("follow-ups: %+v", res.FollowUps)
	}
	if countAllocs(res.Plan.NodeAllocation) != 1 || res.Plan.NodeAllocation[a.ID][0].FollowupEvalID != res.FollowUps[0].ID {
		t.Fatalf("the failed allocation must point at its follow-up: %+v", res.Plan.NodeAllocation)
	}
	h.apply(res)

	// After the delay: replaced under the same name, on the other node.
	h.now = h.now.Add(31 * time.Second)
	res = h.schedule(h.eval(job, structs.EvalTriggerRetryFailedAlloc))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
	placed := res.Plan.NodeAllocation[b.ID]
	if len(placed) != 1 || placed[0].Name != failed.Name || placed[0].PreviousAllocation != failed.ID ||
		placed[0].RescheduleTracker == nil || len(placed[0].RescheduleTracker.Events) != 1 {
		t.Fatalf("replacement: %+v", placed)
	}
	if stops := res.Plan.NodeUpdate[a.ID]; len(stops) != 1 || stops[0].DesiredDescription != structs.AllocRescheduled {
		t.Fatalf("stops: %+v", stops)
	}
}

// TestBatchCompletedIsNotReplaced: finished batch work keeps its name and
// is not run again.
func TestBatchCompletedIsNotReplaced(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	job := h.register(h.parse("batch.nomad", "run_for   = \"2s\"", "run_for   = \"0s\""))
	job.Periodic = nil
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	done := h.live(job)[0]
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: done.ID, ClientStatus: structs.AllocClientStatusComplete}}))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	if !res.Plan.IsNoOp() {
		t.Fatalf("completed batch work was scheduled again: %s", decisions(res))
	}
}

// TestFailedAllocationOfOldVersionIsReplacedOnUpdate: a failed allocation
// that its policy does not reschedule stays failed, until a new job
// version changes what its tasks run; then it is replaced like any other.
func TestFailedAllocationOfOldVersionIsReplacedOnUpdate(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	noReschedule := []string{"group \"cache\" {", "group \"cache\" {\n    reschedule {\n      attempts  = 0\n      unlimited = false\n    }"}
	job := h.register(h.parse("seed004.nomad", noReschedule...))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	failed := h.live(job)[0]
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: failed.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: h.now.UnixNano()}}))

	res := h.schedule(h.eval(job, structs.EvalTriggerRetryFailedAlloc))
	if !res.Plan.IsNoOp() {
		t.Fatalf("a failed allocation without reschedule attempts must stay: %s", decisions(res))
	}
	job = h.register(h.parse("seed004.nomad", append(noReschedule, "redis:3.2", "redis:4.0")...))
	res = h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{DestructiveUpdate: 1})
	if n := countAllocs(res.Plan.NodeAllocation); n != 1 {
		t.Fatalf("%d placements, want the replacement", n)
	}
}

// TestRescheduleFollowUpRunsWhenDue encodes Nomad's reschedule timing: the
// delay counts from when the allocation's tasks finished, and the
// follow-up evaluation an allocation points at (FollowupEvalID) replaces
// it when it runs. The plan that records FollowupEvalID moves the
// allocation's ModifyTime forward; measuring from ModifyTime found the
// follow-up "not yet due", and the recorded follow-up kept a second one
// from being made: the allocation stayed failed for good.
func TestRescheduleFollowUpRunsWhenDue(t *testing.T) {
	h := newHarness(t)
	a := h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	h.succeed(job)
	b := h.node("b", 4000, 8192)
	failed := h.live(job)[0]
	finished := h.now
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: failed.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: finished.UnixNano(),
		TaskStates: map[string]*structs.TaskState{"redis": {State: "dead", Failed: true, FinishedAt: finished}}}}))

	// The failure's evaluation runs a little later and defers to a
	// follow-up at finish + 30s; its plan is applied later still.
	h.now = finished.Add(400 * time.Millisecond)
	res := h.schedule(h.eval(job, structs.EvalTriggerRetryFailedAlloc))
	if len(res.FollowUps) != 1 || !res.FollowUps[0].WaitUntil.Equal(finished.Add(30*time.Second)) {
		t.Fatalf("follow-ups: %+v (want one at finish + 30s)", res.FollowUps)
	}
	// eval status prints its create time, which must be set.
	if res.FollowUps[0].CreateTime != h.now.UnixNano() || res.FollowUps[0].ModifyTime != h.now.UnixNano() {
		t.Fatalf("follow-up times: create %d modify %d, want %d", res.FollowUps[0].CreateTime, res.FollowUps[0].ModifyTime, h.now.UnixNano())
	}
	follow := res.FollowUps[0]
	h.now = finished.Add(900 * time.Millisecond)
	h.apply(res)
	h.must(h.st.UpsertEvals(h.next(), []*structs.Evaluation{follow}))

	// The follow-up runs at its time, a hair early as timers do.
	h.now = follow.WaitUntil.Add(-10 * time.Millisecond)
	res = h.schedule(follow)
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
	if placed := res.Plan.NodeAllocation[b.ID]; len(placed) != 1 || placed[0].PreviousAllocation != failed.ID {
		t.Fatalf("the follow-up did not replace the failed allocation: %+v", res.Plan.NodeAllocation)
	}
	_ = a
}

// TestActiveDeploymentReschedulesOnlyMarkedAllocations encodes Nomad's
// reconciler rule: a failed allocation of an active deployment is replaced
// only once the deployment watcher marked it (DesiredTransition.Reschedule);
// until then the deployment's progress deadline decides its fate.
func TestActiveDeploymentReschedulesOnlyMarkedAllocations(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	job := h.register(h.parse("seed004.nomad"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	failed := h.live(job)[0]
	if failed.DeploymentID == "" {
		t.Fatal("the allocation belongs to no deployment")
	}
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: failed.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: h.now.UnixNano()}}))

	res := h.schedule(h.eval(job, structs.EvalTriggerRetryFailedAlloc))
	if len(res.FollowUps) != 0 || countAllocs(res.Plan.NodeAllocation) != 0 {
		t.Fatalf("an unmarked failed allocation of an active deployment was rescheduled: follow-ups %d, allocs %d",
			len(res.FollowUps), countAllocs(res.Plan.NodeAllocation))
	}

	yes := true
	h.must(h.st.UpdateAllocsDesiredTransitions(h.next(),
		map[string]*structs.DesiredTransition{failed.ID: {Reschedule: &yes}}, nil))
	h.now = h.now.Add(31 * time.Second)
	res = h.schedule(h.eval(job, structs.EvalTriggerDeploymentWatcher))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
}

// TestSystemJobUpdateHonoursMaxParallel encodes Nomad's system scheduler:
// a destructive update replaces at most update.max_parallel allocations
// per pass and asks for a rolling-update evaluation after update.stagger
// for the rest.
func TestSystemJobUpdateHonoursMaxParallel(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"a", "b", "c"} {
		h.node(n, 2000, 2048)
	}
	update := "  update {\n    max_parallel = 1\n    stagger = \"10s\"\n  }\n\n  group \"agent\" {"
	job := h.register(h.parse("system.nomad", "raw_exec", "mock", "  group \"agent\" {", update))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, nil)

	job = h.register(h.parse("system.nomad", "raw_exec", "mock", "  group \"agent\" {", update, "/bin/true", "/bin/false"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "agent", structs.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2})
	if len(res.FollowUps) != 1 || res.FollowUps[0].TriggeredBy != structs.EvalTriggerRollingUpdate ||
		!res.FollowUps[0].WaitUntil.Equal(h.now.Add(10*time.Second)) {
		t.Fatalf("follow-ups: %+v, want one rolling-update after the stagger", res.FollowUps)
	}
	h.apply(res)
	h.run(job, nil)
	h.now = h.now.Add(10 * time.Second)
	res = h.schedule(res.FollowUps[0])
	wantUpdates(t, res, "agent", structs.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2})
	h.apply(res)
	h.run(job, nil)
	res = h.schedule(h.eval(job, structs.EvalTriggerRollingUpdate))
	wantUpdates(t, res, "agent", structs.DesiredUpdates{DestructiveUpdate: 1, Ignore: 2})
	if len(res.FollowUps) != 0 {
		t.Fatalf("a follow-up after the last batch: %+v", res.FollowUps)
	}
}

// TestReservedPortsAreNotHandedOut encodes the client's reserved_ports:
// neither dynamic nor static ports of an allocation may be among them, in
// placement as in the plan applier.
func TestReservedPortsAreNotHandedOut(t *testing.T) {
	h := newHarness(t)
	n := h.node("a", 8000, 8192)
	n.NodeResources.MinDynamicPort, n.NodeResources.MaxDynamicPort = 20000, 20003
	n.ReservedResources = &structs.NodeReservedResources{Networks: structs.NodeReservedNetworkResources{ReservedHostPorts: "20000-20002"}}
	h.must(h.st.UpsertNode(h.next(), n))

	job := h.register(h.parse("seed003.nomad"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
	for _, a := range res.Plan.NodeAllocation[n.ID] {
		if ports := a.HostPorts(); len(ports) != 1 || ports[0] != 20003 {
			t.Fatalf("dynamic ports %v: want the one port not reserved, 20003", ports)
		}
	}
	h.apply(res)
	// A second instance finds no free port: all others are reserved.
	job = h.register(h.parse("seed003.nomad", "count = 1", "count = 2"))
	res = h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	if res.Eval.FailedTGAllocs["cache"] == nil {
		t.Fatalf("a second instance was placed on reserved ports: %+v", res.Plan.NodeAllocation)
	}
}

// TestForceRescheduleIgnoresDelayAndAttempts: a failed allocation marked
// ForceReschedule (job eval -force-reschedule) is replaced by the next
// evaluation, before its reschedule delay and after its attempts ran out;
// unmarked, the same evaluation only defers it. A group whose policy
// forbids rescheduling is never forced.
func TestForceRescheduleIgnoresDelayAndAttempts(t *testing.T) {
	h := newHarness(t)
	h.node("a", 4000, 8192)
	oneAttempt := []string{"group \"cache\" {", "group \"cache\" {\n    reschedule {\n      attempts  = 1\n      interval  = \"24h\"\n      delay     = \"1h\"\n      unlimited = false\n    }"}
	job := h.register(h.parse("seed004.nomad", oneAttempt...))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, all)
	h.succeed(job)
	failed := h.live(job)[0]
	// Its one attempt was already used an hour ago.
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: failed.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: h.now.UnixNano(),
		TaskStates: map[string]*structs.TaskState{"redis": {State: "dead", Failed: true, FinishedAt: h.now}}}}))
	stored, err := h.st.AllocByID(nil, failed.ID)
	h.must(err)
	c := stored.Copy()
	c.RescheduleTracker = &structs.RescheduleTracker{Events: []*structs.RescheduleEvent{
		{RescheduleTime: h.now.Add(-time.Hour).UnixNano(), PrevAllocID: "earlier"}}}
	h.must(h.st.UpsertPlanResults(h.next(), &state.ApplyPlanResultsRequest{AllocsUpdated: []*structs.Allocation{c},
		Timestamp: h.now.UnixNano()}))

	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	if u := updatesOf(res, "cache"); u.Place != 0 {
		t.Fatalf("an unmarked failed allocation without attempts left was replaced: %s", decisions(res))
	}

	yes := true
	h.must(h.st.UpdateAllocsDesiredTransitions(h.next(),
		map[string]*structs.DesiredTransition{failed.ID: {ForceReschedule: &yes}}, nil))
	res = h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	wantUpdates(t, res, "cache", structs.DesiredUpdates{Place: 1})
	var placed *structs.Allocation
	for _, allocs := range res.Plan.NodeAllocation {
		for _, a := range allocs {
			if a.PreviousAllocation == failed.ID {
				placed = a
			}
		}
	}
	if placed == nil || placed.Name != failed.Name || len(placed.RescheduleTracker.Events) != 2 {
		t.Fatalf("no forced replacement of %s under its name: %+v", failed.ID, res.Plan.NodeAllocation)
	}
	if !strings.Contains(decisions(res), "forced evaluation") {
		t.Fatalf("the stop does not say it was forced: %s", decisions(res))
	}

	// A policy that allows no rescheduling is not overridden.
	none := h.register(h.parse("seed004.nomad", "job \"example\"", "job \"nosched\"", "group \"cache\" {",
		"group \"cache\" {\n    reschedule {\n      attempts  = 0\n      unlimited = false\n    }"))
	h.apply(h.schedule(h.eval(none, structs.EvalTriggerJobRegister)))
	h.run(none, all)
	h.succeed(none)
	f2 := h.live(none)[0]
	h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: f2.ID,
		ClientStatus: structs.AllocClientStatusFailed, ModifyTime: h.now.UnixNano()}}))
	h.must(h.st.UpdateAllocsDesiredTransitions(h.next(),
		map[string]*structs.DesiredTransition{f2.ID: {ForceReschedule: &yes}}, nil))
	res = h.schedule(h.eval(none, structs.EvalTriggerJobRegister))
	if u := updatesOf(res, "cache"); u.Place != 0 {
		t.Fatalf("a group that forbids rescheduling was rescheduled: %s", decisions(res))
	}
}

// TestPlacementFailuresCoalescePerGroup encodes the documented behaviour
// of a Nomad-compatible scheduler: once a placement of a task group finds
// no node, the group's remaining placements in the pass are not tried
// again but counted in the first failure's metric as CoalescedFailures
// ("N allocations coalesced" in the failed-placement output). The metric
// of the one attempt stays as it was measured; every placement is queued.
func TestPlacementFailuresCoalescePerGroup(t *testing.T) {
	h := newHarness(t)
	h.node("a", 1000, 8192)
	h.node("b", 1000, 8192)
	// 500 MHz each: two fit per node, four in all; six are asked.
	job := h.register(h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 6"))
	res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
	if n := countAllocs(res.Plan.NodeAllocation); n != 4 {
		t.Fatalf("placed %d, want 4", n)
	}
	failed := res.Eval.FailedTGAllocs["cache"]
	if failed == nil || failed.CoalescedFailures != 1 || failed.NodesEvaluated != 2 || failed.NodesExhausted != 2 ||
		failed.DimensionExhausted["cpu"] != 2 {
		t.Fatalf("failed placement metric: %+v", failed)
	}
	if res.Eval.QueuedAllocations["cache"] != 2 {
		t.Fatalf("queued = %v, want 2", res.Eval.QueuedAllocations)
	}
	// Each placement that failed still has its decision, with the reason.
	if got := strings.Count(decisions(res), "cpu exhausted on 2 node(s)"); got != 2 {
		t.Errorf("%d failed decisions with the reason, want 2:\n%s", got, decisions(res))
	}
}

// TestNoOpPassRecordsOneIgnore: evaluating a job that needs nothing
// records one "ignore" decision naming every allocation (by index), so an
// evaluation's size follows what it changed, not the size of the job.
func TestNoOpPassRecordsOneIgnore(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 10; i++ {
		h.node(fmt.Sprintf("n%d", i), 100000, 100000)
	}
	job := h.register(h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 500"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	res := h.schedule(h.eval(job, structs.EvalTriggerNodeUpdate))
	if n := countAllocs(res.Plan.NodeAllocation); n != 0 {
		t.Fatalf("a no-op pass placed %d", n)
	}
	recs := res.Eval.Decisions
	if len(recs) != 1 || recs[0].Action != structs.DecisionIgnore || recs[0].Count != 500 || recs[0].AllocIDs != nil {
		t.Fatalf("decisions: %+v", recs)
	}
	if rows := structs.DecisionRows(recs); len(rows) != 500 {
		t.Fatalf("%d rows, want 500", len(rows))
	}
	b, _ := json.Marshal(res.Eval.Decisions)
	if len(b) > 400 {
		t.Fatalf("the no-op pass's decisions take %d bytes", len(b))
	}
}

// A blocked evaluation records, per computed node class, whether the
// failed group could run there (Nomad's ClassEligibility): a class whose
// nodes pass the constraints is eligible even if they are full, one whose
// nodes fail them is not, and the classes of nodes that were not
// candidates (down) are not recorded (unknown). A constraint on a unique
// node property escapes class bookkeeping.
func TestBlockedEvalRecordsClassEligibility(t *testing.T) {
	for _, escaped := range []bool{false, true} {
		h := newHarness(t)
		linux := h.node("linux", 1000, 1024)
		windows := h.node("windows", 16000, 65536)
		w := windows.Copy()
		w.Attributes["kernel.name"] = "windows"
		h.must(h.st.UpsertNode(h.next(), w))
		down := h.node("down", 16000, 65536)
		d := down.Copy()
		d.NodeClass, d.Status = "other", structs.NodeStatusDown
		h.must(h.st.UpsertNode(h.next(), d))
		spec := h.parse("seed004.nomad", "cpu    = 500", "cpu    = 3000")
		spec.Constraints = append(spec.Constraints, &structs.Constraint{LTarget: "${attr.kernel.name}", RTarget: "linux", Operand: "="})
		if escaped {
			spec.Constraints = append(spec.Constraints, &structs.Constraint{LTarget: "${node.unique.name}", RTarget: "windows", Operand: "!="})
		}
		job := h.register(spec)
		res := h.schedule(h.eval(job, structs.EvalTriggerJobRegister))
		if res.BlockedEval == nil {
			t.Fatalf("escaped %v: no blocked eval", escaped)
		}
		linuxClass, _ := h.st.NodeByID(nil, linux.ID)
		windowsClass, _ := h.st.NodeByID(nil, windows.ID)
		downClass, _ := h.st.NodeByID(nil, down.ID)
		if linuxClass.ComputedClass == windowsClass.ComputedClass || linuxClass.ComputedClass == downClass.ComputedClass {
			t.Fatal("nodes that differ in what constraints test share a computed class")
		}
		want := map[string]bool{linuxClass.ComputedClass: true, windowsClass.ComputedClass: false}
		if fmt.Sprint(res.BlockedEval.ClassEligibility) != fmt.Sprint(want) {
			t.Fatalf("escaped %v: class eligibility %v, want %v", escaped, res.BlockedEval.ClassEligibility, want)
		}
		if res.BlockedEval.EscapedComputedClass != escaped {
			t.Fatalf("EscapedComputedClass = %v, want %v", res.BlockedEval.EscapedComputedClass, escaped)
		}
	}
}
