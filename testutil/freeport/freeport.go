// Package freeport hands tests loopback ports for agents to listen on.
//
// Asking the kernel for port 0 and closing it again returns a port from
// the ephemeral range, which every outgoing connection also draws its
// source port from; in a long test that starts agents one after another
// (a cluster, a restart), such a port is often taken again before the
// agent binds it ("address already in use"). The ports given here come
// from 12000–19999 instead, below the ephemeral range (32768 and up on
// Linux) and below the dynamic ports Drover's scheduler gives tasks
// (20000 and up), and each is checked free for both TCP and UDP (serf
// uses both) before it is handed out. A process starts at a random point
// of the range and walks it, so concurrent test binaries rarely meet.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
)

const (
	first = 12000
	size  = 8000
)

var (
	mu   sync.Mutex
	next = rand.IntN(size)
)

// Get returns a loopback port that was free for TCP and UDP a moment ago
// and that this process has not handed out before (until the range wraps).
func Get(t testing.TB) int {
	t.Helper()
	port, err := Take()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Take is Get for code that has no testing.TB (a test script's setup).
func Take() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for tries := 0; tries < size; tries++ {
		port := first + next
		next = (next + 1) % size
		if free(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("freeport: no free port in %d-%d", first, first+size-1)
}

func free(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}
