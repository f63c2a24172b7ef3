package server

import (
	"fmt"
	"testing"
	"time"
)

// TestHeartbeatTTLScalesWithLiveNodes: the TTL handed to nodes is at least
// the minimum and grows with the number of live nodes so that the leader
// sees at most MaxHeartbeatsPerSecond (plus a stagger of up to one TTL).
func TestHeartbeatTTLScalesWithLiveNodes(t *testing.T) {
	s := &Server{config: &Config{MinHeartbeatTTL: 10 * time.Second, MaxHeartbeatsPerSecond: 50}}
	s.heartbeats = newHeartbeats(s)
	s.heartbeats.active = true
	defer func() {
		for _, tm := range s.heartbeats.timers {
			tm.Stop()
		}
	}()
	check := func(nodes int, base time.Duration) {
		t.Helper()
		for i := 0; i < 20; i++ {
			if ttl := s.heartbeatTTL(); ttl < base || ttl > 2*base {
				t.Fatalf("%d live nodes: TTL %v, want within [%v, %v]", nodes, ttl, base, 2*base)
			}
		}
	}
	check(0, 10*time.Second)
	for i := 0; i < 5000; i++ {
		s.heartbeats.reset(fmt.Sprintf("node-%d", i), time.Hour)
	}
	check(5000, 100*time.Second) // 5,000 nodes / 50 per second
}
