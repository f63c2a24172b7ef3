package structs

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Allocation desired statuses: what the server wants.
const (
	AllocDesiredStatusRun   = "run"
	AllocDesiredStatusStop  = "stop"
	AllocDesiredStatusEvict = "evict"
)

// Allocation client statuses: what the client reports.
const (
	AllocClientStatusPending  = "pending"
	AllocClientStatusRunning  = "running"
	AllocClientStatusComplete = "complete"
	AllocClientStatusFailed   = "failed"
	AllocClientStatusLost     = "lost"
	AllocClientStatusUnknown  = "unknown"
)

// Descriptions the scheduler gives stopped allocations; users see them in
// "alloc status" as Desired Description.
const (
	AllocNotNeeded   = "alloc not needed due to job update"
	AllocUpdating    = "alloc is being updated due to job update"
	AllocMigrating   = "alloc is being migrated"
	AllocLost        = "alloc is lost since its node is down"
	AllocRescheduled = "alloc was rescheduled because it failed"
	AllocNodeTainted = "alloc not needed as node is tainted"
)

// Allocation is one instance of a task group placed on a node.
type Allocation struct {
	_struct            bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	ID                 string
	Namespace          string
	EvalID             string
	Name               string
	NodeID             string
	NodeName           string
	JobID              string
	Job                *Job
	TaskGroup          string
	AllocatedResources *AllocatedResources
	Metrics            *AllocMetric
	DesiredStatus      string
	DesiredDescription string
	DesiredTransition  DesiredTransition
	ClientStatus       string
	ClientDescription  string
	TaskStates         map[string]*TaskState
	DeploymentID       string
	DeploymentStatus   *AllocDeploymentStatus
	PreviousAllocation string
	NextAllocation     string
	RescheduleTracker  *RescheduleTracker
	FollowupEvalID     string
	CreateIndex        uint64
	ModifyIndex        uint64
	AllocModifyIndex   uint64
	CreateTime         int64
	ModifyTime         int64

	// usage caches AllocatedResources.Comparable() for the resources it
	// was computed from (usageOf). The state store fills it as it stores
	// the allocation, so the scheduler and the plan applier sum a node's
	// usage without walking each allocation's task map on every pass.
	usage   ComparableResources
	usageOf *AllocatedResources
	// noPorts caches that those resources hold no host port.
	noPorts bool
}

// Comparable is the flat sum of what the allocation holds.
func (a *Allocation) Comparable() ComparableResources {
	if a.usageOf != nil && a.usageOf == a.AllocatedResources {
		return a.usage
	}
	return a.AllocatedResources.Comparable()
}

// CacheComparable computes Comparable once for the allocation's current
// resources. Only its owner may call it, before publishing it.
func (a *Allocation) CacheComparable() {
	a.usage, a.usageOf = a.AllocatedResources.Comparable(), a.AllocatedResources
	a.noPorts = true
	a.eachHostPort(func(int) { a.noPorts = false })
}

// DesiredTransition asks the scheduler to move an allocation, e.g. off a
// draining node.
type DesiredTransition struct {
	_struct         bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	Migrate         *bool
	Reschedule      *bool
	ForceReschedule *bool
	// NoShutdownDelay asks the client to skip the tasks' shutdown_delay
	// when it stops the allocation ("alloc stop -no-shutdown-delay").
	NoShutdownDelay *bool
}

// ShouldMigrate tells whether the drainer marked the allocation to move.
func (d DesiredTransition) ShouldMigrate() bool { return d.Migrate != nil && *d.Migrate }

// ShouldReschedule tells whether the deployment watcher marked an
// unhealthy allocation for replacement.
func (d DesiredTransition) ShouldReschedule() bool { return d.Reschedule != nil && *d.Reschedule }

// ShouldForceReschedule tells whether a forced evaluation ("job eval
// -force-reschedule") asked for the failed allocation to be replaced now,
// whatever its reschedule policy's delay and attempts say.
func (d DesiredTransition) ShouldForceReschedule() bool {
	return d.ForceReschedule != nil && *d.ForceReschedule
}

// FinishedAt is when a failed allocation's last task finished; its
// ModifyTime when no task recorded a finish.
func (a *Allocation) FinishedAt() time.Time {
	var last time.Time
	for _, ts := range a.TaskStates {
		if ts != nil && ts.FinishedAt.After(last) {
			last = ts.FinishedAt
		}
	}
	if last.IsZero() {
		return time.Unix(0, a.ModifyTime)
	}
	return last
}

// RescheduleAttemptsLeft reports whether policy allows one more
// reschedule of a at time at: attempts are counted within the interval
// before it, and an unlimited policy always allows one.
func (a *Allocation) RescheduleAttemptsLeft(p *ReschedulePolicy, at time.Time) bool {
	if p == nil || (!p.Unlimited && p.Attempts == 0) {
		return false
	}
	if p.Unlimited {
		return true
	}
	used := 0
	if a.RescheduleTracker != nil {
		for _, ev := range a.RescheduleTracker.Events {
			if at.Sub(time.Unix(0, ev.RescheduleTime)) < p.Interval {
				used++
			}
		}
	}
	return used < p.Attempts
}

// AllocDeploymentStatus is the client's view of an allocation's health
// within its deployment.
type AllocDeploymentStatus struct {
	_struct     bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	Healthy     *bool
	Timestamp   time.Time
	Canary      bool
	ModifyIndex uint64
}

// IsHealthy and IsUnhealthy are false while health is not yet known.
func (a *AllocDeploymentStatus) IsHealthy() bool {
	return a != nil && a.Healthy != nil && *a.Healthy
}

// IsUnhealthy reports a known-bad allocation.
func (a *AllocDeploymentStatus) IsUnhealthy() bool {
	return a != nil && a.Healthy != nil && !*a.Healthy
}

// RescheduleTracker remembers earlier reschedules of an allocation's line.
type RescheduleTracker struct {
	_struct bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	Events  []*RescheduleEvent
}

// RescheduleEvent is one reschedule.
type RescheduleEvent struct {
	_struct        bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	RescheduleTime int64
	PrevAllocID    string
	PrevNodeID     string
	Delay          time.Duration
}

// AllocatedResources is what the scheduler granted an allocation.
type AllocatedResources struct {
	_struct bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	Tasks   map[string]*AllocatedTaskResources
	Shared  AllocatedSharedResources
}

// AllocatedTaskResources is one task's share.
type AllocatedTaskResources struct {
	_struct  bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	Cpu      AllocatedCpuResources
	Memory   AllocatedMemoryResources
	Networks []*NetworkResource
}

// AllocatedCpuResources is CPU in MHz.
type AllocatedCpuResources struct {
	CpuShares int64
}

// AllocatedMemoryResources is memory in MB.
type AllocatedMemoryResources struct {
	MemoryMB    int64
	MemoryMaxMB int64
}

// AllocatedSharedResources is shared by a group's tasks: disk and the
// group network with its ports.
type AllocatedSharedResources struct {
	_struct  bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	DiskMB   int64
	Networks []*NetworkResource
	Ports    []PortMapping
}

// PortMapping is an allocated port as the client exposes it.
type PortMapping struct {
	Label  string
	Value  int
	To     int
	HostIP string
}

// Comparable sums what the allocation takes from its node.
func (r *AllocatedResources) Comparable() ComparableResources {
	var c ComparableResources
	if r == nil {
		return c
	}
	for _, t := range r.Tasks {
		c.CPU += t.Cpu.CpuShares
		c.MemoryMB += t.Memory.MemoryMB
		for _, n := range t.Networks {
			c.MBits += int64(n.MBits)
		}
	}
	for _, n := range r.Shared.Networks {
		c.MBits += int64(n.MBits)
	}
	c.DiskMB = r.Shared.DiskMB
	return c
}

// ComparableResources is a flat sum used for fitting allocations on nodes.
type ComparableResources struct {
	CPU      int64
	MemoryMB int64
	DiskMB   int64
	MBits    int64
}

// Add adds o to c.
func (c *ComparableResources) Add(o ComparableResources) {
	c.CPU += o.CPU
	c.MemoryMB += o.MemoryMB
	c.DiskMB += o.DiskMB
	c.MBits += o.MBits
}

// Subtract removes o from c.
func (c *ComparableResources) Subtract(o ComparableResources) {
	c.CPU -= o.CPU
	c.MemoryMB -= o.MemoryMB
	c.DiskMB -= o.DiskMB
	c.MBits -= o.MBits
}

// Superset reports whether c holds o, and if not the first dimension
// that does not fit, named as in placement failures.
func (c ComparableResources) Superset(o ComparableResources) (bool, string) {
	switch {
	case c.CPU < o.CPU:
		return false, "cpu"
	case c.MemoryMB < o.MemoryMB:
		return false, "memory"
	case c.DiskMB < o.DiskMB:
		return false, "disk"
	case c.MBits < o.MBits:
		return false, "bandwidth exceeded"
	}
	return true, ""
}

// Task states.
const (
	TaskStatePending = "pending"
	TaskStateRunning = "running"
	TaskStateDead    = "dead"
)

// TaskState is the client's record of one task of an allocation.
type TaskState struct {
	_struct     bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	State       string
	Failed      bool
	Restarts    uint64
	LastRestart time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	Events      []*TaskEvent
}

// TaskEvent is one line of a task's history ("Started", "Killing", ...).
type TaskEvent struct {
	// Empty fields stay out of MessagePack (raft, RPC), except Details:
	// the API shows an event's empty Details as {}, not null.
	Type           string `codec:",omitempty"`
	Time           int64  `codec:",omitempty"`
	Message        string `codec:",omitempty"`
	DisplayMessage string `codec:",omitempty"`
	Details        map[string]string
	ExitCode       int           `codec:",omitempty"`
	Signal         int           `codec:",omitempty"`
	KillTimeout    time.Duration `codec:",omitempty"`
	KillError      string        `codec:",omitempty"`
	DriverError    string        `codec:",omitempty"`
	DriverMessage  string        `codec:",omitempty"`
	FailsTask      bool          `codec:",omitempty"`
	RestartReason  string        `codec:",omitempty"`
	StartDelay     int64         `codec:",omitempty"`
	// TaskSignal and TaskSignalReason describe a "Signaling" event.
	TaskSignal       string `codec:",omitempty"`
	TaskSignalReason string `codec:",omitempty"`
}

// AllocMetric explains where the scheduler looked and why nodes were
// refused, so "job plan" and "eval status" can say why a placement failed.
type AllocMetric struct {
	_struct            bool   `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	NodePool           string // the job's node pool, whose nodes were considered
	NodesEvaluated     int
	NodesFiltered      int
	NodesInPool        int
	NodesAvailable     map[string]int
	ClassFiltered      map[string]int
	ConstraintFiltered map[string]int
	NodesExhausted     int
	ClassExhausted     map[string]int
	DimensionExhausted map[string]int
	QuotaExhausted     []string
	ScoreMetaData      []*NodeScoreMeta
	AllocationTime     time.Duration
	CoalescedFailures  int
}

// FailureReasons says why placements failed, one reason a line, in the
// words eval status and job run print after "* ": nodes none were
// eligible, filtered by class or constraint, exhausted by class or
// dimension. Map entries come in sorted order, so the lines are stable.
func (m *AllocMetric) FailureReasons() []string {
	if m == nil {
		return nil
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if m.NodesEvaluated == 0 {
		add("No nodes were eligible for evaluation")
	}
	for _, dc := range slices.Sorted(maps.Keys(m.NodesAvailable)) {
		if m.NodesAvailable[dc] == 0 {
			add("No nodes are available in datacenter %q", dc)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.ClassFiltered)) {
		add("Class %q: %d nodes excluded by filter", k, m.ClassFiltered[k])
	}
	for _, k := range slices.Sorted(maps.Keys(m.ConstraintFiltered)) {
		add("Constraint %q: %d nodes excluded by filter", k, m.ConstraintFiltered[k])
	}
	if m.NodesExhausted > 0 {
		add("Resources exhausted on %d nodes", m.NodesExhausted)
	}
	for _, k := range slices.Sorted(maps.Keys(m.ClassExhausted)) {
		add("Class %q exhausted on %d nodes", k, m.ClassExhausted[k])
	}
	for _, k := range slices.Sorted(maps.Keys(m.DimensionExhausted)) {
		add("Dimension %q exhausted on %d nodes", k, m.DimensionExhausted[k])
	}
	for _, q := range m.QuotaExhausted {
		add("Quota limit hit %q", q)
	}
	return out
}

// NodeScoreMeta is the score of one node considered for a placement.
type NodeScoreMeta struct {
	_struct   bool `codec:",omitempty"` // MessagePack (raft, RPC) leaves out empty fields; JSON ignores this
	NodeID    string
	Scores    map[string]float64
	NormScore float64
}

// FilterNode records a node refused by a constraint or driver check.
func (m *AllocMetric) FilterNode(reason string) {
	m.NodesFiltered++
	if reason != "" {
		if m.ConstraintFiltered == nil {
			m.ConstraintFiltered = map[string]int{}
		}
		m.ConstraintFiltered[reason]++
	}
}

// ExhaustedNode records a node without room in dimension.
func (m *AllocMetric) ExhaustedNode(dimension string) {
	m.NodesExhausted++
	if dimension != "" {
		if m.DimensionExhausted == nil {
			m.DimensionExhausted = map[string]int{}
		}
		m.DimensionExhausted[dimension]++
	}
}

// AllocListStub is the short form of an allocation in list responses.
type AllocListStub struct {
	ID                 string
	EvalID             string
	Name               string
	Namespace          string
	NodeID             string
	NodeName           string
	JobID              string
	JobType            string
	JobVersion         uint64
	TaskGroup          string
	DesiredStatus      string
	DesiredDescription string
	ClientStatus       string
	ClientDescription  string
	TaskStates         map[string]*TaskState
	DeploymentStatus   *AllocDeploymentStatus
	FollowupEvalID     string
	NextAllocation     string
	PreviousAllocation string
	RescheduleTracker  *RescheduleTracker
	CreateIndex        uint64
	ModifyIndex        uint64
	CreateTime         int64
	ModifyTime         int64
}

// Stub returns the list form of the allocation.
func (a *Allocation) Stub() *AllocListStub {
	s := &AllocListStub{
		ID: a.ID, EvalID: a.EvalID, Name: a.Name, Namespace: a.Namespace, NodeID: a.NodeID,
		NodeName: a.NodeName, JobID: a.JobID, TaskGroup: a.TaskGroup,
		DesiredStatus: a.DesiredStatus, DesiredDescription: a.DesiredDescription,
		ClientStatus: a.ClientStatus, ClientDescription: a.ClientDescription, TaskStates: a.TaskStates,
		DeploymentStatus: a.DeploymentStatus, FollowupEvalID: a.FollowupEvalID,
		NextAllocation: a.NextAllocation, PreviousAllocation: a.PreviousAllocation,
		RescheduleTracker: a.RescheduleTracker, CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
		CreateTime: a.CreateTime, ModifyTime: a.ModifyTime,
	}
	if a.Job != nil {
		s.JobType = a.Job.Type
		s.JobVersion = a.Job.Version
	}
	return s
}

// TerminalStatus reports whether the allocation will never run again:
// the server wants it stopped, or the client says it is done.
func (a *Allocation) TerminalStatus() bool {
	switch a.DesiredStatus {
	case AllocDesiredStatusStop, AllocDesiredStatusEvict:
		return true
	}
	return a.ClientTerminalStatus()
}

// ClientTerminalStatus reports whether the client is done with it.
func (a *Allocation) ClientTerminalStatus() bool {
	switch a.ClientStatus {
	case AllocClientStatusComplete, AllocClientStatusFailed, AllocClientStatusLost:
		return true
	}
	return false
}

// Index returns the [i] of the allocation's name, or -1.
func (a *Allocation) Index() int {
	return AllocIndexFromName(a.Name)
}

// AllocName builds "job.group[i]".
func AllocName(job, group string, index int) string {
	return fmt.Sprintf("%s.%s[%d]", job, group, index)
}

// AllocIndexFromName parses the index of an allocation name, or -1.
func AllocIndexFromName(name string) int {
	l := strings.LastIndexByte(name, '[')
	if l < 0 || !strings.HasSuffix(name, "]") {
		return -1
	}
	i, err := strconv.Atoi(name[l+1 : len(name)-1])
	if err != nil {
		return -1
	}
	return i
}

// Copy returns a copy that may be changed without touching the original,
// which may be shared by a state store snapshot. The Job pointer is shared:
// jobs are immutable once stored.
func (a *Allocation) Copy() *Allocation {
	if a == nil {
		return nil
	}
	c := *a
	if a.DeploymentStatus != nil {
		ds := *a.DeploymentStatus
		c.DeploymentStatus = &ds
	}
	if a.TaskStates != nil {
		c.TaskStates = make(map[string]*TaskState, len(a.TaskStates))
		for k, v := range a.TaskStates {
			ts := *v
			ts.Events = append([]*TaskEvent(nil), v.Events...)
			c.TaskStates[k] = &ts
		}
	}
	if a.RescheduleTracker != nil {
		rt := RescheduleTracker{Events: append([]*RescheduleEvent(nil), a.RescheduleTracker.Events...)}
		c.RescheduleTracker = &rt
	}
	return &c
}

// HostPorts lists the host ports the allocation holds on its node.
func (a *Allocation) HostPorts() []int {
	var out []int
	a.EachHostPort(func(port int) { out = append(out, port) })
	return out
}

// EachHostPort calls f with each host port HostPorts lists, in the same
// order, without building the list: the scheduler visits every
// allocation of every node it considers.
func (a *Allocation) EachHostPort(f func(port int)) {
	if a.noPorts && a.usageOf != nil && a.usageOf == a.AllocatedResources {
		return
	}
	a.eachHostPort(f)
}

func (a *Allocation) eachHostPort(f func(port int)) {
	r := a.AllocatedResources
	if r == nil {
		return
	}
	for _, pm := range r.Shared.Ports {
		f(pm.Value)
	}
	for _, t := range r.Tasks {
		for _, n := range t.Networks {
			for _, p := range n.ReservedPorts {
				f(p.Value)
			}
			for _, p := range n.DynamicPorts {
				f(p.Value)
			}
		}
	}
}
