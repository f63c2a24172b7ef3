package structs

import "time"

// Defaults applied to fields a job leaves out. They are the values a
// Nomad-compatible server uses, so a job behaves the same on either.
const (
	DefaultRegion      = "global"
	DefaultNamespace   = "default"
	DefaultNodePool    = "default"
	DefaultDatacenter  = "*"
	DefaultPriority    = 50
	DefaultCount       = 1
	DefaultCPU         = 100 // MHz
	DefaultMemoryMB    = 300
	DefaultDiskMB      = 300
	DefaultKillTimeout = 5 * time.Second
	DefaultLogMaxFiles = 10
	DefaultLogFileMB   = 10
)

// DefaultUpdateStrategy is the update block every service and system group
// gets when the job has none, which is why service jobs deploy by default.
func DefaultUpdateStrategy() *UpdateStrategy {
	return &UpdateStrategy{
		Stagger:          30 * time.Second,
		MaxParallel:      1,
		HealthCheck:      "checks",
		MinHealthyTime:   10 * time.Second,
		HealthyDeadline:  5 * time.Minute,
		ProgressDeadline: 10 * time.Minute,
	}
}

// DefaultMigrateStrategy applies to service groups only.
func DefaultMigrateStrategy() *MigrateStrategy {
	return &MigrateStrategy{
		MaxParallel:     1,
		HealthCheck:     "checks",
		MinHealthyTime:  10 * time.Second,
		HealthyDeadline: 5 * time.Minute,
	}
}

// DefaultRestartPolicy depends on the job type: batch work is retried more
// patiently than a service, which should rather be rescheduled.
func DefaultRestartPolicy(jobType string) *RestartPolicy {
	if jobType == JobTypeBatch {
		return &RestartPolicy{Attempts: 3, Interval: 24 * time.Hour, Delay: 15 * time.Second, Mode: "fail"}
	}
	return &RestartPolicy{Attempts: 2, Interval: 30 * time.Minute, Delay: 15 * time.Second, Mode: "fail"}
}

// DefaultReschedulePolicy depends on the job type; system jobs have none
// because they are pinned to every eligible node anyway.
func DefaultReschedulePolicy(jobType string) *ReschedulePolicy {
	switch jobType {
	case JobTypeService:
		return &ReschedulePolicy{Delay: 30 * time.Second, DelayFunction: "exponential", MaxDelay: time.Hour, Unlimited: true}
	case JobTypeBatch:
		return &ReschedulePolicy{Attempts: 1, Interval: 24 * time.Hour, Delay: 5 * time.Second, DelayFunction: "constant"}
	}
	return nil
}

// DefaultEphemeralDisk is the group scratch disk when none is asked for.
func DefaultEphemeralDisk() *EphemeralDisk { return &EphemeralDisk{SizeMB: DefaultDiskMB} }

// DefaultLogConfig keeps ten 10 MB files per stream.
func DefaultLogConfig() *LogConfig {
	return &LogConfig{MaxFiles: DefaultLogMaxFiles, MaxFileSizeMB: DefaultLogFileMB}
}

// DefaultResources is what a task gets when it has no resources block.
func DefaultResources() *Resources { return &Resources{CPU: DefaultCPU, MemoryMB: DefaultMemoryMB} }

// Canonicalize fills in every default a job left out, in place. It is
// idempotent, so a job parsed from HCL (which applies block defaults while
// decoding) and a job decoded from API JSON end up with the same shape.
func (j *Job) Canonicalize() {
	if j.Name == "" {
		j.Name = j.ID
	}
	if j.Region == "" {
		j.Region = DefaultRegion
	}
	if j.Namespace == "" {
		j.Namespace = DefaultNamespace
	}
	if j.Type == "" {
		j.Type = JobTypeService
	}
	if j.Priority == 0 {
		j.Priority = DefaultPriority
	}
	if len(j.Datacenters) == 0 {
		j.Datacenters = []string{DefaultDatacenter}
	}
	if j.NodePool == "" {
		j.NodePool = DefaultNodePool
	}
	for _, c := range j.Constraints {
		c.canonicalize()
	}
	if j.Update == nil && j.UsesUpdates() {
		j.Update = DefaultUpdateStrategy()
	}
	if j.Update != nil {
		j.Update.fillZeroes()
	}
	if p := j.Periodic; p != nil {
		if p.SpecType == "" {
			p.SpecType = "cron"
		}
		if p.TimeZone == "" {
			p.TimeZone = "UTC"
		}
	}
	for _, tg := range j.TaskGroups {
		tg.canonicalize(j)
	}
}

// UsesUpdates tells whether the job type has rolling updates at all.
func (j *Job) UsesUpdates() bool { return j.Type == JobTypeService || j.Type == JobTypeSystem }

// fillZeroes repairs fields whose zero value is never valid, which happens
// when an API client sends a partial block.
func (u *UpdateStrategy) fillZeroes() {
	d := DefaultUpdateStrategy()
	if u.HealthCheck == "" {
		u.HealthCheck = d.HealthCheck
	}
	if u.Stagger == 0 {
		u.Stagger = d.Stagger
	}
	if u.MinHealthyTime == 0 {
		u.MinHealthyTime = d.MinHealthyTime
	}
	if u.HealthyDeadline == 0 {
		u.HealthyDeadline = d.HealthyDeadline
	}
}

func (c *Constraint) canonicalize() {
	if c.Operand == "" {
		c.Operand = "="
	}
}

func (tg *TaskGroup) canonicalize(j *Job) {
	for _, c := range tg.Constraints {
		c.canonicalize()
	}
	if tg.RestartPolicy == nil {
		tg.RestartPolicy = DefaultRestartPolicy(j.Type)
	}
	if tg.RestartPolicy.Mode == "" {
		tg.RestartPolicy.Mode = "fail"
	}
	if tg.ReschedulePolicy == nil {
		tg.ReschedulePolicy = DefaultReschedulePolicy(j.Type)
	}
	if tg.EphemeralDisk == nil {
		tg.EphemeralDisk = DefaultEphemeralDisk()
	}
	if tg.EphemeralDisk.SizeMB == 0 {
		tg.EphemeralDisk.SizeMB = DefaultDiskMB
	}
	if j.UsesUpdates() {
		if tg.Update == nil && j.Update != nil {
			u := *j.Update
			tg.Update = &u
		}
		if tg.Update != nil {
			tg.Update.fillZeroes()
		}
	}
	if j.Type == JobTypeService && tg.Migrate == nil {
		tg.Migrate = DefaultMigrateStrategy()
	}
	for _, n := range tg.Networks {
		n.canonicalize()
	}
	for _, s := range tg.Services {
		s.canonicalize(j, tg, "")
	}
	for _, t := range tg.Tasks {
		t.canonicalize(j, tg)
	}
}

// canonicalize leaves Mode as the job gave it: an empty mode means host
// networking, and the compatible API reports it empty (the CLI's
// "Allocation Addresses" heading names a mode only when one was set).
func (n *NetworkResource) canonicalize() {
	for i := range n.DynamicPorts {
		if n.DynamicPorts[i].HostNetwork == "" {
			n.DynamicPorts[i].HostNetwork = "default"
		}
	}
	for i := range n.ReservedPorts {
		if n.ReservedPorts[i].HostNetwork == "" {
			n.ReservedPorts[i].HostNetwork = "default"
		}
	}
}

func (s *Service) canonicalize(j *Job, tg *TaskGroup, task string) {
	if s.Name == "" {
		s.Name = j.ID + "-" + tg.Name
		if task != "" {
			s.Name += "-" + task
		}
	}
	if s.Provider == "" {
		s.Provider = "consul"
	}
	if s.AddressMode == "" {
		s.AddressMode = "auto"
	}
	for i := range s.Checks {
		if s.Checks[i].Type == "http" && s.Checks[i].Protocol == "" {
			s.Checks[i].Protocol = "http"
		}
	}
}

func (t *Task) canonicalize(j *Job, tg *TaskGroup) {
	if t.Resources == nil {
		t.Resources = DefaultResources()
	}
	if t.Resources.CPU == 0 && t.Resources.Cores == 0 {
		t.Resources.CPU = DefaultCPU
	}
	if t.Resources.MemoryMB == 0 {
		t.Resources.MemoryMB = DefaultMemoryMB
	}
	for _, n := range t.Resources.Networks {
		n.canonicalize()
	}
	if t.RestartPolicy == nil {
		rp := *tg.RestartPolicy
		t.RestartPolicy = &rp
	}
	if t.LogConfig == nil {
		t.LogConfig = DefaultLogConfig()
	}
	for _, c := range t.Constraints {
		c.canonicalize()
	}
	for _, s := range t.Services {
		s.canonicalize(j, tg, t.Name)
	}
	for _, tmpl := range t.Templates {
		tmpl.canonicalize()
	}
	for _, a := range t.Artifacts {
		if a.GetterMode == "" {
			a.GetterMode = "any"
		}
		if a.RelativeDest == "" {
			a.RelativeDest = "local/"
		}
	}
}

func (t *Template) canonicalize() {
	if t.ChangeMode == "" {
		t.ChangeMode = "restart"
	}
	if t.Splay == 0 {
		t.Splay = 5 * time.Second
	}
	if t.Perms == "" {
		t.Perms = "0644"
	}
	if t.LeftDelim == "" {
		t.LeftDelim = "{{"
	}
	if t.RightDelim == "" {
		t.RightDelim = "}}"
	}
}
