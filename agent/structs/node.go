package structs

import (
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Node statuses.
const (
	NodeStatusInit  = "initializing"
	NodeStatusReady = "ready"
	NodeStatusDown  = "down"
)

// Node scheduling eligibility.
const (
	NodeSchedulingEligible   = "eligible"
	NodeSchedulingIneligible = "ineligible"
)

// Node event messages, shown by "node status".
const (
	NodeEventRegistered      = "Node registered"
	NodeEventReregistered    = "Node re-registered"
	NodeEventHeartbeatMissed = "Node heartbeat missed"
	NodeEventDrainSet        = "Node drain strategy set"
	NodeEventDrainUpdated    = "Node drain strategy updated"
	NodeEventDrainDisabled   = "Node drain disabled"
	NodeEventDrainComplete   = "Node drain complete"
	NodeEventEligible        = "Node marked as eligible for scheduling"
	NodeEventIneligible      = "Node marked as ineligible for scheduling"
)

// Node is a client machine that runs allocations.
type Node struct {
	ID                    string
	SecretID              string
	Datacenter            string
	Name                  string
	HTTPAddr              string
	TLSEnabled            bool
	Attributes            map[string]string
	NodeResources         *NodeResources
	ReservedResources     *NodeReservedResources
	Meta                  map[string]string
	NodeClass             string
	NodePool              string
	Drain                 bool
	DrainStrategy         *DrainStrategy
	SchedulingEligibility string
	Status                string
	StatusDescription     string
	StatusUpdatedAt       int64
	Events                []*NodeEvent
	Drivers               map[string]*DriverInfo
	LastDrain             *DrainMetadata
	// ComputedClass is a hash of what a job's constraints and drivers can
	// test on the node (see ComputeClass). The state store sets it; the
	// scheduler records per class whether a blocked job could run there,
	// so that new capacity wakes only the jobs it can help.
	ComputedClass string
	CreateIndex   uint64
	ModifyIndex   uint64
}

// NodeResources is what a node offers.
type NodeResources struct {
	Cpu            NodeCpuResources
	Memory         NodeMemoryResources
	Disk           NodeDiskResources
	Networks       []*NetworkResource
	MinDynamicPort int
	MaxDynamicPort int
}

// NodeCpuResources is the node's CPU in MHz.
type NodeCpuResources struct {
	CpuShares     int64
	TotalCpuCores uint16
}

// NodeMemoryResources is the node's memory in MB.
type NodeMemoryResources struct {
	MemoryMB int64
}

// NodeDiskResources is the node's allocation disk in MB.
type NodeDiskResources struct {
	DiskMB int64
}

// NodeReservedResources is held back from scheduling for the OS.
type NodeReservedResources struct {
	Cpu      NodeReservedCpuResources
	Memory   NodeReservedMemoryResources
	Disk     NodeReservedDiskResources
	Networks NodeReservedNetworkResources
}

// NodeReservedCpuResources in MHz.
type NodeReservedCpuResources struct{ CpuShares uint64 }

// NodeReservedMemoryResources in MB.
type NodeReservedMemoryResources struct{ MemoryMB uint64 }

// NodeReservedDiskResources in MB.
type NodeReservedDiskResources struct{ DiskMB uint64 }

// NodeReservedNetworkResources lists host ports not to hand out.
type NodeReservedNetworkResources struct{ ReservedHostPorts string }

// DrainSpec is what a user asks for when draining.
type DrainSpec struct {
	Deadline         time.Duration
	IgnoreSystemJobs bool
}

// DrainStrategy is a drain in progress.
type DrainStrategy struct {
	DrainSpec
	ForceDeadline time.Time
	StartedAt     time.Time
}

// DrainMetadata describes the last drain of a node.
type DrainMetadata struct {
	StartedAt time.Time
	UpdatedAt time.Time
	Status    string
	Meta      map[string]string
}

// NodeEvent is one entry of a node's history.
type NodeEvent struct {
	Message     string
	Subsystem   string
	Details     map[string]string
	Timestamp   time.Time
	CreateIndex uint64
}

// DriverInfo is the fingerprinted state of one task driver on a node.
type DriverInfo struct {
	Attributes        map[string]string
	Detected          bool
	Healthy           bool
	HealthDescription string
	UpdateTime        time.Time
}

// Ready reports whether the node may receive new allocations.
func (n *Node) Ready() bool {
	return n.Status == NodeStatusReady && !n.Drain && n.SchedulingEligibility == NodeSchedulingEligible
}

// TerminalStatus reports whether the node is gone.
func (n *Node) TerminalStatus() bool { return n.Status == NodeStatusDown }

// Comparable is the schedulable capacity: resources minus reserved.
func (n *Node) Comparable() ComparableResources {
	var c ComparableResources
	if n.NodeResources == nil {
		return c
	}
	c.CPU = n.NodeResources.Cpu.CpuShares
	c.MemoryMB = n.NodeResources.Memory.MemoryMB
	c.DiskMB = n.NodeResources.Disk.DiskMB
	c.MBits = 1000 // unknown link speed counts as 1 Gbit, as Nomad-compatible clients assume
	for _, net := range n.NodeResources.Networks {
		if net.MBits > 0 {
			c.MBits = int64(net.MBits)
		}
	}
	if r := n.ReservedResources; r != nil {
		c.CPU -= int64(r.Cpu.CpuShares)
		c.MemoryMB -= int64(r.Memory.MemoryMB)
		c.DiskMB -= int64(r.Disk.DiskMB)
	}
	return c
}

// Copy returns a copy with its own slices and maps of the parts that
// change over a node's life.
func (n *Node) Copy() *Node {
	if n == nil {
		return nil
	}
	c := *n
	c.Events = append([]*NodeEvent(nil), n.Events...)
	if n.DrainStrategy != nil {
		ds := *n.DrainStrategy
		c.DrainStrategy = &ds
	}
	if n.Attributes != nil {
		c.Attributes = make(map[string]string, len(n.Attributes))
		for k, v := range n.Attributes {
			c.Attributes[k] = v
		}
	}
	return &c
}

// NodeListStub is the short form of a node in list responses.
type NodeListStub struct {
	Address string
	ID      string
	// Attributes holds the operating system's name and version when the
	// list is asked for them (?os=true), else nothing.
	Attributes            map[string]string `json:",omitempty"`
	Datacenter            string
	Name                  string
	NodeClass             string
	NodePool              string
	Version               string
	Drain                 bool
	SchedulingEligibility string
	Status                string
	StatusDescription     string
	Drivers               map[string]*DriverInfo
	LastDrain             *DrainMetadata
	CreateIndex           uint64
	ModifyIndex           uint64
}

// Stub returns the list form of the node.
func (n *Node) Stub() *NodeListStub {
	return &NodeListStub{
		Address: n.Attributes["unique.network.ip-address"], ID: n.ID, Datacenter: n.Datacenter,
		Name: n.Name, NodeClass: n.NodeClass, NodePool: n.NodePool, Version: n.Attributes["drover.version"],
		Drain: n.Drain, SchedulingEligibility: n.SchedulingEligibility, Status: n.Status,
		StatusDescription: n.StatusDescription, Drivers: n.Drivers, LastDrain: n.LastDrain,
		CreateIndex: n.CreateIndex, ModifyIndex: n.ModifyIndex,
	}
}

// Property resolves a node property as job files name it in constraints
// and interpolations: node.unique.id, node.unique.name, node.datacenter,
// node.class, node.pool, attr.<name> and meta.<name>.
func (n *Node) Property(name string) (string, bool) {
	switch name {
	case "node.unique.id":
		return n.ID, true
	case "node.unique.name":
		return n.Name, true
	case "node.datacenter":
		return n.Datacenter, true
	case "node.class":
		return n.NodeClass, true
	case "node.pool":
		return n.NodePool, true
	}
	if attr, ok := strings.CutPrefix(name, "attr."); ok {
		v, ok := n.Attributes[attr]
		return v, ok
	}
	if key, ok := strings.CutPrefix(name, "meta."); ok {
		v, ok := n.Meta[key]
		return v, ok
	}
	return "", false
}

// UniquePrefix marks the attributes and metadata that are particular to
// one node (its address, its hostname), which the computed class leaves
// out: a constraint on them can only ever be judged node by node.
const UniquePrefix = "unique."

// ComputeClass returns the node's computed class: a hash of everything a
// feasibility check can read, namely the datacenter, node class and node
// pool, the attributes and metadata except those marked unique, and
// which drivers are detected and healthy. Nodes of one class are equally
// feasible for any job whose constraints do not reference a unique
// property; capacity (resources, ports) is not part of the class, since
// it is judged separately as allocations come and go. Status, drain and
// eligibility are not part of it either: they decide whether a node is
// considered at all, not what it can run.
func (n *Node) ComputeClass() string {
	h := fnv.New64a()
	field := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	field("datacenter", n.Datacenter)
	field("class", n.NodeClass)
	field("pool", n.NodePool)
	for _, m := range []struct {
		name string
		kv   map[string]string
	}{{"attr", n.Attributes}, {"meta", n.Meta}} {
		keys := make([]string, 0, len(m.kv))
		for k := range m.kv {
			if !strings.HasPrefix(k, UniquePrefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			field(m.name, k, m.kv[k])
		}
	}
	drivers := make([]string, 0, len(n.Drivers))
	for name := range n.Drivers {
		drivers = append(drivers, name)
	}
	sort.Strings(drivers)
	for _, name := range drivers {
		d := n.Drivers[name]
		usable := d != nil && d.Detected && d.Healthy
		field("driver", name, strconv.FormatBool(usable))
	}
	return "v1:" + strconv.FormatUint(h.Sum64(), 10)
}

// EscapesClass reports whether a constraint target reads a unique
// property of the node (node.unique.*, attr.unique.*, meta.unique.*),
// which the computed class does not cover: a job with such a constraint
// cannot be judged by class.
func EscapesClass(target string) bool {
	return strings.HasPrefix(target, "${") && strings.Contains(target, UniquePrefix)
}
