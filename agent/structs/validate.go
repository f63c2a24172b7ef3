package structs

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/cronexpr"
)

// FieldError is one validation problem. Path names the offending field in
// the job's JSON form, e.g. "TaskGroups[0].Tasks[1].Driver", so that the API
// can report it and the jobspec parser can map it back to file:line:col.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// ValidationError collects every problem found in one pass, so a user fixes
// a job in one round trip instead of one error at a time.
type ValidationError struct {
	Errors []*FieldError
}

func (v *ValidationError) Error() string {
	lines := make([]string, len(v.Errors))
	for i, e := range v.Errors {
		lines[i] = "* " + e.Error()
	}
	noun := "errors"
	if len(v.Errors) == 1 {
		noun = "error"
	}
	return fmt.Sprintf("%d %s occurred:\n\t%s", len(v.Errors), noun, strings.Join(lines, "\n\t"))
}

// validator accumulates errors under a current path prefix.
type validator struct {
	errs []*FieldError
}

func (v *validator) add(path, format string, args ...interface{}) {
	v.errs = append(v.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a canonicalized job and returns a *ValidationError listing
// every problem, or nil.
// The default Limits apply; ValidateWith takes others.
func (j *Job) Validate() error {
	return j.ValidateWith(DefaultLimits)
}

func (j *Job) validate(v *validator) {
	switch {
	case j.ID == "":
		v.add("ID", "Missing job ID")
	case strings.Contains(j.ID, " "):
		v.add("ID", "Job ID contains a space")
	case strings.Contains(j.ID, "\x00"):
		v.add("ID", "Job ID contains a null character")
	}
	if j.Name == "" {
		v.add("Name", "Missing job name")
	}
	switch j.Type {
	case JobTypeService, JobTypeBatch, JobTypeSystem:
	default:
		v.add("Type", "Invalid job type: %q", j.Type)
	}
	if j.Priority < 1 || j.Priority > 100 {
		v.add("Priority", "job priority must be between [1, 100]")
	}
	if len(j.Datacenters) == 0 {
		v.add("Datacenters", "Missing job datacenters")
	}
	for i, dc := range j.Datacenters {
		if dc == "" {
			v.add(fmt.Sprintf("Datacenters[%d]", i), "Job datacenter must be non-empty string")
		}
	}
	for i, c := range j.Constraints {
		c.validate(v, fmt.Sprintf("Constraints[%d]", i))
	}
	if len(j.TaskGroups) == 0 {
		v.add("TaskGroups", "Missing job task groups")
	}
	seen := map[string]int{}
	for i, tg := range j.TaskGroups {
		path := fmt.Sprintf("TaskGroups[%d]", i)
		if tg.Name == "" {
			v.add(path+".Name", "Job task group %d missing name", i+1)
		} else if first, ok := seen[tg.Name]; ok {
			v.add(path+".Name", "Job task group %d redefines '%s' from group %d", i+1, tg.Name, first+1)
		} else {
			seen[tg.Name] = i
		}
		tg.validate(v, j, path)
	}
	if j.Update != nil {
		if j.Type == JobTypeBatch {
			v.add("Update", "Job type %q does not allow update block", j.Type)
		} else {
			j.Update.validate(v, "Update")
		}
	}
	if p := j.Periodic; p != nil {
		if j.Type != JobTypeBatch {
			v.add("Periodic", "Periodic can only be used with %q scheduler", JobTypeBatch)
		}
		p.validate(v, "Periodic")
	}
}

func (p *PeriodicConfig) validate(v *validator, path string) {
	if !p.Enabled {
		return
	}
	if p.SpecType != "cron" {
		v.add(path+".SpecType", "Unknown periodic specification type %q", p.SpecType)
		return
	}
	if p.Spec == "" {
		v.add(path+".Spec", "Must specify a spec")
		return
	}
	if _, err := cronexpr.Parse(p.Spec); err != nil {
		v.add(path+".Spec", "Invalid cron spec %q: %v", p.Spec, err)
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil {
		v.add(path+".TimeZone", "Invalid time zone %q: %v", p.TimeZone, err)
	}
}

var validOperands = map[string]bool{
	"=": true, "==": true, "is": true, "!=": true, "not": true, "<": true, "<=": true, ">": true, ">=": true,
	"regexp": true, "version": true, "semver": true, "set_contains": true, "set_contains_all": true,
	"set_contains_any": true, "distinct_hosts": true, "distinct_property": true, "is_set": true, "is_not_set": true,
}

func (c *Constraint) validate(v *validator, path string) {
	if !validOperands[c.Operand] {
		v.add(path+".Operand", "Unknown constraint type %q", c.Operand)
		return
	}
	switch c.Operand {
	case "distinct_hosts", "is_set", "is_not_set":
	case "distinct_property":
		if c.LTarget == "" {
			v.add(path+".LTarget", "No LTarget provided but is required by constraint")
		}
	default:
		if c.LTarget == "" {
			v.add(path+".LTarget", "No LTarget provided but is required by constraint")
		}
		if c.RTarget == "" {
			v.add(path+".RTarget", "No RTarget provided but is required by constraint")
		}
	}
}

func (tg *TaskGroup) validate(v *validator, j *Job, path string) {
	if tg.Count < 0 {
		v.add(path+".Count", "Task group count can't be negative")
	}
	if j.Type == JobTypeSystem && tg.Count > 1 {
		v.add(path+".Count", "Job task group %s has count %d. Count cannot exceed 1 with system scheduler", tg.Name, tg.Count)
	}
	if len(tg.Tasks) == 0 {
		v.add(path+".Tasks", "Missing tasks for task group")
	}
	for i, c := range tg.Constraints {
		c.validate(v, fmt.Sprintf("%s.Constraints[%d]", path, i))
	}
	if tg.RestartPolicy != nil {
		tg.RestartPolicy.validate(v, path+".RestartPolicy")
	} else {
		v.add(path+".RestartPolicy", "Task Group %s should have a restart policy", tg.Name)
	}
	if tg.ReschedulePolicy != nil {
		tg.ReschedulePolicy.validate(v, path+".ReschedulePolicy")
	}
	if tg.EphemeralDisk == nil {
		v.add(path+".EphemeralDisk", "Task Group %s should have an ephemeral disk object", tg.Name)
	} else if tg.EphemeralDisk.SizeMB <= 0 {
		v.add(path+".EphemeralDisk.SizeMB", "minimum DiskMB value is 1; got %d", tg.EphemeralDisk.SizeMB)
	}
	switch j.Type {
	case JobTypeBatch:
		if tg.Update != nil {
			v.add(path+".Update", "Job type %q does not allow update block", j.Type)
		}
		if tg.Migrate != nil {
			v.add(path+".Migrate", "Job type %q does not allow migrate block", j.Type)
		}
	case JobTypeSystem:
		if tg.Migrate != nil {
			v.add(path+".Migrate", "Job type %q does not allow migrate block", j.Type)
		}
	}
	// A block inherited unchanged from the job was checked there already.
	if tg.Update != nil && (j.Update == nil || *tg.Update != *j.Update) {
		tg.Update.validate(v, path+".Update")
	}
	if m := tg.Migrate; m != nil {
		if m.MaxParallel < 0 {
			v.add(path+".Migrate.MaxParallel", "MaxParallel must be >= 0 but found %d", m.MaxParallel)
		}
		if !validHealthCheck(m.HealthCheck) || m.HealthCheck == "manual" {
			v.add(path+".Migrate.HealthCheck", "Invalid health check given: %q", m.HealthCheck)
		}
		if m.MinHealthyTime > m.HealthyDeadline {
			v.add(path+".Migrate.MinHealthyTime", "Minimum healthy time must be less than healthy deadline: %v > %v", m.MinHealthyTime, m.HealthyDeadline)
		}
	}
	if len(tg.Networks) > 1 {
		v.add(path+".Networks", "Only one network resource is currently supported, found %d", len(tg.Networks))
	}
	ports := &portOwners{}
	for i, n := range tg.Networks {
		n.validate(v, fmt.Sprintf("%s.Networks[%d]", path, i), "taskgroup network", ports)
	}
	seen := map[string]int{}
	for i, t := range tg.Tasks {
		tpath := fmt.Sprintf("%s.Tasks[%d]", path, i)
		if t.Name != "" {
			if first, ok := seen[t.Name]; ok {
				v.add(tpath+".Name", "Task %d redefines '%s' from task %d", i+1, t.Name, first+1)
			} else {
				seen[t.Name] = i
			}
		}
		t.validate(v, tg, tpath, ports)
	}
	for i, s := range tg.Services {
		s.validate(v, fmt.Sprintf("%s.Services[%d]", path, i), ports)
	}
}

func validHealthCheck(s string) bool {
	return s == "checks" || s == "task_states" || s == "manual"
}

func (u *UpdateStrategy) validate(v *validator, path string) {
	if !validHealthCheck(u.HealthCheck) {
		v.add(path+".HealthCheck", "Invalid health check given: %q", u.HealthCheck)
	}
	if u.MaxParallel < 0 {
		v.add(path+".MaxParallel", "Max parallel can not be less than zero: %d < 0", u.MaxParallel)
	}
	if u.Canary < 0 {
		v.add(path+".Canary", "Canary count can not be less than zero: %d < 0", u.Canary)
	}
	if u.Canary == 0 && u.AutoPromote {
		v.add(path+".AutoPromote", "Auto Promote requires a Canary count greater than zero")
	}
	if u.MinHealthyTime < 0 {
		v.add(path+".MinHealthyTime", "Minimum healthy time may not be less than zero: %v", u.MinHealthyTime)
	}
	if u.HealthyDeadline <= 0 {
		v.add(path+".HealthyDeadline", "Healthy deadline must be greater than zero: %v", u.HealthyDeadline)
	}
	if u.ProgressDeadline < 0 {
		v.add(path+".ProgressDeadline", "Progress deadline must be zero or greater: %v", u.ProgressDeadline)
	}
	if u.MinHealthyTime >= u.HealthyDeadline {
		v.add(path+".MinHealthyTime", "Minimum healthy time must be less than healthy deadline: %v > %v", u.MinHealthyTime, u.HealthyDeadline)
	}
	if u.ProgressDeadline != 0 && u.HealthyDeadline >= u.ProgressDeadline {
		v.add(path+".HealthyDeadline", "Healthy deadline must be less than progress deadline: %v > %v", u.HealthyDeadline, u.ProgressDeadline)
	}
	if u.Stagger <= 0 {
		v.add(path+".Stagger", "Stagger must be greater than zero: %v", u.Stagger)
	}
}

func (r *RestartPolicy) validate(v *validator, path string) {
	switch r.Mode {
	case "fail", "delay":
	default:
		v.add(path+".Mode", "Unsupported restart mode: %q", r.Mode)
	}
	if r.Attempts < 0 {
		v.add(path+".Attempts", "Restart attempts can't be negative: %d", r.Attempts)
	}
	if r.Delay < 0 {
		v.add(path+".Delay", "Restart delay can't be negative: %v", r.Delay)
	}
	if r.Interval < 0 {
		v.add(path+".Interval", "Restart interval can't be negative: %v", r.Interval)
	}
	// Attempts must fit in the interval, or the policy can never be honoured.
	if r.Attempts > 0 && r.Interval > 0 && time.Duration(r.Attempts)*r.Delay > r.Interval {
		v.add(path, "Can't restart the task group %d times in an interval of %v with a delay of %v", r.Attempts, r.Interval, r.Delay)
	}
}

func (r *ReschedulePolicy) validate(v *validator, path string) {
	switch r.DelayFunction {
	case "constant", "exponential", "fibonacci":
	default:
		v.add(path+".DelayFunction", "Invalid delay function %q, must be one of [constant exponential fibonacci]", r.DelayFunction)
	}
	if r.Attempts < 0 {
		v.add(path+".Attempts", "Reschedule attempts can't be negative: %d", r.Attempts)
	}
	if r.Delay < 0 {
		v.add(path+".Delay", "Reschedule delay can't be negative: %v", r.Delay)
	}
	if r.DelayFunction != "constant" && r.MaxDelay < r.Delay {
		v.add(path+".MaxDelay", "Max Delay cannot be less than Delay %v (got %v)", r.Delay, r.MaxDelay)
	}
	if r.Unlimited && (r.Attempts != 0 || r.Interval != 0) {
		v.add(path, "Reschedule Policy with Attempts = %d, Interval = %v, and Unlimited = %v is ambiguous", r.Attempts, r.Interval, r.Unlimited)
	}
}

// portOwners remembers which labels and static ports a group has handed out,
// shared between the group network and its tasks' networks.
type portOwners struct {
	labels map[string]string
	static map[int]string
}

func (p *portOwners) claimLabel(label, owner string) (string, bool) {
	if p.labels == nil {
		p.labels = map[string]string{}
	}
	if prev, ok := p.labels[label]; ok {
		return prev, false
	}
	p.labels[label] = owner
	return "", true
}

func (p *portOwners) claimStatic(port int, owner string) (string, bool) {
	if p.static == nil {
		p.static = map[int]string{}
	}
	if prev, ok := p.static[port]; ok {
		return prev, false
	}
	p.static[port] = owner
	return "", true
}

func (n *NetworkResource) validate(v *validator, path, owner string, ports *portOwners) {
	if n.MBits < 0 {
		v.add(path+".MBits", "Network mbits can't be negative: %d", n.MBits)
	}
	check := func(kind string, list []Port, static bool) {
		for i, p := range list {
			ppath := fmt.Sprintf("%s.%s[%d]", path, kind, i)
			if p.Label == "" {
				v.add(ppath+".Label", "Port label must not be empty")
				continue
			}
			if prev, ok := ports.claimLabel(p.Label, owner); !ok {
				v.add(ppath+".Label", "Port label %s already in use by %s", p.Label, prev)
			}
			if static {
				if p.Value <= 0 {
					v.add(ppath+".Value", "Port %q has an invalid static value %d", p.Label, p.Value)
				} else if p.Value > 65535 {
					v.add(ppath+".Value", "Port %s (%d) cannot be greater than 65535", p.Label, p.Value)
				} else if prev, ok := ports.claimStatic(p.Value, owner); !ok {
					v.add(ppath+".Value", "Static port %d already reserved by %s", p.Value, prev)
				}
			}
			if p.To < -1 {
				v.add(ppath+".To", "Port %q cannot be mapped to negative value %d", p.Label, p.To)
			} else if p.To > 65535 {
				v.add(ppath+".To", "Port %q cannot be mapped to a port (%d) greater than 65535", p.Label, p.To)
			}
		}
	}
	check("ReservedPorts", n.ReservedPorts, true)
	check("DynamicPorts", n.DynamicPorts, false)
}

func (t *Task) validate(v *validator, tg *TaskGroup, path string, ports *portOwners) {
	if t.Name == "" {
		v.add(path+".Name", "Missing task name")
	} else if strings.ContainsAny(t.Name, "/\x00") {
		v.add(path+".Name", "Task name cannot include slashes or null characters")
	}
	if t.Driver == "" {
		v.add(path+".Driver", "Missing task driver")
	}
	if t.KillTimeout < 0 {
		v.add(path+".KillTimeout", "KillTimeout must be a positive value")
	}
	if t.ShutdownDelay < 0 {
		v.add(path+".ShutdownDelay", "ShutdownDelay must be a positive value")
	}
	for i, c := range t.Constraints {
		c.validate(v, fmt.Sprintf("%s.Constraints[%d]", path, i))
	}
	if r := t.Resources; r == nil {
		v.add(path+".Resources", "Missing task resources")
	} else {
		r.validate(v, path+".Resources", "task "+t.Name, ports)
	}
	if t.RestartPolicy != nil && (tg.RestartPolicy == nil || *t.RestartPolicy != *tg.RestartPolicy) {
		t.RestartPolicy.validate(v, path+".RestartPolicy")
	}
	if lc := t.LogConfig; lc != nil {
		if lc.MaxFiles <= 0 {
			v.add(path+".LogConfig.MaxFiles", "minimum number of files is 1; got %d", lc.MaxFiles)
		}
		if lc.MaxFileSizeMB <= 0 {
			v.add(path+".LogConfig.MaxFileSizeMB", "minimum file size is 1MB; got %d", lc.MaxFileSizeMB)
		}
		// Logs live on the group's scratch disk, so they must fit in it.
		if tg.EphemeralDisk != nil && !lc.Disabled && lc.MaxFiles*lc.MaxFileSizeMB > tg.EphemeralDisk.SizeMB {
			v.add(path+".LogConfig", "log storage (%d MB) must be less than requested disk capacity (%d MB)",
				lc.MaxFiles*lc.MaxFileSizeMB, tg.EphemeralDisk.SizeMB)
		}
	}
	for i, s := range t.Services {
		s.validate(v, fmt.Sprintf("%s.Services[%d]", path, i), ports)
	}
	for i, a := range t.Artifacts {
		if a.GetterSource == "" {
			v.add(fmt.Sprintf("%s.Artifacts[%d].GetterSource", path, i), "Artifact source must be specified")
		}
	}
	for i, tmpl := range t.Templates {
		tpath := fmt.Sprintf("%s.Templates[%d]", path, i)
		if tmpl.SourcePath == "" && tmpl.EmbeddedTmpl == "" {
			v.add(tpath, "Must specify a source path or have an embedded template")
		}
		if tmpl.DestPath == "" {
			v.add(tpath+".DestPath", "Must specify a destination for the template")
		}
		switch tmpl.ChangeMode {
		case "noop", "restart", "script":
		case "signal":
			if tmpl.ChangeSignal == "" {
				v.add(tpath+".ChangeSignal", "Must specify signal value when change mode is signal")
			}
		default:
			v.add(tpath+".ChangeMode", "Invalid change mode %q", tmpl.ChangeMode)
		}
		if tmpl.Splay < 0 {
			v.add(tpath+".Splay", "Must specify positive splay value")
		}
	}
}

func (r *Resources) validate(v *validator, path, owner string, ports *portOwners) {
	if r.CPU != 0 && r.Cores != 0 {
		v.add(path, "Task can only ask for 'cpu' or 'cores' resource, not both.")
	}
	if r.Cores == 0 && r.CPU < 1 {
		v.add(path+".CPU", "minimum CPU value is 1; got %d", r.CPU)
	}
	if r.MemoryMB < 10 {
		v.add(path+".MemoryMB", "minimum MemoryMB value is 10; got %d", r.MemoryMB)
	}
	if r.MemoryMaxMB != 0 && r.MemoryMaxMB < r.MemoryMB {
		v.add(path+".MemoryMaxMB", "MemoryMaxMB value (%d) should be larger than MemoryMB value (%d)", r.MemoryMaxMB, r.MemoryMB)
	}
	if r.DiskMB > 0 {
		v.add(path+".DiskMB", "Task can't ask for disk resources, they have to be specified at the task group level.")
	}
	for i, n := range r.Networks {
		n.validate(v, fmt.Sprintf("%s.Networks[%d]", path, i), owner, ports)
	}
}

func (s *Service) validate(v *validator, path string, ports *portOwners) {
	if s.Name == "" {
		v.add(path+".Name", "Service must have a name")
	}
	switch s.Provider {
	case "consul", "nomad":
	default:
		v.add(path+".Provider", "Service provider must be one of \"consul\" or \"nomad\"; got %q", s.Provider)
	}
	if s.PortLabel != "" && ports.labels[s.PortLabel] == "" && !isNumeric(s.PortLabel) {
		v.add(path+".PortLabel", "Port label %q referenced by service %s does not exist", s.PortLabel, s.Name)
	}
	for i, c := range s.Checks {
		cpath := fmt.Sprintf("%s.Checks[%d]", path, i)
		switch c.Type {
		case "tcp", "http", "grpc", "script":
		default:
			v.add(cpath+".Type", "Check %q has an invalid type %q", c.Name, c.Type)
			continue
		}
		if c.Interval <= 0 {
			v.add(cpath+".Interval", "Check %q must have a positive interval", c.Name)
		}
		if c.Timeout <= 0 {
			v.add(cpath+".Timeout", "Check %q must have a positive timeout", c.Name)
		}
		if c.Type == "http" && c.Path == "" {
			v.add(cpath+".Path", "Check %q of type http must have a path", c.Name)
		}
		if c.Type == "script" && c.Command == "" {
			v.add(cpath+".Command", "Check %q of type script must have a command", c.Name)
		}
	}
}

func isNumeric(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
