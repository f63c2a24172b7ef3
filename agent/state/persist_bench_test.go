package state

import (
	"bytes"
	"io"
	"testing"
	"time"

	"drover/agent/structs"
)

// benchState is a store of 1,000 nodes and one job with 10,000 running
// allocations shaped like the scheduler's (resources, a port, placement
// metrics with five node scores, two task events).
func benchState(b *testing.B) *StateStore {
	b.Helper()
	s, err := NewStateStore()
	if err != nil {
		b.Fatal(err)
	}
	index := uint64(10)
	next := func() uint64 { index++; return index }
	var nodes []*structs.Node
	for i := 0; i < 1000; i++ {
		n := mockNode(i)
		n.Drivers = map[string]*structs.DriverInfo{"mock": {Detected: true, Healthy: true}}
		nodes = append(nodes, n)
		if err := s.UpsertNode(next(), n); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.UpsertJob(next(), mockJob("web")); err != nil {
		b.Fatal(err)
	}
	job, _ := s.JobByID(nil, "default", "web")
	req := &ApplyPlanResultsRequest{Job: job, Timestamp: 1700000000000000000}
	var running []*structs.Allocation
	for i := 0; i < 10000; i++ {
		n := nodes[i%len(nodes)]
		a := mockAlloc(i, job, "web", n.ID)
		a.ID = structs.GenerateUUID()
		a.EvalID = structs.GenerateUUID()
		a.Job = nil
		a.NodeName = n.Name
		a.AllocatedResources = &structs.AllocatedResources{
			Tasks: map[string]*structs.AllocatedTaskResources{"t": {
				Cpu: structs.AllocatedCpuResources{CpuShares: 100}, Memory: structs.AllocatedMemoryResources{MemoryMB: 64}}},
			Shared: structs.AllocatedSharedResources{DiskMB: 300, Ports: []structs.PortMapping{{Label: "db", Value: 20000 + i%10000, To: 6379, HostIP: "10.0.0.1"}}},
		}
		m := &structs.AllocMetric{NodePool: "default", NodesEvaluated: 10, NodesInPool: 1000,
			NodesAvailable: map[string]int{"dc1": 1000}}
		for k := 0; k < 5; k++ {
			m.ScoreMetaData = append(m.ScoreMetaData, &structs.NodeScoreMeta{NodeID: nodes[(i+k)%len(nodes)].ID,
				Scores: map[string]float64{"final": 0.0091856617256}, NormScore: 0.0091856617256})
		}
		a.Metrics = m
		req.AllocsPlaced = append(req.AllocsPlaced, a)
		running = append(running, &structs.Allocation{ID: a.ID, ClientStatus: structs.AllocClientStatusRunning,
			TaskStates: map[string]*structs.TaskState{"t": {State: structs.TaskStateRunning, StartedAt: time.Unix(1700000001, 0).UTC(),
				Events: []*structs.TaskEvent{
					{Type: "Received", Time: 1700000000000000000, DisplayMessage: "Task received by client"},
					{Type: "Started", Time: 1700000001000000000, DisplayMessage: "Task started by client"},
				}}}})
	}
	if err := s.UpsertPlanResults(next(), req); err != nil {
		b.Fatal(err)
	}
	if err := s.UpdateAllocsFromClient(next(), running); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkPersistRestore writes and reads back a snapshot of benchState:
// its size (snapshot-bytes) and the time of each half.
//
//	go test ./agent/state -run '^$' -bench PersistRestore -benchtime 5x
func BenchmarkPersistRestore(b *testing.B) {
	s := benchState(b)
	var buf bytes.Buffer
	if err := s.Persist(&buf); err != nil {
		b.Fatal(err)
	}
	stream := buf.Bytes()
	b.Run("persist", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			// A sink that keeps nothing, as raft's file sink keeps nothing
			// in memory: growing a buffer would be most of the time.
			if err := s.Persist(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(stream)), "snapshot-bytes")
	})
	b.Run("restore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, err := Restore(bytes.NewReader(stream))
			if err != nil {
				b.Fatal(err)
			}
			if n, _ := r.Index(TableAllocs); n == 0 {
				b.Fatal("nothing restored")
			}
		}
	})
}
