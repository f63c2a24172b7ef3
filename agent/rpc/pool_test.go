package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPoolCall(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)

	var reply string
	if err := p.Call(context.Background(), ts.addr, "Echo.Upper", "hello", &reply); err != nil {
		t.Fatal(err)
	}
	if reply != "HELLO" {
		t.Fatalf("reply = %q, want HELLO", reply)
	}
}

func TestPoolConcurrentCallsShareSession(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			arg := fmt.Sprintf("msg-%d", i)
			var reply string
			if err := p.Call(context.Background(), ts.addr, "Echo.Upper", arg, &reply); err != nil {
				errs <- err
				return
			}
			if want := strings.ToUpper(arg); reply != want {
				errs <- fmt.Errorf("reply = %q, want %q", reply, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := ts.ln.n.Load(); got != 1 {
		t.Fatalf("server accepted %d connections, want 1 shared session", got)
	}
}

func TestRemoteErrorIsServerError(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)

	const msg = "job not found: example/1"
	var reply string
	err := p.Call(context.Background(), ts.addr, "Echo.Fail", msg, &reply)
	if !IsServerError(err) {
		t.Fatalf("IsServerError(%v) = false", err)
	}
	var se rpc.ServerError
	if !errors.As(err, &se) || string(se) != msg {
		t.Fatalf("err = %#v, want rpc.ServerError(%q)", err, msg)
	}
	if err.Error() != msg {
		t.Fatalf("err.Error() = %q, want %q", err.Error(), msg)
	}

	// A transport failure is not a server error.
	err = p.Call(context.Background(), deadAddr(t), "Echo.Upper", "x", &reply)
	if err == nil || IsServerError(err) {
		t.Fatalf("dial failure: err = %v, IsServerError = %v", err, IsServerError(err))
	}
}

func TestCallAny(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)
	ctx := context.Background()

	var reply string
	if err := p.CallAny(ctx, []string{deadAddr(t), ts.addr}, "Echo.Upper", "any", &reply); err != nil {
		t.Fatal(err)
	}
	if reply != "ANY" {
		t.Fatalf("reply = %q, want ANY", reply)
	}

	if err := p.CallAny(ctx, nil, "Echo.Upper", "x", &reply); err != ErrNoServers {
		t.Fatalf("no addrs: err = %v, want ErrNoServers", err)
	}

	err := p.CallAny(ctx, []string{deadAddr(t), deadAddr(t)}, "Echo.Upper", "x", &reply)
	if !errors.Is(err, ErrNoServers) || IsServerError(err) {
		t.Fatalf("all dead: err = %v, want wrapping ErrNoServers", err)
	}
}

func TestCallAnyReturnsRemoteErrorWithoutRetry(t *testing.T) {
	first := startServer(t, "127.0.0.1:0")
	second := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)

	var reply string
	err := p.CallAny(context.Background(), []string{first.addr, second.addr}, "Echo.Fail", "nope", &reply)
	if !IsServerError(err) || err.Error() != "nope" {
		t.Fatalf("err = %v, want server error %q", err, "nope")
	}
	if n := second.ln.n.Load(); n != 0 {
		t.Fatalf("second server was contacted %d times after a remote error", n)
	}
}

func TestCallContextDeadlineCancelsSlowCall(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var reply string
	err := p.Call(ctx, ts.addr, "Echo.Slow", "slow", &reply)
	elapsed := time.Since(start)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if IsServerError(err) {
		t.Fatal("deadline reported as a server error")
	}
	if elapsed > 2*time.Second {
		t.Fatalf("call returned after %v; cancellation was not prompt", elapsed)
	}
	select {
	case <-ts.echo.started:
	default:
		t.Fatal("Slow never started; the deadline did not interrupt a running call")
	}

	// The session survives a cancelled stream and is reused.
	if err := p.Call(context.Background(), ts.addr, "Echo.Upper", "after", &reply); err != nil {
		t.Fatal(err)
	}
	if n := ts.ln.n.Load(); n != 1 {
		t.Fatalf("server accepted %d connections, want 1", n)
	}
}

func TestCallContextCancel(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := newTestPool(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var reply string
		done <- p.Call(ctx, ts.addr, "Echo.Slow", "slow", &reply)
	}()
	select {
	case <-ts.echo.started:
	case <-time.After(5 * time.Second):
		t.Fatal("Slow never started")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Call did not return promptly after cancel")
	}
}

func TestPoolRedialsAfterServerRestart(t *testing.T) {
	first := startServer(t, "127.0.0.1:0")
	addr := first.addr
	p := newTestPool(t)
	ctx := context.Background()

	var reply string
	if err := p.Call(ctx, addr, "Echo.Upper", "before", &reply); err != nil {
		t.Fatal(err)
	}
	first.stop()

	second := startServer(t, addr)
	// The first call after a restart may race the client noticing the dead
	// session; the pool must recover on its own within a few calls.
	var lastErr error
	waitFor(t, "a call to succeed after restart", func() bool {
		lastErr = p.Call(ctx, addr, "Echo.Upper", "after", &reply)
		return lastErr == nil
	})
	if reply != "AFTER" {
		t.Fatalf("reply = %q, want AFTER", reply)
	}
	if n := second.ln.n.Load(); n != 1 {
		t.Fatalf("restarted server accepted %d connections, want 1", n)
	}
}

func TestPoolClosed(t *testing.T) {
	ts := startServer(t, "127.0.0.1:0")
	p := NewPool(time.Second)
	var reply string
	if err := p.Call(context.Background(), ts.addr, "Echo.Upper", "x", &reply); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Call(context.Background(), ts.addr, "Echo.Upper", "x", &reply); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("err = %v, want ErrPoolClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
