package structs

import (
	"fmt"
	"strings"
	"testing"
)

func TestParsePortSpec(t *testing.T) {
	got, err := ParsePortSpec("22, 80,8000-8002")
	if err != nil || fmt.Sprint(got) != "[22 80 8000 8001 8002]" {
		t.Fatalf("got %v %v", got, err)
	}
	for spec, want := range map[string]string{
		"0":       "not a port",
		"80-70":   "ends before it starts",
		"ssh":     "not a port",
		"1-70000": "not a port",
	} {
		if _, err := ParsePortSpec(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
	n := &Node{ReservedResources: &NodeReservedResources{Networks: NodeReservedNetworkResources{ReservedHostPorts: "22,8000-8001"}}}
	if r := n.ReservedHostPorts(); len(r) != 3 || !r[22] || !r[8001] {
		t.Fatalf("reserved: %v", r)
	}
}
