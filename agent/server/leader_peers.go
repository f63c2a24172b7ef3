package server

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
)

// reconcilePeersInterval is how often the leader compares gossip with
// raft's configuration even when no membership event arrives.
const reconcilePeersInterval = 5 * time.Second

// reconcilePeers is a leader loop: it keeps raft's configuration in step
// with gossip. A server that joins gossip becomes a voter; one that left
// (gracefully or by force-leave) is removed. A failed server stays: it may
// be restarting, and removing it would shrink the quorum it counts in.
func (s *Server) reconcilePeers(ctx context.Context) {
	if s.serf == nil {
		return
	}
	t := time.NewTicker(reconcilePeersInterval)
	defer t.Stop()
	for {
		s.reconcilePeersOnce()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.reconcileCh:
		}
	}
}

func (s *Server) reconcilePeersOnce() {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		s.logger.Printf("[WARN] server: read raft configuration: %v", err)
		return
	}
	inRaft := map[raft.ServerID]bool{}
	for _, srv := range f.Configuration().Servers {
		inRaft[srv.ID] = true
	}
	for _, p := range s.regionPeers() {
		id := raft.ServerID(p.RPCAddr)
		switch {
		case p.Status == serf.StatusAlive && !inRaft[id]:
			if err := s.raft.AddVoter(id, raft.ServerAddress(p.RPCAddr), 0, 10*time.Second).Error(); err != nil {
				s.logger.Printf("[WARN] server: add %s to raft: %v", p.Name, err)
				continue
			}
			s.logger.Printf("[INFO] server: added %s (%s) to raft as a voter", p.Name, p.RPCAddr)
		case p.Status == serf.StatusLeft && inRaft[id] && p.RPCAddr != s.RPCAddr():
			if err := s.raft.RemoveServer(id, 0, 10*time.Second).Error(); err != nil {
				s.logger.Printf("[WARN] server: remove %s from raft: %v", p.Name, err)
				continue
			}
			s.logger.Printf("[INFO] server: removed %s (%s) from raft: it left", p.Name, p.RPCAddr)
		}
	}
}

// RaftServer is one entry of raft's configuration, for
// /v1/operator/raft/configuration.
type RaftServer struct {
	ID           string
	Node         string
	Address      string
	Leader       bool
	Voter        bool
	RaftProtocol string
}

// RaftConfiguration is raft's current configuration and the log index it
// was committed at.
type RaftConfiguration struct {
	Servers []*RaftServer
	Index   uint64
}

// RaftConfig reports raft's configuration with each server's node name
// from gossip.
func (s *Server) RaftConfig() (*RaftConfiguration, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, p := range s.regionPeers() {
		names[p.RPCAddr] = p.Name
	}
	if s.serf == nil {
		names[s.RPCAddr()] = s.serfName()
	}
	leader := s.Leader()
	out := &RaftConfiguration{Index: f.Index()}
	for _, srv := range f.Configuration().Servers {
		out.Servers = append(out.Servers, &RaftServer{
			ID: string(srv.ID), Node: names[string(srv.Address)], Address: string(srv.Address),
			Leader: string(srv.Address) == leader, Voter: srv.Suffrage == raft.Voter, RaftProtocol: raftProtocol,
		})
	}
	return out, nil
}
