package server

import (
	droverrpc "drover/agent/rpc"
	"drover/agent/state"
	"drover/agent/wire"
)

// The error kinds live in agent/wire, shared with clients; these names
// keep the server's code and its callers short.
var (
	ErrNotLeader      = wire.ErrNotLeader
	ErrNoLeader       = wire.ErrNoLeader
	ErrNotFound       = wire.ErrNotFound
	ErrShuttingDown   = wire.ErrShuttingDown
	ErrIndexMismatch  = wire.ErrIndexMismatch
	ErrInvalidRequest = wire.ErrInvalidRequest
	ErrValidation     = wire.ErrValidation
	// ErrPermissionDenied refuses a node RPC with the wrong secret.
	ErrPermissionDenied = wire.ErrPermissionDenied
)

func init() {
	// The state store's "not found" errors cross RPC hops between
	// servers with their kind, so a forwarded read or write answers 404.
	wire.RegisterKinds(state.ErrJobNotFound, state.ErrNodeNotFound, state.ErrDeploymentNotFound, state.ErrEvalNotFound)
}

// errorf builds an error of the given kind whose message is exactly what
// users see.
func errorf(kind error, format string, args ...interface{}) error {
	return wire.Errorf(kind, format, args...)
}

// wireError prepares an endpoint's error for the wire.
func wireError(err error) error { return wire.Encode(err) }

// RemoteError restores the kind and the text of an error that crossed an
// RPC hop; transport errors are returned unchanged.
func RemoteError(err error) error {
	if err == nil || !droverrpc.IsServerError(err) {
		return err
	}
	return wire.Decode(err)
}
