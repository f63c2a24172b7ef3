package rpc

import (
	"bytes"
	"errors"
	"log"
	"net"
	"net/rpc"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Echo is the test RPC service.
type Echo struct {
	started chan string   // signalled when Slow begins
	release chan struct{} // closed to let Slow return
}

func newEcho() *Echo {
	return &Echo{started: make(chan string, 16), release: make(chan struct{})}
}

// Upper upper-cases its argument.
func (e *Echo) Upper(args string, reply *string) error {
	*reply = strings.ToUpper(args)
	return nil
}

// Fail returns an error whose text is the argument.
func (e *Echo) Fail(args string, reply *string) error {
	return errors.New(args)
}

// Slow blocks until the test releases it.
func (e *Echo) Slow(args string, reply *string) error {
	select {
	case e.started <- args:
	default:
	}
	<-e.release
	*reply = args
	return nil
}

// syncBuffer is a goroutine-safe log sink; t.Log cannot be used because
// server goroutines may log after a test returns.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// countingListener counts accepted TCP connections so tests can tell how
// many sessions a pool opened.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

type testServer struct {
	mux     *Mux
	addr    string
	echo    *Echo
	ln      *countingListener
	logs    *syncBuffer
	stopped chan struct{}
	stop    func()
}

// startServer serves the Echo service on addr ("127.0.0.1:0" for any port),
// stopping it at test cleanup. opts run before Serve starts.
func startServer(t *testing.T, addr string, opts ...func(*Mux)) *testServer {
	t.Helper()
	l := listenRetry(t, addr)
	ts := &testServer{
		addr:    l.Addr().String(),
		echo:    newEcho(),
		ln:      &countingListener{Listener: l},
		logs:    &syncBuffer{},
		stopped: make(chan struct{}),
	}
	ts.mux = NewMux(ts.ln, log.New(ts.logs, "", 0))
	for _, o := range opts {
		o(ts.mux)
	}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Echo", ts.echo); err != nil {
		t.Fatal(err)
	}
	ts.mux.ServeRPC(srv)
	go func() {
		defer close(ts.stopped)
		if err := ts.mux.Serve(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			close(ts.echo.release)
			ts.mux.Close()
			<-ts.stopped
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// listenRetry binds addr, retrying briefly: rebinding a just-closed port can
// transiently fail.
func listenRetry(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newTestPool(t *testing.T) *Pool {
	p := NewPool(2 * time.Second)
	t.Cleanup(func() { p.Close() })
	return p
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectClosed asserts the peer closes conn: a read returns EOF (or a
// reset) well before the deadline instead of timing out.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := conn.Read(b[:])
	if err == nil {
		t.Fatal("read succeeded; want connection closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("connection was not closed by the server")
	}
}
