package jobspec

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"drover/agent/structs"
)

// The block layouts of the job format. Anything not listed is refused.
var (
	jobSpec = blockSpec{
		attrs:       []string{"region", "namespace", "id", "name", "type", "priority", "all_at_once", "datacenters", "node_pool", "meta"},
		blocks:      []string{"update", "migrate", "reschedule", "constraint", "periodic", "meta"},
		labelled:    []string{"group"},
		unsupported: []string{"parameterized", "affinity", "spread", "multiregion", "vault", "consul", "ui"},
	}
	groupSpec = blockSpec{
		attrs:    []string{"count", "meta", "shutdown_delay"},
		blocks:   []string{"constraint", "restart", "reschedule", "ephemeral_disk", "update", "migrate", "network", "service", "meta"},
		labelled: []string{"task"},
		unsupported: []string{"affinity", "spread", "volume", "scaling", "consul", "vault", "disconnect",
			"stop_after_client_disconnect", "max_client_disconnect"},
	}
	taskSpec = blockSpec{
		attrs:  []string{"driver", "user", "config", "kill_timeout", "kill_signal", "leader", "shutdown_delay", "meta", "env"},
		blocks: []string{"config", "env", "meta", "resources", "restart", "logs", "service", "constraint", "artifact", "template"},
		unsupported: []string{"vault", "lifecycle", "volume_mount", "identity", "dispatch_payload", "csi_plugin",
			"scaling", "affinity", "consul", "action", "schedule", "secret"},
	}
	resourcesSpec = blockSpec{
		attrs:       []string{"cpu", "cores", "memory", "memory_max", "disk", "iops"},
		blocks:      []string{"network"},
		unsupported: []string{"device", "numa"},
	}
	networkSpec = blockSpec{
		attrs:       []string{"mode", "mbits", "hostname"},
		labelled:    []string{"port"},
		unsupported: []string{"dns", "cni"},
	}
	portSpec    = blockSpec{attrs: []string{"static", "to", "host_network"}}
	serviceSpec = blockSpec{
		attrs:       []string{"name", "tags", "canary_tags", "port", "address_mode", "provider", "task", "meta"},
		blocks:      []string{"check", "meta"},
		unsupported: []string{"connect", "check_restart", "identity", "canary_meta", "tagged_addresses", "weights"},
	}
	checkSpec = blockSpec{
		attrs: []string{"name", "type", "command", "args", "path", "protocol", "port", "method", "address_mode",
			"initial_status", "interval", "timeout"},
		unsupported: []string{"header", "check_restart"},
	}
	restartSpec    = blockSpec{attrs: []string{"attempts", "interval", "delay", "mode", "render_templates"}}
	rescheduleSpec = blockSpec{attrs: []string{"attempts", "interval", "delay", "delay_function", "max_delay", "unlimited"}}
	updateSpec     = blockSpec{attrs: []string{"stagger", "max_parallel", "health_check", "min_healthy_time",
		"healthy_deadline", "progress_deadline", "canary", "auto_revert", "auto_promote"}}
	migrateSpec    = blockSpec{attrs: []string{"max_parallel", "health_check", "min_healthy_time", "healthy_deadline"}}
	diskSpec       = blockSpec{attrs: []string{"size", "sticky", "migrate"}}
	logsSpec       = blockSpec{attrs: []string{"max_files", "max_file_size", "disabled", "enabled"}}
	constraintSpec = blockSpec{attrs: []string{"attribute", "value", "operator"}}
	templateSpec   = blockSpec{attrs: []string{"source", "destination", "data", "change_mode", "change_signal", "splay",
		"perms", "left_delimiter", "right_delimiter", "env"}}
	artifactSpec = blockSpec{attrs: []string{"source", "destination", "mode", "options", "headers"},
		blocks: []string{"options", "headers"}}
	periodicSpec = blockSpec{attrs: []string{"cron", "prohibit_overlap", "time_zone", "enabled"}}
)

// decodeJob decodes a job block. Block defaults are filled before the
// block's own attributes are decoded over them, so a partial block such as
// restart { attempts = 0 } keeps the other defaults, as in Nomad.
func (d *decoder) decodeJob(block *hcl.Block) *structs.Job {
	job := &structs.Job{ID: block.Labels[0], Name: block.Labels[0]}
	d.record("", block.DefRange)
	d.record("ID", block.LabelRanges[0])
	c := d.content(block.Body, jobSpec)
	d.str(c, "type", &job.Type, "Type")
	if job.Type == "" {
		job.Type = structs.JobTypeService
	}
	d.str(c, "region", &job.Region, "Region")
	d.str(c, "namespace", &job.Namespace, "Namespace")
	d.str(c, "id", &job.ID, "ID")
	d.str(c, "name", &job.Name, "Name")
	d.integer(c, "priority", &job.Priority, "Priority")
	d.boolean(c, "all_at_once", &job.AllAtOnce, "AllAtOnce")
	d.strList(c, "datacenters", &job.Datacenters, "Datacenters")
	d.str(c, "node_pool", &job.NodePool, "NodePool")
	d.strMap(c, "meta", &job.Meta, "Meta")
	job.Constraints = d.constraints(c, "Constraints")

	// Job-level update, migrate and reschedule blocks are the base every
	// group's own block is decoded over.
	var update *structs.UpdateStrategy
	if job.Type == structs.JobTypeService || job.Type == structs.JobTypeSystem {
		update = structs.DefaultUpdateStrategy()
	}
	if b := c.first("update"); b != nil {
		if update == nil {
			update = structs.DefaultUpdateStrategy()
		}
		d.record("Update", b.DefRange)
		d.update(b, update, "Update")
		job.Update = update
	} else if update != nil {
		job.Update = update
	}
	var migrate *structs.MigrateStrategy
	if job.Type == structs.JobTypeService {
		migrate = structs.DefaultMigrateStrategy()
	}
	if b := c.first("migrate"); b != nil {
		if migrate == nil {
			migrate = structs.DefaultMigrateStrategy()
		}
		d.record("Migrate", b.DefRange)
		d.migrate(b, migrate, "Migrate")
	}
	reschedule := structs.DefaultReschedulePolicy(job.Type)
	if b := c.first("reschedule"); b != nil {
		if reschedule == nil {
			reschedule = &structs.ReschedulePolicy{}
		}
		d.reschedule(b, reschedule, "Reschedule")
	}
	if b := c.first("periodic"); b != nil {
		d.record("Periodic", b.DefRange)
		job.Periodic = d.periodic(b)
	}
	if !job.UsesUpdates() {
		update = nil // refused at job level by validation; don't repeat it per group
	}
	for i, b := range c.blocks["group"] {
		job.TaskGroups = append(job.TaskGroups, d.group(b, job, update, migrate, reschedule, fmt.Sprintf("TaskGroups[%d]", i)))
	}
	return job
}

func (d *decoder) group(block *hcl.Block, job *structs.Job, update *structs.UpdateStrategy,
	migrate *structs.MigrateStrategy, reschedule *structs.ReschedulePolicy, path string) *structs.TaskGroup {
	tg := &structs.TaskGroup{Name: block.Labels[0], Count: structs.DefaultCount}
	d.record(path, block.DefRange)
	d.record(path+".Name", block.LabelRanges[0])
	c := d.content(block.Body, groupSpec)
	d.integer(c, "count", &tg.Count, path+".Count")
	d.strMap(c, "meta", &tg.Meta, path+".Meta")
	if _, ok := c.attrs["shutdown_delay"]; ok {
		var delay time.Duration
		d.duration(c, "shutdown_delay", &delay, path+".ShutdownDelay")
		tg.ShutdownDelay = &delay
	}
	tg.Constraints = d.constraints(c, path+".Constraints")

	tg.RestartPolicy = structs.DefaultRestartPolicy(job.Type)
	if b := c.first("restart"); b != nil {
		d.restart(b, tg.RestartPolicy, path+".RestartPolicy")
	}
	if reschedule != nil {
		r := *reschedule
		tg.ReschedulePolicy = &r
	}
	if b := c.first("reschedule"); b != nil {
		if tg.ReschedulePolicy == nil {
			tg.ReschedulePolicy = &structs.ReschedulePolicy{}
		}
		d.reschedule(b, tg.ReschedulePolicy, path+".ReschedulePolicy")
	}
	tg.EphemeralDisk = structs.DefaultEphemeralDisk()
	if b := c.first("ephemeral_disk"); b != nil {
		d.record(path+".EphemeralDisk", b.DefRange)
		dc := d.content(b.Body, diskSpec)
		d.integer(dc, "size", &tg.EphemeralDisk.SizeMB, path+".EphemeralDisk.SizeMB")
		d.boolean(dc, "sticky", &tg.EphemeralDisk.Sticky, path+".EphemeralDisk.Sticky")
		d.boolean(dc, "migrate", &tg.EphemeralDisk.Migrate, path+".EphemeralDisk.Migrate")
	}
	if update != nil {
		u := *update
		tg.Update = &u
	}
	if b := c.first("update"); b != nil {
		if tg.Update == nil {
			tg.Update = structs.DefaultUpdateStrategy()
		}
		d.record(path+".Update", b.DefRange)
		d.update(b, tg.Update, path+".Update")
	}
	if migrate != nil {
		m := *migrate
		tg.Migrate = &m
	}
	if b := c.first("migrate"); b != nil {
		if tg.Migrate == nil {
			tg.Migrate = structs.DefaultMigrateStrategy()
		}
		d.record(path+".Migrate", b.DefRange)
		d.migrate(b, tg.Migrate, path+".Migrate")
	}
	for i, b := range c.blocks["network"] {
		tg.Networks = append(tg.Networks, d.network(b, fmt.Sprintf("%s.Networks[%d]", path, i)))
	}
	for i, b := range c.blocks["service"] {
		tg.Services = append(tg.Services, d.service(b, fmt.Sprintf("%s.Services[%d]", path, i)))
	}
	for i, b := range c.blocks["task"] {
		tg.Tasks = append(tg.Tasks, d.task(b, tg, fmt.Sprintf("%s.Tasks[%d]", path, i)))
	}
	return tg
}

func (d *decoder) task(block *hcl.Block, tg *structs.TaskGroup, path string) *structs.Task {
	t := &structs.Task{Name: block.Labels[0], KillTimeout: structs.DefaultKillTimeout}
	d.record(path, block.DefRange)
	d.record(path+".Name", block.LabelRanges[0])
	c := d.content(block.Body, taskSpec)
	d.str(c, "driver", &t.Driver, path+".Driver")
	d.str(c, "user", &t.User, path+".User")
	d.duration(c, "kill_timeout", &t.KillTimeout, path+".KillTimeout")
	d.str(c, "kill_signal", &t.KillSignal, path+".KillSignal")
	d.boolean(c, "leader", &t.Leader, path+".Leader")
	d.duration(c, "shutdown_delay", &t.ShutdownDelay, path+".ShutdownDelay")
	d.strMap(c, "meta", &t.Meta, path+".Meta")
	d.strMap(c, "env", &t.Env, path+".Env")
	t.Config = d.taskConfig(c, path+".Config")
	t.Constraints = d.constraints(c, path+".Constraints")

	t.Resources = structs.DefaultResources()
	if b := c.first("resources"); b != nil {
		d.record(path+".Resources", b.DefRange)
		rc := d.content(b.Body, resourcesSpec)
		d.integer(rc, "cpu", &t.Resources.CPU, path+".Resources.CPU")
		d.integer(rc, "cores", &t.Resources.Cores, path+".Resources.Cores")
		if _, ok := rc.attrs["cores"]; ok {
			if _, ok := rc.attrs["cpu"]; !ok {
				t.Resources.CPU = 0 // cores replace the default cpu share
			}
		}
		d.integer(rc, "memory", &t.Resources.MemoryMB, path+".Resources.MemoryMB")
		d.integer(rc, "memory_max", &t.Resources.MemoryMaxMB, path+".Resources.MemoryMaxMB")
		d.integer(rc, "disk", &t.Resources.DiskMB, path+".Resources.DiskMB")
		d.integer(rc, "iops", &t.Resources.IOPS, path+".Resources.IOPS")
		for i, nb := range rc.blocks["network"] {
			t.Resources.Networks = append(t.Resources.Networks, d.network(nb, fmt.Sprintf("%s.Resources.Networks[%d]", path, i)))
		}
	}
	rp := *tg.RestartPolicy
	t.RestartPolicy = &rp
	if b := c.first("restart"); b != nil {
		d.restart(b, t.RestartPolicy, path+".RestartPolicy")
	}
	t.LogConfig = structs.DefaultLogConfig()
	if b := c.first("logs"); b != nil {
		d.record(path+".LogConfig", b.DefRange)
		lc := d.content(b.Body, logsSpec)
		d.integer(lc, "max_files", &t.LogConfig.MaxFiles, path+".LogConfig.MaxFiles")
		d.integer(lc, "max_file_size", &t.LogConfig.MaxFileSizeMB, path+".LogConfig.MaxFileSizeMB")
		d.boolean(lc, "disabled", &t.LogConfig.Disabled, path+".LogConfig.Disabled")
		enabled := true
		if _, ok := lc.attrs["enabled"]; ok {
			d.boolean(lc, "enabled", &enabled, path+".LogConfig.Disabled")
			t.LogConfig.Disabled = !enabled
		}
	}
	for i, b := range c.blocks["service"] {
		t.Services = append(t.Services, d.service(b, fmt.Sprintf("%s.Services[%d]", path, i)))
	}
	for i, b := range c.blocks["artifact"] {
		p := fmt.Sprintf("%s.Artifacts[%d]", path, i)
		d.record(p, b.DefRange)
		ac := d.content(b.Body, artifactSpec)
		a := &structs.TaskArtifact{}
		d.str(ac, "source", &a.GetterSource, p+".GetterSource")
		d.str(ac, "destination", &a.RelativeDest, p+".RelativeDest")
		d.str(ac, "mode", &a.GetterMode, p+".GetterMode")
		d.strMap(ac, "options", &a.GetterOptions, p+".GetterOptions")
		d.strMap(ac, "headers", &a.GetterHeaders, p+".GetterHeaders")
		t.Artifacts = append(t.Artifacts, a)
	}
	for i, b := range c.blocks["template"] {
		p := fmt.Sprintf("%s.Templates[%d]", path, i)
		d.record(p, b.DefRange)
		tc := d.content(b.Body, templateSpec)
		tmpl := &structs.Template{}
		d.str(tc, "source", &tmpl.SourcePath, p+".SourcePath")
		d.str(tc, "destination", &tmpl.DestPath, p+".DestPath")
		d.str(tc, "data", &tmpl.EmbeddedTmpl, p+".EmbeddedTmpl")
		d.str(tc, "change_mode", &tmpl.ChangeMode, p+".ChangeMode")
		d.str(tc, "change_signal", &tmpl.ChangeSignal, p+".ChangeSignal")
		d.duration(tc, "splay", &tmpl.Splay, p+".Splay")
		d.str(tc, "perms", &tmpl.Perms, p+".Perms")
		d.str(tc, "left_delimiter", &tmpl.LeftDelim, p+".LeftDelim")
		d.str(tc, "right_delimiter", &tmpl.RightDelim, p+".RightDelim")
		d.boolean(tc, "env", &tmpl.Envvars, p+".Envvars")
		t.Templates = append(t.Templates, tmpl)
	}
	return t
}

func (d *decoder) constraints(c content, path string) []*structs.Constraint {
	var out []*structs.Constraint
	for i, b := range c.blocks["constraint"] {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.record(p, b.DefRange)
		cc := d.content(b.Body, constraintSpec)
		con := &structs.Constraint{Operand: "="}
		d.str(cc, "attribute", &con.LTarget, p+".LTarget")
		d.str(cc, "value", &con.RTarget, p+".RTarget")
		d.str(cc, "operator", &con.Operand, p+".Operand")
		out = append(out, con)
	}
	return out
}

func (d *decoder) update(b *hcl.Block, u *structs.UpdateStrategy, path string) {
	c := d.content(b.Body, updateSpec)
	d.duration(c, "stagger", &u.Stagger, path+".Stagger")
	d.integer(c, "max_parallel", &u.MaxParallel, path+".MaxParallel")
	d.str(c, "health_check", &u.HealthCheck, path+".HealthCheck")
	d.duration(c, "min_healthy_time", &u.MinHealthyTime, path+".MinHealthyTime")
	d.duration(c, "healthy_deadline", &u.HealthyDeadline, path+".HealthyDeadline")
	d.duration(c, "progress_deadline", &u.ProgressDeadline, path+".ProgressDeadline")
	d.integer(c, "canary", &u.Canary, path+".Canary")
	d.boolean(c, "auto_revert", &u.AutoRevert, path+".AutoRevert")
	d.boolean(c, "auto_promote", &u.AutoPromote, path+".AutoPromote")
}

func (d *decoder) migrate(b *hcl.Block, m *structs.MigrateStrategy, path string) {
	c := d.content(b.Body, migrateSpec)
	d.integer(c, "max_parallel", &m.MaxParallel, path+".MaxParallel")
	d.str(c, "health_check", &m.HealthCheck, path+".HealthCheck")
	d.duration(c, "min_healthy_time", &m.MinHealthyTime, path+".MinHealthyTime")
	d.duration(c, "healthy_deadline", &m.HealthyDeadline, path+".HealthyDeadline")
}

func (d *decoder) restart(b *hcl.Block, r *structs.RestartPolicy, path string) {
	d.record(path, b.DefRange)
	c := d.content(b.Body, restartSpec)
	d.integer(c, "attempts", &r.Attempts, path+".Attempts")
	d.duration(c, "interval", &r.Interval, path+".Interval")
	d.duration(c, "delay", &r.Delay, path+".Delay")
	d.str(c, "mode", &r.Mode, path+".Mode")
	d.boolean(c, "render_templates", &r.RenderTemplates, path+".RenderTemplates")
}

func (d *decoder) reschedule(b *hcl.Block, r *structs.ReschedulePolicy, path string) {
	d.record(path, b.DefRange)
	c := d.content(b.Body, rescheduleSpec)
	d.integer(c, "attempts", &r.Attempts, path+".Attempts")
	d.duration(c, "interval", &r.Interval, path+".Interval")
	d.duration(c, "delay", &r.Delay, path+".Delay")
	d.str(c, "delay_function", &r.DelayFunction, path+".DelayFunction")
	d.duration(c, "max_delay", &r.MaxDelay, path+".MaxDelay")
	d.boolean(c, "unlimited", &r.Unlimited, path+".Unlimited")
}

func (d *decoder) periodic(b *hcl.Block) *structs.PeriodicConfig {
	c := d.content(b.Body, periodicSpec)
	p := &structs.PeriodicConfig{Enabled: true, SpecType: "cron", TimeZone: "UTC"}
	d.str(c, "cron", &p.Spec, "Periodic.Spec")
	d.boolean(c, "prohibit_overlap", &p.ProhibitOverlap, "Periodic.ProhibitOverlap")
	d.str(c, "time_zone", &p.TimeZone, "Periodic.TimeZone")
	d.boolean(c, "enabled", &p.Enabled, "Periodic.Enabled")
	return p
}

// network decodes a network block. A port with a static value is reserved;
// any other port is dynamic and gets its value from the scheduler.
func (d *decoder) network(b *hcl.Block, path string) *structs.NetworkResource {
	d.record(path, b.DefRange)
	c := d.content(b.Body, networkSpec)
	n := &structs.NetworkResource{}
	d.str(c, "mode", &n.Mode, path+".Mode")
	d.integer(c, "mbits", &n.MBits, path+".MBits")
	d.str(c, "hostname", &n.Hostname, path+".Hostname")
	for _, pb := range c.blocks["port"] {
		pc := d.content(pb.Body, portSpec)
		p := structs.Port{Label: pb.Labels[0]}
		_, static := pc.attrs["static"]
		ppath := fmt.Sprintf("%s.DynamicPorts[%d]", path, len(n.DynamicPorts))
		if static {
			ppath = fmt.Sprintf("%s.ReservedPorts[%d]", path, len(n.ReservedPorts))
		}
		d.record(ppath, pb.DefRange)
		d.record(ppath+".Label", pb.LabelRanges[0])
		d.integer(pc, "static", &p.Value, ppath+".Value")
		d.integer(pc, "to", &p.To, ppath+".To")
		d.str(pc, "host_network", &p.HostNetwork, ppath+".HostNetwork")
		if static {
			n.ReservedPorts = append(n.ReservedPorts, p)
		} else {
			n.DynamicPorts = append(n.DynamicPorts, p)
		}
	}
	return n
}

func (d *decoder) service(b *hcl.Block, path string) *structs.Service {
	d.record(path, b.DefRange)
	c := d.content(b.Body, serviceSpec)
	s := &structs.Service{}
	d.str(c, "name", &s.Name, path+".Name")
	d.strList(c, "tags", &s.Tags, path+".Tags")
	d.strList(c, "canary_tags", &s.CanaryTags, path+".CanaryTags")
	d.str(c, "port", &s.PortLabel, path+".PortLabel")
	d.str(c, "address_mode", &s.AddressMode, path+".AddressMode")
	d.str(c, "provider", &s.Provider, path+".Provider")
	d.str(c, "task", &s.TaskName, path+".TaskName")
	d.strMap(c, "meta", &s.Meta, path+".Meta")
	for i, cb := range c.blocks["check"] {
		p := fmt.Sprintf("%s.Checks[%d]", path, i)
		d.record(p, cb.DefRange)
		cc := d.content(cb.Body, checkSpec)
		var chk structs.ServiceCheck
		d.str(cc, "name", &chk.Name, p+".Name")
		d.str(cc, "type", &chk.Type, p+".Type")
		d.str(cc, "command", &chk.Command, p+".Command")
		d.strList(cc, "args", &chk.Args, p+".Args")
		d.str(cc, "path", &chk.Path, p+".Path")
		d.str(cc, "protocol", &chk.Protocol, p+".Protocol")
		d.str(cc, "port", &chk.PortLabel, p+".PortLabel")
		d.str(cc, "method", &chk.Method, p+".Method")
		d.str(cc, "address_mode", &chk.AddressMode, p+".AddressMode")
		d.str(cc, "initial_status", &chk.InitialStatus, p+".InitialStatus")
		d.duration(cc, "interval", &chk.Interval, p+".Interval")
		d.duration(cc, "timeout", &chk.Timeout, p+".Timeout")
		s.Checks = append(s.Checks, chk)
	}
	return s
}
