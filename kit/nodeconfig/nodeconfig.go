// Package nodeconfig renders a lab machine's agent configuration from
// cluster.yaml and the templates in configs/templates. It is the one
// renderer behind both ways of getting the lab cluster: the Vagrant
// provisioner runs `drover cluster render` on each VM, and `drover cluster
// up` renders the same files for its containers. The two differ only in
// the options: where data lives, which interface holds the address, and
// whether tasks join a Docker network of their own.
package nodeconfig

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"strings"
	"text/template"

	"drover/configs"
	"drover/kit/labpki"
	"drover/kit/topology"
)

// DefaultDataDir is where a VM keeps its agent state: persistent, unlike
// the tutorial's /tmp.
const DefaultDataDir = "/opt/drover"

// Options are what differs between the VM and the container paths.
type Options struct {
	// DataDir is the agent's data_dir; DefaultDataDir when empty.
	DataDir string
	// Interface is the client's network_interface: the interface that
	// holds the machine's address. Empty means "eth1", the private
	// network of a Vagrant VM; FindInterface finds it on the machine.
	Interface string
	// TaskNetwork, for clients that are containers on the host's Docker,
	// is the Docker network tasks join (the docker plugin's task_network).
	TaskNetwork string
	// TLSDir is where the machine keeps its TLS files (CAFile, CertFile,
	// KeyFile) when cluster.yaml says security: acl+tls; DefaultTLSDir
	// when empty.
	TLSDir string
	// Encrypt is the servers' gossip key, required with acl+tls.
	Encrypt string
}

// DefaultTLSDir is where a machine's CA, certificate and key go.
const DefaultTLSDir = "/etc/drover.d/tls"

// The files of a machine's TLSDir.
const (
	CAFile   = "ca.pem"
	CertFile = "agent.pem"
	KeyFile  = "agent-key.pem"
)

// Node is everything a template reads.
type Node struct {
	Name            string // the machine's hostname, used as the agent name
	Machine         string // the machine's name in cluster.yaml
	Role            topology.Role
	IP              netip.Addr
	Network         netip.Prefix
	Source          string // the cluster file's base name
	DataDir         string
	Interface       string
	TaskNetwork     string
	Servers         []string // RPC addresses of every server
	SerfPeers       []string // gossip addresses of every server, for retry_join
	BootstrapExpect int
	// Security is cluster.yaml's security; ACL and TLS say what it turns
	// on, TLSDir where the TLS files are, Encrypt the gossip key.
	Security string
	ACL, TLS bool
	TLSDir   string
	Encrypt  string
}

// For builds the Node of the machine called name.
func For(c *topology.Cluster, name string, opts Options) (Node, error) {
	m, ok := c.Machine(name)
	if !ok {
		names := make([]string, len(c.Machines))
		for i, m := range c.Machines {
			names[i] = m.Name
		}
		return Node{}, fmt.Errorf("no machine %q in %s (machines: %s)", name, c.File, strings.Join(names, ", "))
	}
	n := Node{
		Name: m.Hostname, Machine: m.Name, Role: m.Role, IP: m.IP, Network: c.Network,
		Source: path.Base(strings.ReplaceAll(c.File, "\\", "/")), DataDir: opts.DataDir,
		Interface: opts.Interface, TaskNetwork: opts.TaskNetwork,
	}
	if n.DataDir == "" {
		n.DataDir = DefaultDataDir
	}
	if n.Interface == "" {
		n.Interface = "eth1"
	}
	for _, s := range c.Servers() {
		n.Servers = append(n.Servers, netip.AddrPortFrom(s.IP, 4647).String())
		n.SerfPeers = append(n.SerfPeers, netip.AddrPortFrom(s.IP, 4648).String())
	}
	n.BootstrapExpect = len(n.Servers)
	n.Security, n.ACL, n.TLS = c.Security, c.ACL(), c.TLS()
	if n.TLS {
		n.TLSDir = opts.TLSDir
		if n.TLSDir == "" {
			n.TLSDir = DefaultTLSDir
		}
		if opts.Encrypt == "" {
			return Node{}, fmt.Errorf("%s: security %s needs the gossip encryption key", c.File, c.Security)
		}
		if n.Role == topology.RoleServer {
			n.Encrypt = opts.Encrypt
		}
	}
	return n, nil
}

// Render returns the machine's agent configuration file.
func Render(n Node) ([]byte, error) {
	name := "templates/" + string(n.Role) + ".hcl.tmpl"
	tmpl, err := template.New(path.Base(name)).Option("missingkey=error").ParseFS(configs.Templates, name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, n); err != nil {
		return nil, fmt.Errorf("render %s: %w", n.Machine, err)
	}
	return buf.Bytes(), nil
}

// FileName is the name the rendered file gets under /etc/drover.d.
func FileName(n Node) string { return string(n.Role) + ".hcl" }

// FileMode is the rendered file's mode: readable by root alone when it
// holds the gossip key.
func FileMode(n Node) os.FileMode {
	if n.Encrypt != "" {
		return 0o600
	}
	return 0o644
}

// FindInterface returns the name of the local interface that holds ip:
// on a VM that is the private network's, whatever the box calls it.
func FindInterface(ip netip.Addr) (string, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if got, ok := netip.AddrFromSlice(ipn.IP); ok && got.Unmap() == ip {
					return ifc.Name, nil
				}
			}
		}
	}
	return "", fmt.Errorf("no interface of this machine holds %s", ip)
}

// TLSFiles are the files of a machine's TLSDir, made from the lab PKI:
// the CA, and the machine's certificate and key (the key readable by
// root alone).
func TLSFiles(p *labpki.PKI, m topology.Machine) (map[string]File, error) {
	ca, err := p.CA()
	if err != nil {
		return nil, err
	}
	cert, key, err := p.Machine(m)
	if err != nil {
		return nil, err
	}
	return map[string]File{
		CAFile:   {Data: ca, Mode: 0o644},
		CertFile: {Data: cert, Mode: 0o644},
		KeyFile:  {Data: key, Mode: 0o600},
	}, nil
}

// File is a file's content and mode.
type File struct {
	Data []byte
	Mode os.FileMode
}
