package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/labreport"
	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// fakeCluster is a state store with the server's blocking query on top:
// enough of a server for the pages.
type fakeCluster struct {
	store *state.StateStore
}

func (f *fakeCluster) State() *state.StateStore { return f.store }
func (f *fakeCluster) BlockingQuery(ctx context.Context, minIndex uint64, wait time.Duration,
	query func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error)) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return f.store.BlockingQuery(ctx, minIndex, query)
}
func (f *fakeCluster) Leader() string { return "127.0.0.1:4647" }
func (f *fakeCluster) Members() []server.Member {
	return []server.Member{{Name: "server-1.global", Addr: "127.0.0.1", Port: 4648, Status: "alive",
		Tags: map[string]string{"role": "nomad", "rpc_addr": "127.0.0.1", "port": "4647", "dc": "dc1", "build": "0.1.0"}}}
}

func fixedID(prefix string, n int) string {
	return fmt.Sprintf("%s%07d-0000-4000-8000-000000000000", prefix, n)
}

// fillCluster writes nodes, and jobs each with one group of perJob
// running allocations spread over the nodes, an evaluation and a
// deployment each: the shape of a busy classroom cluster, scaled up.
func fillCluster(tb testing.TB, store *state.StateStore, nodes, jobs, perJob int) {
	tb.Helper()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	idx := uint64(10)
	for n := 0; n < nodes; n++ {
		idx++
		must(store.UpsertNode(idx, &structs.Node{
			ID: fixedID("n", n), SecretID: fixedID("s", n), Datacenter: "dc1", Name: fmt.Sprintf("client-%d", n+1),
			NodePool: "default", Status: structs.NodeStatusReady, SchedulingEligibility: "eligible",
			NodeResources: &structs.NodeResources{Cpu: structs.NodeCpuResources{CpuShares: 400000},
				Memory: structs.NodeMemoryResources{MemoryMB: 262144}},
		}))
	}
	a := 0
	for j := 0; j < jobs; j++ {
		id := fmt.Sprintf("job-%04d", j)
		job := &structs.Job{Region: "global", Namespace: "default", ID: id, Name: id, Type: structs.JobTypeService,
			Priority: 50, Datacenters: []string{"dc1"}, SubmitTime: time.Now().UnixNano(),
			TaskGroups: []*structs.TaskGroup{{Name: "cache", Count: perJob, Tasks: []*structs.Task{{Name: "redis", Driver: "mock",
				Resources: &structs.Resources{CPU: 100, MemoryMB: 64}}}}}}
		idx++
		must(store.UpsertJob(idx, job))
		job, _ = store.Snapshot().JobByID(nil, "default", id)
		eval := &structs.Evaluation{ID: fixedID("e", j), Namespace: "default", Priority: 50, Type: structs.JobTypeService,
			TriggeredBy: structs.EvalTriggerJobRegister, JobID: id, Status: structs.EvalStatusComplete,
			Decisions: []*structs.Decision{{TaskGroup: "cache", Name: id + ".cache[0]", Action: "place", Reason: "count is 1 and 0 allocation(s) exist"}}}
		idx++
		must(store.UpsertEvals(idx, []*structs.Evaluation{eval}))
		var allocs []*structs.Allocation
		for i := 0; i < perJob; i++ {
			n := a % nodes
			allocs = append(allocs, &structs.Allocation{ID: fixedID("a", a), Namespace: "default", EvalID: eval.ID,
				Name: structs.AllocName(id, "cache", i), NodeID: fixedID("n", n), NodeName: fmt.Sprintf("client-%d", n+1),
				JobID: id, Job: job, TaskGroup: "cache",
				AllocatedResources: &structs.AllocatedResources{Tasks: map[string]*structs.AllocatedTaskResources{
					"redis": {Cpu: structs.AllocatedCpuResources{CpuShares: 100}, Memory: structs.AllocatedMemoryResources{MemoryMB: 64}}}},
				DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusRunning,
				TaskStates: map[string]*structs.TaskState{"redis": {State: "running", StartedAt: time.Now(),
					Events: []*structs.TaskEvent{{Type: "Received", Time: time.Now().UnixNano(), DisplayMessage: "Task received by client"},
						{Type: "Started", Time: time.Now().UnixNano(), DisplayMessage: "Task started by client"}}}},
				CreateTime: time.Now().UnixNano()})
			a++
		}
		idx++
		must(store.UpsertAllocs(idx, allocs))
		idx++
		must(store.UpsertDeployment(idx, &structs.Deployment{ID: fixedID("d", j), Namespace: "default", JobID: id,
			TaskGroups: map[string]*structs.DeploymentState{"cache": {DesiredTotal: perJob, PlacedAllocs: perJob, HealthyAllocs: perJob}},
			Status:     structs.DeploymentStatusSuccessful, StatusDescription: "Deployment completed successfully"}))
	}
}

// putLabReport writes a lab's report as the lab engine would.
func putLabReport(tb testing.TB, store *state.StateStore, index uint64, r *labreport.Report) {
	tb.Helper()
	items, err := r.Items()
	if err != nil {
		tb.Fatal(err)
	}
	v := &structs.Variable{Namespace: labreport.Namespace, Path: labreport.PathPrefix + r.Lab, Items: items}
	if err := store.SetVariable(index, v, 0, false); err != nil {
		tb.Fatal(err)
	}
}

// sampleReport is a lab on its second step, one check passed and one
// failed.
func sampleReport() *labreport.Report {
	return &labreport.Report{Lab: "getting-started", Title: "Your first job", Current: 1, Updated: time.Now(),
		Steps: []labreport.Step{
			{ID: "init", Title: "Write a job", Done: true, Checks: []labreport.Check{{Want: "example.nomad.hcl exists", Checked: true, OK: true}}},
			{ID: "run", Title: "Run it", Checks: []labreport.Check{
				{Want: "job example is running", Checked: true, OK: false, Observed: "job example not found"},
				{Want: "1 allocation running"}}},
			{ID: "scale", Title: "Scale to 3"},
		}}
}

func newFilled(tb testing.TB, nodes, jobs, perJob int, opts ...Option) (*fakeCluster, http.Handler) {
	tb.Helper()
	store, err := state.NewStateStore()
	if err != nil {
		tb.Fatal(err)
	}
	fillCluster(tb, store, nodes, jobs, perJob)
	c := &fakeCluster{store: store}
	return c, New(c, opts...)
}

// get serves one request in-process.
func get(h http.Handler, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
