package state

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// ErrVariableCASConflict refuses a checked variable write whose check
// index does not match; the error returned is a *VariableCASError, which
// matches it with errors.Is.
var ErrVariableCASConflict = errors.New("variable check-and-set conflict")

// VariableCASError says which variable a checked write found instead of
// the one it expected: Current is the stored variable, nil when there is
// none.
type VariableCASError struct {
	CheckIndex uint64
	Current    *structs.Variable
}

func (e *VariableCASError) Error() string {
	if e.Current == nil {
		return fmt.Sprintf("cas conflict: expected ModifyIndex %d; found no variable", e.CheckIndex)
	}
	return fmt.Sprintf("cas conflict: expected ModifyIndex %d; found %d", e.CheckIndex, e.Current.ModifyIndex)
}

// Unwrap makes the error match ErrVariableCASConflict.
func (e *VariableCASError) Unwrap() error { return ErrVariableCASConflict }

// casCheck applies a check-and-set: 0 means the variable must not exist,
// anything else that it exists with that ModifyIndex.
func casCheck(existing *structs.Variable, checkIndex uint64) error {
	switch {
	case checkIndex == 0 && existing == nil:
		return nil
	case existing != nil && existing.ModifyIndex == checkIndex:
		return nil
	}
	return &VariableCASError{CheckIndex: checkIndex, Current: existing}
}

func variableAt(txn *memdb.Txn, ns, path string) (*structs.Variable, error) {
	obj, err := txn.First(TableVariables, indexID, ns, path)
	if err != nil {
		return nil, fmt.Errorf("variable lookup: %w", err)
	}
	if obj == nil {
		return nil, nil
	}
	return obj.(*structs.Variable), nil
}

// SetVariable stores v at index, keeping the CreateIndex and CreateTime
// of the variable it replaces; ModifyTime comes with v (stamped by the
// leader). When checked, the write happens only if the stored variable
// passes the check-and-set of checkIndex (see casCheck).
func (s *StateStore) SetVariable(index uint64, v *structs.Variable, checkIndex uint64, checked bool) error {
	return s.update(index, func(w *writer) error {
		existing, err := variableAt(w.txn, v.Namespace, v.Path)
		if err != nil {
			return err
		}
		if checked {
			if err := casCheck(existing, checkIndex); err != nil {
				return err
			}
		}
		c := v.Copy()
		c.CreateIndex, c.ModifyIndex, c.CreateTime = index, index, v.ModifyTime
		if existing != nil {
			c.CreateIndex, c.CreateTime = existing.CreateIndex, existing.CreateTime
		}
		if err := w.insert(TableVariables, c); err != nil {
			return fmt.Errorf("upsert variable: %w", err)
		}
		return nil
	})
}

// DeleteVariable deletes the variable at (ns, path); deleting one that
// does not exist does nothing. When checked, the delete happens only if
// the stored variable passes the check-and-set of checkIndex.
func (s *StateStore) DeleteVariable(index uint64, ns, path string, checkIndex uint64, checked bool) error {
	return s.update(index, func(w *writer) error {
		existing, err := variableAt(w.txn, ns, path)
		if err != nil {
			return err
		}
		if checked {
			if err := casCheck(existing, checkIndex); err != nil {
				return err
			}
		}
		if existing == nil {
			return nil
		}
		if err := w.delete(TableVariables, existing); err != nil {
			return fmt.Errorf("delete variable: %w", err)
		}
		return nil
	})
}

// VariableByPath returns the variable at path in namespace ns, or nil.
func (r *reader) VariableByPath(ws memdb.WatchSet, ns, path string) (*structs.Variable, error) {
	obj, err := first(ws, r.txn(), TableVariables, indexID, ns, path)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Variable), nil
}

// VariablesByPrefix returns the variables of namespace ns whose path
// starts with prefix, by path; ns "*" searches every namespace (by
// namespace, then path).
func (r *reader) VariablesByPrefix(ws memdb.WatchSet, ns, prefix string) ([]*structs.Variable, error) {
	if ns != "*" {
		return list[*structs.Variable](ws, r.txn(), TableVariables, indexID+"_prefix", ns, prefix)
	}
	all, err := list[*structs.Variable](ws, r.txn(), TableVariables, indexID)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, v := range all {
		if strings.HasPrefix(v.Path, prefix) {
			out = append(out, v)
		}
	}
	return out, nil
}
