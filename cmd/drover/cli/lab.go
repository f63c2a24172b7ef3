package cli

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"

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
				a, err := startEmbeddedAgent(dir)
				if err != nil {
					return fail(1, "Error starting the embedded dev agent: %v", err)
				}
				defer a.Shutdown()
				addr = "http://" + a.HTTPAddr()
				fmt.Fprintf(s.Out, "==> Embedded dev agent at %s (its log: %s)\n", addr, filepath.Join(dir, "agent.log"))
			}
			client, err := s.apiClient(addr)
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
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

// startEmbeddedAgent runs a dev agent in this process on free loopback
// ports, logging to dir/agent.log.
func startEmbeddedAgent(dir string) (*agent.Agent, error) {
	cfg := config.DevConfig()
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
	for _, p := range []string{"ports.http", "ports.rpc", "ports.serf"} {
		cfg.MarkSet(p)
	}
	cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return nil, err
	}
	return agent.New(cfg, log.New(logFile, "", log.LstdFlags))
}
