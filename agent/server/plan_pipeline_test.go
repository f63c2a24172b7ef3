package server

import (
	"testing"

	"drover/agent/state"
	"drover/agent/structs"
)

// The plan applier checks a plan while the one before it is still being
// committed (planApply). The placements of that plan must count on their
// nodes as if committed, once each: not at all would over-commit a node,
// twice (when the snapshot already holds them) would refuse a plan that
// fits.
func TestEvaluatePlanOver_CountsPendingPlacementsOnce(t *testing.T) {
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	node := testNode("n1", 300, 4096) // room for three allocations of 100 MHz
	if err := st.UpsertNode(10, node); err != nil {
		t.Fatal(err)
	}
	job := &structs.Job{ID: "web", Name: "web", Namespace: structs.DefaultNamespace, Type: structs.JobTypeService}
	alloc := func() *structs.Allocation {
		return &structs.Allocation{ID: structs.GenerateUUID(), Namespace: job.Namespace, JobID: job.ID, Job: job,
			NodeID: node.ID, TaskGroup: "g", DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusPending,
			AllocatedResources: &structs.AllocatedResources{Tasks: map[string]*structs.AllocatedTaskResources{
				"t": {Cpu: structs.AllocatedCpuResources{CpuShares: 100}, Memory: structs.AllocatedMemoryResources{MemoryMB: 64}}}}}
	}
	planOf := func(allocs ...*structs.Allocation) *structs.Plan {
		return &structs.Plan{NodeAllocation: map[string][]*structs.Allocation{node.ID: allocs}}
	}
	pendingOf := func(allocs ...*structs.Allocation) *structs.PlanResult {
		return &structs.PlanResult{NodeAllocation: map[string][]*structs.Allocation{node.ID: allocs}}
	}

	// In flight, not yet applied: two placements take two of the three slots.
	first := []*structs.Allocation{alloc(), alloc()}
	res, err := evaluatePlanOver(st.Snapshot(), pendingOf(first...), planOf(alloc(), alloc()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NodeAllocation) != 0 || res.RefreshIndex == 0 {
		t.Fatalf("two more beside two pending fit on a node of three: %+v", res)
	}
	res, err = evaluatePlanOver(st.Snapshot(), pendingOf(first...), planOf(alloc()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NodeAllocation[node.ID]) != 1 {
		t.Fatalf("one more beside two pending was refused: %+v", res)
	}

	// Applied meanwhile: the snapshot holds them, and they count once.
	if err := st.UpsertAllocs(11, first); err != nil {
		t.Fatal(err)
	}
	res, err = evaluatePlanOver(st.Snapshot(), pendingOf(first...), planOf(alloc()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.NodeAllocation[node.ID]) != 1 {
		t.Fatalf("the applied placements counted twice: one more was refused: %+v", res)
	}
}

// An evaluation fails ("maximum attempts reached (5)") only after five
// plans in a row commit nothing; a plan that commits anything, even in
// part, resets the count. This is the compatible scheduler's retry rule
// (its retryMax with progressMade), and what keeps two workers that keep
// refusing parts of each other's plans on a busy cluster from failing
// evaluations that are making progress.
func TestPlanFailures_ResetByProgress(t *testing.T) {
	placed := &structs.PlanResult{NodeAllocation: map[string][]*structs.Allocation{"n1": {{ID: "a"}}}}
	stopped := &structs.PlanResult{NodeUpdate: map[string][]*structs.Allocation{"n1": {{ID: "b"}}}}
	deployment := &structs.PlanResult{Deployment: &structs.Deployment{ID: "d"}}
	nothing := &structs.PlanResult{NodeAllocation: map[string][]*structs.Allocation{}, RefreshIndex: 9}
	cases := []struct {
		name   string
		before int
		result *structs.PlanResult
		want   int
	}{
		{"placements committed", 4, placed, 0},
		{"stops committed", 3, stopped, 0},
		{"a deployment committed", 2, deployment, 0},
		{"nothing committed", 0, nothing, 1},
		{"nothing committed again", 4, nothing, maxPlanAttempts},
		{"no result", 1, nil, 2},
	}
	for _, c := range cases {
		if got := planFailures(c.before, c.result); got != c.want {
			t.Errorf("%s: after %d failures, %d; want %d", c.name, c.before, got, c.want)
		}
	}
}
