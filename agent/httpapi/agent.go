package httpapi

import (
	"net"
	"net/http"
	"runtime"
	"strconv"

	"drover/agent/client"
	"drover/agent/server"
)

// agentSelf is the body of /v1/agent/self, the shape the client's
// AgentSelf decodes.
type agentSelf struct {
	Config map[string]interface{}       `json:"config"`
	Member *agentMember                 `json:"member"`
	Stats  map[string]map[string]string `json:"stats"`
}

// agentMember describes a server as a gossip member: its serf address,
// and in its tags the RPC port that /v1/status/leader reports, so the CLI
// can tell which member leads. It is the server's own description.
type agentMember = server.Member

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
			"arch":        runtime.GOARCH,
			"os":          runtime.GOOS,
			"kernel.name": runtime.GOOS,
			"version":     runtime.Version(),
			"goroutines":  strconv.Itoa(runtime.NumGoroutine()),
			"cpu_count":   strconv.Itoa(runtime.NumCPU()),
			"max_procs":   strconv.Itoa(runtime.GOMAXPROCS(0)),
		},
	}
	// A client-only agent has no server role, hence no "nomad" or "raft"
	// section, as in the compatible API.
	if sr, ok := h.srv.(serverStats); ok {
		for section, kv := range sr.Stats() {
			stats[section] = kv
		}
	}
	if info.Client {
		section := map[string]string{"node_name": info.NodeName, "node_id": info.NodeID}
		if cs, ok := h.local.(clientStats); ok {
			for k, v := range cs.Stats() {
				section[k] = v
			}
		}
		stats["client"] = section
	}
	return &agentSelf{Config: config, Member: h.selfMember(), Stats: stats}, nil
}

// serverStats is what a server reports in /v1/agent/self's stats beyond
// what the Server interface tells: its "nomad", "raft" and "serf"
// sections. *server.Server implements it; a test's wrapper of the Server
// interface may not, and then reports no server sections.
type serverStats interface {
	Stats() map[string]map[string]string
}

var _ serverStats = (*server.Server)(nil)

// clientStats is what a client reports in the "client" section of the
// stats: heartbeat_ttl, known_servers, last_heartbeat, node_id and
// num_allocations. *client.Client implements it.
type clientStats interface {
	Stats() map[string]string
}

var _ clientStats = (*client.Client)(nil)

// selfMember describes this agent. A server is its own gossip member; a
// client-only agent, which is no server member, is described at its HTTP
// address, under its node name.
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
	self := info.NodeName + "." + info.Region
	members := h.srv.Members()
	for _, m := range members {
		if m.Name == self {
			return h.toAgentMember(m)
		}
	}
	return &agentMember{Name: self, Status: "alive", Tags: map[string]string{"build": info.Version}}
}

func (h *handler) toAgentMember(m server.Member) *agentMember {
	c := m
	c.Tags = map[string]string{}
	for k, v := range m.Tags {
		c.Tags[k] = v
	}
	if c.Tags["build"] == "" && m.Name == h.info.NodeName+"."+h.info.Region {
		c.Tags["build"] = h.info.Version
	}
	return &c
}

// agentMembers lists the servers as gossip sees them.
func (h *handler) agentMembers(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	out := &serverMembers{ServerName: h.info.NodeName, ServerRegion: h.info.Region, ServerDC: h.info.Datacenter}
	for _, m := range h.srv.Members() {
		out.Members = append(out.Members, h.toAgentMember(m))
	}
	return out, nil
}

// joinResponse is the body of /v1/agent/join.
type joinResponse struct {
	NumJoined int    `json:"num_joined"`
	Error     string `json:"error"`
}

// agentJoin gossips with the servers at ?address= (repeatable). A join
// that reaches none is reported in the body, as the CLI expects.
func (h *handler) agentJoin(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	addrs := r.URL.Query()["address"]
	if len(addrs) == 0 {
		return nil, badRequest("missing address to join")
	}
	n, err := h.srv.Join(addrs)
	out := &joinResponse{NumJoined: n}
	if err != nil {
		out.Error = err.Error()
	}
	return out, nil
}

// agentForceLeave marks the failed server ?node= as left.
func (h *handler) agentForceLeave(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	node := r.URL.Query().Get("node")
	if node == "" {
		return nil, badRequest("missing node to force leave")
	}
	if err := h.srv.ForceLeave(node); err != nil {
		return nil, err
	}
	return nil, nil
}

// raftConfiguration is raft's configuration as the operator API reports it.
func (h *handler) raftConfiguration(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return h.srv.RaftConfig()
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
