package httpapi

import (
	"context"
	"net/http"
	"strings"

	"drover/agent/acl"
	"drover/agent/structs"
)

// TokenResolver resolves a request's secret ("" when it carries none) to
// what it may do. It returns the token too when there is one (the ACL
// endpoints report it), and an error of kind server.ErrPermissionDenied
// for an unknown, expired or deleted secret.
type TokenResolver func(secret string) (*acl.ACL, *structs.ACLToken, error)

// WithACL turns enforcement on: every request is checked with the token
// resolve finds. Without it (ACLs disabled) every request may do
// everything.
func WithACL(resolve TokenResolver) Option { return func(h *handler) { h.resolve = resolve } }

// requestSecret is the secret a request presents: X-Nomad-Token, else a
// bearer Authorization header, else ?token=.
func requestSecret(r *http.Request) string {
	if t := r.Header.Get("X-Nomad-Token"); t != "" {
		return t
	}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		return strings.TrimSpace(strings.TrimPrefix(auth, "Bearer "))
	}
	return r.URL.Query().Get("token")
}

type aclContextKey struct{}

// aclContext is what the request's token resolved to.
type aclContext struct {
	acl    *acl.ACL
	token  *structs.ACLToken // nil for anonymous and with ACLs disabled
	secret string
}

// requestACL is the ACL the request was admitted with; management when
// ACLs are disabled.
func requestACL(r *http.Request) *aclContext {
	if c, ok := r.Context().Value(aclContextKey{}).(*aclContext); ok {
		return c
	}
	return &aclContext{acl: acl.Management()}
}

// authToken is the secret to pass on to the server's writes, which check
// it again where they execute (on the leader).
func authToken(r *http.Request) string { return requestACL(r).secret }

// handle registers a handler behind the ACL check of its pattern.
func (h *handler) handle(pattern string, fn http.HandlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if h.resolve != nil {
			secret := requestSecret(r)
			a, tok, err := h.resolve(secret)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), aclContextKey{}, &aclContext{acl: a, token: tok, secret: secret}))
			if err := h.checkRoute(pattern, r, a); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		fn(w, r)
	})
}

func denied() error {
	return &codedError{code: http.StatusForbidden, msg: "Permission denied"}
}

// allowNamespace checks a capability in a namespace, for the endpoints
// that learn the namespace from the body (a submitted job's).
func allowNamespace(r *http.Request, ns, capability string) error {
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	if !requestACL(r).acl.AllowNamespaceOperation(ns, capability) {
		return denied()
	}
	return nil
}

// visible tells a list endpoint whether an object of namespace ns is
// shown to the request's token: lists filter rather than refuse.
func visible(r *http.Request, ns, capability string) bool {
	return requestACL(r).acl.AllowNamespaceOperation(ns, capability)
}

// routeCheck is what a route needs. ns checks capability in the
// namespace of the query (?namespace=); for "*" the list is filtered
// instead (filtered). object finds the namespace of the object the path
// names (an allocation, evaluation, deployment); a missing object is
// let through to answer its 404.
type routeCheck struct {
	capability string
	filtered   bool
	object     func(h *handler, r *http.Request) string
	allow      func(a *acl.ACL) bool
	open       bool
	// inEndpoint: the endpoint checks for itself (the ACL API).
	inEndpoint bool
}

// bodyNamespace: the endpoint checks the namespace its body names.
var bodyNamespace = routeCheck{inEndpoint: true}

func nsCap(c string) routeCheck              { return routeCheck{capability: c} }
func listCap(c string) routeCheck            { return routeCheck{capability: c, filtered: true} }
func level(f func(*acl.ACL) bool) routeCheck { return routeCheck{allow: f} }

func objCap(c string, find func(h *handler, r *http.Request) string) routeCheck {
	return routeCheck{capability: c, object: find}
}

// routeChecks maps each pattern and method ("" for every method) to what
// it needs. A pattern missing here needs a management token: a new
// route is closed until someone decides who may use it.
var routeChecks = map[string]map[string]routeCheck{
	// A submitted job names its namespace in the body: the endpoint
	// checks submit-job there (register, plan).
	"/v1/jobs":                        {http.MethodGet: listCap(acl.CapListJobs), "": bodyNamespace},
	"/v1/jobs/parse":                  {"": nsCap(acl.CapParseJob)},
	"/v1/job/{id}":                    {http.MethodGet: nsCap(acl.CapReadJob), http.MethodDelete: nsCap(acl.CapSubmitJob), "": bodyNamespace},
	"/v1/job/{id}/plan":               {"": bodyNamespace},
	"/v1/job/{id}/allocations":        {"": nsCap(acl.CapReadJob)},
	"/v1/job/{id}/evaluations":        {"": nsCap(acl.CapReadJob)},
	"/v1/job/{id}/deployments":        {"": nsCap(acl.CapReadJob)},
	"/v1/job/{id}/deployment":         {"": nsCap(acl.CapReadJob)},
	"/v1/job/{id}/summary":            {"": nsCap(acl.CapReadJob)},
	"/v1/job/{id}/versions":           {"": nsCap(acl.CapReadJob)},
	"/v1/job/{id}/revert":             {"": nsCap(acl.CapSubmitJob)},
	"/v1/job/{id}/scale":              {http.MethodGet: nsCap(acl.CapReadJobScaling), "": nsCap(acl.CapScaleJob)},
	"/v1/job/{id}/evaluate":           {"": nsCap(acl.CapSubmitJob)},
	"/v1/job/{id}/dispatch":           {"": nsCap(acl.CapDispatchJob)},
	"/v1/job/{id}/periodic/force":     {"": nsCap(acl.CapSubmitJob)},
	"/v1/validate/job":                {"": nsCap(acl.CapReadJob)},
	"/v1/allocations":                 {"": listCap(acl.CapReadJob)},
	"/v1/allocation/{id}":             {"": objCap(acl.CapReadJob, allocNamespace("id"))},
	"/v1/allocation/{id}/stop":        {"": objCap(acl.CapAllocLifecycle, allocNamespace("id"))},
	"/v1/evaluations":                 {"": listCap(acl.CapReadJob)},
	"/v1/evaluation/{id}":             {"": objCap(acl.CapReadJob, evalNamespace)},
	"/v1/evaluation/{id}/allocations": {"": objCap(acl.CapReadJob, evalNamespace)},
	"/v1/deployments":                 {"": listCap(acl.CapReadJob)},
	"/v1/deployment/{id}":             {"": objCap(acl.CapReadJob, deploymentNamespace)},
	"/v1/deployment/allocations/{id}": {"": objCap(acl.CapReadJob, deploymentNamespace)},
	"/v1/deployment/promote/{id}":     {"": objCap(acl.CapSubmitJob, deploymentNamespace)},
	"/v1/deployment/fail/{id}":        {"": objCap(acl.CapSubmitJob, deploymentNamespace)},
	"/v1/search":                      {"": nsCap(acl.CapReadJob)},
	"/v1/search/fuzzy":                {"": nsCap(acl.CapReadJob)},
	"/v1/nodes":                       {"": level((*acl.ACL).AllowNodeRead)},
	"/v1/node/{id}":                   {"": level((*acl.ACL).AllowNodeRead)},
	"/v1/node/{id}/allocations":       {"": level((*acl.ACL).AllowNodeRead)},
	"/v1/node/{id}/drain":             {"": level((*acl.ACL).AllowNodeWrite)},
	"/v1/node/{id}/eligibility":       {"": level((*acl.ACL).AllowNodeWrite)},
	"/v1/agent/self":                  {"": level((*acl.ACL).AllowAgentRead)},
	"/v1/agent/members":               {"": level((*acl.ACL).AllowNodeRead)},
	"/v1/agent/join":                  {"": level((*acl.ACL).AllowAgentWrite)},
	"/v1/agent/force-leave":           {"": level((*acl.ACL).AllowAgentWrite)},
	"/v1/agent/monitor":               {"": level((*acl.ACL).AllowAgentRead)},
	"/v1/operator/raft/configuration": {"": level((*acl.ACL).AllowOperatorRead)},
	"/v1/system/gc":                   {"": level((*acl.ACL).IsManagement)},
	// Health, leader, peers and regions tell nothing a token protects,
	// and load balancers and the CLI ask them before anything else.
	"/v1/agent/health":  {"": {open: true}},
	"/v1/status/leader": {"": {open: true}},
	"/v1/status/peers":  {"": {open: true}},
	"/v1/regions":       {"": {open: true}},
	// Client endpoints: the capability in the allocation's namespace.
	"/v1/client/fs/logs/{alloc}":            {"": objCap(acl.CapReadLogs, allocNamespace("alloc"))},
	"/v1/client/fs/ls/{alloc}":              {"": objCap(acl.CapReadFS, allocNamespace("alloc"))},
	"/v1/client/fs/stat/{alloc}":            {"": objCap(acl.CapReadFS, allocNamespace("alloc"))},
	"/v1/client/fs/cat/{alloc}":             {"": objCap(acl.CapReadFS, allocNamespace("alloc"))},
	"/v1/client/fs/readat/{alloc}":          {"": objCap(acl.CapReadFS, allocNamespace("alloc"))},
	"/v1/client/fs/stream/{alloc}":          {"": objCap(acl.CapReadFS, allocNamespace("alloc"))},
	"/v1/client/allocation/{alloc}/stats":   {"": objCap(acl.CapReadJob, allocNamespace("alloc"))},
	"/v1/client/allocation/{alloc}/checks":  {"": objCap(acl.CapReadJob, allocNamespace("alloc"))},
	"/v1/client/allocation/{alloc}/restart": {"": objCap(acl.CapAllocLifecycle, allocNamespace("alloc"))},
	"/v1/client/allocation/{alloc}/signal":  {"": objCap(acl.CapAllocLifecycle, allocNamespace("alloc"))},
	"/v1/client/allocation/{alloc}/exec":    {"": objCap(acl.CapAllocExec, allocNamespace("alloc"))},
	"/v1/client/stats":                      {"": level((*acl.ACL).AllowNodeRead)},
	// The ACL API decides per request (a token may read itself).
	"/v1/acl/bootstrap":        {"": {inEndpoint: true}},
	"/v1/acl/policies":         {"": {inEndpoint: true}},
	"/v1/acl/policy/{name}":    {"": {inEndpoint: true}},
	"/v1/acl/tokens":           {"": {inEndpoint: true}},
	"/v1/acl/token":            {"": {inEndpoint: true}},
	"/v1/acl/token/self":       {"": {inEndpoint: true}},
	"/v1/acl/token/{accessor}": {"": {inEndpoint: true}},
	// Variables are checked per path (variables.go).
	"/v1/vars":          {"": {inEndpoint: true}},
	"/v1/var/{path...}": {"": {inEndpoint: true}},
}

// checkRoute applies the route's check to the request.
func (h *handler) checkRoute(pattern string, r *http.Request, a *acl.ACL) error {
	methods := routeChecks[pattern]
	c, ok := methods[r.Method]
	if !ok {
		c, ok = methods[""]
	}
	switch {
	case !ok:
		if a.IsManagement() {
			return nil
		}
		return denied()
	case c.open, c.inEndpoint:
		return nil
	case c.allow != nil:
		if c.allow(a) {
			return nil
		}
		return denied()
	case c.object != nil:
		ns := c.object(h, r)
		if ns == "" || a.AllowNamespaceOperation(ns, c.capability) {
			return nil
		}
		return denied()
	}
	ns := namespace(r)
	if ns == "*" {
		if c.filtered {
			return nil
		}
		// A request across namespaces that is not a list (a search)
		// needs the capability everywhere: only management has that.
		if a.IsManagement() {
			return nil
		}
		return denied()
	}
	if a.AllowNamespaceOperation(ns, c.capability) {
		return nil
	}
	return denied()
}

// allocNamespace finds the namespace of the allocation the path names
// (by ID or unique prefix): from state on a server, from the local client
// otherwise; "" when it is not known here (the request is then answered
// 404, or forwarded to an agent that checks it again).
func allocNamespace(param string) func(h *handler, r *http.Request) string {
	return func(h *handler, r *http.Request) string {
		id := r.PathValue(param)
		if h.local != nil {
			if full, ok := h.local.LocalAllocByPrefix(id); ok {
				if ns, ok := h.local.AllocNamespace(full); ok {
					return ns
				}
			}
		}
		if h.srv == nil {
			return ""
		}
		snap := h.srv.State().Snapshot()
		a, err := lookup(nil, id, "alloc", snap.AllocByID, snap.AllocsByIDPrefix)
		if err != nil || a == nil {
			return ""
		}
		return a.Namespace
	}
}

func evalNamespace(h *handler, r *http.Request) string {
	if h.srv == nil {
		return ""
	}
	snap := h.srv.State().Snapshot()
	e, err := lookup(nil, r.PathValue("id"), "evaluation", snap.EvalByID, snap.EvalsByIDPrefix)
	if err != nil || e == nil {
		return ""
	}
	return e.Namespace
}

func deploymentNamespace(h *handler, r *http.Request) string {
	if h.srv == nil {
		return ""
	}
	snap := h.srv.State().Snapshot()
	d, err := lookup(nil, r.PathValue("id"), "deployment", snap.DeploymentByID, snap.DeploymentsByIDPrefix)
	if err != nil || d == nil {
		return ""
	}
	return d.Namespace
}
