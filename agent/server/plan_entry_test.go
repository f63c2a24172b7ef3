package server

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"drover/agent/jobspec"
	"drover/agent/scheduler"
	"drover/agent/state"
	"drover/agent/structs"
)

// planFixture drives an FSM the way the leader does, without raft or
// network: nodes and jobs are registered through log entries, evaluations
// are scheduled from a snapshot, checked by the plan applier's
// evaluatePlan and committed as the entry planResultsRequest builds. It
// measures and checks what a plan costs in the log.
type planFixture struct {
	tb    testing.TB
	f     *fsm
	index uint64
	now   time.Time
	// enc builds log entries (encode unless a test plays an older server).
	enc func(MessageType, interface{}) ([]byte, error)
}

func newPlanFixture(tb testing.TB, nodes int) *planFixture {
	tb.Helper()
	f, err := newFSM()
	if err != nil {
		tb.Fatal(err)
	}
	p := &planFixture{tb: tb, f: f, index: 1, now: time.Unix(1700000000, 0).UTC(), enc: encode}
	for i := 0; i < nodes; i++ {
		n := testNode(fmt.Sprintf("node-%d", i), 16000, 65536)
		n.NodePool = "default"
		n.SchedulingEligibility = structs.NodeSchedulingEligible
		p.apply(NodeRegisterRequestType, &NodeRegisterRequest{Node: n})
	}
	return p
}

// apply encodes req as a log entry and applies it at the next index.
func (p *planFixture) apply(t MessageType, req interface{}) []byte {
	p.tb.Helper()
	buf, err := p.enc(t, req)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.applyRaw(buf)
	return buf
}

func (p *planFixture) applyRaw(buf []byte) {
	p.tb.Helper()
	p.index++
	if resp := p.f.Apply(&raft.Log{Index: p.index, Data: buf}); resp != nil {
		p.tb.Fatalf("apply at %d: %v", p.index, resp)
	}
}

// register stores a version of job, as Job.Register does, and returns it
// as stored.
func (p *planFixture) register(job *structs.Job) *structs.Job {
	p.tb.Helper()
	p.apply(JobRegisterRequestType, &JobRegisterRequest{Job: job.Copy()})
	stored, err := p.f.State().JobByID(nil, job.Namespace, job.ID)
	if err != nil || stored == nil {
		p.tb.Fatalf("job %q not stored: %v", job.ID, err)
	}
	return stored
}

// plan schedules an evaluation of job and returns the plan results entry
// the plan applier would replicate for it, not yet applied.
func (p *planFixture) plan(job *structs.Job) *state.ApplyPlanResultsRequest {
	p.tb.Helper()
	e := newEval(job)
	p.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{e}})
	return p.schedule(e)
}

func newEval(job *structs.Job) *structs.Evaluation {
	return &structs.Evaluation{
		ID: structs.GenerateUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
		TriggeredBy: structs.EvalTriggerJobRegister, JobID: job.ID, JobModifyIndex: job.JobModifyIndex,
		Status: structs.EvalStatusPending,
	}
}

// schedule runs the scheduler for a stored evaluation and returns the
// entry of its plan as the plan applier builds it, not yet applied.
func (p *planFixture) schedule(e *structs.Evaluation) *state.ApplyPlanResultsRequest {
	p.tb.Helper()
	snap := p.f.State().Snapshot()
	res, err := scheduler.Schedule(snap, e, p.now)
	if err != nil {
		p.tb.Fatal(err)
	}
	result, err := evaluatePlan(snap, res.Plan)
	if err != nil {
		p.tb.Fatal(err)
	}
	return planResultsRequest(res.Plan, result, p.now)
}

// benchJob is seed004 on the mock driver with count allocations, small
// enough that 10 fit on a fixture node.
func benchJob(tb testing.TB, count int) *structs.Job {
	tb.Helper()
	src, err := os.ReadFile("../jobspec/testdata/seed004.nomad")
	if err != nil {
		tb.Fatal(err)
	}
	text := string(src)
	for _, e := range [][2]string{
		{`group "cache" {`, fmt.Sprintf("group \"cache\" {\n    count = %d", count)},
		{`driver = "docker"`, `driver = "mock"`},
		{"cpu    = 500", "cpu    = 100"},
		{"memory = 256", "memory = 64"},
	} {
		if !strings.Contains(text, e[0]) {
			tb.Fatalf("edit %q not found", e[0])
		}
		text = strings.Replace(text, e[0], e[1], 1)
	}
	job, err := jobspec.Parse("seed004.nomad", []byte(text), jobspec.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return job
}

func allocCount(req *state.ApplyPlanResultsRequest) (stopped, updated, placed int) {
	return len(req.AllocsStopped), len(req.AllocsUpdated), len(req.AllocsPlaced)
}

// BenchmarkPlanEntry10k measures the raft entry of a plan for 10,000
// allocations over 1,000 nodes: its size (entry-bytes, bytes/alloc) and
// the time to encode it (ns/op). place is the first placement, inplace a
// version that changes only scheduling policy (every allocation updated
// in place), destructive a new config (every allocation stopped and
// replaced), stop the job stopped.
//
//	go test ./agent/server -run '^$' -bench PlanEntry10k -benchtime 5x
func BenchmarkPlanEntry10k(b *testing.B) {
	const count = 10000
	p := newPlanFixture(b, 1000)
	job := benchJob(b, count)
	stored := p.register(job)
	entries := map[string]*state.ApplyPlanResultsRequest{}
	var order []string
	step := func(name string, next *structs.Job) {
		stored = p.register(next)
		req := p.plan(stored)
		entries[name] = req
		order = append(order, name)
		buf, err := encode(ApplyPlanResultsRequestType, req)
		if err != nil {
			b.Fatal(err)
		}
		p.applyRaw(buf)
	}
	step("place", job)
	inplace := stored.Copy()
	inplace.TaskGroups[0].Tasks[0].KillTimeout += time.Second
	step("inplace", inplace)
	destructive := stored.Copy()
	destructive.TaskGroups[0].Tasks[0].Config["image"] = "redis:7"
	// No update block: every allocation is replaced in one plan.
	destructive.Update, destructive.TaskGroups[0].Update = nil, nil
	step("destructive", destructive)
	stop := stored.Copy()
	stop.Stop = true
	step("stop", stop)

	for _, name := range order {
		req := entries[name]
		buf, err := encode(ApplyPlanResultsRequestType, req)
		if err != nil {
			b.Fatal(err)
		}
		s, u, pl := allocCount(req)
		b.Logf("%s: %d stopped, %d updated, %d placed: %d bytes", name, s, u, pl, len(buf))
		b.Run(name+"/encode", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := encode(ApplyPlanResultsRequestType, req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "entry-bytes")
			b.ReportMetric(float64(len(buf))/float64(s+u+pl), "bytes/alloc")
		})
		b.Run(name+"/decode", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var back state.ApplyPlanResultsRequest
				if err := decodeEntry(buf[1:], &back); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
