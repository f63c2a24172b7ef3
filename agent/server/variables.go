package server

import (
	"errors"

	"drover/agent/acl"
	"drover/agent/state"
	"drover/agent/structs"
)

// VariableApplyRequestType is the raft log type of variable writes. It
// stands apart from the other types (80) so that types added meanwhile
// on other lines of work cannot take it; never renumber it.
const VariableApplyRequestType MessageType = 80

// Variable operations.
const (
	VarOpSet    = "set"
	VarOpDelete = "delete"
)

// VariableApplyRequest is the log entry of a variable write: set stores
// Var (ModifyTime stamped by the leader), delete removes the variable at
// Var's namespace and path. With Checked, it applies only if the stored
// variable passes the check-and-set of CheckIndex (0: must not exist).
type VariableApplyRequest struct {
	Op         string
	Var        *structs.Variable
	CheckIndex uint64
	Checked    bool
}

// VariableApplyArgs is a variable write (Variables.Apply).
type VariableApplyArgs struct {
	Op         string
	Var        *structs.Variable
	CheckIndex uint64
	Checked    bool
	AuthToken  string
}

// VariableApplyResponse is what a variable write did: Output is the
// stored variable after a set; Conflict, when a check-and-set failed,
// is the variable found instead (with no indexes when there is none).
type VariableApplyResponse struct {
	Output   *structs.Variable
	Conflict *structs.Variable
	Index    uint64
}

func applyVariable(st *state.StateStore, index uint64, decode func(v interface{})) error {
	var req VariableApplyRequest
	decode(&req)
	if req.Var == nil {
		return errorf(ErrInvalidRequest, "variable write without a variable")
	}
	switch req.Op {
	case VarOpSet:
		return st.SetVariable(index, req.Var, req.CheckIndex, req.Checked)
	case VarOpDelete:
		return st.DeleteVariable(index, req.Var.Namespace, req.Var.Path, req.CheckIndex, req.Checked)
	}
	return errorf(ErrInvalidRequest, "unknown variable operation %q", req.Op)
}

// ApplyVariable sets or deletes a variable on the leader, checking the
// caller's token there: write on the path to set, destroy to delete.
// A failed check-and-set is not an error: the response's Conflict says
// what was found.
func (s *Server) ApplyVariable(args *VariableApplyArgs) (*VariableApplyResponse, error) {
	if args.Var == nil {
		return nil, errorf(ErrInvalidRequest, "missing variable")
	}
	v := args.Var.Copy()
	if v.Namespace == "" {
		v.Namespace = structs.DefaultNamespace
	}
	op := acl.VarCapWrite
	switch args.Op {
	case VarOpSet:
		if err := v.Validate(); err != nil {
			return nil, errorf(ErrInvalidRequest, "%v", err)
		}
	case VarOpDelete:
		op = acl.VarCapDestroy
		if err := structs.ValidateVariableNamespace(v.Namespace); err != nil {
			return nil, errorf(ErrInvalidRequest, "%v", err)
		}
		if err := structs.ValidateVariablePath(v.Path); err != nil {
			return nil, errorf(ErrInvalidRequest, "%v", err)
		}
	default:
		return nil, errorf(ErrInvalidRequest, "unknown variable operation %q", args.Op)
	}
	var fwd VariableApplyResponse
	if done, err := s.forward("Variables.Apply", args, &fwd); done {
		return &fwd, err
	}
	if err := s.authorize(args.AuthToken, func(a *acl.ACL) bool {
		return a.AllowVariableOperation(v.Namespace, v.Path, op)
	}); err != nil {
		return nil, err
	}
	v.ModifyTime = now().UnixNano()
	index, err := s.apply(VariableApplyRequestType, &VariableApplyRequest{Op: args.Op, Var: v,
		CheckIndex: args.CheckIndex, Checked: args.Checked})
	var ce *state.VariableCASError
	if errors.As(err, &ce) {
		conflict := ce.Current
		if conflict == nil {
			conflict = &structs.Variable{Namespace: v.Namespace, Path: v.Path}
		} else {
			conflict = conflict.Copy()
		}
		// The conflict shows what is stored; its items only to a token
		// that may read them, or write-only tokens could read through
		// a failed check-and-set.
		if s.authorize(args.AuthToken, func(a *acl.ACL) bool {
			return a.AllowVariableOperation(v.Namespace, v.Path, acl.VarCapRead)
		}) != nil {
			conflict.Items = nil
		}
		return &VariableApplyResponse{Conflict: conflict, Index: index}, nil
	}
	if err != nil {
		return nil, err
	}
	resp := &VariableApplyResponse{Index: index}
	if args.Op == VarOpSet {
		resp.Output = written(s.State(), v, index)
	}
	return resp, nil
}

// written is the variable as the write at index stored it. Another write
// may already have replaced or deleted it, so it is rebuilt from what was
// sent rather than read back, keeping only what the state added: the
// create index and time of the variable it replaced.
func written(st *state.StateStore, v *structs.Variable, index uint64) *structs.Variable {
	out := v.Copy()
	out.CreateIndex, out.ModifyIndex, out.CreateTime = index, index, v.ModifyTime
	// A variable that has lived since before index is the one written
	// (or the one it replaced), whatever was written after.
	if cur, err := st.VariableByPath(nil, v.Namespace, v.Path); err == nil && cur != nil && cur.CreateIndex <= index {
		out.CreateIndex, out.CreateTime = cur.CreateIndex, cur.CreateTime
	}
	return out
}

// variablesEndpoint exposes the variable writes over RPC ("Variables.*").
type variablesEndpoint struct{ srv *Server }

func (e *variablesEndpoint) Apply(args *VariableApplyArgs, reply *VariableApplyResponse) error {
	r, err := e.srv.ApplyVariable(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}
