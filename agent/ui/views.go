package ui

import (
	"cmp"
	"fmt"
	"html"
	"html/template"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/state"
	"drover/agent/structs"
)

// The view builders: each reads one snapshot and returns what its
// template shows. They are pure apart from the clock, so tests call them
// on a state store they fill themselves.

// perPage bounds the rows of a list page; ?page=N turns the pages.
const perPage = 50

// indexOf is the highest index of the tables a view read.
func indexOf(snap *state.StateSnapshot, tables ...string) (uint64, error) {
	var idx uint64
	for _, t := range tables {
		i, err := snap.Index(t)
		if err != nil {
			return 0, err
		}
		idx = max(idx, i)
	}
	return idx, nil
}

// pager cuts a list into the page ?page= asks for.
type pager struct {
	Page, Pages, Total int
	// Base is the page's URL with the other parameters, for the links.
	Base string
}

func paginate[T any](items []T, req *request, base string) ([]T, pager) {
	p := pager{Total: len(items), Pages: max(1, (len(items)+perPage-1)/perPage), Base: base}
	p.Page, _ = strconv.Atoi(req.query.Get("page"))
	p.Page = min(max(p.Page, 1), p.Pages)
	lo := (p.Page - 1) * perPage
	return items[lo:min(lo+perPage, len(items))], p
}

// canRead tells whether the token may read jobs (and so their
// allocations, evaluations and deployments) in a namespace.
func canRead(a *acl.ACL, ns string) bool {
	return a.AllowNamespaceOperation(ns, acl.CapReadJob)
}

// jobKey is how the UI names a job in URLs: "<id>@<namespace>", each
// escaped as a path segment (a job ID may hold "/", "?" or "#"). The
// namespace is always there, so an ID with an "@" of its own is never
// read as one in another namespace.
func jobKey(ns, id string) string { return url.PathEscape(id) + "@" + url.PathEscape(ns) }

// splitJobKey undoes jobKey; a bare ID means the default namespace.
func splitJobKey(key string) (ns, id string) {
	if i := strings.LastIndexByte(key, '@'); i > 0 {
		return key[i+1:], key[:i]
	}
	return "default", key
}

// ---- jobs ----

type groupSummary struct {
	Name                                              string
	Queued, Starting, Running, Failed, Complete, Lost int
}

type jobRow struct {
	ID, Namespace, Key, Type, Status string
	Priority                         int
	Version                          uint64
	Groups                           []groupSummary
}

type jobsView struct {
	Jobs   []jobRow
	Pager  pager
	Hidden bool // the token could not read some namespaces
}

func summarize(sum *structs.JobSummary, job *structs.Job) []groupSummary {
	var out []groupSummary
	for _, tg := range job.TaskGroups {
		g := groupSummary{Name: tg.Name}
		if sum != nil {
			s := sum.Summary[tg.Name]
			g.Queued, g.Starting, g.Running, g.Failed, g.Complete, g.Lost =
				s.Queued, s.Starting, s.Running, s.Failed, s.Complete, s.Lost
		}
		out = append(out, g)
	}
	return out
}

func jobsPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	jobs, err := snap.Jobs(ws)
	if err != nil {
		return nil, 0, err
	}
	v := &jobsView{}
	visible := jobs[:0:0]
	for _, j := range jobs {
		if !canRead(req.acl, j.Namespace) {
			v.Hidden = true
			continue
		}
		visible = append(visible, j)
	}
	page, p := paginate(visible, req, "/ui/jobs")
	v.Pager = p
	for _, j := range page {
		sum, err := snap.JobSummaryByID(ws, j.Namespace, j.ID)
		if err != nil {
			return nil, 0, err
		}
		v.Jobs = append(v.Jobs, jobRow{ID: j.ID, Namespace: j.Namespace, Key: jobKey(j.Namespace, j.ID), Type: j.Type,
			Status: j.Status, Priority: j.Priority, Version: j.Version, Groups: summarize(sum, j)})
	}
	idx, err := indexOf(snap, state.TableJobs, state.TableJobSummary)
	return v, idx, err
}

// ---- one job ----

type versionRow struct {
	Version   uint64
	Stable    bool
	Submitted string
	Current   bool
}

type deployGroup struct {
	Name                                string
	Desired, Placed, Healthy, Unhealthy int
	Canaries, DesiredCanaries           int
	Promoted, AutoRevert                bool
}

type deployView struct {
	ID, Short, Status, Description string
	Version                        uint64
	Groups                         []deployGroup
}

type allocRow struct {
	ID, Short, Name, Group, Job, JobKey string
	NodeID, NodeShort, NodeName         string
	Version                             uint64
	Desired, Client                     string
	Created                             string
	Healthy                             string // deployment health: "", "healthy", "unhealthy"
}

type evalRow struct {
	ID, Short, Job, JobKey, Namespace, Status, TriggeredBy, Type string
	Priority                                                     int
	Failures                                                     bool
	Created                                                      string
}

type jobView struct {
	Job        *structs.Job
	Key        string
	Groups     []groupSummary
	Versions   []versionRow
	Deployment *deployView
	Allocs     []allocRow
	Evals      []evalRow
}

func jobPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	ns, id := splitJobKey(req.id)
	if !canRead(req.acl, ns) {
		return nil, 0, errNotFound(fmt.Sprintf("job %q not found, or the token may not read namespace %q", id, ns))
	}
	job, err := snap.JobByID(ws, ns, id)
	if err != nil {
		return nil, 0, err
	}
	if job == nil {
		return nil, 0, errNotFound(fmt.Sprintf("job %q not found in namespace %q", id, ns))
	}
	v := &jobView{Job: job, Key: jobKey(ns, id)}
	sum, err := snap.JobSummaryByID(ws, ns, id)
	if err != nil {
		return nil, 0, err
	}
	v.Groups = summarize(sum, job)

	versions, err := snap.JobVersionsByID(ws, ns, id)
	if err != nil {
		return nil, 0, err
	}
	for _, jv := range versions {
		v.Versions = append(v.Versions, versionRow{Version: jv.Version, Stable: jv.Stable,
			Submitted: ago(time.Unix(0, jv.SubmitTime)), Current: jv.Version == job.Version})
	}
	slices.SortFunc(v.Versions, func(a, b versionRow) int { return cmp.Compare(b.Version, a.Version) })

	if d, err := snap.LatestDeploymentByJobID(ws, ns, id); err != nil {
		return nil, 0, err
	} else if d != nil {
		v.Deployment = deployment(d)
	}

	allocs, err := snap.AllocsByJob(ws, ns, id, false)
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(allocs, func(a, b *structs.Allocation) int { return cmp.Compare(b.CreateIndex, a.CreateIndex) })
	for _, a := range allocs {
		v.Allocs = append(v.Allocs, allocRowOf(a))
	}

	evals, err := snap.EvalsByJob(ws, ns, id)
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(evals, func(a, b *structs.Evaluation) int { return cmp.Compare(b.CreateIndex, a.CreateIndex) })
	for _, e := range evals[:min(len(evals), 10)] {
		v.Evals = append(v.Evals, evalRowOf(e))
	}
	idx, err := indexOf(snap, state.TableJobs, state.TableJobVersions, state.TableJobSummary,
		state.TableAllocs, state.TableDeployments, state.TableEvals)
	return v, idx, err
}

func deployment(d *structs.Deployment) *deployView {
	v := &deployView{ID: d.ID, Short: short(d.ID), Status: d.Status, Description: d.StatusDescription, Version: d.JobVersion}
	for name, s := range d.TaskGroups {
		v.Groups = append(v.Groups, deployGroup{Name: name, Desired: s.DesiredTotal, Placed: s.PlacedAllocs,
			Healthy: s.HealthyAllocs, Unhealthy: s.UnhealthyAllocs, Canaries: len(s.PlacedCanaries),
			DesiredCanaries: s.DesiredCanaries, Promoted: s.Promoted, AutoRevert: s.AutoRevert})
	}
	slices.SortFunc(v.Groups, func(a, b deployGroup) int { return cmp.Compare(a.Name, b.Name) })
	return v
}

func allocRowOf(a *structs.Allocation) allocRow {
	r := allocRow{ID: a.ID, Short: short(a.ID), Name: a.Name, Group: a.TaskGroup, Job: a.JobID,
		JobKey: jobKey(a.Namespace, a.JobID), NodeID: a.NodeID, NodeShort: short(a.NodeID), NodeName: a.NodeName,
		Desired: a.DesiredStatus, Client: a.ClientStatus, Created: ago(time.Unix(0, a.CreateTime))}
	if a.Job != nil {
		r.Version = a.Job.Version
	}
	if ds := a.DeploymentStatus; ds != nil && ds.Healthy != nil {
		r.Healthy = "unhealthy"
		if *ds.Healthy {
			r.Healthy = "healthy"
		}
	}
	return r
}

func evalRowOf(e *structs.Evaluation) evalRow {
	return evalRow{ID: e.ID, Short: short(e.ID), Job: e.JobID, JobKey: jobKey(e.Namespace, e.JobID), Namespace: e.Namespace,
		Status: e.Status, TriggeredBy: e.TriggeredBy, Type: e.Type, Priority: e.Priority,
		Failures: len(e.FailedTGAllocs) > 0, Created: ago(time.Unix(0, e.CreateTime))}
}

// ---- one allocation ----

type eventRow struct {
	Time, Type, Message string
}

type taskView struct {
	Name, State string
	Failed      bool
	Restarts    uint64
	Started     string
	Events      []eventRow
	// Logs is the /v1 URL of the task's recent stdout and stderr, which
	// the page script fetches from the agent.
	Stdout, Stderr string
}

type allocView struct {
	Alloc   allocRow
	Full    *structs.Allocation
	Tasks   []taskView
	Metrics []string
}

func allocPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	a, err := lookup(ws, req.id, snap.AllocByID, snap.AllocsByIDPrefix)
	if err != nil {
		return nil, 0, err
	}
	if a == nil || !canRead(req.acl, a.Namespace) {
		return nil, 0, errNotFound(fmt.Sprintf("allocation %q not found", req.id))
	}
	v := &allocView{Alloc: allocRowOf(a), Full: a}
	var names []string
	if a.Job != nil {
		for _, tg := range a.Job.TaskGroups {
			if tg.Name == a.TaskGroup {
				for _, t := range tg.Tasks {
					names = append(names, t.Name)
				}
			}
		}
	}
	for name := range a.TaskStates {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, name := range names {
		t := taskView{Name: name, State: "pending",
			Stdout: logsURL(a.ID, name, "stdout"), Stderr: logsURL(a.ID, name, "stderr")}
		if ts := a.TaskStates[name]; ts != nil {
			t.State, t.Failed, t.Restarts = ts.State, ts.Failed, ts.Restarts
			if !ts.StartedAt.IsZero() {
				t.Started = ago(ts.StartedAt)
			}
			for i := len(ts.Events) - 1; i >= 0; i-- {
				e := ts.Events[i]
				msg := e.DisplayMessage
				if msg == "" {
					msg = e.Message
				}
				t.Events = append(t.Events, eventRow{Time: time.Unix(0, e.Time).Format("2006-01-02T15:04:05Z07:00"), Type: e.Type, Message: msg})
			}
		}
		v.Tasks = append(v.Tasks, t)
	}
	if a.Metrics != nil {
		v.Metrics = a.Metrics.FailureReasons()
	}
	idx, err := indexOf(snap, state.TableAllocs)
	return v, idx, err
}

func logsURL(alloc, task, stream string) string {
	q := url.Values{"task": {task}, "type": {stream}, "origin": {"end"}, "offset": {"4096"}, "plain": {"true"}}
	return "/v1/client/fs/logs/" + url.PathEscape(alloc) + "?" + q.Encode()
}

// ---- cluster: servers and clients ----

type serverRow struct {
	Name, Addr, Status, DC, Version string
	Leader                          bool
}

type clientRow struct {
	ID, Short, Name, DC, Class, Pool, Status, Eligibility, Address string
	Drain                                                          bool
	CPUUsed, CPUTotal, MemUsed, MemTotal                           int64
	Allocs                                                         int
}

type clusterView struct {
	Servers    []serverRow
	Clients    []clientRow
	NoNodeRead bool
}

func (h *Handler) clusterPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	v := &clusterView{}
	if req.acl.AllowAgentRead() || req.acl.AllowOperatorRead() {
		leader := h.c.Leader()
		for _, m := range h.c.Members() {
			if m.Tags["role"] != "nomad" {
				continue
			}
			rpc := net.JoinHostPort(m.Tags["rpc_addr"], m.Tags["port"])
			v.Servers = append(v.Servers, serverRow{Name: m.Name, Addr: net.JoinHostPort(m.Addr, strconv.Itoa(int(m.Port))),
				Status: m.Status, DC: m.Tags["dc"], Version: m.Tags["build"], Leader: leader != "" && rpc == leader})
		}
	}
	if !req.acl.AllowNodeRead() {
		v.NoNodeRead = true
		return v, 1, nil
	}
	nodes, err := snap.Nodes(ws)
	if err != nil {
		return nil, 0, err
	}
	for _, n := range nodes {
		row, err := clientRowOf(ws, snap, n)
		if err != nil {
			return nil, 0, err
		}
		v.Clients = append(v.Clients, row)
	}
	slices.SortFunc(v.Clients, func(a, b clientRow) int { return cmp.Compare(a.Name, b.Name) })
	idx, err := indexOf(snap, state.TableNodes, state.TableAllocs)
	return v, idx, err
}

func clientRowOf(ws memdb.WatchSet, snap *state.StateSnapshot, n *structs.Node) (clientRow, error) {
	r := clientRow{ID: n.ID, Short: short(n.ID), Name: n.Name, DC: n.Datacenter, Class: n.NodeClass, Pool: n.NodePool,
		Status: n.Status, Eligibility: n.SchedulingEligibility, Drain: n.Drain, Address: n.HTTPAddr}
	if res := n.NodeResources; res != nil {
		r.CPUTotal, r.MemTotal = res.Cpu.CpuShares, res.Memory.MemoryMB
	}
	allocs, err := snap.AllocsOnNode(ws, n.ID)
	if err != nil {
		return r, err
	}
	for _, a := range allocs {
		if a.TerminalStatus() {
			continue
		}
		r.Allocs++
		c := a.Comparable()
		r.CPUUsed += c.CPU
		r.MemUsed += c.MemoryMB
	}
	return r, nil
}

type clientView struct {
	Client clientRow
	Node   *structs.Node
	Allocs []allocRow
	Events []eventRow
}

func clientPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	if !req.acl.AllowNodeRead() {
		return nil, 0, errNotFound("the token may not read nodes")
	}
	n, err := lookup(ws, req.id, snap.NodeByID, snap.NodesByIDPrefix)
	if err != nil {
		return nil, 0, err
	}
	if n == nil {
		return nil, 0, errNotFound(fmt.Sprintf("client %q not found", req.id))
	}
	row, err := clientRowOf(ws, snap, n)
	if err != nil {
		return nil, 0, err
	}
	v := &clientView{Client: row, Node: n}
	allocs, err := snap.AllocsOnNode(ws, n.ID)
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(allocs, func(a, b *structs.Allocation) int { return cmp.Compare(b.CreateIndex, a.CreateIndex) })
	for _, a := range allocs {
		if canRead(req.acl, a.Namespace) {
			v.Allocs = append(v.Allocs, allocRowOf(a))
		}
	}
	for i := len(n.Events) - 1; i >= 0; i-- {
		e := n.Events[i]
		v.Events = append(v.Events, eventRow{Time: e.Timestamp.Format("2006-01-02T15:04:05Z07:00"), Type: e.Subsystem, Message: e.Message})
	}
	idx, err := indexOf(snap, state.TableNodes, state.TableAllocs)
	return v, idx, err
}

// ---- topology ----

// box is one allocation in the topology view.
type box struct {
	ID, Short, Job, JobKey, Group, Name string
	// Label is the name without the job's, which the column has no
	// room for: "cache[0]".
	Label   string
	Version uint64
	// Status is the client status, or "stopping" when the scheduler has
	// told a still-running allocation to stop.
	Status string
}

// Colour picks one of the stylesheet's version colours.
func (b box) Colour() int { return int(b.Version % 8) }

type column struct {
	Client clientRow
	Boxes  []box
}

// BoxesHTML writes the column's boxes. A classroom has a handful, but the
// page must stay quick with ten thousand, and html/template spends ~10 µs
// a box on reflection and contextual escaping; every value here goes
// through html.EscapeString into a quoted attribute or text, which is all
// the escaping these contexts need.
func (c column) BoxesHTML() template.HTML {
	var b strings.Builder
	b.Grow(len(c.Boxes) * 320)
	for _, x := range c.Boxes {
		e := html.EscapeString
		v := strconv.FormatUint(x.Version, 10)
		b.WriteString(`<a class="box v`)
		b.WriteString(strconv.Itoa(x.Colour()))
		b.WriteString(` b-`)
		b.WriteString(e(x.Status))
		b.WriteString(`" href="/ui/allocations/`)
		b.WriteString(url.PathEscape(x.ID))
		b.WriteString(`" data-job="`)
		b.WriteString(e(x.Job))
		b.WriteString(`" data-version="`)
		b.WriteString(v)
		b.WriteString(`" data-status="`)
		b.WriteString(e(x.Status))
		b.WriteString(`" title="`)
		b.WriteString(e(x.Name))
		b.WriteString(` `)
		b.WriteString(e(x.Status))
		b.WriteString(`"><span class="name">`)
		b.WriteString(e(x.Label))
		b.WriteString(`</span><span class="job">`)
		b.WriteString(e(x.Job))
		b.WriteString(` v`)
		b.WriteString(v)
		b.WriteString(`</span><span class="st">`)
		b.WriteString(e(x.Status))
		b.WriteString("</span></a>\n")
	}
	return template.HTML(b.String())
}

type topologyView struct {
	Columns    []column
	NoNodeRead bool
	// Allocs counts the boxes, Running those running.
	Allocs, Running int
}

func topologyPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	v := &topologyView{}
	if !req.acl.AllowNodeRead() {
		v.NoNodeRead = true
		return v, 1, nil
	}
	nodes, err := snap.Nodes(ws)
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(nodes, func(a, b *structs.Node) int { return cmp.Compare(a.Name, b.Name) })
	for _, n := range nodes {
		row, err := clientRowOf(ws, snap, n)
		if err != nil {
			return nil, 0, err
		}
		col := column{Client: row}
		allocs, err := snap.AllocsOnNode(ws, n.ID)
		if err != nil {
			return nil, 0, err
		}
		for _, a := range allocs {
			// Finished allocations leave the picture; ones told to stop
			// stay until their tasks have stopped, so a rolling update
			// shows the old and the new side by side.
			if a.ClientTerminalStatus() || !canRead(req.acl, a.Namespace) {
				continue
			}
			b := box{ID: a.ID, Short: short(a.ID), Job: a.JobID, JobKey: jobKey(a.Namespace, a.JobID), Group: a.TaskGroup,
				Name: a.Name, Label: strings.TrimPrefix(a.Name, a.JobID+"."), Status: a.ClientStatus}
			if a.Job != nil {
				b.Version = a.Job.Version
			}
			if a.DesiredStatus != structs.AllocDesiredStatusRun {
				b.Status = "stopping"
			}
			if b.Status == structs.AllocClientStatusRunning {
				v.Running++
			}
			col.Boxes = append(col.Boxes, b)
		}
		slices.SortFunc(col.Boxes, func(a, b box) int {
			return cmp.Or(cmp.Compare(a.Job, b.Job), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
		})
		v.Allocs += len(col.Boxes)
		v.Columns = append(v.Columns, col)
	}
	idx, err := indexOf(snap, state.TableNodes, state.TableAllocs)
	return v, idx, err
}

// ---- evaluations ----

type evalsView struct {
	Evals []evalRow
	Pager pager
}

func evalsPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	evals, err := snap.Evals(ws)
	if err != nil {
		return nil, 0, err
	}
	// Newest first.
	slices.Reverse(evals)
	visible := evals[:0:0]
	for _, e := range evals {
		if canRead(req.acl, e.Namespace) {
			visible = append(visible, e)
		}
	}
	page, p := paginate(visible, req, "/ui/evaluations")
	v := &evalsView{Pager: p}
	for _, e := range page {
		v.Evals = append(v.Evals, evalRowOf(e))
	}
	idx, err := indexOf(snap, state.TableEvals)
	return v, idx, err
}

type failedGroup struct {
	Group string
	Count int
	Lines []string
}

type evalView struct {
	Eval        evalRow
	Full        *structs.Evaluation
	Failed      []failedGroup
	Decisions   []structs.DecisionRow
	Allocs      []allocRow
	Description string
}

func evalPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	e, err := lookup(ws, req.id, snap.EvalByID, snap.EvalsByIDPrefix)
	if err != nil {
		return nil, 0, err
	}
	if e == nil || !canRead(req.acl, e.Namespace) {
		return nil, 0, errNotFound(fmt.Sprintf("evaluation %q not found", req.id))
	}
	v := &evalView{Eval: evalRowOf(e), Full: e, Description: cmp.Or(e.StatusDescription, e.Status)}
	groups := make([]string, 0, len(e.FailedTGAllocs))
	for g, m := range e.FailedTGAllocs {
		if m != nil {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups)
	for _, g := range groups {
		m := e.FailedTGAllocs[g]
		v.Failed = append(v.Failed, failedGroup{Group: g, Count: m.CoalescedFailures + 1, Lines: m.FailureReasons()})
	}
	v.Decisions = structs.DecisionRows(e.Decisions)
	allocs, err := snap.AllocsByEval(ws, e.ID)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range allocs {
		v.Allocs = append(v.Allocs, allocRowOf(a))
	}
	idx, err := indexOf(snap, state.TableEvals, state.TableAllocs)
	return v, idx, err
}

// ---- helpers ----

// lookup finds a record by its whole ID, else by a prefix that names only
// one, so the CLI's short IDs work in URLs too; nil when neither finds it.
func lookup[T any](ws memdb.WatchSet, id string, byID func(memdb.WatchSet, string) (*T, error),
	byPrefix func(memdb.WatchSet, string) ([]*T, error)) (*T, error) {
	found, err := byID(ws, id)
	if err != nil || found != nil {
		return found, err
	}
	if many, err := byPrefix(ws, id); err == nil && len(many) == 1 {
		return many[0], nil
	}
	return nil, nil
}

// short is the CLI's 8-character short ID.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ago is a time as "3m ago", the way the CLI prints recent times.
func ago(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Hour:
		return d.String() + " ago"
	case d < 48*time.Hour:
		return d.Round(time.Minute).String() + " ago"
	default:
		return t.UTC().Format("2006-01-02 15:04 MST")
	}
}

// Colour picks one of the stylesheet's version colours.
func (r allocRow) Colour() int { return int(r.Version % 8) }
