package server

import (
	"context"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/scheduler"
	"drover/agent/state"
	"drover/agent/structs"
)

// JobRegisterResponse answers a job registration.
type JobRegisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Warnings        string
	Index           uint64
}

// RegisterJob registers (or updates) a job and creates the evaluation that
// schedules it. With enforceIndex, the job is only registered if its
// current JobModifyIndex equals jobModifyIndex, 0 meaning "must not exist"
// (job run -check-index). An unchanged job is not re-registered (its
// version stays), but an evaluation is still created.
func (s *Server) RegisterJob(job *structs.Job, enforceIndex bool, jobModifyIndex uint64) (*JobRegisterResponse, error) {
	return s.RegisterJobWith(&JobRegisterArgs{Job: job, EnforceIndex: enforceIndex, JobModifyIndex: jobModifyIndex})
}

// RegisterJobWith is RegisterJob with every option of the request.
func (s *Server) RegisterJobWith(args *JobRegisterArgs) (*JobRegisterResponse, error) {
	job, enforceIndex, jobModifyIndex := args.Job, args.EnforceIndex, args.JobModifyIndex
	if job == nil {
		return nil, errorf(ErrInvalidRequest, "Job must be specified")
	}
	if err := validEvalPriority(args.EvalPriority); err != nil {
		return nil, err
	}
	var fwd JobRegisterResponse
	if done, err := s.forward("Job.Register", args, &fwd); done {
		return &fwd, err
	}
	return s.registerJob(job, registerOptions{enforceIndex: enforceIndex, jobModifyIndex: jobModifyIndex,
		trigger: structs.EvalTriggerJobRegister, evalPriority: args.EvalPriority})
}

// registerOptions are what distinguishes the writes that store a new
// version of a job: a submission (job run), a revert and a scaling.
type registerOptions struct {
	enforceIndex   bool
	jobModifyIndex uint64
	// trigger is the TriggeredBy of the evaluation created.
	trigger string
	// keepStop keeps the job's Stop flag: a submitted job always runs,
	// while a reverted or scaled one keeps the state it had.
	keepStop bool
	// evalPriority overrides the job's priority for the evaluation (0:
	// the job's).
	evalPriority int
}

// registerJob stores job as the job's next version (or, when its
// specification did not change, only creates an evaluation), on the
// leader. Revert and scale go through it so that they schedule exactly
// as submitting the same job would.
func (s *Server) registerJob(job *structs.Job, opts registerOptions) (*JobRegisterResponse, error) {
	job = job.Copy()
	job.Canonicalize()
	if err := job.ValidateWith(s.limits()); err != nil {
		return nil, errorf(ErrValidation, "%v", err)
	}
	existing, err := s.State().JobByID(nil, job.Namespace, job.ID)
	if err != nil {
		return nil, err
	}
	enforceIndex, jobModifyIndex := opts.enforceIndex, opts.jobModifyIndex
	// Checked here for a quick answer, and again in the FSM, which is the
	// check that counts when writers race.
	if enforceIndex {
		if err := checkIndex(existing, jobModifyIndex); err != nil {
			return nil, err
		}
	}
	ts := now()
	resp := &JobRegisterResponse{}
	var eval *structs.Evaluation
	if job.Periodic == nil {
		eval = structs.NewEval(job, opts.trigger, ts)
		eval.Priority = evalPriority(opts.evalPriority, job.Priority)
		resp.EvalID = eval.ID
	}
	s.cancelBlocked(job.Namespace, job.ID)
	if existing != nil && !existing.SpecChanged(job) {
		if eval == nil {
			resp.JobModifyIndex = existing.JobModifyIndex
			return resp, nil
		}
		eval.JobModifyIndex = existing.JobModifyIndex
		index, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{eval}})
		if err != nil {
			return nil, err
		}
		resp.EvalCreateIndex, resp.JobModifyIndex, resp.Index = index, existing.JobModifyIndex, index
		return resp, nil
	}
	job.SubmitTime = ts.UnixNano()
	if !opts.keepStop {
		job.Stop = false
	}
	job.Status, job.StatusDescription, job.Stable = "", "", false
	index, err := s.apply(JobRegisterRequestType, &JobRegisterRequest{Job: job, Eval: eval,
		EnforceIndex: enforceIndex, JobModifyIndex: jobModifyIndex})
	if err != nil {
		return nil, err
	}
	resp.JobModifyIndex, resp.Index = index, index
	if eval != nil {
		resp.EvalCreateIndex = index
	}
	return resp, nil
}

// checkIndex implements -check-index, with the messages users know.
func checkIndex(existing *structs.Job, want uint64) error {
	switch {
	case want == 0 && existing != nil:
		return errorf(ErrIndexMismatch, "Enforcing job modify index 0: job already exists")
	case want != 0 && existing == nil:
		return errorf(ErrIndexMismatch, "Enforcing job modify index %d: job does not exist", want)
	case existing != nil && existing.JobModifyIndex != want:
		return errorf(ErrIndexMismatch, "Enforcing job modify index %d: job exists with conflicting job modify index: %d",
			want, existing.JobModifyIndex)
	}
	return nil
}

// cancelBlocked drops a job's blocked evaluation when a newer registration
// or a stop supersedes it.
func (s *Server) cancelBlocked(namespace, jobID string) {
	if e := s.blocked.UntrackJob(namespace, jobID); e != nil {
		s.cancelEvalAsync(e, "superseded by a newer evaluation of the job")
	}
}

// JobPlanResponse is the dry run of a registration.
type JobPlanResponse struct {
	Annotations        *structs.PlanAnnotations
	FailedTGAllocs     map[string]*structs.AllocMetric
	JobModifyIndex     uint64
	CreatedEvals       []*structs.Evaluation
	Diff               *structs.JobDiff
	NextPeriodicLaunch time.Time
	Warnings           string
	// Decisions is Drover's addition: why each allocation got its fate.
	Decisions []*structs.Decision `json:",omitempty"`
}

// PlanJob runs the scheduler against the current state as if job were
// registered, and changes nothing.
func (s *Server) PlanJob(job *structs.Job, diff bool) (*JobPlanResponse, error) {
	return s.PlanJobWith(&JobPlanArgs{Job: job, Diff: diff})
}

// PlanJobWith is PlanJob with the whole request, token included.
func (s *Server) PlanJobWith(args *JobPlanArgs) (*JobPlanResponse, error) {
	job, diff := args.Job, args.Diff
	if job == nil {
		return nil, errorf(ErrInvalidRequest, "Job must be specified")
	}
	var fwd JobPlanResponse
	if done, err := s.forward("Job.Plan", args, &fwd); done {
		return &fwd, err
	}
	job = job.Copy()
	job.Canonicalize()
	if err := job.ValidateWith(s.limits()); err != nil {
		return nil, errorf(ErrValidation, "%v", err)
	}
	snap := s.State().Snapshot()
	existing, err := snap.JobByID(nil, job.Namespace, job.ID)
	if err != nil {
		return nil, err
	}
	resp := &JobPlanResponse{}
	planned := job
	planned.Stop = false
	if existing != nil {
		resp.JobModifyIndex = existing.JobModifyIndex
		if existing.SpecChanged(job) {
			planned.CreateIndex = existing.CreateIndex
			planned.Version = existing.Version + 1
			planned.JobModifyIndex = existing.JobModifyIndex + 1
		} else {
			planned = existing
		}
	}
	if diff {
		d, err := existing.Diff(planned, false)
		if err != nil {
			return nil, err
		}
		resp.Diff = d
	}
	ts := now()
	eval := structs.NewEval(job, structs.EvalTriggerJobRegister, ts)
	res, err := scheduler.Schedule(&plannedState{State: snap, job: planned}, eval, ts)
	if err != nil {
		return nil, err
	}
	resp.Annotations = res.Eval.PlanAnnotations
	resp.FailedTGAllocs = res.Eval.FailedTGAllocs
	resp.Decisions = res.Eval.Decisions
	if res.BlockedEval != nil {
		resp.CreatedEvals = append(resp.CreatedEvals, res.BlockedEval)
	}
	if resp.Diff != nil && resp.Annotations != nil {
		structs.AnnotateJobDiff(resp.Diff, resp.Annotations.DesiredTGUpdates)
	}
	return resp, nil
}

// plannedState is a snapshot in which the planned job is registered.
type plannedState struct {
	scheduler.State
	job *structs.Job
}

func (p *plannedState) JobByID(ws memdb.WatchSet, namespace, id string) (*structs.Job, error) {
	if namespace == p.job.Namespace && id == p.job.ID {
		return p.job, nil
	}
	return p.State.JobByID(ws, namespace, id)
}

// JobDeregisterResponse answers a stop.
type JobDeregisterResponse struct {
	EvalID          string
	EvalCreateIndex uint64
	JobModifyIndex  uint64
	Index           uint64
}

// DeregisterJob stops a job: it is stored again with Stop set (a new
// version), or deleted with purge, and an evaluation stops its
// allocations.
func (s *Server) DeregisterJob(namespace, jobID string, purge bool) (*JobDeregisterResponse, error) {
	return s.DeregisterJobWith(&JobDeregisterArgs{Namespace: namespace, JobID: jobID, Purge: purge})
}

// DeregisterJobWith is DeregisterJob with every option of the request.
func (s *Server) DeregisterJobWith(args *JobDeregisterArgs) (*JobDeregisterResponse, error) {
	namespace, jobID, purge := args.Namespace, args.JobID, args.Purge
	if err := validEvalPriority(args.EvalPriority); err != nil {
		return nil, err
	}
	var fwd JobDeregisterResponse
	if done, err := s.forward("Job.Deregister", args, &fwd); done {
		return &fwd, err
	}
	existing, err := s.State().JobByID(nil, namespace, jobID)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return nil, errorf(ErrNotFound, "job not found")
	}
	ts := now()
	eval := structs.NewEval(existing, structs.EvalTriggerJobDeregister, ts)
	eval.Priority = evalPriority(args.EvalPriority, existing.Priority)
	req := &JobDeregisterRequest{Namespace: namespace, JobID: jobID, Purge: purge, Eval: eval}
	if !purge {
		stopped := existing.Copy()
		stopped.Stop = true
		req.Job = stopped
	}
	s.cancelBlocked(namespace, jobID)
	index, err := s.apply(JobDeregisterRequestType, req)
	if err != nil {
		return nil, err
	}
	return &JobDeregisterResponse{EvalID: eval.ID, EvalCreateIndex: index, JobModifyIndex: index, Index: index}, nil
}

// evalsForNode builds one evaluation per job with live allocations on the
// node, plus one per system job, so the scheduler reacts to the node's
// change (down, ready, drained).
func (s *Server) evalsForNode(snap *state.StateSnapshot, nodeID, trigger string, ts time.Time) ([]*structs.Evaluation, error) {
	allocs, err := snap.AllocsByNode(nil, nodeID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var evals []*structs.Evaluation
	add := func(job *structs.Job) {
		key := job.Namespace + "\x00" + job.ID
		if seen[key] || job.Stop {
			return
		}
		seen[key] = true
		eval := structs.NewEval(job, trigger, ts)
		eval.NodeID = nodeID
		evals = append(evals, eval)
	}
	for _, a := range allocs {
		if a.TerminalStatus() {
			continue
		}
		if job, err := snap.JobByID(nil, a.Namespace, a.JobID); err == nil && job != nil {
			add(job)
		}
	}
	jobs, err := snap.Jobs(nil)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.Type == structs.JobTypeSystem {
			add(j)
		}
	}
	return evals, nil
}

// BlockingQuery waits until the state index passes minIndex (or wait
// expires) and returns the state's current index; used by the HTTP layer.
func (s *Server) BlockingQuery(ctx context.Context, minIndex uint64, wait time.Duration,
	query func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error)) (uint64, error) {
	if wait <= 0 || wait > 10*time.Minute {
		wait = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		st := s.State()
		index, err := st.BlockingQuery(ctx, minIndex, query)
		if err != nil && ctx.Err() == nil && st != s.State() {
			continue // the store was replaced by a snapshot restore: retry on the new one
		}
		if ctx.Err() != nil {
			return index, nil // a timeout is a normal end of a blocking query
		}
		return index, err
	}
}

// limits are the job limits in force: the configured ones, or the
// defaults for a Config that predates them.
func (s *Server) limits() structs.Limits {
	if s.config.Limits == (structs.Limits{}) {
		return structs.DefaultLimits
	}
	return s.config.Limits
}

// validEvalPriority checks an evaluation priority given with a request:
// 0 (the job's own) or a job priority.
func validEvalPriority(p int) error {
	if p != 0 && (p < 1 || p > 100) {
		return errorf(ErrInvalidRequest, "EvalPriority: eval priority must be between [1, 100], got %d", p)
	}
	return nil
}

// evalPriority is the requested priority, else the job's.
func evalPriority(requested, job int) int {
	if requested != 0 {
		return requested
	}
	return job
}
