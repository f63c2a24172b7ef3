package server

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	droverrpc "drover/agent/rpc"
	"drover/agent/structs"
	"drover/testutil/fill"
)

func TestVariableEntry_Codec(t *testing.T) {
	in := new(VariableApplyRequest)
	fill.Fill(in, 1)
	buf, err := encode(VariableApplyRequestType, in)
	if err != nil {
		t.Fatal(err)
	}
	out := new(VariableApplyRequest)
	if err := decodeEntry(buf[1:], out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip differs:\n got %s\nwant %s", dump(out), dump(in))
	}
}

// TestVariables_ApplyOverRPC: writes go through raft with check-and-set,
// a conflict answers the variable found, and ACLs decide per path.
func TestVariables_ApplyOverRPC(t *testing.T) {
	s := aclServer(t, "")
	defer s.Shutdown()
	r, err := s.BootstrapACL(&ACLBootstrapArgs{})
	if err != nil {
		t.Fatal(err)
	}
	mgmt := r.Token.SecretID
	mustPolicy(t, s, mgmt, "labs", "namespace \"default\" {\n  variables {\n    path \"drover/*\" {\n      capabilities = [\"write\", \"read\", \"list\", \"destroy\"]\n    }\n  }\n}\n")
	labs := mustToken(t, s, mgmt, &structs.ACLToken{Name: "labs", Policies: []string{"labs"}}, 0)

	pool := droverrpc.NewPool(time.Second)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	apply := func(args *VariableApplyArgs) (*VariableApplyResponse, error) {
		var reply VariableApplyResponse
		err := RemoteError(pool.Call(ctx, s.RPCAddr(), "Variables.Apply", args, &reply))
		return &reply, err
	}
	v := func(path string) *structs.Variable {
		return &structs.Variable{Path: path, Items: map[string]string{"a": "b"}}
	}
	if _, err := apply(&VariableApplyArgs{Op: VarOpSet, Var: v("other/x"), AuthToken: labs.SecretID}); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("write outside the policy's paths: %v", err)
	}
	if _, err := apply(&VariableApplyArgs{Op: VarOpSet, Var: v("drover/x")}); !errors.Is(err, ErrPermissionDenied) {
		t.Fatalf("anonymous write: %v", err)
	}
	if _, err := apply(&VariableApplyArgs{Op: VarOpSet, Var: &structs.Variable{Path: "drover//x", Items: map[string]string{"a": "b"}}, AuthToken: mgmt}); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("bad path: %v", err)
	}
	out, err := apply(&VariableApplyArgs{Op: VarOpSet, Var: v("drover/x"), Checked: true, AuthToken: labs.SecretID})
	if err != nil || out.Conflict != nil || out.Output == nil || out.Output.Namespace != "default" ||
		out.Output.CreateIndex == 0 || out.Output.ModifyTime == 0 {
		t.Fatalf("checked create: %v %+v", err, out)
	}
	again, err := apply(&VariableApplyArgs{Op: VarOpSet, Var: v("drover/x"), Checked: true, AuthToken: labs.SecretID})
	if err != nil || again.Conflict == nil || again.Conflict.ModifyIndex != out.Output.ModifyIndex {
		t.Fatalf("second checked create: %v %+v", err, again)
	}
	upd, err := apply(&VariableApplyArgs{Op: VarOpSet, Var: v("drover/x"), Checked: true, CheckIndex: out.Output.ModifyIndex, AuthToken: labs.SecretID})
	if err != nil || upd.Conflict != nil || upd.Output.CreateIndex != out.Output.CreateIndex || upd.Output.ModifyIndex <= out.Output.ModifyIndex {
		t.Fatalf("checked update: %v %+v", err, upd)
	}
	if _, err := apply(&VariableApplyArgs{Op: VarOpDelete, Var: &structs.Variable{Path: "drover/x"}, AuthToken: labs.SecretID}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got, _ := s.State().VariableByPath(nil, "default", "drover/x"); got != nil {
		t.Fatalf("deleted variable still stored: %+v", got)
	}
}
