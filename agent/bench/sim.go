package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// A simulated node's view of one allocation.
const (
	allocStarting = iota + 1 // seen, its "running" not yet acknowledged
	allocRunning             // acknowledged running
	allocFailed              // reported failed (churn)
	allocStopped             // reported complete after the server stopped it
	allocIgnored             // terminal or stopped before this node ran it
)

type localAlloc struct {
	state int
	alloc *structs.Allocation
}

// sim is an in-process server and its simulated nodes.
type sim struct {
	opts   Options
	srv    *server.Server
	nodes  []*simNode
	wg     sync.WaitGroup
	target int64 // allocations that must run at once

	// origin is when the measured phase started (Unix ns): the first
	// job registration, or for boot the moment the nodes start.
	origin atomic.Int64

	registered atomic.Int64 // nodes registered and ready
	placed     atomic.Int64 // initial allocations seen by their nodes
	running    atomic.Int64 // allocations acknowledged running, not since failed or stopped
	lastCreate atomic.Int64 // the latest CreateTime of an initial allocation
	runningAt  atomic.Int64 // when running first reached target (Unix ns)
	toPlaced   latencies
	createMu   sync.Mutex
	creates    []int64 // CreateTime of each initial allocation

	errMu sync.Mutex
	err   error

	// churn bookkeeping
	live     *liveSet // allocations that may be failed (churn only)
	churnMu  sync.Mutex
	failedAt map[string]time.Time // failed allocation -> when it was reported
	replaced map[string]bool      // failed allocations with a replacement placed
	resched  latencies
}

func (s *sim) fail(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *sim) firstErr() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *sim) since() time.Duration { return time.Duration(time.Now().UnixNano() - s.origin.Load()) }

// startServer starts the in-process server every simulated preset uses:
// in-memory raft, RPC on a loopback port of the kernel's choosing, one
// scheduler per core, no gossip.
func startServer(ctx context.Context, opts Options) (*server.Server, error) {
	cfg := server.DefaultConfig()
	cfg.NodeName = "bench"
	cfg.DataDir = ""
	cfg.RPCAddr = "127.0.0.1:0"
	cfg.NumSchedulers = runtime.NumCPU()
	if opts.heartbeatTTL > 0 {
		cfg.MinHeartbeatTTL, cfg.HeartbeatGrace = opts.heartbeatTTL, opts.heartbeatTTL
	}
	out := opts.ServerLog
	if out == nil {
		out = io.Discard
	}
	cfg.Logger = log.New(out, "server ", log.LstdFlags|log.Lmicroseconds)
	srv, err := server.NewServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	if err := srv.WaitForLeader(ctx); err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("wait for the server to lead: %w", err)
	}
	return srv, nil
}

// runSim runs c100k, churn or boot.
func runSim(ctx context.Context, opts Options, res *Result) (err error) {
	srv, err := startServer(ctx, opts)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	s := &sim{opts: opts, srv: srv, target: int64(opts.Allocs)}
	if opts.Preset == PresetChurn {
		s.live = newLiveSet()
		s.failedAt = map[string]time.Time{}
		s.replaced = map[string]bool{}
	}
	nodeCtx, stopNodes := context.WithCancel(context.Background())
	defer func() {
		stopNodes()
		s.wg.Wait()
	}()
	sampler := startHeapSampler()
	defer func() {
		// The figures of the moment the outcome was reached (or not),
		// before anything is stopped.
		res.Memory = sampler.finish(opts.HeapProfile)
		res.Raft = srv.RaftEntryStats()
		res.Placed, res.Running = int(s.placed.Load()), int(s.running.Load())
		if evals, e := srv.State().Evals(nil); e == nil {
			res.Evals = len(evals)
		}
		res.RegisterToPlaced = s.toPlaced.percentiles()
		s.createMu.Lock()
		res.Milestones = milestonesOf(s.creates, s.origin.Load(), opts.Allocs)
		s.createMu.Unlock()
	}()

	// Room for twice the average share on every node.
	perNode := 2 * ((opts.Allocs + opts.Nodes - 1) / opts.Nodes)
	if perNode < 4 {
		perNode = 4
	}
	for i := 0; i < opts.Nodes; i++ {
		s.nodes = append(s.nodes, &simNode{s: s, node: simNodeSpec(i, perNode), local: map[string]*localAlloc{},
			pending: map[string]*structs.Allocation{}})
	}
	begin := time.Now()
	startNodes := func() {
		s.wg.Add(1)
		go s.heartbeat(nodeCtx)
		for _, n := range s.nodes {
			s.wg.Add(1)
			go n.run(nodeCtx)
		}
	}
	registered := func() bool { return s.registered.Load() == int64(opts.Nodes) }

	if opts.Preset == PresetBoot {
		if _, err := srv.RegisterJob(systemJob(), false, 0); err != nil {
			return fmt.Errorf("register the system job: %w", err)
		}
		s.origin.Store(time.Now().UnixNano())
		startNodes()
		if err := s.wait(ctx, registered, "nodes registered"); err != nil {
			return err
		}
		res.NodesRegistered = seconds(time.Since(begin))
	} else {
		s.origin.Store(time.Now().UnixNano())
		startNodes()
		if err := s.wait(ctx, registered, "nodes registered"); err != nil {
			return err
		}
		res.NodesRegistered = seconds(time.Since(begin))
		s.origin.Store(time.Now().UnixNano())
		for i, count := range opts.jobSizes() {
			if _, err := srv.RegisterJob(serviceJob(i, count, opts.Deploy), false, 0); err != nil {
				return fmt.Errorf("register job %d: %w", i, err)
			}
		}
	}
	allRunning := func() bool { return s.placed.Load() >= s.target && s.runningAt.Load() != 0 }
	if err := s.wait(ctx, allRunning, "all running"); err != nil {
		return err
	}
	origin := s.origin.Load()
	res.TimeToAllPlaced = seconds(time.Duration(s.lastCreate.Load() - origin))
	res.TimeToAllRunning = seconds(time.Duration(s.runningAt.Load() - origin))
	if res.TimeToAllPlaced > 0 {
		res.PlacementsPerSec = float64(opts.Allocs) / float64(res.TimeToAllPlaced)
	}
	if opts.Preset == PresetChurn {
		if err := s.churn(ctx, res); err != nil {
			return err
		}
	}
	return s.verify()
}

// wait polls the counters until cond holds, printing progress; it gives
// up when ctx ends or a node failed.
func (s *sim) wait(ctx context.Context, cond func() bool, what string) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	lastProgress := time.Now()
	for {
		if err := s.firstErr(); err != nil {
			return err
		}
		if cond() {
			return nil
		}
		if s.opts.Progress != nil && time.Since(lastProgress) >= 5*time.Second {
			lastProgress = time.Now()
			fmt.Fprintf(s.opts.Progress, "%8.1fs  waiting for %s: nodes %d/%d, placed %d/%d, running %d\n",
				s.since().Seconds(), what, s.registered.Load(), s.opts.Nodes, s.placed.Load(), s.target, s.running.Load())
		}
		select {
		case <-ctx.Done():
			return outcomeError(ctx, s.opts.Timeout, "waiting for %s: %d of %d nodes ready, %d of %d allocations placed, %d running",
				what, s.registered.Load(), s.opts.Nodes, s.placed.Load(), s.target, s.running.Load())
		case <-tick.C:
		}
	}
}

// placedAlloc counts an allocation a node saw for the first time.
func (s *sim) placedAlloc(n *simNode, a *structs.Allocation) {
	if a.PreviousAllocation != "" && s.failedAt != nil {
		s.churnMu.Lock()
		if at, ok := s.failedAt[a.PreviousAllocation]; ok && !s.replaced[a.PreviousAllocation] {
			s.replaced[a.PreviousAllocation] = true
			s.resched.add(time.Duration(a.CreateTime - at.UnixNano()))
		}
		s.churnMu.Unlock()
		return
	}
	if a.PreviousAllocation != "" {
		return
	}
	from := int64(0)
	if s.opts.Preset == PresetBoot {
		from = n.readyAt.Load()
	} else if a.Job != nil {
		from = a.Job.SubmitTime
	}
	if from != 0 {
		s.toPlaced.add(time.Duration(a.CreateTime - from))
	}
	s.createMu.Lock()
	s.creates = append(s.creates, a.CreateTime)
	s.createMu.Unlock()
	for {
		last := s.lastCreate.Load()
		if a.CreateTime <= last || s.lastCreate.CompareAndSwap(last, a.CreateTime) {
			break
		}
	}
	s.placed.Add(1)
}

// ackRunning counts allocations the server acknowledged running.
func (s *sim) ackRunning(n *simNode, ids []string) {
	if len(ids) == 0 {
		return
	}
	if s.live != nil {
		for _, id := range ids {
			s.live.add(id, n)
		}
	}
	if s.running.Add(int64(len(ids))) >= s.target {
		s.runningAt.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// stoppedRunning counts allocations that no longer run.
func (s *sim) stoppedRunning(ids []string) {
	if s.live != nil {
		for _, id := range ids {
			s.live.remove(id)
		}
	}
	s.running.Add(-int64(len(ids)))
}

// verify checks the server's state once the outcome was seen: no node
// went down (each heartbeat was in time) and every job runs its count.
func (s *sim) verify() error {
	for _, n := range s.nodes {
		node, err := s.srv.State().NodeByID(nil, n.node.ID)
		if err != nil {
			return err
		}
		if node == nil || node.Status != structs.NodeStatusReady {
			status := "missing"
			if node != nil {
				status = node.Status
			}
			return fmt.Errorf("%w: verify: node %s is %s, not ready", ErrOutcome, n.node.Name, status)
		}
	}
	var nodeIDs []string
	if s.opts.Preset == PresetBoot {
		for _, n := range s.nodes {
			nodeIDs = append(nodeIDs, n.node.ID)
		}
	}
	return verifyJobs(s.srv.State(), s.opts, nodeIDs)
}

// verifyJobs reads the state: every job of the run has its count of live
// allocations (a system job one per node), all of them running, and each
// node of nodeIDs (boot) runs exactly one.
func verifyJobs(st *state.StateStore, opts Options, nodeIDs []string) error {
	jobs, err := st.Jobs(nil)
	if err != nil {
		return err
	}
	if want := len(opts.jobSizes()); len(jobs) != want {
		return fmt.Errorf("%w: verify: %d jobs in the state, want %d", ErrOutcome, len(jobs), want)
	}
	perNode := map[string]int{}
	total := 0
	for _, job := range jobs {
		allocs, err := st.AllocsByJob(nil, job.Namespace, job.ID, false)
		if err != nil {
			return err
		}
		count := 0
		for _, tg := range job.TaskGroups {
			count += tg.Count
		}
		if job.Type == structs.JobTypeSystem {
			count = len(nodeIDs)
		}
		live := 0
		for _, a := range allocs {
			if a.TerminalStatus() {
				continue
			}
			if a.ClientStatus != structs.AllocClientStatusRunning {
				return fmt.Errorf("%w: verify: allocation %s of %s is %s, not running", ErrOutcome, a.ID, job.ID, a.ClientStatus)
			}
			live++
			perNode[a.NodeID]++
		}
		if live != count {
			return fmt.Errorf("%w: verify: job %s has %d live allocations, want %d", ErrOutcome, job.ID, live, count)
		}
		total += live
	}
	if total != opts.Allocs {
		return fmt.Errorf("%w: verify: %d allocations running, want %d", ErrOutcome, total, opts.Allocs)
	}
	for _, id := range nodeIDs {
		if got := perNode[id]; got != 1 {
			return fmt.Errorf("%w: verify: node %s runs %d allocations of the system job, want 1", ErrOutcome, id, got)
		}
	}
	return nil
}

// jobSizes is the allocation count of each job the run registers.
func (o Options) jobSizes() []int {
	if o.Preset == PresetBoot {
		return []int{o.Nodes}
	}
	return jobCounts(o.Allocs, o.Jobs)
}

// simNode is one simulated client node. It registers, reports ready,
// heartbeats at half its TTL (sim.heartbeat) and follows its allocations
// with blocking queries, as a client does, but runs nothing: a new allocation is
// reported running, one the server stops is reported complete, and the
// updates of a Batch interval go to the server together.
type simNode struct {
	s       *sim
	node    *structs.Node
	readyAt atomic.Int64 // Unix ns, just before the node reported ready
	// nextBeat is when the node's next heartbeat is due (Unix ns; 0
	// until it registered), beating whether one is in flight.
	nextBeat atomic.Int64
	beating  atomic.Bool

	mu      sync.Mutex
	local   map[string]*localAlloc
	pending map[string]*structs.Allocation
}

func (n *simNode) run(ctx context.Context) {
	defer n.s.wg.Done()
	srv := n.s.srv
	if _, err := srv.RegisterNode(n.node); err != nil {
		if ctx.Err() == nil {
			n.s.fail(fmt.Errorf("register node %s: %w", n.node.Name, err))
		}
		return
	}
	n.readyAt.Store(time.Now().UnixNano())
	resp, err := srv.UpdateNodeStatus(n.node.ID, structs.NodeStatusReady)
	if err != nil {
		if ctx.Err() == nil {
			n.s.fail(fmt.Errorf("node %s ready: %w", n.node.Name, err))
		}
		return
	}
	n.nextBeat.Store(time.Now().Add(resp.HeartbeatTTL / 2).UnixNano())
	n.s.registered.Add(1)
	var index uint64
	var flushAt time.Time
	for ctx.Err() == nil {
		// A client's longest blocking query; queued updates shorten it.
		wait := 5 * time.Minute
		if n.hasPending() {
			if flushAt.IsZero() {
				flushAt = time.Now().Add(n.s.opts.Batch)
			}
			wait = time.Until(flushAt)
		}
		// A blocking query takes a wait of 0 as its longest default, so a
		// due flush goes first.
		if wait >= time.Millisecond {
			reply, err := srv.GetNodeAllocs(ctx, n.node.ID, index, wait)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				n.s.fail(fmt.Errorf("node %s: fetch allocations: %w", n.node.Name, err))
				return
			}
			if reply.Index < index {
				index = 0
			} else {
				index = reply.Index
			}
			n.reconcile(reply.Allocs)
			continue
		}
		if err := n.flush(); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.s.fail(fmt.Errorf("node %s: report allocations: %w", n.node.Name, err))
			return
		}
		flushAt = time.Time{}
	}
}

// heartbeat runs until ctx ends: every 50 ms it sends the heartbeats
// that are due, each in a goroutine of its own, so that one node's slow
// write never delays another's heartbeat; a node's heartbeats are
// independent of its allocation updates, as in a client.
func (s *sim) heartbeat(ctx context.Context) {
	defer s.wg.Done()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now().UnixNano()
		for _, n := range s.nodes {
			due := n.nextBeat.Load()
			if due == 0 || due > now || !n.beating.CompareAndSwap(false, true) {
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer n.beating.Store(false)
				resp, err := s.srv.Heartbeat(n.node.ID)
				if err != nil {
					if ctx.Err() == nil {
						s.fail(fmt.Errorf("node %s: heartbeat: %w", n.node.Name, err))
					}
					return
				}
				n.nextBeat.Store(time.Now().Add(resp.HeartbeatTTL / 2).UnixNano())
			}()
		}
	}
}

func (n *simNode) hasPending() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending) > 0
}

// reconcile compares the server's allocations of this node with what the
// node runs, and queues the updates a client would send.
func (n *simNode) reconcile(allocs []*structs.Allocation) {
	now := time.Now()
	var placed []*structs.Allocation
	var stopped []string
	n.mu.Lock()
	for _, a := range allocs {
		l := n.local[a.ID]
		run := a.DesiredStatus == structs.AllocDesiredStatusRun
		switch {
		case l == nil && run && !a.ClientTerminalStatus():
			n.local[a.ID] = &localAlloc{state: allocStarting, alloc: a}
			n.pending[a.ID] = report(a, structs.AllocClientStatusRunning, now)
			placed = append(placed, a)
		case l == nil:
			n.local[a.ID] = &localAlloc{state: allocIgnored, alloc: a}
		case !run && (l.state == allocStarting || l.state == allocRunning):
			if l.state == allocRunning {
				stopped = append(stopped, a.ID)
			}
			l.state = allocStopped
			n.pending[a.ID] = report(a, structs.AllocClientStatusComplete, now)
		}
	}
	n.mu.Unlock()
	for _, a := range placed {
		n.s.placedAlloc(n, a)
	}
	if len(stopped) > 0 {
		n.s.stoppedRunning(stopped)
	}
}

// flush sends the queued updates in one request; what fails stays queued.
func (n *simNode) flush() error {
	n.mu.Lock()
	batch := n.pending
	n.pending = map[string]*structs.Allocation{}
	n.mu.Unlock()
	updates := make([]*structs.Allocation, 0, len(batch))
	for _, u := range batch {
		updates = append(updates, u)
	}
	if _, err := n.s.srv.UpdateAllocsFromClient(updates); err != nil {
		n.mu.Lock()
		for id, u := range batch {
			if _, newer := n.pending[id]; !newer {
				n.pending[id] = u
			}
		}
		n.mu.Unlock()
		return err
	}
	var acked []string
	n.mu.Lock()
	for id, u := range batch {
		if l := n.local[id]; l != nil && l.state == allocStarting && u.ClientStatus == structs.AllocClientStatusRunning {
			l.state = allocRunning
			acked = append(acked, id)
		}
	}
	n.mu.Unlock()
	n.s.ackRunning(n, acked)
	return nil
}

// failAllocs reports running allocations failed at once (churn), as a
// client whose tasks died would.
func (n *simNode) failAllocs(ids []string) error {
	now := time.Now()
	var updates []*structs.Allocation
	var failed []string
	n.mu.Lock()
	for _, id := range ids {
		if l := n.local[id]; l != nil && l.state == allocRunning {
			l.state = allocFailed
			updates = append(updates, report(l.alloc, structs.AllocClientStatusFailed, now))
			failed = append(failed, id)
		}
	}
	n.mu.Unlock()
	if len(updates) == 0 {
		return nil
	}
	n.s.churnMu.Lock()
	for _, id := range failed {
		n.s.failedAt[id] = now
	}
	n.s.churnMu.Unlock()
	n.s.stoppedRunning(failed)
	_, err := n.s.srv.UpdateAllocsFromClient(updates)
	return err
}

// liveSet holds the running allocations churn may fail, for a uniform
// random pick in constant time.
type liveSet struct {
	mu   sync.Mutex
	ids  []string
	pos  map[string]int
	node map[string]*simNode
}

func newLiveSet() *liveSet {
	return &liveSet{pos: map[string]int{}, node: map[string]*simNode{}}
}

func (l *liveSet) add(id string, n *simNode) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.pos[id]; ok {
		return
	}
	l.pos[id] = len(l.ids)
	l.ids = append(l.ids, id)
	l.node[id] = n
}

func (l *liveSet) remove(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.removeLocked(id)
}

func (l *liveSet) removeLocked(id string) {
	i, ok := l.pos[id]
	if !ok {
		return
	}
	last := l.ids[len(l.ids)-1]
	l.ids[i] = last
	l.pos[last] = i
	l.ids = l.ids[:len(l.ids)-1]
	delete(l.pos, id)
	delete(l.node, id)
}

// take removes up to k random allocations and returns them by node.
func (l *liveSet) take(k int, rng *rand.Rand) map[*simNode][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[*simNode][]string{}
	for ; k > 0 && len(l.ids) > 0; k-- {
		id := l.ids[rng.IntN(len(l.ids))]
		n := l.node[id]
		out[n] = append(out[n], id)
		l.removeLocked(id)
	}
	return out
}
