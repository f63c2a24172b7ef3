// Package dockercluster brings up the lab topology of cluster.yaml as
// Docker containers, in the manner of kind: one container per machine, from
// a FROM-scratch image of the static drover binary built on the spot (no
// registry), on a Docker network of the cluster's own, with the agent
// configuration rendered by kit/nodeconfig exactly as on a VM.
//
// Where things live and why:
//   - The network gets a free private /24 (never Docker's 172.17.0.0/16);
//     each machine keeps its host number from cluster.yaml.
//   - Clients mount the host's Docker socket, so their tasks are sibling
//     containers. Tasks join the cluster network and the client forwards
//     their ports from its own address (the docker plugin's task_network),
//     so a task answers at its allocation's address, as on a VM.
//   - A client's data_dir is a host directory mounted at the same path:
//     the engine resolves the task directories' bind mounts on the host.
//   - Everything made carries the label io.drover.cluster=<name>; Down
//     removes exactly what carries it, and is safe to run twice.
package dockercluster

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"drover/kit/labpki"
	"drover/kit/nodeconfig"
	"drover/kit/staticbin"
	"drover/kit/topology"
)

// Labels on everything a cluster creates.
const (
	LabelCluster = "io.drover.cluster"
	LabelMachine = "io.drover.cluster.machine"
	LabelRole    = "io.drover.cluster.role"
	LabelIP      = "io.drover.cluster.ip"
	LabelDataDir = "io.drover.cluster.data-dir"
	LabelSource  = "io.drover.cluster.source"
	LabelBinary  = "io.drover.cluster.binary"
	// LabelSecurity is cluster.yaml's security; LabelPKI the host
	// directory of the lab CA and the CLI's certificate (acl+tls).
	LabelSecurity = "io.drover.cluster.security"
	LabelPKI      = "io.drover.cluster.pki"
)

// TokenFile is where the server's container keeps the management token
// that Up bootstraps, readable by root alone.
const TokenFile = "/etc/drover.d/bootstrap.token"

// ImageRepo is the repository of the node images; the tag is a hash of
// the binary, so an unchanged binary reuses its image.
const ImageRepo = "drover-cluster/node"

// DefaultName is the cluster name when none is given.
const DefaultName = "lab"

// Options configure Up.
type Options struct {
	// Name tells clusters apart: container names, the network and the
	// labels carry it. DefaultName when empty.
	Name string
	// Binary is a statically linked drover for linux on the engine's
	// architecture; the running executable when empty.
	Binary string
	// StateDir holds each client's data_dir on the host; see
	// DefaultStateDir.
	StateDir string
	// Wait bounds how long Up waits for the server and every client to be
	// ready. Default 90 s.
	Wait time.Duration
	// Progress receives one line per phase.
	Progress io.Writer
}

// Member is one machine of a running cluster.
type Member struct {
	Machine   string
	Hostname  string
	Role      topology.Role
	IP        string
	Container string
	// State is the container's state ("running", "exited", ...).
	State string
}

// Cluster is what Status reports.
type Cluster struct {
	Name    string
	Source  string
	Network string
	Subnet  string
	Members []Member
	// HostAddress is the server's HTTP API as published on the host's
	// loopback (works where the network is not routable from the host).
	HostAddress string
	// Address is the server's HTTP API on the cluster network.
	Address string
	// Security is cluster.yaml's security (none, acl or acl+tls).
	Security string
	// ServerContainer is the (first) server's container.
	ServerContainer string
	// Token is the management token kept in the server (ACLs on), once
	// Status or Up has read it; empty otherwise. NewToken is set by the Up
	// that bootstrapped it.
	Token    string
	NewToken bool
	// TLS is how the host's CLI reaches the API with acl+tls: the CA and
	// the CLI's certificate and key, on the host; nil otherwise.
	TLS *TLSFiles
}

// TLSFiles are host paths for NOMAD_CACERT, NOMAD_CLIENT_CERT and
// NOMAD_CLIENT_KEY.
type TLSFiles struct {
	CACert, ClientCert, ClientKey string
}

// ACL reports whether the cluster runs with ACLs on.
func (c *Cluster) ACL() bool {
	return c.Security == topology.SecurityACL || c.Security == topology.SecurityACLTLS
}

func (o *Options) defaults() error {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if !validName(o.Name) {
		return fmt.Errorf("cluster name %q may hold only lower-case letters, digits and '-'", o.Name)
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Binary = exe
	}
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	if o.Wait == 0 {
		o.Wait = 90 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// DefaultStateDir is where client data directories go on the host:
// $XDG_STATE_HOME/drover/clusters, or ~/.local/state/drover/clusters.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "drover", "clusters")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "drover-clusters")
	}
	return filepath.Join(home, ".local", "state", "drover", "clusters")
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// NetworkName is the cluster's Docker network.
func NetworkName(cluster string) string { return "drover-" + cluster }

// ContainerName is a machine's container.
func ContainerName(cluster, machine string) string { return cluster + "-" + machine }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func phase(w io.Writer, format string, args ...interface{}) {
	fmt.Fprintf(w, " ✓ "+format+"\n", args...)
}

// Up creates the cluster described by c and waits until the server has a
// leader and every client is ready. On failure it removes what it made.
func Up(ctx context.Context, cli *client.Client, c *topology.Cluster, opts Options) (*Cluster, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	if existing, err := list(ctx, cli, opts.Name); err != nil {
		return nil, err
	} else if len(existing) > 0 {
		return nil, fmt.Errorf("cluster %q already exists (%d containers): run drover cluster down -name %s first", opts.Name, len(existing), opts.Name)
	}
	sock, err := dockerSocket(cli)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(opts.Progress, "Creating cluster %q from %s (%s, %s)\n", opts.Name, c.File,
		plural(len(c.Servers()), "server"), plural(len(c.Clients()), "client"))

	img, err := nodeImage(ctx, cli, opts.Binary)
	if err != nil {
		return nil, err
	}
	phase(opts.Progress, "Image %s (drover, FROM scratch)", img)

	ok := false
	defer func() {
		if !ok {
			_ = Down(context.Background(), cli, opts.Name, io.Discard)
		}
	}()

	var sec *secrets
	if c.TLS() {
		dir, err := filepath.Abs(filepath.Join(opts.StateDir, opts.Name, "pki"))
		if err != nil {
			return nil, err
		}
		if sec, err = newSecrets(dir); err != nil {
			return nil, err
		}
		phase(opts.Progress, "Lab CA, certificates and gossip key in %s", dir)
	}

	subnet, err := freeSubnet(ctx, cli)
	if err != nil {
		return nil, err
	}
	remapped, err := c.Remap(subnet)
	if err != nil {
		return nil, err
	}
	netName := NetworkName(opts.Name)
	gateway := subnet.Addr().Next()
	if _, err := cli.NetworkCreate(ctx, netName, network.CreateOptions{
		Driver: "bridge",
		IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet.String(), Gateway: gateway.String()}}},
		Labels: networkLabels(opts.Name, c, sec),
	}); err != nil {
		return nil, fmt.Errorf("create network %s: %w", netName, err)
	}
	phase(opts.Progress, "Network %s %s (cluster.yaml's %s, remapped)", netName, subnet, c.Network)

	for _, m := range remapped.Servers() {
		if err := createMachine(ctx, cli, remapped, m, img, sock, sec, opts); err != nil {
			return nil, err
		}
		phase(opts.Progress, "Server %s %s", m.Hostname, m.IP)
	}
	var names []string
	for _, m := range remapped.Clients() {
		if err := createMachine(ctx, cli, remapped, m, img, sock, sec, opts); err != nil {
			return nil, err
		}
		names = append(names, fmt.Sprintf("%s %s", m.Hostname, m.IP))
	}
	if len(names) > 0 {
		phase(opts.Progress, "Clients %s", strings.Join(names, ", "))
	}

	st, err := Status(ctx, cli, opts.Name)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.Wait)
	defer cancel()
	if st.ACL() {
		if err := waitLeader(wctx, st); err != nil {
			return nil, fmt.Errorf("cluster %q has no leader after %s: %w", opts.Name, opts.Wait, err)
		}
		if st.Token, st.NewToken, err = Bootstrap(wctx, cli, st); err != nil {
			return nil, err
		}
		how := "bootstrapped"
		if !st.NewToken {
			how = "were bootstrapped already"
		}
		phase(opts.Progress, "ACLs %s: the management token is kept in %s:%s", how, st.ServerContainer, TokenFile)
	}
	h, err := waitReady(wctx, st, len(remapped.Clients()))
	if err != nil {
		return nil, fmt.Errorf("cluster %q not ready after %s: %w", opts.Name, opts.Wait, err)
	}
	phase(opts.Progress, "Ready: leader %s, %d of %d clients ready (%.1fs)", h.leader, h.ready, len(remapped.Clients()), time.Since(start).Seconds())
	ok = true
	return st, nil
}

// createMachine renders the machine's configuration, creates its
// container with the configuration copied in, and starts it.
func createMachine(ctx context.Context, cli *client.Client, c *topology.Cluster, m topology.Machine, img, sock string, sec *secrets, opts Options) error {
	nopts := nodeconfig.Options{Interface: "eth0", DataDir: "/opt/drover"}
	hostConf := &container.HostConfig{
		// The agent is the machine: restart it as systemd would.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		Resources:     container.Resources{Memory: int64(m.RAM) << 20, NanoCPUs: int64(m.CPUs) * 1e9},
	}
	cconf := &container.Config{
		Image:    img,
		Hostname: m.Hostname,
		Labels: map[string]string{
			LabelCluster: opts.Name, LabelMachine: m.Name, LabelRole: string(m.Role),
			LabelIP: m.IP.String(), LabelSource: c.File, LabelSecurity: c.Security,
		},
	}
	files := map[string]fileEntry{}
	if sec != nil {
		nopts.TLSDir, nopts.Encrypt = "/etc/drover.d/tls", sec.gossip
		tf, err := nodeconfig.TLSFiles(sec.pki, m)
		if err != nil {
			return err
		}
		for name, f := range tf {
			files[nopts.TLSDir+"/"+name] = fileEntry{data: f.Data, mode: int64(f.Mode)}
		}
		cconf.Labels[LabelPKI] = sec.pki.Dir
	}
	if m.Role == topology.RoleServer {
		// The HTTP API on the host's loopback, at a port the engine picks.
		cconf.ExposedPorts = nat.PortSet{"4646/tcp": {}}
		hostConf.PortBindings = nat.PortMap{"4646/tcp": {{HostIP: "127.0.0.1", HostPort: ""}}}
	} else {
		dataDir, err := filepath.Abs(filepath.Join(opts.StateDir, opts.Name, m.Name))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("client data directory: %w", err)
		}
		nopts.DataDir = dataDir
		nopts.TaskNetwork = NetworkName(opts.Name)
		cconf.Labels[LabelDataDir] = dataDir
		hostConf.Mounts = []mount.Mount{
			{Type: mount.TypeBind, Source: sock, Target: "/var/run/docker.sock"},
			{Type: mount.TypeBind, Source: dataDir, Target: dataDir},
		}
	}
	n, err := nodeconfig.For(c, m.Name, nopts)
	if err != nil {
		return err
	}
	hcl, err := nodeconfig.Render(n)
	if err != nil {
		return err
	}
	confPath := "/etc/drover.d/" + nodeconfig.FileName(n)
	cconf.Cmd = []string{"agent", "-config", "/etc/drover.d"}
	name := ContainerName(opts.Name, m.Name)
	created, err := cli.ContainerCreate(ctx, cconf, hostConf, &network.NetworkingConfig{
		EndpointsConfig: map[string]*network.EndpointSettings{
			NetworkName(opts.Name): {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: m.IP.String()}},
		},
	}, nil, name)
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	files[confPath] = fileEntry{data: hcl, mode: int64(nodeconfig.FileMode(n))}
	tarball, err := tarFiles(files)
	if err != nil {
		return err
	}
	if err := cli.CopyToContainer(ctx, created.ID, "/", bytes.NewReader(tarball), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy configuration into %s: %w", name, err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// dockerSocket is the host path of the engine's socket, which clients
// mount to run their tasks.
func dockerSocket(cli *client.Client) (string, error) {
	host := cli.DaemonHost()
	if path, ok := strings.CutPrefix(host, "unix://"); ok {
		return path, nil
	}
	return "", fmt.Errorf("drover cluster up needs the engine on a local unix socket for its clients to mount, not %s", host)
}

// nodeImage imports (once per binary) an image holding only the drover
// binary and an empty /tmp.
func nodeImage(ctx context.Context, cli *client.Client, binary string) (string, error) {
	if err := checkStatic(binary); err != nil {
		return "", err
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	ref := ImageRepo + ":" + hex.EncodeToString(sum[:])[:16]
	if _, err := cli.ImageInspect(ctx, ref); err == nil {
		return ref, nil
	} else if !cerrdefs.IsNotFound(err) {
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	tarball, err := tarFiles(map[string]fileEntry{
		"drover":        {data: data, mode: 0o755},
		"tmp/":          {mode: 0o1777},
		"etc/drover.d/": {mode: 0o755},
		"opt/drover/":   {mode: 0o755},
	})
	if err != nil {
		return "", err
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(tarball), SourceName: "-"}, ref, image.ImportOptions{
		Changes: []string{`ENTRYPOINT ["/drover"]`, "LABEL " + LabelBinary + "=" + hex.EncodeToString(sum[:])},
		Message: "drover cluster node: the drover binary, FROM scratch",
	})
	if err != nil {
		return "", fmt.Errorf("import image %s: %w", ref, err)
	}
	defer rc.Close()
	out, _ := io.ReadAll(rc)
	if bytes.Contains(out, []byte(`"error"`)) {
		return "", fmt.Errorf("import image %s: %s", ref, out)
	}
	return ref, nil
}

// checkStatic refuses a dynamically linked binary: FROM scratch has no
// C library to load it with.
func checkStatic(path string) error {
	if err := staticbin.Check(path, ""); err != nil {
		return fmt.Errorf("%w, or pass -binary", err)
	}
	return nil
}

type fileEntry struct {
	data []byte
	mode int64
}

// tarFiles makes a tar of files; a name ending in "/" is a directory.
func tarFiles(files map[string]fileEntry) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mkdirs := func(p string) error {
		for d := filepath.Dir(strings.TrimSuffix(p, "/")); d != "." && d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(d, "/") + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		f := files[n]
		if err := mkdirs(n); err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(n, "/")
		if strings.HasSuffix(n, "/") {
			dirs[strings.TrimSuffix(n, "/")] = true
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: f.mode}); err != nil {
				return nil, err
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// candidateSubnets are tried in order; 10.201.0.0/16 is rarely used by
// home or office networks and is far from Docker's 172.17.0.0/16.
func candidateSubnets() []netip.Prefix {
	out := make([]netip.Prefix, 0, 256)
	for i := 0; i < 256; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 201, byte(i), 0}), 24))
	}
	return out
}

// freeSubnet is the first candidate that overlaps no Docker network and
// no address of this host.
func freeSubnet(ctx context.Context, cli *client.Client) (netip.Prefix, error) {
	nets, err := cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("list networks: %w", err)
	}
	var used []netip.Prefix
	for _, n := range nets {
		for _, cfg := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(cfg.Subnet); err == nil {
				used = append(used, p)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	return pickSubnet(candidateSubnets(), used)
}

// pickSubnet returns the first candidate overlapping none of used and not
// Docker's default bridge.
func pickSubnet(candidates, used []netip.Prefix) (netip.Prefix, error) {
next:
	for _, c := range candidates {
		if c.Overlaps(topology.DockerBridge) {
			continue
		}
		for _, u := range used {
			if c.Overlaps(u) {
				continue next
			}
		}
		return c, nil
	}
	return netip.Prefix{}, errors.New("no free /24 in 10.201.0.0/16 for the cluster network")
}

func clusterFilter(name string) filters.Args {
	return filters.NewArgs(filters.Arg("label", LabelCluster+"="+name))
}

func list(ctx context.Context, cli *client.Client, name string) ([]container.Summary, error) {
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: clusterFilter(name)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return cs, nil
}

// Status describes the cluster called name; a cluster with no container
// has no members.
func Status(ctx context.Context, cli *client.Client, name string) (*Cluster, error) {
	cs, err := list(ctx, cli, name)
	if err != nil {
		return nil, err
	}
	st := &Cluster{Name: name, Network: NetworkName(name)}
	if n, err := cli.NetworkInspect(ctx, st.Network, network.InspectOptions{}); err == nil {
		if len(n.IPAM.Config) > 0 {
			st.Subnet = n.IPAM.Config[0].Subnet
		}
		st.Source = n.Labels[LabelSource]
		st.Security = n.Labels[LabelSecurity]
		if dir := n.Labels[LabelPKI]; dir != "" {
			st.TLS = &TLSFiles{CACert: filepath.Join(dir, labpki.CAFile),
				ClientCert: filepath.Join(dir, labpki.CLIFile), ClientKey: filepath.Join(dir, labpki.CLIKeyFile)}
		}
	}
	if st.Security == "" {
		st.Security = topology.SecurityNone
	}
	scheme := "http://"
	if st.TLS != nil {
		scheme = "https://"
	}
	for _, c := range cs {
		m := Member{
			Machine: c.Labels[LabelMachine], Role: topology.Role(c.Labels[LabelRole]), IP: c.Labels[LabelIP],
			Container: strings.TrimPrefix(firstName(c.Names), "/"), State: c.State,
		}
		if info, err := cli.ContainerInspect(ctx, c.ID); err == nil && info.Config != nil {
			m.Hostname = info.Config.Hostname
		}
		if m.Role == topology.RoleServer && st.Address == "" {
			st.Address = scheme + net.JoinHostPort(m.IP, "4646")
			st.ServerContainer = m.Container
			for _, p := range c.Ports {
				if p.PrivatePort == 4646 && p.PublicPort != 0 {
					st.HostAddress = scheme + net.JoinHostPort(p.IP, strconv.Itoa(int(p.PublicPort)))
				}
			}
			if st.ACL() && m.State == "running" {
				st.Token, _ = readToken(ctx, cli, c.ID)
			}
		}
		st.Members = append(st.Members, m)
	}
	sort.Slice(st.Members, func(i, j int) bool {
		a, b := st.Members[i], st.Members[j]
		if (a.Role == topology.RoleServer) != (b.Role == topology.RoleServer) {
			return a.Role == topology.RoleServer
		}
		return a.Machine < b.Machine
	})
	return st, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// Down removes the containers, networks and client data directories of
// the cluster called name, and nothing else. It reports what it removed
// to progress; with nothing to remove it says so and succeeds.
func Down(ctx context.Context, cli *client.Client, name string, progress io.Writer) error {
	cs, err := list(ctx, cli, name)
	if err != nil {
		return err
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: clusterFilter(name)})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	if len(cs) == 0 && len(nets) == 0 {
		fmt.Fprintf(progress, "No cluster %q: nothing to remove\n", name)
		return nil
	}
	var errs []error
	var removed []string
	for _, c := range cs {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", firstName(c.Names), err))
			continue
		}
		removed = append(removed, strings.TrimPrefix(firstName(c.Names), "/"))
		if dir := c.Labels[LabelDataDir]; dir != "" && filepath.Base(dir) == c.Labels[LabelMachine] {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
			} else {
				// The cluster's own directory, once empty.
				_ = os.Remove(filepath.Dir(dir))
			}
		}
	}
	// Tasks the clients started are sibling containers on the cluster
	// network; a client gone before removing them leaves them behind,
	// running or exited.
	for _, n := range nets {
		tasks, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("network", n.ID))})
		if err != nil {
			errs = append(errs, fmt.Errorf("list tasks on %s: %w", n.Name, err))
		}
		for _, c := range tasks {
			if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err == nil {
				removed = append(removed, "task "+strings.TrimPrefix(firstName(c.Names), "/"))
			}
		}
		if err := cli.NetworkRemove(ctx, n.ID); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		if dir := n.Labels[LabelPKI]; dir != "" && filepath.Base(dir) == "pki" {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", dir, err))
			} else {
				removed = append(removed, "lab CA "+dir)
				_ = os.Remove(filepath.Dir(dir))
			}
		}
		removed = append(removed, "network "+n.Name)
	}
	if len(removed) > 0 {
		fmt.Fprintf(progress, " ✓ Removed %s\n", strings.Join(removed, ", "))
	}
	return errors.Join(errs...)
}
