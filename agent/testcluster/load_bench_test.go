package testcluster

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkSustainedWriters is the load benchmark: 50 concurrent writers
// register (and re-register) jobs against one server for a while, with
// garbage collection every 5 s past 1 s thresholds. It reports requests
// per second, p50 and p99 latency, the process's RSS after warm-up and at
// the end, and the evaluations kept. Run it with
//
//	go test ./agent/testcluster -run '^$' -bench SustainedWriters -benchtime 1x
//
// (DROVER_LOAD_SECONDS sets the duration, 60 by default). It fails when the
// RSS at the end exceeds 1.5 times the RSS after warm-up.
func BenchmarkSustainedWriters(b *testing.B) {
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("DROVER_LOAD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	c := New(b, 1, 0, Options{ServerHCL: `
  job_gc_interval         = "5s"
  eval_gc_threshold       = "1s"
  job_gc_threshold        = "1s"
  deployment_gc_threshold = "1s"`})
	srv := c.Servers[0]
	cl := srv.API(b)
	run := func(d time.Duration) (n int, lat []time.Duration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for w := 0; w < 50; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; time.Now().Before(stop); i++ {
					job := mockJob(fmt.Sprintf("load-%02d-%d", w, i%20), 0)
					start := time.Now()
					_, _, err := cl.Jobs().Register(job, nil)
					took := time.Since(start)
					mu.Lock()
					if err == nil {
						n++
						lat = append(lat, took)
					}
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		return n, lat
	}
	b.ResetTimer()
	run(time.Duration(seconds/6+1) * time.Second) // warm-up
	warm := rssBytes()
	n, lat := run(time.Duration(seconds) * time.Second)
	time.Sleep(6 * time.Second) // one more collection
	end := rssBytes()
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	evals, _, _ := cl.Evaluations().List(nil)
	b.ReportMetric(float64(n)/float64(seconds), "req/s")
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(warm>>20), "rss-warm-MiB")
	b.ReportMetric(float64(end>>20), "rss-end-MiB")
	b.ReportMetric(float64(len(evals)), "evals-kept")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("%d requests, heap in use %d MiB, evaluations kept %d", n, ms.HeapInuse>>20, len(evals))
	if warm > 0 && float64(end) > 1.5*float64(warm) {
		b.Fatalf("RSS grew from %d MiB after warm-up to %d MiB", warm>>20, end>>20)
	}
}

// rssBytes is this process's resident set size, from /proc, after the Go
// runtime gave back what it no longer uses (so that freed garbage is not
// mistaken for growth).
func rssBytes() uint64 {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
