package rpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

// DefaultDialTimeout is used by NewPool when given a non-positive timeout.
const DefaultDialTimeout = 10 * time.Second

var (
	// ErrNoServers is returned by CallAny when it has no address to try. When
	// every address fails at the transport level the returned error also
	// wraps ErrNoServers (none was reachable), alongside each failure.
	ErrNoServers = errors.New("no servers")

	// ErrPoolClosed is returned by calls made on, or interrupted by, a closed
	// Pool.
	ErrPoolClosed = errors.New("rpc: pool closed")
)

// IsServerError reports whether err (or anything it wraps) was returned by
// the remote method rather than by the transport. Such errors mean the server
// was reached and answered, so retrying against another server is pointless.
func IsServerError(err error) bool {
	var se rpc.ServerError
	return errors.As(err, &se)
}

// Pool is a client-side connection pool holding one multiplexed (yamux)
// session per server address. Every call opens its own stream on that
// session, so concurrent calls to one server share a single TCP connection
// and a slow call never head-of-line blocks the others. A Pool is safe for
// concurrent use.
type Pool struct {
	dialTimeout time.Duration

	// ctx is cancelled by Close to abort dials in progress.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // in-flight dials

	mu     sync.Mutex
	tls    *tls.Config
	conns  map[string]*poolConn
	closed bool
}

// poolConn is one address's session. ready is closed once the dial finished;
// session and err are written before that and are read-only afterwards.
// Concurrent callers wait on the same poolConn so a burst of calls to a new
// server produces one dial, not one per caller.
type poolConn struct {
	ready   chan struct{}
	session *yamux.Session
	err     error
}

// NewPool returns an empty pool. dialTimeout bounds establishing a new
// session (TCP connect plus the type byte); non-positive means
// DefaultDialTimeout. Per-call time limits come from the caller's context.
func NewPool(dialTimeout time.Duration) *Pool {
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{
		dialTimeout: dialTimeout,
		ctx:         ctx,
		cancel:      cancel,
		conns:       make(map[string]*poolConn),
	}
}

// Call invokes method (e.g. "Status.Ping") on the server at addr, decoding
// the result into reply.
//
// A non-nil error is one of:
//   - an rpc.ServerError holding the remote method's error text unchanged
//     (see IsServerError);
//   - a wrapped ctx.Err() if ctx ended first; the stream is closed at once,
//     though the remote method may still run to completion;
//   - a wrapped transport error. If the session broke it is discarded so the
//     next call to addr redials.
func (p *Pool) Call(ctx context.Context, addr string, method string, args interface{}, reply interface{}) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rpc: %s to %s: %w", method, addr, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := p.session(ctx, addr)
		if err != nil {
			return fmt.Errorf("rpc: %s to %s: %w", method, addr, err)
		}
		stream, err := pc.session.OpenStream()
		if err != nil {
			// The session died (often the server restarted) before this
			// call sent anything, so one retry on a fresh session is safe
			// and hides the stale session from the caller.
			p.discard(addr, pc)
			if attempt == 0 && ctx.Err() == nil {
				continue
			}
			return fmt.Errorf("rpc: %s to %s: opening stream: %w", method, addr, err)
		}
		return p.callStream(ctx, addr, pc, stream, method, args, reply)
	}
}

// callStream performs one net/rpc call over a dedicated stream.
func (p *Pool) callStream(ctx context.Context, addr string, pc *poolConn, stream *yamux.Stream,
	method string, args, reply interface{}) error {
	client := rpc.NewClientWithCodec(&streamCodec{
		ClientCodec: newClientCodec(stream),
		stream:      stream,
	})
	// On cancellation mark the client closing (so net/rpc reports a clean
	// shutdown rather than a protocol error), then expire the stream's
	// deadlines: that wakes a blocked read or write immediately, which
	// fails the pending call and lets client.Call return.
	stop := context.AfterFunc(ctx, func() {
		client.Close()
		stream.SetDeadline(time.Now())
	})
	err := client.Call(method, args, reply)
	stop()
	client.Close()

	switch {
	case err == nil:
		return nil
	case IsServerError(err):
		// Returned unwrapped so err.Error() is exactly the remote text.
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("rpc: %s to %s: %w", method, addr, ctx.Err())
	}
	if pc.session.IsClosed() {
		p.discard(addr, pc)
	}
	return fmt.Errorf("rpc: %s to %s: %w", method, addr, err)
}

// streamCodec wraps the msgpack codec so Close only closes the stream. The
// msgpack codec's own Close writes an unsynchronised flag that net/rpc's
// reader goroutine reads concurrently; closing the stream instead gives the
// same effect (the reader sees EOF) without the data race.
type streamCodec struct {
	rpc.ClientCodec
	stream *yamux.Stream
}

func (c *streamCodec) Close() error { return c.stream.Close() }

// session returns a live session to addr, dialing if there is none or the
// cached one has died. Waiting honours ctx, but the dial itself is bounded by
// the pool's dial timeout rather than ctx, since other callers may share it.
func (p *Pool) session(ctx context.Context, addr string) (*poolConn, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPoolClosed
	}
	pc := p.conns[addr]
	if pc != nil {
		select {
		case <-pc.ready:
			if pc.err != nil || pc.session.IsClosed() {
				delete(p.conns, addr)
				pc = nil
			}
		default: // dial in progress: wait for it below
		}
	}
	if pc == nil {
		pc = &poolConn{ready: make(chan struct{})}
		p.conns[addr] = pc
		p.wg.Add(1)
		go p.dial(addr, pc)
	}
	p.mu.Unlock()

	select {
	case <-pc.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if pc.err != nil {
		return nil, pc.err
	}
	return pc, nil
}

// dial establishes pc's session and publishes the result.
func (p *Pool) dial(addr string, pc *poolConn) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.dialTimeout)
	defer cancel()
	sess, err := p.dialSession(ctx, addr)

	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil && p.closed {
		sess.Close()
		sess, err = nil, ErrPoolClosed
	}
	pc.session, pc.err = sess, err
	if err != nil && p.conns[addr] == pc {
		// Forget failures so the next call dials again.
		delete(p.conns, addr)
	}
	close(pc.ready)
}

func (p *Pool) dialSession(ctx context.Context, addr string) (*yamux.Session, error) {
	p.mu.Lock()
	tlsConf := p.tls
	p.mu.Unlock()
	conn, err := dialType(ctx, addr, ConnMultiplex, tlsConf, 0)
	if err != nil {
		return nil, err
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	sess, err := yamux.Client(conn, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return sess, nil
}

// discard drops pc from the pool (if it is still the current entry for addr)
// and closes its session, so the next call redials.
func (p *Pool) discard(addr string, pc *poolConn) {
	p.mu.Lock()
	if p.conns[addr] == pc {
		delete(p.conns, addr)
	}
	p.mu.Unlock()
	pc.session.Close()
}

// CallAny tries addrs in order until one call completes at the transport
// level. A remote method error is returned at once (the server answered;
// another would most likely answer the same). A dial or transport error moves
// on to the next address. Note a transport error after the request was sent
// may mean it ran anyway, so methods used with CallAny should be idempotent
// or forwarded by the server to a single authority.
//
// With no addresses it returns ErrNoServers. If every address fails the error
// wraps ErrNoServers and each failure. If ctx ends, its error is returned
// without trying further addresses.
func (p *Pool) CallAny(ctx context.Context, addrs []string, method string, args, reply interface{}) error {
	if len(addrs) == 0 {
		return ErrNoServers
	}
	var errs []error
	for _, addr := range addrs {
		err := p.Call(ctx, addr, method, args, reply)
		if err == nil || IsServerError(err) || ctx.Err() != nil {
			return err
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w reachable: %w", ErrNoServers, errors.Join(errs...))
}

// SetTLS makes the pool's new connections TLS, handshaken with cfg (nil
// turns TLS off). Sessions already open are kept.
func (p *Pool) SetTLS(cfg *tls.Config) {
	p.mu.Lock()
	p.tls = cfg
	p.mu.Unlock()
}

// Close closes every session and aborts dials in progress; calls in flight
// fail. Close is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()

	p.cancel()
	for _, pc := range conns {
		select {
		case <-pc.ready:
			if pc.session != nil {
				pc.session.Close()
			}
		default: // dial() sees p.closed and closes its own session
		}
	}
	p.wg.Wait()
	return nil
}
