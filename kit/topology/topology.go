// Package topology reads cluster.yaml, the lab kit's list of machines, and
// checks it. The same description drives the Vagrantfile (one VM per
// machine), `drover cluster up` (one container per machine) and the
// per-node agent configuration, so every problem is reported once, here,
// with the file and line it comes from.
//
// The file is either the tutorial's bare list of machines (name, hostname,
// box, ram, ip) or a mapping with that list under "machines" and the
// optional top-level "provider" and "network" sections.
package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Role is what a machine runs: a server holds the cluster state, a client
// runs the work.
type Role string

const (
	RoleServer Role = "server"
	RoleClient Role = "client"
)

// Providers the Vagrantfile knows; virtualbox is the default.
var Providers = []string{"virtualbox", "libvirt", "docker"}

// DockerBridge is Docker's default bridge network. Every client runs
// Docker, so a lab address inside it would be routed to the local bridge
// instead of the other machine.
var DockerBridge = netip.MustParsePrefix("172.17.0.0/16")

// Security levels of the lab cluster: none, ACLs, or ACLs with mutual
// TLS and gossip encryption.
const (
	SecurityNone   = "none"
	SecurityACL    = "acl"
	SecurityACLTLS = "acl+tls"
)

// SecurityLevels are the values security may take, in that order.
var SecurityLevels = []string{SecurityNone, SecurityACL, SecurityACLTLS}

// Cluster is a parsed cluster.yaml.
type Cluster struct {
	// File is the path the description was read from.
	File string
	// Provider is the Vagrant provider to use by default.
	Provider string
	// Security is one of SecurityLevels; SecurityNone by default.
	Security string
	// Network is the private lab network every machine's IP lies in.
	Network netip.Prefix
	// Machines in file order, which is the order they are brought up in
	// (the Vagrantfile brings the servers up first).
	Machines []Machine
}

// Machine is one entry of the list.
type Machine struct {
	Name       string
	Hostname   string
	Box        string
	BoxVersion string
	RAM        int // MiB
	CPUs       int
	IP         netip.Addr
	Role       Role
	// Line is where the entry starts in the file.
	Line int
}

// Defaults for fields a machine may leave out.
const (
	DefaultRAM      = 1024
	DefaultCPUs     = 1
	DefaultProvider = "virtualbox"
)

// ACL reports whether the agents run with ACLs on (acl and acl+tls).
func (c *Cluster) ACL() bool { return c.Security == SecurityACL || c.Security == SecurityACLTLS }

// TLS reports whether the agents run with mutual TLS and gossip
// encryption (acl+tls).
func (c *Cluster) TLS() bool { return c.Security == SecurityACLTLS }

// Servers returns the server machines, in file order.
func (c *Cluster) Servers() []Machine { return c.withRole(RoleServer) }

// Clients returns the client machines, in file order.
func (c *Cluster) Clients() []Machine { return c.withRole(RoleClient) }

func (c *Cluster) withRole(r Role) []Machine {
	var out []Machine
	for _, m := range c.Machines {
		if m.Role == r {
			out = append(out, m)
		}
	}
	return out
}

// Machine returns the machine with this name.
func (c *Cluster) Machine(name string) (Machine, bool) {
	for _, m := range c.Machines {
		if m.Name == name {
			return m, true
		}
	}
	return Machine{}, false
}

// Problem is one thing wrong with the file, at a line and column.
type Problem struct {
	File      string
	Line, Col int
	Msg       string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return fmt.Sprintf("%s: %s", p.File, p.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
}

// Problems is every problem found in a file; it is the error Load and
// Parse return.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Load reads and checks the file at path.
func Load(path string) (*Cluster, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, raw)
}

// Parse reads and checks a description; file names it in problems. It
// returns every problem at once (as Problems), never a half-checked
// cluster.
func Parse(file string, raw []byte) (*Cluster, error) {
	p := &parser{file: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, Problems{p.yamlError(err)}
	}
	c := p.document(&doc)
	if len(p.problems) > 0 {
		return nil, p.problems
	}
	return c, nil
}

type parser struct {
	file     string
	problems Problems
}

func (p *parser) add(n *yaml.Node, format string, args ...interface{}) {
	pr := Problem{File: p.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		pr.Line, pr.Col = n.Line, n.Column
	}
	p.problems = append(p.problems, pr)
}

// yamlError turns the decoder's "yaml: line N: reason" into a Problem.
func (p *parser) yamlError(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	pr := Problem{File: p.file, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, reason, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				pr.Line, pr.Col, pr.Msg = n, 1, reason
			}
		}
	}
	return pr
}

func (p *parser) document(doc *yaml.Node) *Cluster {
	c := &Cluster{File: p.file, Provider: DefaultProvider, Security: SecurityNone}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.add(nil, "no machines: the file is empty")
		return c
	}
	root := doc.Content[0]
	var list *yaml.Node
	var networkNode *yaml.Node
	switch root.Kind {
	case yaml.SequenceNode:
		list = root
	case yaml.MappingNode:
		for i := 0; i+1 < len(root.Content); i += 2 {
			key, val := root.Content[i], root.Content[i+1]
			switch key.Value {
			case "machines":
				if val.Kind != yaml.SequenceNode {
					p.add(val, "machines must be a list of machines")
					continue
				}
				list = val
			case "provider":
				if val.Kind != yaml.ScalarNode || !contains(Providers, val.Value) {
					p.add(val, "provider %q is not one of %s", val.Value, strings.Join(Providers, ", "))
					continue
				}
				c.Provider = val.Value
			case "network":
				networkNode = val
				c.Network = p.network(val)
			case "security":
				if val.Kind != yaml.ScalarNode || !contains(SecurityLevels, val.Value) {
					p.add(val, "security %q is not one of %s", val.Value, strings.Join(SecurityLevels, ", "))
					continue
				}
				c.Security = val.Value
			default:
				p.add(key, "unknown top-level key %q (valid: machines, provider, network, security)", key.Value)
			}
		}
		if list == nil {
			p.add(root, "no machines: add a \"machines\" list")
			return c
		}
	default:
		p.add(root, "the file must be a list of machines, or a mapping with a \"machines\" list")
		return c
	}
	for _, item := range list.Content {
		// A machine with a bad field still takes part in the checks
		// across machines, so that one run reports everything.
		if m, ok := p.machine(item); ok {
			c.Machines = append(c.Machines, m)
		}
	}
	p.check(c, list, networkNode)
	return c
}

func (p *parser) network(n *yaml.Node) netip.Prefix {
	if n.Kind != yaml.MappingNode {
		p.add(n, "network must be a mapping with a cidr, e.g. cidr: 192.168.56.0/24")
		return netip.Prefix{}
	}
	var prefix netip.Prefix
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch key.Value {
		case "cidr":
			pf, err := netip.ParsePrefix(val.Value)
			if err != nil || !pf.Addr().Is4() {
				p.add(val, "network cidr %q is not an IPv4 network such as 192.168.56.0/24", val.Value)
				continue
			}
			if pf.Masked() != pf {
				p.add(val, "network cidr %s has host bits set; did you mean %s?", pf, pf.Masked())
				continue
			}
			if pf.Overlaps(DockerBridge) {
				p.add(val, "network %s overlaps Docker's default bridge %s, which every client runs: use another range such as 192.168.56.0/24", pf, DockerBridge)
			}
			prefix = pf
		default:
			p.add(key, "unknown network key %q (valid: cidr)", key.Value)
		}
	}
	if !prefix.IsValid() && len(p.problems) == 0 {
		p.add(n, "network needs a cidr, e.g. cidr: 192.168.56.0/24")
	}
	return prefix
}

var machineKeys = []string{"name", "hostname", "box", "box_version", "ram", "cpus", "ip", "role"}

func (p *parser) machine(n *yaml.Node) (Machine, bool) {
	m := Machine{Line: n.Line, RAM: DefaultRAM, CPUs: DefaultCPUs}
	if n.Kind != yaml.MappingNode {
		p.add(n, "a machine must be a mapping of name, hostname, box, ram and ip")
		return m, false
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if prev, dup := seen[key.Value]; dup {
			p.add(key, "%s is set twice (first at line %d)", key.Value, prev.Line)
			continue
		}
		seen[key.Value] = val
		if val.Kind != yaml.ScalarNode {
			p.add(val, "%s must be a single value", key.Value)
			continue
		}
		switch key.Value {
		case "name":
			m.Name = val.Value
		case "hostname":
			m.Hostname = val.Value
		case "box":
			m.Box = val.Value
		case "box_version":
			m.BoxVersion = val.Value
		case "ram":
			m.RAM = p.positive(val, "ram", 256)
		case "cpus":
			m.CPUs = p.positive(val, "cpus", 1)
		case "ip":
			ip, err := netip.ParseAddr(val.Value)
			if err != nil || !ip.Is4() {
				p.add(val, "ip %q is not an IPv4 address", val.Value)
				continue
			}
			m.IP = ip
		case "role":
			if val.Value != string(RoleServer) && val.Value != string(RoleClient) {
				p.add(val, "role %q must be server or client", val.Value)
				continue
			}
			m.Role = Role(val.Value)
		default:
			p.add(key, "unknown machine key %q (valid: %s)", key.Value, strings.Join(machineKeys, ", "))
		}
	}
	for _, required := range []string{"name", "hostname", "box", "ip"} {
		if seen[required] == nil {
			p.add(n, "machine is missing %s", required)
		}
	}
	if m.Name != "" && !validHostname(m.Name) {
		p.add(seen["name"], "name %q may hold only letters, digits and '-'", m.Name)
	}
	if m.Hostname != "" && !validHostname(m.Hostname) {
		p.add(seen["hostname"], "hostname %q may hold only letters, digits and '-'", m.Hostname)
	}
	if m.Role == "" && m.Name != "" {
		// The tutorial's file has no role: its names say it.
		switch {
		case strings.Contains(m.Name, "server"):
			m.Role = RoleServer
		case strings.Contains(m.Name, "client"):
			m.Role = RoleClient
		default:
			p.add(seen["name"], "machine %q has no role and its name says neither server nor client: add role: server or role: client", m.Name)
		}
	}
	return m, true
}

func (p *parser) positive(n *yaml.Node, key string, min int) int {
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < min {
		p.add(n, "%s %q must be a whole number of at least %d", key, n.Value, min)
		return 0
	}
	return v
}

// check finds what is wrong across machines: duplicates, addresses off
// the network or on Docker's bridge, no server.
func (p *parser) check(c *Cluster, list, networkNode *yaml.Node) {
	if len(list.Content) == 0 {
		p.add(list, "no machines: the list is empty")
		return
	}
	if !c.Network.IsValid() && networkNode == nil {
		// The tutorial's file names no network: the /24 of the first
		// machine is the lab network.
		for _, m := range c.Machines {
			if m.IP.IsValid() {
				c.Network = netip.PrefixFrom(m.IP, 24).Masked()
				break
			}
		}
	}
	names := map[string]int{}
	hosts := map[string]int{}
	ips := map[netip.Addr]int{}
	for _, m := range c.Machines {
		node := findLine(list, m.Line)
		if prev, dup := names[m.Name]; dup && m.Name != "" {
			p.add(fieldNode(node, "name"), "name %q is used twice (also at line %d)", m.Name, prev)
		} else {
			names[m.Name] = m.Line
		}
		if prev, dup := hosts[m.Hostname]; dup && m.Hostname != "" {
			p.add(fieldNode(node, "hostname"), "hostname %q is used twice (also at line %d)", m.Hostname, prev)
		} else {
			hosts[m.Hostname] = m.Line
		}
		if !m.IP.IsValid() {
			continue
		}
		ipNode := fieldNode(node, "ip")
		if prev, dup := ips[m.IP]; dup {
			p.add(ipNode, "ip %s is used twice (also at line %d)", m.IP, prev)
		} else {
			ips[m.IP] = m.Line
		}
		switch {
		case DockerBridge.Contains(m.IP):
			p.add(ipNode, "ip %s is inside %s, Docker's default bridge, which every client runs: traffic to it would stay on the local machine; use a range such as 192.168.56.0/24", m.IP, DockerBridge)
		case c.Network.IsValid() && !c.Network.Contains(m.IP):
			p.add(ipNode, "ip %s is outside the network %s", m.IP, c.Network)
		case c.Network.IsValid() && (m.IP == c.Network.Addr() || m.IP == broadcast(c.Network)):
			p.add(ipNode, "ip %s is the network's own or broadcast address, not a machine's", m.IP)
		case c.Network.IsValid() && m.IP == c.Network.Addr().Next():
			// VirtualBox, libvirt and Docker give .1 to the host.
			p.add(ipNode, "ip %s is the host's address on the lab network (the first one of %s)", m.IP, c.Network)
		}
	}
	if len(c.Servers()) == 0 && len(p.problems) == 0 {
		p.add(list, "no server: one machine needs role: server (or a name with \"server\" in it)")
	}
	// Servers come up first, whatever the file order; keep that order.
	sort.SliceStable(c.Machines, func(i, j int) bool {
		return c.Machines[i].Role == RoleServer && c.Machines[j].Role != RoleServer
	})
}

func findLine(list *yaml.Node, line int) *yaml.Node {
	for _, n := range list.Content {
		if n.Line == line {
			return n
		}
	}
	return list
}

// fieldNode is the value of key in a machine's mapping, or the mapping.
func fieldNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	bits := p.Bits()
	for i := bits; i < 32; i++ {
		a[i/8] |= 1 << (7 - uint(i%8))
	}
	return netip.AddrFrom4(a)
}

func validHostname(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ErrNoRoom is returned by Remap when the new network is smaller than the
// machines' host numbers need.
var ErrNoRoom = errors.New("network too small")

// Remap returns a copy of the cluster on another network, each machine
// keeping its host number (192.168.56.102 on 10.201.7.0/24 becomes
// 10.201.7.102). It is how `drover cluster up` moves the file's addresses
// onto a Docker network it knows to be free.
func (c *Cluster) Remap(to netip.Prefix) (*Cluster, error) {
	if !to.Addr().Is4() || to.Bits() > c.Network.Bits() {
		return nil, fmt.Errorf("remap %s onto %s: %w", c.Network, to, ErrNoRoom)
	}
	out := *c
	out.Network = to.Masked()
	out.Machines = append([]Machine(nil), c.Machines...)
	base := out.Network.Addr().As4()
	for i := range out.Machines {
		host := out.Machines[i].IP.As4()
		var a [4]byte
		for b := 0; b < 4; b++ {
			mask := byte(0)
			for bit := 0; bit < 8; bit++ {
				if b*8+bit >= to.Bits() {
					mask |= 1 << (7 - uint(bit))
				}
			}
			a[b] = base[b] | host[b]&mask
		}
		out.Machines[i].IP = netip.AddrFrom4(a)
	}
	return &out, nil
}
