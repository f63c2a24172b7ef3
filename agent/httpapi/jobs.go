package httpapi

import (
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/jobspec"
	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// jobRegisterRequest is the body of PUT /v1/jobs and PUT /v1/job/<id>.
// Fields of the compatible API that Drover does not act on
// (PolicyOverride, Submission, ...) are ignored.
type jobRegisterRequest struct {
	Job            *structs.Job
	EnforceIndex   bool
	JobModifyIndex uint64
	PreserveCounts bool
	// PreserveResources keeps the resources of the tasks that exist.
	PreserveResources bool
	EvalPriority      int
}

// jobRegisterResponse answers a registration.
type jobRegisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Warnings        string
	Index           uint64
	KnownLeader     bool
	// LastContact is in nanoseconds, as the client decodes it.
	LastContact int64
	// NextToken is part of every query answer's metadata; a write has no
	// next page.
	NextToken string
}

// jobDeregisterResponse is the answer to DELETE /v1/job/<id>, with the
// leader metadata the compatible API reports.
type jobDeregisterResponse struct {
	*server.JobDeregisterResponse
	KnownLeader bool
	LastContact int64
	NextToken   string
}

// jobPlanRequest is the body of PUT /v1/job/<id>/plan.
type jobPlanRequest struct {
	Job  *structs.Job
	Diff bool
}

// jobsParseRequest is the body of PUT /v1/jobs/parse.
type jobsParseRequest struct {
	JobHCL string
	// Variables is the content of a variables file (name = value lines).
	Variables string
	// Canonicalize is accepted for compatibility: the result is always
	// canonical, since Drover's parser validates what it returns.
	Canonicalize bool
	HCLv1        bool
}

// jobVersionsResponse is the shape the client's Versions() decodes.
type jobVersionsResponse struct {
	Versions []*structs.Job
	Diffs    []*structs.JobDiff
}

func (h *handler) jobsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns := namespace(r)
	prefix := r.URL.Query().Get("prefix")
	var out []*structs.JobListStub
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var jobs []*structs.Job
		var err error
		if ns == "*" {
			jobs, err = snap.Jobs(ws)
		} else {
			jobs, err = snap.JobsByIDPrefix(ws, ns, prefix)
		}
		if err != nil {
			return 0, err
		}
		out = make([]*structs.JobListStub, 0, len(jobs))
		for _, j := range jobs {
			if !strings.HasPrefix(j.ID, prefix) || !visible(r, j.Namespace, acl.CapListJobs) {
				continue
			}
			summary, err := snap.JobSummaryByID(ws, j.Namespace, j.ID)
			if err != nil {
				return 0, err
			}
			out = append(out, j.Stub(summary))
		}
		return maxIndex(snap, state.TableJobs, state.TableJobSummary)
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Namespace < out[j].Namespace
	})
	return out, nil
}

func (h *handler) jobsRegister(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return h.register(w, r, "")
}

func (h *handler) jobRegister(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	return h.register(w, r, r.PathValue("id"))
}

// register implements both registration endpoints; pathID is the ID in
// the URL of /v1/job/<id>, which the body's job must match.
func (h *handler) register(w http.ResponseWriter, r *http.Request, pathID string) (interface{}, error) {
	var req jobRegisterRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	job := req.Job
	switch {
	case job == nil:
		return nil, badRequest("Job must be specified")
	case job.ID == "":
		return nil, badRequest("Job ID hasn't been provided")
	case pathID != "" && job.ID != pathID:
		return nil, badRequest("Job ID does not match name")
	}
	setJobNamespace(job, r)
	if err := allowNamespace(r, job.Namespace, acl.CapSubmitJob); err != nil {
		return nil, err
	}
	if req.PreserveCounts || req.PreserveResources {
		if err := h.preserve(job, req.PreserveCounts, req.PreserveResources); err != nil {
			return nil, err
		}
	}
	resp, err := h.srv.RegisterJobWith(&server.JobRegisterArgs{Job: job, EnforceIndex: req.EnforceIndex,
		JobModifyIndex: req.JobModifyIndex, EvalPriority: req.EvalPriority, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return &jobRegisterResponse{
		EvalID: resp.EvalID, EvalCreateIndex: resp.EvalCreateIndex, JobModifyIndex: resp.JobModifyIndex,
		Warnings: resp.Warnings, Index: resp.Index,
		KnownLeader: h.srv.Leader() != "", LastContact: int64(h.srv.LastContact()),
	}, nil
}

// setJobNamespace gives a job without a namespace the request's.
func setJobNamespace(job *structs.Job, r *http.Request) {
	if job.Namespace != "" {
		return
	}
	if ns := namespace(r); ns != "*" {
		job.Namespace = ns
	}
}

// preserve keeps, from the registered version, the count of every group
// that already exists (job run -preserve-counts) and the resources of
// every task that does (-preserve-resources), so a resubmitted file does
// not undo a scaling.
func (h *handler) preserve(job *structs.Job, counts, resources bool) error {
	ns := job.Namespace
	if ns == "" {
		ns = structs.DefaultNamespace
	}
	existing, err := h.srv.State().JobByID(nil, ns, job.ID)
	if err != nil || existing == nil {
		return err
	}
	for _, tg := range job.TaskGroups {
		old := existing.LookupTaskGroup(tg.Name)
		if old == nil {
			continue
		}
		if counts {
			tg.Count = old.Count
		}
		if !resources {
			continue
		}
		for _, t := range tg.Tasks {
			for _, ot := range old.Tasks {
				if ot.Name != t.Name || ot.Resources == nil {
					continue
				}
				// The sizes are preserved; ports stay as the file declares them.
				kept := *ot.Resources
				kept.Networks = nil
				if t.Resources != nil {
					kept.Networks = t.Resources.Networks
				}
				t.Resources = &kept
			}
		}
	}
	return nil
}

func (h *handler) jobsParse(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobsParseRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.HCLv1 {
		return nil, badRequest("HCL1 job specifications are not supported")
	}
	if strings.TrimSpace(req.JobHCL) == "" {
		return nil, badRequest("Job HCL must be specified")
	}
	var opts jobspec.Options
	var varsPath string
	if req.Variables != "" {
		// The parser reads variable files by path; give it one and name it
		// "variables.hcl" in diagnostics.
		dir, err := os.MkdirTemp("", "drover-parse-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		varsPath = filepath.Join(dir, "variables.hcl")
		if err := os.WriteFile(varsPath, []byte(req.Variables), 0o600); err != nil {
			return nil, err
		}
		opts.VarFiles = []string{varsPath}
	}
	job, err := jobspec.Parse("input.hcl", []byte(req.JobHCL), opts)
	if err != nil {
		msg := err.Error()
		if varsPath != "" {
			msg = strings.ReplaceAll(msg, varsPath, "variables.hcl")
		}
		return nil, badRequest("%s", msg)
	}
	return job, nil
}

func (h *handler) jobInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	return readObject(h, w, r, state.TableJobs, "job not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Job, error) {
		return snap.JobByID(ws, ns, id)
	})
}

func (h *handler) jobDeregister(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	purge, err := boolParam(r, "purge")
	if err != nil {
		return nil, err
	}
	priority, err := int64Param(r, "eval_priority")
	if err != nil {
		return nil, err
	}
	// global (multiregion jobs) and no_shutdown_delay are accepted: Drover
	// has one region, and its client does not wait out shutdown_delay.
	for _, name := range []string{"global", "no_shutdown_delay"} {
		if _, err := boolParam(r, name); err != nil {
			return nil, err
		}
	}
	resp, err := h.srv.DeregisterJobWith(&server.JobDeregisterArgs{Namespace: namespace(r), JobID: r.PathValue("id"),
		Purge: purge, EvalPriority: int(priority), AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return &jobDeregisterResponse{JobDeregisterResponse: resp,
		KnownLeader: h.srv.Leader() != "", LastContact: int64(h.srv.LastContact())}, nil
}

func (h *handler) jobPlan(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req jobPlanRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	job := req.Job
	switch {
	case job == nil:
		return nil, badRequest("Job must be specified")
	case job.ID == "":
		return nil, badRequest("Job must have a valid ID")
	case job.ID != r.PathValue("id"):
		return nil, badRequest("Job ID does not match")
	}
	setJobNamespace(job, r)
	if err := allowNamespace(r, job.Namespace, acl.CapSubmitJob); err != nil {
		return nil, err
	}
	resp, err := h.srv.PlanJobWith(&server.JobPlanArgs{Job: job, Diff: req.Diff, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	index, err := h.srv.State().Index(state.TableJobs)
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, index)
	return resp, nil
}

func (h *handler) jobAllocations(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	all, err := boolParam(r, "all")
	if err != nil {
		return nil, err
	}
	var out []*structs.AllocListStub
	err = h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		allocs, err := snap.AllocsByJob(ws, ns, id, all)
		if err != nil {
			return 0, err
		}
		out = stubs(allocs)
		return snap.Index(state.TableAllocs)
	})
	return out, err
}

func (h *handler) jobEvaluations(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	var out []*structs.Evaluation
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if out, err = snap.EvalsByJob(ws, ns, id); err != nil {
			return 0, err
		}
		return snap.Index(state.TableEvals)
	})
	return nonNil(out), err
}

func (h *handler) jobDeployments(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	all, err := boolParam(r, "all")
	if err != nil {
		return nil, err
	}
	var out []*structs.Deployment
	err = h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		ds, err := snap.DeploymentsByJobID(ws, ns, id)
		if err != nil {
			return 0, err
		}
		job, err := snap.JobByID(ws, ns, id)
		if err != nil {
			return 0, err
		}
		out = make([]*structs.Deployment, 0, len(ds))
		for _, d := range ds {
			// Without all, only the current incarnation's deployments: a
			// purged and re-registered job starts afresh.
			if all || job == nil || d.JobCreateIndex == 0 || d.JobCreateIndex == job.CreateIndex {
				out = append(out, d)
			}
		}
		return snap.Index(state.TableDeployments)
	})
	return out, err
}

func (h *handler) jobLatestDeployment(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	var d *structs.Deployment
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if d, err = snap.LatestDeploymentByJobID(ws, ns, id); err != nil {
			return 0, err
		}
		return snap.Index(state.TableDeployments)
	})
	if err != nil {
		return nil, err
	}
	return d, nil // null when the job has none
}

func (h *handler) jobSummary(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	return readObject(h, w, r, state.TableJobSummary, "job not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.JobSummary, error) {
		return snap.JobSummaryByID(ws, ns, id)
	})
}

func (h *handler) jobVersions(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns, id := namespace(r), r.PathValue("id")
	diffs, err := boolParam(r, "diffs")
	if err != nil {
		return nil, err
	}
	var versions []*structs.Job
	err = h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if versions, err = snap.JobVersionsByID(ws, ns, id); err != nil {
			return 0, err
		}
		return snap.Index(state.TableJobVersions)
	})
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, notFound("job versions not found")
	}
	resp := &jobVersionsResponse{Versions: versions}
	if diffs {
		// Versions are newest first; each diff goes from the next older
		// version to this one.
		for i := 0; i+1 < len(versions); i++ {
			d, err := versions[i+1].Diff(versions[i], false)
			if err != nil {
				return nil, err
			}
			// What a change forces (create/destroy, in-place) is the
			// plan's preview of scheduling; between two stored versions
			// there is nothing to schedule, and the compatible API leaves
			// the annotations out.
			for _, tg := range d.TaskGroups {
				for _, t := range tg.Tasks {
					t.Annotations = nil
				}
			}
			resp.Diffs = append(resp.Diffs, d)
		}
	}
	return resp, nil
}

// stubs returns the list form of allocations, never nil.
func stubs(allocs []*structs.Allocation) []*structs.AllocListStub {
	out := make([]*structs.AllocListStub, 0, len(allocs))
	for _, a := range allocs {
		out = append(out, a.Stub())
	}
	return out
}
