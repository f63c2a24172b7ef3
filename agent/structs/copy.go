package structs

import (
	"maps"
	"reflect"
	"slices"
)

// Deep copies of the job tree, written out by hand: every pointer, slice
// and map is new, nil stays nil and empty stays empty, and nothing goes
// through the API's JSON (whose UnmarshalJSON fills defaults meant for
// user input). TestJobCopy fills every field by reflection, so a field
// added to one of these types without a line here fails it.

// Copy returns a deep copy of the job; nil for nil.
func (j *Job) Copy() *Job {
	if j == nil {
		return nil
	}
	c := *j
	c.Datacenters = slices.Clone(j.Datacenters)
	c.Constraints = copyEach(j.Constraints, copyPtr[Constraint])
	c.TaskGroups = copyEach(j.TaskGroups, (*TaskGroup).Copy)
	c.Update = copyPtr(j.Update)
	c.Periodic = copyPtr(j.Periodic)
	c.Meta = maps.Clone(j.Meta)
	return &c
}

// Copy returns a deep copy of the group; nil for nil.
func (tg *TaskGroup) Copy() *TaskGroup {
	if tg == nil {
		return nil
	}
	c := *tg
	c.Constraints = copyEach(tg.Constraints, copyPtr[Constraint])
	c.Tasks = copyEach(tg.Tasks, (*Task).Copy)
	c.RestartPolicy = copyPtr(tg.RestartPolicy)
	c.ReschedulePolicy = copyPtr(tg.ReschedulePolicy)
	c.EphemeralDisk = copyPtr(tg.EphemeralDisk)
	c.Update = copyPtr(tg.Update)
	c.Migrate = copyPtr(tg.Migrate)
	c.Networks = copyEach(tg.Networks, (*NetworkResource).Copy)
	c.Services = copyEach(tg.Services, (*Service).Copy)
	c.Meta = maps.Clone(tg.Meta)
	c.ShutdownDelay = copyPtr(tg.ShutdownDelay)
	return &c
}

// Copy returns a deep copy of the task, its driver config included; nil
// for nil.
func (t *Task) Copy() *Task {
	if t == nil {
		return nil
	}
	c := *t
	if t.Config != nil {
		c.Config = copyValue(t.Config).(map[string]interface{})
	}
	c.Constraints = copyEach(t.Constraints, copyPtr[Constraint])
	c.Env = maps.Clone(t.Env)
	c.Services = copyEach(t.Services, (*Service).Copy)
	c.Resources = t.Resources.Copy()
	c.RestartPolicy = copyPtr(t.RestartPolicy)
	c.Meta = maps.Clone(t.Meta)
	c.LogConfig = copyPtr(t.LogConfig)
	c.Artifacts = copyEach(t.Artifacts, (*TaskArtifact).Copy)
	c.Templates = copyEach(t.Templates, copyPtr[Template])
	return &c
}

// Copy returns a deep copy of the resources; nil for nil.
func (r *Resources) Copy() *Resources {
	if r == nil {
		return nil
	}
	c := *r
	c.Networks = copyEach(r.Networks, (*NetworkResource).Copy)
	return &c
}

// Copy returns a deep copy of the network; nil for nil.
func (n *NetworkResource) Copy() *NetworkResource {
	if n == nil {
		return nil
	}
	c := *n
	c.ReservedPorts = slices.Clone(n.ReservedPorts)
	c.DynamicPorts = slices.Clone(n.DynamicPorts)
	return &c
}

// Copy returns a deep copy of the service; nil for nil.
func (s *Service) Copy() *Service {
	if s == nil {
		return nil
	}
	c := *s
	c.Tags = slices.Clone(s.Tags)
	c.CanaryTags = slices.Clone(s.CanaryTags)
	if s.Checks != nil {
		c.Checks = make([]ServiceCheck, len(s.Checks))
		for i, ch := range s.Checks {
			ch.Args = slices.Clone(ch.Args)
			c.Checks[i] = ch
		}
	}
	c.Meta = maps.Clone(s.Meta)
	return &c
}

// Copy returns a deep copy of the artifact; nil for nil.
func (a *TaskArtifact) Copy() *TaskArtifact {
	if a == nil {
		return nil
	}
	c := *a
	c.GetterOptions = maps.Clone(a.GetterOptions)
	c.GetterHeaders = maps.Clone(a.GetterHeaders)
	return &c
}

// copyPtr copies the value p points to, for types without references.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// copyEach copies a slice of pointers with cp; nil stays nil.
func copyEach[T any](s []*T, cp func(*T) *T) []*T {
	if s == nil {
		return nil
	}
	out := make([]*T, len(s))
	for i, v := range s {
		out[i] = cp(v)
	}
	return out
}

// copyValue deep-copies a decoded driver config value. JSON and HCL give
// maps, slices and scalars; other kinds of maps, slices and pointers
// (from Go callers) are copied by reflection.
func copyValue(v interface{}) interface{} {
	switch v := v.(type) {
	case nil, string, bool, float64, int, int64, uint64:
		return v
	case map[string]interface{}:
		if v == nil {
			return v
		}
		out := make(map[string]interface{}, len(v))
		for k, e := range v {
			out[k] = copyValue(e)
		}
		return out
	case []interface{}:
		if v == nil {
			return v
		}
		out := make([]interface{}, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	}
	return copyReflect(reflect.ValueOf(v)).Interface()
}

func copyReflect(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), copyReflect(it.Value()))
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(copyReflect(v.Index(i)))
		}
		return out
	case reflect.Ptr:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(copyReflect(v.Elem()))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(reflect.ValueOf(copyValue(v.Elem().Interface())))
		return out
	}
	return v
}
