package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// aclRoutes registers the ACL API: /v1/acl/bootstrap, policies and
// tokens. Each endpoint decides who may call it (a token may read
// itself and its own policies; everything else is management's).
func (h *handler) aclRoutes() {
	h.route("/v1/acl/bootstrap", map[string]endpointFunc{http.MethodPut: h.aclBootstrap, http.MethodPost: h.aclBootstrap})
	h.route("/v1/acl/policies", map[string]endpointFunc{http.MethodGet: h.consistent(h.aclPolicies)})
	h.route("/v1/acl/policy/{name}", map[string]endpointFunc{
		http.MethodGet: h.consistent(h.aclPolicyInfo), http.MethodPut: h.aclPolicyWrite, http.MethodPost: h.aclPolicyWrite,
		http.MethodDelete: h.aclPolicyDelete})
	h.route("/v1/acl/tokens", map[string]endpointFunc{http.MethodGet: h.consistent(h.aclTokens)})
	h.route("/v1/acl/token", map[string]endpointFunc{http.MethodPut: h.aclTokenCreate, http.MethodPost: h.aclTokenCreate})
	h.route("/v1/acl/token/self", map[string]endpointFunc{http.MethodGet: h.aclTokenSelf})
	h.route("/v1/acl/token/{accessor}", map[string]endpointFunc{
		http.MethodGet: h.consistent(h.aclTokenInfo), http.MethodPut: h.aclTokenUpdate, http.MethodPost: h.aclTokenUpdate,
		http.MethodDelete: h.aclTokenDelete})
}

// aclDisabled answers the ACL API of an agent whose ACLs are off, with
// the compatible API's words.
func (h *handler) aclDisabled() error {
	if h.resolve == nil || !h.srv.ACLEnabled() {
		return badRequest("ACL support disabled")
	}
	return nil
}

// requireManagement refuses all but a management token.
func requireManagement(r *http.Request) error {
	if !requestACL(r).acl.IsManagement() {
		return denied()
	}
	return nil
}

type aclBootstrapRequest struct {
	BootstrapSecret string
}

func (h *handler) aclBootstrap(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	var req aclBootstrapRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	resp, err := h.srv.BootstrapACL(&server.ACLBootstrapArgs{BootstrapSecret: req.BootstrapSecret})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return resp.Token, nil
}

// tokenPolicies are the policies the request's own token carries (the
// anonymous policy for a request without one).
func tokenPolicies(r *http.Request) []string {
	if tok := requestACL(r).token; tok != nil {
		return tok.Policies
	}
	return []string{structs.AnonymousPolicy}
}

func (h *handler) aclPolicies(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	mgmt := requestACL(r).acl.IsManagement()
	own := map[string]bool{}
	for _, p := range tokenPolicies(r) {
		own[p] = true
	}
	prefix := r.URL.Query().Get("prefix")
	var out []*structs.ACLPolicyListStub
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		policies, err := snap.ACLPoliciesByNamePrefix(ws, prefix)
		if err != nil {
			return 0, err
		}
		out = make([]*structs.ACLPolicyListStub, 0, len(policies))
		for _, p := range policies {
			// A client token sees the policies it carries.
			if mgmt || own[p.Name] {
				out = append(out, p.Stub())
			}
		}
		return snap.Index(state.TableACLPolicies)
	})
	return out, err
}

func (h *handler) aclPolicyInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if !requestACL(r).acl.IsManagement() {
		mine := false
		for _, p := range tokenPolicies(r) {
			mine = mine || p == name
		}
		if !mine {
			return nil, denied()
		}
	}
	return readObject(h, w, r, state.TableACLPolicies, "ACL policy not found",
		func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.ACLPolicy, error) {
			return snap.ACLPolicyByName(ws, name)
		})
}

func (h *handler) aclPolicyWrite(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	var p structs.ACLPolicy
	if err := decodeRequiredBody(r, &p); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		return nil, badRequest("Policy name does not match request path")
	}
	p.CreateIndex, p.ModifyIndex = 0, 0
	index, err := h.srv.UpsertACLPolicies(&server.ACLPolicyUpsertArgs{Policies: []*structs.ACLPolicy{&p}, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, index)
	return nil, nil
}

func (h *handler) aclPolicyDelete(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	index, err := h.srv.DeleteACLPolicies(&server.ACLPolicyDeleteArgs{Names: []string{r.PathValue("name")}, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, index)
	return nil, nil
}

func (h *handler) aclTokens(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	if err := requireManagement(r); err != nil {
		return nil, err
	}
	prefix := r.URL.Query().Get("prefix")
	var out []*structs.ACLTokenListStub
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		tokens, err := snap.ACLTokensByAccessorPrefix(ws, prefix)
		if err != nil {
			return 0, err
		}
		out = make([]*structs.ACLTokenListStub, 0, len(tokens))
		for _, t := range tokens {
			out = append(out, t.Stub())
		}
		return snap.Index(state.TableACLTokens)
	})
	return out, err
}

// aclTokenRequest is the body of a token create or update, as the
// compatible client sends it: ExpirationTTL is a duration string ("1h")
// or a number of nanoseconds.
type aclTokenRequest struct {
	AccessorID     string
	SecretID       string
	Name           string
	Type           string
	Policies       []string
	Roles          []json.RawMessage
	Global         bool
	ExpirationTime *time.Time
	ExpirationTTL  json.RawMessage
}

func (req *aclTokenRequest) ttl() (time.Duration, error) {
	raw := strings.TrimSpace(string(req.ExpirationTTL))
	if raw == "" || raw == "null" || raw == `""` {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(req.ExpirationTTL, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, badRequest("invalid ExpirationTTL %q: %v", s, err)
		}
		return d, nil
	}
	var n int64
	if err := json.Unmarshal(req.ExpirationTTL, &n); err != nil {
		return 0, badRequest("invalid ExpirationTTL %s", raw)
	}
	return time.Duration(n), nil
}

func (h *handler) decodeToken(r *http.Request) (*structs.ACLToken, time.Duration, error) {
	var req aclTokenRequest
	if err := decodeRequiredBody(r, &req); err != nil {
		return nil, 0, err
	}
	if len(req.Roles) > 0 {
		return nil, 0, badRequest("ACL roles are not supported")
	}
	ttl, err := req.ttl()
	if err != nil {
		return nil, 0, err
	}
	return &structs.ACLToken{AccessorID: req.AccessorID, SecretID: req.SecretID, Name: req.Name, Type: req.Type,
		Policies: req.Policies, Global: req.Global, ExpirationTime: req.ExpirationTime}, ttl, nil
}

func (h *handler) aclTokenCreate(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	tok, ttl, err := h.decodeToken(r)
	if err != nil {
		return nil, err
	}
	if tok.AccessorID != "" || tok.SecretID != "" {
		return nil, badRequest("a new token's accessor and secret IDs are chosen by the server")
	}
	return h.upsertToken(w, r, tok, ttl)
}

func (h *handler) aclTokenUpdate(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	tok, ttl, err := h.decodeToken(r)
	if err != nil {
		return nil, err
	}
	accessor := r.PathValue("accessor")
	if tok.AccessorID == "" {
		tok.AccessorID = accessor
	}
	if tok.AccessorID != accessor {
		return nil, badRequest("Token Accessor ID does not match request path")
	}
	if ttl != 0 || tok.ExpirationTime != nil {
		existing, err := h.srv.State().ACLTokenByAccessorID(nil, accessor)
		if err != nil {
			return nil, err
		}
		if existing != nil && (ttl != 0 || existing.ExpirationTime == nil || !existing.ExpirationTime.Equal(*tok.ExpirationTime)) {
			return nil, badRequest("Cannot change expiration time")
		}
	}
	return h.upsertToken(w, r, tok, 0)
}

func (h *handler) upsertToken(w http.ResponseWriter, r *http.Request, tok *structs.ACLToken, ttl time.Duration) (interface{}, error) {
	resp, err := h.srv.UpsertACLToken(&server.ACLTokenUpsertArgs{Token: tok, ExpirationTTL: ttl, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return resp.Token, nil
}

// aclTokenSelf is the request's own token; anonymous has none to show.
func (h *handler) aclTokenSelf(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	tok := requestACL(r).token
	if tok == nil {
		return nil, denied()
	}
	index, err := h.srv.State().Index(state.TableACLTokens)
	if err != nil {
		return nil, err
	}
	h.setQueryMeta(w, index)
	return tok, nil
}

// aclTokenInfo shows a token to management, or to its own holder.
func (h *handler) aclTokenInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	accessor := r.PathValue("accessor")
	c := requestACL(r)
	if !c.acl.IsManagement() && (c.token == nil || c.token.AccessorID != accessor) {
		return nil, denied()
	}
	return readObject(h, w, r, state.TableACLTokens, "ACL token not found",
		func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.ACLToken, error) {
			return snap.ACLTokenByAccessorID(ws, accessor)
		})
}

func (h *handler) aclTokenDelete(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	if err := h.aclDisabled(); err != nil {
		return nil, err
	}
	index, err := h.srv.DeleteACLTokens(&server.ACLTokenDeleteArgs{AccessorIDs: []string{r.PathValue("accessor")}, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, index)
	return nil, nil
}
