package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"drover/agent/gc"
	"drover/agent/state"
	"drover/agent/structs"
	"drover/testutil/fill"
)

// entryTypes lists every log message type with its request. A type added
// to fsm.go must be added here: TestEntryCodec_EveryTypeListed fails
// otherwise.
var entryTypes = []struct {
	t   MessageType
	new func() interface{}
}{
	{JobRegisterRequestType, func() interface{} { return new(JobRegisterRequest) }},
	{JobDeregisterRequestType, func() interface{} { return new(JobDeregisterRequest) }},
	{EvalUpdateRequestType, func() interface{} { return new(EvalUpdateRequest) }},
	{ApplyPlanResultsRequestType, func() interface{} { return new(state.ApplyPlanResultsRequest) }},
	{NodeRegisterRequestType, func() interface{} { return new(NodeRegisterRequest) }},
	{NodeStatusUpdateRequestType, func() interface{} { return new(NodeStatusUpdateRequest) }},
	{NodeDrainUpdateRequestType, func() interface{} { return new(NodeDrainUpdateRequest) }},
	{NodeEligibilityUpdateRequestType, func() interface{} { return new(NodeEligibilityUpdateRequest) }},
	{AllocClientUpdateRequestType, func() interface{} { return new(AllocClientUpdateRequest) }},
	{AllocDesiredTransitionRequestType, func() interface{} { return new(AllocDesiredTransitionRequest) }},
	{DeploymentStatusUpdateRequestType, func() interface{} { return new(DeploymentStatusUpdateRequest) }},
	{DeploymentPromoteRequestType, func() interface{} { return new(DeploymentPromoteRequest) }},
	{JobStabilityRequestType, func() interface{} { return new(JobStabilityRequest) }},
	{NodeDeregisterRequestType, func() interface{} { return new(NodeDeregisterRequest) }},
	{GCRequestType, func() interface{} { return new(GCRequest) }},
}

// encodeJSON builds a log entry the way Drover servers before MessagePack
// did: the type byte, then the request's JSON.
func encodeJSON(t MessageType, req interface{}) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(t)}, body...), nil
}

// TestEntryCodec_EveryTypeListed: the type after the last listed one is
// unknown to the FSM, so no type escapes the tests below.
func TestEntryCodec_EveryTypeListed(t *testing.T) {
	for i, et := range entryTypes {
		if et.t != MessageType(i+1) {
			t.Fatalf("entryTypes[%d] is type %d, want %d (keep the list in type order)", i, et.t, i+1)
		}
	}
	f, err := newFSM()
	if err != nil {
		t.Fatal(err)
	}
	next := byte(len(entryTypes) + 1)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "unknown log entry type") {
			t.Fatalf("type %d: want the unknown-type panic, got %v: is it missing from entryTypes?", next, r)
		}
	}()
	f.Apply(&raft.Log{Index: 1, Data: []byte{next, 0x80}})
}

// TestEntryCodec_RoundTrip: every request, with no field set, with every
// field set (found by reflection, so later fields are covered too) and
// with every slice and map empty, decodes from MessagePack exactly as it
// was: times, maps, interface values, nil and empty alike. The same holds
// for the JSON an older server wrote, which decodeEntry still reads.
func TestEntryCodec_RoundTrip(t *testing.T) {
	variants := []struct {
		name string
		make func(v interface{})
	}{
		{"zero", func(interface{}) {}},
		{"full", func(v interface{}) { fill.Fill(v, 1) }},
		{"empty", func(v interface{}) { fill.Fill(v, 1); fill.Empty(v) }},
	}
	for _, et := range entryTypes {
		for _, variant := range variants {
			name := fmt.Sprintf("%T/%s", et.new(), variant.name)
			t.Run(name, func(t *testing.T) {
				in := et.new()
				variant.make(in)
				for _, codec := range []struct {
					name string
					enc  func(MessageType, interface{}) ([]byte, error)
				}{{"msgpack", encode}, {"json", encodeJSON}} {
					buf, err := codec.enc(et.t, in)
					if err != nil {
						t.Fatalf("%s: encode: %v", codec.name, err)
					}
					if MessageType(buf[0]) != et.t {
						t.Fatalf("%s: type byte %d", codec.name, buf[0])
					}
					if isJSON := buf[1] == '{'; isJSON != (codec.name == "json") {
						t.Fatalf("%s: body starts with %#x", codec.name, buf[1])
					}
					out := et.new()
					if err := decodeEntry(buf[1:], out); err != nil {
						t.Fatalf("%s: decode: %v", codec.name, err)
					}
					if !reflect.DeepEqual(in, out) {
						t.Errorf("%s round trip differs:\n got %s\nwant %s", codec.name, dump(out), dump(in))
					}
				}
			})
		}
	}
}

func dump(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestFSM_AppliesLegacyJSONLog plays one history, with an entry of every
// type, into two FSMs: one as an older server logged it (JSON, plans not
// normalised), one as this server logs it (MessagePack, normalised
// plans). After every entry both states must be the same, so a raft log
// written before MessagePack still applies, and a normalised plan
// commits what the whole one did.
func TestFSM_AppliesLegacyJSONLog(t *testing.T) {
	old, cur := newPlanFixture(t, 0), newPlanFixture(t, 0)
	old.enc = encodeJSON
	seen := map[MessageType]bool{}
	apply := func(mt MessageType, oldReq, curReq interface{}) {
		t.Helper()
		seen[mt] = true
		old.apply(mt, oldReq)
		cur.apply(mt, curReq)
		a, b := dumpState(t, old.f.State()), dumpState(t, cur.f.State())
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("after a %T entry, %s differs:\nJSON    %s\nmsgpack %s", curReq, k, a[k], b[k])
			}
		}
	}
	step := func(mt MessageType, req interface{}) {
		t.Helper()
		apply(mt, req, req)
	}
	stepPlan := func(pl planned) {
		t.Helper()
		apply(ApplyPlanResultsRequestType, pl.legacy, pl.cur)
	}
	ts := old.now
	event := func(msg string) *structs.NodeEvent {
		return &structs.NodeEvent{Message: msg, Subsystem: "Cluster", Timestamp: ts, Details: map[string]string{"k": "v"}}
	}
	n1, n2 := testNode("n1", 4000, 8192), testNode("n2", 4000, 8192)
	for _, n := range []*structs.Node{n1, n2} {
		n.NodePool, n.SchedulingEligibility = "default", structs.NodeSchedulingEligible
		n.Events = []*structs.NodeEvent{event(structs.NodeEventRegistered)}
		step(NodeRegisterRequestType, &NodeRegisterRequest{Node: n})
	}
	step(NodeStatusUpdateRequestType, &NodeStatusUpdateRequest{NodeID: n2.ID, Status: structs.NodeStatusDown,
		UpdatedAt: ts.Unix(), Event: event(structs.NodeEventHeartbeatMissed)})
	step(NodeStatusUpdateRequestType, &NodeStatusUpdateRequest{NodeID: n2.ID, Status: structs.NodeStatusReady,
		UpdatedAt: ts.Unix(), Event: event(structs.NodeEventReregistered)})

	// v1: three allocations in a deployment whose canary count only
	// matters for later versions.
	job := benchJob(t, 3)
	job.TaskGroups[0].Update.Canary = 1
	e := newEval(job)
	step(JobRegisterRequestType, &JobRegisterRequest{Job: job, Eval: e})
	v1, _ := old.f.State().JobByID(nil, job.Namespace, job.ID)
	plan := old.schedule(e)
	if len(plan.cur.AllocsPlaced) != 3 || plan.cur.Deployment == nil {
		t.Fatalf("v1: want 3 placements in a deployment, got %d (deployment %v)", len(plan.cur.AllocsPlaced), plan.cur.Deployment)
	}
	stepPlan(plan)
	done := *e
	done.Status = structs.EvalStatusComplete
	step(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{&done}})
	runAll := func() []*structs.Allocation {
		t.Helper()
		allocs, _ := old.f.State().AllocsByJob(nil, job.Namespace, job.ID, true)
		healthy := true
		var updates []*structs.Allocation
		for _, a := range allocs {
			if a.TerminalStatus() {
				continue
			}
			updates = append(updates, &structs.Allocation{
				ID: a.ID, ClientStatus: structs.AllocClientStatusRunning,
				TaskStates: map[string]*structs.TaskState{"redis": {State: structs.TaskStateRunning, StartedAt: ts,
					Events: []*structs.TaskEvent{{Type: "Started", Time: ts.UnixNano(), Details: map[string]string{}}}}},
				DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: &healthy, Timestamp: ts,
					Canary: a.DeploymentStatus != nil && a.DeploymentStatus.Canary},
			})
		}
		step(AllocClientUpdateRequestType, &AllocClientUpdateRequest{Allocs: updates})
		return allocs
	}
	runAll()
	step(DeploymentStatusUpdateRequestType, &DeploymentStatusUpdateRequest{
		Update: &structs.DeploymentStatusUpdate{DeploymentID: plan.cur.Deployment.ID, Status: structs.DeploymentStatusSuccessful,
			StatusDescription: "Deployment completed successfully"},
		Stable: &JobStabilityRequest{Namespace: job.Namespace, JobID: job.ID, Version: v1.Version, Stable: true},
	})

	// v2 changes the config: a canary first, promoted once healthy.
	v2 := v1.Copy()
	v2.TaskGroups[0].Tasks[0].Config["image"] = "redis:7"
	e2 := newEval(v2)
	step(JobRegisterRequestType, &JobRegisterRequest{Job: v2, Eval: e2})
	plan = old.schedule(e2)
	if len(plan.cur.AllocsPlaced) != 1 || plan.cur.Deployment == nil {
		t.Fatalf("v2: want 1 canary in a deployment, got %d placed", len(plan.cur.AllocsPlaced))
	}
	stepPlan(plan)
	runAll()
	step(DeploymentPromoteRequestType, &DeploymentPromoteRequest{DeploymentID: plan.cur.Deployment.ID, Groups: []string{"cache"},
		Eval: newEval(v2)})
	stored2, _ := old.f.State().JobByID(nil, job.Namespace, job.ID)
	step(JobStabilityRequestType, &JobStabilityRequest{Namespace: job.Namespace, JobID: job.ID, Version: stored2.Version})

	// After promotion the v1 allocations are replaced (stop + place).
	e5 := newEval(v2)
	step(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{e5}})
	plan = old.schedule(e5)
	if len(plan.cur.AllocStops) == 0 || len(plan.cur.AllocsPlaced) == 0 {
		t.Fatalf("v2 after promotion: want replacements, got %d stopped, %d placed", len(plan.cur.AllocStops), len(plan.cur.AllocsPlaced))
	}
	stepPlan(plan)
	allocs := runAll()

	// v3 only changes policy: every live allocation is updated in place.
	v3 := stored2.Copy()
	v3.TaskGroups[0].Tasks[0].KillTimeout += time.Second
	e3 := newEval(v3)
	step(JobRegisterRequestType, &JobRegisterRequest{Job: v3, Eval: e3})
	plan = old.schedule(e3)
	if len(plan.cur.AllocsUpdated) == 0 {
		t.Fatal("v3: want in-place updates, got none")
	}
	stepPlan(plan)
	allocs = runAll()
	if d := plan.cur.Deployment; d != nil {
		step(DeploymentStatusUpdateRequestType, &DeploymentStatusUpdateRequest{
			Update: &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: structs.DeploymentStatusSuccessful}})
	}

	// A failed allocation waits for its reschedule delay: the plan only
	// gives it a follow-up evaluation, and it keeps its job version.
	var live *structs.Allocation
	for _, a := range allocs {
		if !a.TerminalStatus() {
			live = a
			break
		}
	}
	step(AllocClientUpdateRequestType, &AllocClientUpdateRequest{Allocs: []*structs.Allocation{{
		ID: live.ID, ClientStatus: structs.AllocClientStatusFailed,
		TaskStates: map[string]*structs.TaskState{"redis": {State: structs.TaskStateDead, Failed: true, StartedAt: ts,
			FinishedAt: ts}},
	}}})
	e6 := newEval(v3)
	e6.TriggeredBy = structs.EvalTriggerRetryFailedAlloc
	step(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{e6}})
	plan = old.schedule(e6)
	if len(plan.cur.AllocsUpdatedKeepJob) != 1 || plan.cur.AllocsUpdatedKeepJob[0].FollowupEvalID == "" {
		t.Fatalf("failed allocation: want one follow-up annotation, got %d", len(plan.cur.AllocsUpdatedKeepJob))
	}
	stepPlan(plan)

	transitions := map[string]*structs.DesiredTransition{}
	for _, a := range allocs {
		migrate := true
		transitions[a.ID] = &structs.DesiredTransition{Migrate: &migrate}
	}
	step(NodeEligibilityUpdateRequestType, &NodeEligibilityUpdateRequest{NodeID: n1.ID,
		Eligibility: structs.NodeSchedulingIneligible, UpdatedAt: ts.Unix(), Event: event(structs.NodeEventIneligible)})
	step(NodeDrainUpdateRequestType, &NodeDrainUpdateRequest{NodeID: n1.ID,
		Drain:     &structs.DrainStrategy{DrainSpec: structs.DrainSpec{Deadline: time.Hour}, ForceDeadline: ts.Add(time.Hour), StartedAt: ts},
		UpdatedAt: ts.Unix(), Event: event(structs.NodeEventDrainSet)})
	step(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{Transitions: transitions,
		Evals: []*structs.Evaluation{newEval(v3)}})

	// Stopping the job stops every allocation, which keeps its version.
	cur3, _ := old.f.State().JobByID(nil, job.Namespace, job.ID)
	stopped := cur3.Copy()
	stopped.Stop = true
	e4 := newEval(stopped)
	step(JobDeregisterRequestType, &JobDeregisterRequest{Namespace: job.Namespace, JobID: job.ID, Job: stopped, Eval: e4})
	plan = old.schedule(e4)
	if len(plan.cur.AllocStops) == 0 {
		t.Fatal("stop: want stops, got none")
	}
	stepPlan(plan)

	var ids []string
	for _, a := range allocs {
		ids = append(ids, a.ID)
	}
	step(GCRequestType, &GCRequest{Garbage: &gc.Garbage{Evals: []string{e.ID, e2.ID, e3.ID, e4.ID, e5.ID, e6.ID}, Allocs: ids,
		Jobs: []gc.JobRef{{Namespace: job.Namespace, ID: job.ID}}}})
	step(NodeDeregisterRequestType, &NodeDeregisterRequest{NodeIDs: []string{n2.ID}})

	for _, et := range entryTypes {
		if !seen[et.t] {
			t.Errorf("no %T entry was replayed", et.new())
		}
	}
}

// Allocations travel in every plan and client update, so their empty
// fields stay out of the entry (codec omitempty); a round trip still
// gives back the same allocation, an event's empty Details included.
func TestEntryCodec_AllocationLeavesOutEmptyFields(t *testing.T) {
	a := &structs.Allocation{
		ID: structs.GenerateUUID(), Namespace: "default", JobID: "web", TaskGroup: "g", Name: "web.g[0]",
		NodeID: structs.GenerateUUID(), DesiredStatus: structs.AllocDesiredStatusRun, ClientStatus: structs.AllocClientStatusRunning,
		Metrics: &structs.AllocMetric{NodePool: "default", NodesEvaluated: 3, NodesAvailable: map[string]int{"dc1": 3}},
		TaskStates: map[string]*structs.TaskState{"t": {State: "running",
			Events: []*structs.TaskEvent{{Type: "Started", Time: 1, DisplayMessage: "Task started by client", Details: map[string]string{}}}}},
	}
	buf, err := encode(AllocClientUpdateRequestType, &AllocClientUpdateRequest{Allocs: []*structs.Allocation{a}})
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"ClassFiltered", "RescheduleTracker", "DeploymentStatus", "KillError", "FollowupEvalID"} {
		if bytes.Contains(buf, []byte(absent)) {
			t.Errorf("the entry carries the empty field %s", absent)
		}
	}
	if !bytes.Contains(buf, []byte("Details")) {
		t.Error("the entry left out the event's empty Details, which the API shows as {}")
	}
	var back AllocClientUpdateRequest
	if err := decodeEntry(buf[1:], &back); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(back.Allocs[0]), dump(a); got != want {
		t.Fatalf("round trip changed the allocation:\n got %s\nwant %s", got, want)
	}
}
