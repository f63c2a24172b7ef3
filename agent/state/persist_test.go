package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"drover/agent/msgpack"
	"drover/agent/structs"
)

// richState fills a store with at least one object of every kind,
// including history beyond the tracked versions and a purged job.
func richState(t *testing.T) *StateStore {
	t.Helper()
	s := mustStore(t)
	for i := 0; i < 8; i++ {
		must(t, s.UpsertJob(uint64(10+i), mockJob("web", "web", "db")))
	}
	must(t, s.UpdateJobStability(20, "default", "web", 7, true))
	must(t, s.UpsertJob(21, mockJob("gone")))
	must(t, s.DeleteJob(22, "default", "gone"))
	job := getJob(t, s, "web")
	must(t, s.UpsertNode(23, mockNode(1)))
	must(t, s.UpsertNode(24, mockNode(2)))
	must(t, s.UpdateNodeDrain(25, id("n", 2), &structs.DrainStrategy{
		DrainSpec: structs.DrainSpec{Deadline: time.Hour}, StartedAt: time.Unix(1700000000, 0).UTC(),
		ForceDeadline: time.Unix(1700003600, 0).UTC(),
	}, false, 1700000000, event(structs.NodeEventDrainSet)))
	ev := mockEval(1, "web", structs.EvalStatusComplete)
	ev.QueuedAllocations = map[string]int{"web": 0}
	ev.FailedTGAllocs = map[string]*structs.AllocMetric{"db": {NodesEvaluated: 2, DimensionExhausted: map[string]int{"memory": 2}}}
	req := &ApplyPlanResultsRequest{
		Job:         job,
		Deployment:  mockDeployment(1, job, "web"),
		EvalUpdates: []*structs.Evaluation{ev},
		Timestamp:   time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
	}
	for i := 1; i <= 3; i++ {
		a := mockAlloc(i, job, "web", id("n", 1))
		a.Job = nil
		a.DeploymentID = req.Deployment.ID
		a.AllocatedResources = &structs.AllocatedResources{Tasks: map[string]*structs.AllocatedTaskResources{
			"t": {Cpu: structs.AllocatedCpuResources{CpuShares: 100}},
		}}
		req.AllocsPlaced = append(req.AllocsPlaced, a)
	}
	must(t, s.UpsertPlanResults(30, req))
	must(t, s.UpdateAllocsFromClient(31, []*structs.Allocation{{
		ID: id("a", 1), ClientStatus: structs.AllocClientStatusRunning, ModifyTime: 99,
		TaskStates: map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning, StartedAt: time.Unix(5, 0).UTC(),
			Events: []*structs.TaskEvent{{Type: "Started", Time: 5}}}},
		DeploymentStatus: &structs.AllocDeploymentStatus{Healthy: boolp(true), Timestamp: time.Unix(6, 0).UTC()},
	}}))
	must(t, s.UpdateAllocsDesiredTransitions(32, map[string]*structs.DesiredTransition{
		id("a", 2): {Migrate: boolp(true)},
	}, nil))
	// An alloc whose job is an older version.
	old, _ := s.JobByIDAndVersion(nil, "default", "web", 3)
	must(t, s.UpsertAllocs(33, []*structs.Allocation{mockAlloc(9, old, "db", id("n", 2))}))
	return s
}

func mustRestore(t *testing.T, stream string) *StateStore {
	t.Helper()
	s, err := Restore(strings.NewReader(stream))
	must(t, err)
	return s
}

// dump reads every table through the read API.
func dump(t *testing.T, r *reader) map[string]interface{} {
	t.Helper()
	out := map[string]interface{}{}
	jobs, err := r.Jobs(nil)
	must(t, err)
	out["jobs"] = jobs
	versions := map[string][]*structs.Job{}
	summaries := map[string]*structs.JobSummary{}
	for _, name := range []string{"web", "gone"} {
		vs, err := r.JobVersionsByID(nil, "default", name)
		must(t, err)
		versions[name] = vs
		sum, err := r.JobSummaryByID(nil, "default", name)
		must(t, err)
		summaries[name] = sum
	}
	out["versions"], out["summaries"] = versions, summaries
	evals, err := r.Evals(nil)
	must(t, err)
	out["evals"] = evals
	allocs, err := r.Allocs(nil)
	must(t, err)
	out["allocs"] = allocs
	nodes, err := r.Nodes(nil)
	must(t, err)
	out["nodes"] = nodes
	deps, err := r.Deployments(nil)
	must(t, err)
	out["deployments"] = deps
	idx := map[string]uint64{}
	for _, table := range append(allTables, "never-written") {
		i, err := r.Index(table)
		must(t, err)
		idx[table] = i
	}
	out["index"] = idx
	latest, err := r.LatestIndex()
	must(t, err)
	out["latest"] = latest
	return out
}

func TestPersistRestoreRoundTrip(t *testing.T) {
	s := richState(t)
	snap := s.Snapshot()
	var buf bytes.Buffer
	must(t, s.Persist(&buf))
	stream := buf.String()

	// A snapshot persists what it saw, whatever happened since.
	must(t, s.UpsertJob(100, mockJob("later")))
	var fromSnap bytes.Buffer
	must(t, snap.Persist(&fromSnap))
	if !sameState(t, mustRestore(t, stream), mustRestore(t, fromSnap.String())) {
		t.Fatal("snapshot persisted a later write")
	}
	must(t, s.DeleteJob(101, "default", "later"))
	s = mustRestore(t, stream) // back to the state as persisted

	types := recordTypes(t, stream)
	if n := count(types, recordAllocJob); n != 2 {
		t.Fatalf("%d alloc jobs written, want 2 (shared objects written once)", n)
	}
	if n := count(types, recordAlloc); n != 4 {
		t.Fatalf("%d allocs written, want 4", n)
	}

	restored, err := Restore(strings.NewReader(stream))
	must(t, err)
	want, got := dump(t, &s.reader), dump(t, &restored.reader)
	for k := range want {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("%s differs after restore:\nwant %#v\n got %#v", k, want[k], got[k])
		}
	}
	if n := getNode(t, restored, id("n", 1)); n.SecretID != id("s", 1) {
		t.Fatalf("SecretID lost: %q", n.SecretID)
	}
	if vs := got["versions"].(map[string][]*structs.Job)["web"]; len(vs) != JobTrackedVersions {
		t.Fatalf("%d versions restored", len(vs))
	}
	a1, a2 := getAlloc(t, restored, id("a", 1)), getAlloc(t, restored, id("a", 2))
	if a1.Job != a2.Job {
		t.Fatal("allocations no longer share their job after restore")
	}

	// The restored store persists to the same stream and keeps working.
	var again bytes.Buffer
	must(t, restored.Persist(&again))
	if !sameState(t, restored, mustRestore(t, again.String())) {
		t.Fatal("restored store persists differently")
	}
	must(t, restored.UpsertJob(40, mockJob("web", "web", "db")))
	if j := getJob(t, restored, "web"); j.Version != 8 || j.CreateIndex != 10 {
		t.Fatalf("write after restore: version %d create %d", j.Version, j.CreateIndex)
	}
}

func TestRestoreRejectsGarbage(t *testing.T) {
	var good bytes.Buffer
	must(t, richState(t).Persist(&good))
	martian, err := msgpack.Append([]byte(nil), snapshotMagic)
	must(t, err)
	martian, err = msgpack.Append(martian, "Martian")
	must(t, err)
	martian, err = msgpack.Append(martian, map[string]string{})
	must(t, err)
	for _, in := range []string{
		`{"Type":"Martian","Data":{}}`,
		`{"Type":"Job","Data":`,
		`{"Type":"Alloc","Data":{"Alloc":{"ID":"x"},"JobRef":3}}`,
		"\xa5other",                          // a MessagePack string, not the magic
		good.String()[:good.Len()-3],         // cut short inside a record
		good.String()[:len(snapshotMagic)+4], // cut short inside a record type
		string(martian),
	} {
		if _, err := Restore(strings.NewReader(in)); err == nil {
			t.Errorf("accepted %s", in)
		}
	}
	s, err := Restore(strings.NewReader(""))
	must(t, err)
	if i, _ := s.LatestIndex(); i != 0 {
		t.Fatal("empty stream gave a non-empty store")
	}
}

// recordTypes lists the record types of a MessagePack snapshot stream.
func recordTypes(t *testing.T, stream string) []string {
	t.Helper()
	next, err := msgpackRecords(bufio.NewReader(strings.NewReader(stream)))
	must(t, err)
	var types []string
	for n := 1; ; n++ {
		typ, decode, err := next(n)
		if errors.Is(err, io.EOF) {
			return types
		}
		must(t, err)
		var v interface{}
		must(t, decode(&v))
		types = append(types, typ)
	}
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// persistJSON writes the JSON snapshot of servers before MessagePack
// (JSON lines of {"Type", "Data"}), as they wrote it.
func persistJSON(t *testing.T, s *StateStore) string {
	t.Helper()
	txn := s.db.Txn(false)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	emit := func(typ string, v interface{}) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return enc.Encode(jsonRecord{Type: typ, Data: data})
	}
	refs := map[*structs.Job]int{}
	for _, pt := range persistTables {
		it, err := txn.Get(pt.table, indexID)
		must(t, err)
		for raw := it.Next(); raw != nil; raw = it.Next() {
			switch obj := raw.(type) {
			case *structs.Node:
				must(t, emit(pt.typ, nodeRecord{Node: obj, SecretID: obj.SecretID}))
			case *structs.Allocation:
				must(t, persistAlloc(emit, refs, obj))
			default:
				must(t, emit(pt.typ, obj))
			}
		}
	}
	return buf.String()
}

// TestRestoreLegacyJSONSnapshot: a snapshot an older server wrote in JSON
// restores to the same state, which then persists in MessagePack.
func TestRestoreLegacyJSONSnapshot(t *testing.T) {
	s := richState(t)
	stream := persistJSON(t, s)
	if !strings.HasPrefix(stream, `{"Type":"Job"`) {
		t.Fatalf("not the legacy format: %.40s", stream)
	}
	restored := mustRestore(t, stream)
	want, got := dump(t, &s.reader), dump(t, &restored.reader)
	for k := range want {
		if !reflect.DeepEqual(want[k], got[k]) {
			t.Errorf("%s differs after restoring JSON:\nwant %#v\n got %#v", k, want[k], got[k])
		}
	}
	if n := getNode(t, restored, id("n", 1)); n.SecretID != id("s", 1) {
		t.Fatalf("SecretID lost: %q", n.SecretID)
	}
	var again bytes.Buffer
	must(t, restored.Persist(&again))
	if !strings.HasPrefix(again.String(), "\xb6"+snapshotMagic) {
		t.Fatalf("a store restored from JSON persists as %.30q, not MessagePack", again.String())
	}
	if !sameState(t, s, mustRestore(t, again.String())) {
		t.Fatal("a store restored from JSON persists differently from the original")
	}
}

// sameState compares two stores through the read API. (Persisted bytes
// may differ: MessagePack writes maps in iteration order.)
func sameState(t *testing.T, a, b *StateStore) bool {
	t.Helper()
	return reflect.DeepEqual(dump(t, &a.reader), dump(t, &b.reader))
}
