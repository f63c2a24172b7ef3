package server

import "fmt"

// kindError is an error whose message is exactly what users see (no
// prefix), and which matches one of the sentinel errors with errors.Is so
// the HTTP layer can pick a status code.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// errorf builds a kindError of the given kind.
func errorf(kind error, format string, args ...interface{}) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
