// Package msgpack is Drover's binary codec: the one MessagePack
// configuration shared by RPC (agent/rpc), raft log entries
// (agent/server) and state snapshots (agent/state), so that a value
// decodes the same whichever path it travelled.
//
// Structs encode as maps keyed by field name (a field added later is
// simply absent from older data, a field removed is skipped), honouring
// `codec` tags and else `json` tags (`json:",omitempty"` omits here too).
// Custom JSON (un)marshalers are not called: MessagePack carries the
// stored structs as they are, never the API's JSON view of them.
package msgpack

import (
	"bytes"
	"io"
	"reflect"

	"github.com/hashicorp/go-msgpack/v2/codec"
)

// Handle is the shared configuration. RawToString makes strings nested in
// interface{} values (a task's driver config, for one) decode as strings
// rather than bytes, and MapType keeps such maps as map[string]interface{}:
// both sides then see exactly the values the JSON API would give them.
// time.Time is the MessagePack timestamp extension, in UTC.
var Handle = func() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	h.MapType = reflect.TypeOf(map[string]interface{}(nil))
	return h
}()

// Encode returns v in MessagePack.
func Encode(v interface{}) ([]byte, error) {
	var buf []byte
	if err := codec.NewEncoderBytes(&buf, Handle).Encode(v); err != nil {
		return nil, err
	}
	return buf, nil
}

// Append appends v in MessagePack to buf, e.g. after a type byte.
func Append(buf []byte, v interface{}) ([]byte, error) {
	w := bytes.NewBuffer(buf)
	if err := codec.NewEncoder(w, Handle).Encode(v); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

// NewEncoder returns an encoder of a stream of values to w.
func NewEncoder(w io.Writer) *codec.Encoder { return codec.NewEncoder(w, Handle) }

// NewDecoder returns a decoder of a stream of values from r.
func NewDecoder(r io.Reader) *codec.Decoder { return codec.NewDecoder(r, Handle) }

// Decode decodes data, which must hold exactly one value, into v.
func Decode(data []byte, v interface{}) error {
	return codec.NewDecoderBytes(data, Handle).Decode(v)
}
