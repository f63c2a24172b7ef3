package rpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	msgpackrpc "github.com/hashicorp/net-rpc-msgpackrpc/v2"
)

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestConnRPCSingleConnection(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	conn := dialRaw(t, ts.addr)
	if _, err := conn.Write([]byte{byte(ConnRPC)}); err != nil {
		t.Fatal(err)
	}
	// Shut down via the conn, not client.Close: the msgpack codec's Close
	// races with net/rpc's reader goroutine (see streamCodec).
	client := msgpackrpc.NewClient(conn)

	for _, in := range []string{"one", "two"} {
		var reply string
		if err := client.Call("Echo.Upper", in, &reply); err != nil {
			t.Fatal(err)
		}
		if reply != strings.ToUpper(in) {
			t.Fatalf("reply = %q, want %q", reply, strings.ToUpper(in))
		}
	}
	var reply string
	err := client.Call("Echo.Fail", "plain failure", &reply)
	if !IsServerError(err) || err.Error() != "plain failure" {
		t.Fatalf("err = %v, want server error %q", err, "plain failure")
	}
}

func TestUnknownConnTypeIsClosed(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)
	ctx := context.Background()

	// An established session must be unaffected by a bad neighbour.
	var reply string
	if err := p.Call(ctx, ts.addr, "Echo.Upper", "a", &reply); err != nil {
		t.Fatal(err)
	}

	bad := dialRaw(t, ts.addr)
	if _, err := bad.Write([]byte{0xff, 'x', 'y'}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, bad)
	waitFor(t, "unknown type to be logged", func() bool {
		return strings.Contains(ts.logs.String(), "unrecognised connection type unknown(0xff)")
	})

	if err := p.Call(ctx, ts.addr, "Echo.Upper", "b", &reply); err != nil || reply != "B" {
		t.Fatalf("existing session: reply %q, err %v", reply, err)
	}
	fresh := newTestPool(t)
	if err := fresh.Call(ctx, ts.addr, "Echo.Upper", "c", &reply); err != nil || reply != "C" {
		t.Fatalf("new session: reply %q, err %v", reply, err)
	}
}

func TestSilentConnectionDoesNotBlockAccept(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0", func(m *Mux) {
		m.HandshakeTimeout = 300 * time.Millisecond
	})
	silent := dialRaw(t, ts.addr)

	// While the silent peer is still connected, others are served.
	p := newTestPool(t)
	var reply string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.Call(ctx, ts.addr, "Echo.Upper", "next", &reply); err != nil {
		t.Fatal(err)
	}

	// And the silent one is dropped once its handshake deadline passes.
	expectClosed(t, silent)
	waitFor(t, "handshake timeout to be logged", func() bool {
		return strings.Contains(ts.logs.String(), "no connection type")
	})
}

func TestMuxListenerCloseStopsDelivery(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	const custom ConnType = 0x10
	ln := ts.mux.Listener(custom)
	if ln.Addr().String() != ts.addr {
		t.Fatalf("Addr = %s, want %s", ln.Addr(), ts.addr)
	}
	if again := ts.mux.Listener(custom); again != ln {
		t.Fatal("Listener returned a different listener for the same type")
	}

	c := dialRaw(t, ts.addr)
	if _, err := c.Write([]byte{byte(custom), 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	got, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	buf := make([]byte, 2)
	got.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := got.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v; want \"hi\"", buf, err)
	}

	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	c2 := dialRaw(t, ts.addr)
	if _, err := c2.Write([]byte{byte(custom)}); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, c2)
}

func TestMuxCloseStopsServe(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	conn := dialRaw(t, ts.addr)
	if _, err := conn.Write([]byte{byte(ConnRPC)}); err != nil {
		t.Fatal(err)
	}
	client := msgpackrpc.NewClient(conn)
	var reply string
	if err := client.Call("Echo.Upper", "x", &reply); err != nil {
		t.Fatal(err)
	}

	if err := ts.mux.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ts.stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Close")
	}
	// Served connections are torn down with the Mux.
	if err := client.Call("Echo.Upper", "y", &reply); err == nil || IsServerError(err) {
		t.Fatalf("call after Close: %v, want transport error", err)
	}
	if err := ts.mux.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
