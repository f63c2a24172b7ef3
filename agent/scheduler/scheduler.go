package scheduler

import (
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// State is the read-only view of the cluster the scheduler works from. A
// state store snapshot satisfies it.
type State interface {
	JobByID(ws memdb.WatchSet, namespace, id string) (*structs.Job, error)
	AllocsByJob(ws memdb.WatchSet, namespace, jobID string, anyCreateIndex bool) ([]*structs.Allocation, error)
	// AllocsOnNode lists a node's allocations in no particular order.
	AllocsOnNode(ws memdb.WatchSet, nodeID string) ([]*structs.Allocation, error)
	NodeByID(ws memdb.WatchSet, id string) (*structs.Node, error)
	Nodes(ws memdb.WatchSet) ([]*structs.Node, error)
	LatestDeploymentByJobID(ws memdb.WatchSet, namespace, jobID string) (*structs.Deployment, error)
	DeploymentByID(ws memdb.WatchSet, id string) (*structs.Deployment, error)
	LatestIndex() (uint64, error)
}

// Result is everything one scheduling pass decided.
type Result struct {
	// Plan is to be submitted to the plan applier. It may be a no-op.
	Plan *structs.Plan
	// Eval is the evaluation updated with its outcome: status, queued and
	// failed placements, annotations, decisions and deployment.
	Eval *structs.Evaluation
	// BlockedEval, when set, is a new evaluation that waits for capacity
	// to place what this pass could not.
	BlockedEval *structs.Evaluation
	// FollowUps are delayed evaluations, e.g. to reschedule a failed
	// allocation once its reschedule delay has passed.
	FollowUps []*structs.Evaluation
}

// Schedule computes the plan for one evaluation from a state snapshot. It
// is a pure function of its inputs (now stands in for the clock), which is
// what lets it be tested with tables and no servers.
func Schedule(st State, eval *structs.Evaluation, now time.Time) (*Result, error) {
	job, err := st.JobByID(nil, eval.Namespace, eval.JobID)
	if err != nil {
		return nil, fmt.Errorf("look up job %q: %w", eval.JobID, err)
	}
	allocs, err := st.AllocsByJob(nil, eval.Namespace, eval.JobID, true)
	if err != nil {
		return nil, fmt.Errorf("look up allocations of %q: %w", eval.JobID, err)
	}
	nodes, err := st.Nodes(nil)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	index, err := st.LatestIndex()
	if err != nil {
		return nil, err
	}
	s := &pass{
		state:  st,
		eval:   eval,
		job:    job,
		now:    now,
		nodes:  map[string]*structs.Node{},
		plan:   &structs.Plan{EvalID: eval.ID, Priority: eval.Priority, Job: job, SnapshotIndex: index},
		result: eval.Copy(),
		ann:    map[string]*structs.DesiredUpdates{},
	}
	for _, n := range nodes {
		s.nodes[n.ID] = n
	}
	placementJob := job
	if placementJob == nil {
		placementJob = &structs.Job{ID: eval.JobID, Namespace: eval.Namespace}
	}
	s.placer = newPlacer(st, placementJob, nodes, eval.ID)
	if job != nil && job.Type == structs.JobTypeSystem && !job.Stop {
		err = s.system(allocs)
	} else {
		err = s.generic(allocs)
	}
	if err != nil {
		return nil, err
	}
	return s.finish(), nil
}

// pass is the working state of one Schedule call.
type pass struct {
	state      State
	eval       *structs.Evaluation
	job        *structs.Job
	now        time.Time
	nodes      map[string]*structs.Node
	placer     *placer
	plan       *structs.Plan
	result     *structs.Evaluation
	ann        map[string]*structs.DesiredUpdates
	decisions  structs.Decisions
	failed     map[string]*structs.AllocMetric
	queued     map[string]int
	deployment *structs.Deployment // the job version's deployment, existing or created by this pass
	followUps  []*structs.Evaluation
}

func (s *pass) updates(group string) *structs.DesiredUpdates {
	u := s.ann[group]
	if u == nil {
		u = &structs.DesiredUpdates{}
		s.ann[group] = u
	}
	return u
}

func (s *pass) decide(group, name, allocID, action, reason string) {
	s.decisions.Add(group, name, allocID, action, reason)
}

// stop adds a stop of a to the plan and frees its resources for placements.
func (s *pass) stop(a *structs.Allocation, desc, clientStatus, reason string) {
	s.plan.AppendStop(a, desc, clientStatus)
	s.placer.release(a)
	action := structs.DecisionStop
	if clientStatus == structs.AllocClientStatusLost {
		action = structs.DecisionLost
	}
	s.decide(a.TaskGroup, a.Name, a.ID, action, reason)
}

// placement is an allocation the pass wants to create.
type placement struct {
	name     string
	previous *structs.Allocation // the allocation it replaces, if any
	action   string
	reason   string
	// penalty is a node to avoid (where a failed allocation ran).
	penalty string
	// onNode pins the placement to one node (system jobs).
	onNode *structs.Node
	// canary places a canary of the deployment.
	canary bool
}

// place finds nodes for placements of tg and adds them to the plan, or
// records the failure.
func (s *pass) place(tg *structs.TaskGroup, ps []placement) error {
	deploymentID := ""
	if s.deployment != nil && s.deployment.Active() {
		deploymentID = s.deployment.ID
	}
	for _, p := range ps {
		var opt *option
		var metric *structs.AllocMetric
		var err error
		if p.onNode != nil {
			opt, metric, err = s.placer.selectOn(tg, p.onNode)
		} else if failed := s.failed[tg.Name]; failed != nil {
			// Once a placement of the group found no node, the rest of
			// the group's placements in this pass cannot find one either
			// (placing only takes capacity away): they are counted as
			// coalesced failures without scanning the nodes again, as a
			// Nomad-compatible scheduler does.
			s.placementFailed(tg, nil)
			s.decide(tg.Name, p.name, "", structs.DecisionFailed, failureReason(failed))
			continue
		} else {
			opt, metric, err = s.placer.selectNode(tg, p.penalty)
		}
		if err != nil {
			return err
		}
		if opt == nil {
			s.placementFailed(tg, metric)
			s.decide(tg.Name, p.name, "", structs.DecisionFailed, failureReason(metric))
			continue
		}
		a := &structs.Allocation{
			ID:                 structs.GenerateUUID(),
			Namespace:          s.job.Namespace,
			EvalID:             s.eval.ID,
			Name:               p.name,
			NodeID:             opt.node.ID,
			NodeName:           opt.node.Name,
			JobID:              s.job.ID,
			Job:                s.job,
			TaskGroup:          tg.Name,
			AllocatedResources: opt.resources,
			Metrics:            metric,
			DesiredStatus:      structs.AllocDesiredStatusRun,
			ClientStatus:       structs.AllocClientStatusPending,
			DeploymentID:       deploymentID,
		}
		if p.canary {
			a.DeploymentStatus = &structs.AllocDeploymentStatus{Canary: true}
		}
		if p.previous != nil {
			a.PreviousAllocation = p.previous.ID
			if p.action == structs.DecisionPlace && p.previous.ClientStatus == structs.AllocClientStatusFailed {
				a.RescheduleTracker = rescheduleTracker(p.previous, s.now)
			}
		}
		s.plan.AppendAlloc(a)
		if err := s.placer.claim(a); err != nil {
			return err
		}
		s.decide(tg.Name, p.name, a.ID, p.action, fmt.Sprintf("%s; placed on node %s", p.reason, shortID(opt.node.ID)))
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func (s *pass) placementFailed(tg *structs.TaskGroup, metric *structs.AllocMetric) {
	if s.failed == nil {
		s.failed = map[string]*structs.AllocMetric{}
		s.queued = map[string]int{}
	}
	s.queued[tg.Name]++
	if prev, ok := s.failed[tg.Name]; ok {
		// One metric per group: further failures are only counted.
		prev.CoalescedFailures++
		return
	}
	s.failed[tg.Name] = metric
}

// failureReason turns a failed placement's metric into one sentence.
func failureReason(m *structs.AllocMetric) string {
	if m == nil || m.NodesEvaluated == 0 {
		return "no nodes were eligible for evaluation"
	}
	var parts []string
	for _, k := range sortedKeys(m.ConstraintFiltered) {
		parts = append(parts, fmt.Sprintf("constraint %q filtered %d node(s)", k, m.ConstraintFiltered[k]))
	}
	for _, k := range sortedKeys(m.DimensionExhausted) {
		parts = append(parts, fmt.Sprintf("%s exhausted on %d node(s)", k, m.DimensionExhausted[k]))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("no node fits among %d evaluated", m.NodesEvaluated)
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out += "; " + p
	}
	return out
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// finish assembles the result: the evaluation's outcome and, if placements
// failed, the blocked evaluation that will retry them.
func (s *pass) finish() *Result {
	ev := s.result
	ev.Status = structs.EvalStatusComplete
	ev.StatusDescription = ""
	ev.FailedTGAllocs = s.failed
	ev.QueuedAllocations = map[string]int{}
	if s.job != nil {
		for _, tg := range s.job.TaskGroups {
			ev.QueuedAllocations[tg.Name] = s.queued[tg.Name]
		}
	}
	ev.PlanAnnotations = &structs.PlanAnnotations{DesiredTGUpdates: s.ann}
	s.plan.Annotations = ev.PlanAnnotations
	ev.Decisions = s.decisions.Records()
	if s.plan.Deployment != nil && len(s.plan.NodeAllocation) == 0 {
		// Nothing could be placed: no deployment yet. The blocked
		// evaluation starts it when capacity appears, and meanwhile the
		// job reads as pending, not running.
		s.plan.Deployment = nil
		s.deployment = nil
	}
	if s.deployment != nil {
		ev.DeploymentID = s.deployment.ID
	}
	res := &Result{Plan: s.plan, Eval: ev, FollowUps: s.followUps}
	if len(s.failed) > 0 && s.job != nil && s.job.Type != structs.JobTypeSystem {
		blocked := ev.FollowUp(structs.EvalTriggerQueuedAllocs, s.now)
		blocked.Status = structs.EvalStatusBlocked
		blocked.StatusDescription = "created to place remaining allocations"
		// The state it was computed from: capacity freed after this index
		// must still wake it.
		blocked.SnapshotIndex = s.plan.SnapshotIndex
		// Which node classes could run the failed groups, so that only
		// capacity that can help wakes it.
		blocked.ClassEligibility, blocked.EscapedComputedClass = s.placer.classEligibility(sortedKeysOf(s.failed))
		ev.BlockedEval = blocked.ID
		res.BlockedEval = blocked
	}
	return res
}
