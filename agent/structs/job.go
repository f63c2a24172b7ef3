package structs

import (
	"encoding/json"
	"time"
)

// Job types understood by the scheduler.
const (
	JobTypeService = "service"
	JobTypeBatch   = "batch"
	JobTypeSystem  = "system"
)

// Job is a user's declaration of desired work. Its JSON form is the one the
// Nomad-compatible /v1 API speaks, so the field names are fixed by that API.
type Job struct {
	Region      string
	Namespace   string
	ID          string
	Name        string
	Type        string
	Priority    int
	AllAtOnce   bool
	Datacenters []string
	NodePool    string
	Constraints []*Constraint
	TaskGroups  []*TaskGroup
	// Update is the job-level update block; after Canonicalize every group
	// carries its own merged copy, which is the one the scheduler reads.
	Update   *UpdateStrategy
	Periodic *PeriodicConfig
	Meta     map[string]string

	// Fields owned by the server, never set from a job file.
	Stop              bool
	Status            string
	StatusDescription string
	Stable            bool
	Version           uint64
	SubmitTime        int64
	CreateIndex       uint64
	ModifyIndex       uint64
	JobModifyIndex    uint64
}

// TaskGroup is the unit of scheduling: all its tasks run on one node.
type TaskGroup struct {
	Name             string
	Count            int
	Constraints      []*Constraint
	Tasks            []*Task
	RestartPolicy    *RestartPolicy
	ReschedulePolicy *ReschedulePolicy
	EphemeralDisk    *EphemeralDisk
	Update           *UpdateStrategy
	Migrate          *MigrateStrategy
	Networks         []*NetworkResource
	Services         []*Service
	Meta             map[string]string
	ShutdownDelay    *time.Duration
}

// UnmarshalJSON keeps an absent Count distinguishable from an explicit 0:
// a group with no count runs one instance, a group with count 0 runs none.
func (tg *TaskGroup) UnmarshalJSON(data []byte) error {
	type plain TaskGroup
	aux := struct {
		*plain
		Count *int
	}{plain: (*plain)(tg)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	tg.Count = 1
	if aux.Count != nil {
		tg.Count = *aux.Count
	}
	return nil
}

// Task is one process (container, binary, ...) run by a driver.
type Task struct {
	Name          string
	Driver        string
	User          string
	Config        map[string]interface{}
	Constraints   []*Constraint
	Env           map[string]string
	Services      []*Service
	Resources     *Resources
	RestartPolicy *RestartPolicy
	Meta          map[string]string
	KillTimeout   time.Duration
	LogConfig     *LogConfig
	Artifacts     []*TaskArtifact
	Templates     []*Template
	Leader        bool
	ShutdownDelay time.Duration
	KillSignal    string
}

// UnmarshalJSON gives an absent KillTimeout its default rather than zero,
// because a zero kill timeout (kill at once) is a legitimate explicit choice.
func (t *Task) UnmarshalJSON(data []byte) error {
	type plain Task
	aux := struct {
		*plain
		KillTimeout *time.Duration
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	t.KillTimeout = DefaultKillTimeout
	if aux.KillTimeout != nil {
		t.KillTimeout = *aux.KillTimeout
	}
	return nil
}

// Resources is what a task asks of its node.
type Resources struct {
	CPU         int
	Cores       int
	MemoryMB    int
	MemoryMaxMB int
	DiskMB      int
	IOPS        int
	Networks    []*NetworkResource
}

// NetworkResource asks for bandwidth and ports, at group level (the current
// form) or inside a task's resources (the deprecated form still scheduled).
type NetworkResource struct {
	Mode          string
	Device        string
	CIDR          string
	IP            string
	Hostname      string
	MBits         int
	ReservedPorts []Port
	DynamicPorts  []Port
}

// Port is a labelled port. Value is the host port (static, or assigned by
// the scheduler for a dynamic port); To is the port inside the task.
type Port struct {
	Label       string
	Value       int
	To          int
	HostNetwork string
}

// Constraint restricts the nodes a job, group or task may run on.
type Constraint struct {
	LTarget string
	RTarget string
	Operand string
}

// UpdateStrategy is the rolling-update (deployment) policy of a group.
type UpdateStrategy struct {
	Stagger          time.Duration
	MaxParallel      int
	HealthCheck      string
	MinHealthyTime   time.Duration
	HealthyDeadline  time.Duration
	ProgressDeadline time.Duration
	Canary           int
	AutoRevert       bool
	AutoPromote      bool
}

// MigrateStrategy is how allocations leave a draining node.
type MigrateStrategy struct {
	MaxParallel     int
	HealthCheck     string
	MinHealthyTime  time.Duration
	HealthyDeadline time.Duration
}

// RestartPolicy is how a client restarts failed tasks in place.
type RestartPolicy struct {
	Interval        time.Duration
	Attempts        int
	Delay           time.Duration
	Mode            string
	RenderTemplates bool
}

// ReschedulePolicy is how the server replaces failed allocations elsewhere.
type ReschedulePolicy struct {
	Attempts      int
	Interval      time.Duration
	Delay         time.Duration
	DelayFunction string
	MaxDelay      time.Duration
	Unlimited     bool
}

// Enabled tells whether the policy allows any rescheduling at all.
func (p *ReschedulePolicy) Enabled() bool {
	return p != nil && (p.Unlimited || p.Attempts > 0)
}

// EphemeralDisk is the scratch disk shared by a group's tasks.
type EphemeralDisk struct {
	Sticky  bool
	SizeMB  int
	Migrate bool
}

// LogConfig bounds the rotated stdout/stderr files kept per task.
type LogConfig struct {
	MaxFiles      int
	MaxFileSizeMB int
	Disabled      bool
}

// Service registers a task or group for discovery.
type Service struct {
	Name        string
	Tags        []string
	CanaryTags  []string
	PortLabel   string
	AddressMode string
	Provider    string
	TaskName    string
	Checks      []ServiceCheck
	Meta        map[string]string
}

// ServiceCheck is a health check of a service.
type ServiceCheck struct {
	Name          string
	Type          string
	Command       string
	Args          []string
	Path          string
	Protocol      string
	PortLabel     string
	Method        string
	AddressMode   string
	InitialStatus string
	Interval      time.Duration
	Timeout       time.Duration
}

// Template renders a file into the task directory.
type Template struct {
	SourcePath   string
	DestPath     string
	EmbeddedTmpl string
	ChangeMode   string
	ChangeSignal string
	Splay        time.Duration
	Perms        string
	LeftDelim    string
	RightDelim   string
	Envvars      bool
}

// TaskArtifact is a file fetched into the task directory before it starts.
type TaskArtifact struct {
	GetterSource  string
	GetterOptions map[string]string
	GetterHeaders map[string]string
	GetterMode    string
	RelativeDest  string
}

// PeriodicConfig launches a batch job on a cron schedule.
type PeriodicConfig struct {
	Enabled         bool
	Spec            string
	SpecType        string
	ProhibitOverlap bool
	TimeZone        string
}

// LookupTaskGroup returns the group with the given name, or nil.
func (j *Job) LookupTaskGroup(name string) *TaskGroup {
	for _, tg := range j.TaskGroups {
		if tg.Name == name {
			return tg
		}
	}
	return nil
}

// Job statuses.
const (
	JobStatusPending = "pending"
	JobStatusRunning = "running"
	JobStatusDead    = "dead"
)

// JobSummary counts a job's allocations by client status per group.
type JobSummary struct {
	JobID       string
	Namespace   string
	Summary     map[string]TaskGroupSummary
	Children    *JobChildrenSummary
	CreateIndex uint64
	ModifyIndex uint64
}

// TaskGroupSummary is the "Summary" table row of one group.
type TaskGroupSummary struct {
	Queued   int
	Complete int
	Failed   int
	Running  int
	Starting int
	Lost     int
	Unknown  int
}

// JobChildrenSummary counts the children of periodic jobs.
type JobChildrenSummary struct {
	Pending int64
	Running int64
	Dead    int64
}

// JobListStub is the short form of a job in list responses.
type JobListStub struct {
	ID                string
	ParentID          string
	Name              string
	Namespace         string
	Datacenters       []string
	NodePool          string
	Type              string
	Priority          int
	Periodic          bool
	ParameterizedJob  bool
	Stop              bool
	Status            string
	StatusDescription string
	JobSummary        *JobSummary
	CreateIndex       uint64
	ModifyIndex       uint64
	JobModifyIndex    uint64
	SubmitTime        int64
}

// Stub returns the list form of the job.
func (j *Job) Stub(summary *JobSummary) *JobListStub {
	return &JobListStub{
		ID: j.ID, Name: j.Name, Namespace: j.Namespace, Datacenters: j.Datacenters, NodePool: j.NodePool,
		Type: j.Type, Priority: j.Priority, Periodic: j.Periodic != nil, Stop: j.Stop, Status: j.Status,
		StatusDescription: j.StatusDescription, JobSummary: summary, CreateIndex: j.CreateIndex,
		ModifyIndex: j.ModifyIndex, JobModifyIndex: j.JobModifyIndex, SubmitTime: j.SubmitTime,
	}
}

// SpecChanged compares what the user declared in two versions of a job,
// ignoring the fields the server owns (status, stability, version, times,
// indexes).
func (j *Job) SpecChanged(other *Job) bool {
	strip := func(x *Job) []byte {
		c := *x
		c.Status, c.StatusDescription, c.Stable, c.Version, c.SubmitTime = "", "", false, 0, 0
		c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = 0, 0, 0
		out, _ := json.Marshal(&c)
		return out
	}
	return string(strip(j)) != string(strip(other))
}
