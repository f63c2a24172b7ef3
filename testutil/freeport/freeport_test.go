package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Ports are distinct, in the reserved range, and bindable.
func TestGet(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		p := Get(t)
		if p < first || p >= first+size || seen[p] {
			t.Fatalf("port %d: outside %d-%d or given twice", p, first, first+size-1)
		}
		seen[p] = true
	}
	// A port in use (by this test, or by something else already) is
	// passed over.
	mu.Lock()
	taken := first + next
	mu.Unlock()
	if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(taken)); err == nil {
		defer l.Close()
	}
	if p := Get(t); p == taken {
		t.Fatalf("handed out %d, which is in use", p)
	}
}
