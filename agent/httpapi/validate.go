package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
)

// jobValidateResponse is the body of /v1/validate/job, the shape the
// client's Jobs().Validate decodes.
type jobValidateResponse struct {
	DriverConfigValidated bool
	ValidationErrors      []string
	Error                 string
	Warnings              string
}

// jobValidate checks a job without registering it. An invalid job is a
// normal answer (200) listing what is wrong, as in the compatible API.
func (h *handler) jobValidate(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Job == nil {
		return nil, badRequest("Job must be specified")
	}
	job := req.Job.Copy()
	setJobNamespace(job, r)
	job.Canonicalize()
	out := &jobValidateResponse{DriverConfigValidated: true, ValidationErrors: []string{}}
	if err := job.Validate(); err != nil {
		out.Error = err.Error()
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*")); line != "" && !strings.HasSuffix(line, "occurred:") {
				out.ValidationErrors = append(out.ValidationErrors, line)
			}
		}
	}
	return out, nil
}

// healthStatus is one role's part of /v1/agent/health.
type healthStatus struct {
	Ok      bool   `json:"ok"`
	Message string `json:"message"`
}

// agentHealth reports whether this agent's roles work: a server that
// knows a leader, a client that is registered. Unhealthy answers 500,
// as in the compatible API, so a load balancer can use it.
func (h *handler) agentHealth(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	out := map[string]*healthStatus{}
	ok := true
	if h.srv != nil {
		s := &healthStatus{Ok: true, Message: "ok"}
		if h.srv.Leader() == "" {
			s.Ok, s.Message, ok = false, "No cluster leader", false
		}
		out["server"] = s
	}
	if h.info.Client {
		out["client"] = &healthStatus{Ok: true, Message: "ok"}
	}
	if !ok {
		return nil, &codedError{code: http.StatusInternalServerError, msg: mustJSON(out)}
	}
	return out, nil
}

func mustJSON(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}
