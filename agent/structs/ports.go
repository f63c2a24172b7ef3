package structs

import (
	"fmt"
	"strconv"
	"strings"
)

// maxPortSpec bounds how many ports a specification may name, so that a
// typo such as "1-6553500" is an error, not a giant allocation.
const maxPortSpec = 65535

// ParsePortSpec reads a port specification such as "22,80,8000-8100"
// (the client's reserved_ports) into the ports it names.
func ParsePortSpec(spec string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parsePort(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		last := first
		if isRange {
			if last, err = parsePort(hi); err != nil {
				return nil, fmt.Errorf("%q: %w", part, err)
			}
			if last < first {
				return nil, fmt.Errorf("%q: the range ends before it starts", part)
			}
		}
		for p := first; p <= last; p++ {
			out = append(out, p)
		}
		if len(out) > maxPortSpec {
			return nil, fmt.Errorf("%q: more than %d ports", spec, maxPortSpec)
		}
	}
	return out, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%q is not a port between 1 and 65535", s)
	}
	return p, nil
}

// ReservedHostPorts is the set of ports the node withholds from
// allocations (its reserved_ports); a bad specification reserves nothing
// here, since the client validated it when it started.
func (n *Node) ReservedHostPorts() map[int]bool {
	out := map[int]bool{}
	if n.ReservedResources == nil || n.ReservedResources.Networks.ReservedHostPorts == "" {
		return out
	}
	ports, _ := ParsePortSpec(n.ReservedResources.Networks.ReservedHostPorts)
	for _, p := range ports {
		out[p] = true
	}
	return out
}
