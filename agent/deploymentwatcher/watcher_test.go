package deploymentwatcher

import (
	"context"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/jobspec"
	"drover/agent/state"
	"drover/agent/structs"
	"drover/testutil/watchset"
)

// recorder is a Raft that records the watcher's writes.
type recorder struct {
	evals       []*structs.Evaluation
	statuses    []*structs.DeploymentStatusUpdate
	reverts     []*structs.Job
	stable      []*Stability
	promoted    []string
	transitions map[string]*structs.DesiredTransition
}

func (r *recorder) UpsertEvals(evals []*structs.Evaluation) error {
	r.evals = append(r.evals, evals...)
	return nil
}

func (r *recorder) UpdateDeploymentStatus(u *structs.DeploymentStatusUpdate, revert *structs.Job, stable *Stability, eval *structs.Evaluation) error {
	r.statuses = append(r.statuses, u)
	if revert != nil {
		r.reverts = append(r.reverts, revert)
	}
	if stable != nil {
		r.stable = append(r.stable, stable)
	}
	return nil
}

func (r *recorder) PromoteDeployment(id string, groups []string, eval *structs.Evaluation) error {
	r.promoted = append(r.promoted, id)
	return nil
}

func (r *recorder) UpdateDesiredTransitions(t map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error {
	r.transitions = t
	return nil
}

// fixture stores seed003 (edited), its deployment and one allocation
// whose health is given.
func fixture(t *testing.T, healthy bool, edits ...string) (*state.StateStore, *structs.Allocation) {
	t.Helper()
	src, err := os.ReadFile("../jobspec/testdata/seed003.nomad")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	job, err := jobspec.Parse("seed003.nomad", []byte(text), jobspec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	job.Canonicalize()
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpsertJob(10, job); err != nil {
		t.Fatal(err)
	}
	job, _ = st.JobByID(nil, job.Namespace, job.ID)
	tg := job.TaskGroups[0]
	d := &structs.Deployment{ID: structs.GenerateUUID(), Namespace: job.Namespace, JobID: job.ID, JobVersion: job.Version,
		JobCreateIndex: job.CreateIndex, Status: structs.DeploymentStatusRunning,
		TaskGroups: map[string]*structs.DeploymentState{tg.Name: {
			ProgressDeadline: tg.Update.ProgressDeadline, DesiredTotal: tg.Count, AutoRevert: tg.Update.AutoRevert}}}
	if err := st.UpsertDeployment(11, d); err != nil {
		t.Fatal(err)
	}
	a := &structs.Allocation{ID: structs.GenerateUUID(), Namespace: job.Namespace, JobID: job.ID, Job: job, TaskGroup: tg.Name,
		Name: structs.AllocName(job.ID, tg.Name, 0), NodeID: structs.GenerateUUID(), DeploymentID: d.ID,
		DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusPending}
	if err := st.UpsertAllocs(12, []*structs.Allocation{a}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateAllocsFromClient(13, []*structs.Allocation{{ID: a.ID, ClientStatus: structs.AllocClientStatusRunning,
		DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	return st, a
}

func watch(st *state.StateStore, r *recorder) *Watcher {
	return New(func() *state.StateStore { return st }, r, log.New(io.Discard, "", 0), time.Now)
}

func TestAllHealthySucceedsAndMarksStable(t *testing.T) {
	st, _ := fixture(t, true)
	r := &recorder{}
	watch(st, r).Check()
	if len(r.statuses) != 1 || r.statuses[0].Status != structs.DeploymentStatusSuccessful || len(r.stable) != 1 || !r.stable[0].Stable {
		t.Fatalf("statuses %+v, stable %+v", r.statuses, r.stable)
	}
}

func TestUnhealthyWithoutDeadlineFails(t *testing.T) {
	st, _ := fixture(t, false, "progress_deadline = \"10m\"", "progress_deadline = \"0\"")
	r := &recorder{}
	watch(st, r).Check()
	if len(r.statuses) != 1 || r.statuses[0].Status != structs.DeploymentStatusFailed ||
		r.statuses[0].StatusDescription != structs.DeploymentDescFailedAllocations || r.transitions != nil {
		t.Fatalf("statuses %+v, transitions %v", r.statuses, r.transitions)
	}
}

func TestUnhealthyWithDeadlineIsMarkedForReplacement(t *testing.T) {
	st, a := fixture(t, false)
	r := &recorder{}
	watch(st, r).Check()
	if len(r.statuses) != 0 || r.transitions[a.ID] == nil || !r.transitions[a.ID].ShouldReschedule() {
		t.Fatalf("statuses %+v, transitions %v", r.statuses, r.transitions)
	}
}

func TestPassedDeadlineFailsAndRevertsOnlyWithAutoRevert(t *testing.T) {
	for _, autoRevert := range []bool{false, true} {
		// One of two allocations healthy; the 10m deadline runs from it.
		edits := []string{"count = 1", "count = 2"}
		if autoRevert {
			edits = append(edits, "auto_revert = false", "auto_revert = true")
		}
		st, _ := fixture(t, true, edits...)
		r := &recorder{}
		later := func() time.Time { return time.Now().Add(11 * time.Minute) }
		New(func() *state.StateStore { return st }, r, log.New(io.Discard, "", 0), later).Check()
		if len(r.statuses) != 1 || !strings.HasPrefix(r.statuses[0].StatusDescription, structs.DeploymentDescProgressDeadline) {
			t.Fatalf("auto_revert %v: statuses %+v", autoRevert, r.statuses)
		}
		// No stable version exists to go back to: the description says
		// so only when the group asks for auto_revert.
		said := strings.Contains(r.statuses[0].StatusDescription, "no stable job version to auto revert to")
		if said != autoRevert {
			t.Fatalf("auto_revert %v: %q", autoRevert, r.statuses[0].StatusDescription)
		}
	}
}

// The watcher wakes for its running deployments, their allocations and
// their jobs, not for the rest of the cluster: an idle server with many
// allocations must not pay for them on every write.
func TestWatchCoversActiveDeploymentsOnly(t *testing.T) {
	cases := []struct {
		name  string
		write func(st *state.StateStore, a *structs.Allocation) error
		want  bool
	}{
		{"allocation of no deployment", func(st *state.StateStore, a *structs.Allocation) error {
			other := a.Copy()
			other.ID, other.DeploymentID = structs.GenerateUUID(), ""
			return st.UpsertAllocs(20, []*structs.Allocation{other})
		}, false},
		{"node", func(st *state.StateStore, a *structs.Allocation) error {
			return st.UpsertNode(20, &structs.Node{ID: structs.GenerateUUID(), Status: structs.NodeStatusReady})
		}, false},
		{"allocation of the deployment", func(st *state.StateStore, a *structs.Allocation) error {
			return st.UpdateAllocsFromClient(20, []*structs.Allocation{{ID: a.ID, ClientStatus: structs.AllocClientStatusFailed}})
		}, true},
		{"the deployment's job", func(st *state.StateStore, a *structs.Allocation) error {
			j := a.Job.Copy()
			j.Meta = map[string]string{"v": "2"}
			return st.UpsertJob(20, j)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, a := fixture(t, false)
			w := watch(st, &recorder{})
			ws := memdb.NewWatchSet()
			if err := w.watch(ws, st.Snapshot()); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(st, a); err != nil {
				t.Fatal(err)
			}
			if got := watchset.Fired(ws); got != tc.want {
				t.Fatalf("woke = %v, want %v", got, tc.want)
			}
		})
	}
}

// syncRecorder is a recorder safe to read while Run writes to it.
type syncRecorder struct {
	mu sync.Mutex
	recorder
}

func (r *syncRecorder) UpsertEvals(evals []*structs.Evaluation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorder.UpsertEvals(evals)
}

func (r *syncRecorder) UpdateDeploymentStatus(u *structs.DeploymentStatusUpdate, revert *structs.Job, stable *Stability, eval *structs.Evaluation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorder.UpdateDeploymentStatus(u, revert, stable, eval)
}

func (r *syncRecorder) counts() (evals, statuses int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.evals), len(r.statuses)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Run acts on a health report as soon as it is written, not at its next
// timed pass (here an hour away).
func TestRunWakesOnHealth(t *testing.T) {
	st, _ := fixture(t, true, "count = 1", "count = 2")
	job, _ := st.JobByID(nil, "default", "example")
	ds, _ := st.DeploymentsByJobID(nil, job.Namespace, job.ID)
	r := &syncRecorder{}
	w := New(func() *state.StateStore { return st }, r, log.New(io.Discard, "", 0), time.Now)
	w.every = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// One of two healthy: the first pass asks for the next placement.
	waitFor(t, "the first pass", func() bool { e, _ := r.counts(); return e == 1 })
	healthy := true
	b := &structs.Allocation{ID: structs.GenerateUUID(), Namespace: job.Namespace, JobID: job.ID, Job: job,
		TaskGroup: job.TaskGroups[0].Name, Name: structs.AllocName(job.ID, job.TaskGroups[0].Name, 1),
		NodeID: structs.GenerateUUID(), DeploymentID: ds[0].ID, DesiredStatus: structs.AllocDesiredStatusRun}
	if err := st.UpsertAllocs(20, []*structs.Allocation{b}); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateAllocsFromClient(21, []*structs.Allocation{{ID: b.ID, ClientStatus: structs.AllocClientStatusRunning,
		DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &healthy, Timestamp: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watcher to act on the health report", func() bool { _, s := r.counts(); return s > 0 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.statuses[0].Status != structs.DeploymentStatusSuccessful {
		t.Fatalf("status %+v", r.statuses[0])
	}
}
