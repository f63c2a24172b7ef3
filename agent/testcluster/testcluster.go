// Package testcluster runs a whole cluster in one test process: N servers
// that find each other over gossip and form one raft cluster, and M
// clients that list every server, all on loopback ports with real RPC,
// raft and serf. Members can be stopped and started again with the same
// ports and data, so tests can kill a leader or restart the cluster.
package testcluster

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent"
	"drover/agent/config"
	"drover/testutil/freeport"
)

// Member is one agent of the cluster.
type Member struct {
	Name   string
	Server bool
	// HTTP, RPC and Serf are the member's loopback ports, kept across
	// restarts.
	HTTP, RPC, Serf int
	dir             string
	hcl             string

	mu    sync.Mutex
	agent *agent.Agent
}

// Agent is the running agent, nil while the member is stopped.
func (m *Member) Agent() *agent.Agent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.agent
}

// Addr is the member's HTTP address.
func (m *Member) Addr() string { return fmt.Sprintf("http://127.0.0.1:%d", m.HTTP) }

// RPCAddr is the member's RPC address.
func (m *Member) RPCAddr() string { return fmt.Sprintf("127.0.0.1:%d", m.RPC) }

// API is an official API client for the member.
func (m *Member) API(t testing.TB) *api.Client {
	c, err := api.NewClient(&api.Config{Address: m.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Options shape the cluster.
type Options struct {
	// ServerHCL goes inside every server's server block; ClientHCL is
	// added to every client's configuration.
	ServerHCL, ClientHCL string
	// AgentHCL is added at the top level of every member's
	// configuration (say, an acl block).
	AgentHCL string
	// Start lists the servers to start at once, by index; nil starts all.
	// The others are started by the test with Start.
	Start []int
}

// Cluster is the running cluster.
type Cluster struct {
	t       testing.TB
	Servers []*Member
	Clients []*Member
}

// New starts servers servers with bootstrap_expect = servers and
// retry_join of each other, then clients clients listing every server
// (with the mock driver). Everything is stopped when the test ends.
func New(t testing.TB, servers, clients int, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	for i := 0; i < servers; i++ {
		c.Servers = append(c.Servers, &Member{Name: fmt.Sprintf("server-%d", i+1), Server: true,
			HTTP: freePort(t), RPC: freePort(t), Serf: freePort(t), dir: t.TempDir()})
	}
	for i := 0; i < clients; i++ {
		c.Clients = append(c.Clients, &Member{Name: fmt.Sprintf("client-%d", i+1),
			HTTP: freePort(t), RPC: freePort(t), Serf: freePort(t), dir: t.TempDir()})
	}
	var joins, rpcs []string
	for _, s := range c.Servers {
		joins = append(joins, fmt.Sprintf("%q", fmt.Sprintf("127.0.0.1:%d", s.Serf)))
		rpcs = append(rpcs, fmt.Sprintf("%q", s.RPCAddr()))
	}
	for _, s := range c.Servers {
		s.hcl = fmt.Sprintf(`server {
  enabled          = true
  bootstrap_expect = %d
  server_join {
    retry_join     = [%s]
    retry_interval = "1s"
  }
%s
}
%s
`, servers, strings.Join(joins, ", "), opts.ServerHCL, opts.AgentHCL)
	}
	for _, m := range c.Clients {
		m.hcl = fmt.Sprintf(`client {
  enabled           = true
  servers           = [%s]
  network_interface = "lo"
  options = {
    "driver.mock.enable" = "true"
  }
}
%s
%s`, strings.Join(rpcs, ", "), opts.ClientHCL, opts.AgentHCL)
	}
	t.Cleanup(c.Shutdown)

	start := opts.Start
	if start == nil {
		for i := range c.Servers {
			start = append(start, i)
		}
	}
	// Servers start concurrently: each returns at once and elects a
	// leader when enough of them gossip.
	var wg sync.WaitGroup
	errs := make([]error, len(c.Servers))
	for _, i := range start {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = c.start(c.Servers[i])
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(start) == len(c.Servers) && len(c.Servers) > 0 {
		c.WaitForLeader(t, 30*time.Second)
	}
	for _, m := range c.Clients {
		if err := c.start(m); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Start starts a stopped member again, with its ports and data.
func (c *Cluster) Start(t testing.TB, m *Member) {
	t.Helper()
	if err := c.start(m); err != nil {
		t.Fatal(err)
	}
}

func (c *Cluster) start(m *Member) error {
	src := fmt.Sprintf(`name = %q
data_dir = %q
bind_addr = "127.0.0.1"
log_level = "DEBUG"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
%s`, m.Name, filepath.Join(m.dir, "data"), m.HTTP, m.RPC, m.Serf, m.hcl)
	path := filepath.Join(m.dir, "agent.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		return err
	}
	cfg, _, err := config.Load([]string{path}, false)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	a, err := agent.New(cfg, log.New(&testLog{t: c.t, name: m.Name}, "", 0))
	if err != nil {
		return fmt.Errorf("start %s: %w", m.Name, err)
	}
	m.mu.Lock()
	m.agent = a
	m.mu.Unlock()
	return nil
}

// Stop shuts a member down, as a crash would: a server does not leave
// gossip, a client leaves its tasks running.
func (c *Cluster) Stop(m *Member) {
	m.mu.Lock()
	a := m.agent
	m.agent = nil
	m.mu.Unlock()
	if a != nil {
		a.Shutdown()
	}
}

// Shutdown stops every member, clients first, and stops the clients'
// tasks too, so that a test leaves nothing running.
func (c *Cluster) Shutdown() {
	for _, m := range c.Clients {
		if a := m.Agent(); a != nil && a.Client() != nil {
			a.Client().Stop()
		}
		c.Stop(m)
	}
	var wg sync.WaitGroup
	for _, m := range c.Servers {
		wg.Add(1)
		go func(m *Member) {
			defer wg.Done()
			c.Stop(m)
		}(m)
	}
	wg.Wait()
}

// Leader returns the running server that leads, or nil.
func (c *Cluster) Leader() *Member {
	for _, m := range c.Servers {
		if a := m.Agent(); a != nil && a.Server().IsLeader() {
			return m
		}
	}
	return nil
}

// Followers returns the running servers that do not lead.
func (c *Cluster) Followers() []*Member {
	var out []*Member
	for _, m := range c.Servers {
		if a := m.Agent(); a != nil && !a.Server().IsLeader() {
			out = append(out, m)
		}
	}
	return out
}

// WaitForLeader waits until one running server leads and every running
// server knows it, and returns the leader.
func (c *Cluster) WaitForLeader(t testing.TB, timeout time.Duration) *Member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if l := c.Leader(); l != nil {
			agreed := true
			for _, m := range c.Servers {
				if a := m.Agent(); a != nil && a.Server().Leader() != l.RPCAddr() {
					agreed = false
				}
			}
			if agreed {
				return l
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no leader within %s", timeout)
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort is a loopback port outside the ephemeral range (see
// testutil/freeport): the cluster's agents start and restart over a
// minute, long enough for an ephemeral port to be taken again.
func freePort(t testing.TB) int { return freeport.Get(t) }

// testLog sends an agent's log to the test log, prefixed with its name,
// and stops when the test is over (agents may still log while stopping).
type testLog struct {
	t    testing.TB
	name string
}

func (l *testLog) Write(p []byte) (int, error) {
	defer func() { recover() }() // logging after the test ended panics
	l.t.Logf("%s %s", l.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
