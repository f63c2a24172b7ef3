package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"drover/agent/acl"
	"drover/agent/state"
	"drover/agent/structs"
	"drover/agent/wire"
)

// ACL raft log types. They start at 64, apart from the types before
// them, so that types added meanwhile on other lines of work cannot take
// the same numbers; like every type, they are never renumbered.
const (
	ACLPolicyUpsertRequestType MessageType = iota + 64
	ACLPolicyDeleteRequestType
	ACLTokenUpsertRequestType
	ACLTokenDeleteRequestType
	ACLTokenBootstrapRequestType
)

// ACLPolicyUpsertRequest writes policies.
type ACLPolicyUpsertRequest struct{ Policies []*structs.ACLPolicy }

// ACLPolicyDeleteRequest deletes policies by name.
type ACLPolicyDeleteRequest struct{ Names []string }

// ACLTokenUpsertRequest writes tokens, their IDs and times stamped by the
// leader.
type ACLTokenUpsertRequest struct{ Tokens []*structs.ACLToken }

// ACLTokenDeleteRequest deletes tokens by accessor ID.
type ACLTokenDeleteRequest struct{ AccessorIDs []string }

// ACLTokenBootstrapRequest stores the first management token, unless ACLs
// were bootstrapped already (ResetIndex names the bootstrap an operator
// resets).
type ACLTokenBootstrapRequest struct {
	Token      *structs.ACLToken
	ResetIndex uint64
}

// applyACL applies the ACL entries (fsm.Apply's cases for them).
func applyACL(t MessageType, st *state.StateStore, index uint64, decode func(v interface{})) error {
	switch t {
	case ACLPolicyUpsertRequestType:
		var req ACLPolicyUpsertRequest
		decode(&req)
		return st.UpsertACLPolicies(index, req.Policies)
	case ACLPolicyDeleteRequestType:
		var req ACLPolicyDeleteRequest
		decode(&req)
		return st.DeleteACLPolicies(index, req.Names)
	case ACLTokenUpsertRequestType:
		var req ACLTokenUpsertRequest
		decode(&req)
		return st.UpsertACLTokens(index, req.Tokens)
	case ACLTokenDeleteRequestType:
		var req ACLTokenDeleteRequest
		decode(&req)
		return st.DeleteACLTokens(index, req.AccessorIDs)
	case ACLTokenBootstrapRequestType:
		var req ACLTokenBootstrapRequest
		decode(&req)
		return st.BootstrapACLToken(index, req.ResetIndex, req.Token)
	}
	panic(fmt.Sprintf("fsm: applyACL called with type %d", t))
}

// errPermissionDenied is the refusal users see: 403 with the compatible
// API's text, whatever the reason (no token, an unknown, expired or
// deleted one, or one without the capability), so that a refusal tells an
// outsider nothing about which tokens exist.
func errPermissionDenied() error { return errorf(ErrPermissionDenied, "Permission denied") }

// ACLEnabled reports whether requests are checked.
func (s *Server) ACLEnabled() bool { return s.config.ACLEnabled }

// ResolveToken returns what the holder of secret may do, checked against
// this server's state as it is now: a token deleted by a write this
// server has applied is refused at once, and an expired one is refused
// from the moment it expires (by this server's clock). No secret is the
// anonymous token, whose rights are the "anonymous" policy's (none when
// there is no such policy); an unknown or expired secret is refused, not
// downgraded to anonymous. With ACLs disabled everyone is management. The
// token is nil for anonymous and when ACLs are disabled.
func (s *Server) ResolveToken(secret string) (*acl.ACL, *structs.ACLToken, error) {
	if !s.config.ACLEnabled {
		return acl.Management(), nil, nil
	}
	snap := s.State().Snapshot()
	if secret == "" {
		a, err := compileACL(snap, []string{structs.AnonymousPolicy})
		return a, nil, err
	}
	tok, err := snap.ACLTokenBySecretID(nil, secret)
	if err != nil {
		return nil, nil, err
	}
	if tok == nil {
		return nil, nil, errPermissionDenied()
	}
	if tok.Expired(time.Now()) {
		return nil, nil, errPermissionDenied()
	}
	if tok.Type == structs.ACLManagementToken {
		return acl.Management(), tok, nil
	}
	a, err := compileACL(snap, tok.Policies)
	return a, tok, err
}

// ResolveTokenFresh is ResolveToken for a request that arrived at this
// server: a secret this server does not know yet may belong to a token
// the leader has just created, so a follower first catches up with the
// leader and looks again before refusing.
func (s *Server) ResolveTokenFresh(secret string) (*acl.ACL, *structs.ACLToken, error) {
	a, tok, err := s.ResolveToken(secret)
	if err == nil || secret == "" || !errors.Is(err, ErrPermissionDenied) || s.IsLeader() {
		return a, tok, err
	}
	if cerr := s.ConsistentRead(s.shutdownCtx); cerr != nil {
		return nil, nil, err
	}
	return s.ResolveToken(secret)
}

// compileACL builds the ACL of a token's policies, parsing their rules;
// a policy that no longer exists grants nothing.
func compileACL(snap *state.StateSnapshot, names []string) (*acl.ACL, error) {
	var policies []*acl.Policy
	for _, name := range names {
		p, err := snap.ACLPolicyByName(nil, name)
		if err != nil {
			return nil, err
		}
		if p == nil {
			continue
		}
		parsed, err := acl.Parse(p.Name, []byte(p.Rules))
		if err != nil {
			// Stored rules were checked when written; one that no
			// longer parses grants nothing rather than failing every
			// request of the token.
			continue
		}
		policies = append(policies, parsed)
	}
	return acl.New(policies), nil
}

// The authorize helpers check an RPC's token on the server executing it.
// They pass everything when ACLs are disabled.

func (s *Server) authorize(secret string, allowed func(*acl.ACL) bool) error {
	if !s.config.ACLEnabled {
		return nil
	}
	a, _, err := s.ResolveTokenFresh(secret)
	if err != nil {
		return err
	}
	if !allowed(a) {
		return errPermissionDenied()
	}
	return nil
}

func (s *Server) authorizeNamespace(secret, ns, capability string) error {
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	return s.authorize(secret, func(a *acl.ACL) bool { return a.AllowNamespaceOperation(ns, capability) })
}

func (s *Server) authorizeNodeWrite(secret string) error {
	return s.authorize(secret, (*acl.ACL).AllowNodeWrite)
}

func (s *Server) authorizeManagement(secret string) error {
	return s.authorize(secret, (*acl.ACL).IsManagement)
}

// authorizeDeployment checks submit-job in the deployment's namespace; an
// unknown deployment is left to the endpoint to report.
func (s *Server) authorizeDeployment(secret, id string) error {
	if !s.config.ACLEnabled {
		return nil
	}
	d, err := s.State().DeploymentByID(nil, id)
	if err != nil {
		return err
	}
	ns := structs.DefaultNamespace
	if d != nil {
		ns = d.Namespace
	}
	return s.authorizeNamespace(secret, ns, acl.CapSubmitJob)
}

// authorizeAllocLifecycle checks alloc-lifecycle in the namespace of the
// allocation (named by ID or unique prefix).
func (s *Server) authorizeAllocLifecycle(secret, id string) error {
	if !s.config.ACLEnabled {
		return nil
	}
	snap := s.State().Snapshot()
	a, err := snap.AllocByID(nil, id)
	if err != nil {
		return err
	}
	if a == nil && len(id) >= 2 {
		if matches, err := snap.AllocsByIDPrefix(nil, id); err == nil && len(matches) == 1 {
			a = matches[0]
		}
	}
	ns := structs.DefaultNamespace
	if a != nil {
		ns = a.Namespace
	}
	return s.authorizeNamespace(secret, ns, acl.CapAllocLifecycle)
}

// ACL writes. Each is forwarded to the leader, which checks the caller's
// token and replicates the change.

// ACLBootstrapArgs bootstraps ACLs (ACL.Bootstrap). It needs no token:
// there is none before it.
type ACLBootstrapArgs struct {
	// BootstrapSecret, when set, is the secret the management token gets
	// (an operator-chosen one) instead of a random one.
	BootstrapSecret string
}

// ACLPolicyUpsertArgs writes policies (ACL.UpsertPolicies).
type ACLPolicyUpsertArgs struct {
	Policies  []*structs.ACLPolicy
	AuthToken string
}

// ACLPolicyDeleteArgs deletes policies (ACL.DeletePolicies).
type ACLPolicyDeleteArgs struct {
	Names     []string
	AuthToken string
}

// ACLTokenUpsertArgs creates a token (no AccessorID) or updates one
// (ACL.UpsertToken). ExpirationTTL, on creation, sets the expiration
// relative to the creation time.
type ACLTokenUpsertArgs struct {
	Token         *structs.ACLToken
	ExpirationTTL time.Duration
	AuthToken     string
}

// ACLTokenDeleteArgs deletes tokens (ACL.DeleteTokens).
type ACLTokenDeleteArgs struct {
	AccessorIDs []string
	AuthToken   string
}

// ACLTokenResponse is the token a write stored, secret included.
type ACLTokenResponse struct {
	Token *structs.ACLToken
	Index uint64
}

// aclBootstrapResetFile is where an operator writes the reset index a
// refused bootstrap reported, to bootstrap again (a lost management
// token): <data_dir>/server/acl-bootstrap-reset on the leader.
const aclBootstrapResetFile = "acl-bootstrap-reset"

// BootstrapACL creates the first management token. It works once: a
// second call is refused with the compatible API's message naming the
// reset index, unless that index was written to the reset file.
func (s *Server) BootstrapACL(args *ACLBootstrapArgs) (*ACLTokenResponse, error) {
	if !s.config.ACLEnabled {
		return nil, errorf(ErrInvalidRequest, "ACL support disabled")
	}
	var fwd ACLTokenResponse
	if done, err := s.forward("ACL.Bootstrap", args, &fwd); done {
		return &fwd, err
	}
	reset := s.bootstrapResetIndex()
	if done, err := s.State().ACLBootstrapIndex(); err != nil {
		return nil, err
	} else if done != 0 && done != reset {
		return nil, errorf(ErrInvalidRequest, "%s", (&state.ACLBootstrappedError{ResetIndex: done}).Error())
	}
	secret := args.BootstrapSecret
	if secret == "" {
		secret = structs.GenerateUUID()
	} else if !isUUID(secret) {
		return nil, errorf(ErrInvalidRequest, "invalid acl token")
	}
	tok := &structs.ACLToken{AccessorID: structs.GenerateUUID(), SecretID: secret, Name: structs.BootstrapTokenName,
		Type: structs.ACLManagementToken, Global: true, CreateTime: now().UTC()}
	index, err := s.apply(ACLTokenBootstrapRequestType, &ACLTokenBootstrapRequest{Token: tok, ResetIndex: reset})
	if err != nil {
		var be *state.ACLBootstrappedError
		if errors.As(err, &be) {
			return nil, errorf(ErrInvalidRequest, "%s", be.Error())
		}
		return nil, err
	}
	s.logger.Printf("[INFO] acl: bootstrapped; management token accessor %s", tok.AccessorID)
	tok.CreateIndex, tok.ModifyIndex = index, index
	return &ACLTokenResponse{Token: tok, Index: index}, nil
}

// bootstrapResetIndex reads the reset file (0 when there is none).
func (s *Server) bootstrapResetIndex() uint64 {
	if s.config.DataDir == "" {
		return 0
	}
	raw, err := os.ReadFile(filepath.Join(s.config.DataDir, "server", aclBootstrapResetFile))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		s.logger.Printf("[WARN] acl: ignoring %s: not an index: %v", aclBootstrapResetFile, err)
		return 0
	}
	return n
}

// UpsertACLPolicies writes policies, refusing any whose rules do not
// parse (with the position of the problem). Management only.
func (s *Server) UpsertACLPolicies(args *ACLPolicyUpsertArgs) (uint64, error) {
	if !s.config.ACLEnabled {
		return 0, errorf(ErrInvalidRequest, "ACL support disabled")
	}
	if len(args.Policies) == 0 {
		return 0, errorf(ErrInvalidRequest, "must specify as least one policy")
	}
	for _, p := range args.Policies {
		if p == nil {
			return 0, errorf(ErrInvalidRequest, "missing policy")
		}
		if err := structs.ValidatePolicyName(p.Name); err != nil {
			return 0, errorf(ErrInvalidRequest, "%v", err)
		}
		if len(p.Description) > 256 {
			return 0, errorf(ErrInvalidRequest, "description longer than 256 characters")
		}
		if _, err := acl.Parse(p.Name, []byte(p.Rules)); err != nil {
			return 0, errorf(ErrInvalidRequest, "Failed to parse policy: %v", err)
		}
	}
	var fwd GenericResponse
	if done, err := s.forward("ACL.UpsertPolicies", args, &fwd); done {
		return fwd.Index, err
	}
	if err := s.authorizeManagement(args.AuthToken); err != nil {
		return 0, err
	}
	return s.apply(ACLPolicyUpsertRequestType, &ACLPolicyUpsertRequest{Policies: args.Policies})
}

// DeleteACLPolicies deletes policies; an unknown name is 404. Management
// only.
func (s *Server) DeleteACLPolicies(args *ACLPolicyDeleteArgs) (uint64, error) {
	if !s.config.ACLEnabled {
		return 0, errorf(ErrInvalidRequest, "ACL support disabled")
	}
	var fwd GenericResponse
	if done, err := s.forward("ACL.DeletePolicies", args, &fwd); done {
		return fwd.Index, err
	}
	if err := s.authorizeManagement(args.AuthToken); err != nil {
		return 0, err
	}
	for _, name := range args.Names {
		p, err := s.State().ACLPolicyByName(nil, name)
		if err != nil {
			return 0, err
		}
		if p == nil {
			return 0, errorf(ErrNotFound, "ACL policy not found")
		}
	}
	return s.apply(ACLPolicyDeleteRequestType, &ACLPolicyDeleteRequest{Names: args.Names})
}

// UpsertACLToken creates a token (stamping its IDs and times here, on
// the leader, before replication) or updates the name, type and policies
// of an existing one. Management only.
func (s *Server) UpsertACLToken(args *ACLTokenUpsertArgs) (*ACLTokenResponse, error) {
	if !s.config.ACLEnabled {
		return nil, errorf(ErrInvalidRequest, "ACL support disabled")
	}
	if args.Token == nil {
		return nil, errorf(ErrInvalidRequest, "missing token")
	}
	var fwd ACLTokenResponse
	if done, err := s.forward("ACL.UpsertToken", args, &fwd); done {
		return &fwd, err
	}
	if err := s.authorizeManagement(args.AuthToken); err != nil {
		return nil, err
	}
	in := args.Token
	var tok *structs.ACLToken
	if in.AccessorID == "" {
		tok = &structs.ACLToken{AccessorID: structs.GenerateUUID(), SecretID: structs.GenerateUUID(),
			Name: in.Name, Type: in.Type, Policies: in.Policies, Global: in.Global, CreateTime: now().UTC()}
		if tok.Type == "" {
			tok.Type = structs.ACLClientToken
		}
		switch {
		case in.ExpirationTime != nil && args.ExpirationTTL != 0:
			return nil, errorf(ErrInvalidRequest, "cannot set both expiration TTL and time")
		case args.ExpirationTTL < 0:
			return nil, errorf(ErrInvalidRequest, "expiration TTL cannot be negative")
		case args.ExpirationTTL > 0:
			e := tok.CreateTime.Add(args.ExpirationTTL)
			tok.ExpirationTime = &e
		case in.ExpirationTime != nil:
			e := in.ExpirationTime.UTC()
			tok.ExpirationTime = &e
		}
	} else {
		existing, err := s.State().ACLTokenByAccessorID(nil, in.AccessorID)
		if err != nil {
			return nil, err
		}
		if existing == nil {
			return nil, errorf(ErrNotFound, "cannot find token %s", in.AccessorID)
		}
		tok = existing.Copy()
		tok.Name, tok.Policies = in.Name, append([]string(nil), in.Policies...)
		if in.Type != "" {
			tok.Type = in.Type
		}
	}
	if err := tok.Validate(); err != nil {
		return nil, errorf(ErrInvalidRequest, "%v", err)
	}
	index, err := s.apply(ACLTokenUpsertRequestType, &ACLTokenUpsertRequest{Tokens: []*structs.ACLToken{tok}})
	if err != nil {
		return nil, err
	}
	stored, err := s.State().ACLTokenByAccessorID(nil, tok.AccessorID)
	if err != nil || stored == nil {
		return nil, fmt.Errorf("token %s not found after writing it: %v", tok.AccessorID, err)
	}
	return &ACLTokenResponse{Token: stored.Copy(), Index: index}, nil
}

// DeleteACLTokens deletes tokens; an unknown accessor is 404. Management
// only. Every server refuses a deleted token as soon as it has applied
// the delete: tokens are looked up in state at each request.
func (s *Server) DeleteACLTokens(args *ACLTokenDeleteArgs) (uint64, error) {
	if !s.config.ACLEnabled {
		return 0, errorf(ErrInvalidRequest, "ACL support disabled")
	}
	var fwd GenericResponse
	if done, err := s.forward("ACL.DeleteTokens", args, &fwd); done {
		return fwd.Index, err
	}
	if err := s.authorizeManagement(args.AuthToken); err != nil {
		return 0, err
	}
	for _, id := range args.AccessorIDs {
		t, err := s.State().ACLTokenByAccessorID(nil, id)
		if err != nil {
			return 0, err
		}
		if t == nil {
			return 0, errorf(ErrNotFound, "Cannot delete nonexistent tokens: %s", id)
		}
	}
	return s.apply(ACLTokenDeleteRequestType, &ACLTokenDeleteRequest{AccessorIDs: args.AccessorIDs})
}

// ACLResolveArgs and ACLResolveResponse are ACL.ResolveToken's messages
// (agent/wire, shared with clients).
type (
	ACLResolveArgs     = wire.ACLResolveArgs
	ACLResolveResponse = wire.ACLResolveResponse
)

// aclEndpoint exposes the ACL writes over RPC ("ACL.*").
type aclEndpoint struct{ srv *Server }

func (e *aclEndpoint) Bootstrap(args *ACLBootstrapArgs, reply *ACLTokenResponse) error {
	r, err := e.srv.BootstrapACL(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *aclEndpoint) UpsertPolicies(args *ACLPolicyUpsertArgs, reply *GenericResponse) error {
	index, err := e.srv.UpsertACLPolicies(args)
	reply.Index = index
	return wireError(err)
}

func (e *aclEndpoint) DeletePolicies(args *ACLPolicyDeleteArgs, reply *GenericResponse) error {
	index, err := e.srv.DeleteACLPolicies(args)
	reply.Index = index
	return wireError(err)
}

func (e *aclEndpoint) UpsertToken(args *ACLTokenUpsertArgs, reply *ACLTokenResponse) error {
	r, err := e.srv.UpsertACLToken(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *aclEndpoint) DeleteTokens(args *ACLTokenDeleteArgs, reply *GenericResponse) error {
	index, err := e.srv.DeleteACLTokens(args)
	reply.Index = index
	return wireError(err)
}

// ResolveToken answers from this server's state. It tells the holder of
// a secret what the secret already lets them see with token self, and
// nothing about other tokens.
func (e *aclEndpoint) ResolveToken(args *ACLResolveArgs, reply *ACLResolveResponse) error {
	reply.Enabled = e.srv.config.ACLEnabled
	if !reply.Enabled {
		return nil
	}
	a, tok, err := e.srv.ResolveTokenFresh(args.SecretID)
	if errors.Is(err, ErrPermissionDenied) {
		reply.Denied = true
		return nil
	}
	if err != nil {
		return wireError(err)
	}
	if a.IsManagement() {
		reply.Management = true
		return nil
	}
	names := []string{structs.AnonymousPolicy}
	if tok != nil {
		names = tok.Policies
	}
	snap := e.srv.State().Snapshot()
	for _, name := range names {
		if p, err := snap.ACLPolicyByName(nil, name); err == nil && p != nil {
			reply.Rules = append(reply.Rules, p.Rules)
		}
	}
	return nil
}

// isUUID checks the shape of an operator-chosen secret.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

func init() {
	for t, name := range map[MessageType]string{
		ACLPolicyUpsertRequestType: "ACLPolicyUpsert", ACLPolicyDeleteRequestType: "ACLPolicyDelete",
		ACLTokenUpsertRequestType: "ACLTokenUpsert", ACLTokenDeleteRequestType: "ACLTokenDelete",
		ACLTokenBootstrapRequestType: "ACLTokenBootstrap",
	} {
		messageTypeNames[t] = name
	}
}
