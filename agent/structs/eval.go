package structs

import "time"

// Evaluation statuses.
const (
	EvalStatusBlocked   = "blocked"
	EvalStatusPending   = "pending"
	EvalStatusComplete  = "complete"
	EvalStatusFailed    = "failed"
	EvalStatusCancelled = "canceled"
)

// What triggered an evaluation; shown by "eval status" as TriggeredBy.
const (
	EvalTriggerJobRegister       = "job-register"
	EvalTriggerJobDeregister     = "job-deregister"
	EvalTriggerNodeDrain         = "node-drain"
	EvalTriggerNodeUpdate        = "node-update"
	EvalTriggerAllocStop         = "alloc-stop"
	EvalTriggerRollingUpdate     = "rolling-update"
	EvalTriggerDeploymentWatcher = "deployment-watcher"
	EvalTriggerFailedFollowUp    = "failed-follow-up"
	EvalTriggerMaxPlans          = "max-plan-attempts"
	EvalTriggerRetryFailedAlloc  = "alloc-failure"
	EvalTriggerQueuedAllocs      = "queued-allocs"
	EvalTriggerScaling           = "job-scaling"
	EvalTriggerAllocReschedule   = "alloc-reschedule"
)

// Evaluation is a request to reconcile one job's desired and actual state.
type Evaluation struct {
	ID                string
	Namespace         string
	Priority          int
	Type              string
	TriggeredBy       string
	JobID             string
	JobModifyIndex    uint64
	NodeID            string
	NodeModifyIndex   uint64
	DeploymentID      string
	Status            string
	StatusDescription string
	Wait              time.Duration
	WaitUntil         time.Time
	NextEval          string
	PreviousEval      string
	BlockedEval       string
	FailedTGAllocs    map[string]*AllocMetric
	// ClassEligibility and EscapedComputedClass are recorded on a blocked
	// evaluation: for each computed node class the scheduler saw, whether
	// the job could run there (constraints and drivers, not capacity), and
	// whether the job's constraints read unique node properties, which
	// classes do not capture. Capacity that appears on a node of a class
	// known to be ineligible cannot help the evaluation, so it stays
	// blocked; anything else unblocks it.
	ClassEligibility     map[string]bool
	EscapedComputedClass bool
	QueuedAllocations    map[string]int
	PlanAnnotations      *PlanAnnotations
	SnapshotIndex        uint64
	CreateIndex          uint64
	ModifyIndex          uint64
	CreateTime           int64
	ModifyTime           int64

	// RelatedEvals is filled only in the answer to a request for one
	// evaluation with ?related=true (the evaluations its links reach);
	// it is never stored, so lists report it null, as the compatible API
	// does.
	RelatedEvals []*EvaluationStub

	// Decisions is Drover's addition to the API: why the scheduler did
	// what it did to each allocation, one record per kind of decision
	// (see Decision). Clients that do not know the field ignore it.
	Decisions []*Decision `json:",omitempty"`
}

// Decision actions.
const (
	DecisionPlace       = "place"
	DecisionStop        = "stop"
	DecisionInPlace     = "in-place update"
	DecisionDestructive = "create/destroy update"
	DecisionMigrate     = "migrate"
	DecisionLost        = "lost"
	DecisionIgnore      = "ignore"
	DecisionFailed      = "failed to place"
	DecisionCanary      = "canary"
)

// TerminalStatus reports whether the evaluation is done with.
func (e *Evaluation) TerminalStatus() bool {
	switch e.Status {
	case EvalStatusComplete, EvalStatusFailed, EvalStatusCancelled:
		return true
	}
	return false
}

// Copy returns a shallow copy with its own maps.
func (e *Evaluation) Copy() *Evaluation {
	if e == nil {
		return nil
	}
	c := *e
	if e.FailedTGAllocs != nil {
		c.FailedTGAllocs = make(map[string]*AllocMetric, len(e.FailedTGAllocs))
		for k, v := range e.FailedTGAllocs {
			c.FailedTGAllocs[k] = v
		}
	}
	if e.ClassEligibility != nil {
		c.ClassEligibility = make(map[string]bool, len(e.ClassEligibility))
		for k, v := range e.ClassEligibility {
			c.ClassEligibility[k] = v
		}
	}
	if e.QueuedAllocations != nil {
		c.QueuedAllocations = make(map[string]int, len(e.QueuedAllocations))
		for k, v := range e.QueuedAllocations {
			c.QueuedAllocations[k] = v
		}
	}
	return &c
}

// NewEval is a pending evaluation of job, triggered by trigger at now.
// Every evaluation starts here or at FollowUp, so that none lacks its ID,
// status or times; callers add what their trigger needs (a node, a
// deployment, a wait).
func NewEval(job *Job, trigger string, now time.Time) *Evaluation {
	return &Evaluation{
		ID: GenerateUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type,
		TriggeredBy: trigger, JobID: job.ID, Status: EvalStatusPending,
		CreateTime: now.UnixNano(), ModifyTime: now.UnixNano(),
	}
}

// FollowUp is a pending evaluation that continues e, triggered by trigger
// at now: the same job, job version, namespace, priority and type, linked
// back to e.
func (e *Evaluation) FollowUp(trigger string, now time.Time) *Evaluation {
	return &Evaluation{
		ID: GenerateUUID(), Namespace: e.Namespace, Priority: e.Priority, Type: e.Type,
		TriggeredBy: trigger, JobID: e.JobID, JobModifyIndex: e.JobModifyIndex, Status: EvalStatusPending,
		PreviousEval: e.ID, CreateTime: now.UnixNano(), ModifyTime: now.UnixNano(),
	}
}

// EvaluationStub is the short form of an evaluation the compatible API
// lists among another's related evaluations.
type EvaluationStub struct {
	ID                string
	Namespace         string
	Priority          int
	Type              string
	TriggeredBy       string
	JobID             string
	NodeID            string
	DeploymentID      string
	Status            string
	StatusDescription string
	WaitUntil         time.Time
	NextEval          string
	PreviousEval      string
	BlockedEval       string
	CreateIndex       uint64
	ModifyIndex       uint64
	CreateTime        int64
	ModifyTime        int64
}

// Stub returns the evaluation's short form.
func (e *Evaluation) Stub() *EvaluationStub {
	return &EvaluationStub{ID: e.ID, Namespace: e.Namespace, Priority: e.Priority, Type: e.Type,
		TriggeredBy: e.TriggeredBy, JobID: e.JobID, NodeID: e.NodeID, DeploymentID: e.DeploymentID,
		Status: e.Status, StatusDescription: e.StatusDescription, WaitUntil: e.WaitUntil,
		NextEval: e.NextEval, PreviousEval: e.PreviousEval, BlockedEval: e.BlockedEval,
		CreateIndex: e.CreateIndex, ModifyIndex: e.ModifyIndex, CreateTime: e.CreateTime, ModifyTime: e.ModifyTime}
}
