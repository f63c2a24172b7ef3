package deploymentwatcher

import (
	"context"
	"fmt"
	"io"
	"log"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"drover/agent/drainer"
	"drover/agent/state"
	"drover/agent/structs"
)

// The benchmarks here measure what the leader's two state watchers, this
// package's deployment watcher and the drainer, cost a server that holds
// 100,000 allocations over 5,000 nodes with no deployment running and no
// node draining: CPU per idle second, and CPU per raft write that
// concerns neither. They measure process CPU time (getrusage), so run
// them alone:
//
//	go test ./agent/deploymentwatcher -run '^$' -bench Watchers -benchtime 5x

// idleStore is a store of 100 service jobs of 1,000 running allocations
// each over 5,000 nodes, with their deployments finished.
func idleStore(b *testing.B) *state.StateStore {
	b.Helper()
	st, err := state.NewStateStore()
	if err != nil {
		b.Fatal(err)
	}
	idx := uint64(1)
	const nodes, jobs, perJob = 5000, 100, 1000
	for i := 0; i < nodes; i++ {
		idx++
		n := &structs.Node{ID: fmt.Sprintf("node-%05d", i), Name: fmt.Sprintf("node-%d", i), Datacenter: "dc1",
			Status: structs.NodeStatusReady, SchedulingEligibility: structs.NodeSchedulingEligible}
		if err := st.UpsertNode(idx, n); err != nil {
			b.Fatal(err)
		}
	}
	healthy := true
	for j := 0; j < jobs; j++ {
		idx++
		job := &structs.Job{Region: "global", Namespace: "default", ID: fmt.Sprintf("job-%03d", j), Type: structs.JobTypeService,
			Priority: 50, Datacenters: []string{"dc1"}, TaskGroups: []*structs.TaskGroup{{Name: "web", Count: perJob,
				Tasks: []*structs.Task{{Name: "t", Driver: "mock_driver"}}}}}
		if err := st.UpsertJob(idx, job); err != nil {
			b.Fatal(err)
		}
		job, _ = st.JobByID(nil, "default", job.ID)
		d := &structs.Deployment{ID: fmt.Sprintf("dep-%03d", j), Namespace: "default", JobID: job.ID, JobVersion: job.Version,
			JobCreateIndex: job.CreateIndex, Status: structs.DeploymentStatusSuccessful,
			TaskGroups: map[string]*structs.DeploymentState{"web": {DesiredTotal: perJob}}}
		idx++
		if err := st.UpsertDeployment(idx, d); err != nil {
			b.Fatal(err)
		}
		allocs := make([]*structs.Allocation, 0, perJob)
		for i := 0; i < perJob; i++ {
			n := j*perJob + i
			allocs = append(allocs, &structs.Allocation{ID: allocID(n), Namespace: "default", JobID: job.ID, Job: job,
				TaskGroup: "web", Name: structs.AllocName(job.ID, "web", i), NodeID: fmt.Sprintf("node-%05d", n%nodes),
				DeploymentID: d.ID, DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusRunning,
				DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &healthy}})
		}
		idx++
		if err := st.UpsertAllocs(idx, allocs); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

func allocID(n int) string { return fmt.Sprintf("%08d-0000-4000-8000-000000000000", n) }

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// settle collects garbage and returns free memory to the system, so that
// the runtime's background work of building the store is not measured.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
}

type nopWatcherRaft struct{}

func (nopWatcherRaft) UpsertEvals([]*structs.Evaluation) error { return nil }
func (nopWatcherRaft) UpdateDeploymentStatus(*structs.DeploymentStatusUpdate, *structs.Job, *Stability, *structs.Evaluation) error {
	return nil
}
func (nopWatcherRaft) PromoteDeployment(string, []string, *structs.Evaluation) error { return nil }
func (nopWatcherRaft) UpdateDesiredTransitions(map[string]*structs.DesiredTransition, []*structs.Evaluation) error {
	return nil
}
func (nopWatcherRaft) CompleteDrain(string, int64, *structs.NodeEvent) error { return nil }

// startWatchers runs the deployment watcher and the drainer on st until
// the returned stop is called.
func startWatchers(st *state.StateStore) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	logger := log.New(io.Discard, "", 0)
	store := func() *state.StateStore { return st }
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); New(store, nopWatcherRaft{}, logger, time.Now).Run(ctx) }()
	go func() { defer wg.Done(); drainer.New(store, nopWatcherRaft{}, logger, time.Now).Run(ctx) }()
	return func() { cancel(); wg.Wait() }
}

// BenchmarkIdleWatchers100k: one op is one idle second of a server with
// both watchers running; cpu-ms/s is the CPU the process used in it,
// watchers-cpu-ms/s that less the same idle seconds without the watchers
// (the runtime's own background work). 20 ms/s is 2% of a core.
func BenchmarkIdleWatchers100k(b *testing.B) {
	b.StopTimer()
	st := idleStore(b)
	idle := func(n int) time.Duration {
		settle()
		before := cpuTime(b)
		for i := 0; i < n; i++ {
			time.Sleep(time.Second)
		}
		return cpuTime(b) - before
	}
	alone := idle(b.N)
	stop := startWatchers(st)
	defer stop()
	time.Sleep(1500 * time.Millisecond) // their first passes
	b.StartTimer()
	with := idle(b.N)
	b.StopTimer()
	b.ReportMetric(float64(with.Microseconds())/1e3/float64(b.N), "cpu-ms/s")
	b.ReportMetric(float64((with-alone).Microseconds())/1e3/float64(b.N), "watchers-cpu-ms/s")
}

// BenchmarkWatchersPerWrite100k: one op is one client update of an
// allocation (of no running deployment, on no draining node) followed by
// 20 ms for the watchers to react. watchers-cpu-ms/op is the CPU used
// with the watchers running less the same writes without them.
func BenchmarkWatchersPerWrite100k(b *testing.B) {
	b.StopTimer()
	st := idleStore(b)
	idx, _ := st.LatestIndex()
	statuses := []string{structs.AllocClientStatusPending, structs.AllocClientStatusRunning}
	writes := func(n int) time.Duration {
		settle()
		before := cpuTime(b)
		for i := 0; i < n; i++ {
			idx++
			u := &structs.Allocation{ID: allocID((i * 7919) % 100_000), ClientStatus: statuses[i%2]}
			if err := st.UpdateAllocsFromClient(idx, []*structs.Allocation{u}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cpuTime(b) - before
	}
	alone := writes(b.N)
	stop := startWatchers(st)
	defer stop()
	time.Sleep(1500 * time.Millisecond)
	b.StartTimer()
	with := writes(b.N)
	b.StopTimer()
	b.ReportMetric(float64((with-alone).Microseconds())/1e3/float64(b.N), "watchers-cpu-ms/op")
	b.ReportMetric(float64(alone.Microseconds())/1e3/float64(b.N), "write-cpu-ms/op")
}
