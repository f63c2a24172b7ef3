package testcluster

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestACL_DeletedTokenRefusedOnEveryServer: a token deleted through one
// server is refused by every server as soon as the delete is replicated
// to it. Tokens are looked up in replicated state at each request, so
// there is no cache for a delete to outlive.
func TestACL_DeletedTokenRefusedOnEveryServer(t *testing.T) {
	c := New(t, 3, 0, Options{AgentHCL: "acl {\n  enabled = true\n}\n"})
	leader := c.Leader()
	followers := c.Followers()
	if leader == nil || len(followers) != 2 {
		t.Fatalf("want a leader and two followers, got %v and %d", leader, len(followers))
	}
	// Bootstrap through a follower: it forwards to the leader.
	boot, _, err := followers[0].API(t).ACLTokens().Bootstrap(nil)
	if err != nil {
		t.Fatal(err)
	}
	mgmt := func(m *Member) *api.Client {
		cl := m.API(t)
		cl.SetSecretID(boot.SecretID)
		return cl
	}
	if _, err := mgmt(followers[1]).ACLPolicies().Upsert(&api.ACLPolicy{Name: "readonly",
		Rules: `namespace "default" { policy = "read" }`}, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := mgmt(leader).ACLTokens().Create(&api.ACLToken{Name: "ro", Type: "client", Policies: []string{"readonly"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every server accepts the token: a follower that has not applied
	// its creation yet catches up with the leader before refusing.
	for _, m := range c.Servers {
		cl := m.API(t)
		cl.SetSecretID(tok.SecretID)
		if _, _, err := cl.Jobs().List(&api.QueryOptions{AllowStale: true}); err != nil {
			t.Fatalf("%s refuses a live token: %v", m.Name, err)
		}
	}

	// Delete it through one follower; the write returns once the leader
	// has committed it. Then, on every server, once its state has the
	// delete (its raft index reaches the write's), the token is refused,
	// even for stale reads that never ask the leader.
	wm, err := mgmt(followers[0]).ACLTokens().Delete(tok.AccessorID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wm.LastIndex == 0 {
		t.Fatal("the delete reported no index")
	}
	for _, m := range c.Servers {
		srv := m.Agent().Server()
		waitFor(t, 10*time.Second, m.Name+" applying the delete", func() (bool, string) {
			i, _ := srv.State().LatestIndex()
			return i >= wm.LastIndex, ""
		})
		cl := m.API(t)
		cl.SetSecretID(tok.SecretID)
		_, _, err := cl.Jobs().List(&api.QueryOptions{AllowStale: true})
		if err == nil || !strings.Contains(err.Error(), "403 (Permission denied)") {
			t.Errorf("%s after the delete: %v, want 403 Permission denied", m.Name, err)
		}
	}
}
