package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/hashicorp/serf/serf"

	"drover/agent/gc"
	droverrpc "drover/agent/rpc"
	"drover/agent/state"
	"drover/agent/structs"
	"drover/agent/tlsutil"
)

// Config is a server's configuration. DefaultConfig documents each default.
type Config struct {
	// NodeName names this server in raft and in /v1/agent/members.
	NodeName string
	// Region and Datacenter are reported by the agent endpoints.
	Region     string
	Datacenter string
	// DataDir holds raft's log, stable store and snapshots under
	// DataDir/server; empty keeps everything in memory (dev mode).
	DataDir string
	// RPCAddr is where the multiplexed RPC and raft listener binds;
	// ":0" picks a free port (tests).
	RPCAddr string
	// RPCAdvertise is the address other agents use to reach RPCAddr;
	// empty means the bound address.
	RPCAdvertise string
	// HTTPAddr is this server's advertised HTTP API address, which
	// client-only agents forward API requests to.
	HTTPAddr string
	// NumSchedulers is the number of scheduling workers: one per core by
	// default, since scheduling is CPU-bound.
	NumSchedulers int
	// MinHeartbeatTTL is the shortest heartbeat interval given to nodes.
	MinHeartbeatTTL time.Duration
	// MaxHeartbeatsPerSecond stretches TTLs on large clusters so that
	// heartbeats do not swamp the leader.
	MaxHeartbeatsPerSecond float64
	// HeartbeatGrace is added to a node's TTL before it is marked down,
	// to absorb network delays and a leader change.
	HeartbeatGrace time.Duration
	// EvalNackTimeout is how long a worker may hold an evaluation before
	// it is redelivered.
	EvalNackTimeout time.Duration
	// EvalDeliveryLimit is how often an evaluation is tried before it is
	// marked failed.
	EvalDeliveryLimit int
	// SerfAddr is where gossip binds (host:port); empty runs without
	// gossip, as a single server that cannot be joined (in-process tests).
	SerfAddr string
	// SerfAdvertise is the gossip address other servers use; empty means
	// the bound one.
	SerfAdvertise string
	// BootstrapExpect is how many servers form the cluster: raft
	// bootstraps once that many are seen in gossip. 1 bootstraps alone at
	// once; 0 never bootstraps (the server waits to be added).
	BootstrapExpect int
	// StartJoin are serf addresses joined once at start; RetryJoin are
	// retried every RetryInterval (at most RetryMaxAttempts, 0 = forever)
	// until one answers.
	StartJoin        []string
	RetryJoin        []string
	RetryInterval    time.Duration
	RetryMaxAttempts int
	// FailoverHeartbeatTTL is the time a new leader gives every node to
	// find it before a missed heartbeat counts: long, so that a failover
	// marks no node down.
	FailoverHeartbeatTTL time.Duration
	// FailedEvalFollowUpBaseline and FailedEvalFollowUpJitter delay the
	// evaluation that retries a failed one: the baseline plus a random
	// part of the jitter (Nomad: 1 minute plus up to 5).
	FailedEvalFollowUpBaseline time.Duration
	FailedEvalFollowUpJitter   time.Duration
	// RPCHoldTimeout is how long a request waits for a leader during an
	// election before failing with "No cluster leader".
	RPCHoldTimeout time.Duration
	// GCInterval is how often the leader collects garbage; GCThresholds
	// how long things must have been finished first (gc.DefaultThresholds).
	GCInterval   time.Duration
	GCThresholds gc.Thresholds
	// Limits bound what one job may ask for (structs.DefaultLimits).
	Limits structs.Limits
	// Build is the version gossiped to other servers.
	Build string
	// Logger receives the server's log lines.
	Logger *log.Logger
	// RaftConfig overrides raft's configuration (tests shorten timeouts).
	RaftConfig *raft.Config
	// TLS, when set, makes the RPC port (RPC and raft) accept only mutual
	// TLS, and this server dial other servers with TLS (tls { rpc = true }).
	TLS *tlsutil.Loaded
	// EncryptKey, when set, encrypts gossip with this key (server.encrypt):
	// servers with another key, or none, cannot join.
	EncryptKey []byte
	// ACLEnabled checks every request's token (agent/acl); off, every
	// request may do everything. All servers of a cluster must agree.
	ACLEnabled bool
}

// DefaultConfig returns the configuration of a single bootstrapped server.
func DefaultConfig() *Config {
	host, _ := os.Hostname()
	return &Config{
		NodeName:                   host,
		Region:                     "global",
		Datacenter:                 "dc1",
		RPCAddr:                    "127.0.0.1:4647",
		NumSchedulers:              runtime.NumCPU(),
		MinHeartbeatTTL:            10 * time.Second,
		MaxHeartbeatsPerSecond:     50,
		HeartbeatGrace:             10 * time.Second,
		EvalNackTimeout:            60 * time.Second,
		EvalDeliveryLimit:          3,
		BootstrapExpect:            1,
		Limits:                     structs.DefaultLimits,
		GCInterval:                 5 * time.Minute,
		GCThresholds:               gc.DefaultThresholds,
		FailoverHeartbeatTTL:       5 * time.Minute,
		RPCHoldTimeout:             5 * time.Second,
		FailedEvalFollowUpBaseline: time.Minute,
		FailedEvalFollowUpJitter:   5 * time.Minute,
		Logger:                     log.New(os.Stderr, "", log.LstdFlags),
	}
}

// Server is a cluster server: raft-replicated state, the scheduler
// workers, and on the leader the eval broker, plan applier, heartbeat
// timers, deployment watcher and drainer.
type Server struct {
	config *Config
	logger *log.Logger

	fsm       *fsm
	raft      *raft.Raft
	raftStore io.Closer
	transport raft.Transport
	listener  net.Listener
	mux       *droverrpc.Mux
	rpcServer *rpc.Server

	broker  *EvalBroker
	blocked *BlockedEvals
	planQ   *planQueue

	heartbeats *heartbeats
	// allocUpdates gathers client allocation reports into batches.
	allocUpdates *allocBatcher

	// serf is gossip among the servers (nil without a SerfAddr); pool
	// carries forwarded requests to the leader.
	serf             *serf.Serf
	pool             *droverrpc.Pool
	reconcileCh      chan struct{}
	bootstrapPending int32
	warnedMu         sync.Mutex
	warned           map[string]bool

	shutdownCtx    context.Context
	shutdownCancel context.CancelFunc
	wg             sync.WaitGroup

	leaderMu     sync.Mutex
	leaderCancel context.CancelFunc

	// entries counts the raft entries proposed (RaftEntryStats).
	entries entryCounter
}

// NewServer starts a server: it opens (or restores) raft, bootstraps a
// single-server cluster when there is no state yet, and starts serving
// RPC. Leadership work starts when raft elects this server.
func NewServer(cfg *Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = log.New(io.Discard, "", 0)
	}
	if cfg.NumSchedulers <= 0 {
		cfg.NumSchedulers = 1
	}
	f, err := newFSM()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		config:         cfg,
		logger:         cfg.Logger,
		fsm:            f,
		broker:         NewEvalBroker(cfg.EvalNackTimeout, cfg.EvalDeliveryLimit),
		shutdownCtx:    ctx,
		shutdownCancel: cancel,
	}
	s.pool = droverrpc.NewPool(5 * time.Second)
	s.reconcileCh = make(chan struct{}, 1)
	s.warned = map[string]bool{}
	s.blocked = NewBlockedEvals(s.broker, s.jobScope)
	s.planQ = newPlanQueue()
	s.heartbeats = newHeartbeats(s)
	s.allocUpdates = &allocBatcher{srv: s, interval: allocUpdateBatchInterval}
	f.hooks = fsmHooks{evals: s.evalsApplied, capacity: s.capacityFreed}

	if err := s.setupRPC(); err != nil {
		cancel()
		return nil, err
	}
	if err := s.setupRaft(); err != nil {
		s.listener.Close()
		cancel()
		return nil, err
	}
	s.mux.ServeRPC(s.rpcServer)
	if err := s.setupSerf(); err != nil {
		s.Shutdown()
		return nil, err
	}
	if err := s.joinAtStart(); err != nil {
		s.Shutdown()
		return nil, err
	}
	s.wg.Add(1)
	go s.monitorLeadership()
	for i := 0; i < cfg.NumSchedulers; i++ {
		s.wg.Add(1)
		go s.runWorker(i)
	}
	return s, nil
}

func (s *Server) setupRPC() error {
	l, err := net.Listen("tcp", s.config.RPCAddr)
	if err != nil {
		return fmt.Errorf("listen for rpc on %s: %w", s.config.RPCAddr, err)
	}
	s.listener = l
	s.mux = droverrpc.NewMux(l, s.logger)
	if t := s.config.TLS; t != nil {
		s.mux.SetTLS(&droverrpc.MuxTLS{Config: t.IncomingRPC(), RaftServerName: t.RaftServerName()})
		s.pool.SetTLS(t.OutgoingRPC())
	}
	s.rpcServer = rpc.NewServer()
	if err := s.rpcServer.RegisterName("Node", &nodeEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("Status", &statusEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("Job", &jobEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("Deployment", &deploymentEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("System", &systemEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("Alloc", &allocEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("ACL", &aclEndpoint{srv: s}); err != nil {
		return err
	}
	if err := s.rpcServer.RegisterName("Variables", &variablesEndpoint{srv: s}); err != nil {
		return err
	}
	// RPC is answered only once raft runs (NewServer calls ServeRPC):
	// until then a client's call is refused at the connection, and the
	// client tries its next server, instead of reaching endpoints that
	// need raft. Raft's own connections are served from the start.
	go s.mux.Serve()
	return nil
}

// RPCAddr is the address the server's RPC port answers on.
func (s *Server) RPCAddr() string {
	if s.config.RPCAdvertise != "" {
		return s.config.RPCAdvertise
	}
	return s.listener.Addr().String()
}

func (s *Server) setupRaft() error {
	conf := s.config.RaftConfig
	if conf == nil {
		conf = raft.DefaultConfig()
		// A lab cluster on one machine or a few VMs elects quickly.
		conf.HeartbeatTimeout = 500 * time.Millisecond
		conf.ElectionTimeout = 500 * time.Millisecond
		conf.LeaderLeaseTimeout = 250 * time.Millisecond
		conf.CommitTimeout = 5 * time.Millisecond
	}
	conf.LocalID = raft.ServerID(s.RPCAddr())
	conf.Logger = nil
	conf.LogOutput = io.Discard
	conf.SnapshotThreshold = 8192

	advertise, err := net.ResolveTCPAddr("tcp", s.RPCAddr())
	if err != nil {
		return err
	}
	layer := droverrpc.NewRaftLayer(s.mux, advertise)
	if t := s.config.TLS; t != nil {
		layer.SetTLS(t.OutgoingRPC())
	}
	s.transport = raft.NewNetworkTransport(layer, 3, 10*time.Second, io.Discard)

	var logs raft.LogStore
	var stable raft.StableStore
	var snaps raft.SnapshotStore
	if s.config.DataDir == "" {
		mem := raft.NewInmemStore()
		logs, stable = mem, mem
		snaps = raft.NewInmemSnapshotStore()
	} else {
		dir := filepath.Join(s.config.DataDir, "server")
		if err := os.MkdirAll(filepath.Join(dir, "raft"), 0o700); err != nil {
			return err
		}
		store, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft", "raft.db"))
		if err != nil {
			return fmt.Errorf("open raft store: %w", err)
		}
		s.raftStore = store
		logs, stable = store, store
		if snaps, err = raft.NewFileSnapshotStore(dir, 2, io.Discard); err != nil {
			return fmt.Errorf("open snapshot store: %w", err)
		}
	}
	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return err
	}
	switch {
	case has:
		// Raft state exists: the cluster was formed before, never again.
	case s.config.BootstrapExpect == 1:
		cfg := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: s.transport.LocalAddr()}}}
		if err := raft.BootstrapCluster(conf, logs, stable, snaps, s.transport, cfg); err != nil {
			return fmt.Errorf("bootstrap raft: %w", err)
		}
	case s.config.BootstrapExpect > 1:
		// Gossip bootstraps once bootstrap_expect servers are seen.
		s.bootstrapPending = 1
	}
	r, err := raft.NewRaft(conf, s.fsm, logs, stable, snaps, s.transport)
	if err != nil {
		if s.config.DataDir != "" && strings.Contains(err.Error(), "snapshot") {
			why := err
			s.fsm.mu.RLock()
			if s.fsm.restoreErr != nil {
				why = s.fsm.restoreErr
			}
			s.fsm.mu.RUnlock()
			dir := filepath.Join(s.config.DataDir, "server", "snapshots")
			// Refuse to start rather than run on lost or partial state, and
			// say what the operator can do.
			return fmt.Errorf("start raft: the snapshot in %s cannot be restored: %v.\n"+
				"Nothing was skipped and nothing was changed. To recover: restore %s from a backup; "+
				"or, on one server of a cluster whose other servers hold the state, stop this server, "+
				"move %s aside and start it again so that it catches up from the leader", dir, why,
				filepath.Join(s.config.DataDir, "server"), filepath.Join(s.config.DataDir, "server"))
		}
		return fmt.Errorf("start raft: %w", err)
	}
	s.raft = r
	if soleVoter(r, conf.LocalID) {
		electNow(r, conf.LeaderLeaseTimeout)
	}
	return nil
}

// soleVoter reports whether raft's configuration has one voter, this
// server: a single-server cluster, bootstrapped now or before.
func soleVoter(r *raft.Raft, id raft.ServerID) bool {
	f := r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	servers := f.Configuration().Servers
	return len(servers) == 1 && servers[0].ID == id && servers[0].Suffrage == raft.Voter
}

// electNow makes a follower that is the only voter start its election at
// once. Raft's follower first waits a heartbeat timeout (0.5–1 s here) for
// a leader to contact it, which for the only voter cannot happen: that wait
// was most of a dev agent's start-up. Shortening the heartbeat timeout
// wakes the follower's timer at once (raft re-arms a running timer when the
// timeout shrinks); the configured timeouts are restored straight away, so
// the cluster runs with them, and a server that joins later changes nothing.
// With one voter the election needs no other vote, so nothing is unsafe
// about holding it early. The shorter timeout is the leader lease: raft
// refuses a heartbeat timeout below it.
func electNow(r *raft.Raft, lease time.Duration) {
	rc := r.ReloadableConfig()
	short := rc
	short.HeartbeatTimeout, short.ElectionTimeout = lease, max(lease, rc.ElectionTimeout)
	if lease >= rc.HeartbeatTimeout || r.ReloadConfig(short) != nil {
		return
	}
	_ = r.ReloadConfig(rc)
}

// State returns the current state store, for reads.
func (s *Server) State() *state.StateStore { return s.fsm.State() }

// IsLeader reports whether this server leads the cluster.
func (s *Server) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the leader's RPC address, or "" when unknown.
func (s *Server) Leader() string {
	addr, _ := s.raft.LeaderWithID()
	return string(addr)
}

// Peers lists the raft peers' addresses.
func (s *Server) Peers() []string {
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []string
	for _, srv := range f.Configuration().Servers {
		out = append(out, string(srv.Address))
	}
	return out
}

// LastContact is the time since the leader was last heard from; zero on
// the leader itself.
func (s *Server) LastContact() time.Duration {
	if s.IsLeader() {
		return 0
	}
	last := s.raft.LastContact()
	if last.IsZero() {
		return 0
	}
	return time.Since(last)
}

// WaitForLeader blocks until a leader is known or ctx ends. It polls
// every millisecond at first (a single server leads within a few), then
// backs off to every 10ms.
func (s *Server) WaitForLeader(ctx context.Context) error {
	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.Leader() != "" && (!s.IsLeader() || s.broker.Enabled()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
		t.Reset(wait)
	}
}

// apply replicates one request through raft and returns the index it was
// applied at. Only the leader can apply.
func (s *Server) apply(t MessageType, req interface{}) (uint64, error) {
	if !s.IsLeader() {
		return 0, ErrNotLeader
	}
	buf, err := encode(t, req)
	if err != nil {
		return 0, err
	}
	return s.applyEntry(t, buf)
}

// applyEntry commits an encoded entry (see encode) and waits for the
// state machine to apply it.
func (s *Server) applyEntry(t MessageType, buf []byte) (uint64, error) {
	if !s.IsLeader() {
		return 0, ErrNotLeader
	}
	s.entries.record(t, len(buf))
	f := s.raft.Apply(buf, 30*time.Second)
	if err := s.await(f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return 0, ErrNotLeader
		}
		return 0, err
	}
	if resp, ok := f.Response().(error); ok && resp != nil {
		return f.Index(), resp
	}
	return f.Index(), nil
}

// await waits for raft's answer to a write or a barrier. raft never
// answers one that reached its queue just as it stopped, so shutting down
// ends the wait too: the leader's loops, which Shutdown waits for, must
// not wait forever for their last write.
func (s *Server) await(f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-s.shutdownCtx.Done():
		return raft.ErrRaftShutdown
	}
}

// Shutdown stops the server. State on disk stays for the next start, and
// the server does not leave gossip: it is expected back.
func (s *Server) Shutdown() error {
	s.shutdownCancel()
	s.revokeLeadership()
	var errs []error
	if s.serf != nil {
		if err := s.serf.Shutdown(); err != nil {
			errs = append(errs, err)
		}
	}
	s.pool.Close()
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.transport != nil {
		if c, ok := s.transport.(io.Closer); ok {
			c.Close()
		}
	}
	s.mux.Close()
	s.wg.Wait()
	if s.raftStore != nil {
		if err := s.raftStore.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// monitorLeadership starts and stops the leader's duties as raft moves
// leadership.
func (s *Server) monitorLeadership() {
	defer s.wg.Done()
	ch := s.raft.LeaderCh()
	for {
		select {
		case <-s.shutdownCtx.Done():
			return
		case isLeader := <-ch:
			if isLeader {
				s.establishLeadership()
			} else {
				s.revokeLeadership()
			}
		}
	}
}

// SnapshotNow makes raft write a snapshot of the state at once (the log
// is then compacted), as an operator's snapshot would.
func (s *Server) SnapshotNow() error {
	return s.raft.Snapshot().Error()
}
