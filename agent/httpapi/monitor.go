package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"drover/agent/logstream"
	"drover/agent/server"
)

// LogSource is the agent's log fan-out, which /v1/agent/monitor streams.
// *logstream.Sink implements it.
type LogSource interface {
	Subscribe(min logstream.Level, buffer int) *logstream.Subscription
}

// WithLogs lets the handler stream the agent's log at /v1/agent/monitor.
func WithLogs(src LogSource) Option { return func(h *handler) { h.logs = src } }

const (
	// monitorBuffer is how many records a monitor may fall behind by
	// before records are dropped for it (never held back for it).
	monitorBuffer = 512
	// monitorHeartbeat is how often an idle stream sends an empty frame,
	// which the client discards; it lets a client that wants to stop
	// notice within that time.
	monitorHeartbeat = time.Second
	// monitorFrameMax bounds the data of one frame.
	monitorFrameMax = 64 << 10
)

// agentMonitor serves /v1/agent/monitor: the agent's log as a stream of
// frames (as the logs API sends them), from now on, of ?log_level= (trace,
// debug, info (default), warn, error, off) and above; ?log_json=true sends
// each record as a JSON object; ?plain=true sends raw text instead of
// frames. ?node_id= or ?server_id= (a member name, or "leader") streams
// that agent's log instead, forwarded to its HTTP API.
func (h *handler) agentMonitor(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.writeError(w, r, &codedError{code: http.StatusMethodNotAllowed, msg: "Invalid method"})
		return
	}
	q := r.URL.Query()
	levelName := q.Get("log_level")
	if levelName == "" {
		levelName = "INFO"
	}
	level, ok := logstream.ParseLevel(levelName)
	if !ok {
		h.writeError(w, r, badRequest("Unknown log level: %s", levelName))
		return
	}
	// The compatible API words these two failures its own way.
	asJSON, err := boolParam(r, "log_json")
	if err != nil {
		h.writeError(w, r, badRequest("Unknown option for log json: %v", errors.Unwrap(err)))
		return
	}
	plain, err := boolParam(r, "plain")
	if err != nil {
		h.writeError(w, r, badRequest("Unknown option for plain: %v", errors.Unwrap(err)))
		return
	}
	nodeID, serverID := q.Get("node_id"), q.Get("server_id")
	if nodeID != "" && serverID != "" {
		h.writeError(w, r, badRequest("Cannot target node and server simultaneously"))
		return
	}
	addr, target, final, err := h.monitorTarget(r, nodeID, serverID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if addr != "" {
		h.forwardToAgent(w, r, addr, target, final)
		return
	}
	h.streamLog(w, r, level, asJSON, plain)
}

// monitorTarget decides who serves a monitor request: this agent (addr
// ""), or the agent at addr. final is true when addr is the target itself
// rather than a server that knows where the target is; node is then the
// target node's full ID, when it is a node.
func (h *handler) monitorTarget(r *http.Request, nodeID, serverID string) (addr, node string, final bool, err error) {
	forwarded := r.Header.Get(forwardedHeader) != ""
	loop := func(what string) error {
		return &codedError{code: http.StatusBadGateway,
			msg: fmt.Sprintf("the agent at %s is not %s: its address is out of date", h.info.HTTPAddr, what)}
	}
	switch {
	case nodeID != "":
		return h.resolveClientNode(r, nodeID)
	case serverID != "":
		if h.srv == nil {
			if forwarded {
				return "", "", false, loop("server " + serverID)
			}
			addr, err := h.serverHTTP()
			return addr, "", false, err
		}
		m, err := h.findServer(serverID)
		if err != nil {
			return "", "", false, err
		}
		if m.Name == h.info.NodeName+"."+h.info.Region {
			return "", "", false, nil
		}
		if forwarded {
			return "", "", false, loop("server " + serverID)
		}
		if m.Tags[tagHTTPAddr] == "" {
			return "", "", false, &codedError{code: http.StatusBadGateway, msg: fmt.Sprintf("server %s has no HTTP address to reach it at", m.Name)}
		}
		return m.Tags[tagHTTPAddr], "", true, nil
	}
	return "", "", false, nil
}

// Member tags the monitor reads: where a server's RPC and HTTP APIs are.
const (
	tagRPCAddr  = "rpc_addr"
	tagRPCPort  = "port"
	tagHTTPAddr = "http_addr"
)

// findServer finds a server by member name ("server1.global"), node name
// ("server1") or "leader".
func (h *handler) findServer(id string) (server.Member, error) {
	members := h.srv.Members()
	if id == "leader" {
		leader := h.srv.Leader()
		if leader == "" {
			return server.Member{}, &codedError{code: http.StatusServiceUnavailable, msg: "No cluster leader"}
		}
		for _, m := range members {
			if net.JoinHostPort(m.Tags[tagRPCAddr], m.Tags[tagRPCPort]) == leader {
				return m, nil
			}
		}
		return server.Member{}, &codedError{code: http.StatusBadGateway, msg: fmt.Sprintf("the leader %s is not among the members gossip knows", leader)}
	}
	for _, m := range members {
		if m.Name == id || m.Name == id+"."+h.info.Region {
			return m, nil
		}
	}
	return server.Member{}, badRequest("unknown server %q: give a member name as the members list shows it, or \"leader\"", id)
}

// streamLog streams this agent's log until the client goes away or the
// agent stops.
func (h *handler) streamLog(w http.ResponseWriter, r *http.Request, level logstream.Level, asJSON, plain bool) {
	if h.logs == nil {
		h.writeError(w, r, &codedError{code: http.StatusNotImplemented, msg: "this agent does not stream its log"})
		return
	}
	sub := h.logs.Subscribe(level, monitorBuffer)
	h.logger.Printf("[INFO] http: log monitor attached (level %s)", level)
	defer func() {
		sub.Close()
		h.logger.Printf("[INFO] http: log monitor detached (level %s)", level)
	}()

	if plain {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	enc := json.NewEncoder(w)
	send := func(data []byte) error {
		var err error
		if plain {
			_, err = w.Write(data)
		} else {
			err = enc.Encode(streamFrame{Data: data})
		}
		flush()
		return err
	}

	heartbeat := time.NewTicker(monitorHeartbeat)
	defer heartbeat.Stop()
	var buf bytes.Buffer
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			if plain {
				continue
			}
			if err := enc.Encode(streamFrame{}); err != nil {
				return
			}
			flush()
		case l, ok := <-sub.Lines():
			if !ok {
				return // the agent is stopping
			}
			buf.Reset()
			if n := sub.TakeDropped(); n > 0 && level <= logstream.Warn {
				note := logstream.Line{Time: time.Now(), Level: logstream.Warn,
					Text: fmt.Sprintf("%s [WARN] http: log monitor dropped %d lines: this reader fell behind",
						time.Now().Format("2006/01/02 15:04:05"), n)}
				appendRecord(&buf, note, asJSON)
			}
			appendRecord(&buf, l, asJSON)
			// Whatever else is already waiting goes in the same frame.
		batch:
			for buf.Len() < monitorFrameMax {
				select {
				case l, ok := <-sub.Lines():
					if !ok {
						break batch
					}
					appendRecord(&buf, l, asJSON)
				default:
					break batch
				}
			}
			if err := send(buf.Bytes()); err != nil {
				return
			}
		}
	}
}

func appendRecord(buf *bytes.Buffer, l logstream.Line, asJSON bool) {
	if asJSON {
		buf.Write(l.JSON())
	} else {
		buf.WriteString(l.Text)
	}
	buf.WriteByte('\n')
}
