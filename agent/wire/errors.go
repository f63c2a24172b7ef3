package wire

import (
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Error kinds the HTTP and RPC layers map to status codes and retries.
var (
	ErrNotLeader      = errors.New("not the leader")
	ErrNoLeader       = errors.New("No cluster leader")
	ErrNotFound       = errors.New("not found")
	ErrShuttingDown   = errors.New("server is shutting down")
	ErrIndexMismatch  = errors.New("index mismatch")
	ErrInvalidRequest = errors.New("invalid request")
	// ErrValidation marks a job that fails validation; like the API it is
	// compatible with, the HTTP layer answers it with 500 and the text.
	ErrValidation = errors.New("validation failed")
	// ErrPermissionDenied refuses a node RPC whose secret does not match
	// the node's.
	ErrPermissionDenied = errors.New("Permission denied")
)

// KindError is an error whose message is exactly what users see (no
// prefix), and which matches its kind with errors.Is.
type KindError struct {
	Kind error
	Msg  string
}

func (e *KindError) Error() string { return e.Msg }
func (e *KindError) Unwrap() error { return e.Kind }

// Errorf builds a KindError of the given kind.
func Errorf(kind error, format string, args ...interface{}) error {
	return &KindError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

var (
	kindsMu sync.RWMutex
	kinds   = []error{ErrNotLeader, ErrNoLeader, ErrNotFound, ErrShuttingDown, ErrIndexMismatch, ErrInvalidRequest, ErrValidation, ErrPermissionDenied}
)

// RegisterKinds adds error kinds that must survive an RPC hop (the
// server adds its state store's "not found" errors).
func RegisterKinds(errs ...error) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	kinds = append(kinds, errs...)
}

func knownKinds() []error {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	return append([]error(nil), kinds...)
}

// Encode prepares an endpoint's error for the wire. net/rpc carries only
// text, so the kind travels as a "[kind] " prefix that Decode turns back
// into an error errors.Is recognises.
func Encode(err error) error {
	if err == nil {
		return nil
	}
	for _, k := range knownKinds() {
		if errors.Is(err, k) {
			return errors.New("[" + k.Error() + "] " + err.Error())
		}
	}
	return err
}

// Decode restores the kind and the text of a remote error's text;
// unknown texts come back as they are.
func Decode(err error) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	for _, k := range knownKinds() {
		prefix := "[" + k.Error() + "] "
		if strings.HasPrefix(text, prefix) {
			return &KindError{Kind: k, Msg: strings.TrimPrefix(text, prefix)}
		}
	}
	return err
}
