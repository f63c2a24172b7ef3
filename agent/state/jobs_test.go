package state

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"drover/agent/structs"
)

func TestUpsertJob_VersionsAndIndexes(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web", "a", "b")))

	j := getJob(t, s, "web")
	if j.CreateIndex != 10 || j.ModifyIndex != 10 || j.JobModifyIndex != 10 || j.Version != 0 {
		t.Fatalf("new job indexes: create=%d modify=%d jobModify=%d version=%d",
			j.CreateIndex, j.ModifyIndex, j.JobModifyIndex, j.Version)
	}
	if j.SubmitTime != 1700000000000000000 {
		t.Fatalf("SubmitTime not kept: %d", j.SubmitTime)
	}
	if j.Status != structs.JobStatusPending {
		t.Fatalf("status of a fresh job = %q, want pending", j.Status)
	}
	sum := getSummary(t, s, "web")
	if len(sum.Summary) != 2 || sum.CreateIndex != 10 {
		t.Fatalf("summary = %+v", sum)
	}

	must(t, s.UpdateJobStability(11, "default", "web", 0, true))
	if !getJob(t, s, "web").Stable {
		t.Fatal("version 0 not marked stable")
	}

	// A new version: group b goes, c comes.
	next := mockJob("web", "a", "c")
	next.Version = 7 // the store numbers versions, not the caller
	next.Stable = true
	next.CreateIndex = 99
	must(t, s.UpsertJob(12, next))
	j = getJob(t, s, "web")
	if j.CreateIndex != 10 || j.ModifyIndex != 12 || j.JobModifyIndex != 12 || j.Version != 1 || j.Stable {
		t.Fatalf("second version: create=%d modify=%d jobModify=%d version=%d stable=%v",
			j.CreateIndex, j.ModifyIndex, j.JobModifyIndex, j.Version, j.Stable)
	}
	sum = getSummary(t, s, "web")
	if _, ok := sum.Summary["b"]; ok {
		t.Fatal("removed group b still in summary")
	}
	if _, ok := sum.Summary["c"]; !ok {
		t.Fatal("added group c missing from summary")
	}

	vs, err := s.JobVersionsByID(nil, "default", "web")
	must(t, err)
	if len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 0 || !vs[1].Stable {
		t.Fatalf("versions = %+v", vs)
	}
	v0, err := s.JobByIDAndVersion(nil, "default", "web", 0)
	must(t, err)
	if v0 == nil || v0.LookupTaskGroup("b") == nil {
		t.Fatal("version 0 not kept as registered")
	}
	if v, _ := s.JobByIDAndVersion(nil, "default", "web", 5); v != nil {
		t.Fatal("unknown version found")
	}
	for table, want := range map[string]uint64{TableJobs: 12, TableJobVersions: 12, TableJobSummary: 12, TableEvals: 0} {
		if got := tableIndexOf(t, s, table); got != want {
			t.Errorf("Index(%s) = %d, want %d", table, got, want)
		}
	}
	if got, _ := s.LatestIndex(); got != 12 {
		t.Errorf("LatestIndex = %d, want 12", got)
	}
	if j, _ := s.JobByID(nil, "default", "nope"); j != nil {
		t.Error("absent job found")
	}
	if j, _ := s.JobByID(nil, "other", "web"); j != nil {
		t.Error("job found in the wrong namespace")
	}
}

func TestUpsertJob_TrimsVersionHistory(t *testing.T) {
	cases := []struct {
		name        string
		stable      bool // mark version 0 stable before the later versions
		upserts     int
		wantVersion []uint64
	}{
		{"fewer than tracked", false, 4, []uint64{3, 2, 1, 0}},
		{"trimmed to six newest", false, 9, []uint64{8, 7, 6, 5, 4, 3}},
		{"newest stable kept beyond six", true, 9, []uint64{8, 7, 6, 5, 4, 3, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustStore(t)
			idx := uint64(100)
			for i := 0; i < tc.upserts; i++ {
				idx++
				must(t, s.UpsertJob(idx, mockJob("web")))
				if i == 0 && tc.stable {
					idx++
					must(t, s.UpdateJobStability(idx, "default", "web", 0, true))
				}
			}
			vs, err := s.JobVersionsByID(nil, "default", "web")
			must(t, err)
			var got []uint64
			for _, v := range vs {
				got = append(got, v.Version)
			}
			if len(got) != len(tc.wantVersion) {
				t.Fatalf("versions %v, want %v", got, tc.wantVersion)
			}
			for i := range got {
				if got[i] != tc.wantVersion[i] {
					t.Fatalf("versions %v, want %v", got, tc.wantVersion)
				}
			}
		})
	}
}

func TestDeleteJob_Purge(t *testing.T) {
	s := mustStore(t)
	job := mockJob("web")
	must(t, s.UpsertJob(10, job))
	must(t, s.UpsertJob(11, mockJob("web")))
	must(t, s.UpsertEvals(12, []*structs.Evaluation{mockEval(1, "web", structs.EvalStatusComplete)}))
	must(t, s.UpsertAllocs(13, []*structs.Allocation{mockAlloc(1, getJob(t, s, "web"), "web", id("n", 1))}))

	must(t, s.DeleteJob(14, "default", "web"))
	if j, _ := s.JobByID(nil, "default", "web"); j != nil {
		t.Fatal("job still there")
	}
	if vs, _ := s.JobVersionsByID(nil, "default", "web"); len(vs) != 0 {
		t.Fatalf("versions left: %d", len(vs))
	}
	if sum, _ := s.JobSummaryByID(nil, "default", "web"); sum != nil {
		t.Fatal("summary left")
	}
	if a, _ := s.AllocByID(nil, id("a", 1)); a == nil {
		t.Fatal("purge deleted an allocation")
	}
	if e, _ := s.EvalByID(nil, id("e", 1)); e == nil {
		t.Fatal("purge deleted an evaluation")
	}
	for _, table := range []string{TableJobs, TableJobVersions, TableJobSummary} {
		if got := tableIndexOf(t, s, table); got != 14 {
			t.Errorf("Index(%s) = %d, want 14", table, got)
		}
	}
	if err := s.DeleteJob(15, "default", "web"); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("purging a missing job: %v, want job not found", err)
	}

	// Registered again: a new incarnation that does not see the old allocs.
	must(t, s.UpsertJob(16, mockJob("web")))
	j := getJob(t, s, "web")
	if j.Version != 0 || j.CreateIndex != 16 {
		t.Fatalf("re-created job version=%d create=%d", j.Version, j.CreateIndex)
	}
	cur, err := s.AllocsByJob(nil, "default", "web", false)
	must(t, err)
	all, err := s.AllocsByJob(nil, "default", "web", true)
	must(t, err)
	if len(cur) != 0 || len(all) != 1 {
		t.Fatalf("AllocsByJob current=%d all=%d, want 0 and 1", len(cur), len(all))
	}
	if got := getSummary(t, s, "web").Summary["web"]; got != (structs.TaskGroupSummary{}) {
		t.Fatalf("new incarnation counts old allocs: %+v", got)
	}
	// The old alloc changing does not leak into the new summary.
	old := getAlloc(t, s, id("a", 1)).Copy()
	old.ClientStatus = structs.AllocClientStatusRunning
	must(t, s.UpdateAllocsFromClient(17, []*structs.Allocation{old}))
	if got := getSummary(t, s, "web").Summary["web"]; got != (structs.TaskGroupSummary{}) {
		t.Fatalf("old incarnation's alloc counted: %+v", got)
	}
	if got := getJob(t, s, "web").Status; got != structs.JobStatusDead {
		// It has an (old, terminal) evaluation and no allocation of its own.
		t.Fatalf("status = %q, want dead", got)
	}
}

func TestJobStatusTransitions(t *testing.T) {
	type step struct {
		name  string
		apply func(s *StateStore, idx uint64) error
		want  string
	}
	job := func() *structs.Job { return mockJob("web") }
	alloc := func(s *StateStore, n int) *structs.Allocation {
		j, _ := s.JobByID(nil, "default", "web")
		return mockAlloc(n, j, "web", id("n", 1))
	}
	setClient := func(n int, status string) func(s *StateStore, idx uint64) error {
		return func(s *StateStore, idx uint64) error {
			a, _ := s.AllocByID(nil, id("a", n))
			c := a.Copy()
			c.ClientStatus = status
			return s.UpdateAllocsFromClient(idx, []*structs.Allocation{c})
		}
	}
	evalStatus := func(n int, status string) func(s *StateStore, idx uint64) error {
		return func(s *StateStore, idx uint64) error {
			return s.UpsertEvals(idx, []*structs.Evaluation{mockEval(n, "web", status)})
		}
	}
	register := func(s *StateStore, idx uint64) error { return s.UpsertJob(idx, job()) }
	place := func(s *StateStore, idx uint64) error {
		return s.UpsertAllocs(idx, []*structs.Allocation{alloc(s, 1)})
	}

	cases := []struct {
		name  string
		steps []step
	}{
		{"pending, running, dead", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval pending", evalStatus(1, structs.EvalStatusPending), structs.JobStatusPending},
			{"alloc placed", place, structs.JobStatusRunning},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusRunning},
			{"alloc running", setClient(1, structs.AllocClientStatusRunning), structs.JobStatusRunning},
			{"alloc complete", setClient(1, structs.AllocClientStatusComplete), structs.JobStatusDead},
		}},
		{"stop", []step{
			{"registered", register, structs.JobStatusPending},
			{"placed", place, structs.JobStatusRunning},
			{"stopped", func(s *StateStore, idx uint64) error {
				j := job()
				j.Stop = true
				return s.UpsertJob(idx, j)
			}, structs.JobStatusRunning},
			{"deregister eval", evalStatus(2, structs.EvalStatusPending), structs.JobStatusRunning},
			{"alloc stopped", func(s *StateStore, idx uint64) error {
				a, _ := s.AllocByID(nil, id("a", 1))
				c := a.Copy()
				c.DesiredStatus = structs.AllocDesiredStatusStop
				return s.UpsertAllocs(idx, []*structs.Allocation{c})
			}, structs.JobStatusPending},
			{"eval complete", evalStatus(2, structs.EvalStatusComplete), structs.JobStatusDead},
		}},
		{"stopped before any eval", []step{
			{"registered stopped", func(s *StateStore, idx uint64) error {
				j := job()
				j.Stop = true
				return s.UpsertJob(idx, j)
			}, structs.JobStatusDead},
		}},
		{"blocked eval is pending", []step{
			{"registered", register, structs.JobStatusPending},
			{"blocked", evalStatus(1, structs.EvalStatusBlocked), structs.JobStatusPending},
			{"failed", evalStatus(1, structs.EvalStatusFailed), structs.JobStatusDead},
		}},
		{"active deployment is running", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"deployment", func(s *StateStore, idx uint64) error {
				j, _ := s.JobByID(nil, "default", "web")
				return s.UpsertDeployment(idx, mockDeployment(1, j, "web"))
			}, structs.JobStatusRunning},
			{"deployment fails", func(s *StateStore, idx uint64) error {
				return s.UpdateDeploymentStatus(idx, &structs.DeploymentStatusUpdate{
					DeploymentID: id("d", 1), Status: structs.DeploymentStatusFailed,
				}, nil, nil)
			}, structs.JobStatusDead},
		}},
		{"periodic", []step{
			{"registered", func(s *StateStore, idx uint64) error {
				j := job()
				j.Type = structs.JobTypeBatch
				j.Periodic = &structs.PeriodicConfig{Enabled: true, Spec: "* * * * *"}
				return s.UpsertJob(idx, j)
			}, structs.JobStatusRunning},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusRunning},
			{"stopped", func(s *StateStore, idx uint64) error {
				j := job()
				j.Periodic = &structs.PeriodicConfig{Enabled: true, Spec: "* * * * *"}
				j.Stop = true
				return s.UpsertJob(idx, j)
			}, structs.JobStatusDead},
		}},
		{"paused deployment is running", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"deployment", func(s *StateStore, idx uint64) error {
				j, _ := s.JobByID(nil, "default", "web")
				return s.UpsertDeployment(idx, mockDeployment(1, j, "web"))
			}, structs.JobStatusRunning},
			{"paused", func(s *StateStore, idx uint64) error {
				return s.UpdateDeploymentStatus(idx, &structs.DeploymentStatusUpdate{
					DeploymentID: id("d", 1), Status: structs.DeploymentStatusPaused,
				}, nil, nil)
			}, structs.JobStatusRunning},
			{"successful", func(s *StateStore, idx uint64) error {
				return s.UpdateDeploymentStatus(idx, &structs.DeploymentStatusUpdate{
					DeploymentID: id("d", 1), Status: structs.DeploymentStatusSuccessful,
				}, nil, nil)
			}, structs.JobStatusDead},
		}},
		{"deployment without an incarnation counts for any", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"deployment of no recorded incarnation", func(s *StateStore, idx uint64) error {
				j, _ := s.JobByID(nil, "default", "web")
				d := mockDeployment(1, j, "web")
				d.JobCreateIndex = 0
				return s.UpsertDeployment(idx, d)
			}, structs.JobStatusRunning},
		}},
		{"purged job's allocations do not run its successor", []step{
			{"registered", register, structs.JobStatusPending},
			{"placed", place, structs.JobStatusRunning},
			{"purged", func(s *StateStore, idx uint64) error { return s.DeleteJob(idx, "default", "web") }, ""},
			{"registered again", register, structs.JobStatusPending},
			{"old deployment does not count", func(s *StateStore, idx uint64) error {
				d := mockDeployment(1, mockJob("web"), "web")
				d.JobCreateIndex = 1 // an incarnation long gone
				return s.UpsertDeployment(idx, d)
			}, structs.JobStatusPending},
			{"old allocation stops", setClient(1, structs.AllocClientStatusComplete), structs.JobStatusPending},
			{"new allocation", func(s *StateStore, idx uint64) error {
				return s.UpsertAllocs(idx, []*structs.Allocation{alloc(s, 2)})
			}, structs.JobStatusRunning},
		}},
		{"collected allocation", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"placed", place, structs.JobStatusRunning},
			{"collected while running", func(s *StateStore, idx uint64) error {
				return s.DeleteEvals(idx, nil, []string{id("a", 1)})
			}, structs.JobStatusDead},
		}},
		{"lost allocation is terminal, unknown is not", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"placed", place, structs.JobStatusRunning},
			{"unknown", setClient(1, structs.AllocClientStatusUnknown), structs.JobStatusRunning},
			{"lost", setClient(1, structs.AllocClientStatusLost), structs.JobStatusDead},
		}},
		{"system job", []step{
			{"registered", func(s *StateStore, idx uint64) error {
				j := job()
				j.Type = structs.JobTypeSystem
				return s.UpsertJob(idx, j)
			}, structs.JobStatusRunning},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusRunning},
		}},
		{"status survives a snapshot restore", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"placed", place, structs.JobStatusRunning},
			{"restored, then complete", func(s *StateStore, idx uint64) error {
				// The counts a restored store starts from are rebuilt.
				var buf bytes.Buffer
				if err := s.Persist(&buf); err != nil {
					return err
				}
				r, err := Restore(&buf)
				if err != nil {
					return err
				}
				if err := setClient(1, structs.AllocClientStatusComplete)(r, idx); err != nil {
					return err
				}
				j, _ := r.JobByID(nil, "default", "web")
				if j.Status != structs.JobStatusDead {
					return fmt.Errorf("restored store: status %q, want dead", j.Status)
				}
				return nil
			}, structs.JobStatusRunning},
		}},
		{"stored allocation changed in place is recounted", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"placed", place, structs.JobStatusRunning},
			{"stopped in place", func(s *StateStore, idx uint64) error {
				// Against the rules, but the status must not drift.
				a, _ := s.AllocByID(nil, id("a", 1))
				a.DesiredStatus = structs.AllocDesiredStatusStop
				return s.UpsertAllocs(idx, []*structs.Allocation{a})
			}, structs.JobStatusDead},
		}},
		{"collected history stays dead", []step{
			{"registered", register, structs.JobStatusPending},
			{"eval complete", evalStatus(1, structs.EvalStatusComplete), structs.JobStatusDead},
			{"gc", func(s *StateStore, idx uint64) error {
				return s.DeleteEvals(idx, []string{id("e", 1)}, nil)
			}, structs.JobStatusDead},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustStore(t)
			idx := uint64(100)
			for _, st := range tc.steps {
				idx++
				before, _ := s.JobByID(nil, "default", "web")
				var beforeStatus string
				if before != nil {
					beforeStatus = before.Status
				}
				if err := st.apply(s, idx); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				if st.want == "" {
					continue // the job is gone
				}
				j := getJob(t, s, "web")
				if j.Status != st.want {
					t.Fatalf("%s: status %q, want %q", st.name, j.Status, st.want)
				}
				if before == nil || before.CreateIndex != j.CreateIndex {
					continue
				}
				if before.Status != beforeStatus {
					t.Fatalf("%s: the stored job was mutated in place", st.name)
				}
				if beforeStatus != j.Status && j.ModifyIndex != idx {
					t.Fatalf("%s: status change without ModifyIndex: %d", st.name, j.ModifyIndex)
				}
				if j.Version != before.Version && j.JobModifyIndex != idx {
					t.Fatalf("%s: version moved without a job update", st.name)
				}
			}
		})
	}
}

func TestJobStatusChangeDoesNotBumpVersion(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web")))
	before := getJob(t, s, "web")
	must(t, s.UpsertEvals(11, []*structs.Evaluation{mockEval(1, "web", structs.EvalStatusComplete)}))
	after := getJob(t, s, "web")
	if after.Status != structs.JobStatusDead || after.ModifyIndex != 11 {
		t.Fatalf("status %q modify %d", after.Status, after.ModifyIndex)
	}
	if after.Version != 0 || after.JobModifyIndex != 10 {
		t.Fatalf("status change bumped version=%d jobModifyIndex=%d", after.Version, after.JobModifyIndex)
	}
	if before.Status != structs.JobStatusPending || before.ModifyIndex != 10 {
		t.Fatal("the stored job was changed in place")
	}
}
