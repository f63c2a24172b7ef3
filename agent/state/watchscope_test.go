package state

import (
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
	"drover/testutil/watchset"
)

// The narrow reads of the leader's watchers (active deployments, draining
// nodes, the allocations of one deployment or job) must wake on what they
// cover and stay asleep on the writes of an idle cluster: a client update
// of an allocation in no running deployment, on no draining node.
func TestWatchScopes(t *testing.T) {
	type fixture struct {
		s   *StateStore
		idx uint64
	}
	setup := func(t *testing.T) *fixture {
		s := mustStore(t)
		must(t, s.UpsertNode(10, mockNode(1)))
		must(t, s.UpsertNode(11, mockNode(2)))
		must(t, s.UpsertJob(12, mockJob("web")))
		must(t, s.UpsertJob(13, mockJob("other")))
		web, other := getJob(t, s, "web"), getJob(t, s, "other")
		d := mockDeployment(1, web, "web")
		must(t, s.UpsertDeployment(14, d))
		old := mockDeployment(2, other, "web")
		old.Status = structs.DeploymentStatusSuccessful
		must(t, s.UpsertDeployment(15, old))
		a1 := mockAlloc(1, web, "web", id("n", 1))
		a1.DeploymentID = d.ID
		a2 := mockAlloc(2, other, "web", id("n", 2))
		must(t, s.UpsertAllocs(16, []*structs.Allocation{a1, a2}))
		drain := &structs.DrainStrategy{DrainSpec: structs.DrainSpec{Deadline: time.Hour}}
		must(t, s.UpdateNodeDrain(17, id("n", 1), drain, false, 1700000000, nil))
		return &fixture{s: s, idx: 20}
	}
	client := func(n int) func(f *fixture) error {
		return func(f *fixture) error {
			return f.s.UpdateAllocsFromClient(f.idx, []*structs.Allocation{{ID: id("a", n), ClientStatus: structs.AllocClientStatusRunning}})
		}
	}
	watches := map[string]func(ws memdb.WatchSet, s *StateStore) error{
		"active deployments": func(ws memdb.WatchSet, s *StateStore) error {
			_, err := s.ActiveDeployments(ws)
			return err
		},
		"draining nodes": func(ws memdb.WatchSet, s *StateStore) error {
			_, err := s.DrainingNodes(ws)
			return err
		},
		"allocs of deployment 1": func(ws memdb.WatchSet, s *StateStore) error {
			return s.WatchAllocsByDeployment(ws, id("d", 1))
		},
		"allocs of job web": func(ws memdb.WatchSet, s *StateStore) error {
			return s.WatchAllocsByJob(ws, "default", "web")
		},
	}
	cases := []struct {
		watch string
		name  string
		write func(f *fixture) error
		want  bool
	}{
		{"active deployments", "alloc of no deployment", client(2), false},
		{"active deployments", "node", func(f *fixture) error {
			return f.s.UpdateNodeStatus(f.idx, id("n", 2), structs.NodeStatusDown, 1700000000, nil)
		}, false},
		{"active deployments", "finished deployment collected", func(f *fixture) error {
			return f.s.DeleteDeployments(f.idx, []string{id("d", 2)})
		}, false},
		{"active deployments", "health counted on the active one", func(f *fixture) error {
			return f.s.UpdateAllocsFromClient(f.idx, []*structs.Allocation{{ID: id("a", 1),
				DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: boolp(true)}}})
		}, true},
		{"active deployments", "active one ends", func(f *fixture) error {
			return f.s.UpdateDeploymentStatus(f.idx, &structs.DeploymentStatusUpdate{DeploymentID: id("d", 1),
				Status: structs.DeploymentStatusFailed}, nil, nil)
		}, true},
		{"draining nodes", "alloc", client(1), false},
		{"draining nodes", "node not draining", func(f *fixture) error {
			return f.s.UpdateNodeStatus(f.idx, id("n", 2), structs.NodeStatusDown, 1700000000, nil)
		}, false},
		{"draining nodes", "draining node changes", func(f *fixture) error {
			return f.s.UpdateNodeStatus(f.idx, id("n", 1), structs.NodeStatusDown, 1700000000, nil)
		}, true},
		{"draining nodes", "another node drains", func(f *fixture) error {
			return f.s.UpdateNodeDrain(f.idx, id("n", 2), &structs.DrainStrategy{}, false, 1700000000, nil)
		}, true},
		{"draining nodes", "drain ends", func(f *fixture) error {
			return f.s.UpdateNodeDrain(f.idx, id("n", 1), nil, false, 1700000000, nil)
		}, true},
		{"allocs of deployment 1", "alloc of no deployment", client(2), false},
		{"allocs of deployment 1", "alloc of the deployment", client(1), true},
		{"allocs of job web", "alloc of job other", client(2), false},
		{"allocs of job web", "alloc of job web", client(1), true},
		{"allocs of job web", "alloc of job web placed", func(f *fixture) error {
			return f.s.UpsertAllocs(f.idx, []*structs.Allocation{mockAlloc(3, getJob(t, f.s, "web"), "web", id("n", 2))})
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.watch+"/"+tc.name, func(t *testing.T) {
			f := setup(t)
			ws := memdb.NewWatchSet()
			must(t, watches[tc.watch](ws, f.s))
			must(t, tc.write(f))
			if got := watchset.Fired(ws); got != tc.want {
				t.Fatalf("fired = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestActiveDeploymentsAndDrainingNodes(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web")))
	web := getJob(t, s, "web")
	for i, st := range []string{structs.DeploymentStatusRunning, structs.DeploymentStatusPaused,
		structs.DeploymentStatusSuccessful, structs.DeploymentStatusFailed, structs.DeploymentStatusCancelled} {
		d := mockDeployment(i+1, web, "web")
		d.Status = st
		must(t, s.UpsertDeployment(uint64(11+i), d))
	}
	ds, err := s.ActiveDeployments(nil)
	must(t, err)
	if len(ds) != 2 || ds[0].ID != id("d", 1) || ds[1].ID != id("d", 2) {
		t.Fatalf("active deployments %v, want d1 (running) and d2 (paused)", ds)
	}
	for i := 1; i <= 3; i++ {
		must(t, s.UpsertNode(uint64(20+i), mockNode(i)))
	}
	must(t, s.UpdateNodeDrain(30, id("n", 3), &structs.DrainStrategy{}, false, 1700000000, nil))
	must(t, s.UpdateNodeDrain(31, id("n", 2), &structs.DrainStrategy{}, false, 1700000000, nil))
	must(t, s.UpdateNodeDrain(32, id("n", 3), nil, false, 1700000000, nil))
	ns, err := s.DrainingNodes(nil)
	must(t, err)
	if len(ns) != 1 || ns[0].ID != id("n", 2) {
		t.Fatalf("draining nodes %v, want n2", ns)
	}
}
