package structs

import "testing"

// The computed class hashes what feasibility checks read and nothing that
// is particular to one node, so that nodes alike share a class.
func TestComputeClass(t *testing.T) {
	base := func() *Node {
		return &Node{
			ID: "n1", Name: "one", Datacenter: "dc1", NodeClass: "web", NodePool: "default",
			Attributes:    map[string]string{"kernel.name": "linux", "unique.hostname": "one"},
			Meta:          map[string]string{"rack": "r1", "unique.serial": "s1"},
			Drivers:       map[string]*DriverInfo{"docker": {Detected: true, Healthy: true}},
			NodeResources: &NodeResources{Cpu: NodeCpuResources{CpuShares: 1000}},
			Status:        NodeStatusReady, SchedulingEligibility: NodeSchedulingEligible,
		}
	}
	cases := []struct {
		name string
		edit func(n *Node)
		same bool
	}{
		{"identity", func(n *Node) { n.ID, n.Name, n.SecretID, n.HTTPAddr = "n2", "two", "s", "h:1" }, true},
		{"unique attribute", func(n *Node) { n.Attributes["unique.hostname"] = "two" }, true},
		{"unique meta", func(n *Node) { n.Meta["unique.serial"] = "s2" }, true},
		{"resources", func(n *Node) { n.NodeResources = &NodeResources{Cpu: NodeCpuResources{CpuShares: 8000}} }, true},
		{"status, drain, eligibility", func(n *Node) {
			n.Status, n.Drain, n.SchedulingEligibility = NodeStatusDown, true, NodeSchedulingIneligible
		}, true},
		{"datacenter", func(n *Node) { n.Datacenter = "dc2" }, false},
		{"node class", func(n *Node) { n.NodeClass = "db" }, false},
		{"node pool", func(n *Node) { n.NodePool = "gpu" }, false},
		{"attribute", func(n *Node) { n.Attributes["kernel.name"] = "windows" }, false},
		{"new attribute", func(n *Node) { n.Attributes["cpu.arch"] = "arm64" }, false},
		{"meta", func(n *Node) { n.Meta["rack"] = "r2" }, false},
		{"driver unhealthy", func(n *Node) { n.Drivers = map[string]*DriverInfo{"docker": {Detected: true}} }, false},
		{"driver added", func(n *Node) { n.Drivers["mock"] = &DriverInfo{Detected: true, Healthy: true} }, false},
		// The key and value boundaries are part of the hash.
		{"shifted boundary", func(n *Node) { n.Meta = map[string]string{"rackr": "1", "unique.serial": "s1"} }, false},
	}
	want := base().ComputeClass()
	if want == "" || want != base().ComputeClass() {
		t.Fatalf("class %q is not stable", want)
	}
	for _, tc := range cases {
		n := base()
		tc.edit(n)
		if got := n.ComputeClass(); (got == want) != tc.same {
			t.Errorf("%s: class %q vs %q, want same = %v", tc.name, got, want, tc.same)
		}
	}
}

func TestEscapesClass(t *testing.T) {
	for target, want := range map[string]bool{
		"${node.unique.id}": true, "${node.unique.name}": true, "${attr.unique.hostname}": true,
		"${meta.unique.serial}": true, "${attr.kernel.name}": false, "${node.class}": false,
		"linux": false, "unique.literal": false, "": false,
	} {
		if got := EscapesClass(target); got != want {
			t.Errorf("EscapesClass(%q) = %v, want %v", target, got, want)
		}
	}
}
