package state

import (
	"errors"
	"testing"
	"time"

	"drover/agent/structs"
)

// setup registers job "web" (groups given) and returns the stored job.
func setup(t *testing.T, s *StateStore, groups ...string) *structs.Job {
	t.Helper()
	must(t, s.UpsertJob(10, mockJob("web", groups...)))
	return getJob(t, s, "web")
}

func TestUpsertAllocs_NewAndKeepsClientFields(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	a := mockAlloc(1, job, "web", id("n", 1))
	a.Job = nil // denormalized from the current job
	a.ClientStatus = ""
	a.CreateTime = 5
	must(t, s.UpsertAllocs(20, []*structs.Allocation{a}))

	got := getAlloc(t, s, id("a", 1))
	if got.CreateIndex != 20 || got.ModifyIndex != 20 || got.AllocModifyIndex != 20 {
		t.Fatalf("new alloc indexes %d/%d/%d", got.CreateIndex, got.ModifyIndex, got.AllocModifyIndex)
	}
	if got.Job != job {
		t.Fatal("Job not filled from the current job")
	}
	if got.ClientStatus != structs.AllocClientStatusPending {
		t.Fatalf("client status %q, want pending", got.ClientStatus)
	}

	// The client reports.
	healthy := got.Copy()
	healthy.ClientStatus = structs.AllocClientStatusRunning
	healthy.ClientDescription = "Tasks are running"
	healthy.TaskStates = map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning}}
	healthy.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: boolp(true), Timestamp: time.Unix(100, 0).UTC()}
	must(t, s.UpdateAllocsFromClient(21, []*structs.Allocation{healthy}))

	cases := []struct {
		name                 string
		mutate               func(a *structs.Allocation)
		wantClient, wantDesc string
		wantHealth           bool
		wantJobVersion       uint64
	}{
		{"scheduler update keeps client view", func(a *structs.Allocation) {
			a.ClientStatus = structs.AllocClientStatusPending // stale copy of the scheduler
			a.ClientDescription = "stale"
			a.TaskStates = nil
			a.DeploymentStatus = nil
			a.DesiredDescription = "still wanted"
		}, structs.AllocClientStatusRunning, "Tasks are running", true, 0},
		{"empty client status keeps", func(a *structs.Allocation) {
			a.ClientStatus = ""
			a.Job = nil // keeps the job it was made for
		}, structs.AllocClientStatusRunning, "Tasks are running", true, 0},
		{"server marks lost", func(a *structs.Allocation) {
			a.ClientStatus = structs.AllocClientStatusLost
			a.ClientDescription = "node down"
			a.DesiredStatus = structs.AllocDesiredStatusStop
		}, structs.AllocClientStatusLost, "node down", true, 0},
		{"new deployment resets health", func(a *structs.Allocation) {
			a.DeploymentID = id("d", 9)
		}, structs.AllocClientStatusLost, "node down", false, 0},
	}
	idx := uint64(30)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx++
			stored := getAlloc(t, s, id("a", 1))
			in := stored.Copy()
			tc.mutate(in)
			must(t, s.UpsertAllocs(idx, []*structs.Allocation{in}))
			got := getAlloc(t, s, id("a", 1))
			if got.CreateIndex != 20 || got.ModifyIndex != idx || got.AllocModifyIndex != idx {
				t.Fatalf("indexes %d/%d/%d", got.CreateIndex, got.ModifyIndex, got.AllocModifyIndex)
			}
			if got.CreateTime != 5 {
				t.Fatalf("CreateTime %d, want kept 5", got.CreateTime)
			}
			if got.ClientStatus != tc.wantClient || got.ClientDescription != tc.wantDesc {
				t.Fatalf("client %q %q, want %q %q", got.ClientStatus, got.ClientDescription, tc.wantClient, tc.wantDesc)
			}
			if got.TaskStates["t"] == nil {
				t.Fatal("task states lost")
			}
			if got.DeploymentStatus.IsHealthy() != tc.wantHealth {
				t.Fatalf("healthy %v, want %v", got.DeploymentStatus.IsHealthy(), tc.wantHealth)
			}
			if got.Job == nil || got.Job.Version != tc.wantJobVersion {
				t.Fatal("job lost")
			}
		})
	}
	sum := getSummary(t, s, "web").Summary["web"]
	if sum != (structs.TaskGroupSummary{Lost: 1}) {
		t.Fatalf("summary %+v, want one lost", sum)
	}
}

func TestUpsertAllocs_WithoutJobFails(t *testing.T) {
	s := mustStore(t)
	a := mockAlloc(1, mockJob("ghost"), "web", id("n", 1))
	a.Job = nil
	if err := s.UpsertAllocs(5, []*structs.Allocation{a}); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("err = %v, want job not found", err)
	}
	if got := tableIndexOf(t, s, TableAllocs); got != 0 {
		t.Fatal("failed write changed the index")
	}
}

func TestUpsertAllocs_LinksReplacement(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	must(t, s.UpsertAllocs(20, []*structs.Allocation{mockAlloc(1, job, "web", id("n", 1))}))
	repl := mockAlloc(2, job, "web", id("n", 2))
	repl.PreviousAllocation = id("a", 1)
	must(t, s.UpsertAllocs(21, []*structs.Allocation{repl}))
	if got := getAlloc(t, s, id("a", 1)); got.NextAllocation != id("a", 2) || got.ModifyIndex != 21 {
		t.Fatalf("previous alloc next=%q modify=%d", got.NextAllocation, got.ModifyIndex)
	}
}

func TestUpdateAllocsFromClient(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s, "web", "db")
	dep := mockDeployment(1, job, "web")
	must(t, s.UpsertDeployment(15, dep))
	var allocs []*structs.Allocation
	for i := 1; i <= 3; i++ {
		a := mockAlloc(i, job, "web", id("n", 1))
		a.DeploymentID = dep.ID
		allocs = append(allocs, a)
	}
	allocs = append(allocs, mockAlloc(4, job, "db", id("n", 1)))
	must(t, s.UpsertAllocs(20, allocs))
	if got := getDeployment(t, s, dep.ID).TaskGroups["web"].PlacedAllocs; got != 3 {
		t.Fatalf("PlacedAllocs %d, want 3", got)
	}
	if got := getSummary(t, s, "web").Summary["web"]; got.Starting != 3 {
		t.Fatalf("summary %+v, want 3 starting", got)
	}

	healthAt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	report := func(n int, status string, healthy *bool) *structs.Allocation {
		a := &structs.Allocation{
			ID: id("a", n), ClientStatus: status, ClientDescription: "desc " + status, ModifyTime: 777,
			TaskStates: map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning}},
			// Fields a client must not change.
			NodeID: "evil", DesiredStatus: structs.AllocDesiredStatusStop, JobID: "other",
		}
		if healthy != nil {
			a.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: healthy, Timestamp: healthAt}
		}
		return a
	}
	must(t, s.UpdateAllocsFromClient(30, []*structs.Allocation{
		report(1, structs.AllocClientStatusRunning, boolp(true)),
		report(2, structs.AllocClientStatusFailed, boolp(false)),
		report(3, structs.AllocClientStatusRunning, nil),
		report(4, structs.AllocClientStatusComplete, nil),
		{ID: id("a", 99), ClientStatus: structs.AllocClientStatusRunning}, // unknown: skipped
	}))

	a1 := getAlloc(t, s, id("a", 1))
	if a1.ClientStatus != structs.AllocClientStatusRunning || a1.ClientDescription != "desc running" ||
		a1.ModifyTime != 777 || a1.TaskStates["t"] == nil {
		t.Fatalf("client fields not applied: %+v", a1)
	}
	if a1.NodeID != id("n", 1) || a1.DesiredStatus != structs.AllocDesiredStatusRun || a1.JobID != "web" {
		t.Fatal("client changed server fields")
	}
	if a1.ModifyIndex != 30 || a1.AllocModifyIndex != 20 || a1.DeploymentStatus.ModifyIndex != 30 {
		t.Fatalf("indexes modify=%d allocModify=%d", a1.ModifyIndex, a1.AllocModifyIndex)
	}
	if a, _ := s.AllocByID(nil, id("a", 99)); a != nil {
		t.Fatal("unknown alloc created by a client update")
	}

	st := getDeployment(t, s, dep.ID).TaskGroups["web"]
	if st.HealthyAllocs != 1 || st.UnhealthyAllocs != 1 {
		t.Fatalf("healthy %d unhealthy %d, want 1 and 1", st.HealthyAllocs, st.UnhealthyAllocs)
	}
	if want := healthAt.Add(10 * time.Minute); !st.RequireProgressBy.Equal(want) {
		t.Fatalf("RequireProgressBy %v, want %v", st.RequireProgressBy, want)
	}
	sum := getSummary(t, s, "web")
	if got := sum.Summary["web"]; got != (structs.TaskGroupSummary{Running: 2, Failed: 1}) {
		t.Fatalf("web summary %+v", got)
	}
	if got := sum.Summary["db"]; got != (structs.TaskGroupSummary{Complete: 1}) {
		t.Fatalf("db summary %+v", got)
	}
	if sum.ModifyIndex != 30 {
		t.Fatalf("summary ModifyIndex %d", sum.ModifyIndex)
	}

	// Health already known: a repeated report does not count again.
	must(t, s.UpdateAllocsFromClient(31, []*structs.Allocation{report(1, structs.AllocClientStatusRunning, boolp(true))}))
	if got := getDeployment(t, s, dep.ID).TaskGroups["web"].HealthyAllocs; got != 1 {
		t.Fatalf("healthy counted twice: %d", got)
	}
	// Health becoming known later counts once.
	must(t, s.UpdateAllocsFromClient(32, []*structs.Allocation{report(3, structs.AllocClientStatusRunning, boolp(true))}))
	if got := getDeployment(t, s, dep.ID).TaskGroups["web"].HealthyAllocs; got != 2 {
		t.Fatalf("healthy %d, want 2", got)
	}
}

func TestUpdateAllocsDesiredTransitions(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	must(t, s.UpsertAllocs(20, []*structs.Allocation{mockAlloc(1, job, "web", id("n", 1))}))
	ev := mockEval(5, "web", structs.EvalStatusPending)
	ev.TriggeredBy = structs.EvalTriggerNodeDrain
	must(t, s.UpdateAllocsDesiredTransitions(21, map[string]*structs.DesiredTransition{
		id("a", 1):  {Migrate: boolp(true)},
		id("a", 42): {Migrate: boolp(true)},
	}, []*structs.Evaluation{ev}))
	a := getAlloc(t, s, id("a", 1))
	if !a.DesiredTransition.ShouldMigrate() || a.ModifyIndex != 21 {
		t.Fatalf("transition not set: %+v", a.DesiredTransition)
	}
	if e, _ := s.EvalByID(nil, ev.ID); e == nil || e.CreateIndex != 21 {
		t.Fatal("eval not stored with the transition")
	}
}

func TestUpsertPlanResults(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	// Version 0 runs two allocs in deployment d1.
	d1 := mockDeployment(1, job, "web")
	must(t, s.UpsertDeployment(11, d1))
	old1, old2 := mockAlloc(1, job, "web", id("n", 1)), mockAlloc(2, job, "web", id("n", 1))
	old1.DeploymentID, old2.DeploymentID = d1.ID, d1.ID
	must(t, s.UpsertAllocs(12, []*structs.Allocation{old1, old2}))
	run := func(n int) *structs.Allocation {
		a := getAlloc(t, s, id("a", n)).Copy()
		a.ClientStatus = structs.AllocClientStatusRunning
		a.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: boolp(true), Timestamp: time.Unix(50, 0).UTC()}
		return a
	}
	must(t, s.UpdateAllocsFromClient(13, []*structs.Allocation{run(1), run(2)}))

	// Version 1 arrives; its plan cancels d1, creates d2, stops alloc 1,
	// updates alloc 2 in place into d2 and places alloc 3.
	must(t, s.UpsertJob(14, mockJob("web")))
	v1 := getJob(t, s, "web")
	must(t, s.UpsertEvals(15, []*structs.Evaluation{{
		ID: id("e", 2), Namespace: "default", JobID: "web", Status: structs.EvalStatusPending,
		QueuedAllocations: map[string]int{"web": 2},
	}}))
	if q := getSummary(t, s, "web").Summary["web"].Queued; q != 2 {
		t.Fatalf("queued %d, want 2", q)
	}
	d2 := mockDeployment(2, v1, "web")
	inPlace := getAlloc(t, s, id("a", 2)).Copy()
	inPlace.Job = nil // filled from req.Job
	inPlace.DeploymentID = d2.ID
	inPlace.DeploymentStatus = nil
	placed := mockAlloc(3, v1, "web", id("n", 2))
	placed.Job = nil
	placed.DeploymentID = d2.ID
	placed.DeploymentStatus = &structs.AllocDeploymentStatus{Canary: true}
	stop := &structs.Allocation{ // only the decision
		ID: id("a", 1), DesiredStatus: structs.AllocDesiredStatusStop,
		DesiredDescription: structs.AllocNotNeeded, FollowupEvalID: id("e", 3),
	}
	ts := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	evDone := mockEval(2, "web", structs.EvalStatusComplete)
	evDone.QueuedAllocations = map[string]int{"web": 0}
	req := &ApplyPlanResultsRequest{
		Job:           v1,
		AllocsStopped: []*structs.Allocation{stop},
		AllocsUpdated: []*structs.Allocation{inPlace},
		AllocsPlaced:  []*structs.Allocation{placed},
		Deployment:    d2,
		DeploymentUpdates: []*structs.DeploymentStatusUpdate{{
			DeploymentID: d1.ID, Status: structs.DeploymentStatusCancelled,
			StatusDescription: structs.DeploymentDescNewerJob,
		}},
		EvalUpdates: []*structs.Evaluation{evDone},
		Timestamp:   ts,
	}
	snapBefore := s.Snapshot()
	must(t, s.UpsertPlanResults(20, req))

	if got := getDeployment(t, s, d1.ID); got.Status != structs.DeploymentStatusCancelled || got.ModifyIndex != 20 ||
		got.StatusDescription != structs.DeploymentDescNewerJob || got.ModifyTime != ts {
		t.Fatalf("d1 not cancelled: %+v", got)
	}
	gotD2 := getDeployment(t, s, d2.ID)
	st := gotD2.TaskGroups["web"]
	if gotD2.CreateIndex != 20 || gotD2.CreateTime != ts || st.PlacedAllocs != 2 {
		t.Fatalf("d2 create=%d time=%d placed=%d", gotD2.CreateIndex, gotD2.CreateTime, st.PlacedAllocs)
	}
	if want := time.Unix(0, ts).UTC().Add(10 * time.Minute); !st.RequireProgressBy.Equal(want) {
		t.Fatalf("RequireProgressBy %v, want %v", st.RequireProgressBy, want)
	}
	if len(st.PlacedCanaries) != 1 || st.PlacedCanaries[0] != placed.ID {
		t.Fatalf("PlacedCanaries %v", st.PlacedCanaries)
	}

	a1 := getAlloc(t, s, id("a", 1))
	if a1.DesiredStatus != structs.AllocDesiredStatusStop || a1.DesiredDescription != structs.AllocNotNeeded ||
		a1.FollowupEvalID != id("e", 3) || a1.NodeID != id("n", 1) || a1.Job.Version != 0 ||
		a1.ClientStatus != structs.AllocClientStatusRunning || a1.ModifyTime != ts || a1.AllocModifyIndex != 20 {
		t.Fatalf("stopped alloc: %+v", a1)
	}
	a2 := getAlloc(t, s, id("a", 2))
	if a2.Job != v1 || a2.DeploymentID != d2.ID || a2.DeploymentStatus != nil || a2.CreateIndex != 12 ||
		a2.ClientStatus != structs.AllocClientStatusRunning {
		t.Fatalf("in-place alloc: job v%d dep %q health %+v", a2.Job.Version, a2.DeploymentID, a2.DeploymentStatus)
	}
	a3 := getAlloc(t, s, id("a", 3))
	if a3.Job != v1 || a3.CreateTime != ts || a3.ModifyTime != ts || a3.CreateIndex != 20 {
		t.Fatalf("placed alloc: %+v", a3)
	}
	if d1st := getDeployment(t, s, d1.ID).TaskGroups["web"]; d1st.PlacedAllocs != 2 {
		t.Fatalf("cancelled deployment's counters changed: %+v", d1st)
	}
	sum := getSummary(t, s, "web").Summary["web"]
	if sum != (structs.TaskGroupSummary{Running: 2, Starting: 1}) {
		t.Fatalf("summary %+v", sum)
	}
	if e, _ := s.EvalByID(nil, id("e", 2)); e == nil || e.Status != structs.EvalStatusComplete || e.CreateIndex != 15 {
		t.Fatalf("eval not updated: %+v", e)
	}
	if j := getJob(t, s, "web"); j.Status != structs.JobStatusRunning {
		t.Fatalf("job status %q", j.Status)
	}
	for _, table := range []string{TableAllocs, TableDeployments, TableEvals} {
		if got := tableIndexOf(t, s, table); got != 20 {
			t.Errorf("Index(%s) = %d", table, got)
		}
	}
	// The snapshot taken before saw none of it.
	if d, _ := snapBefore.DeploymentByID(nil, d2.ID); d != nil {
		t.Fatal("snapshot sees a later write")
	}
	if a, _ := snapBefore.AllocByID(nil, id("a", 1)); a.DesiredStatus != structs.AllocDesiredStatusRun {
		t.Fatal("stored alloc mutated in place")
	}
}

func TestUpsertPlanResults_Atomic(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	req := &ApplyPlanResultsRequest{
		Job:          job,
		AllocsPlaced: []*structs.Allocation{mockAlloc(1, job, "web", id("n", 1))},
		Deployment:   mockDeployment(1, job, "web"),
		DeploymentUpdates: []*structs.DeploymentStatusUpdate{{
			DeploymentID: id("d", 404), Status: structs.DeploymentStatusCancelled,
		}},
		Timestamp: 1,
	}
	if err := s.UpsertPlanResults(20, req); !errors.Is(err, ErrDeploymentNotFound) {
		t.Fatalf("err = %v, want deployment not found", err)
	}
	if a, _ := s.AllocByID(nil, id("a", 1)); a != nil {
		t.Fatal("half a plan applied: alloc")
	}
	if d, _ := s.DeploymentByID(nil, id("d", 1)); d != nil {
		t.Fatal("half a plan applied: deployment")
	}
	if got, _ := s.LatestIndex(); got != 10 {
		t.Fatalf("LatestIndex %d, want 10", got)
	}
}

// TestUpsertPlanResults_NormalisedForms: a stop as a bare decision
// (AllocStop) is applied to the stored allocation; an update that keeps
// its job takes the stored allocation's version, not the plan's; and
// neither creates an allocation that is no longer stored.
func TestUpsertPlanResults_NormalisedForms(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	a1, a2 := mockAlloc(1, job, "web", id("n", 1)), mockAlloc(2, job, "web", id("n", 1))
	must(t, s.UpsertAllocs(12, []*structs.Allocation{a1, a2}))
	must(t, s.UpsertJob(13, mockJob("web")))
	v1 := getJob(t, s, "web")
	if v1.Version == getAlloc(t, s, a2.ID).Job.Version {
		t.Fatal("setup: the new version is not newer")
	}

	annotated := getAlloc(t, s, a2.ID).Copy()
	annotated.Job = nil
	annotated.FollowupEvalID = id("e", 9)
	missing := mockAlloc(404, job, "web", id("n", 1))
	missing.Job = nil
	req := &ApplyPlanResultsRequest{
		Job: v1,
		AllocStops: []*AllocStop{
			NewAllocStop(&structs.Allocation{ID: a1.ID, DesiredStatus: structs.AllocDesiredStatusStop,
				DesiredDescription: structs.AllocLost, ClientStatus: structs.AllocClientStatusLost}),
			{ID: id("a", 405), DesiredStatus: structs.AllocDesiredStatusStop},
		},
		AllocsUpdatedKeepJob: []*structs.Allocation{annotated, missing},
		Timestamp:            7,
	}
	must(t, s.UpsertPlanResults(20, req))

	got1 := getAlloc(t, s, a1.ID)
	if got1.DesiredStatus != structs.AllocDesiredStatusStop || got1.ClientStatus != structs.AllocClientStatusLost ||
		got1.DesiredDescription != structs.AllocLost || got1.Job.Version != job.Version || got1.NodeID != a1.NodeID {
		t.Fatalf("stopped alloc: %+v", got1)
	}
	got2 := getAlloc(t, s, a2.ID)
	if got2.FollowupEvalID != id("e", 9) || got2.Job.Version != job.Version || got2.ModifyIndex != 20 {
		t.Fatalf("annotated alloc: follow-up %q, job v%d, index %d", got2.FollowupEvalID, got2.Job.Version, got2.ModifyIndex)
	}
	for _, n := range []int{404, 405} {
		if a, _ := s.AllocByID(nil, id("a", n)); a != nil {
			t.Fatalf("alloc %d created by a stop or annotation", n)
		}
	}
}
