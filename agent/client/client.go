// Package client is the node agent: it fingerprints the machine,
// registers it with the servers, heartbeats, watches the allocations the
// scheduler gives it, runs their tasks through drivers, and reports their
// status and health back. Its state survives a restart: allocations and
// task handles are persisted, and a restarted client re-attaches to the
// containers and processes that still run instead of starting them again.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"drover/agent/client/hoststats"
	"drover/agent/drivers"
	droverrpc "drover/agent/rpc"
	"drover/agent/structs"
	"drover/agent/wire"
)

// Config is a client's configuration.
type Config struct {
	NodeName   string
	Datacenter string
	NodeClass  string
	Meta       map[string]string
	// Servers are the RPC addresses of the servers, tried in order.
	Servers []string
	// StateDir holds the client's state database and node identity;
	// AllocDir holds allocation directories.
	StateDir string
	AllocDir string
	// NetworkInterface is fingerprinted for the node's address.
	NetworkInterface string
	// HTTPAddr is where this agent's HTTP API answers, so other agents
	// can forward log and stats requests for allocations running here.
	HTTPAddr string
	// Resource overrides; zero means fingerprint.
	CPUTotalCompute  int
	MemoryTotalMB    int
	DiskTotalMB      int
	ReservedCPU      int
	ReservedMemoryMB int
	ReservedDiskMB   int
	// ReservedPorts are host ports never handed to allocations
	// ("22,80,8000-8100").
	ReservedPorts  string
	MinDynamicPort int
	MaxDynamicPort int
	// MaxKillTimeout caps a task's kill_timeout.
	MaxKillTimeout time.Duration
	// RPCTLS, when set, is the TLS the client dials its servers with
	// (the agent's tls { rpc = true }).
	RPCTLS *tls.Config
	// HTTPTLS reports that the agent serves its API over HTTPS; the node
	// registers it as TLSEnabled.
	HTTPTLS bool
	Version string
	Logger  *log.Logger
}

// Client is a running client.
type Client struct {
	config   *Config
	logger   *log.Logger
	drivers  *drivers.Registry
	state    *stateDB
	pool     *droverrpc.Pool
	servers  *serverList
	nodeID   string
	secretID string

	ctx          context.Context
	cancel       context.CancelFunc
	wg           sync.WaitGroup
	shutdownOnce sync.Once
	shutdownErr  error

	mu      sync.Mutex
	current *structs.Node
	allocs  map[string]*allocRunner
	dirty   map[string]*allocRunner
	dirtyCh chan struct{}
	ttl     time.Duration
	// nodeChanged asks for a new registration: the node's fingerprint
	// changed (a driver answered late).
	nodeChanged chan struct{}

	// startSem bounds the allocation runners starting at once.
	startSem chan struct{}

	// host measures the machine for /v1/client/stats.
	host *hoststats.Collector
	// lastHeartbeat is when a server last acknowledged this node.
	lastHeartbeat time.Time
}

// New starts a client: it restores persisted allocations (re-attaching to
// their tasks), fingerprints the node and starts registering with the
// servers in the background.
func New(cfg *Config, registry *drivers.Registry) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("client needs at least one server address (client { servers = [...] })")
	}
	for _, dir := range []string{cfg.StateDir, cfg.AllocDir} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		config: cfg, logger: cfg.Logger, drivers: registry,
		pool: droverrpc.NewPool(5 * time.Second), servers: newServerList(cfg.Servers), ctx: ctx, cancel: cancel,
		allocs: map[string]*allocRunner{}, dirty: map[string]*allocRunner{}, dirtyCh: make(chan struct{}, 1),
		startSem: make(chan struct{}, maxParallelStarts), nodeChanged: make(chan struct{}, 1),
	}
	if cfg.RPCTLS != nil {
		c.pool.SetTLS(cfg.RPCTLS)
	}
	// The drivers fingerprint themselves while the state is opened and
	// restored: docker's engine may take a while to answer.
	driverNames, driverAnswers := c.fingerprintDrivers(ctx)
	driversDue := time.Now().Add(driverWait)
	st, err := openStateDB(cfg.StateDir)
	if err != nil {
		cancel()
		return nil, err
	}
	c.state = st
	if c.nodeID, c.secretID, err = nodeIdentity(cfg.StateDir); err != nil {
		cancel()
		st.Close()
		return nil, err
	}
	if err := c.restore(); err != nil {
		c.logger.Printf("[ERROR] client: restore state: %v", err)
	}
	driverInfos, missing := collectDrivers(driverNames, driverAnswers, time.Until(driversDue))
	node, err := c.fingerprint(driverInfos)
	if err != nil {
		st.Close()
		cancel()
		return nil, fmt.Errorf("fingerprint: %w", err)
	}
	c.current = node
	c.host = &hoststats.Collector{AllocDir: cfg.AllocDir, TotalMHz: float64(node.NodeResources.Cpu.CpuShares)}
	if missing > 0 {
		c.wg.Add(1)
		go c.lateDrivers(driverAnswers, missing)
	}
	c.wg.Add(3)
	go c.registerAndHeartbeat()
	go c.watchAllocs()
	go c.syncAllocs()
	return c, nil
}

// HostStats samples the machine: memory, CPU per core, the allocation
// directory's disk and uptime.
func (c *Client) HostStats() (*hoststats.Stats, error) { return c.host.Collect() }

// NodeID is this client's node ID, stable across restarts.
func (c *Client) NodeID() string { return c.nodeID }

func (c *Client) node() *structs.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// nodeIdentity reads (or creates) the node's ID and secret, so a
// restarted client is the same node to the servers.
func nodeIdentity(dir string) (string, string, error) {
	read := func(name string) (string, error) {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		id := structs.GenerateUUID()
		return id, os.WriteFile(path, []byte(id+"\n"), 0o600)
	}
	id, err := read("node-id")
	if err != nil {
		return "", "", err
	}
	secret, err := read("secret-id")
	return id, secret, err
}

// restore takes back the allocations of an earlier client process.
func (c *Client) restore() error {
	allocs, tasks, err := c.state.load()
	if err != nil {
		return err
	}
	for id, alloc := range allocs {
		if alloc.Job == nil {
			continue
		}
		ar := newAllocRunner(c, alloc)
		if alloc.DesiredStatus != structs.AllocDesiredStatusRun {
			ar.stopped = true
		}
		c.mu.Lock()
		c.allocs[id] = ar
		c.mu.Unlock()
		if err := ar.start(tasks[id]); err != nil {
			c.logger.Printf("[ERROR] client: restore allocation %s: %v", id, err)
		}
		c.logger.Printf("[INFO] client: restored allocation %s", id)
	}
	return nil
}

// call makes an RPC to the first server that answers.
func (c *Client) call(method string, args, reply interface{}) error {
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	return c.callServers(ctx, method, args, reply)
}

// registerAndHeartbeat registers the node, ready (its fingerprint is
// complete, so one raft write makes it schedulable), then heartbeats at
// half the TTL the server gives. When the server does not know the node
// (a server that lost its state), it registers again.
func (c *Client) registerAndHeartbeat() {
	defer c.wg.Done()
	registered := false
	backoff := time.Second
	for c.ctx.Err() == nil {
		var reply wire.NodeUpdateResponse
		var err error
		if !registered {
			node := c.node()
			err = c.call("Node.Register", &wire.NodeRegisterArgs{Node: node}, &reply)
			if err == nil {
				registered = true
				c.logger.Printf("[INFO] client: node %s registered", c.nodeID)
			}
		} else {
			err = c.call("Node.Heartbeat", &wire.NodeHeartbeatArgs{NodeID: c.nodeID, SecretID: c.secretID}, &reply)
			if err != nil && errors.Is(err, wire.ErrNotFound) {
				registered = false
				continue
			}
		}
		wait := backoff
		if err != nil {
			c.logger.Printf("[WARN] client: contact servers: %v", err)
			if backoff < 30*time.Second {
				backoff *= 2
			}
		} else {
			backoff = time.Second
			c.servers.learn(reply.Servers)
			c.mu.Lock()
			c.ttl = reply.HeartbeatTTL
			c.lastHeartbeat = time.Now()
			c.mu.Unlock()
			wait = reply.HeartbeatTTL / 2
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(wait):
		case <-c.nodeChanged:
			registered = false
		}
	}
}

// watchAllocs follows this node's allocations with blocking queries and
// starts, updates or removes alloc runners to match. The server names the
// allocations with the index of its last change to each
// (Node.GetClientAllocs), and the client fetches only those it does not
// hold in that version (Node.GetAllocsByID): a node running thousands of
// allocations gets a list of IDs on every change, not every allocation
// with its job again.
func (c *Client) watchAllocs() {
	defer c.wg.Done()
	var index uint64
	// known is the AllocModifyIndex of every allocation as last fetched,
	// whether it runs here or was left alone (terminal before it came).
	known := map[string]uint64{}
	for c.ctx.Err() == nil {
		var list wire.NodeClientAllocsResponse
		ctx, cancel := context.WithTimeout(c.ctx, 6*time.Minute)
		err := c.callServers(ctx, "Node.GetClientAllocs",
			&wire.NodeGetAllocsArgs{NodeID: c.nodeID, SecretID: c.secretID, MinIndex: index, MaxWait: 5 * time.Minute}, &list)
		cancel()
		stale := false
		if err == nil {
			if list.Index < index {
				clear(known) // the server's state was reset: take nothing for granted
			}
			stale, err = c.syncAllocList(list.Allocs, known)
		}
		if err != nil {
			if c.ctx.Err() == nil {
				c.logger.Printf("[WARN] client: fetch allocations: %v", err)
			}
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		switch {
		case stale:
			// A server behind the one that listed them answered the
			// fetch: list again, shortly, from the same index.
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		case list.Index < index:
			index = 0 // the server's state was reset
		default:
			index = list.Index
		}
	}
}

// allocFetchBatch is how many allocations one Node.GetAllocsByID asks
// for: runners start after each batch, while the next is on its way.
const allocFetchBatch = 256

// syncAllocList fetches the listed allocations that changed since known,
// reconciles the runners with them, and destroys the runners of
// allocations no longer listed. stale reports an allocation that came
// back older than listed, or not at all.
func (c *Client) syncAllocList(list map[string]uint64, known map[string]uint64) (stale bool, err error) {
	var ids []string
	for id, idx := range list {
		if k, ok := known[id]; !ok || k != idx {
			ids = append(ids, id)
		}
	}
	// Oldest first, as the scheduler placed them.
	sort.Slice(ids, func(i, j int) bool {
		if list[ids[i]] != list[ids[j]] {
			return list[ids[i]] < list[ids[j]]
		}
		return ids[i] < ids[j]
	})
	for len(ids) > 0 {
		n := min(len(ids), allocFetchBatch)
		var reply wire.NodeGetAllocsResponse
		if err := c.call("Node.GetAllocsByID", &wire.NodeAllocsByIDArgs{NodeID: c.nodeID, SecretID: c.secretID, AllocIDs: ids[:n]}, &reply); err != nil {
			return false, err
		}
		got := 0
		for _, a := range reply.Allocs {
			if want, ok := list[a.ID]; ok && a.AllocModifyIndex >= want {
				got++
			} else {
				stale = true
			}
			known[a.ID] = a.AllocModifyIndex
			c.reconcileAlloc(a)
		}
		stale = stale || got < n
		ids = ids[n:]
	}
	for id := range known {
		if _, ok := list[id]; !ok {
			delete(known, id)
		}
	}
	// Allocations the server forgot (garbage-collected) are destroyed.
	c.mu.Lock()
	var gone []*allocRunner
	for id, ar := range c.allocs {
		if _, ok := list[id]; !ok {
			gone = append(gone, ar)
			delete(c.allocs, id)
		}
	}
	c.mu.Unlock()
	for _, ar := range gone {
		go ar.destroy()
	}
	return stale, nil
}

// reconcileAlloc starts a runner for a new allocation, or hands a newer
// version of one to its runner.
func (c *Client) reconcileAlloc(a *structs.Allocation) {
	c.mu.Lock()
	ar := c.allocs[a.ID]
	c.mu.Unlock()
	switch {
	case ar == nil && a.TerminalStatus():
		// Never ran here, or long done: nothing to do.
	case ar == nil:
		ar = newAllocRunner(c, a)
		c.mu.Lock()
		c.allocs[a.ID] = ar
		c.mu.Unlock()
		c.startRunner(ar)
	case a.AllocModifyIndex > ar.modifyIndex() || a.DesiredStatus != structs.AllocDesiredStatusRun:
		ar.update(a)
	}
}

// maxParallelStarts bounds how many allocation runners build their
// directories and persist themselves at once.
const maxParallelStarts = 64

// startRunner starts a new allocation's runner in the background. Building
// its directories and persisting it take milliseconds, mostly waiting for
// the disk: a node given hundreds of allocations at once starts them side
// by side, and their writes share transactions (see stateDB), instead of
// one after the other. start always runs, even when the client is shutting
// down, because destroy waits for what start launches.
func (c *Client) startRunner(ar *allocRunner) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.startSem <- struct{}{}
		defer func() { <-c.startSem }()
		if err := ar.start(nil); err != nil {
			c.logger.Printf("[ERROR] client: start allocation %s: %v", ar.id, err)
		}
	}()
}

func (ar *allocRunner) modifyIndex() uint64 {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	return ar.alloc.AllocModifyIndex
}

// markDirty queues an allocation's status for the next report.
func (c *Client) markDirty(ar *allocRunner) {
	c.mu.Lock()
	c.dirty[ar.id] = ar
	c.mu.Unlock()
	select {
	case c.dirtyCh <- struct{}{}:
	default:
	}
}

// syncAllocs sends changed allocation statuses to the servers, batched
// every 200ms, retrying what failed.
func (c *Client) syncAllocs() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.dirtyCh:
		}
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		c.mu.Lock()
		batch := c.dirty
		c.dirty = map[string]*allocRunner{}
		c.mu.Unlock()
		var updates []*structs.Allocation
		for _, ar := range batch {
			updates = append(updates, ar.report())
		}
		if len(updates) == 0 {
			continue
		}
		var reply wire.GenericResponse
		if err := c.call("Node.UpdateAllocs", &wire.NodeAllocsUpdateArgs{NodeID: c.nodeID, SecretID: c.secretID, Allocs: updates}, &reply); err != nil {
			c.logger.Printf("[WARN] client: report %d allocation(s): %v", len(updates), err)
			c.mu.Lock()
			for id, ar := range batch {
				if _, newer := c.dirty[id]; !newer {
					c.dirty[id] = ar
				}
			}
			c.mu.Unlock()
			select {
			case c.dirtyCh <- struct{}{}:
			default:
			}
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}

// Stats is the client's section of the agent's stats (agent-info): its
// node, the servers it knows, how many allocations it holds, the
// heartbeat TTL the servers gave it and how long ago a server last
// acknowledged its heartbeat ("never" before the first).
func (c *Client) Stats() map[string]string {
	c.mu.Lock()
	ttl, last, n := c.ttl, c.lastHeartbeat, len(c.allocs)
	c.mu.Unlock()
	since := "never"
	if !last.IsZero() {
		since = time.Since(last).String()
	}
	return map[string]string{
		"node_id":         c.nodeID,
		"known_servers":   strings.Join(c.servers.all(), ","),
		"num_allocations": strconv.Itoa(n),
		"heartbeat_ttl":   ttl.String(),
		"last_heartbeat":  since,
	}
}

// AllocRunning reports whether the allocation runs on this client.
func (c *Client) AllocRunning(allocID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.allocs[allocID]
	return ok
}

// AllocDir is the directory of an allocation of this client.
func (c *Client) AllocDir(allocID string) string {
	return filepath.Join(c.config.AllocDir, allocID)
}

// Shutdown stops the client's loops and leaves its tasks running: a
// client that restarts re-attaches to them.
func (c *Client) Shutdown() error {
	c.shutdownOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
		c.pool.Close()
		c.shutdownErr = c.state.Close()
	})
	return c.shutdownErr
}

// Stop is like Shutdown but also stops every task first: for an agent in
// dev mode, whose state does not outlive it.
func (c *Client) Stop() error {
	c.mu.Lock()
	var runners []*allocRunner
	for _, ar := range c.allocs {
		runners = append(runners, ar)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, ar := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ar.destroy()
		}()
	}
	wg.Wait()
	return c.Shutdown()
}

// LocalAllocByPrefix finds an allocation of this client by ID or unique
// ID prefix.
func (c *Client) LocalAllocByPrefix(prefix string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.allocs[prefix]; ok {
		return prefix, true
	}
	match := ""
	for id := range c.allocs {
		if strings.HasPrefix(id, prefix) {
			if match != "" {
				return "", false
			}
			match = id
		}
	}
	return match, match != "" && len(prefix) >= 2
}

// AllocNamespace is the namespace of a local allocation: the agent's API
// checks a token's capabilities there before it answers about it.
func (c *Client) AllocNamespace(allocID string) (string, bool) {
	c.mu.Lock()
	ar, ok := c.allocs[allocID]
	c.mu.Unlock()
	if !ok {
		return "", false
	}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	return ar.alloc.Namespace, true
}

// ServerRPC calls a server, the first that answers: the agent's API uses
// it to resolve ACL tokens on a client-only agent.
func (c *Client) ServerRPC(method string, args, reply interface{}) error {
	return c.call(method, args, reply)
}
