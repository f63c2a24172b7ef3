package structs

// DesiredUpdates are the counts of the scheduler's decisions for one group,
// shown by "job plan" as "(2 create, 1 in-place update)".
type DesiredUpdates struct {
	Ignore            uint64
	Place             uint64
	Migrate           uint64
	Stop              uint64
	InPlaceUpdate     uint64
	DestructiveUpdate uint64
	Canary            uint64
	Preemptions       uint64
}

// PlanAnnotations explain a plan to the user: the decisions per group.
type PlanAnnotations struct {
	DesiredTGUpdates map[string]*DesiredUpdates
	PreemptedAllocs  []*AllocListStub
}

// Plan is the scheduler's proposal for one evaluation: which allocations
// to stop and which to create or update, per node. The leader's plan
// applier checks it against the newest state before committing it, so two
// schedulers working at once never over-commit a node.
type Plan struct {
	EvalID string
	// EvalToken is the broker's delivery token of the evaluation: a plan
	// whose token is no longer outstanding (the evaluation was redelivered
	// to another worker) is refused.
	EvalToken string
	Priority  int
	Job       *Job
	// NodeUpdate holds allocations to stop, keyed by node, already carrying
	// their new DesiredStatus, DesiredDescription and (for lost allocations)
	// ClientStatus.
	NodeUpdate map[string][]*Allocation
	// NodeAllocation holds new allocations and in-place updates, by node.
	NodeAllocation    map[string][]*Allocation
	Deployment        *Deployment
	DeploymentUpdates []*DeploymentStatusUpdate
	Annotations       *PlanAnnotations
	// SnapshotIndex is the state index the plan was computed at.
	SnapshotIndex uint64
}

// AppendStop adds an allocation to stop.
func (p *Plan) AppendStop(a *Allocation, desc, clientStatus string) {
	c := a.Copy()
	c.DesiredStatus = AllocDesiredStatusStop
	c.DesiredDescription = desc
	if clientStatus != "" {
		c.ClientStatus = clientStatus
	}
	if p.NodeUpdate == nil {
		p.NodeUpdate = map[string][]*Allocation{}
	}
	p.NodeUpdate[a.NodeID] = append(p.NodeUpdate[a.NodeID], c)
}

// AppendAlloc adds a new or in-place updated allocation.
func (p *Plan) AppendAlloc(a *Allocation) {
	if p.NodeAllocation == nil {
		p.NodeAllocation = map[string][]*Allocation{}
	}
	p.NodeAllocation[a.NodeID] = append(p.NodeAllocation[a.NodeID], a)
}

// IsNoOp reports whether the plan changes nothing.
func (p *Plan) IsNoOp() bool {
	return len(p.NodeUpdate) == 0 && len(p.NodeAllocation) == 0 && p.Deployment == nil && len(p.DeploymentUpdates) == 0
}

// PlanResult is what the plan applier committed. A plan may be committed in
// part: nodes whose allocations no longer fit are left out, and
// RefreshIndex tells the scheduler to retry with newer state.
type PlanResult struct {
	NodeUpdate        map[string][]*Allocation
	NodeAllocation    map[string][]*Allocation
	Deployment        *Deployment
	DeploymentUpdates []*DeploymentStatusUpdate
	RefreshIndex      uint64
	AllocIndex        uint64
}

// FullCommit reports whether every node of the plan was committed, and
// the number of allocation changes expected and actually committed.
func (r *PlanResult) FullCommit(p *Plan) (bool, int, int) {
	expected, actual := 0, 0
	for node, allocs := range p.NodeAllocation {
		expected += len(allocs)
		actual += len(r.NodeAllocation[node])
	}
	return expected == actual, expected, actual
}
