package scheduler

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"drover/agent/jobspec"
	"drover/agent/state"
	"drover/agent/structs"
)

// harness is an in-memory cluster for scheduler tests: a real state store,
// written directly (standing in for the FSM), with helpers that play the
// plan applier and the clients.
type harness struct {
	t     testing.TB
	st    *state.StateStore
	index uint64
	now   time.Time
}

func newHarness(t testing.TB) *harness {
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, st: st, index: 100, now: time.Unix(1700000000, 0)}
}

func (h *harness) next() uint64 {
	h.index++
	return h.index
}

func (h *harness) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

// node registers a ready node with the given CPU (MHz) and memory (MB).
func (h *harness) node(name string, cpu, mem int64) *structs.Node {
	h.t.Helper()
	n := &structs.Node{
		ID:         structs.GenerateUUID(),
		Name:       name,
		Datacenter: "dc1",
		NodePool:   "default",
		Status:     structs.NodeStatusReady,
		Attributes: map[string]string{"unique.network.ip-address": "10.0.0." + fmt.Sprint(h.index%250), "kernel.name": "linux"},
		NodeResources: &structs.NodeResources{
			Cpu: structs.NodeCpuResources{CpuShares: cpu}, Memory: structs.NodeMemoryResources{MemoryMB: mem},
			Disk: structs.NodeDiskResources{DiskMB: 100000}, MinDynamicPort: 20000, MaxDynamicPort: 32000,
		},
		Drivers: map[string]*structs.DriverInfo{
			"docker": {Detected: true, Healthy: true},
			"mock":   {Detected: true, Healthy: true},
		},
		SchedulingEligibility: structs.NodeSchedulingEligible,
	}
	h.must(h.st.UpsertNode(h.next(), n))
	return n
}

// parse reads a testdata job from the jobspec package, with text edits.
func (h *harness) parse(file string, edits ...string) *structs.Job {
	h.t.Helper()
	src, err := os.ReadFile("../jobspec/testdata/" + file)
	h.must(err)
	text := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			h.t.Fatalf("edit %q not found in %s", edits[i], file)
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	job, err := jobspec.Parse(file, []byte(text), jobspec.Options{})
	h.must(err)
	return job
}

// register stores a job version and returns what the store made of it.
func (h *harness) register(job *structs.Job) *structs.Job {
	h.t.Helper()
	h.must(h.st.UpsertJob(h.next(), job.Copy()))
	stored, err := h.st.JobByID(nil, job.Namespace, job.ID)
	h.must(err)
	return stored
}

func (h *harness) eval(job *structs.Job, trigger string) *structs.Evaluation {
	h.t.Helper()
	e := &structs.Evaluation{
		ID: structs.GenerateUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
		TriggeredBy: trigger, JobID: job.ID, JobModifyIndex: job.JobModifyIndex, Status: structs.EvalStatusPending,
	}
	h.must(h.st.UpsertEvals(h.next(), []*structs.Evaluation{e}))
	return e
}

func (h *harness) schedule(e *structs.Evaluation) *Result {
	h.t.Helper()
	res, err := Schedule(h.st.Snapshot(), e, h.now)
	h.must(err)
	return res
}

// apply commits a result the way the plan applier and worker would.
func (h *harness) apply(res *Result) {
	h.t.Helper()
	p := res.Plan
	req := &state.ApplyPlanResultsRequest{Job: p.Job, Deployment: p.Deployment, DeploymentUpdates: p.DeploymentUpdates,
		Timestamp: h.now.UnixNano()}
	for _, allocs := range sortedNodes(p.NodeUpdate) {
		req.AllocsStopped = append(req.AllocsStopped, allocs...)
	}
	for _, allocs := range sortedNodes(p.NodeAllocation) {
		for _, a := range allocs {
			if a.CreateIndex == 0 {
				req.AllocsPlaced = append(req.AllocsPlaced, a)
			} else {
				req.AllocsUpdated = append(req.AllocsUpdated, a)
			}
		}
	}
	evals := []*structs.Evaluation{res.Eval}
	if res.BlockedEval != nil {
		evals = append(evals, res.BlockedEval)
	}
	req.EvalUpdates = evals
	h.must(h.st.UpsertPlanResults(h.next(), req))
}

func sortedNodes(m map[string][]*structs.Allocation) [][]*structs.Allocation {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]*structs.Allocation, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// run plays the clients: every live allocation of the job runs, and those
// in healthy get a healthy deployment status.
func (h *harness) run(job *structs.Job, healthy func(a *structs.Allocation) bool) {
	h.t.Helper()
	var updates []*structs.Allocation
	for _, a := range h.live(job) {
		u := &structs.Allocation{ID: a.ID, ClientStatus: structs.AllocClientStatusRunning}
		if healthy != nil && healthy(a) {
			t := true
			u.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: &t, Timestamp: h.now}
		} else if a.DeploymentStatus != nil {
			u.DeploymentStatus = a.DeploymentStatus
		}
		updates = append(updates, u)
	}
	h.must(h.st.UpdateAllocsFromClient(h.next(), updates))
}

func all(*structs.Allocation) bool { return true }

// live lists the job's allocations that are not terminal, by name.
func (h *harness) live(job *structs.Job) []*structs.Allocation {
	h.t.Helper()
	allocs, err := h.st.AllocsByJob(nil, job.Namespace, job.ID, true)
	h.must(err)
	var out []*structs.Allocation
	for _, a := range allocs {
		if !a.TerminalStatus() {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func updatesOf(res *Result, group string) structs.DesiredUpdates {
	if u := res.Eval.PlanAnnotations.DesiredTGUpdates[group]; u != nil {
		return *u
	}
	return structs.DesiredUpdates{}
}

func countAllocs(m map[string][]*structs.Allocation) int {
	n := 0
	for _, allocs := range m {
		n += len(allocs)
	}
	return n
}

// succeed marks the job's running deployments successful, as the
// deployment watcher does once every allocation is healthy.
func (h *harness) succeed(job *structs.Job) {
	h.t.Helper()
	ds, err := h.st.DeploymentsByJobID(nil, job.Namespace, job.ID)
	h.must(err)
	for _, d := range ds {
		if d.Active() {
			h.must(h.st.UpdateDeploymentStatus(h.next(), &structs.DeploymentStatusUpdate{DeploymentID: d.ID,
				Status: structs.DeploymentStatusSuccessful, StatusDescription: structs.DeploymentDescSuccessful}, nil, nil))
		}
	}
}
