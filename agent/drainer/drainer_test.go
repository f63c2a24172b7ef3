package drainer

import (
	"io"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"drover/agent/jobspec"
	"drover/agent/state"
	"drover/agent/structs"
)

type recorder struct {
	transitions map[string]*structs.DesiredTransition
	completed   []string
}

func (r *recorder) UpdateDesiredTransitions(t map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error {
	for id, tr := range t {
		r.transitions[id] = tr
	}
	return nil
}

func (r *recorder) CompleteDrain(nodeID string, updatedAt int64, event *structs.NodeEvent) error {
	r.completed = append(r.completed, nodeID)
	return nil
}

func node(name string, draining bool) *structs.Node {
	n := &structs.Node{ID: structs.GenerateUUID(), Name: name, Datacenter: "dc1", Status: structs.NodeStatusReady,
		SchedulingEligibility: structs.NodeSchedulingEligible}
	if draining {
		n.SchedulingEligibility = structs.NodeSchedulingIneligible
		n.DrainStrategy = &structs.DrainStrategy{DrainSpec: structs.DrainSpec{Deadline: time.Hour},
			ForceDeadline: time.Now().Add(time.Hour), StartedAt: time.Now()}
	}
	return n
}

// Two nodes drained at once share the group's migrate.max_parallel: of a
// count = 4 group with max_parallel = 1, one allocation moves, not one
// per node; an empty draining node completes its drain.
func TestBudgetSpansNodesAndEmptyNodesComplete(t *testing.T) {
	src, err := os.ReadFile("../jobspec/testdata/seed004.nomad")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "group \"cache\" {", "group \"cache\" {\n    count = 4\n    migrate { max_parallel = 1 }", 1)
	job, err := jobspec.Parse("seed004.nomad", []byte(text), jobspec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	job.Canonicalize()
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	one, two, empty := node("one", true), node("two", true), node("empty", true)
	for i, n := range []*structs.Node{one, two, empty} {
		if err := st.UpsertNode(uint64(10+i), n); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UpsertJob(20, job); err != nil {
		t.Fatal(err)
	}
	job, _ = st.JobByID(nil, job.Namespace, job.ID)
	var allocs []*structs.Allocation
	yes := true
	for i := 0; i < 4; i++ {
		n := one
		if i >= 2 {
			n = two
		}
		allocs = append(allocs, &structs.Allocation{ID: structs.GenerateUUID(), Namespace: job.Namespace, JobID: job.ID, Job: job,
			TaskGroup: "cache", Name: structs.AllocName(job.ID, "cache", i), NodeID: n.ID,
			DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusRunning,
			DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes}})
	}
	if err := st.UpsertAllocs(21, allocs); err != nil {
		t.Fatal(err)
	}
	r := &recorder{transitions: map[string]*structs.DesiredTransition{}}
	New(func() *state.StateStore { return st }, r, log.New(io.Discard, "", 0), time.Now).Check()
	if len(r.transitions) != 1 {
		t.Fatalf("%d allocations marked to migrate across two draining nodes, want 1 (migrate.max_parallel = 1)", len(r.transitions))
	}
	if len(r.completed) != 1 || r.completed[0] != empty.ID {
		t.Fatalf("completed drains %v, want only the empty node", r.completed)
	}
}
