package state

import (
	"errors"
	"testing"

	"drover/agent/structs"
)

func TestUpsertDeployment_KeepsStoreCounters(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	d := mockDeployment(1, job, "web")
	must(t, s.UpsertDeployment(11, d))
	a := mockAlloc(1, job, "web", id("n", 1))
	a.DeploymentID = d.ID
	must(t, s.UpsertAllocs(12, []*structs.Allocation{a}))

	// A scheduler's copy from before the placement.
	stale := mockDeployment(1, job, "web")
	stale.TaskGroups["web"].DesiredTotal = 3
	must(t, s.UpsertDeployment(13, stale))
	got := getDeployment(t, s, d.ID)
	if got.CreateIndex != 11 || got.ModifyIndex != 13 {
		t.Fatalf("indexes %d/%d", got.CreateIndex, got.ModifyIndex)
	}
	if st := got.TaskGroups["web"]; st.PlacedAllocs != 1 || st.DesiredTotal != 3 {
		t.Fatalf("state %+v", st)
	}
}

func TestUpdateDeploymentStatus(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	d := mockDeployment(1, job, "web")
	must(t, s.UpsertDeployment(11, d))

	// Success marks the version stable.
	must(t, s.UpdateDeploymentStatus(12, &structs.DeploymentStatusUpdate{
		DeploymentID: d.ID, Status: structs.DeploymentStatusSuccessful, StatusDescription: structs.DeploymentDescSuccessful,
	}, nil, nil))
	got := getDeployment(t, s, d.ID)
	if got.Status != structs.DeploymentStatusSuccessful || got.ModifyIndex != 12 {
		t.Fatalf("deployment %+v", got)
	}
	if j := getJob(t, s, "web"); !j.Stable || j.Version != 0 {
		t.Fatalf("job not stable: %+v", j)
	}
	if v, _ := s.JobByIDAndVersion(nil, "default", "web", 0); !v.Stable {
		t.Fatal("version not stable")
	}

	// Version 1 fails and auto-reverts: the revert job and its eval go in
	// the same transaction.
	must(t, s.UpsertJob(13, mockJob("web")))
	v1 := getJob(t, s, "web")
	d2 := mockDeployment(2, v1, "web")
	must(t, s.UpsertDeployment(14, d2))
	revert, _ := s.JobByIDAndVersion(nil, "default", "web", 0)
	ev := mockEval(7, "web", structs.EvalStatusPending)
	must(t, s.UpdateDeploymentStatus(15, &structs.DeploymentStatusUpdate{
		DeploymentID: d2.ID, Status: structs.DeploymentStatusFailed,
		StatusDescription: structs.DeploymentDescFailedAllocations + " - rolling back to job version 0",
	}, revert.Copy(), ev))
	j := getJob(t, s, "web")
	if j.Version != 2 || j.JobModifyIndex != 15 || j.Stable {
		t.Fatalf("revert job version=%d jobModify=%d stable=%v", j.Version, j.JobModifyIndex, j.Stable)
	}
	if e, _ := s.EvalByID(nil, ev.ID); e == nil || e.CreateIndex != 15 {
		t.Fatal("eval not stored")
	}
	if v1s, _ := s.JobByIDAndVersion(nil, "default", "web", 1); v1s.Stable {
		t.Fatal("failed version marked stable")
	}

	err := s.UpdateDeploymentStatus(16, &structs.DeploymentStatusUpdate{DeploymentID: id("d", 404)}, nil, mockEval(8, "web", "pending"))
	if !errors.Is(err, ErrDeploymentNotFound) {
		t.Fatalf("err %v", err)
	}
	if e, _ := s.EvalByID(nil, id("e", 8)); e != nil {
		t.Fatal("eval stored by a failed update")
	}
}

func TestUpdateDeploymentPromotion(t *testing.T) {
	newDeployment := func(s *StateStore) *structs.Deployment {
		job := setup(t, s, "web", "db", "cache")
		d := mockDeployment(1, job, "web", "db", "cache")
		d.TaskGroups["web"].DesiredCanaries = 1
		d.TaskGroups["db"].DesiredCanaries = 2
		d.StatusDescription = structs.DeploymentDescRunningNeedsPromotion
		must(t, s.UpsertDeployment(11, d))
		return d
	}
	cases := []struct {
		name     string
		groups   []string
		terminal bool
		wantErr  error
		promoted []string
	}{
		{"all groups", nil, false, nil, []string{"web", "db"}},
		{"one group", []string{"db"}, false, nil, []string{"db"}},
		{"group without canaries", []string{"cache"}, false, ErrNoCanaries, nil},
		{"terminal deployment", nil, true, ErrDeploymentTerminal, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustStore(t)
			d := newDeployment(s)
			if tc.terminal {
				must(t, s.UpdateDeploymentStatus(12, &structs.DeploymentStatusUpdate{
					DeploymentID: d.ID, Status: structs.DeploymentStatusCancelled,
				}, nil, nil))
			}
			ev := mockEval(3, "web", structs.EvalStatusPending)
			err := s.UpdateDeploymentPromotion(20, d.ID, tc.groups, ev)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			got := getDeployment(t, s, d.ID)
			want := map[string]bool{}
			for _, g := range tc.promoted {
				want[g] = true
			}
			for name, st := range got.TaskGroups {
				if st.Promoted != want[name] {
					t.Errorf("group %s promoted=%v", name, st.Promoted)
				}
			}
			e, _ := s.EvalByID(nil, ev.ID)
			if (e != nil) != (err == nil) {
				t.Fatalf("eval stored=%v with err=%v", e != nil, err)
			}
			if err == nil && got.StatusDescription != structs.DeploymentDescPromoted {
				t.Fatalf("description %q", got.StatusDescription)
			}
		})
	}
	s := mustStore(t)
	d := newDeployment(s)
	if err := s.UpdateDeploymentPromotion(20, d.ID, []string{"nope"}, nil); err == nil {
		t.Fatal("unknown group promoted")
	}
	if err := s.UpdateDeploymentPromotion(20, id("d", 404), nil, nil); !errors.Is(err, ErrDeploymentNotFound) {
		t.Fatalf("err %v", err)
	}
}

func TestLatestDeploymentByJobID(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	if d, err := s.LatestDeploymentByJobID(nil, "default", "web"); err != nil || d != nil {
		t.Fatalf("no deployments: %v %v", d, err)
	}
	// IDs deliberately out of creation order.
	for i, n := range []int{5, 2, 9} {
		d := mockDeployment(n, job, "web")
		if i < 2 {
			d.Status = structs.DeploymentStatusSuccessful
		} else {
			d.Status = structs.DeploymentStatusFailed
		}
		must(t, s.UpsertDeployment(uint64(20+i), d))
	}
	must(t, s.UpsertDeployment(30, mockDeployment(1, mockJob("other"), "web")))
	latest, err := s.LatestDeploymentByJobID(nil, "default", "web")
	must(t, err)
	if latest == nil || latest.ID != id("d", 9) {
		t.Fatalf("latest %v, want d9 (highest CreateIndex, terminal or not)", latest)
	}
	// A later update of an older deployment does not make it the latest.
	must(t, s.UpdateDeploymentStatus(31, &structs.DeploymentStatusUpdate{
		DeploymentID: id("d", 5), Status: structs.DeploymentStatusFailed,
	}, nil, nil))
	latest, _ = s.LatestDeploymentByJobID(nil, "default", "web")
	if latest.ID != id("d", 9) {
		t.Fatalf("latest %s", latest.ID)
	}
	all, _ := s.DeploymentsByJobID(nil, "default", "web")
	if len(all) != 3 || all[0].ID != id("d", 5) || all[1].ID != id("d", 2) {
		t.Fatalf("by job: %d", len(all))
	}
}
