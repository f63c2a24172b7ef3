package server

import (
	"strconv"
)

// Stats are the server's sections of the agent's stats (agent-info):
//
//   - "nomad": whether this server leads and who does, whether it
//     bootstraps alone (bootstrap_expect = 1), and how many regions gossip
//     knows of;
//   - "raft": raft's own statistics (state, term, indexes, peers, last
//     contact, ...), as the raft library reports them;
//   - "serf": gossip's statistics (members, failed, left, health score,
//     ...), as the serf library reports them; absent for a server that
//     runs without gossip.
//
// The section names are the compatible API's.
func (s *Server) Stats() map[string]map[string]string {
	leader := s.Leader()
	regions := map[string]bool{}
	for _, m := range s.Members() {
		if r := m.Tags[tagRegion]; r != "" && m.Status != "left" {
			regions[r] = true
		}
	}
	out := map[string]map[string]string{
		"nomad": {
			"server":        "true",
			"leader":        strconv.FormatBool(s.IsLeader()),
			"leader_addr":   leader,
			"bootstrap":     strconv.FormatBool(s.config.BootstrapExpect == 1),
			"known_regions": strconv.Itoa(len(regions)),
		},
		"raft": s.raft.Stats(),
	}
	if s.serf != nil {
		out["serf"] = s.serf.Stats()
	}
	return out
}
