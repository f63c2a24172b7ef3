package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/rpc"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// ConnType is the first byte of every connection to the server port. It tells
// the Mux which protocol the rest of the connection speaks.
type ConnType byte

const (
	// ConnRPC marks a connection carrying exactly one msgpack net/rpc
	// connection with no multiplexing. It is cheap to speak from a test or
	// a tool, at the cost of one TCP connection per concurrent caller.
	ConnRPC ConnType = 0x01

	// ConnMultiplex marks a connection carrying a yamux session. Every
	// stream the client opens is served as its own msgpack net/rpc
	// connection, so concurrent calls share one TCP connection.
	ConnMultiplex ConnType = 0x02

	// ConnRaft marks a connection belonging to raft. It is handed to the
	// listener returned by Listener(ConnRaft), normally via RaftLayer.
	ConnRaft ConnType = 0x03

	// ConnTLS marks a connection that continues with a TLS handshake;
	// inside the TLS session the first byte is again a ConnType, naming
	// what the connection carries. When the Mux has TLS on it accepts
	// nothing else.
	ConnTLS ConnType = 0x04
)

// String names the connection type for logs.
func (t ConnType) String() string {
	switch t {
	case ConnRPC:
		return "rpc"
	case ConnMultiplex:
		return "multiplex"
	case ConnRaft:
		return "raft"
	case ConnTLS:
		return "tls"
	default:
		return fmt.Sprintf("unknown(0x%02x)", byte(t))
	}
}

// DefaultHandshakeTimeout bounds how long the Mux waits for a new connection
// to send its type byte. Without a bound a peer that connects and stays
// silent would pin a goroutine and a file descriptor forever.
const DefaultHandshakeTimeout = 5 * time.Second

// Mux demultiplexes a single TCP listener by the first byte of each
// connection, so RPC and raft can share one port.
//
// Dispatch rules for a connection of type t:
//   - if a listener obtained from Listener(t) is open, it receives the
//     connection (this lets any type, including new ones, be claimed);
//   - otherwise ConnRPC and ConnMultiplex are served by the server given to
//     ServeRPC, if any;
//   - otherwise the connection is closed and the event logged.
type Mux struct {
	// HandshakeTimeout overrides DefaultHandshakeTimeout when non-zero. Set
	// it before calling Serve; it is read without locking.
	HandshakeTimeout time.Duration

	l      net.Listener
	logger *log.Logger

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	mu        sync.Mutex
	tls       *MuxTLS
	rpcServer *rpc.Server
	listeners map[ConnType]*typeListener
	// conns holds connections the Mux still owns (handshaking or being
	// served as RPC) so Close can tear them down; nil once closed.
	conns map[net.Conn]struct{}
}

// NewMux wraps l. A nil logger means the standard logger, so dropped
// connections are never silently invisible. Call Serve to start accepting.
func NewMux(l net.Listener, logger *log.Logger) *Mux {
	if logger == nil {
		logger = log.Default()
	}
	return &Mux{
		l:         l,
		logger:    logger,
		done:      make(chan struct{}),
		listeners: make(map[ConnType]*typeListener),
		conns:     make(map[net.Conn]struct{}),
	}
}

// Addr is the address of the underlying listener.
func (m *Mux) Addr() net.Addr { return m.l.Addr() }

// MuxTLS turns TLS on for a Mux.
type MuxTLS struct {
	// Config is the server side of the handshake; for mutual TLS it
	// requires and verifies the peer's certificate.
	Config *tls.Config
	// RaftServerName, when set, is the name the certificate of every
	// raft connection must carry, so that only servers replicate.
	RaftServerName string
}

// SetTLS makes the Mux accept only TLS connections (ConnTLS), handshaken
// with t.Config; nil turns TLS off again. Call it before Serve.
func (m *Mux) SetTLS(t *MuxTLS) {
	m.mu.Lock()
	m.tls = t
	m.mu.Unlock()
}

// ServeRPC sets the net/rpc server used for ConnRPC and ConnMultiplex
// connections. It may be called before or after Serve; connections whose type
// byte arrives before it is set are rejected.
func (m *Mux) ServeRPC(srv *rpc.Server) {
	m.mu.Lock()
	m.rpcServer = srv
	m.mu.Unlock()
}

// Serve runs the accept loop until Close is called, then returns nil. Each
// connection is handshaken on its own goroutine so a slow or silent peer
// never delays the next accept. Transient accept errors (such as running out
// of file descriptors) are retried with backoff rather than killing the port.
func (m *Mux) Serve() error {
	var backoff time.Duration
	for {
		conn, err := m.l.Accept()
		if err != nil {
			if m.isClosed() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			backoff = nextBackoff(backoff)
			m.logger.Printf("[WARN] rpc: accept error, retrying in %v: %v", backoff, err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-m.done:
				t.Stop()
				return nil
			}
			continue
		}
		backoff = 0
		if !m.track(conn) {
			conn.Close()
			return nil
		}
		go m.handle(conn)
	}
}

func nextBackoff(d time.Duration) time.Duration {
	const (
		minBackoff = 5 * time.Millisecond
		maxBackoff = time.Second
	)
	if d == 0 {
		return minBackoff
	}
	if d *= 2; d > maxBackoff {
		d = maxBackoff
	}
	return d
}

// Close stops accepting, closes the underlying listener and every connection
// the Mux still owns (those handshaking or being served as RPC). Connections
// already handed to a Listener belong to its consumer and are left alone.
// Close is idempotent and does not wait for in-flight RPC methods to return.
func (m *Mux) Close() error {
	m.closeOnce.Do(func() {
		close(m.done)
		m.closeErr = m.l.Close()
		m.mu.Lock()
		conns := m.conns
		m.conns = nil
		m.mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	return m.closeErr
}

func (m *Mux) isClosed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

func (m *Mux) track(c net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		return false
	}
	m.conns[c] = struct{}{}
	return true
}

func (m *Mux) untrack(c net.Conn) {
	m.mu.Lock()
	if m.conns != nil {
		delete(m.conns, c)
	}
	m.mu.Unlock()
}

func (m *Mux) handshakeTimeout() time.Duration {
	if m.HandshakeTimeout > 0 {
		return m.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// handle reads the type byte and dispatches the connection. Only one byte is
// read (no buffering) so the consumer sees the stream exactly as sent after it.
// A TLS connection is handshaken first and its inner type byte read.
func (m *Mux) handle(conn net.Conn) {
	drop := func() {
		m.untrack(conn)
		conn.Close()
	}
	t, err := m.readType(conn)
	if err != nil {
		// A bare connect-then-close (port probes, TCP health checks) is
		// routine; anything else, such as the deadline, is worth a line.
		if !errors.Is(err, io.EOF) && !m.isClosed() {
			m.logger.Printf("[WARN] rpc: no connection type from %s: %v", conn.RemoteAddr(), err)
		}
		drop()
		return
	}

	m.mu.Lock()
	tlsOn := m.tls
	m.mu.Unlock()
	c := conn
	switch {
	case t == ConnTLS && tlsOn == nil:
		m.logger.Printf("[WARN] rpc: refused a TLS connection from %s: TLS is off on this agent", conn.RemoteAddr())
		drop()
		return
	case t != ConnTLS && tlsOn != nil:
		m.logger.Printf("[WARN] rpc: refused a plain (%s) connection from %s: TLS is required", t, conn.RemoteAddr())
		drop()
		return
	case t == ConnTLS:
		tc, inner, err := m.handshake(conn, tlsOn)
		if err != nil {
			if !m.isClosed() {
				m.logger.Printf("[WARN] rpc: refused a TLS connection from %s: %v", conn.RemoteAddr(), err)
			}
			drop()
			return
		}
		c, t = tc, inner
	}

	m.mu.Lock()
	ln := m.listeners[t]
	srv := m.rpcServer
	m.mu.Unlock()

	switch {
	case ln != nil:
		// Ownership moves to the listener's consumer.
		m.untrack(conn)
		ln.deliver(c)
	case t == ConnRPC && srv != nil:
		srv.ServeCodec(newServerCodec(c))
		drop()
	case t == ConnMultiplex && srv != nil:
		m.serveMultiplex(c, srv)
		drop()
	default:
		m.logger.Printf("[ERR] rpc: unrecognised connection type %s from %s", t, conn.RemoteAddr())
		drop()
	}
}

// readType reads one connection type byte within the handshake timeout.
func (m *Mux) readType(conn net.Conn) (ConnType, error) {
	var b [1]byte
	conn.SetReadDeadline(time.Now().Add(m.handshakeTimeout()))
	_, err := io.ReadFull(conn, b[:])
	if err == nil {
		err = conn.SetReadDeadline(time.Time{})
	}
	return ConnType(b[0]), err
}

// handshake runs the server side of TLS on conn and reads the inner type
// byte, all within the handshake timeout. Raft connections must come from
// a certificate naming cfg.RaftServerName, when that is set.
func (m *Mux) handshake(conn net.Conn, cfg *MuxTLS) (net.Conn, ConnType, error) {
	tc := tls.Server(conn, cfg.Config)
	tc.SetDeadline(time.Now().Add(m.handshakeTimeout()))
	if err := tc.Handshake(); err != nil {
		return nil, 0, fmt.Errorf("TLS handshake: %w", err)
	}
	t, err := m.readType(tc)
	if err != nil {
		return nil, 0, fmt.Errorf("no connection type inside TLS: %w", err)
	}
	tc.SetDeadline(time.Time{})
	if t == ConnTLS {
		return nil, 0, errors.New("TLS inside TLS")
	}
	if t == ConnRaft && cfg.RaftServerName != "" {
		peers := tc.ConnectionState().PeerCertificates
		if len(peers) == 0 || peers[0].VerifyHostname(cfg.RaftServerName) != nil {
			return nil, 0, fmt.Errorf("raft connection with a certificate not valid for %s", cfg.RaftServerName)
		}
	}
	return tc, t, nil
}

// serveMultiplex runs a yamux server session on conn, serving each stream as
// an independent net/rpc connection until the session ends.
func (m *Mux) serveMultiplex(conn net.Conn, srv *rpc.Server) {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = nil
	cfg.Logger = m.logger
	sess, err := yamux.Server(conn, cfg)
	if err != nil {
		m.logger.Printf("[ERR] rpc: failed to start multiplex session with %s: %v", conn.RemoteAddr(), err)
		return
	}
	defer sess.Close()
	for {
		stream, err := sess.AcceptStream()
		if err != nil {
			return
		}
		go srv.ServeCodec(newServerCodec(stream))
	}
}

// Listener returns a net.Listener yielding connections whose first byte is t,
// with that byte already consumed. Repeated calls for the same type return the
// same listener until it is closed. Its Addr is the Mux's address. Closing it
// stops delivery: later connections of type t fall back to the Mux's default
// handling. It also stops yielding connections once the Mux is closed.
func (m *Mux) Listener(t ConnType) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ln, ok := m.listeners[t]; ok {
		return ln
	}
	ln := &typeListener{
		mux:  m,
		t:    t,
		ch:   make(chan net.Conn),
		done: make(chan struct{}),
	}
	m.listeners[t] = ln
	return ln
}

// typeListener is the per-type view of the Mux returned by Listener.
type typeListener struct {
	mux  *Mux
	t    ConnType
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// deliver blocks until a consumer accepts conn; if the listener or the Mux
// closes first, the connection is closed instead so it cannot leak.
func (ln *typeListener) deliver(conn net.Conn) {
	select {
	case ln.ch <- conn:
	case <-ln.done:
		conn.Close()
	case <-ln.mux.done:
		conn.Close()
	}
}

// Accept implements net.Listener.
func (ln *typeListener) Accept() (net.Conn, error) {
	// Check for closure first so a consumer that closed the listener never
	// receives a connection racing in behind the close.
	select {
	case <-ln.done:
		return nil, net.ErrClosed
	case <-ln.mux.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-ln.ch:
		return c, nil
	case <-ln.done:
		return nil, net.ErrClosed
	case <-ln.mux.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener. It does not close the Mux.
func (ln *typeListener) Close() error {
	ln.once.Do(func() {
		close(ln.done)
		ln.mux.mu.Lock()
		if ln.mux.listeners[ln.t] == ln {
			delete(ln.mux.listeners, ln.t)
		}
		ln.mux.mu.Unlock()
	})
	return nil
}

// Addr implements net.Listener.
func (ln *typeListener) Addr() net.Addr { return ln.mux.l.Addr() }

// dialType opens a TCP connection to addr and writes the type byte, so the
// remote Mux routes it; with tlsConf it first announces and handshakes TLS
// and writes the type byte inside. The timeout covers the dial, the
// handshake and the byte write.
func dialType(ctx context.Context, addr string, t ConnType, tlsConf *tls.Config, timeout time.Duration) (net.Conn, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c := conn
	if tlsConf != nil {
		if _, err := conn.Write([]byte{byte(ConnTLS)}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("writing connection type: %w", err)
		}
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		c = tc
	}
	if _, err := c.Write([]byte{byte(t)}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("writing connection type: %w", err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}
