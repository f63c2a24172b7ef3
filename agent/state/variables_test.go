package state

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

func TestVariablesWriteReadCAS(t *testing.T) {
	s := mustStore(t)
	v := &structs.Variable{Namespace: "default", Path: "drover/labs/a", Items: map[string]string{"k": "1"}, ModifyTime: 100}
	// A checked create of something new passes; again, it conflicts.
	must(t, s.SetVariable(5, v, 0, true))
	if v.CreateIndex != 0 {
		t.Error("the store changed the caller's variable instead of a copy")
	}
	err := s.SetVariable(6, v, 0, true)
	var ce *VariableCASError
	if !errors.As(err, &ce) || !errors.Is(err, ErrVariableCASConflict) || ce.Current == nil || ce.Current.ModifyIndex != 5 {
		t.Fatalf("second checked create: %v", err)
	}
	ws := memdb.NewWatchSet()
	got, err := s.VariableByPath(ws, "default", "drover/labs/a")
	must(t, err)
	if got == nil || got.CreateIndex != 5 || got.ModifyIndex != 5 || got.CreateTime != 100 || got.Items["k"] != "1" {
		t.Fatalf("stored: %+v", got)
	}
	// An update with the right index keeps the creation.
	must(t, s.SetVariable(7, &structs.Variable{Namespace: "default", Path: "drover/labs/a", Items: map[string]string{"k": "2"}, ModifyTime: 200}, 5, true))
	if ws.Watch(time.After(time.Second)) {
		t.Error("the update did not wake the reader's watch")
	}
	got, _ = s.VariableByPath(nil, "default", "drover/labs/a")
	if got.CreateIndex != 5 || got.ModifyIndex != 7 || got.CreateTime != 100 || got.ModifyTime != 200 || got.Items["k"] != "2" {
		t.Fatalf("updated: %+v", got)
	}
	if err := s.SetVariable(8, v, 5, true); !errors.Is(err, ErrVariableCASConflict) {
		t.Fatalf("stale update: %v", err)
	}
	must(t, s.SetVariable(9, &structs.Variable{Namespace: "default", Path: "drover/labs/b", Items: map[string]string{"x": "y"}}, 0, false))
	must(t, s.SetVariable(10, &structs.Variable{Namespace: "other", Path: "drover/labs/c", Items: map[string]string{"x": "y"}}, 0, false))
	must(t, s.SetVariable(11, &structs.Variable{Namespace: "default", Path: "elsewhere", Items: map[string]string{"x": "y"}}, 0, false))
	paths := func(vs []*structs.Variable) (out []string) {
		for _, v := range vs {
			out = append(out, v.Namespace+":"+v.Path)
		}
		return out
	}
	vs, err := s.VariablesByPrefix(nil, "default", "drover/labs/")
	must(t, err)
	if want := []string{"default:drover/labs/a", "default:drover/labs/b"}; !reflect.DeepEqual(paths(vs), want) {
		t.Errorf("by prefix: %v, want %v", paths(vs), want)
	}
	vs, _ = s.VariablesByPrefix(nil, "*", "drover/")
	if want := []string{"default:drover/labs/a", "default:drover/labs/b", "other:drover/labs/c"}; !reflect.DeepEqual(paths(vs), want) {
		t.Errorf("all namespaces: %v, want %v", paths(vs), want)
	}
	if i, _ := s.Index(TableVariables); i != 11 {
		t.Errorf("table index %d, want 11", i)
	}

	// Snapshots carry variables.
	var buf bytes.Buffer
	must(t, s.Persist(&buf))
	r, err := Restore(&buf)
	must(t, err)
	if got, _ := r.VariableByPath(nil, "default", "drover/labs/a"); got == nil || got.ModifyIndex != 7 || got.Items["k"] != "2" {
		t.Errorf("restored: %+v", got)
	}
	if i, _ := r.Index(TableVariables); i != 11 {
		t.Errorf("restored table index %d, want 11", i)
	}

	// Deletes: a checked one with a stale index conflicts, then passes.
	if err := s.DeleteVariable(12, "default", "drover/labs/a", 5, true); !errors.Is(err, ErrVariableCASConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	must(t, s.DeleteVariable(13, "default", "drover/labs/a", 7, true))
	must(t, s.DeleteVariable(14, "default", "absent", 0, false))
	if got, _ := s.VariableByPath(nil, "default", "drover/labs/a"); got != nil {
		t.Errorf("deleted variable still there: %+v", got)
	}
}
