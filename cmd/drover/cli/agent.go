package cli

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/spf13/cobra"

	"drover/agent"
	"drover/agent/config"
)

func newConfigCommand(s *streams) *cobra.Command {
	return group("config", "Work with agent configuration files",
		"  drover config validate configs/rendered/drover-server.hcl",
		newConfigValidateCommand(s),
	)
}

func newConfigValidateCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "validate <config files or directories...>",
		Short: "Check agent configuration files",
		Long: "Parses and merges agent configuration files and directories in the order\n" +
			"given, exactly as \"drover agent -config\" does, and reports every problem with\n" +
			"file:line:col. Job files are checked with \"drover job validate\" instead.",
		Example: "  drover config validate configs/rendered/drover-server.hcl\n" +
			"  drover config validate configs/rendered/drover-client01.hcl extra.d/",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{cmd: c, msg: "This command takes at least one argument: <config files or directories>"}
			}
			cfg, _, err := config.Load(args, false)
			if err != nil {
				return fail(1, "%v", err)
			}
			if err := cfg.Validate(); err != nil {
				return fail(1, "%v", err)
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintln(s.Err, w)
			}
			fmt.Fprintln(s.Out, "Configuration is valid!")
			return nil
		},
	}
}

// agentFlags are the command-line settings of "drover agent".
type agentFlags struct {
	configs    []string
	dev        bool
	devConnect bool
	dataDir    string
}

func newAgentCommand(s *streams) *cobra.Command {
	var flags agentFlags
	c := &cobra.Command{
		Use:   "agent",
		Short: "Run a Drover agent",
		Long: "Loads the agent configuration from -config files and directories (merged in\n" +
			"order) or builds the in-memory server+client configuration with -dev, validates\n" +
			"it, prints the effective configuration banner and runs the agent until\n" +
			"interrupted: the server (raft state under data_dir/server, the scheduler), the\n" +
			"client (runs tasks with the docker and raw_exec drivers) and the /v1 HTTP API.",
		Example: "  drover agent -config configs/rendered/drover-server.hcl\n" +
			"  drover agent -config configs/rendered/drover-client01.hcl\n" +
			"  drover agent -dev",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runAgent(c.Context(), s, flags)
		},
	}
	c.Flags().StringArrayVar(&flags.configs, "config", nil, "a configuration file or directory (repeatable; merged in order)")
	c.Flags().BoolVar(&flags.dev, "dev", false, "in-memory server and client for development")
	c.Flags().BoolVar(&flags.devConnect, "dev-connect", false, "as -dev, but bound to all interfaces, with the client on the default one")
	c.Flags().StringVar(&flags.dataDir, "data-dir", "", "the directory for agent state (overrides data_dir)")
	return c
}

// devConnect turns the dev configuration into -dev-connect's: reachable
// from other hosts (all interfaces) and fingerprinting the default
// interface instead of loopback, unless a -config file chose otherwise.
func devConnect(cfg *config.Config) {
	if cfg.BindAddr == "127.0.0.1" {
		cfg.BindAddr = "0.0.0.0"
	}
	if cfg.Client.NetworkInterface == "lo" {
		cfg.Client.NetworkInterface = ""
	}
}

// agentOut prints like the agent's own UI: messages prefixed "==> ".
func agentOut(s *streams, format string, args ...interface{}) {
	fmt.Fprintf(s.Out, "==> "+format+"\n", args...)
}

func runAgent(ctx context.Context, s *streams, flags agentFlags) error {
	cfg, files, err := config.Load(flags.configs, flags.dev || flags.devConnect)
	if err != nil {
		return fail(1, "==> Error loading configuration: %v", err)
	}
	if flags.devConnect {
		devConnect(cfg)
	}
	if flags.dataDir != "" {
		cfg.DataDir = flags.dataDir
	}
	cfg.DevMode = cfg.DevMode || flags.dev || flags.devConnect
	if err := cfg.Validate(); err != nil {
		return fail(1, "==> %v", err)
	}
	for _, w := range cfg.Warnings() {
		agentOut(s, "%s", w)
	}
	if len(files) > 0 {
		agentOut(s, "Loaded configuration from %s", strings.Join(files, ", "))
	} else {
		agentOut(s, "No configuration files loaded")
	}
	agentOut(s, "Starting Drover agent...")
	agentOut(s, "Drover agent configuration:\n")
	for _, line := range cfg.Banner(Version) {
		fmt.Fprintln(s.Out, line)
	}
	fmt.Fprintln(s.Out)
	logger := log.New(s.Out, "    ", log.LstdFlags)
	a, err := agent.New(cfg, logger)
	if err != nil {
		return fail(1, "==> Error starting agent: %v", err)
	}
	agentOut(s, "Drover agent started! Log data will stream in below:\n")
	a.Logger().Printf("[INFO] agent: HTTP API listening on %s", a.HTTPAddr())
	<-ctx.Done()
	agentOut(s, "Caught signal, shutting down...")
	if err := a.Shutdown(); err != nil {
		return fail(1, "==> Error shutting down: %v", err)
	}
	return nil
}
