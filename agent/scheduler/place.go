package scheduler

import (
	"hash/fnv"
	"math"
	"math/rand"
	"sort"

	"drover/agent/structs"
)

// Default dynamic port range, used when a node does not declare its own.
const (
	defaultMinDynamicPort = 20000
	defaultMaxDynamicPort = 32000
)

// placer decides where placements go. It keeps its own view of every
// node's usage, including what the plan adds and removes so far, so each
// placement sees the ones before it and two allocations never share a
// port or over-commit a node within one evaluation. (Across evaluations
// the plan applier re-checks.)
type placer struct {
	state    State
	job      *structs.Job
	nodes    []*structs.Node // ready nodes in the job's datacenters and pool, in visiting order
	poolSize int
	dcCount  map[string]int
	usage    map[string]*nodeUsage
	stopped  map[string]bool         // allocation IDs the plan stops
	filters  map[string][]nodeFilter // per task group, per node in visiting order
	// capacities caches each node's Comparable(), per node in visiting order.
	capacities    []structs.ComparableResources
	capacityKnown []bool
	// usageAt is usage again, per node in visiting order, so a visit
	// needs no lookup by ID.
	usageAt        []*nodeUsage
	nodesAvailable map[string]int
	// classes records, per task group, each computed node class whose
	// feasibility was checked and whether any node of it passed, for the
	// blocked evaluation of what could not be placed.
	classes map[string]map[string]bool
	rng     *rand.Rand
	offset  int
	limit   int
}

// nodeUsage is what is taken on one node, as one evaluation's placer sees
// it: the resources and ports of every allocation, and how many of them
// belong to the placer's own job (for distinct_hosts) and to each of its
// groups (for anti-affinity). Other jobs' allocations are not counted:
// no decision reads them, and counting them was most of the cost of
// visiting a node in a full cluster.
type nodeUsage struct {
	used  structs.ComparableResources
	ports map[int]bool // nil until an allocation holds a port
	// job counts the placer's job's allocations; groups, per group name.
	job    int
	groups map[string]int
}

func newPlacer(st State, job *structs.Job, all []*structs.Node, evalID string) *placer {
	p := &placer{
		state:   st,
		job:     job,
		dcCount: map[string]int{},
		usage:   map[string]*nodeUsage{},
		stopped: map[string]bool{},
		filters: map[string][]nodeFilter{},
		classes: map[string]map[string]bool{},
		rng:     rand.New(rand.NewSource(seed(evalID))),
	}
	for _, n := range all {
		if n.NodePool != "" && job.NodePool != "" && job.NodePool != "all" && n.NodePool != job.NodePool {
			continue
		}
		if !inDatacenters(n.Datacenter, job.Datacenters) {
			continue
		}
		p.poolSize++
		if !n.Ready() {
			continue
		}
		p.dcCount[n.Datacenter]++
		p.nodes = append(p.nodes, n)
	}
	// Visit nodes in a shuffled but reproducible order: spreads work over
	// equal nodes and keeps tests deterministic for a given evaluation.
	sort.Slice(p.nodes, func(i, j int) bool { return p.nodes[i].ID < p.nodes[j].ID })
	p.rng.Shuffle(len(p.nodes), func(i, j int) { p.nodes[i], p.nodes[j] = p.nodes[j], p.nodes[i] })
	// Score only a few feasible nodes per placement, as the Nomad
	// scheduler does: log2 of the cluster size is enough to find a good
	// node and keeps large clusters fast. Batch work scores two.
	p.limit = 2
	if job.Type != structs.JobTypeBatch && len(p.nodes) > 4 {
		p.limit = int(math.Ceil(math.Log2(float64(len(p.nodes)))))
	}
	return p
}

func seed(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

// nodeUsage returns the usage of a node, computed from state on first use.
func (p *placer) nodeUsage(nodeID string) (*nodeUsage, error) {
	if u, ok := p.usage[nodeID]; ok {
		return u, nil
	}
	allocs, err := p.state.AllocsOnNode(nil, nodeID)
	if err != nil {
		return nil, err
	}
	u := &nodeUsage{}
	for _, a := range allocs {
		if a.TerminalStatus() || (len(p.stopped) > 0 && p.stopped[a.ID]) {
			continue
		}
		u.add(p.job.ID, a)
	}
	p.usage[nodeID] = u
	return u, nil
}

// add counts a on the node; jobID is the placer's job.
func (u *nodeUsage) add(jobID string, a *structs.Allocation) {
	u.used.Add(a.Comparable())
	a.EachHostPort(func(port int) {
		if u.ports == nil {
			u.ports = map[int]bool{}
		}
		u.ports[port] = true
	})
	if a.JobID == jobID {
		u.job++
		if u.groups == nil {
			u.groups = map[string]int{}
		}
		u.groups[a.TaskGroup]++
	}
}

func (u *nodeUsage) remove(jobID string, a *structs.Allocation) {
	u.used.Subtract(a.Comparable())
	a.EachHostPort(func(port int) { delete(u.ports, port) })
	if a.JobID == jobID {
		u.job--
		u.groups[a.TaskGroup]--
	}
}

// release frees what a stopped allocation held, for later placements.
func (p *placer) release(a *structs.Allocation) {
	if p.stopped[a.ID] {
		return
	}
	p.stopped[a.ID] = true
	if u, ok := p.usage[a.NodeID]; ok && !a.TerminalStatus() {
		u.remove(p.job.ID, a)
	}
}

// claim records an allocation placed (or updated in place) by the plan.
func (p *placer) claim(a *structs.Allocation) error {
	u, err := p.nodeUsage(a.NodeID)
	if err != nil {
		return err
	}
	u.add(p.job.ID, a)
	return nil
}

// option is one scored candidate node.
type option struct {
	node      *structs.Node
	resources *structs.AllocatedResources
	score     float64
	usage     *nodeUsage
}

// selectNode picks the best node for one allocation of tg. penalty names a
// node to avoid (the one a failed allocation ran on). It returns nil and
// the metric explaining why when no node fits.
func (p *placer) selectNode(tg *structs.TaskGroup, penalty string) (*option, *structs.AllocMetric, error) {
	metric := &structs.AllocMetric{NodePool: p.job.NodePool, NodesInPool: p.poolSize, NodesAvailable: p.available()}
	var best *option
	scored := 0
	distinct := hasDistinctHosts(p.job, tg)
	filters := p.groupFilters(tg.Name)
	ask := groupAsk(tg)
	// Without ports to pick, building a candidate's resources cannot fail
	// and draws nothing from the random source, so only the winner's are
	// built: the same choice, without an allocation per node visited.
	needsPorts := groupHasNetworks(tg)
	n := len(p.nodes)
	visited := 0
	for ; visited < n && scored < p.limit; visited++ {
		i := (p.offset + visited) % n
		node := p.nodes[i]
		metric.NodesEvaluated++
		f := &filters[i]
		if !f.checked {
			f.reason = groupFilter(p.job, tg, node)
			f.checked = true
			p.recordClass(tg.Name, node.ComputedClass, f.reason == "")
		}
		if f.reason != "" {
			metric.FilterNode(f.reason)
			continue
		}
		u, err := p.usageOfNodeAt(i)
		if err != nil {
			return nil, nil, err
		}
		if distinct && u.job > 0 {
			metric.FilterNode(reasonDistinctHosts)
			continue
		}
		total := p.capacity(i)
		free := total
		free.Subtract(u.used)
		if ok, dim := free.Superset(ask); !ok {
			metric.ExhaustedNode(dim)
			continue
		}
		var resources *structs.AllocatedResources
		if needsPorts {
			var dim string
			if resources, dim = p.assignResources(tg, node, u); resources == nil {
				metric.ExhaustedNode(dim)
				continue
			}
		}
		score := p.score(tg, node, total, u, ask, penalty)
		scored++
		if len(metric.ScoreMetaData) < 5 {
			metric.ScoreMetaData = append(metric.ScoreMetaData, &structs.NodeScoreMeta{
				NodeID: node.ID, NormScore: score, Scores: map[string]float64{"final": score}})
		}
		if best == nil || score > best.score {
			best = &option{node: node, resources: resources, score: score, usage: u}
		}
	}
	// The next placement starts where this one stopped, which spreads
	// placements over the cluster when scores tie.
	if n > 0 {
		p.offset = (p.offset + visited) % n
	}
	if best == nil {
		return nil, metric, nil
	}
	if best.resources == nil {
		best.resources, _ = p.assignResources(tg, best.node, best.usage)
	}
	return best, metric, nil
}

// nodeFilter is one node's feasibility for one task group, checked once
// per evaluation.
type nodeFilter struct {
	checked bool
	reason  string // why the node is infeasible; empty when it is feasible
}

// groupFilters returns tg's feasibility results, one per node in visiting
// order.
func (p *placer) groupFilters(group string) []nodeFilter {
	f, ok := p.filters[group]
	if !ok {
		f = make([]nodeFilter, len(p.nodes))
		p.filters[group] = f
	}
	return f
}

// usageOfNodeAt is nodeUsage of the i-th node.
func (p *placer) usageOfNodeAt(i int) (*nodeUsage, error) {
	if p.usageAt == nil {
		p.usageAt = make([]*nodeUsage, len(p.nodes))
	}
	if u := p.usageAt[i]; u != nil {
		return u, nil
	}
	u, err := p.nodeUsage(p.nodes[i].ID)
	if err == nil {
		p.usageAt[i] = u
	}
	return u, err
}

// capacity is what the i-th node offers to allocations, computed once.
func (p *placer) capacity(i int) structs.ComparableResources {
	if p.capacities == nil {
		p.capacities = make([]structs.ComparableResources, len(p.nodes))
		p.capacityKnown = make([]bool, len(p.nodes))
	}
	if !p.capacityKnown[i] {
		p.capacities[i] = p.nodes[i].Comparable()
		p.capacityKnown[i] = true
	}
	return p.capacities[i]
}

// available is the metric's count of ready nodes per datacenter, the same
// for every placement of the evaluation, so its placements share one map.
func (p *placer) available() map[string]int {
	if p.nodesAvailable == nil {
		m := make(map[string]int, len(p.dcCount)+len(p.job.Datacenters))
		for _, dc := range p.job.Datacenters {
			if !hasGlob(dc) {
				m[dc] = p.dcCount[dc]
			}
		}
		for dc, n := range p.dcCount {
			m[dc] = n
		}
		p.nodesAvailable = m
	}
	return p.nodesAvailable
}

// groupHasNetworks tells whether placing tg assigns any network, the only
// part of its resources that can fail on a node with room.
func groupHasNetworks(tg *structs.TaskGroup) bool {
	if len(tg.Networks) > 0 {
		return true
	}
	for _, t := range tg.Tasks {
		if t.Resources != nil && len(t.Resources.Networks) > 0 {
			return true
		}
	}
	return false
}

// recordClass notes that a node of class passed (or failed) tg's
// feasibility checks. A class is eligible once any of its nodes passed;
// since feasibility depends only on what the class hashes, one node
// stands for all. Nodes without a class are not recorded, which leaves
// them unknown: capacity on them always unblocks.
func (p *placer) recordClass(group, class string, eligible bool) {
	if class == "" {
		return
	}
	m := p.classes[group]
	if m == nil {
		m = map[string]bool{}
		p.classes[group] = m
	}
	m[class] = m[class] || eligible
}

// classEligibility is what a blocked evaluation records for the groups
// that failed to place: per computed class, true if any failed group
// found a node of it feasible, false only if every failed group checked
// the class and found it infeasible (a class some failed group never
// checked is left out, i.e. unknown); and whether the constraints of the
// job or of a failed group read unique node properties, which no class
// captures (the evaluation "escaped" class bookkeeping). A failed
// placement checks every ready node of the job's datacenters and pool,
// so the classes left out are those of nodes that were not candidates.
func (p *placer) classEligibility(failed []string) (map[string]bool, bool) {
	escaped := constraintsEscape(p.job.Constraints)
	out := map[string]bool{}
	seenBy := map[string]int{}
	for _, name := range failed {
		tg := p.job.LookupTaskGroup(name)
		if tg == nil {
			escaped = true // cannot tell what it needs: unblock on anything
			continue
		}
		escaped = escaped || constraintsEscape(tg.Constraints)
		for _, t := range tg.Tasks {
			escaped = escaped || constraintsEscape(t.Constraints)
		}
		for class, ok := range p.classes[name] {
			seenBy[class]++
			out[class] = out[class] || ok
		}
	}
	for class, ok := range out {
		if !ok && seenBy[class] < len(failed) {
			delete(out, class)
		}
	}
	return out, escaped
}

func constraintsEscape(cs []*structs.Constraint) bool {
	for _, c := range cs {
		if structs.EscapesClass(c.LTarget) || structs.EscapesClass(c.RTarget) {
			return true
		}
	}
	return false
}

func hasGlob(s string) bool {
	for _, c := range s {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

// groupAsk is what one allocation of tg needs.
func groupAsk(tg *structs.TaskGroup) structs.ComparableResources {
	var c structs.ComparableResources
	for _, t := range tg.Tasks {
		if t.Resources == nil {
			continue
		}
		c.CPU += int64(t.Resources.CPU)
		c.MemoryMB += int64(t.Resources.MemoryMB)
		for _, n := range t.Resources.Networks {
			c.MBits += int64(n.MBits)
		}
	}
	for _, n := range tg.Networks {
		c.MBits += int64(n.MBits)
	}
	if tg.EphemeralDisk != nil {
		c.DiskMB = int64(tg.EphemeralDisk.SizeMB)
	}
	return c
}

// score is the average of the scorers that apply: bin-packing (fuller
// nodes score higher), anti-affinity between allocations of the same
// group, and a penalty for the node a rescheduled allocation failed on.
func (p *placer) score(tg *structs.TaskGroup, node *structs.Node, total structs.ComparableResources, u *nodeUsage, ask structs.ComparableResources, penalty string) float64 {
	sum, n := binPackScore(total, u.used, ask), 1
	if c := u.groups[tg.Name]; c > 0 {
		count := tg.Count
		if count < 1 {
			count = 1
		}
		sum += -float64(c+1) / float64(count)
		n++
	}
	if penalty != "" && node.ID == penalty {
		sum += -1
		n++
	}
	return sum / float64(n)
}

func binPackScore(total, used, ask structs.ComparableResources) float64 {
	if total.CPU <= 0 || total.MemoryMB <= 0 {
		return 0
	}
	freeCPU := 1 - float64(used.CPU+ask.CPU)/float64(total.CPU)
	freeMem := 1 - float64(used.MemoryMB+ask.MemoryMB)/float64(total.MemoryMB)
	s := 20 - (math.Pow(10, freeCPU) + math.Pow(10, freeMem))
	return math.Max(0, math.Min(18, s)) / 18
}

// nodeAddress is the address allocations on the node are reached at.
func nodeAddress(node *structs.Node) string {
	if ip := node.Attributes["unique.network.ip-address"]; ip != "" {
		return ip
	}
	if node.NodeResources != nil {
		for _, n := range node.NodeResources.Networks {
			if n.IP != "" {
				return n.IP
			}
		}
	}
	return "127.0.0.1"
}

// assignResources builds the allocated resources of one allocation of tg
// on node, picking dynamic ports. It returns nil and the exhausted
// dimension when ports cannot be had.
func (p *placer) assignResources(tg *structs.TaskGroup, node *structs.Node, u *nodeUsage) (*structs.AllocatedResources, string) {
	ip := nodeAddress(node)
	taken := node.ReservedHostPorts() // the client's reserved_ports are never handed out
	for port := range u.ports {
		taken[port] = true
	}
	lo, hi := defaultMinDynamicPort, defaultMaxDynamicPort
	if r := node.NodeResources; r != nil && r.MinDynamicPort > 0 && r.MaxDynamicPort > r.MinDynamicPort {
		lo, hi = r.MinDynamicPort, r.MaxDynamicPort
	}
	assign := func(n *structs.NetworkResource) (*structs.NetworkResource, string) {
		c := *n
		c.IP = ip
		c.ReservedPorts = append([]structs.Port(nil), n.ReservedPorts...)
		c.DynamicPorts = append([]structs.Port(nil), n.DynamicPorts...)
		for _, rp := range c.ReservedPorts {
			if taken[rp.Value] {
				return nil, dimensionPorts
			}
			taken[rp.Value] = true
		}
		for i := range c.DynamicPorts {
			port := p.pickPort(lo, hi, taken)
			if port == 0 {
				return nil, dimensionDynamic
			}
			taken[port] = true
			c.DynamicPorts[i].Value = port
		}
		return &c, ""
	}
	res := &structs.AllocatedResources{Tasks: map[string]*structs.AllocatedTaskResources{}}
	if tg.EphemeralDisk != nil {
		res.Shared.DiskMB = int64(tg.EphemeralDisk.SizeMB)
	}
	for _, n := range tg.Networks {
		c, dim := assign(n)
		if c == nil {
			return nil, dim
		}
		res.Shared.Networks = append(res.Shared.Networks, c)
		for _, port := range c.ReservedPorts {
			res.Shared.Ports = append(res.Shared.Ports, structs.PortMapping{Label: port.Label, Value: port.Value, To: port.To, HostIP: ip})
		}
		for _, port := range c.DynamicPorts {
			res.Shared.Ports = append(res.Shared.Ports, structs.PortMapping{Label: port.Label, Value: port.Value, To: port.To, HostIP: ip})
		}
	}
	for _, t := range tg.Tasks {
		tr := &structs.AllocatedTaskResources{}
		if r := t.Resources; r != nil {
			tr.Cpu.CpuShares = int64(r.CPU)
			tr.Memory.MemoryMB = int64(r.MemoryMB)
			tr.Memory.MemoryMaxMB = int64(r.MemoryMaxMB)
			for _, n := range r.Networks {
				c, dim := assign(n)
				if c == nil {
					return nil, dim
				}
				tr.Networks = append(tr.Networks, c)
			}
		}
		res.Tasks[t.Name] = tr
	}
	return res, ""
}

// pickPort chooses a free port in [lo, hi]: a few random tries, then a
// scan, so a nearly full range still finds the last free port.
func (p *placer) pickPort(lo, hi int, taken map[int]bool) int {
	for i := 0; i < 20; i++ {
		port := lo + p.rng.Intn(hi-lo+1)
		if !taken[port] {
			return port
		}
	}
	for port := lo; port <= hi; port++ {
		if !taken[port] {
			return port
		}
	}
	return 0
}

// fitsInPlace reports whether an allocation can take the new job version
// on its current node: the node must still be usable and pass the new
// constraints and drivers. Resources are unchanged by definition of an
// in-place update.
func (p *placer) fitsInPlace(tg *structs.TaskGroup, nodeID string) (bool, error) {
	node, err := p.state.NodeByID(nil, nodeID)
	if err != nil || node == nil {
		return false, err
	}
	if node.TerminalStatus() || !inDatacenters(node.Datacenter, p.job.Datacenters) {
		return false, nil
	}
	return groupFilter(p.job, tg, node) == "", nil
}

// selectOn checks one given node, for system jobs that place exactly one
// allocation on every eligible node.
func (p *placer) selectOn(tg *structs.TaskGroup, node *structs.Node) (*option, *structs.AllocMetric, error) {
	metric := &structs.AllocMetric{NodePool: p.job.NodePool, NodesInPool: p.poolSize, NodesEvaluated: 1,
		NodesAvailable: map[string]int{node.Datacenter: p.dcCount[node.Datacenter]}}
	if reason := groupFilter(p.job, tg, node); reason != "" {
		metric.FilterNode(reason)
		return nil, metric, nil
	}
	u, err := p.nodeUsage(node.ID)
	if err != nil {
		return nil, nil, err
	}
	free := node.Comparable()
	free.Subtract(u.used)
	ask := groupAsk(tg)
	if ok, dim := free.Superset(ask); !ok {
		metric.ExhaustedNode(dim)
		return nil, metric, nil
	}
	resources, dim := p.assignResources(tg, node, u)
	if resources == nil {
		metric.ExhaustedNode(dim)
		return nil, metric, nil
	}
	return &option{node: node, resources: resources, score: 1}, metric, nil
}
