package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// newAllocCommand is "alloc": look at one allocation and read its logs.
func newAllocCommand(s *streams) *cobra.Command {
	c := group("alloc", "Inspect allocations and read their tasks' logs",
		"  drover alloc status 6085301b\n  drover alloc logs 6085301b redis",
		newAllocStatusCommand(s, "status", "drover alloc status"),
		newAllocLogsCommand(s, "logs", "drover alloc logs"),
		newAllocStopCommand(s),
		newAllocRestartCommand(s),
		newAllocSignalCommand(s),
		newAllocFSCommand(s, "fs", "drover alloc fs"),
		newAllocExecCommand(s, "exec", "drover alloc exec"),
	)
	c.Long = "An allocation is one instance of a job's task group placed on a client node.\n" +
		"These commands show where and how an allocation runs and what its tasks print,\n" +
		"stop, restart and signal it, read its directory and run commands in its tasks."
	return c
}

// newAllocStatusLegacyCommand is the hidden "alloc-status" spelling of
// "alloc status" that older tutorials use.
func newAllocStatusLegacyCommand(s *streams) *cobra.Command {
	c := newAllocStatusCommand(s, "alloc-status", "drover alloc-status")
	c.Hidden = true
	return c
}

// newLogsCommand is the top-level "logs" alias of "alloc logs", as in
// "drover logs -job -stderr <job>".
func newLogsCommand(s *streams) *cobra.Command {
	c := newAllocLogsCommand(s, "logs", "drover logs")
	c.Hidden = true
	return c
}

// ---------------------------------------------------------------------
// alloc status

type allocStatusFlags struct {
	short   bool
	verbose bool
	stats   bool
	out     outputFlags
	ui      bool
}

// newAllocStatusCommand builds "alloc status" named use; path is how its
// examples spell it.
func newAllocStatusCommand(s *streams, use, path string) *cobra.Command {
	var f allocStatusFlags
	c := &cobra.Command{
		Use:   use + " <allocation>",
		Short: "Show an allocation's placement, resources and task events",
		Long: "Shows one allocation: its evaluation, node, job version and statuses, the\n" +
			"addresses of its group network, and for each task its resources (with the\n" +
			"usage the client measures while it runs) and its recent events, newest first.\n" +
			"The allocation may be given by an ID prefix of at least two characters; a\n" +
			"prefix that matches several allocations lists them.",
		Example: "  " + path + " 6085301b\n" +
			"  " + path + " -verbose 6085301b\n" +
			"  " + path + " -short 6085301b\n" +
			"  " + path + " -json 6085301b",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <allocation>"}
			}
			return runAllocStatus(s, f, args[0])
		},
	}
	c.Flags().BoolVar(&f.short, "short", false, "show only the allocation's basics and one line per task")
	c.Flags().BoolVar(&f.verbose, "verbose", false, "show full IDs, exact times and placement metrics")
	c.Flags().BoolVar(&f.stats, "stats", false, "show detailed memory and CPU usage of each task")
	f.out.register(c, "the allocation")
	uiFlag(c, &f.ui)
	return c
}

// errMultipleAllocs is returned by resolveAlloc when a prefix matches more
// than one allocation; the stubs say which.
type errMultipleAllocs struct {
	stubs []*api.AllocationListStub
}

func (e *errMultipleAllocs) Error() string { return "Prefix matched multiple allocations" }

// sanitizeIDPrefix drops the last character of a UUID prefix with an odd
// number of hex digits, as the compatible CLI does.
func sanitizeIDPrefix(prefix string) string {
	if len(prefix) >= fullID {
		return prefix
	}
	if n := len(strings.ReplaceAll(prefix, "-", "")); n%2 == 1 {
		return prefix[:len(prefix)-1]
	}
	return prefix
}

// resolveAlloc finds the allocation an ID or ID prefix names.
func resolveAlloc(client *api.Client, id string) (*api.Allocation, error) {
	if len(id) == 1 {
		return nil, fail(1, "Identifier must contain at least two characters.")
	}
	stubs, _, err := client.Allocations().PrefixList(sanitizeIDPrefix(id))
	if err != nil {
		return nil, fail(1, "Error querying allocation: %v", err)
	}
	var match *api.AllocationListStub
	for _, a := range stubs {
		if a.ID == id {
			match = a
		}
	}
	switch {
	case match != nil:
	case len(stubs) == 0:
		return nil, fail(1, "No allocation(s) with prefix or id %q found", id)
	case len(stubs) > 1:
		// The sanitized prefix may match more than the user's own.
		var mine []*api.AllocationListStub
		for _, a := range stubs {
			if strings.HasPrefix(a.ID, id) {
				mine = append(mine, a)
			}
		}
		if len(mine) == 1 {
			match = mine[0]
			break
		}
		if len(mine) == 0 {
			return nil, fail(1, "No allocation(s) with prefix or id %q found", id)
		}
		return nil, &errMultipleAllocs{stubs: mine}
	default:
		if !strings.HasPrefix(stubs[0].ID, id) {
			return nil, fail(1, "No allocation(s) with prefix or id %q found", id)
		}
		match = stubs[0]
	}
	alloc, _, err := client.Allocations().Info(match.ID, nil)
	if err != nil {
		return nil, fail(1, "Error querying allocation: %v", err)
	}
	return alloc, nil
}

// formatAllocListStubs is the allocation table of "job status", of "job
// allocs" and of an ambiguous prefix.
func formatAllocListStubs(stubs []*api.AllocationListStub, verbose bool, length int) string {
	sorted := append([]*api.AllocationListStub(nil), stubs...)
	// Newest first; allocations placed together (one create index) by
	// name, so the table reads the same on every run.
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].CreateIndex != sorted[j].CreateIndex {
			return sorted[i].CreateIndex > sorted[j].CreateIndex
		}
		return sorted[i].Name < sorted[j].Name
	})
	now := time.Now()
	var rows []string
	if verbose {
		rows = append(rows, "ID|Eval ID|Node ID|Node Name|Task Group|Version|Desired|Status|Created|Modified")
	} else {
		rows = append(rows, "ID|Node ID|Task Group|Version|Desired|Status|Created|Modified")
	}
	for _, a := range sorted {
		created, modified := time.Unix(0, a.CreateTime), time.Unix(0, a.ModifyTime)
		if verbose {
			rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%s|%d|%s|%s|%s|%s",
				limit(a.ID, length), limit(a.EvalID, length), limit(a.NodeID, length), a.NodeName,
				a.TaskGroup, a.JobVersion, a.DesiredStatus, a.ClientStatus,
				formatTime(created), formatTime(modified)))
			continue
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s|%d|%s|%s|%s|%s",
			limit(a.ID, length), limit(a.NodeID, length), a.TaskGroup, a.JobVersion,
			a.DesiredStatus, a.ClientStatus, prettyTimeDiff(created, now), prettyTimeDiff(modified, now)))
	}
	return formatList(rows)
}

func runAllocStatus(s *streams, f allocStatusFlags, id string) error {
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	length := shortID
	if f.verbose {
		length = fullID
	}
	alloc, err := resolveAlloc(client, id)
	var multi *errMultipleAllocs
	if errors.As(err, &multi) {
		fmt.Fprintf(s.Out, "Prefix matched multiple allocations\n\n%s\n", formatAllocListStubs(multi.stubs, f.verbose, length))
		return nil
	}
	if err != nil {
		return err
	}
	if f.out.active() {
		if err := printRawJSON(s, f.out, client, "/v1/allocation/"+alloc.ID); err != nil {
			return err
		}
		if f.ui {
			s.uiShow(hintAlloc, allocUIPath(alloc.ID), true)
		}
		return nil
	}
	defer s.uiShow(hintAlloc, allocUIPath(alloc.ID), f.ui)
	if f.short {
		fmt.Fprintln(s.Out, formatAllocShort(alloc, f.verbose))
		return nil
	}

	var stats *api.AllocResourceUsage
	if alloc.ClientStatus == "running" {
		stats, err = client.Allocations().Stats(alloc, nil)
		if err != nil {
			stats = nil
			fmt.Fprintf(s.Err, "Couldn't retrieve stats: %v\n", err)
		}
	}
	fmt.Fprintln(s.Out, formatAllocBasics(alloc, f.verbose, length))
	if addrs := formatAllocAddresses(alloc); addrs != "" {
		fmt.Fprintf(s.Out, "\n%s\n", s.colorize(addrs))
	}
	if f.verbose && alloc.Metrics != nil {
		if scores := formatPlacementScores(alloc.Metrics, length); scores != "" {
			fmt.Fprintf(s.Out, "\n%s\n%s\n", s.colorize(bold("Placement Metrics")), scores)
		}
	}
	for _, name := range allocTaskNames(alloc) {
		fmt.Fprintln(s.Out)
		fmt.Fprint(s.Out, s.colorize(formatTaskStatus(alloc, name, stats, f.stats)))
	}
	return nil
}

// printRawJSON prints what the agent answers for path, indented.
func printRawJSON(s *streams, o outputFlags, client *api.Client, path string) error {
	body, err := client.Raw().Response(path, nil)
	if err != nil {
		return fail(1, "Error querying %s: %v", path, err)
	}
	defer body.Close()
	raw, err := io.ReadAll(body)
	if err != nil {
		return fail(1, "Error reading %s: %v", path, err)
	}
	return o.printRaw(s, raw)
}

func allocTimes(alloc *api.Allocation, verbose bool) (string, string) {
	created, modified := time.Unix(0, alloc.CreateTime), time.Unix(0, alloc.ModifyTime)
	if verbose {
		return formatTime(created), formatTime(modified)
	}
	now := time.Now()
	return prettyTimeDiff(created, now), prettyTimeDiff(modified, now)
}

func formatAllocBasics(alloc *api.Allocation, verbose bool, length int) string {
	created, modified := allocTimes(alloc, verbose)
	version := ""
	if alloc.Job != nil && alloc.Job.Version != nil {
		version = strconv.FormatUint(*alloc.Job.Version, 10)
	}
	rows := []string{
		"ID|" + alloc.ID,
		"Eval ID|" + limit(alloc.EvalID, length),
		"Name|" + alloc.Name,
		"Node ID|" + limit(alloc.NodeID, length),
		"Node Name|" + alloc.NodeName,
		"Job ID|" + alloc.JobID,
		"Job Version|" + version,
		"Client Status|" + alloc.ClientStatus,
		"Client Description|" + alloc.ClientDescription,
		"Desired Status|" + alloc.DesiredStatus,
		"Desired Description|" + alloc.DesiredDescription,
		"Created|" + created,
		"Modified|" + modified,
	}
	if alloc.DeploymentID != "" {
		health := "unset"
		if ds := alloc.DeploymentStatus; ds != nil && ds.Healthy != nil {
			health = "unhealthy"
			if *ds.Healthy {
				health = "healthy"
			}
		}
		rows = append(rows, "Deployment ID|"+limit(alloc.DeploymentID, length), "Deployment Health|"+health)
		if alloc.DeploymentStatus != nil && alloc.DeploymentStatus.Canary {
			rows = append(rows, "Canary|true")
		}
	}
	if alloc.NextAllocation != "" {
		rows = append(rows, "Replacement Alloc ID|"+limit(alloc.NextAllocation, length))
	}
	if verbose && alloc.Metrics != nil {
		m := alloc.Metrics
		rows = append(rows,
			fmt.Sprintf("Evaluated Nodes|%d", m.NodesEvaluated),
			fmt.Sprintf("Filtered Nodes|%d", m.NodesFiltered),
			fmt.Sprintf("Exhausted Nodes|%d", m.NodesExhausted),
			"Allocation Time|"+m.AllocationTime.String(),
			fmt.Sprintf("Failures|%d", m.CoalescedFailures))
	}
	return formatKV(rows)
}

// formatAllocShort is -short: the basics and one line per task.
func formatAllocShort(alloc *api.Allocation, verbose bool) string {
	created, modified := allocTimes(alloc, verbose)
	basic := formatKV([]string{
		"ID|" + alloc.ID,
		"Name|" + alloc.Name,
		"Created|" + created,
		"Modified|" + modified,
	})
	rows := []string{"Name|State|Last Event|Time|Lifecycle"}
	for _, name := range allocTaskNames(alloc) {
		st := alloc.TaskStates[name]
		state, last, when := "", "", ""
		if st != nil {
			state = st.State
			if n := len(st.Events); n > 0 {
				last = st.Events[n-1].Type
				when = formatUnixNano(st.Events[n-1].Time)
			}
		}
		lc := "main"
		if l := taskLifecycle(alloc, name); l != nil && l.Hook != "" {
			lc = l.Hook
			if l.Sidecar {
				lc += " sidecar"
			}
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%s", name, state, last, when, lc))
	}
	return basic + "\n\nTasks\n" + formatList(rows)
}

// formatAllocAddresses is the table of the group network's ports, or "".
func formatAllocAddresses(alloc *api.Allocation) string {
	res := alloc.AllocatedResources
	if res == nil {
		return ""
	}
	var rows []string
	mode := ""
	if nets := res.Shared.Networks; len(nets) > 0 && nets[0] != nil {
		n := nets[0]
		mode = n.Mode
		for _, p := range n.ReservedPorts {
			rows = append(rows, addressRow(p.Label, "no", n.IP, p.Value, p.To))
		}
		for _, p := range n.DynamicPorts {
			rows = append(rows, addressRow(p.Label, "yes", n.IP, p.Value, p.To))
		}
	} else {
		for _, p := range res.Shared.Ports {
			rows = append(rows, addressRow(p.Label, "yes", p.HostIP, p.Value, p.To))
		}
	}
	if len(rows) == 0 {
		return ""
	}
	title := "Allocation Addresses"
	if mode != "" {
		title += fmt.Sprintf(" (mode = %q)", mode)
	}
	return bold(title) + "\n" + formatList(append([]string{"Label|Dynamic|Address"}, rows...))
}

func addressRow(label, dynamic, ip string, value, to int) string {
	addr := fmt.Sprintf("%s:%d", ip, value)
	if to > 0 {
		addr += fmt.Sprintf(" -> %d", to)
	}
	return fmt.Sprintf("*%s|%s|%s", label, dynamic, addr)
}

// formatPlacementScores is -verbose's table of the best nodes' scores.
func formatPlacementScores(m *api.AllocationMetric, length int) string {
	if len(m.ScoreMetaData) == 0 {
		return ""
	}
	var names []string
	seen := map[string]bool{}
	for _, sm := range m.ScoreMetaData {
		for k := range sm.Scores {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	rows := []string{"Node|" + strings.Join(names, "|") + "|final score"}
	for _, sm := range m.ScoreMetaData {
		row := limit(sm.NodeID, length)
		for _, k := range names {
			row += "|" + strconv.FormatFloat(sm.Scores[k], 'g', 3, 64)
		}
		row += "|" + strconv.FormatFloat(sm.NormScore, 'g', 3, 64)
		rows = append(rows, row)
	}
	return formatList(rows)
}

// taskLifecycle finds a task's lifecycle block in the allocation's job.
func taskLifecycle(alloc *api.Allocation, task string) *api.TaskLifecycle {
	if t := allocTask(alloc, task); t != nil {
		return t.Lifecycle
	}
	return nil
}

func allocGroup(alloc *api.Allocation) *api.TaskGroup {
	if alloc.Job == nil {
		return nil
	}
	for _, tg := range alloc.Job.TaskGroups {
		if tg != nil && tg.Name != nil && *tg.Name == alloc.TaskGroup {
			return tg
		}
	}
	return nil
}

func allocTask(alloc *api.Allocation, task string) *api.Task {
	if tg := allocGroup(alloc); tg != nil {
		for _, t := range tg.Tasks {
			if t != nil && t.Name == task {
				return t
			}
		}
	}
	return nil
}

// allocTaskNames lists the tasks with a state: prestart tasks first,
// then the main tasks, then poststart and poststop ones, each by name.
func allocTaskNames(alloc *api.Allocation) []string {
	rank := func(name string) int {
		l := taskLifecycle(alloc, name)
		if l == nil {
			return 1
		}
		switch l.Hook {
		case "prestart":
			return 0
		case "poststart":
			return 2
		case "poststop":
			return 3
		}
		return 1
	}
	names := make([]string, 0, len(alloc.TaskStates))
	for n := range alloc.TaskStates {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

// formatTaskStatus is one task's section of "alloc status".
func formatTaskStatus(alloc *api.Allocation, name string, stats *api.AllocResourceUsage, detailed bool) string {
	var b strings.Builder
	st := alloc.TaskStates[name]
	if st == nil {
		st = &api.TaskState{}
	}
	lc := ""
	if l := taskLifecycle(alloc, name); l != nil && l.Hook != "" {
		if l.Sidecar {
			lc = fmt.Sprintf(" (%s sidecar)", l.Hook)
		} else {
			lc = fmt.Sprintf(" (%s)", l.Hook)
		}
	}
	b.WriteString(bold(fmt.Sprintf("Task %q%s is %q", name, lc, st.State)) + "\n")

	var usage *api.ResourceUsage
	if stats != nil {
		if tu := stats.Tasks[name]; tu != nil {
			usage = tu.ResourceUsage
		}
	}
	b.WriteString(bold("Task Resources") + "\n")
	b.WriteString(formatTaskResources(alloc, name, usage))
	b.WriteString("\n")
	if detailed && usage != nil {
		b.WriteString(formatDetailedStats(usage))
	}

	b.WriteString("\n" + bold("Task Events:") + "\n")
	b.WriteString(formatKV([]string{
		"Started At|" + timeOrNA(st.StartedAt),
		"Finished At|" + timeOrNA(st.FinishedAt),
		fmt.Sprintf("Total Restarts|%d", st.Restarts),
		"Last Restart|" + timeOrNA(st.LastRestart),
	}))
	b.WriteString("\n\n" + bold("Recent Events:") + "\n")
	rows := []string{"Time|Type|Description"}
	for i := len(st.Events) - 1; i >= 0; i-- {
		e := st.Events[i]
		if e == nil {
			continue
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s", formatUnixNano(e.Time), e.Type, eventDescription(e)))
	}
	b.WriteString(formatList(rows))
	b.WriteString("\n")
	return b.String()
}

func timeOrNA(t time.Time) string {
	if t.IsZero() || t.Unix() < 1 {
		return "N/A"
	}
	return formatTime(t)
}

// formatTaskResources is the "CPU  Memory  Disk  Addresses" table: usage
// over allocation while the task runs, the allocation alone otherwise.
func formatTaskResources(alloc *api.Allocation, name string, usage *api.ResourceUsage) string {
	var cpu, memMB, memMaxMB, diskMB int64
	var addrs []string
	if res := alloc.AllocatedResources; res != nil {
		diskMB = res.Shared.DiskMB
		if tr := res.Tasks[name]; tr != nil {
			cpu = tr.Cpu.CpuShares
			memMB = tr.Memory.MemoryMB
			memMaxMB = tr.Memory.MemoryMaxMB
			for _, n := range tr.Networks {
				if n == nil {
					continue
				}
				for _, p := range n.ReservedPorts {
					addrs = append(addrs, fmt.Sprintf("%s: %s:%d", p.Label, n.IP, p.Value))
				}
				for _, p := range n.DynamicPorts {
					addrs = append(addrs, fmt.Sprintf("%s: %s:%d", p.Label, n.IP, p.Value))
				}
			}
		}
	}
	const mib = 1 << 20
	cpuCell := fmt.Sprintf("%d MHz", cpu)
	memCell := humanBytes(int64(uint64(memMB) * mib))
	if usage != nil {
		if cs := usage.CpuStats; cs != nil {
			cpuCell = fmt.Sprintf("%d/%d MHz", int64(math.Floor(cs.TotalTicks)), cpu)
		}
		if ms := usage.MemoryStats; ms != nil {
			used := ms.Usage
			if ms.RSS > 0 || containsString(ms.Measured, "RSS") {
				used = ms.RSS
			}
			memCell = humanBytes(int64(used)) + "/" + memCell
		}
	}
	first := ""
	if len(addrs) > 0 {
		first = addrs[0]
	}
	rows := []string{
		"CPU|Memory|Disk|Addresses",
		fmt.Sprintf("%s|%s|%s|%s", cpuCell, memCell, humanBytes(int64(uint64(diskMB)*mib)), first),
	}
	var rest []string
	if len(addrs) > 1 {
		rest = addrs[1:]
	}
	if memMaxMB > memMB || len(rest) > 0 {
		max := ""
		if memMaxMB > memMB {
			max = "Max: " + humanBytes(int64(uint64(memMaxMB)*mib))
		}
		a := ""
		if len(rest) > 0 {
			a, rest = rest[0], rest[1:]
		}
		rows = append(rows, fmt.Sprintf("|%s||%s", max, a))
	}
	for _, a := range rest {
		rows = append(rows, "|||"+a)
	}
	return formatListWithSpaces(rows)
}

// formatDetailedStats is -stats: the measured memory and CPU figures.
func formatDetailedStats(u *api.ResourceUsage) string {
	var b strings.Builder
	if ms := u.MemoryStats; ms != nil {
		var head, vals []string
		add := func(name string, v uint64) {
			if len(ms.Measured) == 0 || containsString(ms.Measured, name) {
				head = append(head, name)
				vals = append(vals, humanBytes(int64(v)))
			}
		}
		add("RSS", ms.RSS)
		add("Cache", ms.Cache)
		add("Swap", ms.Swap)
		add("Usage", ms.Usage)
		if len(ms.Measured) == 0 || containsString(ms.Measured, "Max Usage") {
			head = append(head, "Max Usage")
			vals = append(vals, humanBytes(int64(ms.MaxUsage)))
		}
		if len(head) > 0 {
			b.WriteString("\nMemory Stats\n")
			b.WriteString(formatList([]string{strings.Join(head, "|"), strings.Join(vals, "|")}))
			b.WriteString("\n")
		}
	}
	if cs := u.CpuStats; cs != nil {
		var head, vals []string
		add := func(name, v string) {
			if len(cs.Measured) == 0 || containsString(cs.Measured, name) {
				head = append(head, name)
				vals = append(vals, v)
			}
		}
		add("Percent", fmt.Sprintf("%.2f%%", cs.Percent))
		add("System Mode", fmt.Sprintf("%.2f%%", cs.SystemMode))
		add("User Mode", fmt.Sprintf("%.2f%%", cs.UserMode))
		add("Total Ticks", fmt.Sprintf("%.0f", cs.TotalTicks))
		add("Throttled Periods", strconv.FormatUint(cs.ThrottledPeriods, 10))
		add("Throttled Time", strconv.FormatUint(cs.ThrottledTime, 10))
		if len(head) > 0 {
			b.WriteString("\nCPU Stats\n")
			b.WriteString(formatList([]string{strings.Join(head, "|"), strings.Join(vals, "|")}))
			b.WriteString("\n")
		}
	}
	return b.String()
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eventDescription is what "Recent Events" says about an event: the
// message the client wrote for people, else one built from its fields.
func eventDescription(e *api.TaskEvent) string {
	if e.DisplayMessage != "" {
		return e.DisplayMessage
	}
	switch e.Type {
	case "Received":
		return "Task received by client"
	case "Started":
		return "Task started by client"
	case "Killed":
		if e.KillError != "" {
			return e.KillError
		}
		return "Task successfully killed"
	case "Killing":
		if e.KillReason != "" {
			return e.KillReason
		}
		return fmt.Sprintf("Sent interrupt. Waiting %v before force killing", e.KillTimeout)
	case "Terminated":
		parts := []string{fmt.Sprintf("Exit Code: %d", e.ExitCode)}
		if e.Signal != 0 {
			parts = append(parts, fmt.Sprintf("Signal: %d", e.Signal))
		}
		if e.Message != "" {
			parts = append(parts, fmt.Sprintf("Exit Message: %q", e.Message))
		}
		return strings.Join(parts, ", ")
	case "Restarting":
		in := fmt.Sprintf("Task restarting in %v", time.Duration(e.StartDelay))
		if e.RestartReason != "" {
			return e.RestartReason + " - " + in
		}
		return in
	case "Driver Failure":
		if e.DriverError != "" {
			return e.DriverError
		}
	case "Driver":
		if e.DriverMessage != "" {
			return e.DriverMessage
		}
	case "Sibling Task Failed":
		if e.FailedSibling != "" {
			return fmt.Sprintf("Task's sibling %q failed", e.FailedSibling)
		}
	case "Setup Failure":
		if e.SetupError != "" {
			return e.SetupError
		}
	}
	return e.Message
}

// ---------------------------------------------------------------------
// alloc logs

type allocLogsFlags struct {
	stdout  bool
	stderr  bool
	follow  bool
	tail    bool
	job     bool
	verbose bool
	lines   int64
	bytes   int64
	task    string
	group   string
}

// newAllocLogsCommand builds "alloc logs" named use; path is how its
// examples spell it.
func newAllocLogsCommand(s *streams, use, path string) *cobra.Command {
	var f allocLogsFlags
	c := &cobra.Command{
		Use:   use + " <allocation> [<task>]",
		Short: "Print or follow the stdout and stderr logs of a task",
		Long: "Prints what a task of an allocation wrote to its standard output (the default)\n" +
			"or, with -stderr, its standard error. The task may be left out when the\n" +
			"allocation runs only one. -tail shows the end of the log (-n lines, 10 by\n" +
			"default, or -c bytes); -f keeps printing what the task writes until the\n" +
			"allocation stops or the command is interrupted, and without -stdout or\n" +
			"-stderr follows both streams. With -job the argument is a job, and one of\n" +
			"its allocations (a running one when there is one) is picked at random.\n" +
			"\"drover logs\" is the same command.",
		Example: "  " + path + " 6085301b redis\n" +
			"  " + path + " -stderr 6085301b\n" +
			"  " + path + " -tail -n 20 6085301b\n" +
			"  " + path + " -f 6085301b\n" +
			"  drover logs -job -stderr example",
		RunE: func(c *cobra.Command, args []string) error {
			if f.lines < 0 || f.bytes < 0 {
				return &usageError{cmd: c, msg: "-n and -c must not be negative"}
			}
			// -n and -c imply -tail; unset, they are -1.
			if c.Flags().Changed("n") {
				f.tail = true
			} else {
				f.lines = -1
			}
			if c.Flags().Changed("c") {
				f.tail = true
			} else {
				f.bytes = -1
			}
			return runAllocLogs(c.Context(), s, c, f, args)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.stdout, "stdout", false, "show the task's stdout log (the default)")
	fl.BoolVar(&f.stderr, "stderr", false, "show the task's stderr log")
	fl.BoolVarP(&f.follow, "f", "f", false, "keep printing new output until interrupted")
	fl.BoolVar(&f.follow, "follow", false, "same as -f")
	fl.BoolVar(&f.tail, "tail", false, "show the end of the log (see -n and -c)")
	fl.Int64VarP(&f.lines, "n", "n", 0, "show the last `lines` lines (implies -tail; -tail alone shows 10)")
	fl.Int64VarP(&f.bytes, "c", "c", 0, "show the last `bytes` bytes (implies -tail)")
	fl.BoolVar(&f.job, "job", false, "the argument is a job ID (or prefix): use one of its allocations, picked at random")
	fl.StringVar(&f.task, "task", "", "the task whose logs to show (instead of the second argument)")
	fl.StringVar(&f.group, "group", "", "with -job, pick an allocation of this task group")
	fl.BoolVar(&f.verbose, "verbose", false, "show full IDs")
	return c
}

// bytesPerLine is the guess of a line's length used to turn -n lines
// into a byte offset from the end of the log.
const bytesPerLine = 120

func runAllocLogs(ctx context.Context, s *streams, c *cobra.Command, f allocLogsFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case len(args) == 0 && f.job:
		return &usageError{cmd: c, msg: "A job ID is required"}
	case len(args) == 0:
		return &usageError{cmd: c, msg: "An allocation ID is required"}
	case len(args) > 2:
		return &usageError{cmd: c, msg: "This command takes one or two arguments: <allocation> [<task>]"}
	}
	if f.stdout && f.stderr && !f.follow {
		return &usageError{cmd: c, msg: "Unable to support both stdout and stderr"}
	}
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}

	alloc, err := findAlloc(client, args[0], f.job, f.group, f.verbose)
	if err != nil {
		return err
	}

	task := f.task
	if task == "" && len(args) == 2 {
		task = args[1]
	}
	task, err = pickTask(alloc, task)
	if err != nil {
		return fail(1, "Failed to validate task: %v", err)
	}

	if f.follow && !f.tail && f.stdout == f.stderr {
		return followBoth(ctx, s, client, alloc.ID, task)
	}
	stream := "stdout"
	if f.stderr {
		stream = "stderr"
	}
	start := int64(0)
	if f.tail {
		data, end, err := tailLog(ctx, client, alloc.ID, task, stream, f.lines, f.bytes)
		if err != nil {
			return fail(1, "Error reading %s logs: %v", stream, err)
		}
		s.Out.Write(data)
		if !f.follow {
			return nil
		}
		start = end
	}
	var err2 error
	if f.follow {
		err2 = followLog(ctx, client, alloc.ID, task, stream, start, s.Out)
	} else {
		_, err2 = readLog(ctx, client, alloc.ID, task, stream, "start", start, false, s.Out)
	}
	if err2 != nil {
		return fail(1, "Error reading %s logs: %v", stream, err2)
	}
	return nil
}

// followLog follows one log stream from offset until ctx ends or the
// allocation stops; then it prints what the task wrote last and returns.
func followLog(ctx context.Context, client *api.Client, allocID, task, stream string, offset int64, w io.Writer) error {
	return followAlloc(ctx, client, allocID,
		func(fctx context.Context) (int64, error) {
			return readLog(fctx, client, allocID, task, stream, "start", offset, true, w)
		},
		func(end int64) error {
			_, err := readLog(ctx, client, allocID, task, stream, "start", end, false, w)
			return err
		})
}

// followAlloc is the follow loop of "alloc logs -f" and "alloc fs -f":
// follow streams what is appended (until the context it is given ends)
// and returns the offset just past what it printed. Following ends when
// ctx ends or the allocation stops; in the second case the last chunk
// may still be unread (the stream was cut as the task wrote it), so rest
// prints what lies past that offset.
func followAlloc(ctx context.Context, client *api.Client, allocID string, follow func(context.Context) (int64, error), rest func(end int64) error) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		if waitAllocTerminal(fctx, client, allocID) {
			close(stopped)
			cancel()
		}
	}()
	end, err := follow(fctx)
	if err != nil {
		return err
	}
	select {
	case <-stopped:
		if ctx.Err() == nil {
			return rest(end)
		}
	default:
	}
	return nil
}

// waitAllocTerminal blocks until the client reports the allocation done
// (true) or ctx ends (false).
func waitAllocTerminal(ctx context.Context, client *api.Client, allocID string) bool {
	index := uint64(0)
	for {
		started := time.Now()
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: time.Minute}).WithContext(ctx)
		a, meta, err := client.Allocations().Info(allocID, q)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			switch a.ClientStatus {
			case "complete", "failed", "lost":
				return true
			}
			index = meta.LastIndex
		}
		// Never spin, whatever the agent answers.
		if d := time.Since(started); d < 200*time.Millisecond {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(200*time.Millisecond - d):
			}
		}
	}
}

// pickJobAlloc chooses an allocation of a job for -job: a random running
// one, else a random one of any status.
func pickJobAlloc(client *api.Client, prefix, group string) (*api.Allocation, error) {
	stub, err := findJob(client, prefix)
	if err != nil {
		return nil, fail(1, "%v", err)
	}
	jobID := stub.ID
	stubs, _, err := client.Jobs().Allocations(jobID, false, nil)
	if err != nil {
		return nil, fail(1, "Error querying job allocations: %v", err)
	}
	if group != "" {
		var in []*api.AllocationListStub
		for _, a := range stubs {
			if a.TaskGroup == group {
				in = append(in, a)
			}
		}
		if len(in) == 0 {
			return nil, fail(1, "task group %q doesn't exist or it has no allocations", group)
		}
		stubs = in
	}
	if len(stubs) == 0 {
		return nil, fail(1, "job %q doesn't exist or it has no allocations", jobID)
	}
	var running []*api.AllocationListStub
	for _, a := range stubs {
		if a.ClientStatus == "running" {
			running = append(running, a)
		}
	}
	if len(running) > 0 {
		stubs = running
	}
	pick := stubs[rand.IntN(len(stubs))]
	alloc, _, err := client.Allocations().Info(pick.ID, nil)
	if err != nil {
		return nil, fail(1, "Error querying allocation: %v", err)
	}
	return alloc, nil
}

// pickTask checks the task asked for, or picks the only one.
func pickTask(alloc *api.Allocation, task string) (string, error) {
	var names []string
	if tg := allocGroup(alloc); tg != nil {
		for _, t := range tg.Tasks {
			if t != nil {
				names = append(names, t.Name)
			}
		}
	} else {
		for n := range alloc.TaskStates {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	if task != "" {
		if !containsString(names, task) {
			return "", fmt.Errorf("Could not find task named: %s", task)
		}
		return task, nil
	}
	if len(names) == 1 {
		return names[0], nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Allocation %q is running the following tasks:\n", limit(alloc.ID, shortID))
	for _, n := range names {
		fmt.Fprintf(&b, "  * %s\n", n)
	}
	b.WriteString("\nPlease specify the task.")
	return "", errors.New(b.String())
}

// readLog copies one log stream of a task to w, from offset bytes after
// the start (or before the end) of the log, following it when asked until
// ctx ends or the agent closes the stream. It returns the offset just past
// the last byte written.
func readLog(ctx context.Context, client *api.Client, allocID, task, stream, origin string, offset int64, follow bool, w io.Writer) (int64, error) {
	q := (&api.QueryOptions{Params: map[string]string{
		"task":   task,
		"type":   stream,
		"origin": origin,
		"offset": strconv.FormatInt(offset, 10),
		"follow": strconv.FormatBool(follow),
	}}).WithContext(ctx)
	end := offset
	if origin != "start" {
		end = 0
	}
	body, err := client.Raw().Response("/v1/client/fs/logs/"+url.PathEscape(allocID), q)
	if err != nil {
		if ctx.Err() != nil {
			return end, nil
		}
		return end, err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var frame api.StreamFrame
		if err := dec.Decode(&frame); err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return end, nil
			}
			return end, err
		}
		if frame.IsHeartbeat() {
			continue
		}
		if len(frame.Data) > 0 {
			if _, err := w.Write(frame.Data); err != nil {
				return end, err
			}
		}
		if frame.Offset > 0 {
			end = frame.Offset
		}
	}
}

// tailLog returns the end of a log: its last lines (-n, 10 when neither
// -n nor -c is given) or last bytes (-c), and the offset where it ends.
func tailLog(ctx context.Context, client *api.Client, allocID, task, stream string, lines, nbytes int64) ([]byte, int64, error) {
	var end int64
	data, err := tailWindow(func(window int64) ([]byte, bool, error) {
		var buf bytes.Buffer
		var err error
		end, err = readLog(ctx, client, allocID, task, stream, "end", window, false, &buf)
		return buf.Bytes(), int64(buf.Len()) < window, err
	}, lines, nbytes)
	return data, end, err
}

// tailWindow returns the end of a log or file: its last lines (10 when
// neither lines nor nbytes is set) or its last nbytes bytes. read returns
// the last window bytes, and whether they are the whole content. Lines
// are found in a window (bytesPerLine per line) that grows until it holds
// enough of them or the whole content.
func tailWindow(read func(window int64) (data []byte, whole bool, err error), lines, nbytes int64) ([]byte, error) {
	if lines < 0 && nbytes >= 0 {
		data, _, err := read(nbytes)
		if int64(len(data)) > nbytes {
			data = data[int64(len(data))-nbytes:]
		}
		return data, err
	}
	if lines < 0 {
		lines = 10
	}
	window := max(lines*bytesPerLine, bytesPerLine)
	for {
		data, whole, err := read(window)
		if err != nil {
			return nil, err
		}
		// Enough lines, or all there is: cut it. Otherwise lines are
		// longer than guessed; look further back.
		if whole || countLines(data) > lines {
			return lastLines(data, lines), nil
		}
		window *= 4
	}
}

// countLines counts the line breaks, not counting a final one.
func countLines(data []byte) int64 {
	return int64(bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")))
}

// lastLines keeps the last n lines of data.
func lastLines(data []byte, n int64) []byte {
	if n <= 0 {
		return nil
	}
	body := bytes.TrimSuffix(data, []byte("\n"))
	for i := len(body) - 1; i >= 0; i-- {
		if body[i] == '\n' {
			n--
			if n == 0 {
				return data[i+1:]
			}
		}
	}
	return data
}

// followBoth follows stdout to the command's stdout and stderr to its
// stderr, from the current end of each, until ctx ends or the allocation
// stops.
func followBoth(ctx context.Context, s *streams, client *api.Client, allocID, task string) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, stream := range []string{"stdout", "stderr"} {
		w := s.Out
		if stream == "stderr" {
			w = s.Err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// First the recent tail, as the compatible CLI does, so that a
			// quiet task shows something; then what comes.
			data, end, err := tailLog(ctx, client, allocID, task, stream, -1, -1)
			if err == nil {
				w.Write(data)
				err = followLog(ctx, client, allocID, task, stream, end, w)
			}
			if err != nil {
				errs[i] = fmt.Errorf("Error reading %s logs: %v", stream, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fail(1, "%v", err)
		}
	}
	return nil
}
