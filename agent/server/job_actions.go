package server

import (
	"drover/agent/acl"
	"drover/agent/structs"
)

// The job writes that act on a registered job rather than submit one:
// revert to an earlier version, scale a group, force an evaluation. Revert
// and scale store a new version through registerJob, the path "job run"
// takes, so the scheduler treats them exactly as it treats an edited job
// file.

// JobRevertArgs reverts a job to one of its tracked versions (Job.Revert).
type JobRevertArgs struct {
	Namespace string
	JobID     string
	// JobVersion is the version whose specification is registered again.
	JobVersion uint64
	// EnforcePriorVersion, when set, reverts only if the job's current
	// version is still this one.
	EnforcePriorVersion *uint64
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// RevertJob registers the specification of an earlier version of a job
// as its next version, with an evaluation. Reverting to the current
// version, to a version that is not tracked, or while the current version
// is not the one EnforcePriorVersion names is refused, with the texts the
// compatible API uses.
func (s *Server) RevertJob(args *JobRevertArgs) (*JobRegisterResponse, error) {
	var fwd JobRegisterResponse
	if done, err := s.forward("Job.Revert", args, &fwd); done {
		return &fwd, err
	}
	if args.JobID == "" {
		return nil, errorf(ErrInvalidRequest, "missing job ID for revert")
	}
	snap := s.State().Snapshot()
	cur, err := snap.JobByID(nil, args.Namespace, args.JobID)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, errorf(ErrNotFound, "job %q not found", args.JobID)
	}
	if args.JobVersion == cur.Version {
		return nil, errorf(ErrInvalidRequest, "can't revert to current version")
	}
	old, err := snap.JobByIDAndVersion(nil, args.Namespace, args.JobID, args.JobVersion)
	if err != nil {
		return nil, err
	}
	if old == nil {
		return nil, errorf(ErrNotFound, "job %q in namespace %q at version %d not found",
			args.JobID, args.Namespace, args.JobVersion)
	}
	opts := registerOptions{trigger: structs.EvalTriggerJobRegister, keepStop: true}
	if p := args.EnforcePriorVersion; p != nil {
		if cur.Version != *p {
			return nil, errorf(ErrInvalidRequest, "Current job has version %d; enforcing version %d", cur.Version, *p)
		}
		// The FSM checks the index again, so a registration that slips in
		// between is not overwritten.
		opts.enforceIndex, opts.jobModifyIndex = true, cur.JobModifyIndex
	}
	return s.registerJob(old, opts)
}

// JobScaleArgs changes the count of one group of a job (Job.Scale).
type JobScaleArgs struct {
	Namespace string
	JobID     string
	Group     string
	// Count is the new count. Drover keeps no scaling events, so a
	// request without a count (an event only) is refused.
	Count   *int64
	Message string
	Error   bool
	// JobModifyIndex, when not 0, scales only if the job's modify index
	// is still this one.
	JobModifyIndex uint64
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// ScaleJob stores the job again with the group's new count, as the next
// version, and creates a job-scaling evaluation. The job must be a
// service or batch job, the group must exist, and no deployment of the
// job may be running (as in the compatible API). An unchanged count
// stores nothing and only creates the evaluation, as resubmitting an
// unchanged job does.
func (s *Server) ScaleJob(args *JobScaleArgs) (*JobRegisterResponse, error) {
	var fwd JobRegisterResponse
	if done, err := s.forward("Job.Scale", args, &fwd); done {
		return &fwd, err
	}
	if args.Group == "" {
		return nil, errorf(ErrInvalidRequest, "missing task group name for scaling action")
	}
	if args.Count == nil {
		return nil, errorf(ErrInvalidRequest,
			"Count must be given: Drover records no scaling events, so a scaling action without a count would change nothing")
	}
	count := *args.Count
	switch {
	case count < 0:
		return nil, errorf(ErrInvalidRequest, "scaling action count can't be negative")
	case args.Error:
		return nil, errorf(ErrInvalidRequest, "scaling action should not contain count if error is true")
	case int64(int(count)) != count:
		return nil, errorf(ErrInvalidRequest, "new scaling count is too large for TaskGroup.Count (int): %d", count)
	}
	snap := s.State().Snapshot()
	job, err := snap.JobByID(nil, args.Namespace, args.JobID)
	if err != nil {
		return nil, err
	}
	if job == nil {
		return nil, errorf(ErrNotFound, "job %q not found", args.JobID)
	}
	if args.JobModifyIndex != 0 {
		if err := checkIndex(job, args.JobModifyIndex); err != nil {
			return nil, err
		}
	}
	if job.Type == structs.JobTypeSystem {
		return nil, errorf(ErrInvalidRequest, `cannot scale jobs of type "system"`)
	}
	if job.LookupTaskGroup(args.Group) == nil {
		return nil, errorf(ErrInvalidRequest, "task group %q specified for scaling does not exist in job", args.Group)
	}
	d, err := snap.LatestDeploymentByJobID(nil, args.Namespace, args.JobID)
	if err != nil {
		return nil, err
	}
	if d != nil && d.Active() && d.JobCreateIndex == job.CreateIndex {
		return nil, errorf(ErrInvalidRequest, "job scaling blocked due to active deployment")
	}
	scaled := job.Copy()
	scaled.LookupTaskGroup(args.Group).Count = int(count)
	// Enforced against the version read above: a registration that comes
	// in between is not overwritten with a stale copy.
	return s.registerJob(scaled, registerOptions{enforceIndex: true, jobModifyIndex: job.JobModifyIndex,
		trigger: structs.EvalTriggerScaling, keepStop: true})
}

// JobEvaluateArgs forces an evaluation of a job (Job.Evaluate).
type JobEvaluateArgs struct {
	Namespace string
	JobID     string
	// ForceReschedule reschedules failed allocations now, whatever their
	// reschedule policy's delay and attempts say.
	ForceReschedule bool
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// EvaluateJob creates a job-register evaluation of the job, as the
// compatible API does for a forced evaluation. With ForceReschedule, every
// failed allocation not yet replaced, of a group whose reschedule policy
// allows rescheduling at all, is marked so that this evaluation replaces
// it at once; the marks and the evaluation are one raft entry.
func (s *Server) EvaluateJob(args *JobEvaluateArgs) (*JobRegisterResponse, error) {
	var fwd JobRegisterResponse
	if done, err := s.forward("Job.Evaluate", args, &fwd); done {
		return &fwd, err
	}
	if args.JobID == "" {
		return nil, errorf(ErrInvalidRequest, "missing job ID for evaluation")
	}
	snap := s.State().Snapshot()
	job, err := snap.JobByID(nil, args.Namespace, args.JobID)
	if err != nil {
		return nil, err
	}
	if job == nil {
		return nil, errorf(ErrNotFound, "job not found")
	}
	if job.Periodic != nil {
		return nil, errorf(ErrInvalidRequest, "can't evaluate periodic job")
	}
	transitions := map[string]*structs.DesiredTransition{}
	if args.ForceReschedule {
		allocs, err := snap.AllocsByJob(nil, args.Namespace, args.JobID, false)
		if err != nil {
			return nil, err
		}
		yes := true
		for _, a := range allocs {
			tg := job.LookupTaskGroup(a.TaskGroup)
			if tg == nil || !tg.ReschedulePolicy.Enabled() {
				continue
			}
			if a.ClientStatus == structs.AllocClientStatusFailed && a.NextAllocation == "" &&
				!a.DesiredTransition.ShouldForceReschedule() {
				transitions[a.ID] = &structs.DesiredTransition{ForceReschedule: &yes}
			}
		}
	}
	ts := now()
	eval := structs.NewEval(job, structs.EvalTriggerJobRegister, ts)
	eval.JobModifyIndex = job.JobModifyIndex
	s.cancelBlocked(job.Namespace, job.ID)
	index, err := s.apply(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{
		Transitions: transitions, Evals: []*structs.Evaluation{eval}})
	if err != nil {
		return nil, err
	}
	return &JobRegisterResponse{EvalID: eval.ID, EvalCreateIndex: index, JobModifyIndex: job.JobModifyIndex, Index: index}, nil
}

func (e *jobEndpoint) Revert(args *JobRevertArgs, reply *JobRegisterResponse) error {
	if err := e.srv.authorizeNamespace(args.AuthToken, args.Namespace, acl.CapSubmitJob); err != nil {
		return wireError(err)
	}
	r, err := e.srv.RevertJob(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *jobEndpoint) Scale(args *JobScaleArgs, reply *JobRegisterResponse) error {
	if err := e.srv.authorizeNamespace(args.AuthToken, args.Namespace, acl.CapScaleJob); err != nil {
		return wireError(err)
	}
	r, err := e.srv.ScaleJob(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *jobEndpoint) Evaluate(args *JobEvaluateArgs, reply *JobRegisterResponse) error {
	if err := e.srv.authorizeNamespace(args.AuthToken, args.Namespace, acl.CapSubmitJob); err != nil {
		return wireError(err)
	}
	r, err := e.srv.EvaluateJob(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}
