package bench

import (
	"context"
	"testing"
)

// The presets as Go benchmarks, at their full sizes; each iteration is
// one whole run, so run them one at a time and once:
//
//	go test ./agent/bench -run '^$' -bench 'C100k$' -benchtime 1x -timeout 30m
//
// They fail when the outcome is not reached within the preset's timeout.
func BenchmarkC1k(b *testing.B) { benchmarkPreset(b, PresetC1k, nil) }
func BenchmarkC1k2000(b *testing.B) {
	benchmarkPreset(b, PresetC1k, func(o *Options) { o.Allocs = 2000 })
}
func BenchmarkC100k(b *testing.B) { benchmarkPreset(b, PresetC100k, nil) }
func BenchmarkChurn(b *testing.B) { benchmarkPreset(b, PresetChurn, nil) }
func BenchmarkBoot(b *testing.B)  { benchmarkPreset(b, PresetBoot, nil) }

func benchmarkPreset(b *testing.B, preset string, edit func(*Options)) {
	opts, err := DefaultOptions(preset)
	if err != nil {
		b.Fatal(err)
	}
	if edit != nil {
		edit(&opts)
	}
	var last *Result
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		last = res
	}
	b.ReportMetric(last.PlacementsPerSec, "placements/s")
	b.ReportMetric(float64(last.TimeToAllPlaced), "s-to-placed")
	b.ReportMetric(float64(last.TimeToAllRunning), "s-to-running")
	b.ReportMetric(float64(last.RegisterToPlaced.P50)*1000, "placed-p50-ms")
	b.ReportMetric(float64(last.RegisterToPlaced.P99)*1000, "placed-p99-ms")
	b.ReportMetric(float64(last.Raft.Total.Bytes)/(1<<20), "raft-MiB")
	b.ReportMetric(float64(last.Raft.Total.Largest)/(1<<20), "raft-largest-MiB")
	b.ReportMetric(float64(last.Memory.PeakHeapInUse)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(last.Memory.RSS)/(1<<20), "rss-MiB")
	if c := last.Churn; c != nil {
		b.ReportMetric(float64(c.Reschedule.P50)*1000, "resched-p50-ms")
		b.ReportMetric(float64(c.Reschedule.P99)*1000, "resched-p99-ms")
		kept := 0.0
		if c.KeptUp {
			kept = 1
		}
		b.ReportMetric(kept, "kept-up")
	}
}
