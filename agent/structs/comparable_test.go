package structs

import "testing"

// The cached sum must follow the resources it was computed from: a copy
// that takes new resources (an in-place update, a test fixture) must not
// report the old sum.
func TestAllocationComparableFollowsItsResources(t *testing.T) {
	small := &AllocatedResources{Tasks: map[string]*AllocatedTaskResources{
		"web": {Cpu: AllocatedCpuResources{CpuShares: 100}, Memory: AllocatedMemoryResources{MemoryMB: 64}}}}
	big := &AllocatedResources{Tasks: map[string]*AllocatedTaskResources{
		"web": {Cpu: AllocatedCpuResources{CpuShares: 500}, Memory: AllocatedMemoryResources{MemoryMB: 256}}}}

	a := &Allocation{ID: "a", AllocatedResources: small}
	if got := a.Comparable(); got.CPU != 100 || got.MemoryMB != 64 {
		t.Fatalf("uncached: %+v", got)
	}
	a.CacheComparable()
	if got := a.Comparable(); got.CPU != 100 || got.MemoryMB != 64 {
		t.Fatalf("cached: %+v", got)
	}
	c := *a
	c.AllocatedResources = big
	if got := c.Comparable(); got.CPU != 500 || got.MemoryMB != 256 {
		t.Fatalf("copy with new resources reports %+v, want the new sum", got)
	}
	c.AllocatedResources = nil
	if got := c.Comparable(); got != (ComparableResources{}) {
		t.Fatalf("copy without resources reports %+v", got)
	}
}

func TestAllocationHostPortsFollowItsResources(t *testing.T) {
	none := &AllocatedResources{Tasks: map[string]*AllocatedTaskResources{"web": {}}}
	withPort := &AllocatedResources{Tasks: map[string]*AllocatedTaskResources{
		"web": {Networks: []*NetworkResource{{DynamicPorts: []Port{{Label: "http", Value: 25000}}}}}}}

	a := &Allocation{ID: "a", AllocatedResources: none}
	a.CacheComparable()
	if got := a.HostPorts(); len(got) != 0 {
		t.Fatalf("cached without ports: %v", got)
	}
	c := *a
	c.AllocatedResources = withPort
	if got := c.HostPorts(); len(got) != 1 || got[0] != 25000 {
		t.Fatalf("copy with a port reports %v, want [25000]", got)
	}
	c.CacheComparable()
	if got := c.HostPorts(); len(got) != 1 || got[0] != 25000 {
		t.Fatalf("cached with a port reports %v, want [25000]", got)
	}
}
