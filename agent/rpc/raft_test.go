package rpc

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// RaftLayer must be usable as raft's transport stream.
var _ raft.StreamLayer = (*RaftLayer)(nil)

func TestRaftLayerDialAccept(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	layer := NewRaftLayer(ts.mux, nil)
	t.Cleanup(func() { layer.Close() })
	if layer.Addr().String() != ts.addr {
		t.Fatalf("Addr = %s, want %s", layer.Addr(), ts.addr)
	}

	out, err := layer.Dial(raft.ServerAddress(ts.addr), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	if _, err := out.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}

	in, err := layer.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	in.SetDeadline(time.Now().Add(5 * time.Second))
	out.SetDeadline(time.Now().Add(5 * time.Second))

	// The type byte is consumed; the payload arrives intact.
	buf := make([]byte, 4)
	if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("accepted side read %q, %v; want \"ping\"", buf, err)
	}
	if _, err := in.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("dialing side read %q, %v; want \"pong\"", buf, err)
	}

	// RPC keeps working on the same port alongside raft.
	p := newTestPool(t)
	var reply string
	if err := p.Call(context.Background(), ts.addr, "Echo.Upper", "shared", &reply); err != nil || reply != "SHARED" {
		t.Fatalf("rpc alongside raft: %q, %v", reply, err)
	}

	layer.Close()
	if _, err := layer.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
}

func TestRaftLayerAdvertise(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	adv := &net.TCPAddr{IP: net.ParseIP("10.0.0.7"), Port: 4647}
	layer := NewRaftLayer(ts.mux, adv)
	t.Cleanup(func() { layer.Close() })
	if layer.Addr() != adv {
		t.Fatalf("Addr = %v, want advertised %v", layer.Addr(), adv)
	}
}
