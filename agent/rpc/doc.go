// Package rpc is the transport for server-to-server and client-to-server RPC
// in a Drover cluster.
//
// # One port, many protocols
//
// Servers expose a single TCP port for RPC and for raft replication, the same
// layout as the cluster agents Drover is wire-compatible with. One port keeps
// firewall rules, advertise addresses and TLS in one place, and lets
// raft share the listener without a second bind. To make that work every new
// TCP connection starts with a single byte naming what it carries; the Mux
// reads that byte and hands the rest of the connection to the right consumer:
//
//	                      +---------------------------------------------+
//	TCP conn ---accept--->| Mux: read 1st byte (bounded by a deadline)  |
//	                      +---------------------------------------------+
//	                         |             |              |          |
//	                       0x01          0x02           0x03      other
//	                         |             |              |          |
//	                         v             v              v          v
//	                    net/rpc conn  yamux session   RaftLayer    close +
//	                    (msgpack)     each stream =   Accept()      log
//	                                  one net/rpc
//	                                  conn (msgpack)
//
// ConnRPC (0x01) is one plain msgpack net/rpc connection. It costs a TCP
// connection per client and exists mostly for tests and simple tools.
//
// ConnMultiplex (0x02) is a yamux session. Each stream the client opens is an
// independent msgpack net/rpc connection, so many concurrent calls share one
// TCP connection and one slow call never blocks another. This is what Pool
// uses.
//
// ConnTLS (0x04) means a TLS handshake follows; inside the TLS session the
// first byte is again one of the types above. A Mux given SetTLS accepts
// nothing else, so with tls { rpc = true } every RPC and raft connection is
// mutual TLS on the same port (see agent/tlsutil for who checks what).
//
// ConnRaft (0x03) is handed off untouched (minus the type byte) to RaftLayer,
// which implements the raft StreamLayer interface so a raft NetworkTransport
// can run on the same port.
//
// # Errors
//
// Errors returned by a remote method arrive as rpc.ServerError carrying the
// remote error text verbatim, so callers can compare against sentinel
// messages; use IsServerError to tell them from transport failures. Transport
// failures (dial, broken session, context expiry) are wrapped with the method
// and address and can be unwrapped with errors.Is/As.
package rpc
