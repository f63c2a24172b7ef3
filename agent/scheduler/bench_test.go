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
