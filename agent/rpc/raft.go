package rpc

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// RaftLayer carries raft traffic over the Mux's port. It satisfies raft's
// StreamLayer interface, so a raft NetworkTransport can be built on it and
// share the RPC port instead of binding its own.
//
// Inbound, it accepts the Mux's ConnRaft connections (type byte already
// consumed). Outbound, Dial writes the ConnRaft byte before handing the
// connection to raft, so the peer's Mux routes it to its own RaftLayer.
type RaftLayer struct {
	ln        net.Listener
	advertise net.Addr
	tls       *tls.Config
}

// SetTLS makes Dial speak TLS, handshaken with cfg, to Muxes that have
// TLS on. Call it before the transport dials.
func (r *RaftLayer) SetTLS(cfg *tls.Config) { r.tls = cfg }

// NewRaftLayer claims m's ConnRaft connections. advertise is the address
// reported by Addr, which raft uses as this server's identity on the wire;
// pass it when the Mux listens on a wildcard or NATed address. Nil means the
// Mux's listen address.
func NewRaftLayer(m *Mux, advertise net.Addr) *RaftLayer {
	return &RaftLayer{ln: m.Listener(ConnRaft), advertise: advertise}
}

// Accept waits for the next inbound raft connection.
func (r *RaftLayer) Accept() (net.Conn, error) { return r.ln.Accept() }

// Close stops accepting raft connections. It leaves the Mux (and RPC) running
// so raft can be shut down independently of the server port.
func (r *RaftLayer) Close() error { return r.ln.Close() }

// Addr is the advertised raft address (see NewRaftLayer).
func (r *RaftLayer) Addr() net.Addr {
	if r.advertise != nil {
		return r.advertise
	}
	return r.ln.Addr()
}

// Dial opens a raft connection to a peer's server port. The timeout bounds
// both the TCP connect and writing the ConnRaft type byte.
func (r *RaftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return dialType(context.Background(), string(address), ConnRaft, r.tls, timeout)
}
