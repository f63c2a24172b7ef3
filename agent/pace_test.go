package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
	"drover/agent/structs"
	"drover/testutil/freeport"
)

// The start-up and the client's pace (issue 14, item 4) are measured by
// the benchmarks below; the tests beside them check only that the same
// paths work, never how long they take.
//
//	go test ./agent -run '^$' -bench 'DevAgentReady' -benchtime 5x
//	go test ./agent -run '^$' -bench 'ClientStarts' -benchtime 1x
//
// scripts/devready.sh measures the start of the drover process from
// outside; docs/benchmarks.md has the results.

// devAgentConfig is what "drover agent -dev" runs, on free loopback
// ports, merged with extra HCL (empty for none).
func devAgentConfig(tb testing.TB, extra string) *config.Config {
	tb.Helper()
	src := fmt.Sprintf("ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n%s",
		freeport.Get(tb), freeport.Get(tb), freeport.Get(tb), extra)
	path := tb.TempDir() + "/dev.hcl"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, _, err := config.Load([]string{path}, true)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DevMode = true
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// startDevAgent starts a dev agent; it is stopped (tasks too) when the
// test ends.
func startDevAgent(tb testing.TB, cfg *config.Config, logger *log.Logger) *Agent {
	tb.Helper()
	a, err := New(cfg, logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Shutdown() })
	return a
}

// waitNodeReady blocks until the agent's server has a ready node, watching
// the state store rather than polling it.
func waitNodeReady(ctx context.Context, a *Agent) (*structs.Node, error) {
	for {
		ws := memdb.NewWatchSet()
		nodes, err := a.Server().State().Nodes(ws)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			if n.Status == structs.NodeStatusReady {
				return n, nil
			}
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return nil, fmt.Errorf("no ready node: %w", err)
		}
	}
}

// The dev agent's node becomes ready, registered with the drivers a dev
// agent offers, and the API lists it as ready.
func TestDevAgent_NodeReady(t *testing.T) {
	a := startDevAgent(t, devAgentConfig(t, ""), log.New(testLog{t}, "dev ", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := waitNodeReady(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if node.ID != a.Client().NodeID() {
		t.Fatalf("ready node %s, want the client's %s", node.ID, a.Client().NodeID())
	}
	for _, name := range []string{"mock", "mock_driver", "raw_exec"} {
		if d := node.Drivers[name]; d == nil || !d.Detected || !d.Healthy {
			t.Errorf("driver %s on the node: %+v", name, d)
		}
	}
	nodes, _, err := apiClient(t, a).Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Status != "ready" {
		t.Fatalf("/v1/nodes: %+v", nodes)
	}
}

// BenchmarkDevAgentReady measures a dev agent's start: from New to a
// ready node in the state store (the process's own start, some tens of
// milliseconds more, is measured from outside; see docs/benchmarks.md).
func BenchmarkDevAgentReady(b *testing.B) {
	quiet := log.New(io.Discard, "", 0)
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := devAgentConfig(b, "")
		b.StartTimer()
		start := time.Now()
		a, err := New(cfg, quiet)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = waitNodeReady(ctx, a)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		a.Shutdown()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-ready")
}

// paceJob is a service job of count allocations of one mock_driver task
// each, small enough that one dev node takes them all.
func paceJob(id string, count int) *api.Job {
	job := api.NewServiceJob(id, id, "global", 50)
	job.Datacenters = []string{"dc1"}
	task := api.NewTask("t", "mock_driver")
	task.Config = map[string]interface{}{}
	task.Resources = &api.Resources{CPU: intp(1), MemoryMB: intp(10)}
	tg := api.NewTaskGroup("g", count).AddTask(task)
	tg.EphemeralDisk = &api.EphemeralDisk{SizeMB: intp(150)}
	job.AddTaskGroup(tg)
	return job
}

// paceClient is a dev client big enough for thousands of small
// allocations.
const paceClient = `client {
  cpu_total_compute = 1000000
  memory_total_mb   = 1000000
  disk_total_mb     = 1000000
}`

// waitRunning blocks until count allocations of the job run on the client.
func waitRunning(ctx context.Context, a *Agent, jobID string, count int) error {
	running := 0
	for {
		ws := memdb.NewWatchSet()
		allocs, err := a.Server().State().AllocsByJob(ws, "default", jobID, false)
		if err != nil {
			return err
		}
		running = 0
		for _, al := range allocs {
			if al.ClientStatus == structs.AllocClientStatusRunning {
				running++
			}
		}
		if running >= count {
			return nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return fmt.Errorf("%d of %d running: %w", running, count, err)
		}
	}
}

// Allocations of one job on one node all reach running, and are stopped
// again, on the mock driver.
func TestDevAgent_ClientStartsMany(t *testing.T) {
	a := startDevAgent(t, devAgentConfig(t, paceClient), log.New(testLog{t}, "dev ", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := waitNodeReady(ctx, a); err != nil {
		t.Fatal(err)
	}
	c := apiClient(t, a)
	const n = 50
	if _, _, err := c.Jobs().Register(paceJob("many", n), nil); err != nil {
		t.Fatal(err)
	}
	if err := waitRunning(ctx, a, "many", n); err != nil {
		t.Fatal(err)
	}
	if got := a.Client().Stats()["num_allocations"]; got != strconv.Itoa(n) {
		t.Fatalf("client holds %s allocations, want %d", got, n)
	}
	if _, _, err := c.Jobs().Deregister("many", false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "every allocation stopped", func() (bool, string) {
		allocs, err := a.Server().State().AllocsByJob(nil, "default", "many", false)
		if err != nil {
			return false, err.Error()
		}
		live := 0
		for _, al := range allocs {
			if al.ClientStatus == structs.AllocClientStatusRunning || al.ClientStatus == structs.AllocClientStatusPending {
				live++
			}
		}
		return live == 0, fmt.Sprintf("%d still running or pending", live)
	})
}

// BenchmarkClientStarts measures one node's pace: a dev agent gets a job
// of N allocations on the mock driver; the time is from the registration
// to every allocation running as the server sees it. rss-MB is the test
// process's resident memory then.
func BenchmarkClientStarts(b *testing.B) {
	for _, n := range []int{500, 2000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			quiet := log.New(io.Discard, "", 0)
			var total time.Duration
			var rss float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				a, err := New(devAgentConfig(b, paceClient), quiet)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				if _, err := waitNodeReady(ctx, a); err != nil {
					b.Fatal(err)
				}
				c, err := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
				if err != nil {
					b.Fatal(err)
				}
				id := fmt.Sprintf("pace-%d", i)
				b.StartTimer()
				start := time.Now()
				if _, _, err := c.Jobs().Register(paceJob(id, n), nil); err != nil {
					b.Fatal(err)
				}
				if err := waitRunning(ctx, a, id, n); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				b.StopTimer()
				cancel()
				rss = max(rss, residentMB())
				a.Shutdown()
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s-to-running")
			b.ReportMetric(rss, "rss-MB")
		})
	}
}

// residentMB is this process's resident set (VmRSS), 0 where /proc is
// missing.
func residentMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
