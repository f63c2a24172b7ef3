package structs

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Diff types: what happened to a job, group, task, object or field between
// the running version and the submitted one. The values are the strings the
// Nomad-compatible plan API sends.
const (
	DiffTypeNone    = "None"
	DiffTypeAdded   = "Added"
	DiffTypeDeleted = "Deleted"
	DiffTypeEdited  = "Edited"
)

// Task and field annotations, as "job plan" prints them.
const (
	annotationForcesCreate      = "forces create"
	annotationForcesDestroy     = "forces destroy"
	annotationForcesDestructive = "forces create/destroy update"
	annotationForcesInPlace     = "forces in-place update"
)

// JobDiff is the difference between two versions of a job, as returned by
// the plan endpoint. Its JSON form is the API's.
type JobDiff struct {
	Type       string
	ID         string
	Fields     []*FieldDiff
	Objects    []*ObjectDiff
	TaskGroups []*TaskGroupDiff
}

// TaskGroupDiff is the difference of one task group. Updates counts the
// scheduler's decisions by update type ("create", "in-place update", ...);
// AnnotateJobDiff fills it in.
type TaskGroupDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
	Tasks   []*TaskDiff
	Updates map[string]uint64
}

// TaskDiff is the difference of one task. Annotations say what the change
// does to running allocations ("forces in-place update", ...).
type TaskDiff struct {
	Type        string
	Name        string
	Fields      []*FieldDiff
	Objects     []*ObjectDiff
	Annotations []string
}

// FieldDiff is the difference of one primitive value, rendered as strings
// the way the API renders them (durations as integer nanoseconds). Map
// entries are fields too, named "Meta[key]".
type FieldDiff struct {
	Type        string
	Name        string
	Old, New    string
	Annotations []string
}

// ObjectDiff is the difference of a nested block such as Config, Resources
// or a Service. It is contextual: once anything in it changed, every field
// is listed, unchanged ones with Type None, so the reader sees which object
// changed and not just a lone value.
type ObjectDiff struct {
	Type    string
	Name    string
	Fields  []*FieldDiff
	Objects []*ObjectDiff
}

// serverOwnedJobFields are set by the server, not the job file; comparing
// them would report every resubmission as an edit.
var serverOwnedJobFields = []string{
	"Status", "StatusDescription", "Stable", "Version", "SubmitTime",
	"CreateIndex", "ModifyIndex", "JobModifyIndex",
}

// Diff compares j (the running version, nil for a job that does not exist
// yet) with other (the submitted version, nil for a job being deleted).
// Only changed primitive fields of the job, its groups and its tasks are
// listed unless contextual is set, in which case unchanged fields and
// objects appear too, with Type None. The plan endpoint passes false: that
// is the diff Nomad-compatible clients print. Tasks are annotated with the
// kind of update their change forces; the scheduler's counts are added
// afterwards by AnnotateJobDiff.
func (j *Job) Diff(other *Job, contextual bool) (*JobDiff, error) {
	if j != nil && other != nil && j.ID != other.ID {
		return nil, fmt.Errorf("cannot diff jobs with different IDs: %q and %q", j.ID, other.ID)
	}
	diff := &JobDiff{Type: presence(j != nil, other != nil)}
	if j == nil && other == nil {
		return diff, nil
	}
	skip := append([]string{"Datacenters"}, serverOwnedJobFields...)
	oldFlat, newFlat := flatten(j, skip...), flatten(other, skip...)
	// From here on a missing side is an empty job, so the comparisons
	// below need no nil checks; the flat maps above already record it
	// as absent.
	if j == nil {
		j = &Job{}
	}
	if other == nil {
		other = &Job{}
	}
	diff.ID = other.ID
	if diff.ID == "" {
		diff.ID = j.ID
	}

	diff.Fields = fieldDiffs(oldFlat, newFlat, contextual)
	diff.Objects = nonNil(
		stringSetDiff("Datacenters", j.Datacenters, other.Datacenters, contextual),
		primitiveObjectDiff("Periodic", j.Periodic, other.Periodic, contextual),
	)
	// The job-level update block is left out on purpose: Canonicalize
	// copies it into every group, where it is compared.
	diff.Objects = append(diff.Objects, setDiff("Constraint", j.Constraints, other.Constraints, contextual)...)
	sortObjects(diff.Objects)

	for _, p := range pair(j.TaskGroups, other.TaskGroups, func(_ int, tg *TaskGroup) string { return tg.Name }) {
		diff.TaskGroups = append(diff.TaskGroups, taskGroupDiff(p.old, p.new, contextual))
	}
	sort.SliceStable(diff.TaskGroups, func(a, b int) bool { return diff.TaskGroups[a].Name < diff.TaskGroups[b].Name })

	if diff.Type == DiffTypeNone {
		edited := changed(diff.Fields, diff.Objects)
		for _, tg := range diff.TaskGroups {
			edited = edited || tg.Type != DiffTypeNone
		}
		if edited {
			diff.Type = DiffTypeEdited
		}
	}
	return diff, nil
}

func taskGroupDiff(old, new *TaskGroup, contextual bool) *TaskGroupDiff {
	diff := &TaskGroupDiff{Type: presence(old != nil, new != nil)}
	oldFlat, newFlat := flatten(old), flatten(new)
	if old == nil {
		old = &TaskGroup{}
	}
	if new == nil {
		new = &TaskGroup{}
	}
	diff.Name = new.Name
	if diff.Name == "" {
		diff.Name = old.Name
	}

	diff.Fields = fieldDiffs(oldFlat, newFlat, contextual)
	diff.Objects = nonNil(
		primitiveObjectDiff("RestartPolicy", old.RestartPolicy, new.RestartPolicy, contextual),
		primitiveObjectDiff("ReschedulePolicy", old.ReschedulePolicy, new.ReschedulePolicy, contextual),
		primitiveObjectDiff("EphemeralDisk", old.EphemeralDisk, new.EphemeralDisk, contextual),
		primitiveObjectDiff("Update", old.Update, new.Update, contextual),
		primitiveObjectDiff("Migrate", old.Migrate, new.Migrate, contextual),
	)
	diff.Objects = append(diff.Objects, networkDiffs(old.Networks, new.Networks, contextual)...)
	diff.Objects = append(diff.Objects, serviceDiffs(old.Services, new.Services, contextual)...)
	diff.Objects = append(diff.Objects, setDiff("Constraint", old.Constraints, new.Constraints, contextual)...)
	sortObjects(diff.Objects)

	// Every task is listed, unchanged ones too: the plan output names
	// them under their group.
	for _, p := range pair(old.Tasks, new.Tasks, func(_ int, t *Task) string { return t.Name }) {
		diff.Tasks = append(diff.Tasks, taskDiff(p.old, p.new, contextual))
	}
	sort.SliceStable(diff.Tasks, func(a, b int) bool { return diff.Tasks[a].Name < diff.Tasks[b].Name })

	if diff.Type == DiffTypeNone {
		edited := changed(diff.Fields, diff.Objects)
		for _, t := range diff.Tasks {
			edited = edited || t.Type != DiffTypeNone
		}
		if edited {
			diff.Type = DiffTypeEdited
		}
	}
	for _, t := range diff.Tasks {
		t.Annotations = taskAnnotations(t, diff.Type)
	}
	return diff
}

func taskDiff(old, new *Task, contextual bool) *TaskDiff {
	diff := &TaskDiff{Type: presence(old != nil, new != nil)}
	// Config is not a primitive map, so flatten leaves it to configDiff.
	oldFlat, newFlat := flatten(old), flatten(new)
	if old == nil {
		old = &Task{}
	}
	if new == nil {
		new = &Task{}
	}
	diff.Name = new.Name
	if diff.Name == "" {
		diff.Name = old.Name
	}

	diff.Fields = fieldDiffs(oldFlat, newFlat, contextual)
	diff.Objects = nonNil(
		configDiff(old.Config, new.Config, contextual),
		resourcesDiff(old.Resources, new.Resources, contextual),
		primitiveObjectDiff("LogConfig", old.LogConfig, new.LogConfig, contextual),
		primitiveObjectDiff("RestartPolicy", old.RestartPolicy, new.RestartPolicy, contextual),
	)
	diff.Objects = append(diff.Objects, serviceDiffs(old.Services, new.Services, contextual)...)
	// Two templates cannot render to the same file, so the destination
	// identifies a template across versions.
	diff.Objects = append(diff.Objects, objectListDiff(old.Templates, new.Templates,
		func(_ int, t *Template) string { return t.DestPath },
		func(o, n *Template, contextual bool) *ObjectDiff {
			return primitiveObjectDiff("Template", o, n, contextual)
		}, contextual)...)
	diff.Objects = append(diff.Objects, setDiff("Artifact", old.Artifacts, new.Artifacts, contextual)...)
	diff.Objects = append(diff.Objects, setDiff("Constraint", old.Constraints, new.Constraints, contextual)...)
	sortObjects(diff.Objects)

	if diff.Type == DiffTypeNone && changed(diff.Fields, diff.Objects) {
		diff.Type = DiffTypeEdited
	}
	return diff
}

// taskAnnotations says what a task's change does to its running
// allocations. It only reads the diff, so it is a preview: the scheduler
// makes the real decision.
func taskAnnotations(t *TaskDiff, groupType string) []string {
	switch {
	case t.Type == DiffTypeNone:
		return nil
	case t.Type == DiffTypeAdded && groupType == DiffTypeAdded:
		return []string{annotationForcesCreate}
	case t.Type == DiffTypeDeleted && groupType == DiffTypeDeleted:
		return []string{annotationForcesDestroy}
	case destructiveTaskChange(t):
		return []string{annotationForcesDestructive}
	}
	return []string{annotationForcesInPlace}
}

// destructiveTaskChange reports whether a task changed in a way a running
// task cannot absorb. Timing of the shutdown, service registrations,
// placement constraints, the restart policy and log rotation limits are
// applied in place; anything else needs a new allocation.
func destructiveTaskChange(t *TaskDiff) bool {
	for _, f := range t.Fields {
		if f.Type == DiffTypeNone {
			continue
		}
		switch f.Name {
		case "KillTimeout", "ShutdownDelay":
		default:
			return true
		}
	}
	for _, o := range t.Objects {
		if o.Type == DiffTypeNone {
			continue
		}
		switch o.Name {
		case "Service", "Constraint", "RestartPolicy":
		case "LogConfig":
			// Turning log collection on or off changes how the task
			// is started; rotation limits do not.
			for _, f := range o.Fields {
				if f.Name == "Disabled" && f.Type != DiffTypeNone {
					return true
				}
			}
		default:
			return true
		}
	}
	return false
}

// AnnotateJobDiff adds the scheduler's decisions, keyed by group name, to a
// job diff: each group's Updates counts and, on an edited Count, whether it
// creates or destroys allocations. It is separate from Diff because only
// the scheduler knows the counts.
func AnnotateJobDiff(jd *JobDiff, updates map[string]*DesiredUpdates) {
	if jd == nil {
		return
	}
	for _, tg := range jd.TaskGroups {
		tg.Updates = updateCounts(updates[tg.Name])
		for _, f := range tg.Fields {
			if f.Name == "Count" {
				annotateCount(f)
			}
		}
	}
}

func updateCounts(u *DesiredUpdates) map[string]uint64 {
	if u == nil {
		return nil
	}
	counts := map[string]uint64{}
	for name, n := range map[string]uint64{
		"ignore":                u.Ignore,
		"create":                u.Place,
		"destroy":               u.Stop,
		"migrate":               u.Migrate,
		"canary":                u.Canary,
		"in-place update":       u.InPlaceUpdate,
		"create/destroy update": u.DestructiveUpdate,
	} {
		if n > 0 {
			counts[name] = n
		}
	}
	if len(counts) == 0 {
		return nil
	}
	return counts
}

func annotateCount(f *FieldDiff) {
	if f.Type == DiffTypeNone {
		return
	}
	// An absent side (a group being added or removed) counts as zero.
	oldN, _ := strconv.ParseInt(f.Old, 10, 64)
	newN, _ := strconv.ParseInt(f.New, 10, 64)
	var ann string
	switch {
	case newN > oldN:
		ann = annotationForcesCreate
	case newN < oldN:
		ann = annotationForcesDestroy
	default:
		return
	}
	for _, a := range f.Annotations {
		if a == ann {
			return
		}
	}
	f.Annotations = append(f.Annotations, ann)
}

// presence is the diff type implied by which sides exist; None means both
// do and the contents decide.
func presence(oldOK, newOK bool) string {
	switch {
	case oldOK && !newOK:
		return DiffTypeDeleted
	case !oldOK && newOK:
		return DiffTypeAdded
	}
	return DiffTypeNone
}

// changed reports whether any field or object in a block differs.
func changed(fields []*FieldDiff, objects []*ObjectDiff) bool {
	for _, f := range fields {
		if f.Type != DiffTypeNone {
			return true
		}
	}
	for _, o := range objects {
		if o.Type != DiffTypeNone {
			return true
		}
	}
	return false
}

// fieldDiffs compares two flattened values, sorted by name. An empty string
// means absent, so a value set for the first time reads as Added.
func fieldDiffs(old, new map[string]string, contextual bool) []*FieldDiff {
	names := make([]string, 0, len(old)+len(new))
	for k := range old {
		names = append(names, k)
	}
	for k := range new {
		if _, ok := old[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)

	var diffs []*FieldDiff
	for _, name := range names {
		o, n := old[name], new[name]
		d := &FieldDiff{Name: name}
		switch {
		case o == n:
			if !contextual {
				continue
			}
			d.Type, d.Old, d.New = DiffTypeNone, o, n
		case o == "":
			d.Type, d.New = DiffTypeAdded, n
		case n == "":
			d.Type, d.Old = DiffTypeDeleted, o
		default:
			d.Type, d.Old, d.New = DiffTypeEdited, o, n
		}
		diffs = append(diffs, d)
	}
	return diffs
}

// objectDiff builds the diff of one nested object from its flattened
// fields and its own nested objects' diffs. It is nil for an unchanged
// object unless contextual is set.
func objectDiff(name string, oldOK, newOK bool, old, new map[string]string, children []*ObjectDiff, contextual bool) *ObjectDiff {
	if !oldOK && !newOK {
		return nil
	}
	diff := &ObjectDiff{
		Type:    presence(oldOK, newOK),
		Name:    name,
		Fields:  fieldDiffs(old, new, true),
		Objects: children,
	}
	if diff.Type == DiffTypeNone {
		if changed(diff.Fields, diff.Objects) {
			diff.Type = DiffTypeEdited
		} else if !contextual {
			return nil
		}
	}
	sortObjects(diff.Objects)
	return diff
}

// primitiveObjectDiff diffs an object made only of primitive fields (and
// string maps), given as pointers of which either may be nil.
func primitiveObjectDiff[T any](name string, old, new *T, contextual bool, skip ...string) *ObjectDiff {
	return objectDiff(name, old != nil, new != nil, flatten(old, skip...), flatten(new, skip...), nil, contextual)
}

func configDiff(old, new map[string]interface{}, contextual bool) *ObjectDiff {
	// A nil config and an empty one mean the same to a driver.
	return objectDiff("Config", len(old) > 0, len(new) > 0, flattenConfig(old), flattenConfig(new), nil, contextual)
}

func resourcesDiff(old, new *Resources, contextual bool) *ObjectDiff {
	var oldNets, newNets []*NetworkResource
	if old != nil {
		oldNets = old.Networks
	}
	if new != nil {
		newNets = new.Networks
	}
	return objectDiff("Resources", old != nil, new != nil, flatten(old), flatten(new),
		networkDiffs(oldNets, newNets, contextual), contextual)
}

// networkDiffs pairs networks by position: a job rarely has more than one,
// and pairing lets an edited port show as an edit rather than as a whole
// network removed and another added.
func networkDiffs(old, new []*NetworkResource, contextual bool) []*ObjectDiff {
	return objectListDiff(old, new, func(i int, _ *NetworkResource) string { return strconv.Itoa(i) },
		networkDiff, contextual)
}

func networkDiff(old, new *NetworkResource, contextual bool) *ObjectDiff {
	var oldN, newN NetworkResource
	if old != nil {
		oldN = *old
	}
	if new != nil {
		newN = *new
	}
	byLabel := func(_ int, p *Port) string { return p.Label }
	staticDiff := func(o, n *Port, contextual bool) *ObjectDiff {
		return primitiveObjectDiff("Static Port", o, n, contextual)
	}
	// A dynamic port's value is picked by the scheduler per allocation;
	// it is not part of what the user asked for.
	dynamicDiff := func(o, n *Port, contextual bool) *ObjectDiff {
		return primitiveObjectDiff("Dynamic Port", o, n, contextual, "Value")
	}
	ports := append(
		objectListDiff(ptrs(oldN.ReservedPorts), ptrs(newN.ReservedPorts), byLabel, staticDiff, contextual),
		objectListDiff(ptrs(oldN.DynamicPorts), ptrs(newN.DynamicPorts), byLabel, dynamicDiff, contextual)...)
	// Device, CIDR and IP describe an allocation's network, which the
	// scheduler fills in; a job never sets them.
	skip := []string{"Device", "CIDR", "IP"}
	return objectDiff("Network", old != nil, new != nil, flatten(old, skip...), flatten(new, skip...), ports, contextual)
}

// serviceDiffs pairs services by name, which is how they are registered.
func serviceDiffs(old, new []*Service, contextual bool) []*ObjectDiff {
	return objectListDiff(old, new, func(_ int, s *Service) string { return s.Name }, serviceDiff, contextual)
}

func serviceDiff(old, new *Service, contextual bool) *ObjectDiff {
	var oldS, newS Service
	if old != nil {
		oldS = *old
	}
	if new != nil {
		newS = *new
	}
	children := nonNil(
		stringSetDiff("Tags", oldS.Tags, newS.Tags, contextual),
		stringSetDiff("CanaryTags", oldS.CanaryTags, newS.CanaryTags, contextual),
	)
	children = append(children, objectListDiff(ptrs(oldS.Checks), ptrs(newS.Checks),
		func(_ int, c *ServiceCheck) string { return c.Name },
		func(o, n *ServiceCheck, contextual bool) *ObjectDiff {
			return primitiveObjectDiff("Check", o, n, contextual)
		}, contextual)...)
	// Tags are a set, so they are diffed as one rather than by index.
	skip := []string{"Tags", "CanaryTags"}
	return objectDiff("Service", old != nil, new != nil, flatten(old, skip...), flatten(new, skip...), children, contextual)
}

// stringSetDiff diffs an unordered list of strings (datacenters, tags) as
// an object whose fields are all called name, one per value.
func stringSetDiff(name string, old, new []string, contextual bool) *ObjectDiff {
	oldSet, newSet := map[string]bool{}, map[string]bool{}
	for _, v := range old {
		oldSet[v] = true
	}
	for _, v := range new {
		newSet[v] = true
	}
	values := make([]string, 0, len(oldSet)+len(newSet))
	for v := range oldSet {
		values = append(values, v)
	}
	for v := range newSet {
		if !oldSet[v] {
			values = append(values, v)
		}
	}
	sort.Strings(values)

	if len(values) == 0 {
		return nil
	}
	diff := &ObjectDiff{Type: presence(len(oldSet) > 0, len(newSet) > 0), Name: name}
	for _, v := range values {
		f := &FieldDiff{Name: name, Type: DiffTypeNone, Old: v, New: v}
		switch {
		case !newSet[v]:
			f.Type, f.New = DiffTypeDeleted, ""
		case !oldSet[v]:
			f.Type, f.Old = DiffTypeAdded, ""
		}
		diff.Fields = append(diff.Fields, f)
	}
	if diff.Type == DiffTypeNone {
		if changed(diff.Fields, nil) {
			diff.Type = DiffTypeEdited
		} else if !contextual {
			return nil
		}
	}
	return diff
}

// setDiff diffs a list of primitive objects that have no identity besides
// their contents (constraints, artifacts): an element either is in both
// versions or is deleted from one and added to the other.
func setDiff[T any](name string, old, new []*T, contextual bool) []*ObjectDiff {
	return objectListDiff(old, new, func(_ int, v *T) string { return flatKey(flatten(v)) },
		func(o, n *T, contextual bool) *ObjectDiff { return primitiveObjectDiff(name, o, n, contextual) },
		contextual)
}

// objectListDiff pairs the elements of two lists by key and diffs each pair.
func objectListDiff[T any](old, new []*T, key func(int, *T) string,
	diff func(old, new *T, contextual bool) *ObjectDiff, contextual bool) []*ObjectDiff {
	var diffs []*ObjectDiff
	for _, p := range pair(old, new, key) {
		if d := diff(p.old, p.new, contextual); d != nil {
			diffs = append(diffs, d)
		}
	}
	return diffs
}

// matched is one element in its old and new version; a side is nil when
// the element exists only in the other.
type matched[T any] struct{ old, new *T }

// pair matches old and new elements by key: first every old element (with
// its new version, if any) in old order, then the new elements that had no
// old version. A key repeated within one list pairs up by occurrence, so
// no element is ever lost. Nil elements are ignored.
func pair[T any](old, new []*T, key func(int, *T) string) []matched[T] {
	keys := func(list []*T) []string {
		seen := map[string]int{}
		out := make([]string, len(list))
		for i, v := range list {
			if v == nil {
				continue
			}
			k := key(i, v)
			out[i] = k + "\x00" + strconv.Itoa(seen[k])
			seen[k]++
		}
		return out
	}
	oldKeys, newKeys := keys(old), keys(new)
	newByKey := map[string]*T{}
	for i, v := range new {
		if v != nil {
			newByKey[newKeys[i]] = v
		}
	}
	var out []matched[T]
	used := map[string]bool{}
	for i, v := range old {
		if v == nil {
			continue
		}
		out = append(out, matched[T]{old: v, new: newByKey[oldKeys[i]]})
		used[oldKeys[i]] = true
	}
	for i, v := range new {
		if v != nil && !used[newKeys[i]] {
			out = append(out, matched[T]{new: v})
		}
	}
	return out
}

func ptrs[T any](list []T) []*T {
	out := make([]*T, len(list))
	for i := range list {
		out[i] = &list[i]
	}
	return out
}

func nonNil(diffs ...*ObjectDiff) []*ObjectDiff {
	var out []*ObjectDiff
	for _, d := range diffs {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

// sortObjects orders objects by name. The sort is stable so that objects
// of the same kind keep the order of the job file.
func sortObjects(objects []*ObjectDiff) {
	sort.SliceStable(objects, func(a, b int) bool { return objects[a].Name < objects[b].Name })
}

// flatKey renders a flattened object as a single comparable string.
func flatKey(flat map[string]string) string {
	names := make([]string, 0, len(flat))
	for k := range flat {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k + "=" + flat[k] + "\x00")
	}
	return b.String()
}

// flatten renders the primitive fields of a struct, or of the struct a
// pointer points to, by field name: strings as they are, numbers in
// decimal (a time.Duration is its integer nanoseconds, as in the API),
// booleans as "true"/"false". A pointer to a primitive is its value when
// set. A string map gives one field per key, "Meta[key]", and a string
// list one per index, "Args[0]". Other fields (nested structs, lists of
// structs, interface maps) are left out for the caller to diff as
// objects, as are the fields named in skip. A nil pointer gives nil.
//
// Reflection keeps a field added to the model from being silently left
// out of the diff.
func flatten(v any, skip ...string) map[string]string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]string{}
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		if !sf.IsExported() || contains(skip, sf.Name) {
			continue
		}
		fv := rv.Field(i)
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		if s, ok := primitiveString(fv); ok {
			out[sf.Name] = s
			continue
		}
		switch {
		case fv.Kind() == reflect.Map && fv.Type().Key().Kind() == reflect.String && fv.Type().Elem().Kind() == reflect.String:
			for _, k := range fv.MapKeys() {
				out[sf.Name+"["+k.String()+"]"] = fv.MapIndex(k).String()
			}
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			for j := 0; j < fv.Len(); j++ {
				out[sf.Name+"["+strconv.Itoa(j)+"]"] = fv.Index(j).String()
			}
		}
	}
	return out
}

func primitiveString(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10), true
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64), true
	}
	return "", false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// flattenConfig renders a driver config (decoded JSON or HCL) as fields:
// list elements by index and map entries by key, nested as deep as they
// go, so port_map { db = 6379 } becomes "port_map[0][db]" = "6379".
func flattenConfig(config map[string]interface{}) map[string]string {
	if len(config) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range config {
		flattenValue(out, k, v)
	}
	return out
}

func flattenValue(out map[string]string, name string, v interface{}) {
	switch v := v.(type) {
	case nil:
	case map[string]interface{}:
		for k, e := range v {
			flattenValue(out, name+"["+k+"]", e)
		}
	case []interface{}:
		for i, e := range v {
			flattenValue(out, name+"["+strconv.Itoa(i)+"]", e)
		}
	case []map[string]interface{}:
		for i, e := range v {
			flattenValue(out, name+"["+strconv.Itoa(i)+"]", e)
		}
	case string:
		out[name] = v
	case bool:
		out[name] = strconv.FormatBool(v)
	case float64:
		// Decoded numbers are float64; 'f' with the shortest precision
		// prints a whole number without a decimal point.
		out[name] = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		out[name] = fmt.Sprint(v)
	}
}

// FormatJobDiff renders a job diff the way "job plan" prints it: one line
// per job, group and task, each with a marker ("+", "-", "+/-") saying
// what happened to it, and the changed fields and objects under whatever
// was edited. verbose also prints the fields of unedited jobs and groups
// and of added and deleted tasks.
func FormatJobDiff(jd *JobDiff, verbose bool) string {
	if jd == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%sJob: %q\n", marker(jd.Type), jd.ID)

	// Markers are padded to the longest one in a block so that the names
	// after them line up.
	nameWidth, markerWidth := widths(jd.Fields, jd.Objects)
	for _, tg := range jd.TaskGroups {
		markerWidth = max(markerWidth, len(marker(tg.Type)))
	}
	if jd.Type == DiffTypeEdited || verbose {
		writeBlock(&b, jd.Fields, jd.Objects, 0, markerWidth, nameWidth)
	}
	for _, tg := range jd.TaskGroups {
		writeTaskGroup(&b, tg, markerWidth-len(marker(tg.Type)), verbose)
	}
	return b.String()
}

func writeTaskGroup(b *strings.Builder, tg *TaskGroupDiff, pad int, verbose bool) {
	fmt.Fprintf(b, "%s%sTask Group: %q", marker(tg.Type), spaces(pad), tg.Name)
	var kinds []string
	for kind, n := range tg.Updates {
		if n > 0 {
			kinds = append(kinds, kind)
		}
	}
	if len(kinds) > 0 {
		sort.Strings(kinds)
		counts := make([]string, len(kinds))
		for i, kind := range kinds {
			counts[i] = fmt.Sprintf("%d %s", tg.Updates[kind], kind)
		}
		fmt.Fprintf(b, " (%s)", strings.Join(counts, ", "))
	}
	b.WriteByte('\n')

	nameWidth, markerWidth := widths(tg.Fields, tg.Objects)
	for _, t := range tg.Tasks {
		markerWidth = max(markerWidth, len(marker(t.Type)))
	}
	indent := pad + 2
	if tg.Type == DiffTypeEdited || verbose {
		writeBlock(b, tg.Fields, tg.Objects, indent, markerWidth, nameWidth)
	}
	for _, t := range tg.Tasks {
		writeTask(b, t, indent, markerWidth, verbose)
	}
}

func writeTask(b *strings.Builder, t *TaskDiff, indent, markerWidth int, verbose bool) {
	m := marker(t.Type)
	fmt.Fprintf(b, "%s%s%sTask: %q", spaces(indent), m, spaces(markerWidth-len(m)), t.Name)
	if len(t.Annotations) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(t.Annotations, ", "))
	}
	b.WriteByte('\n')
	if t.Type != DiffTypeEdited && !verbose {
		return
	}
	nameWidth, innerMarkerWidth := widths(t.Fields, t.Objects)
	writeBlock(b, t.Fields, t.Objects, indent+2, innerMarkerWidth, nameWidth)
}

// writeBlock writes the fields, then the objects, of one block.
func writeBlock(b *strings.Builder, fields []*FieldDiff, objects []*ObjectDiff, indent, markerWidth, nameWidth int) {
	for _, f := range fields {
		writeField(b, f, indent, markerWidth, nameWidth)
	}
	for _, o := range objects {
		writeObject(b, o, indent, markerWidth)
	}
}

func writeField(b *strings.Builder, f *FieldDiff, indent, markerWidth, nameWidth int) {
	m := marker(f.Type)
	fmt.Fprintf(b, "%s%s%s%s: %s", spaces(indent), m, spaces(markerWidth-len(m)), f.Name, spaces(nameWidth-len(f.Name)))
	switch f.Type {
	case DiffTypeDeleted:
		b.WriteString(strconv.Quote(f.Old))
	case DiffTypeEdited:
		fmt.Fprintf(b, "%s => %s", strconv.Quote(f.Old), strconv.Quote(f.New))
	default:
		b.WriteString(strconv.Quote(f.New))
	}
	if len(f.Annotations) > 0 {
		fmt.Fprintf(b, " (%s)", strings.Join(f.Annotations, ", "))
	}
	b.WriteByte('\n')
}

func writeObject(b *strings.Builder, o *ObjectDiff, indent, markerWidth int) {
	m := marker(o.Type)
	pad := markerWidth - len(m)
	fmt.Fprintf(b, "%s%s%s%s {\n", spaces(indent), m, spaces(pad), o.Name)
	nameWidth, innerMarkerWidth := widths(o.Fields, o.Objects)
	writeBlock(b, o.Fields, o.Objects, indent+pad+2, innerMarkerWidth, nameWidth)
	// The closing brace lines up with the object's name.
	fmt.Fprintf(b, "%s}\n", spaces(indent+len(m)+pad))
}

// widths returns the longest field name and the longest marker of a block.
func widths(fields []*FieldDiff, objects []*ObjectDiff) (name, mark int) {
	for _, f := range fields {
		name = max(name, len(f.Name))
		mark = max(mark, len(marker(f.Type)))
	}
	for _, o := range objects {
		mark = max(mark, len(marker(o.Type)))
	}
	return name, mark
}

func marker(diffType string) string {
	switch diffType {
	case DiffTypeAdded:
		return "+ "
	case DiffTypeDeleted:
		return "- "
	case DiffTypeEdited:
		return "+/- "
	}
	return ""
}

func spaces(n int) string { return strings.Repeat(" ", max(n, 0)) }
