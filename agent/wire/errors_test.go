package wire

import (
	"errors"
	"net/rpc"
	"testing"
)

func TestErrorKindsSurviveTheWire(t *testing.T) {
	custom := errors.New("thing not found")
	RegisterKinds(custom)
	for _, kind := range []error{ErrNotFound, ErrNoLeader, ErrIndexMismatch, custom} {
		sent := Encode(Errorf(kind, "the %s message", "user's"))
		// net/rpc delivers only the text.
		got := Decode(rpc.ServerError(sent.Error()))
		if !errors.Is(got, kind) || got.Error() != "the user's message" {
			t.Errorf("kind %v: got %q (is kind: %v)", kind, got, errors.Is(got, kind))
		}
	}
	plain := errors.New("plain failure")
	if got := Decode(Encode(plain)); got.Error() != "plain failure" {
		t.Errorf("an error of no kind changed: %q", got)
	}
	if Encode(nil) != nil || Decode(nil) != nil {
		t.Error("nil is not nil")
	}
}
