package rpc

import (
	"io"
	"net/rpc"
	"reflect"

	"github.com/hashicorp/go-msgpack/v2/codec"
	msgpackrpc "github.com/hashicorp/net-rpc-msgpackrpc/v2"
)

// MsgpackHandle is the wire encoding of every RPC. RawToString makes
// strings nested in interface{} values (a task's driver config, for one)
// decode as strings rather than bytes, and MapType keeps such maps as
// map[string]interface{}: both sides then see exactly the values the JSON
// API would give them.
var MsgpackHandle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	h.MapType = reflect.TypeOf(map[string]interface{}(nil))
	return h
}()

func newServerCodec(conn io.ReadWriteCloser) rpc.ServerCodec {
	return msgpackrpc.NewCodecFromHandle(true, true, conn, MsgpackHandle)
}

func newClientCodec(conn io.ReadWriteCloser) rpc.ClientCodec {
	return msgpackrpc.NewCodecFromHandle(true, true, conn, MsgpackHandle)
}
