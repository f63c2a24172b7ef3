package httpapi

import (
	"net/http"

	"github.com/hashicorp/go-memdb"

	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// jobRevertRequest is the body of PUT /v1/job/<id>/revert. The compatible
// API's ConsulToken and VaultToken are ignored: Drover talks to neither.
type jobRevertRequest struct {
	JobID               string
	JobVersion          uint64
	EnforcePriorVersion *uint64
}

// jobScaleRequest is the body of PUT /v1/job/<id>/scale, the client's
// ScalingRequest. Meta and PolicyOverride are accepted and not acted on.
type jobScaleRequest struct {
	Count          *int64
	Target         map[string]string
	Message        string
	Error          bool
	Meta           map[string]interface{}
	PolicyOverride bool
	// JobModifyIndex, when not 0, scales only if the job's modify index
	// is still this one.
	JobModifyIndex uint64
}

// jobEvaluateRequest is the body of PUT /v1/job/<id>/evaluate; the body
// may be empty (the client's ForceEvaluate sends none).
type jobEvaluateRequest struct {
	JobID       string
	EvalOptions struct {
		ForceReschedule bool
	}
}

// jobDispatchRequest is the body of PUT /v1/job/<id>/dispatch, decoded
// only to check it: Drover has no parameterized jobs to dispatch.
type jobDispatchRequest struct {
	JobID            string
	Payload          []byte
	Meta             map[string]string
	IdPrefixTemplate string
	Priority         int
}

// jobScaleStatusResponse is what the client's Jobs().ScaleStatus decodes.
type jobScaleStatusResponse struct {
	JobID          string
	Namespace      string
	JobCreateIndex uint64
	JobModifyIndex uint64
	JobStopped     bool
	TaskGroups     map[string]*taskGroupScaleStatus
}

// taskGroupScaleStatus counts a group's live allocations. Events is
// always null: Drover records no scaling events.
type taskGroupScaleStatus struct {
	Desired   int
	Placed    int
	Running   int
	Healthy   int
	Unhealthy int
	Events    []interface{}
}

// registerReply is the answer to every write that registers a job or
// creates an evaluation for one.
func (h *handler) registerReply(w http.ResponseWriter, resp *server.JobRegisterResponse) *jobRegisterResponse {
	setWriteIndex(w, resp.Index)
	return &jobRegisterResponse{
		EvalID: resp.EvalID, EvalCreateIndex: resp.EvalCreateIndex, JobModifyIndex: resp.JobModifyIndex,
		Warnings: resp.Warnings, Index: resp.Index,
		KnownLeader: h.srv.Leader() != "", LastContact: int64(h.srv.LastContact()),
	}
}

func (h *handler) jobRevert(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobRevertRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	switch {
	case req.JobID == "":
		return nil, badRequest("JobID must be specified")
	case req.JobID != r.PathValue("id"):
		return nil, badRequest("Job ID does not match")
	}
	resp, err := h.srv.RevertJob(&server.JobRevertArgs{Namespace: namespace(r), JobID: req.JobID,
		JobVersion: req.JobVersion, EnforcePriorVersion: req.EnforcePriorVersion,
		AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	return h.registerReply(w, resp), nil
}

func (h *handler) jobScale(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobScaleRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	id, ns := r.PathValue("id"), namespace(r)
	if t := req.Target["Job"]; t != "" && t != id {
		return nil, badRequest("job ID in payload did not match URL")
	}
	if t := req.Target["Namespace"]; t != "" && t != ns {
		return nil, badRequest("namespace in payload did not match header")
	}
	resp, err := h.srv.ScaleJob(&server.JobScaleArgs{Namespace: ns, JobID: id, Group: req.Target["Group"],
		Count: req.Count, Message: req.Message, Error: req.Error, JobModifyIndex: req.JobModifyIndex,
		AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	return h.registerReply(w, resp), nil
}

func (h *handler) jobScaleStatus(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	var out *jobScaleStatusResponse
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		out = nil
		job, err := snap.JobByID(ws, ns, id)
		if err != nil || job == nil {
			index, ierr := snap.Index(state.TableJobs)
			if err == nil {
				err = ierr
			}
			return index, err
		}
		allocs, err := snap.AllocsByJob(ws, ns, id, false)
		if err != nil {
			return 0, err
		}
		out = scaleStatus(job, allocs)
		return maxIndex(snap, state.TableJobs, state.TableAllocs)
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, notFound("job not found")
	}
	return out, nil
}

// scaleStatus counts, per group of the job, the desired count and the
// live allocations: placed, running, and healthy or unhealthy once their
// deployment health is known. Canaries are left out, as the compatible
// API leaves them out.
func scaleStatus(job *structs.Job, allocs []*structs.Allocation) *jobScaleStatusResponse {
	out := &jobScaleStatusResponse{JobID: job.ID, Namespace: job.Namespace, JobCreateIndex: job.CreateIndex,
		JobModifyIndex: job.ModifyIndex, JobStopped: job.Stop, TaskGroups: map[string]*taskGroupScaleStatus{}}
	for _, tg := range job.TaskGroups {
		out.TaskGroups[tg.Name] = &taskGroupScaleStatus{Desired: tg.Count}
	}
	for _, a := range allocs {
		g := out.TaskGroups[a.TaskGroup]
		if g == nil || a.TerminalStatus() || (a.DeploymentStatus != nil && a.DeploymentStatus.Canary) {
			continue
		}
		g.Placed++
		if a.ClientStatus == structs.AllocClientStatusRunning {
			g.Running++
		}
		switch {
		case a.DeploymentStatus.IsHealthy():
			g.Healthy++
		case a.DeploymentStatus.IsUnhealthy():
			g.Unhealthy++
		}
	}
	return out
}

func (h *handler) jobEvaluate(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobEvaluateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	if req.JobID != "" && req.JobID != id {
		return nil, badRequest("JobID not same as job name")
	}
	resp, err := h.srv.EvaluateJob(&server.JobEvaluateArgs{Namespace: namespace(r), JobID: id,
		ForceReschedule: req.EvalOptions.ForceReschedule, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	return h.registerReply(w, resp), nil
}

// existingJob reads a job for the endpoints Drover answers only with a
// refusal: a job that does not exist is a 404 first.
func (h *handler) existingJob(r *http.Request) (*structs.Job, error) {
	job, err := h.srv.State().JobByID(nil, namespace(r), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if job == nil {
		return nil, notFound("job not found")
	}
	return job, nil
}

// jobDispatch refuses: dispatching needs a parameterized job, which
// Drover's job parser does not accept, so no registered job can be one.
func (h *handler) jobDispatch(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobDispatchRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.JobID != "" && req.JobID != r.PathValue("id") {
		return nil, badRequest("Job ID does not match")
	}
	job, err := h.existingJob(r)
	if err != nil {
		return nil, err
	}
	return nil, badRequest("job dispatch is not supported: Drover has no parameterized jobs, so job %q cannot be dispatched", job.ID)
}

// jobPeriodicForce refuses: Drover parses and validates periodic blocks
// but has no periodic launcher to force.
func (h *handler) jobPeriodicForce(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	job, err := h.existingJob(r)
	if err != nil {
		return nil, err
	}
	if job.Periodic == nil {
		return nil, badRequest("can't force launch non-periodic job")
	}
	return nil, badRequest("periodic force is not supported: Drover does not launch periodic jobs (the periodic block of job %q is validated, but nothing launches it)", job.ID)
}
