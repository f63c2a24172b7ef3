package state

import (
	"fmt"
	"testing"
	"time"

	"drover/agent/structs"
)

// Fixed IDs keep the tests deterministic and their failures readable.
func id(prefix string, n int) string {
	return fmt.Sprintf("%s%07d-0000-4000-8000-000000000000", prefix, n)
}

func mustStore(t *testing.T) *StateStore {
	t.Helper()
	s, err := NewStateStore()
	if err != nil {
		t.Fatalf("new store: %v", err)
	}
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mockJob(jobID string, groups ...string) *structs.Job {
	if len(groups) == 0 {
		groups = []string{"web"}
	}
	j := &structs.Job{
		Region: "global", Namespace: "default", ID: jobID, Name: jobID, Type: structs.JobTypeService,
		Priority: 50, Datacenters: []string{"dc1"}, SubmitTime: 1700000000000000000,
	}
	for _, g := range groups {
		j.TaskGroups = append(j.TaskGroups, &structs.TaskGroup{
			Name: g, Count: 2,
			Tasks: []*structs.Task{{Name: "t", Driver: "mock", Config: map[string]interface{}{"run_for": "1s"}}},
		})
	}
	return j
}

func mockEval(n int, jobID, status string) *structs.Evaluation {
	return &structs.Evaluation{
		ID: id("e", n), Namespace: "default", Priority: 50, Type: structs.JobTypeService,
		TriggeredBy: structs.EvalTriggerJobRegister, JobID: jobID, Status: status,
	}
}

func mockAlloc(n int, job *structs.Job, group, nodeID string) *structs.Allocation {
	return &structs.Allocation{
		ID: id("a", n), Namespace: job.Namespace, EvalID: id("e", 1), Name: structs.AllocName(job.ID, group, n),
		NodeID: nodeID, JobID: job.ID, Job: job, TaskGroup: group,
		DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusPending,
	}
}

func mockNode(n int) *structs.Node {
	return &structs.Node{
		ID: id("n", n), SecretID: id("s", n), Datacenter: "dc1", Name: fmt.Sprintf("node-%d", n),
		Attributes: map[string]string{"kernel.name": "linux"}, Status: structs.NodeStatusReady,
		NodeResources: &structs.NodeResources{Cpu: structs.NodeCpuResources{CpuShares: 4000}},
		Events:        []*structs.NodeEvent{{Message: structs.NodeEventRegistered, Subsystem: "Cluster", Timestamp: time.Unix(1700000000, 0).UTC()}},
	}
}

func mockDeployment(n int, job *structs.Job, groups ...string) *structs.Deployment {
	d := &structs.Deployment{
		ID: id("d", n), Namespace: job.Namespace, JobID: job.ID, JobVersion: job.Version,
		JobModifyIndex: job.JobModifyIndex, JobCreateIndex: job.CreateIndex,
		TaskGroups: map[string]*structs.DeploymentState{},
		Status:     structs.DeploymentStatusRunning, StatusDescription: structs.DeploymentDescRunning,
	}
	for _, g := range groups {
		d.TaskGroups[g] = &structs.DeploymentState{DesiredTotal: 2, ProgressDeadline: 10 * time.Minute}
	}
	return d
}

func boolp(b bool) *bool { return &b }

func getJob(t *testing.T, s *StateStore, jobID string) *structs.Job {
	t.Helper()
	j, err := s.JobByID(nil, "default", jobID)
	must(t, err)
	if j == nil {
		t.Fatalf("job %q not found", jobID)
	}
	return j
}

func getAlloc(t *testing.T, s *StateStore, allocID string) *structs.Allocation {
	t.Helper()
	a, err := s.AllocByID(nil, allocID)
	must(t, err)
	if a == nil {
		t.Fatalf("alloc %q not found", allocID)
	}
	return a
}

func getDeployment(t *testing.T, s *StateStore, depID string) *structs.Deployment {
	t.Helper()
	d, err := s.DeploymentByID(nil, depID)
	must(t, err)
	if d == nil {
		t.Fatalf("deployment %q not found", depID)
	}
	return d
}

func getNode(t *testing.T, s *StateStore, nodeID string) *structs.Node {
	t.Helper()
	n, err := s.NodeByID(nil, nodeID)
	must(t, err)
	if n == nil {
		t.Fatalf("node %q not found", nodeID)
	}
	return n
}

func getSummary(t *testing.T, s *StateStore, jobID string) *structs.JobSummary {
	t.Helper()
	sum, err := s.JobSummaryByID(nil, "default", jobID)
	must(t, err)
	if sum == nil {
		t.Fatalf("summary of %q not found", jobID)
	}
	return sum
}

func tableIndexOf(t *testing.T, s *StateStore, table string) uint64 {
	t.Helper()
	i, err := s.Index(table)
	must(t, err)
	return i
}
