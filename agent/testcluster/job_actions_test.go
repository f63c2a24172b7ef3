package testcluster

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Revert, scale and a forced evaluation sent to a follower are forwarded
// to the leader (Job.Revert, Job.Scale, Job.Evaluate) and answered as the
// leader answers them, refusals included.
func TestFollowerForwardsJobActions(t *testing.T) {
	c := New(t, 3, 0, Options{})
	c.WaitForLeader(t, 20*time.Second)
	fc := c.Followers()[0].API(t)
	jobs := fc.Jobs()

	if _, _, err := jobs.Register(mockJob("acts", 0), nil); err != nil {
		t.Fatal(err)
	}
	scaled, _, err := jobs.Scale("acts", "web", intp(2), "", false, nil, nil)
	if err != nil || scaled.EvalID == "" {
		t.Fatalf("scale on a follower: %+v %v", scaled, err)
	}
	job, _, err := jobs.Info("acts", nil)
	if err != nil || *job.Version != 1 || *job.TaskGroups[0].Count != 2 {
		t.Fatalf("scaled job: %v", err)
	}
	prior := uint64(1)
	reverted, _, err := jobs.Revert("acts", 0, &prior, nil, "", "")
	if err != nil || reverted.EvalID == "" {
		t.Fatalf("revert on a follower: %+v %v", reverted, err)
	}
	job, _, err = jobs.Info("acts", nil)
	if err != nil || *job.Version != 2 || *job.TaskGroups[0].Count != 0 {
		t.Fatalf("reverted job: %v", err)
	}
	evalID, _, err := jobs.EvaluateWithOpts("acts", api.EvalOptions{ForceReschedule: true}, nil)
	if err != nil || evalID == "" {
		t.Fatalf("evaluate on a follower: %q %v", evalID, err)
	}
	if e, _, err := fc.Evaluations().Info(evalID, nil); err != nil || e.TriggeredBy != "job-register" {
		t.Fatalf("forced evaluation: %v", err)
	}

	var apiErr api.UnexpectedResponseError
	_, _, err = jobs.Revert("acts", 2, nil, nil, "", "")
	if !asUnexpected(err, &apiErr) || apiErr.StatusCode() != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "can't revert to current version") {
		t.Fatalf("revert to the current version on a follower: %v", err)
	}
	_, _, err = jobs.Scale("acts", "db", intp(1), "", false, nil, nil)
	if !asUnexpected(err, &apiErr) || apiErr.StatusCode() != http.StatusBadRequest ||
		!strings.Contains(err.Error(), `task group "db" specified for scaling does not exist in job`) {
		t.Fatalf("scale of an unknown group on a follower: %v", err)
	}
	_, _, err = jobs.ForceEvaluate("nope", nil)
	if !asUnexpected(err, &apiErr) || apiErr.StatusCode() != http.StatusNotFound {
		t.Fatalf("evaluate of an unknown job on a follower: %v", err)
	}
}
