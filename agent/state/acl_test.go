package state

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

func TestACLPoliciesAndTokens(t *testing.T) {
	s, err := NewStateStore()
	must(t, err)
	must(t, s.UpsertACLPolicies(5, []*structs.ACLPolicy{{Name: "readonly", Rules: `namespace "default" { policy = "read" }`}}))
	must(t, s.UpsertACLPolicies(6, []*structs.ACLPolicy{{Name: "readonly", Description: "changed", Rules: "x"}}))
	p, err := s.ACLPolicyByName(nil, "readonly")
	must(t, err)
	if p == nil || p.CreateIndex != 5 || p.ModifyIndex != 6 || p.Description != "changed" {
		t.Fatalf("policy after update: %+v", p)
	}
	tok := &structs.ACLToken{AccessorID: "acc-1", SecretID: "sec-1", Type: structs.ACLClientToken, Policies: []string{"readonly"}}
	must(t, s.UpsertACLTokens(7, []*structs.ACLToken{tok}))
	if tok.CreateIndex != 0 {
		t.Error("the store changed the caller's token instead of a copy")
	}

	// A watcher of the secret wakes when the token is deleted: that is
	// how a blocking read notices, and how nothing can outlive a delete.
	ws := memdb.NewWatchSet()
	got, err := s.ACLTokenBySecretID(ws, "sec-1")
	must(t, err)
	if got == nil || got.AccessorID != "acc-1" || got.CreateIndex != 7 {
		t.Fatalf("token by secret: %+v", got)
	}
	if byAcc, _ := s.ACLTokenByAccessorID(nil, "acc-1"); byAcc != got {
		t.Error("the accessor and secret indexes disagree")
	}
	must(t, s.DeleteACLTokens(8, []string{"acc-1", "unknown"}))
	if ws.Watch(time.After(time.Second)) {
		t.Error("deleting the token did not wake its watcher")
	}
	if got, _ := s.ACLTokenBySecretID(nil, "sec-1"); got != nil {
		t.Errorf("deleted token still found: %+v", got)
	}
	if i, _ := s.Index(TableACLTokens); i != 8 {
		t.Errorf("token table index %d, want 8", i)
	}
	must(t, s.DeleteACLPolicies(9, []string{"readonly"}))
	if ps, _ := s.ACLPolicies(nil); len(ps) != 0 {
		t.Errorf("policies after delete: %d", len(ps))
	}
	if got, _ := s.ACLTokenBySecretID(nil, ""); got != nil {
		t.Error("an empty secret found a token")
	}
}

func TestACLBootstrapOnce(t *testing.T) {
	s, err := NewStateStore()
	must(t, err)
	mgmt := func(id string) *structs.ACLToken {
		return &structs.ACLToken{AccessorID: id, SecretID: "s-" + id, Type: structs.ACLManagementToken}
	}
	must(t, s.BootstrapACLToken(10, 0, mgmt("a")))
	err = s.BootstrapACLToken(11, 0, mgmt("b"))
	if !errors.Is(err, ErrACLBootstrapped) || err.Error() != "ACL bootstrap already done (reset index: 10)" {
		t.Fatalf("second bootstrap: %v", err)
	}
	if tok, _ := s.ACLTokenByAccessorID(nil, "b"); tok != nil {
		t.Error("a refused bootstrap stored its token")
	}
	// A reset names the index of the bootstrap it replaces.
	must(t, s.BootstrapACLToken(12, 10, mgmt("c")))
	if i, _ := s.ACLBootstrapIndex(); i != 12 {
		t.Errorf("bootstrap index %d, want 12", i)
	}
	if err := s.BootstrapACLToken(13, 10, mgmt("d")); !errors.Is(err, ErrACLBootstrapped) {
		t.Errorf("reset with a stale index: %v", err)
	}
}

// TestACLPersistRestore: tokens (with their secrets), policies and the
// bootstrap index survive a snapshot.
func TestACLPersistRestore(t *testing.T) {
	s, err := NewStateStore()
	must(t, err)
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.UpsertACLPolicies(3, []*structs.ACLPolicy{{Name: "p", Description: "d", Rules: "r"}}))
	must(t, s.BootstrapACLToken(4, 0, &structs.ACLToken{AccessorID: "m", SecretID: "ms", Name: "Bootstrap Token", Type: structs.ACLManagementToken, Global: true}))
	must(t, s.UpsertACLTokens(5, []*structs.ACLToken{{AccessorID: "c", SecretID: "cs", Type: structs.ACLClientToken,
		Policies: []string{"p"}, ExpirationTime: &exp, CreateTime: exp.Add(-time.Hour)}}))
	var buf bytes.Buffer
	must(t, s.Persist(&buf))
	r := mustRestore(t, buf.String())
	c, _ := r.ACLTokenBySecretID(nil, "cs")
	if c == nil || c.AccessorID != "c" || c.ExpirationTime == nil || !c.ExpirationTime.Equal(exp) ||
		len(c.Policies) != 1 || c.CreateIndex != 5 || !c.CreateTime.Equal(exp.Add(-time.Hour)) {
		t.Fatalf("client token after restore: %+v", c)
	}
	if m, _ := r.ACLTokenBySecretID(nil, "ms"); m == nil || m.Type != structs.ACLManagementToken || !m.Global {
		t.Fatalf("management token after restore: %+v", m)
	}
	if p, _ := r.ACLPolicyByName(nil, "p"); p == nil || p.Rules != "r" || p.CreateIndex != 3 {
		t.Fatalf("policy after restore: %+v", p)
	}
	if i, _ := r.ACLBootstrapIndex(); i != 4 {
		t.Errorf("bootstrap index after restore %d, want 4", i)
	}
	if err := r.BootstrapACLToken(6, 0, &structs.ACLToken{AccessorID: "x", SecretID: "y", Type: structs.ACLManagementToken}); !errors.Is(err, ErrACLBootstrapped) {
		t.Errorf("bootstrap after restore: %v", err)
	}
}
