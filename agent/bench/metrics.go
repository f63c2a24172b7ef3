package bench

import (
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Seconds is a duration in seconds, the unit of every time in a Result
// (and of its JSON form, where the field names end in _s).
type Seconds float64

func seconds(d time.Duration) Seconds { return Seconds(d.Seconds()) }

// Duration is s as a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// Percentiles summarises a distribution of latencies.
type Percentiles struct {
	Count int     `json:"count"`
	P50   Seconds `json:"p50_s"`
	P99   Seconds `json:"p99_s"`
	Max   Seconds `json:"max_s"`
}

// percentiles are nearest-rank percentiles of what was collected.
func (l *latencies) percentiles() Percentiles {
	l.mu.Lock()
	d := append([]time.Duration(nil), l.d...)
	l.mu.Unlock()
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(d) {
			i = len(d) - 1
		}
		return d[i]
	}
	return Percentiles{Count: len(d), P50: seconds(rank(0.50)), P99: seconds(rank(0.99)), Max: seconds(d[len(d)-1])}
}

// Memory is what the process holds.
type Memory struct {
	// HeapInUse is the Go heap in use at the end of the run (before the
	// cluster is stopped); PeakHeapInUse the largest value sampled
	// (every second) during it.
	HeapInUse     uint64 `json:"heap_in_use_bytes"`
	PeakHeapInUse uint64 `json:"peak_heap_in_use_bytes"`
	// RSS is the resident set size at the end (VmRSS), PeakRSS the
	// largest since the process started (VmHWM), both from
	// /proc/self/status; 0 where /proc is missing.
	RSS     uint64 `json:"rss_bytes"`
	PeakRSS uint64 `json:"peak_rss_bytes"`
	// Goroutines at the end, simulated nodes' included.
	Goroutines int `json:"goroutines"`
}

// heapInUse reads the Go heap in use.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// procMemory reads VmRSS and VmHWM from /proc/self/status.
func procMemory() (rss, peak uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// heapSampler records the peak heap in use, once a second, until stopped.
type heapSampler struct {
	mu   sync.Mutex
	last uint64
	peak uint64
	stop chan struct{}
	done chan struct{}
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	h.sample()
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				h.sample()
			}
		}
	}()
	return h
}

func (h *heapSampler) sample() {
	v := heapInUse()
	h.mu.Lock()
	h.last = v
	if v > h.peak {
		h.peak = v
	}
	h.mu.Unlock()
}

// finish stops sampling and returns the memory figures of the moment,
// writing a heap profile to profile first when it is set.
func (h *heapSampler) finish(profile io.Writer) Memory {
	close(h.stop)
	<-h.done
	h.sample()
	m := Memory{Goroutines: runtime.NumGoroutine()}
	m.RSS, m.PeakRSS = procMemory()
	h.mu.Lock()
	m.HeapInUse, m.PeakHeapInUse = h.last, h.peak
	h.mu.Unlock()
	if profile != nil {
		pprof.Lookup("heap").WriteTo(profile, 0)
	}
	return m
}
