package server

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"drover/agent/structs"
)

// settled registers job, waits for its evaluation and for its deployment
// (if any) to succeed, and returns the stored job.
func settled(t *testing.T, s *Server, job *structs.Job) *structs.Job {
	t.Helper()
	resp, err := s.RegisterJob(job, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "first eval of "+job.ID, evalDone(t, s, resp.EvalID))
	waitDeploymentOver(t, s, job.ID)
	stored, err := s.State().JobByID(nil, job.Namespace, job.ID)
	if err != nil || stored == nil {
		t.Fatalf("job %s: %v", job.ID, err)
	}
	return stored
}

func waitDeploymentOver(t *testing.T, s *Server, jobID string) {
	t.Helper()
	waitFor(t, 20*time.Second, "the deployment of "+jobID+" over", func() (bool, string) {
		d, _ := s.State().LatestDeploymentByJobID(nil, structs.DefaultNamespace, jobID)
		if d == nil {
			return true, ""
		}
		return !d.Active(), "deployment " + d.Status
	})
}

// decisionsOf lists an evaluation's decisions by allocation name, without
// the job ID, so two jobs' evaluations compare.
func decisionsOf(t *testing.T, s *Server, evalID string) string {
	t.Helper()
	e, err := s.State().EvalByID(nil, evalID)
	if err != nil || e == nil {
		t.Fatalf("eval %s: %v", evalID, err)
	}
	var out []string
	for _, d := range structs.DecisionRows(e.Decisions) {
		name := d.Name[strings.Index(d.Name, "."):]
		out = append(out, name+" "+d.Action)
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// TestServer_ScaleIsAnEditedCount: scaling a group from 1 to 3 decides
// exactly what submitting the job with count 3 decides (one in-place
// update, two placements), stores the same new version and starts the
// same deployment; only the evaluation's trigger differs.
func TestServer_ScaleIsAnEditedCount(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("nomad", 8000, 16384))
	fast := []string{"min_healthy_time = \"10s\"", "min_healthy_time = \"0s\""}
	scaled := settled(t, s, parseJob(t, "seed003.nomad", fast...))
	edited := settled(t, s, parseJob(t, "seed003.nomad", append(fast, "job \"example\"", "job \"edited\"")...))

	byScale, err := s.ScaleJob(&JobScaleArgs{Namespace: scaled.Namespace, JobID: scaled.ID, Group: "cache",
		Count: ptr64(3), Message: "more"})
	if err != nil {
		t.Fatal(err)
	}
	bySubmit, err := s.RegisterJob(parseJob(t, "seed003.nomad", append(fast, "job \"example\"", "job \"edited\"",
		"count = 1", "count = 3")...), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "scale eval", evalDone(t, s, byScale.EvalID))
	waitFor(t, 10*time.Second, "submit eval", evalDone(t, s, bySubmit.EvalID))

	scaleDecisions, submitDecisions := decisionsOf(t, s, byScale.EvalID), decisionsOf(t, s, bySubmit.EvalID)
	if scaleDecisions != submitDecisions || !strings.Contains(scaleDecisions, ".cache[0] in-place") ||
		strings.Count(scaleDecisions, " place") != 2 {
		t.Fatalf("decisions differ:\n scale:  %s\n submit: %s", scaleDecisions, submitDecisions)
	}
	se, _ := s.State().EvalByID(nil, byScale.EvalID)
	pe, _ := s.State().EvalByID(nil, bySubmit.EvalID)
	if se.TriggeredBy != structs.EvalTriggerScaling || pe.TriggeredBy != structs.EvalTriggerJobRegister {
		t.Fatalf("triggers: %s, %s", se.TriggeredBy, pe.TriggeredBy)
	}
	sj, _ := s.State().JobByID(nil, scaled.Namespace, scaled.ID)
	ej, _ := s.State().JobByID(nil, edited.Namespace, edited.ID)
	if sj.Version != scaled.Version+1 || sj.Version != ej.Version || sj.TaskGroups[0].Count != 3 ||
		sj.SpecChanged(withID(ej, sj.ID, sj.Name)) {
		t.Fatalf("scaled job version %d count %d, edited version %d", sj.Version, sj.TaskGroups[0].Count, ej.Version)
	}
	sd, _ := s.State().LatestDeploymentByJobID(nil, sj.Namespace, sj.ID)
	ed, _ := s.State().LatestDeploymentByJobID(nil, ej.Namespace, ej.ID)
	if sd == nil || ed == nil || sd.JobVersion != sj.Version || sd.TaskGroups["cache"].DesiredTotal != 3 ||
		ed.TaskGroups["cache"].DesiredTotal != 3 {
		t.Fatalf("deployments: %+v %+v", sd, ed)
	}
	waitFor(t, 20*time.Second, "3 live allocations of each", func() (bool, string) {
		a, b := liveAllocs(t, s, sj), liveAllocs(t, s, ej)
		return len(a) == 3 && len(b) == 3, fmt.Sprintf("%d and %d live", len(a), len(b))
	})
}

func ptr64(v int64) *int64 { return &v }

func withID(j *structs.Job, id, name string) *structs.Job {
	c := j.Copy()
	c.ID, c.Name = id, name
	return c
}

// TestServer_JobActionRefusals: every refusal of revert, scale and
// evaluate has its kind (so HTTP answers 4xx) and writes nothing.
func TestServer_JobActionRefusals(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("nomad", 8000, 16384))
	job := settled(t, s, parseJob(t, "seed003.nomad", "min_healthy_time = \"10s\"", "min_healthy_time = \"0s\""))
	sys := parseJob(t, "system.nomad")
	sysResp, err := s.RegisterJob(sys, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "system job eval", evalDone(t, s, sysResp.EvalID))
	ns := job.Namespace
	v0 := uint64(0)

	cases := []struct {
		name string
		call func() error
		kind error
		text string
	}{
		{"revert to current", func() error {
			_, err := s.RevertJob(&JobRevertArgs{Namespace: ns, JobID: job.ID, JobVersion: 0})
			return err
		}, ErrInvalidRequest, "can't revert to current version"},
		{"revert to unknown version", func() error {
			_, err := s.RevertJob(&JobRevertArgs{Namespace: ns, JobID: job.ID, JobVersion: 3})
			return err
		}, ErrNotFound, `job "example" in namespace "default" at version 3 not found`},
		{"revert unknown job", func() error {
			_, err := s.RevertJob(&JobRevertArgs{Namespace: ns, JobID: "nope", JobVersion: 1})
			return err
		}, ErrNotFound, `job "nope" not found`},
		{"revert no job ID", func() error {
			_, err := s.RevertJob(&JobRevertArgs{Namespace: ns, JobVersion: 1})
			return err
		}, ErrInvalidRequest, "missing job ID for revert"},
		{"revert to a version never stored, enforcing the prior one", func() error {
			_, err := s.RevertJob(&JobRevertArgs{Namespace: ns, JobID: job.ID, JobVersion: 1, EnforcePriorVersion: &v0})
			return err
		}, ErrNotFound, "at version 1 not found"},
		{"scale unknown group", func() error {
			_, err := s.ScaleJob(&JobScaleArgs{Namespace: ns, JobID: job.ID, Group: "db", Count: ptr64(2)})
			return err
		}, ErrInvalidRequest, `task group "db" specified for scaling does not exist in job`},
		{"scale unknown job", func() error {
			_, err := s.ScaleJob(&JobScaleArgs{Namespace: ns, JobID: "nope", Group: "cache", Count: ptr64(2)})
			return err
		}, ErrNotFound, `job "nope" not found`},
		{"scale negative", func() error {
			_, err := s.ScaleJob(&JobScaleArgs{Namespace: ns, JobID: job.ID, Group: "cache", Count: ptr64(-2)})
			return err
		}, ErrInvalidRequest, "scaling action count can't be negative"},
		{"scale beyond int", func() error {
			_, err := s.ScaleJob(&JobScaleArgs{Namespace: ns, JobID: job.ID, Group: "cache", Count: ptr64(1 << 62)})
			return err
		}, ErrValidation, "Count"},
		{"scale system job", func() error {
			_, err := s.ScaleJob(&JobScaleArgs{Namespace: ns, JobID: sys.ID, Group: sys.TaskGroups[0].Name, Count: ptr64(2)})
			return err
		}, ErrInvalidRequest, `cannot scale jobs of type "system"`},
		{"scale stale index", func() error {
			_, err := s.ScaleJob(&JobScaleArgs{Namespace: ns, JobID: job.ID, Group: "cache", Count: ptr64(2), JobModifyIndex: 1})
			return err
		}, ErrIndexMismatch, "Enforcing job modify index 1: job exists with conflicting job modify index"},
		{"evaluate unknown job", func() error {
			_, err := s.EvaluateJob(&JobEvaluateArgs{Namespace: ns, JobID: "nope"})
			return err
		}, ErrNotFound, "job not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.State().LatestIndex()
			err := tc.call()
			if err == nil || !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("got %v, want %v containing %q", err, tc.kind, tc.text)
			}
			if after, _ := s.State().LatestIndex(); after != before {
				t.Fatalf("a refusal wrote to the state: index %d -> %d", before, after)
			}
		})
	}
}

// TestServer_RevertRegistersTheOldSpecification: revert stores the old
// version's specification as the next version, and EnforcePriorVersion
// must name the current version.
func TestServer_RevertRegistersTheOldSpecification(t *testing.T) {
	s := testServer(t, "")
	defer s.Shutdown()
	startFakeClient(t, s, testNode("nomad", 8000, 16384))
	fast := []string{"min_healthy_time = \"10s\"", "min_healthy_time = \"0s\""}
	settled(t, s, parseJob(t, "seed003.nomad", fast...))
	v1 := settled(t, s, parseJob(t, "seed003.nomad", append(fast, "redis:3.2", "redis:4.0")...))
	if v1.Version != 1 {
		t.Fatalf("version %d", v1.Version)
	}
	wrong := uint64(0)
	if _, err := s.RevertJob(&JobRevertArgs{Namespace: v1.Namespace, JobID: v1.ID, JobVersion: 0,
		EnforcePriorVersion: &wrong}); !errors.Is(err, ErrInvalidRequest) ||
		err.Error() != "Current job has version 1; enforcing version 0" {
		t.Fatalf("wrong prior version: %v", err)
	}
	prior := uint64(1)
	resp, err := s.RevertJob(&JobRevertArgs{Namespace: v1.Namespace, JobID: v1.ID, JobVersion: 0, EnforcePriorVersion: &prior})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "revert eval", evalDone(t, s, resp.EvalID))
	v2, _ := s.State().JobByID(nil, v1.Namespace, v1.ID)
	v0, _ := s.State().JobByIDAndVersion(nil, v1.Namespace, v1.ID, 0)
	if v2.Version != 2 || v2.JobModifyIndex != resp.JobModifyIndex || v2.SpecChanged(v0) || v2.Stable {
		t.Fatalf("reverted: version %d, same spec as 0: %v", v2.Version, !v2.SpecChanged(v0))
	}
	waitFor(t, 20*time.Second, "the allocation back on redis:3.2", func() (bool, string) {
		live := liveAllocs(t, s, v2)
		if len(live) != 1 {
			return false, fmt.Sprintf("%d live", len(live))
		}
		return live[0].Job.Version == 2, fmt.Sprintf("version %d", live[0].Job.Version)
	})
}
