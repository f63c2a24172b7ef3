package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent"
	"drover/agent/config"
	"drover/agent/state"
	"drover/agent/structs"
)

// runAgent runs c1k: a real agent (server and client in one process, as
// `drover agent -dev` runs them, on loopback ports) whose one node runs
// every allocation on the mock driver. It measures the client's pace:
// from the job's registration until the server has every allocation
// reported running.
func runAgent(ctx context.Context, opts Options, res *Result) error {
	sampler := startHeapSampler()
	begin := time.Now()
	a, err := startAgent(opts)
	if err != nil {
		sampler.finish(nil)
		return err
	}
	// A dev agent stops its tasks when it shuts down.
	defer a.Shutdown()
	srv := a.Server()
	placed, running := 0, 0
	defer func() {
		res.Memory = sampler.finish(opts.HeapProfile)
		res.Raft = srv.RaftEntryStats()
		res.Placed, res.Running = placed, running
		if evals, e := srv.State().Evals(nil); e == nil {
			res.Evals = len(evals)
		}
	}()

	nodeID := a.Client().NodeID()
	var ready bool
	_, err = srv.BlockingQuery(ctx, 0, 0, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		n, err := snap.NodeByID(ws, nodeID)
		if err != nil {
			return 0, err
		}
		ready = n != nil && n.Status == structs.NodeStatusReady
		index, err := snap.Index("nodes")
		return waitUntil(ready, index, err)
	})
	if err != nil {
		return err
	}
	if !ready {
		return outcomeError(ctx, opts.Timeout, "the agent's node is not ready")
	}
	res.NodesRegistered = seconds(time.Since(begin))

	origin := time.Now()
	job := serviceJob(0, opts.Allocs, opts.Deploy)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		return fmt.Errorf("register the job: %w", err)
	}
	var toPlaced latencies
	var lastCreate int64
	var creates []int64
	seen := map[string]bool{}
	defer func() { res.Milestones = milestonesOf(creates, origin.UnixNano(), opts.Allocs) }()
	var index uint64
	lastProgress := time.Now()
	for running < opts.Allocs {
		var allocs []*structs.Allocation
		index, err = srv.BlockingQuery(ctx, index, time.Second, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
			var err error
			allocs, err = snap.AllocsByJob(ws, structs.DefaultNamespace, job.ID, false)
			if err != nil {
				return 0, err
			}
			return snap.Index("allocs")
		})
		if err != nil {
			return err
		}
		running = 0
		for _, al := range allocs {
			if al.DesiredStatus != structs.AllocDesiredStatusRun {
				continue
			}
			if !seen[al.ID] {
				seen[al.ID] = true
				if al.Job != nil {
					toPlaced.add(time.Duration(al.CreateTime - al.Job.SubmitTime))
				}
				lastCreate = max(lastCreate, al.CreateTime)
				creates = append(creates, al.CreateTime)
			}
			if al.ClientStatus == structs.AllocClientStatusRunning {
				running++
			}
		}
		placed = len(seen)
		res.RegisterToPlaced = toPlaced.percentiles()
		if opts.Progress != nil && time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(opts.Progress, "%8.1fs  placed %d/%d, running %d\n", time.Since(origin).Seconds(), placed, opts.Allocs, running)
		}
		if ctx.Err() != nil {
			return outcomeError(ctx, opts.Timeout, "%d of %d allocations placed, %d running", placed, opts.Allocs, running)
		}
	}
	runningAt := time.Now()
	res.TimeToAllPlaced = seconds(time.Duration(lastCreate - origin.UnixNano()))
	res.TimeToAllRunning = seconds(runningAt.Sub(origin))
	if res.TimeToAllPlaced > 0 {
		res.PlacementsPerSec = float64(opts.Allocs) / float64(res.TimeToAllPlaced)
	}
	return verifyJobs(srv.State(), opts, nil)
}

// waitUntil is a blocking query's answer that keeps waiting (index 0)
// until ok holds.
func waitUntil(ok bool, index uint64, err error) (uint64, error) {
	if err != nil || !ok {
		return 0, err
	}
	return index, nil
}

// startAgent starts the dev agent c1k runs on: its client offers as much
// capacity as the allocations need twice over, its ports are free
// loopback ports (tried again if one is taken meanwhile), and its log
// goes to opts.ServerLog.
func startAgent(opts Options) (*agent.Agent, error) {
	out := opts.ServerLog
	if out == nil {
		out = io.Discard
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		cfg := config.DevConfig()
		cfg.Name = "bench"
		cfg.BindAddr = "127.0.0.1"
		ports, err := freePorts(3)
		if err != nil {
			return nil, err
		}
		cfg.Ports.HTTP, cfg.Ports.RPC, cfg.Ports.Serf = ports[0], ports[1], ports[2]
		n := 2 * opts.Allocs
		cfg.Client.CPUTotalCompute = n * taskCPU
		cfg.Client.MemoryTotalMB = n * taskMemoryMB
		cfg.Client.DiskTotalMB = n * groupDiskMB
		cfg.MarkSet("ports.http", "ports.rpc", "ports.serf", "bind_addr", "client.cpu_total_compute",
			"client.memory_total_mb", "client.disk_total_mb")
		cfg.Normalize()
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("agent configuration: %w", err)
		}
		a, err := agent.New(cfg, log.New(out, "agent ", log.LstdFlags|log.Lmicroseconds))
		if err == nil {
			return a, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.EADDRINUSE) && !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("start the agent: %w", lastErr)
}

// freePorts asks the kernel for n loopback ports that are free now.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
