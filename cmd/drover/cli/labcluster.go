package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"drover/agent"
	"drover/agent/config"
	"drover/kit/labpki"
	"drover/kit/topology"
	"drover/labs"
)

// labCluster is the cluster a lab runs on when no address is given: a
// dev agent, or a server and the clients client-one and client-two, all
// in one process on loopback. Its control endpoint lets "drover lab
// agent" stop, start and restart one agent, as a student would stop a
// machine of the kit's cluster. Each agent keeps its ports and data dir
// across restarts, so a restarted server comes back with its state.
type labCluster struct {
	dir      string
	topology string
	standIns map[string]string
	security labSecurity

	mu      sync.Mutex
	members []*labAgent
	control net.Listener
	done    chan struct{}
	once    sync.Once
}

type labAgent struct {
	name  string
	cfg   *config.Config
	agent *agent.Agent // nil while stopped
}

// labServerHTTP is the port the embedded server prefers, so a student's
// commands need no address, as on the kit's server.
const labServerHTTP = 4646

// labSecurity is what a lab cluster's agents run with: ACLs, and with
// TLS mutual TLS for RPC and HTTPS (requiring client certificates) from a
// lab CA made in <dir>/pki, as cluster.yaml's security: acl+tls renders.
type labSecurity struct {
	ACL, TLS bool
}

// labSecurityOf is the security of a lab's security attribute.
func labSecurityOf(security string) (labSecurity, error) {
	switch security {
	case labs.SecurityNone, "":
		return labSecurity{}, nil
	case labs.SecurityACL:
		return labSecurity{ACL: true}, nil
	case labs.SecurityACLTLS:
		return labSecurity{ACL: true, TLS: true}, nil
	}
	return labSecurity{}, fmt.Errorf("unknown security %q (none, acl or acl+tls)", security)
}

// startLabCluster starts the agents a topology needs, logging to
// dir/<name>.log. httpPort is the server's HTTP port: 0 for any free one;
// when it is taken, any free one is used.
func startLabCluster(dir, topology string, httpPort int, standIns map[string]string) (*labCluster, error) {
	return startSecureLabCluster(dir, topology, httpPort, standIns, labSecurity{})
}

// startSecureLabCluster is startLabCluster with ACLs and TLS as sec says.
func startSecureLabCluster(dir, topology string, httpPort int, standIns map[string]string, sec labSecurity) (*labCluster, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	c := &labCluster{dir: dir, topology: topology, standIns: standIns, security: sec, done: make(chan struct{})}
	if topology == labs.TopologyDev {
		cfg := config.DevConfig()
		cfg.Name = "agent"
		c.members = append(c.members, &labAgent{name: "agent", cfg: c.withPorts(cfg, "agent", httpPort)})
	} else {
		srv := config.Default()
		srv.Name = "server"
		srv.Server.Enabled, srv.Server.BootstrapExpect = true, 1
		// A stopped client is down within seconds, not the 20 s of a
		// production server: the lab waits for it.
		srv.Server.MinHeartbeatTTL, srv.Server.HeartbeatGrace = 2*time.Second, 3*time.Second
		srv.MarkSet("server.enabled", "server.bootstrap_expect", "server.min_heartbeat_ttl", "server.heartbeat_grace")
		srv = c.withPorts(srv, "server", httpPort)
		c.members = append(c.members, &labAgent{name: "server", cfg: srv})
		for _, name := range []string{"client-one", "client-two"} {
			cfg := config.Default()
			cfg.Name = name
			cfg.Client.Enabled = true
			cfg.Client.Servers = []string{fmt.Sprintf("127.0.0.1:%d", srv.Ports.RPC)}
			cfg.Client.NetworkInterface = "lo"
			cfg.MarkSet("client.enabled", "client.servers", "client.network_interface")
			c.members = append(c.members, &labAgent{name: name, cfg: c.withPorts(cfg, name, 0)})
		}
	}
	for _, m := range c.members {
		if err := c.startMember(m); err != nil {
			c.Shutdown()
			return nil, fmt.Errorf("starting %s: %w", m.name, err)
		}
	}
	return c, nil
}

// withPorts gives an agent's configuration its ports (kept across
// restarts), its data dir and the stand-in images.
func (c *labCluster) withPorts(cfg *config.Config, name string, httpPort int) *config.Config {
	free := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	if httpPort > 0 {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort)); err == nil {
			l.Close()
		} else {
			httpPort = 0
		}
	}
	if httpPort == 0 {
		httpPort = free()
	}
	cfg.Ports.HTTP, cfg.Ports.RPC, cfg.Ports.Serf = httpPort, free(), free()
	cfg.BindAddr = "127.0.0.1"
	if !cfg.DevMode {
		cfg.DataDir = filepath.Join(c.dir, name+"-data")
	}
	if len(c.standIns) > 0 {
		m := map[string]interface{}{}
		for image, standIn := range c.standIns {
			m[image] = standIn
		}
		if cfg.Plugins == nil {
			cfg.Plugins = map[string]*config.PluginConfig{}
		}
		p := cfg.Plugins["docker"]
		if p == nil {
			p = &config.PluginConfig{Name: "docker", Config: map[string]interface{}{}}
			cfg.Plugins["docker"] = p
		}
		if p.Config == nil {
			p.Config = map[string]interface{}{}
		}
		p.Config["stand_ins"] = m
	}
	cfg.MarkSet("ports.http", "ports.rpc", "ports.serf", "bind_addr", "data_dir")
	if c.security.ACL {
		cfg.ACL.Enabled = true
		cfg.MarkSet("acl.enabled")
	}
	if c.security.TLS {
		if err := c.withTLS(cfg, name); err != nil {
			// Validate reports the missing files.
			fmt.Fprintf(os.Stderr, "lab cluster: TLS for %s: %v\n", name, err)
		}
	}
	cfg.Normalize()
	return cfg
}

// withTLS gives an agent a certificate of the lab CA and turns TLS on for
// RPC and HTTP, as cluster.yaml's security: acl+tls does.
func (c *labCluster) withTLS(cfg *config.Config, name string) error {
	p, err := labpki.Open(c.PKIDir(), "")
	if err != nil {
		return err
	}
	role := topology.RoleClient
	if cfg.Server.Enabled || cfg.DevMode {
		role = topology.RoleServer
	}
	if _, _, err := p.Machine(topology.Machine{Name: name, Hostname: "localhost", Role: role, IP: netip.MustParseAddr("127.0.0.1")}); err != nil {
		return err
	}
	if _, _, err := p.CLI(); err != nil {
		return err
	}
	cfg.TLS = config.TLSConfig{HTTP: true, RPC: true, CAFile: p.Path(labpki.CAFile),
		CertFile: p.Path(name + ".pem"), KeyFile: p.Path(name + "-key.pem"),
		VerifyServerHostname: true, VerifyHTTPSClient: true}
	cfg.MarkSet("tls.http", "tls.rpc", "tls.ca_file", "tls.cert_file", "tls.key_file", "tls.verify_server_hostname", "tls.verify_https_client")
	return nil
}

// PKIDir holds the lab CA and the certificates of a cluster with TLS:
// the CLI's are cli.pem and cli-key.pem.
func (c *labCluster) PKIDir() string { return filepath.Join(c.dir, "pki") }

// scheme is https:// when the API is served over TLS.
func (c *labCluster) scheme() string {
	if c.security.TLS {
		return "https://"
	}
	return "http://"
}

func (c *labCluster) startMember(m *labAgent) error {
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(c.dir, m.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	a, err := agent.New(m.cfg, log.New(logFile, "", log.LstdFlags))
	if err != nil {
		logFile.Close()
		return err
	}
	m.agent = a
	return nil
}

// Addr is the API address of the cluster's server (or dev agent).
func (c *labCluster) Addr() string {
	return fmt.Sprintf("%s127.0.0.1:%d", c.scheme(), c.members[0].cfg.Ports.HTTP)
}

// Agents maps each agent's name to its HTTP address.
func (c *labCluster) Agents() map[string]string {
	out := map[string]string{}
	for _, m := range c.members {
		out[m.name] = fmt.Sprintf("%s127.0.0.1:%d", c.scheme(), m.cfg.Ports.HTTP)
	}
	return out
}

// Clients is how many client nodes the topology has.
func (c *labCluster) Clients() int {
	if c.topology == labs.TopologyDev {
		return 1
	}
	return len(c.members) - 1
}

// Do stops, starts or restarts the agent called name; "start-all"
// starts every stopped agent.
func (c *labCluster) Do(op, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op == "start-all" {
		for _, m := range c.members {
			if m.agent == nil {
				if err := c.startMember(m); err != nil {
					return fmt.Errorf("starting %s: %w", m.name, err)
				}
			}
		}
		return nil
	}
	var m *labAgent
	var names []string
	for _, x := range c.members {
		names = append(names, x.name)
		if x.name == name {
			m = x
		}
	}
	if m == nil {
		return fmt.Errorf("no agent %q in this lab cluster (agents: %s)", name, strings.Join(names, ", "))
	}
	if m.cfg.DevMode && op != "start" {
		return fmt.Errorf("the dev agent keeps its state in memory: stopping it would lose it")
	}
	switch op {
	case "stop":
		if m.agent == nil {
			return fmt.Errorf("%s is already stopped", name)
		}
		// Like a machine that goes away: the agent stops without stopping
		// its tasks or telling the server anything. The server notices the
		// missed heartbeats; a restarted client re-attaches to its tasks
		// and stops the ones that were replaced meanwhile.
		m.agent.Shutdown()
		m.agent = nil
	case "start":
		if m.agent != nil {
			return fmt.Errorf("%s is already running", name)
		}
		return c.startMember(m)
	case "restart":
		if m.agent != nil {
			m.agent.Shutdown()
			m.agent = nil
		}
		return c.startMember(m)
	default:
		return fmt.Errorf("unknown operation %q (stop, start, restart)", op)
	}
	return nil
}

// status lists the agents and whether each runs.
func (c *labCluster) status() []labAgentStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []labAgentStatus
	for _, m := range c.members {
		role := "client"
		if m.cfg.Server.Enabled {
			role = "server"
		}
		if m.cfg.DevMode {
			role = "server+client"
		}
		out = append(out, labAgentStatus{Name: m.name, Role: role, Address: fmt.Sprintf("%s127.0.0.1:%d", c.scheme(), m.cfg.Ports.HTTP), Running: m.agent != nil})
	}
	return out
}

type labAgentStatus struct {
	Name    string `json:"name"`
	Role    string `json:"role"`
	Address string `json:"address"`
	Running bool   `json:"running"`
}

// Serve answers the control endpoint on a free loopback port until
// Shutdown.
func (c *labCluster) Serve() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	c.control = l
	mux := http.NewServeMux()
	mux.HandleFunc("/agents", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(c.status())
	})
	mux.HandleFunc("/do", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if err := c.Do(r.FormValue("op"), r.FormValue("agent")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(c.status())
	})
	mux.HandleFunc("/shutdown", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		fmt.Fprintln(w, "stopping")
		go c.Shutdown()
	})
	go http.Serve(l, mux)
	return "http://" + l.Addr().String(), nil
}

// Shutdown stops every agent and its tasks, clients first, and the
// control endpoint. A stopped agent is started again first, so that the
// tasks it left running are stopped too: a lab leaves nothing behind.
func (c *labCluster) Shutdown() {
	c.once.Do(func() {
		c.mu.Lock()
		for _, m := range c.members {
			if m.agent == nil {
				if err := c.startMember(m); err != nil {
					fmt.Fprintf(os.Stderr, "lab cluster: restarting %s to stop its tasks: %v\n", m.name, err)
				}
			}
		}
		for i := len(c.members) - 1; i >= 0; i-- {
			if m := c.members[i]; m.agent != nil {
				stopEmbedded(m.agent)
				m.agent = nil
			}
		}
		c.mu.Unlock()
		if c.control != nil {
			c.control.Close()
		}
		close(c.done)
	})
}

// Done is closed once the cluster has shut down.
func (c *labCluster) Done() <-chan struct{} { return c.done }

// labControl talks to a lab cluster's control endpoint.
func labControl(ctx context.Context, control, op, name string) ([]labAgentStatus, error) {
	hc := &http.Client{Timeout: 2 * time.Minute}
	var resp *http.Response
	var err error
	if op == "" {
		resp, err = hc.Get(control + "/agents")
	} else {
		resp, err = hc.PostForm(control+"/do", map[string][]string{"op": {op}, "agent": {name}})
	}
	if err != nil {
		return nil, fmt.Errorf("the lab cluster does not answer (%v): start it again with \"drover lab reset\"", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return nil, errors.New(strings.TrimSpace(b.String()))
	}
	var out []labAgentStatus
	return out, json.NewDecoder(resp.Body).Decode(&out)
}
