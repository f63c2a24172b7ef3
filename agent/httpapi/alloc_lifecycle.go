package httpapi

import (
	"errors"
	"net/http"

	"drover/agent/client"
	"drover/agent/server"
)

// allocStop serves PUT /v1/allocation/{id}/stop: the allocation is marked
// to migrate with an alloc-stop evaluation, which stops it and places a
// replacement. ?no_shutdown_delay=true is recorded on the allocation.
func (h *handler) allocStop(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	noDelay, err := boolParam(r, "no_shutdown_delay")
	if err != nil { // worded as the compatible API words it
		return nil, badRequest("no_shutdown_delay value is not a boolean: %q", r.URL.Query().Get("no_shutdown_delay"))
	}
	resp, err := h.srv.StopAllocWith(&server.AllocStopArgs{AllocID: r.PathValue("id"), NoShutdownDelay: noDelay,
		AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return resp, nil
}

// localAlloc prepares a client endpoint: it checks the method, finds the
// allocation and, when another node runs it, forwards the request there.
// It returns the full allocation ID and true when this agent answers.
func (h *handler) localAlloc(w http.ResponseWriter, r *http.Request, methods ...string) (string, bool) {
	allowed := false
	for _, m := range methods {
		allowed = allowed || r.Method == m
	}
	if !allowed {
		h.writeError(w, r, &codedError{code: http.StatusMethodNotAllowed, msg: "Invalid method"})
		return "", false
	}
	id, forwardTo, toNode, err := h.resolveClientAlloc(r)
	if err != nil {
		h.writeError(w, r, err)
		return "", false
	}
	if forwardTo != "" {
		h.forward(w, r, forwardTo, toNode)
		return "", false
	}
	if h.local == nil {
		h.writeError(w, r, notFound("alloc not found"))
		return "", false
	}
	return id, true
}

// clientError maps the client's "unknown allocation" to the API's 404;
// other errors carry their own kind.
func clientError(err error) error {
	if errors.Is(err, client.ErrUnknownAlloc) {
		return notFound("alloc not found")
	}
	return err
}

// restartRequest is the body of the restart endpoint.
type restartRequest struct {
	TaskName string
	AllTasks bool
}

// clientRestart serves PUT /v1/client/allocation/{alloc}/restart: one
// task ({"TaskName": ...}), the running tasks ({}), or every task
// ({"AllTasks": true}) restart in place. It answers once the old
// instances have exited.
func (h *handler) clientRestart(w http.ResponseWriter, r *http.Request) {
	id, ok := h.localAlloc(w, r, http.MethodPut, http.MethodPost)
	if !ok {
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		var req restartRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		if err := h.local.RestartAlloc(r.Context(), id, req.TaskName, req.AllTasks); err != nil {
			return nil, clientError(err)
		}
		return struct{}{}, nil
	})
}

// signalRequest is the body of the signal endpoint.
type signalRequest struct {
	Task   string
	Signal string
}

// clientSignal serves PUT /v1/client/allocation/{alloc}/signal: the
// signal (SIGKILL when none is named) goes to one task, or to all.
func (h *handler) clientSignal(w http.ResponseWriter, r *http.Request) {
	id, ok := h.localAlloc(w, r, http.MethodPut, http.MethodPost)
	if !ok {
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		var req signalRequest
		if err := decodeBody(r, &req); err != nil {
			return nil, err
		}
		if err := h.local.SignalAlloc(id, req.Task, req.Signal); err != nil {
			return nil, clientError(err)
		}
		return struct{}{}, nil
	})
}
