package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The official CLI decodes every answer into the official API client's
// structs and prints what it finds there. These tests fetch the raw JSON
// of each endpoint the tutorial commands use and walk it against the
// struct the client decodes it into: every field of that struct must be
// in Drover's answer, unless it is listed in notServed below with the
// reason Drover leaves it out; and the fields the CLI prints from must
// be filled where the compatible server fills them.

// notServed lists, as "<struct>.<field>" of the official client's types,
// the fields Drover's answers leave out, each for a stated reason. A
// field missing from an answer and not listed here fails the test; a
// listed field that turns up is fine.
var notServed = map[string]string{
	// Features Drover does not have. The compatible server sends these
	// null, empty or false too whenever a job or node does not use them,
	// and an absent field decodes to exactly that.
	"Job.Affinities": noAffinity, "Task.Affinities": noAffinity, "TaskGroup.Affinities": noAffinity,
	"Job.Spreads": noAffinity, "TaskGroup.Spreads": noAffinity,
	"Job.Multiregion": "no multi-region deployments", "Job.UI": "no web UI description",
	"Job.VersionTag": "no tagged versions", "Job.Payload": noDispatch, "Job.ParameterizedJob": noDispatch,
	"Task.DispatchPayload": noDispatch,
	"Task.Vault":           noVault, "TaskEvent.VaultError": noVault,
	"Task.Consul": noConsul, "TaskGroup.Consul": noConsul,
	"Task.Identity": noIdentity, "Task.Identities": noIdentity, "Task.Secrets": "no secrets block", "Resources.SecretsMB": "no secrets block",
	"Task.CSIPluginConfig": noCSI, "Node.CSIControllerPlugins": noCSI, "Node.CSINodePlugins": noCSI,
	"Task.VolumeMounts": noVolumes, "TaskGroup.Volumes": noVolumes, "Node.HostVolumes": noVolumes, "Node.GCVolumesOnNodeGC": noVolumes,
	"Task.Lifecycle": "no prestart/poststart/poststop tasks", "Task.Kind": "no Connect sidecar tasks",
	"Task.Actions": "no job actions", "Task.Schedule": "no task schedules", "Task.ScalingPolicies": noScaling,
	"TaskGroup.Scaling":    noScaling,
	"TaskGroup.Disconnect": noDisconnect, "TaskGroup.MaxClientDisconnect": noDisconnect,
	"TaskGroup.StopAfterClientDisconnect": noDisconnect, "TaskGroup.PreventRescheduleOnLost": noDisconnect,
	"DesiredUpdates.Disconnect": noDisconnect, "DesiredUpdates.Reconnect": noDisconnect,
	"TaskGroup.MaxRunDuration": "no group run-time limit",
	"Resources.Devices":        noDevices, "AllocatedTaskResources.Devices": noDevices, "NodeResources.Devices": noDevices,
	"HostStats.DeviceStats": noDevices, "ResourceUsage.DeviceStats": noDevices,
	"Resources.NUMA": "no NUMA-aware scheduling", "NodeCpuResources.ReservableCpuCores": "no reserved cores",
	"NetworkResource.CNI": noCNI, "NetworkResource.DNS": noCNI, "Allocation.NetworkStatus": noCNI, "Node.HostNetworks": noCNI,
	"Port.IgnoreCollision":            "no ignore_collision ports",
	"Allocation.PreemptedAllocations": noPreemption, "Allocation.PreemptedByAllocation": noPreemption,
	"AllocationListStub.PreemptedAllocations": noPreemption, "AllocationListStub.PreemptedByAllocation": noPreemption,
	"Allocation.Services":          "no service registrations in the allocation (no nomad service provider)",
	"Evaluation.QuotaLimitReached": "no quotas (an Enterprise feature)",
	"Node.Links":                   "no links to external node inventories", "Node.CgroupParent": "no cgroup parent setting",
	"Node.NodeMaxAllocs":                        "no per-node allocation limit; absent decodes to 0, unlimited, as Nomad reports it",
	"DesiredTransition.MigrateDisablePlacement": "no drain that stops without replacing",

	// Fields a job sends but a compatible server does not answer with:
	// it merges them into the groups (as Drover does) and drops them.
	"Job.Reschedule": mergedIntoGroups, "Job.Migrate": mergedIntoGroups,

	// Deprecated fields the compatible server no longer fills; the CLI
	// reads their successors, which Drover fills.
	"Node.Resources": "deprecated; the CLI reads NodeResources", "Node.Reserved": "deprecated; the CLI reads ReservedResources",
	"LogConfig.Enabled":       "deprecated; the server reports Disabled",
	"AllocationMetric.Scores": "deprecated; the CLI reads ScoreMetaData",
	"TaskEvent.DiskLimit":     oldEventFields, "TaskEvent.DiskSize": oldEventFields, "TaskEvent.DownloadError": oldEventFields,
	"TaskEvent.FailedSibling": oldEventFields, "TaskEvent.GenericSource": oldEventFields, "TaskEvent.KillReason": oldEventFields,
	"TaskEvent.SetupError": oldEventFields, "TaskEvent.ValidationError": oldEventFields,

	// The client fills these from the answer's headers, not its body.
	"JobRegisterResponse.LastIndex": fromHeaders, "JobRegisterResponse.RequestTime": fromHeaders,
	"JobDeregisterResponse.LastIndex": fromHeaders, "JobDeregisterResponse.RequestTime": fromHeaders,
	"NodeDrainUpdateResponse.LastIndex": fromHeaders, "NodeDrainUpdateResponse.RequestTime": fromHeaders,
	"SearchResponse.LastIndex": fromHeaders, "SearchResponse.RequestTime": fromHeaders,
	"FuzzySearchResponse.LastIndex": fromHeaders, "FuzzySearchResponse.RequestTime": fromHeaders,

	// Filled by the compatible server only when asked for, or in cases
	// Drover reports in other fields.
	"NodeListStub.Attributes":             "only with ?os=true, which the tutorial commands do not send",
	"NodeListStub.NodeResources":          "only with ?resources=true, which the tutorial commands do not send",
	"NodeListStub.ReservedResources":      "only with ?resources=true, which the tutorial commands do not send",
	"AllocationMetric.ResourcesExhausted": "Drover reports exhaustion per dimension (DimensionExhausted), which the CLI prints",
	"MemoryStats.KernelUsage":             "kernel memory is not measured; the CLI prints RSS and Usage",
	"MemoryStats.KernelMaxUsage":          "kernel memory is not measured; the CLI prints RSS and Usage",
	"Evaluation.AnnotatePlan":             "an internal flag of plan evaluations, false in answers",
	"Evaluation.MissingNonNodeResources":  "no non-node resources (CSI volumes) to wait for",
	"DesiredUpdates.RescheduleNow":        "Drover counts rescheduled placements under Place",
	"DesiredUpdates.RescheduleLater":      "Drover counts rescheduled placements under Place",
}

const (
	noAffinity       = "no affinity or spread scheduling"
	noDispatch       = "no parameterized jobs or dispatch"
	noVault          = "no Vault integration"
	noConsul         = "no Consul integration"
	noIdentity       = "no workload identities"
	noCSI            = "no CSI plugins"
	noVolumes        = "no host or CSI volumes"
	noScaling        = "no autoscaling policies"
	noDisconnect     = "no disconnected-client handling"
	noDevices        = "no device plugins"
	noCNI            = "no CNI or bridge networking"
	noPreemption     = "no preemption"
	mergedIntoGroups = "merged into every group's block, then dropped, as the compatible server does"
	oldEventFields   = "deprecated event details; the CLI prints DisplayMessage, which Drover fills"
	fromHeaders      = "set by the client from the response headers (X-Nomad-Index) and its own clock"
)

// missingFields walks a decoded JSON value against the Go type the
// official client decodes it into and returns "<struct>.<field>" for each
// field absent from an object. Keys match case-insensitively, as
// encoding/json matches them.
func missingFields(t reflect.Type, v interface{}, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil || isLeaf(t) {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if items, ok := v.([]interface{}); ok {
			for _, item := range items {
				missingFields(t.Elem(), item, out)
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]interface{}); ok {
			for _, item := range m {
				missingFields(t.Elem(), item, out)
			}
		}
	case reflect.Struct:
		obj, ok := v.(map[string]interface{})
		if !ok {
			return
		}
		lower := make(map[string]interface{}, len(obj))
		for k, val := range obj {
			lower[strings.ToLower(k)] = val
		}
		structFields(t, func(name string, ft reflect.Type) {
			val, ok := lower[strings.ToLower(name)]
			if !ok {
				out[t.Name()+"."+name] = true
				return
			}
			missingFields(ft, val, out)
		})
	}
}

// structFields calls fn with the JSON name and type of each field
// encoding/json decodes into t, embedded structs' fields included.
func structFields(t reflect.Type, fn func(name string, ft reflect.Type)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag := f.Tag.Get("json"); tag != "" {
			n, opts, _ := strings.Cut(tag, ",")
			// omitempty fields are absent from the compatible server's
			// answers too whenever they are empty.
			if tag == "-" || strings.Contains(opts, "omitempty") {
				continue
			}
			if n != "" {
				name = n
			}
		}
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			structFields(f.Type, fn)
			continue
		}
		fn(name, f.Type)
	}
}

var (
	timeType        = reflect.TypeOf(time.Time{})
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// isLeaf tells whether a type is decoded as a whole (times, types with
// their own decoding, interfaces) rather than field by field.
func isLeaf(t reflect.Type) bool {
	return t == timeType || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType)
}

// endpointCheck is one endpoint as the CLI calls it, and the type it
// decodes the answer into.
type endpointCheck struct {
	method, path, body string
	into               interface{}
}

func rawJSON(t *testing.T, a *Agent, e endpointCheck) interface{} {
	t.Helper()
	req, err := http.NewRequest(e.method, "http://"+a.HTTPAddr()+e.path, strings.NewReader(e.body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", e.method, e.path, resp.StatusCode, b)
	}
	var v interface{}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %v", e.method, e.path, err)
	}
	// The official client must decode it too.
	if err := json.Unmarshal(b, e.into); err != nil {
		t.Fatalf("%s %s: the official client's %T does not decode it: %v", e.method, e.path, e.into, err)
	}
	return v
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tutorialJob is the getting-started job as the official CLI sends it
// after parsing the file itself: blocks given in part, unset fields null.
func tutorialJob() *api.Job {
	job := &api.Job{ID: ptr("example"), Name: ptr("example"), Datacenters: []string{"dc1"},
		Update: &api.UpdateStrategy{MaxParallel: ptr(1), MinHealthyTime: ptr(time.Second), HealthyDeadline: ptr(time.Minute)},
		TaskGroups: []*api.TaskGroup{{Name: ptr("cache"),
			Networks: []*api.NetworkResource{{DynamicPorts: []api.Port{{Label: "db", To: 6379}}}},
			Tasks: []*api.Task{{Name: "redis", Driver: "raw_exec",
				Config:    map[string]interface{}{"command": "/bin/sh", "args": []string{"-c", "echo ready; echo warming >&2; exec sleep 600"}},
				Resources: &api.Resources{CPU: ptr(500), MemoryMB: ptr(256)}}}}}}
	return job
}

func TestOfficialClientFields_TutorialEndpoints(t *testing.T) {
	a := startAgent(t, "fields", serverClientRawExec)
	c := apiClient(t, a)
	waitFor(t, 20*time.Second, "the node", func() (bool, string) {
		nodes, _, err := c.Nodes().List(nil)
		return err == nil && len(nodes) == 1 && nodes[0].Status == "ready", "not ready"
	})
	reg, _, err := c.Jobs().Register(tutorialJob(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var dep *api.Deployment
	waitFor(t, 60*time.Second, "a successful deployment", func() (bool, string) {
		dep, _, err = c.Jobs().LatestDeployment("example", nil)
		if err != nil || dep == nil {
			return false, "no deployment yet"
		}
		return dep.Status == "successful", dep.Status
	})
	allocs, _, err := c.Jobs().Allocations("example", false, nil)
	if err != nil || len(allocs) != 1 {
		t.Fatalf("allocations: %v %v", err, allocs)
	}
	allocID, nodeID := allocs[0].ID, allocs[0].NodeID

	checks := []endpointCheck{
		{"PUT", "/v1/job/example/plan", mustJSONBody(t, &api.JobPlanRequest{Job: tutorialJob(), Diff: true}), &api.JobPlanResponse{}},
		{"PUT", "/v1/search", `{"Prefix":"example","Context":"all"}`, &api.SearchResponse{}},
		{"PUT", "/v1/search/fuzzy", `{"Text":"exam","Context":"all"}`, &api.FuzzySearchResponse{}},
		{"GET", "/v1/jobs?prefix=ex", "", &[]*api.JobListStub{}},
		{"GET", "/v1/job/example", "", &api.Job{}},
		{"GET", "/v1/job/example/summary", "", &api.JobSummary{}},
		{"GET", "/v1/job/example/allocations", "", &[]*api.AllocationListStub{}},
		{"GET", "/v1/job/example/evaluations", "", &[]*api.Evaluation{}},
		{"GET", "/v1/job/example/deployment", "", &api.Deployment{}},
		{"GET", "/v1/deployments?prefix=" + dep.ID[:8], "", &[]*api.Deployment{}},
		{"GET", "/v1/deployment/" + dep.ID, "", &api.Deployment{}},
		{"GET", "/v1/evaluations?prefix=" + reg.EvalID[:8], "", &[]*api.Evaluation{}},
		{"GET", "/v1/evaluation/" + reg.EvalID + "?related=true", "", &api.Evaluation{}},
		{"GET", "/v1/evaluation/" + reg.EvalID + "/allocations", "", &[]*api.AllocationListStub{}},
		{"GET", "/v1/allocations?prefix=" + allocID[:8], "", &[]*api.AllocationListStub{}},
		{"GET", "/v1/allocation/" + allocID, "", &api.Allocation{}},
		{"GET", "/v1/client/allocation/" + allocID + "/stats", "", &api.AllocResourceUsage{}},
		{"GET", "/v1/client/allocation/" + allocID + "/checks", "", &api.AllocCheckStatuses{}},
		{"GET", "/v1/nodes", "", &[]*api.NodeListStub{}},
		{"GET", "/v1/node/" + nodeID, "", &api.Node{}},
		{"GET", "/v1/node/" + nodeID + "/allocations", "", &[]*api.Allocation{}},
		{"GET", "/v1/client/stats", "", &api.HostStats{}},
		{"GET", "/v1/agent/self", "", &api.AgentSelf{}},
		{"GET", "/v1/agent/members", "", &api.ServerMembers{}},
		{"GET", "/v1/status/leader", "", new(string)},
		{"GET", "/v1/regions", "", &[]string{}},
		// The writes last: job run again (no change), node drain, job stop.
		{"PUT", "/v1/jobs", mustJSONBody(t, &api.JobRegisterRequest{Job: tutorialJob()}), &api.JobRegisterResponse{}},
		{"PUT", "/v1/node/" + nodeID + "/drain", `{"DrainSpec":{"Deadline":3600000000000}}`, &api.NodeDrainUpdateResponse{}},
		{"DELETE", "/v1/job/example", "", &api.JobDeregisterResponse{}},
	}
	missing := map[string]bool{}
	// alloc logs: the first frame of the stream.
	var frame interface{}
	if err := json.Unmarshal(firstLogFrame(t, a, allocID), &frame); err != nil {
		t.Fatal(err)
	}
	missingFields(reflect.TypeOf(api.StreamFrame{}), frame, missing)
	for _, e := range checks {
		v := rawJSON(t, a, e)
		missingFields(reflect.TypeOf(e.into).Elem(), v, missing)
	}
	var unexplained []string
	for _, f := range sortedKeys(missing) {
		if _, ok := notServed[f]; !ok {
			unexplained = append(unexplained, f)
		}
	}
	if len(unexplained) > 0 {
		t.Errorf("fields of the official client's structs missing from Drover's answers:\n%s", strings.Join(unexplained, "\n"))
	}

	// What the CLI prints from, filled as the compatible server fills it.
	// The deployment table's "Progress Deadline" column: the job's update
	// block left progress_deadline out, so it is the default 10m.
	st := dep.TaskGroups["cache"]
	if st == nil || st.ProgressDeadline != 10*time.Minute || st.RequireProgressBy.IsZero() {
		t.Errorf("deployment state %+v: want ProgressDeadline 10m and a RequireProgressBy", st)
	}
	full, _, err := c.Jobs().Info("example", nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := full.TaskGroups[0].Update; u == nil || *u.ProgressDeadline != 10*time.Minute || *u.MinHealthyTime != time.Second {
		t.Errorf("group update %+v", u)
	}
	if full.ParentID == nil || *full.ParentID != "" || full.NomadTokenID == nil {
		t.Errorf("job ParentID %v NomadTokenID %v: want empty strings", full.ParentID, full.NomadTokenID)
	}
	// alloc status's "Task Resources" table and its addresses heading.
	alloc, _, err := c.Allocations().Info(allocID, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := alloc.TaskResources["redis"]
	if tr == nil || *tr.CPU != 500 || *tr.MemoryMB != 256 || alloc.Resources == nil || *alloc.Resources.DiskMB != 300 {
		t.Errorf("TaskResources %+v Resources %+v", tr, alloc.Resources)
	}
	if nets := alloc.AllocatedResources.Shared.Networks; len(nets) != 1 || nets[0].Mode != "" || len(alloc.AllocatedResources.Shared.Ports) != 1 {
		t.Errorf("shared networks %+v: want one, with no mode", nets)
	}
	if alloc.Metrics == nil || alloc.Metrics.NodePool != "default" {
		t.Errorf("metrics %+v: want the node pool", alloc.Metrics)
	}
}

// eval status asks for an evaluation's related evaluations: those its
// links reach. A job that cannot be placed leaves a blocked evaluation,
// linked from the one that tried.
func TestOfficialClientFields_RelatedEvals(t *testing.T) {
	a := startAgent(t, "related", `server {
  enabled          = true
  bootstrap_expect = 1
}`)
	c := apiClient(t, a)
	job := tutorialJob()
	job.Constraints = []*api.Constraint{{LTarget: "${node.class}", RTarget: "nowhere", Operand: "="}}
	reg, _, err := c.Jobs().Register(job, nil)
	if err != nil {
		t.Fatal(err)
	}
	var eval *api.Evaluation
	waitFor(t, 20*time.Second, "the blocked evaluation", func() (bool, string) {
		eval, _, err = c.Evaluations().Info(reg.EvalID, nil)
		return err == nil && eval.BlockedEval != "", "not yet"
	})
	// The official client always asks with ?related=true.
	if len(eval.RelatedEvals) != 1 || eval.RelatedEvals[0].ID != eval.BlockedEval ||
		eval.RelatedEvals[0].Status != "blocked" || eval.RelatedEvals[0].PreviousEval != reg.EvalID {
		t.Fatalf("related evaluations %+v, want the blocked %s", eval.RelatedEvals, eval.BlockedEval)
	}
	var plain api.Evaluation
	if _, err := c.Raw().Query("/v1/evaluation/"+reg.EvalID, &plain, nil); err != nil {
		t.Fatal(err)
	}
	if plain.ID != reg.EvalID || plain.RelatedEvals != nil {
		t.Fatalf("without ?related=true: %+v", plain.RelatedEvals)
	}
	// From the blocked one, the link leads back.
	var back api.Evaluation
	if _, err := c.Raw().Query("/v1/evaluation/"+eval.BlockedEval+"?related=true", &back, nil); err != nil {
		t.Fatal(err)
	}
	if len(back.RelatedEvals) != 1 || back.RelatedEvals[0].ID != reg.EvalID {
		t.Fatalf("related evaluations of the blocked one: %+v", back.RelatedEvals)
	}
	code, body := httpDo(t, a, "GET", "/v1/evaluation/"+reg.EvalID+"?related=maybe", "")
	if code != 400 || !strings.Contains(body, "related") {
		t.Fatalf("a bad related value: %d %s", code, body)
	}
}

func mustJSONBody(t *testing.T, v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// firstLogFrame reads the first frame of the allocation's stdout stream,
// as alloc logs receives it.
func firstLogFrame(t *testing.T, a *Agent, allocID string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + a.HTTPAddr() + "/v1/client/fs/logs/" + allocID + "?task=redis&type=stdout&origin=start&offset=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("the log stream's first frame: %v", err)
	}
	var f api.StreamFrame
	if err := json.Unmarshal(raw, &f); err != nil || !strings.Contains(string(f.Data), "ready") {
		t.Fatalf("frame %s: %v", raw, err)
	}
	return raw
}
