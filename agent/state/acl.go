package state

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// bootstrapIndexKey is the index-table entry that records the raft index
// at which ACLs were bootstrapped: it is the "reset index" an operator
// quotes to bootstrap again. It is part of the snapshot format.
const bootstrapIndexKey = "acl_token_bootstrap"

// ErrACLBootstrapped refuses a second bootstrap; the error returned is an
// *ACLBootstrappedError, which matches it with errors.Is.
var ErrACLBootstrapped = errors.New("ACL bootstrap already done")

// ACLBootstrappedError says ACLs were bootstrapped, and at which index.
type ACLBootstrappedError struct{ ResetIndex uint64 }

func (e *ACLBootstrappedError) Error() string {
	return fmt.Sprintf("ACL bootstrap already done (reset index: %d)", e.ResetIndex)
}

// Unwrap makes the error match ErrACLBootstrapped.
func (e *ACLBootstrappedError) Unwrap() error { return ErrACLBootstrapped }

// UpsertACLPolicies stores policies, keeping the CreateIndex of one that
// already exists.
func (s *StateStore) UpsertACLPolicies(index uint64, policies []*structs.ACLPolicy) error {
	return s.update(index, func(w *writer) error {
		for _, p := range policies {
			existing, err := w.txn.First(TableACLPolicies, indexID, p.Name)
			if err != nil {
				return fmt.Errorf("acl policy lookup: %w", err)
			}
			c := *p
			c.CreateIndex, c.ModifyIndex = index, index
			if existing != nil {
				c.CreateIndex = existing.(*structs.ACLPolicy).CreateIndex
			}
			if err := w.insert(TableACLPolicies, &c); err != nil {
				return fmt.Errorf("upsert acl policy: %w", err)
			}
		}
		return nil
	})
}

// DeleteACLPolicies deletes policies by name; names not stored are
// skipped (the server checks before it proposes the delete).
func (s *StateStore) DeleteACLPolicies(index uint64, names []string) error {
	return s.update(index, func(w *writer) error {
		for _, name := range names {
			existing, err := w.txn.First(TableACLPolicies, indexID, name)
			if err != nil {
				return fmt.Errorf("acl policy lookup: %w", err)
			}
			if existing == nil {
				continue
			}
			if err := w.delete(TableACLPolicies, existing); err != nil {
				return fmt.Errorf("delete acl policy: %w", err)
			}
		}
		w.dirty[TableACLPolicies] = true
		return nil
	})
}

// UpsertACLTokens stores tokens, keeping the CreateIndex of one that
// already exists.
func (s *StateStore) UpsertACLTokens(index uint64, tokens []*structs.ACLToken) error {
	return s.update(index, func(w *writer) error {
		return upsertTokens(w, index, tokens)
	})
}

func upsertTokens(w *writer, index uint64, tokens []*structs.ACLToken) error {
	for _, t := range tokens {
		existing, err := w.txn.First(TableACLTokens, indexID, t.AccessorID)
		if err != nil {
			return fmt.Errorf("acl token lookup: %w", err)
		}
		c := t.Copy()
		c.CreateIndex, c.ModifyIndex = index, index
		if existing != nil {
			c.CreateIndex = existing.(*structs.ACLToken).CreateIndex
		}
		if err := w.insert(TableACLTokens, c); err != nil {
			return fmt.Errorf("upsert acl token: %w", err)
		}
	}
	return nil
}

// DeleteACLTokens deletes tokens by accessor ID; unknown ones are
// skipped.
func (s *StateStore) DeleteACLTokens(index uint64, accessorIDs []string) error {
	return s.update(index, func(w *writer) error {
		for _, id := range accessorIDs {
			existing, err := w.txn.First(TableACLTokens, indexID, id)
			if err != nil {
				return fmt.Errorf("acl token lookup: %w", err)
			}
			if existing == nil {
				continue
			}
			if err := w.delete(TableACLTokens, existing); err != nil {
				return fmt.Errorf("delete acl token: %w", err)
			}
		}
		w.dirty[TableACLTokens] = true
		return nil
	})
}

// BootstrapACLToken stores the first management token and records the
// bootstrap at index. It refuses when ACLs were bootstrapped already,
// unless resetIndex names that bootstrap's index (an operator's reset).
// The check is here, in the one writer, so that two racing bootstraps
// cannot both succeed.
func (s *StateStore) BootstrapACLToken(index, resetIndex uint64, token *structs.ACLToken) error {
	return s.update(index, func(w *writer) error {
		done, err := tableIndex(w.txn, bootstrapIndexKey)
		if err != nil {
			return err
		}
		if done != 0 && done != resetIndex {
			return &ACLBootstrappedError{ResetIndex: done}
		}
		if err := upsertTokens(w, index, []*structs.ACLToken{token}); err != nil {
			return err
		}
		return setIndex(w.txn, bootstrapIndexKey, index)
	})
}

// ACLBootstrapIndex is the raft index ACLs were bootstrapped at, 0 if
// they never were.
func (r *reader) ACLBootstrapIndex() (uint64, error) {
	return tableIndex(r.txn(), bootstrapIndexKey)
}

// ACLPolicyByName returns the policy, or nil.
func (r *reader) ACLPolicyByName(ws memdb.WatchSet, name string) (*structs.ACLPolicy, error) {
	obj, err := first(ws, r.txn(), TableACLPolicies, indexID, name)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.ACLPolicy), nil
}

// ACLPolicies returns every policy, by name.
func (r *reader) ACLPolicies(ws memdb.WatchSet) ([]*structs.ACLPolicy, error) {
	return list[*structs.ACLPolicy](ws, r.txn(), TableACLPolicies, indexID)
}

// ACLPoliciesByNamePrefix returns the policies whose name starts with
// prefix, by name.
func (r *reader) ACLPoliciesByNamePrefix(ws memdb.WatchSet, prefix string) ([]*structs.ACLPolicy, error) {
	return list[*structs.ACLPolicy](ws, r.txn(), TableACLPolicies, indexID+"_prefix", prefix)
}

// ACLTokenByAccessorID returns the token, or nil.
func (r *reader) ACLTokenByAccessorID(ws memdb.WatchSet, id string) (*structs.ACLToken, error) {
	obj, err := first(ws, r.txn(), TableACLTokens, indexID, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.ACLToken), nil
}

// ACLTokenBySecretID returns the token a request's secret names, or nil.
func (r *reader) ACLTokenBySecretID(ws memdb.WatchSet, secret string) (*structs.ACLToken, error) {
	if secret == "" {
		return nil, nil
	}
	obj, err := first(ws, r.txn(), TableACLTokens, indexSecret, secret)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.ACLToken), nil
}

// ACLTokens returns every token, by accessor ID.
func (r *reader) ACLTokens(ws memdb.WatchSet) ([]*structs.ACLToken, error) {
	return list[*structs.ACLToken](ws, r.txn(), TableACLTokens, indexID)
}

// ACLTokensByAccessorPrefix returns the tokens whose accessor ID starts
// with prefix.
func (r *reader) ACLTokensByAccessorPrefix(ws memdb.WatchSet, prefix string) ([]*structs.ACLToken, error) {
	return list[*structs.ACLToken](ws, r.txn(), TableACLTokens, indexID+"_prefix", prefix)
}
