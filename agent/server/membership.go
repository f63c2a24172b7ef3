package server

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
)

// Serf tags a server gossips. Other servers learn from them where its RPC
// (and raft) port is, which region it serves and how many servers it
// expects before the first election.
const (
	tagRole      = "role"
	tagRegion    = "region"
	tagDC        = "dc"
	tagRPCAddr   = "rpc_addr"
	tagPort      = "port"
	tagHTTPAddr  = "http_addr"
	tagExpect    = "expect"
	tagRaftVsn   = "raft_vsn"
	tagBuild     = "build"
	tagVsn       = "vsn"
	roleServer   = "nomad"
	raftProtocol = "3"
)

// Member is a server as gossip sees it, for /v1/agent/members.
type Member struct {
	Name        string
	Addr        string
	Port        uint16
	Tags        map[string]string
	Status      string
	ProtocolMin uint8
	ProtocolMax uint8
	ProtocolCur uint8
	DelegateMin uint8
	DelegateMax uint8
	DelegateCur uint8
}

// serverPeer is what a serf member's tags say about a server.
type serverPeer struct {
	Name    string
	Region  string
	RPCAddr string
	Expect  int
	Status  serf.MemberStatus
}

// peerOf reads a member's tags; ok is false for members that are not
// servers.
func peerOf(m serf.Member) (serverPeer, bool) {
	if m.Tags[tagRole] != roleServer {
		return serverPeer{}, false
	}
	host, port := m.Tags[tagRPCAddr], m.Tags[tagPort]
	if host == "" || port == "" {
		return serverPeer{}, false
	}
	addr := net.JoinHostPort(host, port)
	expect, _ := strconv.Atoi(m.Tags[tagExpect])
	return serverPeer{Name: m.Name, Region: m.Tags[tagRegion], RPCAddr: addr, Expect: expect, Status: m.Status}, true
}

// serfName is the member name: node name and region, as the CLI shows it.
func (s *Server) serfName() string {
	return s.config.NodeName + "." + s.config.Region
}

// setupSerf starts gossip on the serf address. Without one (in-process
// single servers) the server has no peers to find and skips gossip.
func (s *Server) setupSerf() error {
	if s.config.SerfAddr == "" {
		return nil
	}
	host, portStr, err := net.SplitHostPort(s.config.SerfAddr)
	if err != nil {
		return fmt.Errorf("serf address %q: %w", s.config.SerfAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("serf address %q: bad port", s.config.SerfAddr)
	}
	conf := serf.DefaultConfig()
	conf.Init()
	conf.NodeName = s.serfName()
	conf.Tags = map[string]string{
		tagRole: roleServer, tagRegion: s.config.Region, tagDC: s.config.Datacenter,
		tagHTTPAddr: s.config.HTTPAddr,
		tagExpect:   strconv.Itoa(s.config.BootstrapExpect), tagRaftVsn: raftProtocol,
		tagBuild: s.config.Build, tagVsn: "1",
	}
	if h, p, err := net.SplitHostPort(s.RPCAddr()); err == nil {
		conf.Tags[tagRPCAddr], conf.Tags[tagPort] = h, p
	}
	if isLoopback(host) {
		// Servers on one machine notice a dead peer in seconds, not tens of seconds.
		conf.MemberlistConfig = memberlist.DefaultLocalConfig()
	}
	ml := conf.MemberlistConfig
	ml.BindAddr, ml.BindPort = host, port
	if key := s.config.EncryptKey; len(key) > 0 {
		// Every gossip message is encrypted and must decrypt with this
		// key: a server with another key, or none, cannot join.
		kr, err := memberlist.NewKeyring(nil, key)
		if err != nil {
			return fmt.Errorf("gossip encryption key: %w", err)
		}
		ml.Keyring = kr
	}
	if adv := s.config.SerfAdvertise; adv != "" {
		ah, ap, err := net.SplitHostPort(adv)
		if err != nil {
			return fmt.Errorf("serf advertise address %q: %w", adv, err)
		}
		ml.AdvertiseAddr = ah
		ml.AdvertisePort, _ = strconv.Atoi(ap)
	}
	// Gossip chatter is debug noise for a student; warnings and errors stay.
	quiet := log.New(&levelFilter{out: s.logger.Writer()}, "", log.LstdFlags)
	conf.Logger = quiet
	ml.Logger = quiet
	conf.LogOutput = nil
	ml.LogOutput = nil
	if s.config.DataDir != "" {
		dir := filepath.Join(s.config.DataDir, "server", "serf")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		// The snapshot lets a restarted server find its peers again without
		// a join; a server that left on purpose stays gone.
		conf.SnapshotPath = filepath.Join(dir, "local.snapshot")
	}
	events := make(chan serf.Event, 256)
	conf.EventCh = events
	sf, err := serf.Create(conf)
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", s.config.SerfAddr, err)
	}
	s.serf = sf
	s.wg.Add(1)
	go s.serfEvents(events)
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// levelFilter drops DEBUG lines from gossip's logger.
type levelFilter struct{ out io.Writer }

func (f *levelFilter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "[DEBUG]") {
		return len(p), nil
	}
	return f.out.Write(p)
}

// serfEvents reacts to membership changes: before the first election it
// may bootstrap raft; on the leader it brings raft's configuration in line.
func (s *Server) serfEvents(events <-chan serf.Event) {
	defer s.wg.Done()
	// While waiting to bootstrap, look again now and then: a peer that did
	// not answer may answer now, with no new event to say so.
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-s.shutdownCtx.Done():
			return
		case <-retry.C:
			s.maybeBootstrap()
		case e := <-events:
			me, ok := e.(serf.MemberEvent)
			if !ok {
				continue
			}
			for _, m := range me.Members {
				if p, ok := peerOf(m); ok && p.Region == s.config.Region {
					s.logger.Printf("[INFO] server: member %s %s (%s)", m.Name, memberEventWord(me.Type), p.RPCAddr)
				}
			}
			s.maybeBootstrap()
			select {
			case s.reconcileCh <- struct{}{}:
			default:
			}
		}
	}
}

func memberEventWord(t serf.EventType) string {
	switch t {
	case serf.EventMemberJoin:
		return "joined"
	case serf.EventMemberLeave:
		return "left"
	case serf.EventMemberFailed:
		return "failed"
	case serf.EventMemberReap:
		return "was reaped"
	}
	return "updated"
}

// regionPeers lists the servers of this region that gossip knows, alive
// or not, sorted by name.
func (s *Server) regionPeers() []serverPeer {
	if s.serf == nil {
		return nil
	}
	var out []serverPeer
	for _, m := range s.serf.Members() {
		if p, ok := peerOf(m); ok && p.Region == s.config.Region {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// maybeBootstrap forms the cluster once bootstrap_expect servers are
// alive in gossip. Every one of them computes the same configuration (the
// same servers, by RPC address), so whichever bootstraps first, there is
// one cluster. It never runs on a server that has raft state, nor once any
// peer reports raft peers of its own: that cluster exists and will add
// this server as a voter.
func (s *Server) maybeBootstrap() {
	if atomic.LoadInt32(&s.bootstrapPending) == 0 {
		return
	}
	var alive []serverPeer
	for _, p := range s.regionPeers() {
		if p.Status != serf.StatusAlive {
			continue
		}
		if p.Expect != 0 && p.Expect != s.config.BootstrapExpect {
			s.warnOnce("expect:"+p.Name, "[ERROR] server: member %s has bootstrap_expect = %d but this server has %d; "+
				"not bootstrapping until every server expects the same number", p.Name, p.Expect, s.config.BootstrapExpect)
			return
		}
		alive = append(alive, p)
	}
	if len(alive) < s.config.BootstrapExpect {
		return
	}
	// Ask every peer whether raft already runs there: a server added to a
	// cluster that exists must join it, not found a second one.
	for _, p := range alive {
		if p.RPCAddr == s.RPCAddr() {
			continue
		}
		var peers []string
		ctx, cancel := context.WithTimeout(s.shutdownCtx, 5*time.Second)
		err := s.pool.Call(ctx, p.RPCAddr, "Status.Peers", &struct{}{}, &peers)
		cancel()
		if err != nil {
			s.logger.Printf("[WARN] server: bootstrap: cannot ask %s for its raft peers, will retry: %v", p.Name, err)
			return
		}
		if len(peers) > 0 {
			s.logger.Printf("[INFO] server: bootstrap: %s already belongs to a cluster; waiting to be added", p.Name)
			atomic.StoreInt32(&s.bootstrapPending, 0)
			return
		}
	}
	cfg := raft.Configuration{}
	var names []string
	for _, p := range alive {
		cfg.Servers = append(cfg.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(p.RPCAddr), Address: raft.ServerAddress(p.RPCAddr)})
		names = append(names, p.Name)
	}
	if !atomic.CompareAndSwapInt32(&s.bootstrapPending, 1, 0) {
		return
	}
	if err := s.raft.BootstrapCluster(cfg).Error(); err != nil {
		s.logger.Printf("[ERROR] server: bootstrap: %v", err)
		return
	}
	s.logger.Printf("[INFO] server: found %d servers (%s): bootstrapping the cluster", len(alive), strings.Join(names, ", "))
}

// warnOnce logs a message the first time its key is seen.
func (s *Server) warnOnce(key, format string, args ...interface{}) {
	s.warnedMu.Lock()
	defer s.warnedMu.Unlock()
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.logger.Printf(format, args...)
}

// Join gossips with the servers at addrs (serf addresses) and reports how
// many answered.
func (s *Server) Join(addrs []string) (int, error) {
	if s.serf == nil {
		return 0, errorf(ErrInvalidRequest, "this server runs without gossip and cannot join others")
	}
	return s.serf.Join(addrs, true)
}

// ForceLeave marks a failed server as left, so that the leader removes it
// from raft's configuration.
func (s *Server) ForceLeave(name string) error {
	if s.serf == nil {
		return errorf(ErrInvalidRequest, "this server runs without gossip")
	}
	found := false
	for _, m := range s.serf.Members() {
		if m.Name == name || strings.TrimSuffix(m.Name, "."+s.config.Region) == name {
			name, found = m.Name, true
			break
		}
	}
	if !found {
		return errorf(ErrNotFound, "no member named %q", name)
	}
	return s.serf.RemoveFailedNode(name)
}

// Members lists the servers gossip knows; without gossip, this server
// alone.
func (s *Server) Members() []Member {
	if s.serf == nil {
		return []Member{s.selfMember()}
	}
	var out []Member
	for _, m := range s.serf.Members() {
		out = append(out, Member{
			Name: m.Name, Addr: m.Addr.String(), Port: m.Port, Tags: m.Tags, Status: m.Status.String(),
			ProtocolMin: m.ProtocolMin, ProtocolMax: m.ProtocolMax, ProtocolCur: m.ProtocolCur,
			DelegateMin: m.DelegateMin, DelegateMax: m.DelegateMax, DelegateCur: m.DelegateCur,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// selfMember describes a server without gossip at its RPC address.
func (s *Server) selfMember() Member {
	host, portStr, _ := net.SplitHostPort(s.RPCAddr())
	port, _ := strconv.ParseUint(portStr, 10, 16)
	return Member{
		Name: s.serfName(), Addr: host, Port: uint16(port), Status: "alive",
		Tags: map[string]string{
			tagRole: roleServer, tagRegion: s.config.Region, tagDC: s.config.Datacenter, tagPort: portStr,
			tagRPCAddr: host, tagRaftVsn: raftProtocol, tagBuild: s.config.Build, tagVsn: "1",
			tagExpect: strconv.Itoa(s.config.BootstrapExpect),
		},
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2, DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

// joinAtStart joins start_join once and keeps trying retry_join in the
// background until one address answers (or the attempts run out).
func (s *Server) joinAtStart() error {
	if s.serf == nil {
		return nil
	}
	if len(s.config.StartJoin) > 0 {
		n, err := s.serf.Join(s.config.StartJoin, true)
		if err != nil && n == 0 {
			return fmt.Errorf("start_join %s: %w", strings.Join(s.config.StartJoin, ", "), err)
		}
		s.logger.Printf("[INFO] server: joined %d of %s", n, strings.Join(s.config.StartJoin, ", "))
	}
	if len(s.config.RetryJoin) == 0 {
		return nil
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		interval := s.config.RetryInterval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		for attempt := 1; ; attempt++ {
			n, err := s.serf.Join(s.config.RetryJoin, true)
			if err == nil || n > 0 {
				s.logger.Printf("[INFO] server: retry_join: joined %d of %s", n, strings.Join(s.config.RetryJoin, ", "))
				return
			}
			if max := s.config.RetryMaxAttempts; max > 0 && attempt >= max {
				s.logger.Printf("[ERROR] server: retry_join: giving up after %d attempts: %v", attempt, err)
				return
			}
			s.logger.Printf("[WARN] server: retry_join: attempt %d failed, retrying in %s: %v", attempt, interval, err)
			select {
			case <-s.shutdownCtx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return nil
}
