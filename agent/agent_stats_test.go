package agent

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestAgentSelf_Stats: the stats of /v1/agent/self, which agent-info
// prints, hold the sections and keys of the compatible API, with values
// from raft, gossip and the client themselves.
func TestAgentSelf_Stats(t *testing.T) {
	a := startAgent(t, "both", `server {
  enabled = true
  bootstrap_expect = 1
}
client {
  enabled = true
}`)
	c := apiClient(t, a)
	var self *api.AgentSelf
	waitFor(t, 15*time.Second, "a heartbeat", func() (bool, string) {
		var err error
		if self, err = c.Agent().Self(); err != nil {
			return false, err.Error()
		}
		return self.Stats["client"]["last_heartbeat"] != "never", self.Stats["client"]["last_heartbeat"]
	})
	st := self.Stats
	want := map[string][]string{
		"nomad":   {"bootstrap", "known_regions", "leader", "leader_addr", "server"},
		"raft":    {"applied_index", "commit_index", "last_contact", "last_log_index", "num_peers", "state", "term"},
		"serf":    {"members", "failed", "left", "health_score"},
		"client":  {"heartbeat_ttl", "known_servers", "last_heartbeat", "node_id", "num_allocations"},
		"runtime": {"arch", "cpu_count", "goroutines", "kernel.name", "max_procs", "version"},
	}
	for section, keys := range want {
		for _, k := range keys {
			if _, ok := st[section][k]; !ok {
				t.Errorf("stats[%q] has no %q: %v", section, k, st[section])
			}
		}
	}
	rpc := a.Server().RPCAddr()
	checks := []struct{ section, key, want string }{
		{"nomad", "server", "true"}, {"nomad", "leader", "true"}, {"nomad", "leader_addr", rpc},
		{"nomad", "bootstrap", "true"}, {"nomad", "known_regions", "1"},
		{"raft", "state", "Leader"}, {"raft", "num_peers", "0"},
		{"serf", "members", "1"}, {"serf", "failed", "0"},
		{"client", "node_id", a.Client().NodeID()}, {"client", "known_servers", rpc},
		{"client", "num_allocations", "0"},
	}
	for _, c := range checks {
		if got := st[c.section][c.key]; got != c.want {
			t.Errorf("stats[%q][%q] = %q, want %q", c.section, c.key, got, c.want)
		}
	}
	if ttl, err := time.ParseDuration(st["client"]["heartbeat_ttl"]); err != nil || ttl <= 0 {
		t.Errorf("heartbeat_ttl %q", st["client"]["heartbeat_ttl"])
	}
	if since, err := time.ParseDuration(st["client"]["last_heartbeat"]); err != nil || since < 0 || since > time.Minute {
		t.Errorf("last_heartbeat %q", st["client"]["last_heartbeat"])
	}
	if st["raft"]["applied_index"] == "0" || st["raft"]["term"] == "0" {
		t.Errorf("raft stats: %v", st["raft"])
	}
}

// TestAgent_MonitorStreamsItsLogAndEndsOnShutdown: what the agent logs
// reaches a monitor, and a monitor attached does not hold the agent's
// shutdown up: its stream ends.
func TestAgent_MonitorStreamsItsLogAndEndsOnShutdown(t *testing.T) {
	a := startAgent(t, "server", `server {
  enabled = true
  bootstrap_expect = 1
}`)
	c := apiClient(t, a)
	frames, errCh := c.Agent().Monitor(nil, &api.QueryOptions{Params: map[string]string{"log_level": "debug"}})
	var got strings.Builder
	read := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !strings.Contains(got.String(), want) {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("stream ended before %q: %v\n%s", want, <-errCh, got.String())
				}
				got.Write(f.Data)
			case <-deadline:
				t.Fatalf("no %q; got:\n%s", want, got.String())
			}
		}
	}
	read("http: log monitor attached (level DEBUG)")
	a.Logger().Printf("[DEBUG] test: a line of the agent's own")
	read("[DEBUG] test: a line of the agent's own")

	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- a.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown with a monitor attached: %v", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("shutdown took %v with a monitor attached", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hangs on an attached monitor")
	}
	for range frames {
	}
	if err := <-errCh; err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("the stream ended with %v", err)
	}
}
