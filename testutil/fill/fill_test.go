package fill

import (
	"reflect"
	"testing"
	"time"
)

type inner struct{ N int }

type sample struct {
	S    string
	P    *inner
	L    []*inner
	M    map[string]inner
	I    interface{}
	T    time.Time
	D    *time.Duration
	hide int
}

func TestFillIsDeterministicAndRefillChangesInPlace(t *testing.T) {
	var a, b sample
	Fill(&a, 1)
	Fill(&b, 1)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two fills with one seed differ")
	}
	if a.S == "" || a.P == nil || len(a.L) != 2 || len(a.M) != 2 || a.I == nil || a.T.IsZero() || a.D == nil {
		t.Fatalf("not every field filled: %+v", a)
	}
	shared := a // shares every pointer, slice and map with a
	shared.S = a.S
	Fill(&shared, 2)
	if reflect.DeepEqual(a, b) {
		t.Fatal("refilling a shallow copy did not reach the original")
	}
	var e sample
	Fill(&e, 3)
	Empty(&e)
	if e.L == nil || len(e.L) != 0 || e.M == nil || len(e.M) != 0 {
		t.Fatalf("Empty: %+v", e)
	}
}
