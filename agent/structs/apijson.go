package structs

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
)

// A job sent as API JSON by a Nomad-compatible client (the official CLI
// parses the job file itself and sends pointers it left unset as null or
// not at all) means "the default" by an absent field, and "this value" by
// a present one, even a zero. A block given in part is therefore merged:
// a group's update block takes what it leaves out from the job's, the
// job's from the defaults; a task's restart policy from its group's.
// Without this, `update { max_parallel = 1 }` would deploy with no
// progress deadline, and `restart { attempts = 1 }` restart with no delay.

// jsonKeys is one JSON object's members, kept raw so presence is visible,
// by lower-cased name: encoding/json matches member names to fields
// without regard to case, so "maxParallel" sets MaxParallel and must
// count as sent.
type jsonKeys map[string]json.RawMessage

func (k *jsonKeys) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw == nil {
		*k = nil
		return nil
	}
	*k = make(jsonKeys, len(raw))
	for name, v := range raw {
		(*k)[strings.ToLower(name)] = v
	}
	return nil
}

// jobShape is the part of a job's JSON whose blocks take defaults field
// by field.
type jobShape struct {
	Update     jsonKeys
	TaskGroups []struct {
		Update           jsonKeys
		RestartPolicy    jsonKeys
		ReschedulePolicy jsonKeys
		Migrate          jsonKeys
		EphemeralDisk    jsonKeys
		Tasks            []struct {
			RestartPolicy jsonKeys
			LogConfig     jsonKeys
		}
	}
}

// UnmarshalJSON decodes a job and then gives each block the client sent
// in part the fields it left out, as described above.
func (j *Job) UnmarshalJSON(data []byte) error {
	type plain Job
	if err := json.Unmarshal(data, (*plain)(j)); err != nil {
		return err
	}
	var shape jobShape
	if err := json.Unmarshal(data, &shape); err != nil {
		// The job decoded; a shape it does not have (a block sent as
		// something other than an object) leaves nothing to merge.
		return nil
	}
	j.fillAbsent(&shape)
	return nil
}

func (j *Job) fillAbsent(shape *jobShape) {
	jobType := j.Type
	if jobType == "" {
		jobType = JobTypeService
	}
	if j.Update != nil {
		fillAbsent(j.Update, DefaultUpdateStrategy(), shape.Update)
	}
	for i, tg := range j.TaskGroups {
		if tg == nil || i >= len(shape.TaskGroups) {
			continue
		}
		gs := &shape.TaskGroups[i]
		if tg.Update != nil {
			base := DefaultUpdateStrategy()
			if j.Update != nil {
				base = j.Update
			}
			fillAbsent(tg.Update, base, gs.Update)
		}
		if tg.RestartPolicy != nil {
			fillAbsent(tg.RestartPolicy, DefaultRestartPolicy(jobType), gs.RestartPolicy)
		}
		if tg.ReschedulePolicy != nil {
			if base := DefaultReschedulePolicy(jobType); base != nil {
				fillAbsent(tg.ReschedulePolicy, base, gs.ReschedulePolicy)
			}
		}
		if tg.Migrate != nil {
			fillAbsent(tg.Migrate, DefaultMigrateStrategy(), gs.Migrate)
		}
		if tg.EphemeralDisk != nil {
			fillAbsent(tg.EphemeralDisk, DefaultEphemeralDisk(), gs.EphemeralDisk)
		}
		for k, t := range tg.Tasks {
			if t == nil || k >= len(gs.Tasks) {
				continue
			}
			ts := &gs.Tasks[k]
			if t.RestartPolicy != nil {
				base := DefaultRestartPolicy(jobType)
				if tg.RestartPolicy != nil {
					base = tg.RestartPolicy
				}
				fillAbsent(t.RestartPolicy, base, ts.RestartPolicy)
			}
			if t.LogConfig != nil {
				fillAbsent(t.LogConfig, DefaultLogConfig(), ts.LogConfig)
			}
		}
	}
}

// fillAbsent copies into dst, from base, every field whose member is
// absent from (or null in) the JSON object sent. dst and base point to
// structs of one type whose JSON names are their field names.
func fillAbsent(dst, base interface{}, sent jsonKeys) {
	d, b := reflect.ValueOf(dst).Elem(), reflect.ValueOf(base).Elem()
	if d.Type() != b.Type() {
		return
	}
	for i := 0; i < d.NumField(); i++ {
		f := d.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		if raw, ok := sent[strings.ToLower(f.Name)]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		d.Field(i).Set(b.Field(i))
	}
}

// MarshalJSON adds to an allocation the two resource fields the
// compatible API still reports beside AllocatedResources, which the CLI's
// "alloc status" reads for its Task Resources table: Resources, the whole
// allocation's reservation (tasks' CPU and memory, the group's disk and
// network), and TaskResources, each task's own. Both are derived from
// AllocatedResources, so they are computed here rather than stored.
func (a *Allocation) MarshalJSON() ([]byte, error) {
	type plain Allocation
	total, tasks := a.legacyResources()
	return json.Marshal(struct {
		*plain
		Resources     *Resources
		TaskResources map[string]*Resources
	}{(*plain)(a), total, tasks})
}

func (a *Allocation) legacyResources() (*Resources, map[string]*Resources) {
	r := a.AllocatedResources
	if r == nil {
		return nil, nil
	}
	total := &Resources{DiskMB: int(r.Shared.DiskMB), Networks: append([]*NetworkResource(nil), r.Shared.Networks...)}
	tasks := make(map[string]*Resources, len(r.Tasks))
	for name, t := range r.Tasks {
		if t == nil {
			continue
		}
		tr := &Resources{CPU: int(t.Cpu.CpuShares), MemoryMB: int(t.Memory.MemoryMB),
			MemoryMaxMB: int(t.Memory.MemoryMaxMB), Networks: t.Networks}
		tasks[name] = tr
		total.CPU += tr.CPU
		total.MemoryMB += tr.MemoryMB
		total.MemoryMaxMB += tr.MemoryMaxMB
		total.Networks = append(total.Networks, t.Networks...)
	}
	return total, tasks
}

// MarshalJSON adds to a job the fields of the compatible API that belong
// to features Drover does not have (dispatched children, Consul and Vault
// namespaces, the submitting token), with the empty values the compatible
// server reports for a job that uses none of them, so a client that reads
// them finds them.
func (j *Job) MarshalJSON() ([]byte, error) {
	type plain Job
	return json.Marshal(struct {
		*plain
		ParentID                 string
		Dispatched               bool
		DispatchIdempotencyToken string
		ConsulNamespace          string
		VaultNamespace           string
		NomadTokenID             string
	}{plain: (*plain)(j)})
}
