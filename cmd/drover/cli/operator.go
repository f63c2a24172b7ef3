package cli

import (
	"fmt"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// operator: low-level tools for whoever runs the servers. For now the
// raft peer set, as the outage-recovery guides read it.

func newOperatorCommand(s *streams) *cobra.Command {
	c := group("operator", "Operate the cluster's servers at a low level",
		"  drover operator raft list-peers\n  drover operator gossip keyring generate",
		newOperatorRaftCommand(s),
		newOperatorGossipCommand(s),
	)
	keygen := newGossipKeyringGenerateCommand(s, "keygen")
	keygen.Hidden = true // the older releases' name
	c.AddCommand(keygen)
	c.Long = "Commands for cluster operators: inspecting the consensus layer the servers\n" +
		"replicate their state with, for example while recovering from an outage."
	return c
}

func newOperatorRaftCommand(s *streams) *cobra.Command {
	c := group("raft", "Inspect the servers' raft peer set",
		"  drover operator raft list-peers\n  drover operator raft list-peers -stale",
		newOperatorRaftListPeersCommand(s),
	)
	c.Long = "Commands about raft, the protocol the servers use to agree on the cluster\n" +
		"state: which servers take part in it and which one leads."
	return c
}

func newOperatorRaftListPeersCommand(s *streams) *cobra.Command {
	var stale bool
	c := &cobra.Command{
		Use:   "list-peers",
		Short: "Display the current raft peer configuration",
		Long: "Lists the servers in the raft configuration, in the order the agent returns\n" +
			"them: their node name, raft ID, raft address, whether each is the leader or a\n" +
			"follower, whether it votes, and the raft protocol it speaks.\n\n" +
			"By default the leader answers. When the cluster has lost its leader, -stale\n" +
			"lets any server answer from its own copy of the configuration.",
		Example: "  drover operator raft list-peers\n  drover operator raft list-peers -stale",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			return runOperatorRaftListPeers(s, client, stale)
		},
	}
	c.Flags().BoolVar(&stale, "stale", false, "let a server that is not the leader answer (for a cluster without a leader)")
	return c
}

func runOperatorRaftListPeers(s *streams, client *api.Client, stale bool) error {
	conf, err := client.Operator().RaftGetConfiguration(&api.QueryOptions{AllowStale: stale})
	if err != nil {
		return fail(1, "Failed to retrieve raft configuration: %v", err)
	}
	rows := []string{"Node|ID|Address|State|Voter|RaftProtocol"}
	for _, p := range conf.Servers {
		if p == nil {
			continue
		}
		state := "follower"
		if p.Leader {
			state = "leader"
		}
		rows = append(rows, fmt.Sprintf("%s|%s|%s|%s|%t|%s", p.Node, p.ID, p.Address, state, p.Voter, p.RaftProtocol))
	}
	fmt.Fprintln(s.Out, formatListWithSpaces(rows))
	return nil
}
