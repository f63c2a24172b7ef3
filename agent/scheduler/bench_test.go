package scheduler

import (
	"fmt"
	"testing"

	"drover/agent/structs"
)

// BenchmarkSchedule10kOver1kNodes schedules one job of 10,000 allocations
// over 1,000 registered nodes and reports placements per second. Each
// iteration is one full scheduling pass from an empty cluster.
func BenchmarkSchedule10kOver1kNodes(b *testing.B) {
	h := newHarness(b)
	for i := 0; i < 1000; i++ {
		h.node(fmt.Sprintf("node-%d", i), 16000, 65536)
	}
	job := h.register(h.parse("seed004.nomad",
		"group \"cache\" {", "group \"cache\" {\n    count = 10000",
		"driver = \"docker\"", "driver = \"mock\"",
		"cpu    = 500", "cpu    = 100",
		"memory = 256", "memory = 64"))
	eval := h.eval(job, structs.EvalTriggerJobRegister)
	snap := h.st.Snapshot()
	b.ResetTimer()
	placed := 0
	for i := 0; i < b.N; i++ {
		res, err := Schedule(snap, eval, h.now)
		if err != nil {
			b.Fatal(err)
		}
		placed += countAllocs(res.Plan.NodeAllocation)
	}
	b.StopTimer()
	if placed != 10000*b.N {
		b.Fatalf("placed %d allocations in %d passes, want 10000 each", placed, b.N)
	}
	b.ReportMetric(float64(placed)/b.Elapsed().Seconds(), "placements/s")
}

// benchmarkOverfull schedules one job asking for count allocations, in
// two groups of count/2 (a group holds at most 10,000), over 5,000 nodes
// on which 10,000 fit (two each). With count 20,000 the second group
// finds no room at all; failures coalesce per group, so that pass should
// cost about what the 10,000 that fit cost, not a node scan per failure.
func benchmarkOverfull(b *testing.B, count int) {
	h := newHarness(b)
	for i := 0; i < 5000; i++ {
		h.node(fmt.Sprintf("node-%d", i), 1000, 65536)
	}
	spec := h.parse("seed004.nomad",
		"group \"cache\" {", fmt.Sprintf("group \"cache\" {\n    count = %d", count/2),
		"driver = \"docker\"", "driver = \"mock\"",
		"memory = 256", "memory = 64")
	second := spec.Copy().TaskGroups[0]
	second.Name = "cache2"
	spec.TaskGroups = append(spec.TaskGroups, second)
	job := h.register(spec)
	eval := h.eval(job, structs.EvalTriggerJobRegister)
	snap := h.st.Snapshot()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Schedule(snap, eval, h.now)
		if err != nil {
			b.Fatal(err)
		}
		if n := countAllocs(res.Plan.NodeAllocation); n != 10000 {
			b.Fatalf("placed %d, want the 10000 that fit", n)
		}
	}
}

func BenchmarkSchedule10kFitOver5kNodes(b *testing.B)         { benchmarkOverfull(b, 10000) }
func BenchmarkSchedule20kAskedOver5kNodesFit10k(b *testing.B) { benchmarkOverfull(b, 20000) }
