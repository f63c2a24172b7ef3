package drainer

import (
	"io"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/jobspec"
	"drover/agent/state"
	"drover/agent/structs"
	"drover/testutil/watchset"
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

// The drainer wakes for draining nodes, the allocations on them, and the
// allocations and job of each job with work on them (a replacement turning
// healthy elsewhere frees budget), not for the rest of the cluster.
func TestWatchCoversDrainWorkOnly(t *testing.T) {
	type fx struct {
		st                    *state.StateStore
		draining, idle        *structs.Node
		job, other            *structs.Job
		onDraining, elsewhere *structs.Allocation
	}
	setup := func(t *testing.T) *fx {
		st, err := state.NewStateStore()
		if err != nil {
			t.Fatal(err)
		}
		f := &fx{st: st, draining: node("draining", true), idle: node("idle", false)}
		for i, n := range []*structs.Node{f.draining, f.idle} {
			if err := st.UpsertNode(uint64(10+i), n); err != nil {
				t.Fatal(err)
			}
		}
		for i, id := range []string{"web", "other"} {
			j := &structs.Job{Namespace: "default", ID: id, Type: structs.JobTypeService, Datacenters: []string{"dc1"},
				TaskGroups: []*structs.TaskGroup{{Name: "g", Count: 2}}}
			if err := st.UpsertJob(uint64(20+i), j); err != nil {
				t.Fatal(err)
			}
		}
		f.job, _ = st.JobByID(nil, "default", "web")
		f.other, _ = st.JobByID(nil, "default", "other")
		mk := func(job *structs.Job, n *structs.Node, i int) *structs.Allocation {
			return &structs.Allocation{ID: structs.GenerateUUID(), Namespace: "default", JobID: job.ID, Job: job, TaskGroup: "g",
				Name: structs.AllocName(job.ID, "g", i), NodeID: n.ID, DesiredStatus: structs.AllocDesiredStatusRun,
				ClientStatus: structs.AllocClientStatusRunning}
		}
		f.onDraining, f.elsewhere = mk(f.job, f.draining, 0), mk(f.job, f.idle, 1)
		if err := st.UpsertAllocs(30, []*structs.Allocation{f.onDraining, f.elsewhere,
			mk(f.other, f.idle, 0), mk(f.other, f.idle, 1)}); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cases := []struct {
		name  string
		write func(f *fx) error
		want  bool
	}{
		{"allocation of an unrelated job on a node not draining", func(f *fx) error {
			allocs, _ := f.st.AllocsByJob(nil, "default", "other", false)
			return f.st.UpdateAllocsFromClient(40, []*structs.Allocation{{ID: allocs[0].ID, ClientStatus: structs.AllocClientStatusFailed}})
		}, false},
		{"node not draining", func(f *fx) error {
			return f.st.UpdateNodeStatus(40, f.idle.ID, structs.NodeStatusDown, 1700000000, nil)
		}, false},
		{"allocation on the draining node", func(f *fx) error {
			return f.st.UpdateAllocsFromClient(40, []*structs.Allocation{{ID: f.onDraining.ID, ClientStatus: structs.AllocClientStatusComplete}})
		}, true},
		{"allocation of the drained job elsewhere turns healthy", func(f *fx) error {
			yes := true
			return f.st.UpdateAllocsFromClient(40, []*structs.Allocation{{ID: f.elsewhere.ID,
				DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &yes}}})
		}, true},
		{"the drained job changes", func(f *fx) error {
			j := f.job.Copy()
			j.TaskGroups[0].Count = 3
			return f.st.UpsertJob(40, j)
		}, true},
		{"another node drains", func(f *fx) error {
			return f.st.UpdateNodeDrain(40, f.idle.ID, &structs.DrainStrategy{}, false, 1700000000, nil)
		}, true},
		{"the drain is cancelled", func(f *fx) error {
			return f.st.UpdateNodeDrain(40, f.draining.ID, nil, false, 1700000000, nil)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			d := New(func() *state.StateStore { return f.st }, &recorder{transitions: map[string]*structs.DesiredTransition{}},
				log.New(io.Discard, "", 0), time.Now)
			ws := memdb.NewWatchSet()
			if err := d.watch(ws, f.st.Snapshot()); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(f); err != nil {
				t.Fatal(err)
			}
			if got := watchset.Fired(ws); got != tc.want {
				t.Fatalf("woke = %v, want %v", got, tc.want)
			}
		})
	}
}
