package state

import (
	"encoding/json"
	"sync"
	"testing"

	"drover/agent/structs"
)

// TestConcurrentReadsDuringWrites reads everything (JSON-encoding touches
// every field) from snapshots and the live store while the writer works;
// under -race it catches a write method mutating a stored object.
func TestConcurrentReadsDuringWrites(t *testing.T) {
	s := mustStore(t)
	job := setup(t, s)
	must(t, s.UpsertNode(11, mockNode(1)))
	must(t, s.UpsertDeployment(12, mockDeployment(1, job, "web")))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap := s.Snapshot()
				allocs, _ := snap.Allocs(nil)
				nodes, _ := s.Nodes(nil)
				deps, _ := snap.Deployments(nil)
				jobs, _ := s.Jobs(nil)
				sum, _ := snap.JobSummaryByID(nil, "default", "web")
				if _, err := json.Marshal([]interface{}{allocs, nodes, deps, jobs, sum}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	idx := uint64(20)
	for i := 1; i <= 50; i++ {
		idx++
		a := mockAlloc(i, job, "web", id("n", 1))
		a.DeploymentID = id("d", 1)
		must(t, s.UpsertAllocs(idx, []*structs.Allocation{a}))
		idx++
		must(t, s.UpdateAllocsFromClient(idx, []*structs.Allocation{{
			ID: a.ID, ClientStatus: structs.AllocClientStatusRunning,
			TaskStates:       map[string]*structs.TaskState{"t": {State: "running"}},
			DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: boolp(i%2 == 0)},
		}}))
		idx++
		must(t, s.UpdateNodeStatus(idx, id("n", 1), structs.NodeStatusReady, int64(i), event("hb")))
		idx++
		must(t, s.UpsertEvals(idx, []*structs.Evaluation{mockEval(i, "web", structs.EvalStatusComplete)}))
	}
	close(stop)
	wg.Wait()
	st := getDeployment(t, s, id("d", 1)).TaskGroups["web"]
	if st.PlacedAllocs != 50 || st.HealthyAllocs != 25 || st.UnhealthyAllocs != 25 {
		t.Fatalf("deployment counters %+v", st)
	}
}
