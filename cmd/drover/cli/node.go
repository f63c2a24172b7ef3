package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// drainStdin is where "node drain" reads the answer to its confirmation
// question; a variable so tests can answer it.
var drainStdin io.Reader = os.Stdin

func newNodeCommand(s *streams) *cobra.Command {
	c := group("node", "Inspect and manage client nodes",
		"  drover node status\n  drover node status -self\n  drover node drain -self -enable",
		newNodeStatusCommand(s),
		newNodeDrainCommand(s),
		newNodeEligibilityCommand(s),
	)
	c.Long = "Lists the cluster's client nodes and shows one in detail, drains a node of its\n" +
		"allocations before maintenance, and switches whether the scheduler may place\n" +
		"new work on a node."
	return c
}

// legacyUsage makes usage errors of a hidden hyphenated command
// ("node-status") name the spaced command ("node status"), which is what
// its help calls it.
type legacyUsage []string

func (l legacyUsage) err(c *cobra.Command, msg string) error {
	if len(l) == 0 {
		return &usageError{cmd: c, msg: msg}
	}
	parent := &cobra.Command{Use: c.Root().Name()}
	for _, name := range l {
		child := &cobra.Command{Use: name}
		parent.AddCommand(child)
		parent = child
	}
	return &usageError{cmd: parent, msg: msg}
}

// ---------------------------------------------------------------------
// node status

type nodeStatusFlags struct {
	self    bool
	verbose bool
	out     outputFlags
	allocs  bool
	short   bool
	quiet   bool
	os      bool
	stats   bool
	// filter, perPage and pageToken select and page the node list.
	filter    string
	perPage   int
	pageToken string
}

func newNodeStatusCommand(s *streams) *cobra.Command {
	return buildNodeStatusCommand(s, "status [node]", nil)
}

// newNodeStatusLegacyCommand is the hidden "node-status" of older
// tutorials: the same command under its old name.
func newNodeStatusLegacyCommand(s *streams) *cobra.Command {
	c := buildNodeStatusCommand(s, "node-status [node]", legacyUsage{"node", "status"})
	c.Hidden = true
	return c
}

func buildNodeStatusCommand(s *streams, use string, legacy legacyUsage) *cobra.Command {
	var f nodeStatusFlags
	prog := "drover node status"
	if legacy != nil {
		prog = "drover node-status"
	}
	c := &cobra.Command{
		Use:   use,
		Short: "List client nodes or show one in detail",
		Long: "Without an argument, lists every client node: its ID, datacenter, name, class,\n" +
			"whether it is draining, whether the scheduler may place work on it and its\n" +
			"status (ready, down or initializing). With a node ID (or a prefix of at least\n" +
			"two characters), or with -self for the node of the agent being asked, shows\n" +
			"that node: its state and drain, its drivers, its recent events, the resources\n" +
			"its running allocations hold and its allocations.",
		Example: "  " + prog + "\n" +
			"  " + prog + " -self\n" +
			"  " + prog + " -allocs\n" +
			"  " + prog + " -verbose e84125ed",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return legacy.err(c, "This command takes either one or no arguments")
			}
			return runNodeStatus(s, f, args)
		},
	}
	c.Flags().BoolVar(&f.self, "self", false, "show the node of the agent being asked")
	c.Flags().BoolVar(&f.verbose, "verbose", false, "show full IDs and more detail")
	f.out.register(c, "the node (or the node list)")
	c.Flags().BoolVar(&f.allocs, "allocs", false, "add the number of running allocations to the list")
	c.Flags().BoolVar(&f.short, "short", false, "show only the node's summary and its allocations")
	c.Flags().BoolVar(&f.quiet, "quiet", false, "list only node IDs")
	c.Flags().BoolVar(&f.os, "os", false, "add each node's operating system to the list")
	c.Flags().BoolVar(&f.stats, "stats", false, "show the node's detailed CPU, memory and disk usage")
	c.Flags().StringVar(&f.filter, "filter", "", "list only the nodes this expression selects, e.g. 'Status == \"ready\"'")
	c.Flags().IntVar(&f.perPage, "per-page", 0, "list at most this many nodes (then how to get the next page)")
	c.Flags().StringVar(&f.pageToken, "page-token", "", "start the list at this page token")
	return c
}

func runNodeStatus(s *streams, f nodeStatusFlags, args []string) error {
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	length := shortID
	if f.verbose {
		length = fullID
	}
	if len(args) == 0 && !f.self {
		if err := listNodes(s, client, f, length); err != nil {
			return err
		}
		if !f.quiet && !f.out.active() {
			s.uiHint(hintNodes, "/ui/clients")
		}
		return nil
	}
	var nodeID string
	if len(args) == 1 {
		if nodeID, err = resolveNode(client, args[0], "No node(s) with prefix %q found", f.verbose); err != nil {
			return err
		}
	} else if nodeID, err = localNodeID(client); err != nil {
		return err
	}
	node, _, err := client.Nodes().Info(nodeID, nil)
	if err != nil {
		return fail(1, "Error querying node info: %v", err)
	}
	if f.out.active() {
		return f.out.print(s, node)
	}
	allocs, _, err := client.Nodes().Allocations(node.ID, nil)
	if err != nil {
		return fail(1, "Error querying node allocations: %v", err)
	}
	var usage nodeUsage
	if node.Status != api.NodeStatusDown {
		if usage.host, err = client.Nodes().Stats(node.ID, nil); err != nil {
			fmt.Fprintf(s.Err, "error fetching node stats: %v\n", err)
		}
		usage.allocs = allocUtilization(client, allocs)
	}
	fmt.Fprintln(s.Out, s.colorize(formatNodeDetail(node, allocs, usage, f, time.Now())))
	s.uiHint(hintNode, nodeUIPath(node.ID))
	return nil
}

// nodeUsage is what the node measures: the host, and the sum of its
// running allocations (nil when it could not be read).
type nodeUsage struct {
	host   *api.HostStats
	allocs *api.ResourceUsage
}

// allocUtilization sums the measured usage of the running allocations; it
// gives up (nil) on the first one that cannot be read, as a partial sum
// would mislead.
func allocUtilization(client *api.Client, allocs []*api.Allocation) *api.ResourceUsage {
	sum := &api.ResourceUsage{MemoryStats: &api.MemoryStats{}, CpuStats: &api.CpuStats{}}
	for _, a := range allocs {
		if a.ClientStatus != api.AllocClientStatusRunning {
			continue
		}
		st, err := client.Allocations().Stats(a, nil)
		if err != nil || st.ResourceUsage == nil {
			return nil
		}
		if m := st.ResourceUsage.MemoryStats; m != nil {
			sum.MemoryStats.RSS += m.RSS
			sum.MemoryStats.Usage += m.Usage
		}
		if c := st.ResourceUsage.CpuStats; c != nil {
			sum.CpuStats.TotalTicks += c.TotalTicks
		}
	}
	return sum
}

func listNodes(s *streams, client *api.Client, f nodeStatusFlags, length int) error {
	q := &api.QueryOptions{Filter: f.filter, PerPage: int32(f.perPage), NextToken: f.pageToken}
	if f.os {
		q.Params = map[string]string{"os": "true"}
	}
	nodes, meta, err := client.Nodes().List(q)
	if err != nil {
		return fail(1, "Error querying node status: %v", err)
	}
	if f.out.active() {
		return f.out.print(s, nodes)
	}
	if len(nodes) == 0 {
		fmt.Fprintln(s.Out, "No nodes registered")
		return nil
	}
	if f.quiet {
		for _, n := range nodes {
			fmt.Fprintln(s.Out, limit(n.ID, length))
		}
		return nil
	}
	running := map[string]int{}
	if f.allocs {
		allocs, _, err := client.Allocations().List(nil)
		if err != nil {
			return fail(1, "Error querying node allocations: %v", err)
		}
		for _, a := range allocs {
			if a.ClientStatus == api.AllocClientStatusRunning {
				running[a.NodeID]++
			}
		}
	}
	rows := nodeStubRows(nodes, f.verbose, length)
	if f.os {
		for i, row := range rows {
			os := "OS"
			if i > 0 {
				os = nodes[i-1].Attributes["os.name"]
			}
			// After Class, the fourth column.
			cells := strings.SplitN(row, "|", 5)
			rows[i] = strings.Join(append(cells[:4], os, cells[4]), "|")
		}
	}
	if f.allocs {
		rows[0] += "|Running Allocs"
		for i, n := range nodes {
			rows[i+1] += fmt.Sprintf("|%d", running[n.ID])
		}
	}
	fmt.Fprintln(s.Out, formatList(rows))
	s.printNextPage(meta.NextToken, "node", "status")
	return nil
}

// nodeStubRows is the node table: a header and one row per node.
func nodeStubRows(nodes []*api.NodeListStub, verbose bool, length int) []string {
	header := "ID|DC|Name|Class|Drain|Eligibility|Status"
	if verbose {
		header = "ID|DC|Name|Class|Address|Version|Drain|Eligibility|Status"
	}
	rows := []string{header}
	for _, n := range nodes {
		row := fmt.Sprintf("%s|%s|%s|%s", limit(n.ID, length), n.Datacenter, n.Name, n.NodeClass)
		if verbose {
			row += fmt.Sprintf("|%s|%s", n.Address, n.Version)
		}
		row += fmt.Sprintf("|%v|%s|%s", n.Drain, n.SchedulingEligibility, n.Status)
		rows = append(rows, row)
	}
	return rows
}

// nodeWords are how a command words the failures of a node lookup; the
// compatible CLI's commands each have their own.
type nodeWords struct {
	tooShort string // the prefix has one character
	query    string // the query failed: a format with %v
	notFound string // nothing matches: a format with %q
	verbose  bool   // list several matches with full IDs
}

// statusNodeWords are node status's (and node drain's) words.
func statusNodeWords(notFound string, verbose bool) nodeWords {
	return nodeWords{tooShort: "Identifier must contain at least two characters.",
		query: "Error querying node info: %v", notFound: notFound, verbose: verbose}
}

// lookupNode turns a node ID or ID prefix into the node's full ID. An odd
// prefix loses its last character, as IDs are matched by whole bytes;
// several matches are listed.
func lookupNode(client *api.Client, prefix string, w nodeWords) (string, error) {
	if len(prefix) == 1 {
		return "", errors.New(w.tooShort)
	}
	prefix = sanitizeIDPrefix(prefix)
	nodes, _, err := client.Nodes().PrefixList(prefix)
	if err != nil {
		return "", fmt.Errorf(w.query, err)
	}
	for _, n := range nodes {
		if n.ID == prefix {
			return n.ID, nil
		}
	}
	switch len(nodes) {
	case 0:
		return "", fmt.Errorf(w.notFound, prefix)
	case 1:
		return nodes[0].ID, nil
	}
	length := shortID
	if w.verbose {
		length = fullID
	}
	return "", fmt.Errorf("Prefix matched multiple nodes\n\n%s", formatList(nodeStubRows(nodes, w.verbose, length)))
}

// resolveNode is lookupNode with node status's words, as a command error.
func resolveNode(client *api.Client, prefix, notFound string, verbose bool) (string, error) {
	id, err := lookupNode(client, prefix, statusNodeWords(notFound, verbose))
	if err != nil {
		return "", fail(1, "%v", err)
	}
	return id, nil
}

// localNodeID is the node of the client agent being asked (-self).
func localNodeID(client *api.Client) (string, error) {
	self, err := client.Agent().Self()
	if err != nil {
		return "", fail(1, "Error querying agent info: %v", err)
	}
	id := self.Stats["client"]["node_id"]
	if id == "" {
		return "", fail(1, "Drover not running in client mode")
	}
	return id, nil
}

func formatNodeDetail(node *api.Node, allocs []*api.Allocation, usage nodeUsage, f nodeStatusFlags, now time.Time) string {
	length := shortID
	if f.verbose {
		length = fullID
	}
	var b strings.Builder
	head := []string{
		"ID|" + node.ID,
		"Name|" + node.Name,
		"Class|" + node.NodeClass,
		"DC|" + node.Datacenter,
		"Drain|" + nodeDrainText(node),
		"Eligibility|" + node.SchedulingEligibility,
		"Status|" + node.Status,
	}
	head = append(append(head, uptimeRow(usage.host)...), "Driver Status|"+nodeDriverStatus(node))
	b.WriteString(formatKV(head))
	if !f.short {
		b.WriteString("\n\n" + bold("Node Events") + "\n")
		b.WriteString(formatList(nodeEventRows(node.Events)))
		if f.verbose {
			b.WriteString("\n\n" + bold("Drivers") + "\n")
			b.WriteString(formatList(nodeDriverRows(node.Drivers)))
		}
		b.WriteString("\n\n" + bold("Allocated Resources") + "\n")
		b.WriteString(formatList(allocatedResourceRows(node, allocs)))
		totalCPU, totalMem, _ := nodeCapacity(node)
		if usage.allocs != nil {
			b.WriteString("\n\n" + bold("Allocation Resource Utilization") + "\n")
			b.WriteString(formatList([]string{"CPU|Memory", fmt.Sprintf("%d/%d MHz|%s/%s",
				int64(math.Floor(usage.allocs.CpuStats.TotalTicks)), totalCPU,
				humanBytes(int64(memoryUsed(usage.allocs.MemoryStats))), humanBytes(totalMem*1024*1024))}))
		}
		if h := usage.host; h != nil && h.Memory != nil {
			b.WriteString("\n\n" + bold("Host Resource Utilization") + "\n")
			b.WriteString(formatList(hostUtilizationRows(node, h)))
		}
		if f.stats && usage.host != nil {
			b.WriteString(formatHostStats(usage.host))
		}
		if f.verbose {
			b.WriteString("\n\n" + bold("Attributes") + "\n")
			b.WriteString(formatKV(sortedKV(node.Attributes)))
			if len(node.Meta) > 0 {
				b.WriteString("\n\n" + bold("Meta") + "\n")
				b.WriteString(formatKV(sortedKV(node.Meta)))
			}
		}
	}
	b.WriteString("\n\n" + bold("Allocations") + "\n")
	if len(allocs) == 0 {
		b.WriteString("No allocations placed")
	} else {
		b.WriteString(formatList(nodeAllocRows(allocs, f.verbose, length, now)))
	}
	return b.String()
}

// nodeDrainText is the Drain line: false, or true with the drain's
// deadline and whether system jobs stay.
func nodeDrainText(node *api.Node) string {
	d := node.DrainStrategy
	if d == nil {
		return fmt.Sprintf("%v", node.Drain)
	}
	var text string
	switch {
	case d.Deadline < 0:
		text = "true; force drain"
	case d.Deadline == 0 || d.ForceDeadline.IsZero():
		text = "true; no deadline"
	default:
		text = fmt.Sprintf("true; %s deadline", formatTime(d.ForceDeadline))
	}
	if d.IgnoreSystemJobs {
		text += "; ignoring system jobs"
	}
	return text
}

// nodeDriverStatus lists the detected drivers, sorted, marking the ones
// that are not healthy.
func nodeDriverStatus(node *api.Node) string {
	var names []string
	for name, d := range node.Drivers {
		if d == nil || !d.Detected {
			continue
		}
		if !d.Healthy {
			name += " (unhealthy)"
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func nodeDriverRows(drivers map[string]*api.DriverInfo) []string {
	names := make([]string, 0, len(drivers))
	for name := range drivers {
		names = append(names, name)
	}
	sort.Strings(names)
	rows := []string{"Driver|Detected|Healthy|Message|Time"}
	for _, name := range names {
		d := drivers[name]
		if d == nil {
			continue
		}
		rows = append(rows, fmt.Sprintf("%s|%v|%v|%s|%s", name, d.Detected, d.Healthy,
			oneLine(d.HealthDescription), formatTime(d.UpdateTime)))
	}
	return rows
}

// nodeEventRows lists a node's events, newest first.
func nodeEventRows(events []*api.NodeEvent) []string {
	sorted := append([]*api.NodeEvent(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Timestamp.Equal(sorted[j].Timestamp) {
			return sorted[i].Timestamp.After(sorted[j].Timestamp)
		}
		return sorted[i].CreateIndex > sorted[j].CreateIndex
	})
	rows := []string{"Time|Subsystem|Message"}
	for _, e := range sorted {
		if e == nil {
			continue
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s", formatTime(e.Timestamp), e.Subsystem, oneLine(e.Message)))
	}
	return rows
}

// oneLine keeps a message from breaking a table: no newlines, no "|".
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", "/")
}

func sortedKV(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rows := make([]string, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, k+"|"+oneLine(m[k]))
	}
	return rows
}

// allocatedResourceRows sums what the node's running allocations hold
// against what the node offers (its resources minus the reserved part).
func allocatedResourceRows(node *api.Node, allocs []*api.Allocation) []string {
	var cpu, mem, disk int64
	for _, a := range allocs {
		if a.ClientStatus != api.AllocClientStatusRunning || a.AllocatedResources == nil {
			continue
		}
		for _, t := range a.AllocatedResources.Tasks {
			if t == nil {
				continue
			}
			cpu += t.Cpu.CpuShares
			mem += t.Memory.MemoryMB
		}
		disk += a.AllocatedResources.Shared.DiskMB
	}
	totalCPU, totalMem, totalDisk := nodeCapacity(node)
	return []string{
		"CPU|Memory|Disk",
		fmt.Sprintf("%d/%d MHz|%s/%s|%s/%s", cpu, totalCPU,
			humanBytes(mem*1024*1024), humanBytes(totalMem*1024*1024),
			humanBytes(disk*1024*1024), humanBytes(totalDisk*1024*1024)),
	}
}

// humanBytes prints a byte count in binary units with at most one
// decimal below ten: "300 MiB", "7.7 GiB", "1008 KiB", "5 B".
func humanBytes(n int64) string {
	if n < 0 {
		return "-" + humanBytes(-n)
	}
	if n < 10 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	e := math.Floor(math.Log(float64(n)) / math.Log(1024))
	if int(e) >= len(units) {
		e = float64(len(units) - 1)
	}
	v := math.Floor(float64(n)/math.Pow(1024, e)*10+0.5) / 10
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, units[int(e)])
	}
	return fmt.Sprintf("%.0f %s", v, units[int(e)])
}

// nodeAllocRows is the allocation table of a node, in the order given
// (the client sorts by creation, newest first).
func nodeAllocRows(allocs []*api.Allocation, verbose bool, length int, now time.Time) []string {
	header := "ID|Node ID|Task Group|Version|Desired|Status|Created|Modified"
	if verbose {
		header = "ID|Eval ID|Node ID|Node Name|Task Group|Version|Desired|Status|Created|Modified"
	}
	rows := []string{header}
	for _, a := range allocs {
		var version uint64
		if a.Job != nil && a.Job.Version != nil {
			version = *a.Job.Version
		}
		created, modified := time.Unix(0, a.CreateTime), time.Unix(0, a.ModifyTime)
		if verbose {
			rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%s|%d|%s|%s|%s|%s",
				limit(a.ID, length), limit(a.EvalID, length), limit(a.NodeID, length), a.NodeName,
				a.TaskGroup, version, a.DesiredStatus, a.ClientStatus,
				formatTime(created), formatTime(modified)))
			continue
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s|%d|%s|%s|%s|%s",
			limit(a.ID, length), limit(a.NodeID, length), a.TaskGroup, version,
			a.DesiredStatus, a.ClientStatus, prettyTimeDiff(created, now), prettyTimeDiff(modified, now)))
	}
	return rows
}

// ---------------------------------------------------------------------
// node drain

type nodeDrainFlags struct {
	addr           string
	self           bool
	enable         bool
	disable        bool
	deadline       string
	force          bool
	noDeadline     bool
	ignoreSystem   bool
	keepIneligible bool
	detach         bool
	monitor        bool
	yes            bool
	message        string
	meta           []string
}

func newNodeDrainCommand(s *streams) *cobra.Command {
	return buildNodeDrainCommand(s, "drain [node]", nil)
}

// newNodeDrainLegacyCommand is the hidden "node-drain" of older
// tutorials: the same command under its old name.
func newNodeDrainLegacyCommand(s *streams) *cobra.Command {
	c := buildNodeDrainCommand(s, "node-drain [node]", legacyUsage{"node", "drain"})
	c.Hidden = true
	return c
}

func buildNodeDrainCommand(s *streams, use string, legacy legacyUsage) *cobra.Command {
	var f nodeDrainFlags
	prog := "drover node drain"
	if legacy != nil {
		prog = "drover node-drain"
	}
	c := &cobra.Command{
		Use:   use,
		Short: "Drain a node of its allocations, or stop draining it",
		Long: "With -enable, marks the node ineligible for new work and migrates its\n" +
			"allocations to other nodes, a few at a time as their groups' migrate blocks\n" +
			"allow; whatever is left when the deadline (-deadline, default 1h) passes is\n" +
			"stopped. -force stops everything at once, -no-deadline waits for ever, and\n" +
			"-ignore-system leaves system jobs running. Unless -detach is given, the command\n" +
			"then follows the drain until it completes (Ctrl-C stops following, not the\n" +
			"drain). -disable ends a drain and makes the node eligible again (unless\n" +
			"-keep-ineligible); -monitor alone follows a drain already under way. The node\n" +
			"is a node ID, a prefix of one, or -self for the agent's own node; a prefix\n" +
			"asks for confirmation unless -yes is given.",
		Example: "  " + prog + " -self -enable\n" +
			"  " + prog + " -enable -yes e84125ed\n" +
			"  " + prog + " -enable -deadline 10m -detach e84125ed\n" +
			"  " + prog + " -self -disable",
		RunE: func(c *cobra.Command, args []string) error {
			return runNodeDrain(c, s, f, args, legacy)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.self, "self", false, "drain the node of the agent being asked")
	fl.BoolVar(&f.enable, "enable", false, "start draining the node")
	fl.BoolVar(&f.disable, "disable", false, "stop draining the node")
	fl.StringVar(&f.deadline, "deadline", "1h", "how long allocations may take to migrate before they are stopped")
	fl.BoolVar(&f.force, "force", false, "stop every allocation at once (no deadline to wait for)")
	fl.BoolVar(&f.noDeadline, "no-deadline", false, "never force allocations off the node")
	fl.BoolVar(&f.ignoreSystem, "ignore-system", false, "leave system jobs' allocations running")
	fl.BoolVar(&f.keepIneligible, "keep-ineligible", false, "with -disable, leave the node ineligible for new work")
	fl.BoolVar(&f.detach, "detach", false, "return once the drain is set instead of following it")
	fl.BoolVar(&f.monitor, "monitor", false, "follow a drain already under way")
	fl.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	fl.StringVarP(&f.message, "m", "m", "", "a message recorded with the drain")
	fl.StringArrayVar(&f.meta, "meta", nil, "metadata recorded with the drain, as key=value (repeatable)")
	return c
}

func runNodeDrain(c *cobra.Command, s *streams, f nodeDrainFlags, args []string, legacy legacyUsage) error {
	if !f.enable && !f.disable && !f.monitor {
		return legacy.err(c, "Either the '-enable' or '-disable' flag must be set, unless using '-monitor'")
	}
	if f.enable && f.disable {
		return legacy.err(c, "Only one of the '-enable' or '-disable' flags may be set")
	}
	if f.monitor && (f.enable || f.disable || f.detach) {
		return legacy.err(c, "The '-monitor' flag cannot be used with the '-enable', '-disable' or '-detach' flags")
	}
	if n := len(args); (f.self && n != 0) || (!f.self && n != 1) {
		return legacy.err(c, "Node ID must be specified if -self isn't being used")
	}
	deadlineSet := c.Flags().Changed("deadline")
	if f.disable && (deadlineSet || f.force || f.noDeadline || f.ignoreSystem) {
		return legacy.err(c, "-disable can't be combined with flags configuring drain strategy")
	}
	if deadlineSet && (f.force || f.noDeadline) {
		return legacy.err(c, "-deadline can't be combined with -force or -no-deadline")
	}
	if f.force && f.noDeadline {
		return legacy.err(c, "-force and -no-deadline are mutually exclusive")
	}
	var deadline time.Duration
	switch {
	case f.force:
		deadline = -time.Second
	case f.noDeadline:
		deadline = 0
	default:
		d, err := time.ParseDuration(f.deadline)
		if err != nil {
			return fail(1, "Failed to parse deadline %q: %v", f.deadline, err)
		}
		if d <= 0 {
			return fail(1, "A positive drain duration must be given")
		}
		deadline = d
	}
	meta := map[string]string{}
	for _, kv := range f.meta {
		k, v, _ := strings.Cut(kv, "=")
		meta[k] = v
	}
	if f.message != "" {
		meta["message"] = f.message
	}

	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	var nodeID string
	if f.self {
		if nodeID, err = localNodeID(client); err != nil {
			return err
		}
	} else if nodeID, err = resolveNode(client, args[0], "No node(s) with prefix or id %q found", false); err != nil {
		return err
	}

	if f.monitor {
		node, meta, err := client.Nodes().Info(nodeID, nil)
		if err != nil {
			return fail(1, "Error querying node info: %v", err)
		}
		if node.DrainStrategy == nil {
			fmt.Fprintln(s.Out, "No drain strategy set")
			return nil
		}
		fmt.Fprintf(s.Out, "%s: Monitoring node %q: Ctrl-C to detach monitoring\n", formatTime(time.Now()), nodeID)
		return monitorNodeDrain(c, s, client, nodeID, meta.LastIndex, f.ignoreSystem)
	}

	// A prefix might have matched a node the user did not mean.
	if !f.self && !f.yes && args[0] != nodeID {
		verb := "enable"
		if f.disable {
			verb = "disable"
		}
		q := fmt.Sprintf("Are you sure you want to %s drain mode for node %q? [y/N]", verb, nodeID)
		if ok, err := confirmDrainToggle(s, q, "Canceling drain toggle"); !ok {
			return err
		}
	}

	opts := &api.DrainOptions{MarkEligible: !f.keepIneligible, Meta: meta}
	if f.enable {
		opts.DrainSpec = &api.DrainSpec{Deadline: deadline, IgnoreSystemJobs: f.ignoreSystem}
	}
	if len(opts.Meta) == 0 {
		opts.Meta = nil
	}
	resp, err := client.Nodes().UpdateDrainOpts(nodeID, opts, nil)
	if err != nil {
		return fail(1, "Error updating drain specification: %v", err)
	}
	if f.disable {
		fmt.Fprintf(s.Out, "Node %q drain strategy unset\n", nodeID)
		return nil
	}
	if f.detach {
		fmt.Fprintf(s.Out, "Node %q drain strategy set\n", nodeID)
		return nil
	}
	now := formatTime(time.Now())
	fmt.Fprintf(s.Out, "%s: Ctrl-C to stop monitoring: will not cancel the node drain\n", now)
	fmt.Fprintf(s.Out, "%s: Node %q drain strategy set\n", now, nodeID)
	return monitorNodeDrain(c, s, client, nodeID, resp.LastIndex, f.ignoreSystem)
}

// monitorNodeDrain follows a drain until the node has no drain strategy
// and none of its allocations run, printing what happens.
func monitorNodeDrain(c *cobra.Command, s *streams, client *api.Client, nodeID string, index uint64, ignoreSys bool) error {
	failed := false
	for msg := range client.Nodes().MonitorDrain(c.Context(), nodeID, index, ignoreSys) {
		line := fmt.Sprintf("%s: %s\n", formatTime(time.Now()), msg.Message)
		switch msg.Level {
		case api.MonitorMsgLevelWarn:
			fmt.Fprint(s.Err, line)
		case api.MonitorMsgLevelError:
			fmt.Fprint(s.Err, line)
			failed = true
		default:
			fmt.Fprint(s.Out, line)
		}
	}
	if failed {
		return fail(1, "")
	}
	return nil
}

// confirmDrainToggle asks a yes/no question on the terminal. Only an exact "y"
// goes ahead; an empty answer or one starting with "n" cancels, printing
// cancelMsg, with exit code 0; anything else is an error.
func confirmDrainToggle(s *streams, question, cancelMsg string) (bool, error) {
	fmt.Fprint(s.Out, question+" ")
	line, err := bufio.NewReader(drainStdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, fail(1, "Failed to parse answer: %v", err)
	}
	answer := strings.TrimSpace(line)
	lower := strings.ToLower(answer)
	switch {
	case answer == "y":
		return true, nil
	case lower == "" || strings.HasPrefix(lower, "n"):
		fmt.Fprintln(s.Out, cancelMsg)
		return false, nil
	case lower == "y" || lower == "yes":
		return false, fail(1, "For confirmation, an exact ‘y’ is required.")
	default:
		return false, fail(1, "No confirmation detected. For confirmation, an exact 'y' is required.")
	}
}

// ---------------------------------------------------------------------
// node eligibility

func newNodeEligibilityCommand(s *streams) *cobra.Command {
	var enable, disable, self bool
	c := &cobra.Command{
		Use:   "eligibility [node]",
		Short: "Allow or forbid placing new work on a node",
		Long: "-disable marks a node ineligible: the scheduler places no new allocations on\n" +
			"it, while the ones it runs keep running. -enable makes it eligible again (not\n" +
			"possible while it drains). The node is a node ID, a prefix of one, or -self\n" +
			"for the agent's own node.",
		Example: "  drover node eligibility -self -disable\n" +
			"  drover node eligibility -enable e84125ed",
		RunE: func(c *cobra.Command, args []string) error {
			if enable == disable {
				return &usageError{cmd: c, msg: "Either the '-enable' or '-disable' flag must be set"}
			}
			if n := len(args); (self && n != 0) || (!self && n != 1) {
				return &usageError{cmd: c, msg: "Node ID must be specified if -self isn't being used"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			var nodeID string
			if self {
				if nodeID, err = localNodeID(client); err != nil {
					return err
				}
			} else {
				nodeID = args[0]
			}
			// The node (the local one too) is looked up by prefix, with
			// this command's own wording of the failures.
			nodeID, err = lookupNode(client, nodeID, nodeWords{tooShort: "Identifier must contain at least two characters.",
				query: "Error updating scheduling eligibility: %v", notFound: "No node(s) with prefix or id %q found", verbose: true})
			if err != nil {
				return fail(1, "%v", err)
			}
			if _, err := client.Nodes().ToggleEligibility(nodeID, enable, nil); err != nil {
				return fail(1, "Error updating scheduling eligibility: %v", err)
			}
			state := "eligible"
			if disable {
				state = "ineligible"
			}
			fmt.Fprintf(s.Out, "Node %q scheduling eligibility set: %s for scheduling\n", nodeID, state)
			return nil
		},
	}
	c.Flags().BoolVar(&enable, "enable", false, "make the node eligible for new work")
	c.Flags().BoolVar(&disable, "disable", false, "make the node ineligible for new work")
	c.Flags().BoolVar(&self, "self", false, "act on the node of the agent being asked")
	return c
}

// nodeCapacity is what the node offers to allocations: its resources less
// the reserved ones (CPU in MHz, memory and disk in MB).
func nodeCapacity(node *api.Node) (cpu, memMB, diskMB int64) {
	if r := node.NodeResources; r != nil {
		cpu, memMB, diskMB = r.Cpu.CpuShares, r.Memory.MemoryMB, r.Disk.DiskMB
	}
	if r := node.ReservedResources; r != nil {
		cpu -= int64(r.Cpu.CpuShares)
		memMB -= int64(r.Memory.MemoryMB)
		diskMB -= int64(r.Disk.DiskMB)
	}
	return cpu, memMB, diskMB
}

// memoryUsed is the memory figure the compatible CLI shows: RSS, else the
// cgroup's usage.
func memoryUsed(m *api.MemoryStats) uint64 {
	if m == nil {
		return 0
	}
	if m.RSS > 0 {
		return m.RSS
	}
	return m.Usage
}

// uptimeRow is the Uptime line, when the host could be measured.
func uptimeRow(h *api.HostStats) []string {
	if h == nil {
		return nil
	}
	return []string{"Uptime|" + (time.Duration(h.Uptime) * time.Second).String()}
}

// hostUtilizationRows is the "Host Resource Utilization" table: the MHz in
// use of the machine's, its memory and the allocation directory's disk.
func hostUtilizationRows(node *api.Node, h *api.HostStats) []string {
	var totalCPU int64
	if r := node.NodeResources; r != nil {
		totalCPU = r.Cpu.CpuShares
	}
	row := fmt.Sprintf("%d/%d MHz|%s/%s", int64(math.Floor(h.CPUTicksConsumed)), totalCPU,
		humanBytes(int64(h.Memory.Used)), humanBytes(int64(h.Memory.Total)))
	header := "CPU|Memory"
	if d := h.AllocDirStats; d != nil {
		header += "|Disk"
		row += fmt.Sprintf("|%s/%s", humanBytes(int64(d.Used)), humanBytes(int64(d.Size)))
	}
	return []string{header, row}
}

// formatHostStats is node status -stats: each core's use, the memory and
// the disk in detail.
func formatHostStats(h *api.HostStats) string {
	var b strings.Builder
	b.WriteString("\n\n" + bold("CPU Stats") + "\n")
	for i, c := range h.CPU {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(formatKV([]string{"CPU|" + c.CPU, fmt.Sprintf("User|%.2f%%", c.User),
			fmt.Sprintf("System|%.2f%%", c.System), fmt.Sprintf("Idle|%.2f%%", c.Idle)}))
	}
	if m := h.Memory; m != nil {
		b.WriteString("\n\n" + bold("Memory Stats") + "\n")
		b.WriteString(formatKV([]string{"Total|" + humanBytes(int64(m.Total)), "Available|" + humanBytes(int64(m.Available)),
			"Used|" + humanBytes(int64(m.Used)), "Free|" + humanBytes(int64(m.Free))}))
	}
	for _, d := range h.DiskStats {
		b.WriteString("\n\n" + bold("Disk Stats") + "\n")
		b.WriteString(formatKV([]string{"Device|" + d.Device, "MountPoint|" + d.Mountpoint,
			"Size|" + humanBytes(int64(d.Size)), "Used|" + humanBytes(int64(d.Used)),
			"Available|" + humanBytes(int64(d.Available)), fmt.Sprintf("Used Percent|%.2f%%", d.UsedPercent),
			fmt.Sprintf("Inodes Percent|%.2f%%", d.InodesUsedPercent)}))
	}
	return b.String()
}
