package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"drover/kit/dockercluster"
	"drover/kit/labpki"
	"drover/kit/nodeconfig"
	"drover/kit/topology"
)

func newClusterCommand(s *streams) *cobra.Command {
	c := group("cluster", "The lab cluster of cluster.yaml: check it, render its configs, run it in Docker",
		"  drover cluster validate\n"+
			"  drover cluster up\n"+
			"  drover cluster status\n"+
			"  drover cluster down",
		newClusterValidateCommand(s),
		newClusterRenderCommand(s),
		newClusterUpCommand(s),
		newClusterStatusCommand(s),
		newClusterDownCommand(s),
	)
	c.Long = "cluster.yaml lists the lab's machines: one server and two clients. \"vagrant up\"\n" +
		"makes one VM per machine; \"drover cluster up\" makes one container per machine,\n" +
		"for laptops without VirtualBox. Both render each agent's configuration the same way."
	return c
}

// clusterFileFlag adds -f, the cluster description to read.
func clusterFileFlag(c *cobra.Command, file *string) {
	c.Flags().StringVarP(file, "file", "f", "cluster.yaml", "the cluster description")
}

func loadCluster(file string) (*topology.Cluster, error) {
	c, err := topology.Load(file)
	if err != nil {
		var ps topology.Problems
		if errors.As(err, &ps) {
			return nil, fail(1, "Error validating %s:\n%v", file, err)
		}
		return nil, fail(1, "Error reading cluster description: %v", err)
	}
	return c, nil
}

func newClusterValidateCommand(s *streams) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check cluster.yaml",
		Long: "Reads cluster.yaml and reports every problem with file:line:col: duplicate\n" +
			"names, hostnames or addresses, an address outside the network or inside\n" +
			"Docker's default bridge (172.17.0.0/16), no server, unknown keys, a security\n" +
			"other than none, acl or acl+tls.",
		Example: "  drover cluster validate\n  drover cluster validate -f other.yaml",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := loadCluster(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s is valid: %s, %s on %s (provider %s, security %s)\n",
				file, countOf(len(cl.Servers()), "server"), countOf(len(cl.Clients()), "client"), cl.Network, cl.Provider, cl.Security)
			rows := []string{"Machine|Role|Hostname|Address|RAM|CPUs"}
			for _, m := range cl.Machines {
				rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%d MiB|%d", m.Name, m.Role, m.Hostname, m.IP, m.RAM, m.CPUs))
			}
			fmt.Fprintln(s.Out, formatList(rows))
			return nil
		},
	}
	clusterFileFlag(c, &file)
	return c
}

func newClusterRenderCommand(s *streams) *cobra.Command {
	var file, node, iface, dataDir, taskNetwork, out, pkiDir string
	c := &cobra.Command{
		Use:   "render",
		Short: "Write a machine's agent configuration",
		Long: "Renders the agent configuration of one machine of cluster.yaml from the\n" +
			"templates built into drover (configs/templates) into -out/<role>.hcl, or to\n" +
			"standard output with -out -. With -interface auto the client's\n" +
			"network_interface is the interface of this machine holding its address.\n" +
			"A file that would not change is left alone and reported \"unchanged\".\n\n" +
			"With security: acl+tls in cluster.yaml, the lab CA, the gossip key and each\n" +
			"machine's certificate live in -pki (made there the first time, reused after,\n" +
			"so machines sharing the directory trust one CA); the machine's CA, certificate\n" +
			"and key are written to -out/tls.",
		Example: "  drover cluster render -node drover-client01 -interface auto -out /etc/drover.d\n" +
			"  drover cluster render -node drover-server -out -",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if node == "" {
				return &usageError{cmd: c, msg: "-node is required: the machine's name in " + file}
			}
			cl, err := loadCluster(file)
			if err != nil {
				return err
			}
			m, ok := cl.Machine(node)
			if !ok {
				_, err := nodeconfig.For(cl, node, nodeconfig.Options{})
				return fail(1, "Error: %v", err)
			}
			if iface == "auto" {
				if iface, err = nodeconfig.FindInterface(m.IP); err != nil {
					return fail(1, "Error finding the network interface: %v (is this %s?)", err, m.Name)
				}
			}
			nopts := nodeconfig.Options{DataDir: dataDir, Interface: iface, TaskNetwork: taskNetwork}
			var tlsFiles map[string]nodeconfig.File
			if cl.TLS() {
				if pkiDir == "" {
					pkiDir = filepath.Join(filepath.Dir(file), ".drover", "pki")
				}
				p, err := labpki.Open(pkiDir, "")
				if err != nil {
					return fail(1, "Error preparing the lab CA in %s: %v", pkiDir, err)
				}
				if nopts.Encrypt, err = p.GossipKey(); err != nil {
					return fail(1, "Error: %v", err)
				}
				if tlsFiles, err = nodeconfig.TLSFiles(p, m); err != nil {
					return fail(1, "Error making %s's certificate: %v", m.Name, err)
				}
				if m.Role == topology.RoleServer {
					// The student's certificate, beside the CA on the host.
					if _, _, err := p.CLI(); err != nil {
						return fail(1, "Error making the CLI's certificate: %v", err)
					}
				}
				if out != "-" {
					if nopts.TLSDir, err = filepath.Abs(filepath.Join(out, "tls")); err != nil {
						return fail(1, "Error: %v", err)
					}
					nopts.TLSDir = filepath.ToSlash(nopts.TLSDir)
				}
			}
			n, err := nodeconfig.For(cl, node, nopts)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			data, err := nodeconfig.Render(n)
			if err != nil {
				return fail(1, "Error rendering %s: %v", node, err)
			}
			if out == "-" {
				_, err := s.Out.Write(data)
				return err
			}
			files := map[string]nodeconfig.File{nodeconfig.FileName(n): {Data: data, Mode: nodeconfig.FileMode(n)}}
			for name, f := range tlsFiles {
				files[filepath.Join("tls", name)] = f
			}
			names := make([]string, 0, len(files))
			for name := range files {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				if err := writeIfChanged(s, filepath.Join(out, name), files[name]); err != nil {
					return err
				}
			}
			return nil
		},
	}
	clusterFileFlag(c, &file)
	c.Flags().StringVar(&node, "node", "", "the machine's name in cluster.yaml")
	c.Flags().StringVar(&iface, "interface", "", "the client's network_interface, or auto (default eth1)")
	c.Flags().StringVar(&dataDir, "data-dir", "", "the agent's data_dir (default "+nodeconfig.DefaultDataDir+")")
	c.Flags().StringVar(&taskNetwork, "task-network", "", "a Docker network for the client's tasks (containers as machines)")
	c.Flags().StringVar(&out, "out", "/etc/drover.d", "the directory to write into, or - for standard output")
	c.Flags().StringVar(&pkiDir, "pki", "", "with security: acl+tls, the lab CA's directory (default .drover/pki beside the cluster file)")
	return c
}

// writeIfChanged writes a rendered file through a temporary one, and
// leaves a file that would not change alone.
func writeIfChanged(s *streams, path string, f nodeconfig.File) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, f.Data) {
		if err := os.Chmod(path, f.Mode); err != nil {
			return fail(1, "Error: %v", err)
		}
		fmt.Fprintf(s.Out, "unchanged %s\n", path)
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fail(1, "Error: %v", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, f.Data, f.Mode); err != nil {
		return fail(1, "Error writing %s: %v", path, err)
	}
	if err := os.Chmod(tmp, f.Mode); err != nil {
		return fail(1, "Error writing %s: %v", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(1, "Error writing %s: %v", path, err)
	}
	fmt.Fprintf(s.Out, "wrote %s\n", path)
	return nil
}

func dockerClient() (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fail(1, "Error connecting to Docker: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, fail(1, "Error connecting to Docker: %v", err)
	}
	return cli, nil
}

func clusterNameFlag(c *cobra.Command, name *string) {
	c.Flags().StringVar(name, "name", dockercluster.DefaultName, "the cluster's name, to run several side by side")
}

func newClusterUpCommand(s *streams) *cobra.Command {
	var file, name, binary string
	var wait time.Duration
	c := &cobra.Command{
		Use:   "up",
		Short: "Run the cluster of cluster.yaml as Docker containers",
		Long: "Creates one container per machine of cluster.yaml, from a FROM-scratch image\n" +
			"of this drover binary (built here, no registry), on a Docker network of its\n" +
			"own: cluster.yaml's addresses move to a free private /24, each machine keeping\n" +
			"its host number. Clients use this machine's Docker for their tasks, and a\n" +
			"task's port answers at its client's address, as on a VM. Waits until the\n" +
			"server has a leader and every client is ready.",
		Example: "  drover cluster up\n  drover cluster up -f cluster.yaml -name lab2",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := loadCluster(file)
			if err != nil {
				return err
			}
			cli, err := dockerClient()
			if err != nil {
				return err
			}
			defer cli.Close()
			st, err := dockercluster.Up(c.Context(), cli, cl, dockercluster.Options{
				Name: name, Binary: binary, Wait: wait, Progress: s.Out,
			})
			if err != nil {
				return fail(1, "Error creating the cluster: %v", err)
			}
			fmt.Fprintln(s.Out)
			printClusterStatus(c.Context(), s, st)
			return nil
		},
	}
	clusterFileFlag(c, &file)
	clusterNameFlag(c, &name)
	c.Flags().StringVar(&binary, "binary", "", "a static linux drover binary for the machines (default: this one)")
	c.Flags().DurationVar(&wait, "wait", 90*time.Second, "how long to wait for the cluster to be ready")
	return c
}

func newClusterStatusCommand(s *streams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:     "status",
		Short:   "Show the machines of a cluster made by cluster up",
		Long:    "Lists each machine of the cluster: its role, hostname, address and state, and\nthe -address to give other drover commands.",
		Example: "  drover cluster status\n  drover cluster status -name lab2",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cli, err := dockerClient()
			if err != nil {
				return err
			}
			defer cli.Close()
			st, err := dockercluster.Status(c.Context(), cli, name)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if len(st.Members) == 0 {
				return fail(1, "No cluster %q: start one with drover cluster up", name)
			}
			printClusterStatus(c.Context(), s, st)
			return nil
		},
	}
	clusterNameFlag(c, &name)
	return c
}

func printClusterStatus(ctx context.Context, s *streams, st *dockercluster.Cluster) {
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	leader, nodes, herr := dockercluster.Health(hctx, st)
	fmt.Fprintf(s.Out, "Cluster %q on network %s (%s)\n", st.Name, st.Network, st.Subnet)
	rows := []string{"Machine|Role|Hostname|Address|State"}
	for _, m := range st.Members {
		state := m.State
		if m.State == "running" && herr == nil {
			switch m.Role {
			case topology.RoleServer:
				if ap, err := netip.ParseAddrPort(leader); err == nil && ap.Addr().String() == m.IP {
					state += ", leader"
				}
			case topology.RoleClient:
				if ns := nodes[m.Hostname]; ns != "" {
					state += ", " + ns
				} else {
					state += ", not registered"
				}
			}
		}
		rows = append(rows, strings.Join([]string{m.Machine, string(m.Role), m.Hostname, m.IP, state}, "|"))
	}
	fmt.Fprintln(s.Out, formatList(rows))
	if herr != nil {
		fmt.Fprintf(s.Out, "\nThe server does not answer yet: %v\n", herr)
	}
	fmt.Fprintln(s.Out)
	if st.Security == "" || st.Security == topology.SecurityNone {
		fmt.Fprintf(s.Out, "Use: drover node status -address %s\n", st.HostAddress)
		fmt.Fprintf(s.Out, "  or: export DROVER_ADDR=%s   (inside the network: %s)\n", st.HostAddress, st.Address)
		return
	}
	fmt.Fprintf(s.Out, "Security: %s. To use the cluster from this machine:\n", st.Security)
	fmt.Fprintf(s.Out, "  export NOMAD_ADDR=%s   (inside the network: %s)\n", st.HostAddress, st.Address)
	if st.TLS != nil {
		fmt.Fprintf(s.Out, "  export NOMAD_CACERT=%s\n", st.TLS.CACert)
		fmt.Fprintf(s.Out, "  export NOMAD_CLIENT_CERT=%s\n", st.TLS.ClientCert)
		fmt.Fprintf(s.Out, "  export NOMAD_CLIENT_KEY=%s\n", st.TLS.ClientKey)
	}
	keep := fmt.Sprintf("docker cp %s:%s - | tar -xO", st.ServerContainer, dockercluster.TokenFile)
	if st.NewToken {
		fmt.Fprintf(s.Out, "  export NOMAD_TOKEN=%s\n", st.Token)
		fmt.Fprintf(s.Out, "\nNOMAD_TOKEN is the management token: it can do everything. It is shown this\n"+
			"once; the server keeps it in %s (%s).\n", dockercluster.TokenFile, keep)
	} else {
		fmt.Fprintf(s.Out, "  export NOMAD_TOKEN=$(%s)\n", keep)
		fmt.Fprintln(s.Out, "\nNOMAD_TOKEN is the management token \"cluster up\" printed, kept in the server.")
	}
}

func newClusterDownCommand(s *streams) *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:     "down",
		Short:   "Remove a cluster made by cluster up",
		Long:    "Removes the containers, the network and the client data directories that\n\"drover cluster up\" made for this cluster, and nothing else. Safe to run twice.",
		Example: "  drover cluster down\n  drover cluster down -name lab2",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			cli, err := dockerClient()
			if err != nil {
				return err
			}
			defer cli.Close()
			if err := dockercluster.Down(c.Context(), cli, name, s.Out); err != nil {
				return fail(1, "Error removing cluster %q: %v", name, err)
			}
			return nil
		},
	}
	clusterNameFlag(c, &name)
	return c
}

// countOf is "1 server" or "2 servers".
func countOf(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
