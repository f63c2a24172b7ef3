package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// newAgentInfoCommand is "agent-info": the statistics of the agent the
// CLI talks to.
func newAgentInfoCommand(s *streams) *cobra.Command {
	var out outputFlags
	c := &cobra.Command{
		Use:   "agent-info",
		Short: "Show the local agent's status and statistics",
		Long: "Shows the statistics of the agent the CLI talks to, section by section:\n" +
			"\"nomad\" (its server role: leader, leader_addr, bootstrap, known_regions),\n" +
			"\"raft\" and \"serf\" (the consensus and gossip libraries' own numbers),\n" +
			"\"client\" (its node, known servers, heartbeat) and \"runtime\" (Go's). A\n" +
			"server-only agent has no client section and a client-only agent no server\n" +
			"sections. -json and -t print the whole answer of /v1/agent/self.",
		Example: "  drover agent-info\n" +
			"  drover agent-info -json\n" +
			"  drover agent-info -t '{{ .Stats.raft.state }}'",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			if err := out.check(); err != nil {
				return err
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			self, err := client.Agent().Self()
			if err != nil {
				return fail(1, "Error querying agent info: %v", err)
			}
			if out.active() {
				return out.print(s, self)
			}
			fmt.Fprint(s.Out, formatAgentStats(self.Stats))
			return nil
		},
	}
	out.register(c, "the agent's information")
	return c
}

// formatAgentStats prints each section's name, then its keys as
// "  key = value", sections and keys sorted.
func formatAgentStats(stats map[string]map[string]string) string {
	var b strings.Builder
	sections := make([]string, 0, len(stats))
	for name := range stats {
		sections = append(sections, name)
	}
	sort.Strings(sections)
	for _, name := range sections {
		b.WriteString(name + "\n")
		keys := make([]string, 0, len(stats[name]))
		for k := range stats[name] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "  %s = %s\n", k, stats[name][k])
		}
	}
	return b.String()
}
