package server

import (
	"bytes"
	"fmt"
	"log"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects a server's log for assertions.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// gossipServer starts a server with gossip on loopback and its log in a
// buffer; it does not wait for a leader.
func gossipServer(t *testing.T, name string, expect int, retryJoin []string) (*Server, *lockedBuffer, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NodeName = name
	cfg.RPCAddr = freeAddr(t)
	serf := freeAddr(t)
	cfg.SerfAddr = serf
	cfg.BootstrapExpect = expect
	cfg.RetryJoin = retryJoin
	cfg.RetryInterval = 100 * time.Millisecond
	cfg.NumSchedulers = 1
	buf := &lockedBuffer{}
	cfg.Logger = log.New(buf, "", 0)
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, buf.String())
		}
	})
	return s, buf, serf
}

// Servers that disagree on bootstrap_expect do not bootstrap, and the log
// names the one that differs.
func TestBootstrapExpectMismatchIsReportedByName(t *testing.T) {
	_, _, serfA := gossipServer(t, "alpha", 2, nil)
	b, logB, _ := gossipServer(t, "bravo", 3, nil)
	if _, err := b.Join([]string{serfA}); err != nil {
		t.Fatal(err)
	}
	want := "member alpha.global has bootstrap_expect = 2 but this server has 3"
	waitFor(t, 10*time.Second, "the mismatch in bravo's log", func() (bool, string) {
		return strings.Contains(logB.String(), want), logB.String()
	})
	time.Sleep(time.Second)
	if l := b.Leader(); l != "" {
		t.Fatalf("servers that disagree elected %s", l)
	}
	if n := strings.Count(logB.String(), want); n != 1 {
		t.Fatalf("the mismatch was logged %d times, want once", n)
	}
}

// An unreachable retry_join is retried with a log line; the server keeps
// running and joins once the address answers.
func TestUnreachableRetryJoinIsRetried(t *testing.T) {
	dead := freeAddr(t)
	s, logS, _ := gossipServer(t, "lonely", 2, []string{dead})
	waitFor(t, 10*time.Second, "two failed attempts in the log", func() (bool, string) {
		out := logS.String()
		return strings.Contains(out, "retry_join: attempt 2 failed"), out
	})
	if s.shutdownCtx.Err() != nil {
		t.Fatal("the server stopped")
	}
	// Now something answers at another address: a server started with
	// retry_join of the lonely one forms the cluster of two with it.
	peer, _, _ := gossipServer(t, "friend", 2, []string{s.config.SerfAddr})
	waitFor(t, 20*time.Second, "a leader of two", func() (bool, string) {
		return s.Leader() != "" && s.Leader() == peer.Leader() && len(s.Peers()) == 2,
			fmt.Sprintf("leaders %q %q peers %v", s.Leader(), peer.Leader(), s.Peers())
	})
}

// start_join joins once at start; with both expecting 2, the pair forms
// one cluster. An unreachable start_join fails the start, as documented
// for the compatible agent (retry_join is the option that waits).
func TestStartJoin(t *testing.T) {
	a, _, serfA := gossipServer(t, "first", 2, nil)
	cfg := DefaultConfig()
	cfg.NodeName, cfg.RPCAddr, cfg.SerfAddr = "second", freeAddr(t), freeAddr(t)
	cfg.BootstrapExpect, cfg.StartJoin, cfg.NumSchedulers = 2, []string{serfA}, 1
	cfg.Logger = log.New(testWriter{t}, "", 0)
	b, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Shutdown()
	waitFor(t, 20*time.Second, "one cluster of two", func() (bool, string) {
		return a.Leader() != "" && a.Leader() == b.Leader() && len(b.Peers()) == 2,
			fmt.Sprintf("%q %q %v", a.Leader(), b.Leader(), b.Peers())
	})

	cfg = DefaultConfig()
	cfg.NodeName, cfg.RPCAddr, cfg.SerfAddr = "third", freeAddr(t), freeAddr(t)
	cfg.BootstrapExpect, cfg.StartJoin = 3, []string{freeAddr(t)}
	cfg.Logger = log.New(testWriter{t}, "", 0)
	if s, err := NewServer(cfg); err == nil {
		s.Shutdown()
		t.Fatal("a start_join that reaches nobody started the server")
	} else if !strings.Contains(err.Error(), "start_join") {
		t.Fatalf("error: %v", err)
	}
}
