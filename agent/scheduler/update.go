package scheduler

import (
	"fmt"
	"reflect"

	"drover/agent/structs"
)

// destructiveChange compares the group tg of two job versions and returns
// a reason when the change cannot be applied to a running allocation, or
// "" when it can be applied in place. The split follows the Nomad
// scheduler's: anything the running tasks were started with (driver,
// config, env, resources, networks, meta, artifacts, templates, disk)
// needs new allocations; scheduling policy (count, update, restart,
// services, constraints, kill timeout, ...) does not.
func destructiveChange(oldJob, newJob *structs.Job, group string) string {
	a, b := oldJob.LookupTaskGroup(group), newJob.LookupTaskGroup(group)
	if a == nil || b == nil {
		return "task group " + group + " was added or removed"
	}
	if len(a.Tasks) != len(b.Tasks) {
		return fmt.Sprintf("the number of tasks changed (%d → %d)", len(a.Tasks), len(b.Tasks))
	}
	if !reflect.DeepEqual(a.EphemeralDisk, b.EphemeralDisk) {
		return "ephemeral_disk changed"
	}
	if networksDiffer(a.Networks, b.Networks) {
		return "the group network changed"
	}
	if renderTemplates(a.RestartPolicy) != renderTemplates(b.RestartPolicy) {
		return "restart.render_templates changed"
	}
	for _, at := range a.Tasks {
		var bt *structs.Task
		for _, t := range b.Tasks {
			if t.Name == at.Name {
				bt = t
			}
		}
		if bt == nil {
			return fmt.Sprintf("task %q was removed", at.Name)
		}
		if why := taskChange(oldJob, newJob, a, b, at, bt); why != "" {
			return fmt.Sprintf("task %q changed: %s", at.Name, why)
		}
	}
	return ""
}

func taskChange(oldJob, newJob *structs.Job, oldTG, newTG *structs.TaskGroup, a, b *structs.Task) string {
	switch {
	case a.Driver != b.Driver:
		return "driver"
	case a.User != b.User:
		return "user"
	case !reflect.DeepEqual(a.Config, b.Config):
		return "config"
	case !reflect.DeepEqual(a.Env, b.Env):
		return "env"
	case !reflect.DeepEqual(a.Artifacts, b.Artifacts):
		return "artifact"
	case !reflect.DeepEqual(a.Templates, b.Templates):
		return "template"
	case !reflect.DeepEqual(combinedMeta(oldJob, oldTG, a), combinedMeta(newJob, newTG, b)):
		return "meta"
	case logsDisabled(a) != logsDisabled(b):
		return "logs.disabled"
	case renderTemplates(a.RestartPolicy) != renderTemplates(b.RestartPolicy):
		return "restart.render_templates"
	}
	ar, br := a.Resources, b.Resources
	if ar == nil || br == nil {
		if ar != br {
			return "resources"
		}
		return ""
	}
	switch {
	case ar.CPU != br.CPU:
		return "resources.cpu"
	case ar.Cores != br.Cores:
		return "resources.cores"
	case ar.MemoryMB != br.MemoryMB:
		return "resources.memory"
	case ar.MemoryMaxMB != br.MemoryMaxMB:
		return "resources.memory_max"
	case networksDiffer(ar.Networks, br.Networks):
		return "resources.network"
	}
	return ""
}

// combinedMeta is what a task sees as its meta: job, then group, then task.
func combinedMeta(j *structs.Job, tg *structs.TaskGroup, t *structs.Task) map[string]string {
	out := map[string]string{}
	for _, m := range []map[string]string{j.Meta, tg.Meta, t.Meta} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func logsDisabled(t *structs.Task) bool { return t.LogConfig != nil && t.LogConfig.Disabled }

func renderTemplates(r *structs.RestartPolicy) bool { return r != nil && r.RenderTemplates }

// networksDiffer compares networks as asked for, ignoring the values the
// scheduler assigned to dynamic ports.
func networksDiffer(a, b []*structs.NetworkResource) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		x, y := *a[i], *b[i]
		x.IP, y.IP = "", ""
		x.DynamicPorts = withoutValues(x.DynamicPorts)
		y.DynamicPorts = withoutValues(y.DynamicPorts)
		if !reflect.DeepEqual(x, y) {
			return true
		}
	}
	return false
}

func withoutValues(ports []structs.Port) []structs.Port {
	out := make([]structs.Port, len(ports))
	for i, p := range ports {
		p.Value = 0
		out[i] = p
	}
	return out
}
