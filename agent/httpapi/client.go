package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"drover/agent/client"
	"drover/agent/client/hoststats"
	"drover/agent/drivers"
)

// LocalClient is the client role of the agent serving the API, when it
// has one: it answers logs and stats of the allocations it runs.
type LocalClient interface {
	AllocRunning(allocID string) bool
	LocalAllocByPrefix(prefix string) (string, bool)
	StreamLogs(ctx context.Context, allocID, task, stream string, follow bool, origin string, offset int64,
		emit func(client.LogChunk) error) error
	AllocStats(ctx context.Context, allocID string) (*client.AllocResourceUsage, error)
	// NodeID and HostStats describe the machine (/v1/client/stats).
	NodeID() string
	HostStats() (*hoststats.Stats, error)
	// Lifecycle of local allocations: restart, signal, exec (see
	// alloc_lifecycle.go and exec.go), and their directories (fs.go).
	RestartAlloc(ctx context.Context, allocID, task string, allTasks bool) error
	SignalAlloc(allocID, task, signal string) error
	CheckExec(allocID, task string) error
	ExecTask(ctx context.Context, allocID, task string, opts *drivers.ExecOptions) (int, error)
	AllocFS(allocID string) (*client.AllocFS, error)
	// AllocNamespace is a local allocation's namespace, where a token's
	// capabilities are checked.
	AllocNamespace(allocID string) (string, bool)
}

// Option configures the handler.
type Option func(*handler)

// WithClient lets the handler answer client endpoints for local
// allocations.
func WithClient(c LocalClient) Option { return func(h *handler) { h.local = c } }

// WithForwardTLS makes the handler forward requests to other agents over
// HTTPS with cfg, as agents with tls { http = true } serve their API.
func WithForwardTLS(cfg *tls.Config) Option { return func(h *handler) { h.forwardTLS = cfg } }

// forwardedHeader marks a request already forwarded once, so that two
// agents that each think the other runs an allocation cannot loop.
const forwardedHeader = "X-Drover-Forwarded"

// clientRoutes registers the endpoints answered by the node that runs an
// allocation: any other agent forwards them there.
func (h *handler) clientRoutes() {
	h.handle("/v1/client/fs/logs/{alloc}", h.clientLogs)
	h.handle("/v1/client/allocation/{alloc}/stats", h.clientStats)
	h.handle("/v1/client/stats", h.clientHostStats)
	h.handle("/v1/client/allocation/{alloc}/checks", h.clientChecks)
	h.handle("/v1/client/allocation/{alloc}/restart", h.clientRestart)
	h.handle("/v1/client/allocation/{alloc}/signal", h.clientSignal)
	h.handle("/v1/client/allocation/{alloc}/exec", h.clientExec)
	h.fsRoutes()
	h.handle("/v1/agent/monitor", h.agentMonitor)
}

// resolveClientNode finds who answers a request about a node's machine
// (?node_id=): this agent (addr ""), or the agent at addr. final tells
// that addr is the node itself rather than a server that knows where it
// is; node is then the node's full ID. No node ID means this agent's own
// client.
func (h *handler) resolveClientNode(r *http.Request, nodeID string) (addr, node string, final bool, err error) {
	self := h.info.NodeID // empty on an agent that runs no client
	if self != "" && (nodeID == "" || nodeID == self) {
		return "", "", false, nil
	}
	if nodeID == "" {
		return "", "", false, badRequest("This agent runs no client: give the node with ?node_id=")
	}
	if r.Header.Get(forwardedHeader) != "" {
		return "", "", false, &codedError{code: http.StatusBadGateway,
			msg: fmt.Sprintf("the agent at %s is not node %s: its address is out of date", h.info.HTTPAddr, nodeID)}
	}
	if h.srv == nil {
		// A client-only agent asks a server, which knows every node.
		addr, err := h.serverHTTP()
		return addr, "", false, err
	}
	snap := h.srv.State().Snapshot()
	n, err := lookup(nil, nodeID, "node", snap.NodeByID, snap.NodesByIDPrefix)
	if err != nil {
		return "", "", false, err
	}
	if n == nil {
		return "", "", false, notFound(fmt.Sprintf("Unknown node %q", nodeID))
	}
	if n.ID == self {
		return "", "", false, nil
	}
	if n.HTTPAddr == "" {
		return "", "", false, &codedError{code: http.StatusBadGateway, msg: fmt.Sprintf("node %s has no HTTP address to reach it at", n.ID)}
	}
	return n.HTTPAddr, n.ID, true, nil
}

// forwardToAgent hands a request on to the agent at addr. When that is
// the target itself (final), the request is marked so that it is never
// forwarded again, and a node named by a prefix is named in full, as the
// node knows itself.
func (h *handler) forwardToAgent(w http.ResponseWriter, r *http.Request, addr, node string, final bool) {
	if final {
		r.Header.Set(forwardedHeader, "1")
	}
	if node != "" {
		q := r.URL.Query()
		q.Set("node_id", node)
		r.URL.RawQuery = q.Encode()
	}
	h.forward(w, r, addr, false)
}

// clientHostStats serves /v1/client/stats?node_id=: the machine's memory,
// CPU, disk and uptime, answered by the node itself.
func (h *handler) clientHostStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.writeError(w, r, &codedError{code: http.StatusMethodNotAllowed, msg: "Invalid method"})
		return
	}
	addr, node, final, err := h.resolveClientNode(r, r.URL.Query().Get("node_id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if addr != "" {
		h.forwardToAgent(w, r, addr, node, final)
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		if h.local == nil {
			return nil, badRequest("This agent runs no client")
		}
		return h.local.HostStats()
	})
}

// resolveClientAlloc finds the full allocation ID and, when it does not
// run here, the HTTP address of the node that runs it.
func (h *handler) resolveClientAlloc(r *http.Request) (id, forwardTo string, toNode bool, err error) {
	id = r.PathValue("alloc")
	if h.local != nil {
		if full, ok := h.local.LocalAllocByPrefix(id); ok {
			return full, "", false, nil
		}
	}
	if h.srv == nil {
		// A client-only agent asks a server, which knows every node.
		addr, err := h.serverHTTP()
		return id, addr, false, err
	}
	snap := h.srv.State().Snapshot()
	alloc, err := lookup(nil, id, "alloc", snap.AllocByID, snap.AllocsByIDPrefix)
	if err != nil {
		return "", "", false, err
	}
	if alloc == nil {
		return "", "", false, notFound("alloc not found")
	}
	if h.local != nil && h.local.AllocRunning(alloc.ID) {
		return alloc.ID, "", false, nil
	}
	node, err := snap.NodeByID(nil, alloc.NodeID)
	if err != nil {
		return "", "", false, err
	}
	if node == nil || node.HTTPAddr == "" {
		return "", "", false, &codedError{code: http.StatusBadGateway, msg: fmt.Sprintf("node %s of allocation %s cannot be reached", alloc.NodeID, alloc.ID)}
	}
	return alloc.ID, node.HTTPAddr, true, nil
}

// forward proxies the request to another agent's HTTP API. A request
// forwarded to the node that runs an allocation is marked, and a marked
// request is never forwarded again.
func (h *handler) forward(w http.ResponseWriter, r *http.Request, addr string, toNode bool) {
	if toNode && r.Header.Get(forwardedHeader) != "" {
		h.writeError(w, r, &codedError{code: http.StatusNotFound, msg: "alloc not found on this node"})
		return
	}
	scheme := "http://"
	if h.forwardTLS != nil {
		scheme = "https://"
	}
	target, err := url.Parse(scheme + addr)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	if h.forwardTLS != nil {
		proxy.Transport = h.forwardTransport()
	}
	proxy.FlushInterval = -1 // stream logs as they come
	proxy.ErrorLog = h.logger
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		h.writeError(w, r, &codedError{code: http.StatusBadGateway, msg: fmt.Sprintf("forward to %s: %v", addr, err)})
	}
	if toNode {
		r.Header.Set(forwardedHeader, "1")
	}
	proxy.ServeHTTP(w, r)
}

// forwardTransport is the HTTPS transport of forwarded requests, made
// once and shared so that connections to other agents are reused.
func (h *handler) forwardTransport() http.RoundTripper {
	h.forwardOnce.Do(func() {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = h.forwardTLS
		h.forwardRT = t
	})
	return h.forwardRT
}

// streamFrame is one frame of the logs API's stream.
type streamFrame struct {
	Offset    int64  `json:",omitempty"`
	Data      []byte `json:",omitempty"`
	File      string `json:",omitempty"`
	FileEvent string `json:",omitempty"`
}

// streamChunks answers a request with what run sends: one frame of the
// logs API per chunk or, plain, the chunk's bytes as they are, each
// flushed at once. The status line goes out with the first chunk: an
// error that run returns before it is still answered as a status; after
// it, the stream just ends.
func (h *handler) streamChunks(w http.ResponseWriter, r *http.Request, plain bool, run func(send func(client.LogChunk) error) error) {
	if plain {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	started := false
	err := run(func(c client.LogChunk) error {
		started = true
		var werr error
		if plain {
			_, werr = w.Write(c.Data)
		} else {
			werr = enc.Encode(streamFrame{Offset: c.Offset + int64(len(c.Data)), Data: c.Data, File: c.File, FileEvent: c.Event})
		}
		if flusher != nil {
			flusher.Flush()
		}
		return werr
	})
	if err != nil && !started {
		h.writeError(w, r, err)
		return
	}
	if !started && flusher != nil {
		flusher.Flush() // nothing to send: the headers, and the end
	}
}

// clientLogs serves /v1/client/fs/logs/{alloc}: task, type (stdout or
// stderr), follow, origin (start or end), offset and plain.
func (h *handler) clientLogs(w http.ResponseWriter, r *http.Request) {
	id, ok := h.localAlloc(w, r, http.MethodGet)
	if !ok {
		return
	}
	q := r.URL.Query()
	task, typ := q.Get("task"), q.Get("type")
	if task == "" {
		h.writeError(w, r, badRequest("must include task name"))
		return
	}
	if typ == "" {
		typ = "stdout"
	}
	origin := q.Get("origin")
	if origin == "" {
		origin = "start"
	}
	if origin != "start" && origin != "end" {
		h.writeError(w, r, badRequest("origin must be start or end, got %q", origin))
		return
	}
	offset, err := int64Param(r, "offset")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	follow := q.Get("follow") == "true"
	plain := q.Get("plain") == "true"
	h.streamChunks(w, r, plain, func(send func(client.LogChunk) error) error {
		err := h.local.StreamLogs(r.Context(), id, task, typ, follow, origin, offset, send)
		if errors.Is(err, client.ErrUnknownAlloc) {
			err = notFound("alloc not found")
		}
		return err
	})
}

// clientStats serves /v1/client/allocation/{alloc}/stats.
func (h *handler) clientStats(w http.ResponseWriter, r *http.Request) {
	id, ok := h.localAlloc(w, r, http.MethodGet)
	if !ok {
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		stats, err := h.local.AllocStats(ctx, id)
		if errors.Is(err, client.ErrUnknownAlloc) {
			return nil, notFound("alloc not found")
		}
		return stats, err
	})
}

// clientChecks answers the allocation's service check results, which the
// compatible CLI's "alloc status" lists as "Nomad Service Checks". Drover
// runs no checks for services of the nomad provider, so a known
// allocation has none: an empty object, as for an allocation without
// checks.
func (h *handler) clientChecks(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.localAlloc(w, r, http.MethodGet); !ok {
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		return map[string]interface{}{}, nil
	})
}

// NewClientHandler is the API of a client-only agent: it answers client
// endpoints for its own allocations and /v1/agent/self about itself (the
// CLI's -self flags find the local node there), and forwards everything
// else to a server, whose HTTP address serverHTTP returns.
func NewClientHandler(local LocalClient, serverHTTP func() (string, error), info AgentInfo, logger *log.Logger, opts ...Option) http.Handler {
	if info.Region == "" {
		info.Region = "global"
	}
	h := &handler{local: local, info: info, logger: logger, mux: http.NewServeMux(), serverHTTP: serverHTTP}
	if h.logger == nil {
		h.logger = log.New(nopWriter{}, "", 0)
	}
	for _, o := range opts {
		o(h)
	}
	h.clientRoutes()
	h.route("/v1/agent/self", map[string]endpointFunc{http.MethodGet: h.agentSelf})
	h.route("/v1/agent/health", map[string]endpointFunc{http.MethodGet: h.agentHealth})
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		addr, err := serverHTTP()
		if err != nil {
			h.writeError(w, r, &codedError{code: http.StatusBadGateway, msg: "no server reachable: " + err.Error()})
			return
		}
		h.forward(w, r, addr, false)
	})
	return h
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
