package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"drover/agent/acl"
	droverrpc "drover/agent/rpc"
	"drover/agent/structs"
	"drover/testutil/fill"
)

// aclEntryTypes are the ACL log types (numbered from 64, see acl.go).
var aclEntryTypes = []struct {
	t   MessageType
	new func() interface{}
}{
	{ACLPolicyUpsertRequestType, func() interface{} { return new(ACLPolicyUpsertRequest) }},
	{ACLPolicyDeleteRequestType, func() interface{} { return new(ACLPolicyDeleteRequest) }},
	{ACLTokenUpsertRequestType, func() interface{} { return new(ACLTokenUpsertRequest) }},
	{ACLTokenDeleteRequestType, func() interface{} { return new(ACLTokenDeleteRequest) }},
	{ACLTokenBootstrapRequestType, func() interface{} { return new(ACLTokenBootstrapRequest) }},
}

// TestACLEntries_Codec: every ACL request round-trips through a log entry
// unchanged, and the FSM knows every ACL type (and none after them).
func TestACLEntries_Codec(t *testing.T) {
	for i, et := range aclEntryTypes {
		if et.t != MessageType(64+i) {
			t.Fatalf("aclEntryTypes[%d] is type %d, want %d", i, et.t, 64+i)
		}
		in := et.new()
		fill.Fill(in, 1)
		buf, err := encode(et.t, in)
		if err != nil {
			t.Fatal(err)
		}
		out := et.new()
		if err := decodeEntry(buf[1:], out); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, out) {
			t.Errorf("%T round trip differs:\n got %s\nwant %s", in, dump(out), dump(in))
		}
	}
	f, err := newFSM()
	if err != nil {
		t.Fatal(err)
	}
	next := byte(64 + len(aclEntryTypes))
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "unknown log entry type") {
			t.Fatalf("type %d: want the unknown-type panic, got %v", next, r)
		}
	}()
	f.Apply(&raft.Log{Index: 1, Data: []byte{next, 0x80}})
}

func aclServer(t *testing.T, dataDir string) *Server {
	t.Helper()
	s := testServer(t, dataDir)
	s.config.ACLEnabled = true
	return s
}

func mustPolicy(t *testing.T, s *Server, mgmt, name, rules string) {
	t.Helper()
	if _, err := s.UpsertACLPolicies(&ACLPolicyUpsertArgs{AuthToken: mgmt,
		Policies: []*structs.ACLPolicy{{Name: name, Rules: rules}}}); err != nil {
		t.Fatalf("policy %s: %v", name, err)
	}
}

func mustToken(t *testing.T, s *Server, mgmt string, tok *structs.ACLToken, ttl time.Duration) *structs.ACLToken {
	t.Helper()
	r, err := s.UpsertACLToken(&ACLTokenUpsertArgs{AuthToken: mgmt, Token: tok, ExpirationTTL: ttl})
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return r.Token
}

// TestACL_BootstrapOnce: the first bootstrap returns a management token;
// the second is refused with the compatible message naming the reset
// index; writing that index to the reset file allows one more.
func TestACL_BootstrapOnce(t *testing.T) {
	dir := t.TempDir()
	s := aclServer(t, dir)
	defer s.Shutdown()
	r, err := s.BootstrapACL(&ACLBootstrapArgs{})
	if err != nil {
		t.Fatal(err)
	}
	tok := r.Token
	if tok.Type != structs.ACLManagementToken || tok.Name != "Bootstrap Token" || !tok.Global ||
		tok.SecretID == "" || tok.AccessorID == "" || tok.CreateIndex == 0 {
		t.Fatalf("bootstrap token: %+v", tok)
	}
	_, err = s.BootstrapACL(&ACLBootstrapArgs{})
	want := fmt.Sprintf("ACL bootstrap already done (reset index: %d)", tok.CreateIndex)
	if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("second bootstrap: %v, want %q (invalid request)", err, want)
	}
	reset := filepath.Join(dir, "server", aclBootstrapResetFile)
	if err := os.WriteFile(reset, []byte(fmt.Sprintf("%d\n", tok.CreateIndex)), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "2b778dd9-f5f1-6f29-b4b4-9a5fa948757a"
	r2, err := s.BootstrapACL(&ACLBootstrapArgs{BootstrapSecret: secret})
	if err != nil {
		t.Fatalf("bootstrap after reset: %v", err)
	}
	if r2.Token.SecretID != secret {
		t.Errorf("operator secret not used: %s", r2.Token.SecretID)
	}
	if _, err := s.BootstrapACL(&ACLBootstrapArgs{}); err == nil {
		t.Error("a stale reset file allowed a third bootstrap")
	}
}

// TestACL_ResolveToken: anonymous gets the anonymous policy; an unknown,
// expired or deleted secret is refused at once; a client token gets its
// policies; management gets everything.
func TestACL_ResolveToken(t *testing.T) {
	s := aclServer(t, "")
	defer s.Shutdown()
	r, err := s.BootstrapACL(&ACLBootstrapArgs{})
	if err != nil {
		t.Fatal(err)
	}
	mgmt := r.Token.SecretID

	anon, _, err := s.ResolveToken("")
	if err != nil || anon.AllowNamespaceOperation("default", acl.CapListJobs) {
		t.Fatalf("anonymous without an anonymous policy: %v, allowed to list", err)
	}
	mustPolicy(t, s, mgmt, "anonymous", `namespace "default" { policy = "list" }`)
	if anon, _, _ = s.ResolveToken(""); !anon.AllowNamespaceOperation("default", acl.CapListJobs) ||
		anon.AllowNamespaceOperation("default", acl.CapReadJob) {
		t.Error("anonymous does not get exactly the anonymous policy")
	}

	mustPolicy(t, s, mgmt, "readonly", `namespace "default" { policy = "read" }`)
	client := mustToken(t, s, mgmt, &structs.ACLToken{Name: "ro", Policies: []string{"readonly"}}, 0)
	if client.Type != structs.ACLClientToken || client.SecretID == "" {
		t.Fatalf("client token: %+v", client)
	}
	a, got, err := s.ResolveToken(client.SecretID)
	if err != nil || got.AccessorID != client.AccessorID || !a.AllowNamespaceOperation("default", acl.CapReadJob) ||
		a.AllowNamespaceOperation("default", acl.CapSubmitJob) {
		t.Fatalf("client token resolves to %v (err %v)", a, err)
	}
	if _, _, err := s.ResolveToken(structs.GenerateUUID()); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("unknown secret: %v", err)
	}

	short := mustToken(t, s, mgmt, &structs.ACLToken{Name: "short", Policies: []string{"readonly"}}, 300*time.Millisecond)
	if short.ExpirationTime == nil || !short.ExpirationTime.Equal(short.CreateTime.Add(300*time.Millisecond)) {
		t.Fatalf("ttl token expiration: %v (created %v)", short.ExpirationTime, short.CreateTime)
	}
	if _, _, err := s.ResolveToken(short.SecretID); err != nil {
		t.Fatalf("fresh ttl token refused: %v", err)
	}
	waitFor(t, 5*time.Second, "the token to expire", func() (bool, string) {
		_, _, err := s.ResolveToken(short.SecretID)
		return errors.Is(err, ErrPermissionDenied), fmt.Sprint(err)
	})

	if _, err := s.DeleteACLTokens(&ACLTokenDeleteArgs{AuthToken: mgmt, AccessorIDs: []string{client.AccessorID}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ResolveToken(client.SecretID); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("deleted token: %v", err)
	}

	// Writes need management.
	ro := mustToken(t, s, mgmt, &structs.ACLToken{Name: "ro2", Policies: []string{"readonly"}}, 0)
	if _, err := s.UpsertACLPolicies(&ACLPolicyUpsertArgs{AuthToken: ro.SecretID,
		Policies: []*structs.ACLPolicy{{Name: "x", Rules: `node { policy = "read" }`}}}); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("client token wrote a policy: %v", err)
	}
	if _, err := s.UpsertACLToken(&ACLTokenUpsertArgs{AuthToken: "", Token: &structs.ACLToken{Type: "management"}}); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("anonymous created a token: %v", err)
	}
	_, err = s.UpsertACLPolicies(&ACLPolicyUpsertArgs{AuthToken: mgmt,
		Policies: []*structs.ACLPolicy{{Name: "bad", Rules: "namespace \"default\" {\n  policy = \"reed\"\n}\n"}}})
	if err == nil || !strings.Contains(err.Error(), "Failed to parse policy: bad:2,12-18:") {
		t.Errorf("malformed policy: %v", err)
	}
}

// TestACL_RPCEnforced: the write RPCs check the token they carry, so a
// caller on the RPC port cannot go around the HTTP API's checks.
func TestACL_RPCEnforced(t *testing.T) {
	s := aclServer(t, "")
	defer s.Shutdown()
	r, err := s.BootstrapACL(&ACLBootstrapArgs{})
	if err != nil {
		t.Fatal(err)
	}
	mgmt := r.Token.SecretID
	mustPolicy(t, s, mgmt, "readonly", `namespace "default" { policy = "read" }`)
	ro := mustToken(t, s, mgmt, &structs.ACLToken{Name: "ro", Policies: []string{"readonly"}}, 0)

	pool := droverrpc.NewPool(time.Second)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	call := func(method string, args, reply interface{}) error {
		return RemoteError(pool.Call(ctx, s.RPCAddr(), method, args, reply))
	}
	job := parseJob(t, "seed004.nomad")
	for _, secret := range []string{"", ro.SecretID, structs.GenerateUUID()} {
		var reply JobRegisterResponse
		err := call("Job.Register", &JobRegisterArgs{Job: job, AuthToken: secret}, &reply)
		if !errors.Is(err, ErrPermissionDenied) || err.Error() != "Permission denied" {
			t.Errorf("Job.Register with %q: %v", secret[:min(len(secret), 4)], err)
		}
	}
	var gc GenericResponse
	if err := call("System.GarbageCollect", &GCArgs{AuthToken: ro.SecretID}, &gc); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("System.GarbageCollect with a client token: %v", err)
	}
	var drain NodeDrainResponse
	if err := call("Node.UpdateDrain", &NodeDrainArgs{NodeID: "x", AuthToken: ro.SecretID}, &drain); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("Node.UpdateDrain with a client token: %v", err)
	}
	var ok JobRegisterResponse
	if err := call("Job.Register", &JobRegisterArgs{Job: job, AuthToken: mgmt}, &ok); err != nil || ok.JobModifyIndex == 0 {
		t.Errorf("Job.Register with management: %v %+v", err, ok)
	}
	var res ACLResolveResponse
	if err := call("ACL.ResolveToken", &ACLResolveArgs{SecretID: ro.SecretID}, &res); err != nil ||
		!res.Enabled || res.Denied || res.Management || len(res.Rules) != 1 {
		t.Errorf("ACL.ResolveToken: %v %+v", err, res)
	}
	res = ACLResolveResponse{}
	if err := call("ACL.ResolveToken", &ACLResolveArgs{SecretID: "nope"}, &res); err != nil || !res.Denied {
		t.Errorf("ACL.ResolveToken of an unknown secret: %v %+v", err, res)
	}
}
