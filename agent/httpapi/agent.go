package httpapi

import (
	"net"
	"net/http"
	"runtime"
	"strconv"
)

// agentSelf is the body of /v1/agent/self, the shape the client's
// AgentSelf decodes.
type agentSelf struct {
	Config map[string]interface{}       `json:"config"`
	Member *agentMember                 `json:"member"`
	Stats  map[string]map[string]string `json:"stats"`
}

// agentMember describes a server as a cluster member. Drover has no
// gossip layer: members are the raft peers, addressed by their RPC
// address, which is also what /v1/status/leader reports, so the CLI can
// tell which member leads.
type agentMember struct {
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

// serverMembers is the body of /v1/agent/members.
type serverMembers struct {
	ServerName   string
	ServerRegion string
	ServerDC     string
	Members      []*agentMember
}

func (h *handler) agentSelf(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	info := h.info
	config := map[string]interface{}{
		"Region":     info.Region,
		"Datacenter": info.Datacenter,
		"NodeName":   info.NodeName,
		"Version":    map[string]interface{}{"Version": info.Version, "VersionPrerelease": "", "VersionMetadata": "", "Revision": ""},
		"Server":     map[string]interface{}{"Enabled": info.Server},
		"Client":     map[string]interface{}{"Enabled": info.Client},
		"AdvertiseAddrs": map[string]interface{}{
			"HTTP": info.HTTPAddr, "RPC": info.RPCAddr,
		},
	}
	for k, v := range info.Config {
		config[k] = v
	}

	stats := map[string]map[string]string{
		"runtime": {
			"arch":       runtime.GOARCH,
			"os":         runtime.GOOS,
			"version":    runtime.Version(),
			"goroutines": strconv.Itoa(runtime.NumGoroutine()),
			"cpu_count":  strconv.Itoa(runtime.NumCPU()),
			"max_procs":  strconv.Itoa(runtime.GOMAXPROCS(0)),
		},
	}
	// A client-only agent has no server role, hence no "nomad" or "raft"
	// section, as in the compatible API.
	if h.srv != nil {
		leader := h.srv.Leader()
		raftState := "Follower"
		if h.srv.IsLeader() {
			raftState = "Leader"
		} else if leader == "" {
			raftState = "Candidate"
		}
		stats["nomad"] = map[string]string{
			"server":        strconv.FormatBool(info.Server),
			"leader":        strconv.FormatBool(h.srv.IsLeader()),
			"leader_addr":   leader,
			"known_regions": "1",
		}
		stats["raft"] = map[string]string{
			"state":        raftState,
			"num_peers":    strconv.Itoa(max(len(h.srv.Peers())-1, 0)),
			"last_contact": h.srv.LastContact().String(),
		}
	}
	if info.Client {
		stats["client"] = map[string]string{"node_name": info.NodeName, "node_id": info.NodeID}
	}
	return &agentSelf{Config: config, Member: h.selfMember(), Stats: stats}, nil
}

// selfMember describes this agent. A server is the raft member at its
// RPC address; a client-only agent, which is no server member, is
// described at its HTTP address, under its node name.
func (h *handler) selfMember() *agentMember {
	info := h.info
	if h.srv == nil {
		host, portStr, err := net.SplitHostPort(info.HTTPAddr)
		if err != nil {
			host = info.HTTPAddr
		}
		port, _ := strconv.ParseUint(portStr, 10, 16)
		return &agentMember{
			Name: info.NodeName, Addr: host, Port: uint16(port), Status: "alive",
			Tags: map[string]string{"region": info.Region, "dc": info.Datacenter, "build": info.Version},
		}
	}
	m := h.member(info.RPCAddr)
	m.Name = info.NodeName + "." + info.Region
	m.Status = "alive"
	m.Tags["dc"] = info.Datacenter
	m.Tags["build"] = info.Version
	return m
}

// member describes the server at a raft (RPC) address.
func (h *handler) member(addr string) *agentMember {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	port, _ := strconv.ParseUint(portStr, 10, 16)
	return &agentMember{
		Name: addr,
		Addr: host,
		Port: uint16(port),
		Tags: map[string]string{
			"role": "nomad", "region": h.info.Region, "port": portStr, "rpc_addr": host,
			"vsn": "1", "raft_vsn": "3",
		},
		ProtocolMin: 1, ProtocolMax: 5, ProtocolCur: 2,
		DelegateMin: 2, DelegateMax: 5, DelegateCur: 4,
	}
}

func (h *handler) agentMembers(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	self := h.selfMember()
	out := &serverMembers{
		ServerName: h.info.NodeName, ServerRegion: h.info.Region, ServerDC: h.info.Datacenter,
		Members: []*agentMember{self},
	}
	leader := h.srv.Leader()
	for _, p := range h.srv.Peers() {
		if p == h.info.RPCAddr {
			continue
		}
		m := h.member(p)
		// Without gossip, only the leader is known to be alive: a
		// follower has just heard from it.
		m.Status = "unknown"
		if p == leader {
			m.Status = "alive"
		}
		out.Members = append(out.Members, m)
	}
	return out, nil
}

func (h *handler) statusLeader(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return h.srv.Leader(), nil
}

func (h *handler) statusPeers(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return nonNil(h.srv.Peers()), nil
}

func (h *handler) regions(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return []string{h.info.Region}, nil
}
