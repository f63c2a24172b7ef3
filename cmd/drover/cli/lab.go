package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"drover/agent"
	"drover/agent/config"
	"drover/labs"
)

func newLabCommand(s *streams) *cobra.Command {
	return group("lab", "Run the guided labs",
		"  drover lab list\n  drover lab run getting-started",
		newLabListCommand(s),
		newLabRunCommand(s),
	)
}

func newLabListCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the labs",
		Example: "  drover lab list",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			all, err := labs.List()
			if err != nil {
				return fail(1, "Error reading labs: %v", err)
			}
			rows := []string{"Name|Steps|Title"}
			for _, l := range all {
				rows = append(rows, fmt.Sprintf("%s|%d|%s", l.Name, len(l.Steps), l.Title))
			}
			fmt.Fprintln(s.Out, formatList(rows))
			return nil
		},
	}
}

func newLabRunCommand(s *streams) *cobra.Command {
	var addr, dir string
	c := &cobra.Command{
		Use:   "run <lab>",
		Short: "Play a lab, checking every step",
		Long: "Plays a lab: each step explains itself, runs drover commands (shown as you would\n" +
			"type them), edits files, and checks what the cluster did before going on. Without\n" +
			"-address, the lab runs against an embedded dev agent (server and client in this\n" +
			"process, on free loopback ports) that is stopped at the end. Files go to -dir, or a\n" +
			"temporary directory.",
		Example: "  drover lab run getting-started\n  drover lab run -address http://192.168.56.101:4646 getting-started",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <lab>"}
			}
			lab, err := labs.Load(args[0])
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if dir == "" {
				if dir, err = os.MkdirTemp("", "drover-lab-"); err != nil {
					return fail(1, "Error: %v", err)
				}
				defer os.RemoveAll(dir)
			}
			if addr == "" {
				agents, err := startEmbedded(lab.Cluster, dir)
				if err != nil {
					return fail(1, "Error starting the embedded agents: %v", err)
				}
				defer func() {
					for i := len(agents) - 1; i >= 0; i-- {
						stopEmbedded(agents[i])
					}
				}()
				addr = "http://" + agents[0].HTTPAddr()
				if lab.Cluster == "dev" {
					fmt.Fprintf(s.Out, "==> Embedded dev agent at %s (its log: %s)\n", addr, filepath.Join(dir, "agent.log"))
				} else {
					fmt.Fprintf(s.Out, "==> Embedded cluster: a server at %s and the clients client-one and client-two (logs in %s)\n", addr, dir)
				}
			}
			client, err := s.apiClient(addr)
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if started := map[string]int{"dev": 1, "server-and-two-clients": 2}[lab.Cluster]; !c.Flags().Changed("address") {
				// Embedded clients register in the background: start the
				// lab once they are ready, as a student would.
				if err := waitNodesReady(client, started, 30*time.Second); err != nil {
					return fail(1, "Error: %v", err)
				}
			}
			// Lab commands name files relative to the lab directory, as a
			// student's shell would.
			prev, err := os.Getwd()
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if err := os.Chdir(dir); err != nil {
				return fail(1, "Error: %v", err)
			}
			defer os.Chdir(prev)
			env := append(append([]string{}, s.Env...), "DROVER_ADDR="+addr)
			runner := &labs.Runner{
				Run: func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
					return MainContext(ctx, args, stdout, stderr, env)
				},
				Client: client,
				Dir:    dir,
				Out:    s.Out,
			}
			if err := runner.Play(c.Context(), lab); err != nil {
				return fail(1, "\n==> Lab stopped: %v", err)
			}
			return nil
		},
	}
	addressFlag(c, &addr)
	c.Flags().StringVar(&dir, "dir", "", "the directory for the lab's files (default: a temporary one)")
	return c
}

// startEmbedded starts the agents a lab asks for, in this process, on
// free loopback ports, each logging to dir/<name>.log: one dev agent, or
// a server and two clients (client-one, client-two) as in the lab cluster.
// The first agent returned answers the API.
func startEmbedded(cluster, dir string) ([]*agent.Agent, error) {
	if cluster == "dev" {
		cfg := config.DevConfig()
		a, err := startAgentFrom(cfg, dir, "agent")
		if err != nil {
			return nil, err
		}
		return []*agent.Agent{a}, nil
	}
	srvCfg := config.Default()
	srvCfg.Name = "server"
	srvCfg.Server.Enabled, srvCfg.Server.BootstrapExpect = true, 1
	srvCfg.MarkSet("server.enabled", "server.bootstrap_expect")
	srv, err := startAgentFrom(srvCfg, dir, "server")
	if err != nil {
		return nil, err
	}
	agents := []*agent.Agent{srv}
	for _, name := range []string{"client-one", "client-two"} {
		cfg := config.Default()
		cfg.Name = name
		cfg.Client.Enabled = true
		cfg.Client.Servers = []string{srv.Server().RPCAddr()}
		cfg.Client.NetworkInterface = "lo"
		cfg.MarkSet("client.enabled", "client.servers", "client.network_interface")
		a, err := startAgentFrom(cfg, dir, name)
		if err != nil {
			for _, started := range agents {
				stopEmbedded(started)
			}
			return nil, err
		}
		agents = append(agents, a)
	}
	return agents, nil
}

// startAgentFrom starts one embedded agent with its own data dir and
// free loopback ports.
func startAgentFrom(cfg *config.Config, dir, name string) (*agent.Agent, error) {
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	cfg.Ports.HTTP, cfg.Ports.RPC, cfg.Ports.Serf = ports[0], ports[1], ports[2]
	cfg.BindAddr = "127.0.0.1"
	if !cfg.DevMode {
		cfg.DataDir = filepath.Join(dir, name+"-data")
	}
	cfg.MarkSet("ports.http", "ports.rpc", "ports.serf", "bind_addr", "data_dir")
	cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	return agent.New(cfg, log.New(logFile, "", log.LstdFlags))
}

// stopEmbedded stops an embedded agent and the tasks it runs: a lab
// leaves nothing behind.
func stopEmbedded(a *agent.Agent) {
	if c := a.Client(); c != nil {
		c.Stop()
	}
	a.Shutdown()
}

// waitNodesReady waits until n nodes are ready.
func waitNodesReady(client *api.Client, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		nodes, _, err := client.Nodes().List(nil)
		ready := 0
		if err == nil {
			for _, node := range nodes {
				if node.Status == "ready" {
					ready++
				}
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d client nodes ready after %s", ready, n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
