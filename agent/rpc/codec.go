package rpc

import (
	"io"
	"net/rpc"

	msgpackrpc "github.com/hashicorp/net-rpc-msgpackrpc/v2"

	"drover/agent/msgpack"
)

// MsgpackHandle is the wire encoding of every RPC: Drover's one
// MessagePack configuration (agent/msgpack), which raft entries and
// snapshots share, so a value decodes alike whichever path it took.
var MsgpackHandle = msgpack.Handle

func newServerCodec(conn io.ReadWriteCloser) rpc.ServerCodec {
	return msgpackrpc.NewCodecFromHandle(true, true, conn, MsgpackHandle)
}

func newClientCodec(conn io.ReadWriteCloser) rpc.ClientCodec {
	return msgpackrpc.NewCodecFromHandle(true, true, conn, MsgpackHandle)
}
