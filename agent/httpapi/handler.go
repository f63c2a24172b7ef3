package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// Server is what the HTTP API needs of a cluster server. *server.Server
// implements it; tests may substitute their own.
type Server interface {
	// State returns the live state store, for reads that do not block.
	State() *state.StateStore
	// BlockingQuery re-runs query until the index it returns passes
	// minIndex or wait expires.
	BlockingQuery(ctx context.Context, minIndex uint64, wait time.Duration,
		query func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error)) (uint64, error)

	// Job writes: register (optionally enforcing the job modify index),
	// dry-run plan, and stop or purge.
	RegisterJobWith(args *server.JobRegisterArgs) (*server.JobRegisterResponse, error)
	PlanJobWith(args *server.JobPlanArgs) (*server.JobPlanResponse, error)
	DeregisterJobWith(args *server.JobDeregisterArgs) (*server.JobDeregisterResponse, error)
	// Writes on a registered job: revert to a tracked version, change a
	// group's count, force an evaluation.
	RevertJob(args *server.JobRevertArgs) (*server.JobRegisterResponse, error)
	ScaleJob(args *server.JobScaleArgs) (*server.JobRegisterResponse, error)
	EvaluateJob(args *server.JobEvaluateArgs) (*server.JobRegisterResponse, error)

	// Node writes: start or end a drain, set scheduling eligibility.
	UpdateDrainWith(args *server.NodeDrainArgs) (*server.NodeDrainResponse, error)
	UpdateEligibilityWith(args *server.NodeEligibilityArgs) (*server.NodeDrainResponse, error)

	// StopAlloc marks an allocation to be stopped and replaced (alloc
	// stop) and returns the evaluation that does it.
	StopAllocWith(args *server.AllocStopArgs) (*server.AllocStopResponse, error)

	// Deployment writes; both return the evaluation they create and the
	// index they were applied at. No groups promotes every group.
	PromoteDeploymentWith(args *server.DeploymentArgs) (string, uint64, error)
	FailDeploymentWith(args *server.DeploymentArgs) (string, uint64, error)

	// Leader is the leader's RPC address, "" when none is known.
	Leader() string
	// Peers lists the raft peers' addresses.
	Peers() []string
	// IsLeader reports whether this server leads the cluster.
	IsLeader() bool
	// LastContact is the time since the leader was last heard from.
	LastContact() time.Duration

	// ConsistentRead waits until this server's state holds everything
	// the leader had applied; reads without ?stale call it first.
	ConsistentRead(ctx context.Context) error
	// Members lists the servers gossip knows; Join and ForceLeave change
	// membership; RaftConfig is raft's configuration.
	Members() []server.Member
	Join(addrs []string) (int, error)
	ForceLeave(name string) error
	// ForceGC collects every finished object now (system gc).
	ForceGCWith(args *server.GCArgs) error
	RaftConfig() (*server.RaftConfiguration, error)

	// ACLs: the writes (checked on the leader against the token each
	// carries) and token resolution (acl.go, acl_endpoints.go).
	ResolveTokenFresh(secret string) (*acl.ACL, *structs.ACLToken, error)
	BootstrapACL(args *server.ACLBootstrapArgs) (*server.ACLTokenResponse, error)
	UpsertACLPolicies(args *server.ACLPolicyUpsertArgs) (uint64, error)
	DeleteACLPolicies(args *server.ACLPolicyDeleteArgs) (uint64, error)
	UpsertACLToken(args *server.ACLTokenUpsertArgs) (*server.ACLTokenResponse, error)
	DeleteACLTokens(args *server.ACLTokenDeleteArgs) (uint64, error)
	ACLEnabled() bool

	// ApplyVariable sets or deletes a variable (checked on the leader
	// against the token it carries; variables.go).
	ApplyVariable(args *server.VariableApplyArgs) (*server.VariableApplyResponse, error)
}

// AgentInfo is what /v1/agent/self and /v1/agent/members report about the
// agent serving the API.
type AgentInfo struct {
	NodeName   string
	Region     string
	Datacenter string
	// Version is the agent's version, e.g. "0.1.0".
	Version string
	// Server and Client tell which roles the agent runs.
	Server bool
	Client bool
	// NodeID is the client's node ID, when the agent is a client: the
	// CLI's -self flags find the local node through it.
	NodeID string
	// HTTPAddr and RPCAddr are the advertised host:port addresses.
	HTTPAddr string
	RPCAddr  string
	// Config is the agent's configuration as reported in the "config"
	// section of /v1/agent/self. Its keys override the ones derived from
	// the fields above ("Region", "Datacenter", "NodeName", "Version", ...).
	Config map[string]interface{}
}

// maxBodySize bounds request bodies; the largest legitimate body is a job,
// and a job of 16 MiB is already absurd.
const maxBodySize = 16 << 20

// A blocking query waits defaultBlockingWait unless ?wait= says otherwise,
// and never longer than maxBlockingWait.
const (
	defaultBlockingWait = 5 * time.Minute
	maxBlockingWait     = 10 * time.Minute
)

// handler serves the API. Every endpoint is an endpointFunc: it returns the
// object to encode as JSON, or an error that picks the status code.
type handler struct {
	srv    Server
	info   AgentInfo
	logger *log.Logger
	mux    *http.ServeMux
	// local is the agent's client role, if any; serverHTTP finds a
	// server for a client-only agent.
	local      LocalClient
	serverHTTP func() (string, error)
	// forwardTLS, when set, is how requests are forwarded to other
	// agents, whose APIs are then HTTPS (see WithForwardTLS).
	forwardTLS  *tls.Config
	forwardOnce sync.Once
	forwardRT   http.RoundTripper
	// logs is the agent's log fan-out, streamed by /v1/agent/monitor.
	logs LogSource
	// resolve finds what a request's token may do; nil when ACLs are
	// disabled (see acl.go).
	resolve TokenResolver
}

type endpointFunc func(w http.ResponseWriter, r *http.Request) (interface{}, error)

// NewHandler returns the /v1 API handler. A nil logger discards.
func NewHandler(srv Server, info AgentInfo, logger *log.Logger, opts ...Option) http.Handler {
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	if info.Region == "" {
		info.Region = "global"
	}
	h := &handler{srv: srv, info: info, logger: logger, mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	h.routes()
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Drover has no federation: a request for another region has nowhere
	// to go, and answering it from this region would mislead.
	if region := r.URL.Query().Get("region"); region != "" && region != h.info.Region {
		h.writeError(w, r, badRequest("No path to region %q", region))
		return
	}
	h.mux.ServeHTTP(w, r)
}

// routes registers every endpoint. Patterns carry no method: each route
// dispatches on the method itself so that a wrong one gets the API's 405
// "Invalid method" rather than ServeMux's own answer. PUT and POST are
// interchangeable for writes, as in the compatible API.
func (h *handler) routes() {
	write := func(fn endpointFunc) map[string]endpointFunc {
		return map[string]endpointFunc{http.MethodPut: fn, http.MethodPost: fn}
	}
	// Reads of cluster state are consistent unless ?stale; reads about
	// this agent are always local.
	get := func(fn endpointFunc) map[string]endpointFunc {
		return map[string]endpointFunc{http.MethodGet: h.consistent(fn)}
	}
	local := func(fn endpointFunc) map[string]endpointFunc {
		return map[string]endpointFunc{http.MethodGet: fn}
	}

	h.route("/v1/jobs", map[string]endpointFunc{
		http.MethodGet: h.consistent(h.jobsList), http.MethodPut: h.jobsRegister, http.MethodPost: h.jobsRegister})
	h.route("/v1/jobs/parse", write(h.jobsParse))
	h.route("/v1/job/{id}", map[string]endpointFunc{
		http.MethodGet: h.consistent(h.jobInfo), http.MethodPut: h.jobRegister, http.MethodPost: h.jobRegister,
		http.MethodDelete: h.jobDeregister})
	h.route("/v1/job/{id}/plan", write(h.jobPlan))
	h.route("/v1/job/{id}/allocations", get(h.jobAllocations))
	h.route("/v1/job/{id}/evaluations", get(h.jobEvaluations))
	h.route("/v1/job/{id}/deployments", get(h.jobDeployments))
	h.route("/v1/job/{id}/deployment", get(h.jobLatestDeployment))
	h.route("/v1/job/{id}/summary", get(h.jobSummary))
	h.route("/v1/job/{id}/versions", get(h.jobVersions))
	h.route("/v1/job/{id}/revert", write(h.jobRevert))
	h.route("/v1/job/{id}/scale", map[string]endpointFunc{
		http.MethodGet: h.consistent(h.jobScaleStatus), http.MethodPut: h.jobScale, http.MethodPost: h.jobScale})
	h.route("/v1/job/{id}/evaluate", write(h.jobEvaluate))
	h.route("/v1/job/{id}/dispatch", write(h.consistent(h.jobDispatch)))
	h.route("/v1/job/{id}/periodic/force", write(h.consistent(h.jobPeriodicForce)))

	h.route("/v1/allocations", get(h.allocsList))
	h.route("/v1/allocation/{id}", get(h.allocInfo))
	h.route("/v1/allocation/{id}/stop", write(h.allocStop))

	h.route("/v1/evaluations", get(h.evalsList))
	h.route("/v1/evaluation/{id}", get(h.evalInfo))
	h.route("/v1/evaluation/{id}/allocations", get(h.evalAllocations))

	h.route("/v1/nodes", get(h.nodesList))
	h.route("/v1/node/{id}", get(h.nodeInfo))
	h.route("/v1/node/{id}/allocations", get(h.nodeAllocations))
	h.route("/v1/node/{id}/drain", write(h.nodeDrain))
	h.route("/v1/node/{id}/eligibility", write(h.nodeEligibility))

	h.route("/v1/deployments", get(h.deploymentsList))
	h.route("/v1/deployment/{id}", get(h.deploymentInfo))
	h.route("/v1/deployment/allocations/{id}", get(h.deploymentAllocations))
	h.route("/v1/deployment/promote/{id}", write(h.deploymentPromote))
	h.route("/v1/deployment/fail/{id}", write(h.deploymentFail))

	// Searches are reads, sent with PUT or POST for their body.
	h.route("/v1/search", write(h.consistent(h.search)))
	h.route("/v1/search/fuzzy", write(h.consistent(h.fuzzySearch)))

	h.route("/v1/agent/self", local(h.agentSelf))
	h.route("/v1/agent/health", local(h.agentHealth))
	h.route("/v1/validate/job", write(h.jobValidate))
	h.route("/v1/system/gc", write(func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		return nil, h.srv.ForceGCWith(&server.GCArgs{AuthToken: authToken(r)})
	}))
	h.route("/v1/agent/members", local(h.agentMembers))
	h.route("/v1/agent/join", write(h.agentJoin))
	h.route("/v1/agent/force-leave", write(h.agentForceLeave))
	h.route("/v1/status/leader", local(h.statusLeader))
	h.route("/v1/status/peers", local(h.statusPeers))
	h.route("/v1/operator/raft/configuration", get(h.raftConfiguration))
	h.route("/v1/regions", local(h.regions))
	h.clientRoutes()
	h.aclRoutes()
	h.variableRoutes()

	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, &codedError{code: http.StatusNotFound, msg: fmt.Sprintf("Invalid URL path: %q", r.URL.Path)})
	})
}

func (h *handler) route(pattern string, methods map[string]endpointFunc) {
	h.handle(pattern, func(w http.ResponseWriter, r *http.Request) {
		fn, ok := methods[r.Method]
		if !ok {
			h.writeError(w, r, &codedError{code: http.StatusMethodNotAllowed, msg: "Invalid method"})
			return
		}
		h.serve(w, r, fn)
	})
}

// serve runs one endpoint and writes its result or error. A panic in an
// endpoint becomes a 500 rather than a dropped connection.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, fn endpointFunc) {
	defer func() {
		if p := recover(); p != nil {
			h.logger.Printf("[ERROR] http: panic serving %s %s: %v\n%s", r.Method, r.URL.Path, p, debug.Stack())
			h.writeError(w, r, fmt.Errorf("internal error: %v", p))
		}
	}()
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodySize)
	}
	obj, err := fn(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if sr, ok := obj.(*statusResult); ok {
		h.writeStatus(w, r, sr)
		return
	}
	h.writeJSON(w, r, obj)
}

// statusResult is an endpoint's answer with a status other than 200: a
// body to encode as JSON (none when nil), e.g. a 409 with the object in
// the way, or a 204.
type statusResult struct {
	code int
	body interface{}
}

func (h *handler) writeStatus(w http.ResponseWriter, r *http.Request, sr *statusResult) {
	if sr.body == nil {
		w.WriteHeader(sr.code)
		return
	}
	buf, err := json.Marshal(sr.body)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(sr.code)
	w.Write(buf)
}

// consistent makes a read see what the leader has: the follower serving
// it first catches up with the leader's index. ?stale reads local state,
// which may lag by a few milliseconds but needs no leader.
func (h *handler) consistent(fn endpointFunc) endpointFunc {
	return func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		if _, stale := r.URL.Query()["stale"]; !stale {
			if err := h.srv.ConsistentRead(r.Context()); err != nil {
				return nil, err
			}
		}
		return fn(w, r)
	}
}

// codedError is an error with the HTTP status it is answered with.
type codedError struct {
	code  int
	msg   string
	cause error // the failure msg describes, when there is one
}

func (e *codedError) Error() string { return e.msg }

// Unwrap lets a caller word the underlying failure its own way.
func (e *codedError) Unwrap() error { return e.cause }

func badRequest(format string, args ...interface{}) error {
	return &codedError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func notFound(msg string) error {
	return &codedError{code: http.StatusNotFound, msg: msg}
}

// statusOf maps an error to its status code: the handler's own coded
// errors, then the server's sentinel errors. Validation failures and
// index conflicts stay 500, as in the compatible API, whose clients print
// the text whatever the code.
func statusOf(err error) int {
	var ce *codedError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, server.ErrNotFound), errors.Is(err, state.ErrJobNotFound),
		errors.Is(err, state.ErrNodeNotFound), errors.Is(err, state.ErrDeploymentNotFound),
		errors.Is(err, state.ErrEvalNotFound):
		return http.StatusNotFound
	case errors.Is(err, server.ErrPermissionDenied):
		return http.StatusForbidden
	case errors.Is(err, server.ErrInvalidRequest), errors.Is(err, server.ErrValidation):
		// A job that fails validation is the caller's mistake: 400, with
		// the validation text naming the field.
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	msg := err.Error()
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		msg = fmt.Sprintf("request body too large: the limit is %d bytes", mbe.Limit)
	}
	if code >= 500 {
		h.logger.Printf("[ERROR] http: %s %s: %d %s", r.Method, r.URL.Path, code, msg)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, obj interface{}) {
	var buf []byte
	var err error
	if wantPretty(r) {
		buf, err = json.MarshalIndent(obj, "", "    ")
		buf = append(buf, '\n')
	} else {
		buf, err = json.Marshal(obj)
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf)
}

// wantPretty: "?pretty" alone or "?pretty=<true>" indents the output.
func wantPretty(r *http.Request) bool {
	q := r.URL.Query()
	v, ok := q["pretty"]
	if !ok {
		return false
	}
	if len(v) == 0 || v[0] == "" {
		return true
	}
	b, err := strconv.ParseBool(v[0])
	return err == nil && b
}

// decodeBody decodes the JSON request body into out. An empty body leaves
// out unchanged; the endpoint then reports what is missing. Unknown fields
// are ignored: the client sends the full job of the compatible API, of
// which Drover models a subset.
func decodeBody(r *http.Request, out interface{}) error {
	if r.Body == nil {
		return nil
	}
	err := json.NewDecoder(r.Body).Decode(out)
	var mbe *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &mbe):
		return err
	}
	return badRequest("failed to decode request body: %v", err)
}

// namespace is the request's namespace, "default" when none is given.
func namespace(r *http.Request) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	return structs.DefaultNamespace
}

// inNamespace tells whether an object of namespace ns is listed for the
// requested namespace want ("*" lists all).
func inNamespace(want, ns string) bool {
	return want == "*" || want == ns
}

// int64Param parses an optional integer query parameter (0 when absent).
func int64Param(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("error parsing %s: %q is not a number", name, v)
	}
	return n, nil
}

// boolParam parses an optional boolean query parameter (false when absent).
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &codedError{code: http.StatusBadRequest, cause: err,
			msg: fmt.Sprintf("Failed to parse value of %q (%v) as a bool: %v", name, v, err)}
	}
	return b, nil
}

// blockingParams parses ?index= and ?wait=.
func blockingParams(r *http.Request) (uint64, time.Duration, error) {
	q := r.URL.Query()
	var index uint64
	if v := q.Get("index"); v != "" {
		i, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, badRequest("Invalid index: %q", v)
		}
		index = i
	}
	wait := defaultBlockingWait
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, 0, badRequest("Invalid wait time: %q", v)
		}
		// Clamped to [0, maxBlockingWait]; a wait of 0 (or less) does not
		// block at all.
		wait = min(max(d, 0), maxBlockingWait)
	}
	if wait == 0 {
		index = 0
	}
	return index, wait, nil
}

// queryFunc reads what an endpoint answers from a snapshot, registering
// in ws what it depends on, and returns the index of the tables it read.
// Objects it does not find are not errors: a blocking query on a missing
// object waits for it to appear.
type queryFunc func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error)

// read runs a read endpoint's query, blocking when the request asks to,
// and sets the query headers. A filter expression is refused rather than
// ignored, except by the list endpoints that apply it (readList); the
// pagination parameters are accepted elsewhere and everything fits on one
// page.
func (h *handler) read(w http.ResponseWriter, r *http.Request, query queryFunc) error {
	if r.URL.Query().Get("filter") != "" {
		return badRequest("filter expressions are not supported on %s", r.URL.Path)
	}
	return h.readList(w, r, query)
}

// readList is read for a list endpoint that filters and pages its result
// with listPage.
func (h *handler) readList(w http.ResponseWriter, r *http.Request, query queryFunc) error {
	minIndex, wait, err := blockingParams(r)
	if err != nil {
		return err
	}
	var index uint64
	if minIndex == 0 {
		index, err = query(nil, h.srv.State().Snapshot())
	} else {
		index, err = h.srv.BlockingQuery(r.Context(), minIndex, wait, query)
	}
	if err != nil {
		return err
	}
	h.setQueryMeta(w, index)
	return nil
}

// setQueryMeta sets the headers of a read. The index is never 0, so that
// a client using it as the next ?index= really blocks.
func (h *handler) setQueryMeta(w http.ResponseWriter, index uint64) {
	if index == 0 {
		index = 1
	}
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(index, 10))
	w.Header().Set("X-Nomad-KnownLeader", strconv.FormatBool(h.srv.Leader() != ""))
	w.Header().Set("X-Nomad-LastContact", strconv.FormatInt(h.srv.LastContact().Milliseconds(), 10))
}

// setWriteIndex sets the index header of a write.
func setWriteIndex(w http.ResponseWriter, index uint64) {
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(index, 10))
}

// maxIndex returns the highest index of the given tables.
func maxIndex(snap *state.StateSnapshot, tables ...string) (uint64, error) {
	var max uint64
	for _, t := range tables {
		i, err := snap.Index(t)
		if err != nil {
			return 0, err
		}
		if i > max {
			max = i
		}
	}
	return max, nil
}

// lookup finds one object by full ID or by a unique ID prefix. It returns
// nil when nothing matches, and a 400 when the prefix matches several.
func lookup[T any](ws memdb.WatchSet, id, kind string,
	byID func(memdb.WatchSet, string) (*T, error),
	byPrefix func(memdb.WatchSet, string) ([]*T, error)) (*T, error) {
	obj, err := byID(ws, id)
	if err != nil || obj != nil {
		return obj, err
	}
	matches, err := byPrefix(ws, id)
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return nil, nil
	case 1:
		return matches[0], nil
	}
	return nil, badRequest("%s ID prefix %q is ambiguous", kind, id)
}

// nonNil turns a nil slice into an empty one, so lists encode as [] and
// not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// readObject is a (possibly blocking) read of one object, indexed by
// table. A missing object is not an error inside the query, so a blocking
// read waits for it to appear; only the final answer maps it to 404.
func readObject[T any](h *handler, w http.ResponseWriter, r *http.Request, table, missing string,
	get func(ws memdb.WatchSet, snap *state.StateSnapshot) (*T, error)) (interface{}, error) {
	var obj *T
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if obj, err = get(ws, snap); err != nil {
			return 0, err
		}
		return snap.Index(table)
	})
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, notFound(missing)
	}
	return obj, nil
}
