package cli

import (
	"fmt"
	"net"
	"sort"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

func newServerCommand(s *streams) *cobra.Command {
	c := group("server", "Inspect and manage the cluster's servers",
		"  drover server members\n"+
			"  drover server join 10.0.0.8:4648\n"+
			"  drover server force-leave server-3.global",
		newServerMembersCommand(s),
		newServerJoinCommand(s),
		newServerForceLeaveCommand(s),
	)
	c.Long = "Commands about the servers that hold the cluster state and schedule its work:\n" +
		"listing them, joining a server to others, and forcing a failed one out."
	return c
}

func newServerMembersCommand(s *streams) *cobra.Command {
	return buildServerMembersCommand(s, "members", nil)
}

// newServerMembersLegacyCommand is the hidden, deprecated "server-members":
// it warns, then runs "server members".
func newServerMembersLegacyCommand(s *streams) *cobra.Command {
	c := buildServerMembersCommand(s, "server-members", legacyUsage{"server", "members"})
	c.Hidden = true
	run := c.RunE
	c.RunE = func(c *cobra.Command, args []string) error {
		root := c.Root().Name()
		msg := fmt.Sprintf("WARNING! The %q command is deprecated. Please use %q instead. "+
			"This command will be removed a later version of Drover.",
			root+" server-members", root+" server members")
		fmt.Fprintf(s.Err, "%s\n\n", wrapWords(msg, 78))
		return run(c, args)
	}
	return c
}

func buildServerMembersCommand(s *streams, use string, legacy legacyUsage) *cobra.Command {
	var verbose bool
	var o outputFlags
	prog := "drover server members"
	if legacy != nil {
		prog = "drover server-members"
	}
	c := &cobra.Command{
		Use:   use,
		Short: "List the cluster's servers",
		Long: "Lists the servers the agent knows of, sorted by region, datacenter and name:\n" +
			"their address and port, whether they are alive, which one leads its region,\n" +
			"their raft protocol version, build, datacenter and region. -verbose adds the\n" +
			"member protocol and all tags.",
		Example: "  " + prog + "\n  " + prog + " -verbose",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return legacy.err(c, "This command takes no arguments")
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			return runServerMembers(s, client, verbose, o)
		},
	}
	c.Flags().BoolVar(&verbose, "verbose", false, "add the protocol version and tags of each member")
	o.register(c, "the members")
	return c
}

func runServerMembers(s *streams, client *api.Client, verbose bool, o outputFlags) error {
	resp, err := client.Agent().Members()
	if err != nil {
		return fail(1, "Error querying servers: %v", err)
	}
	if o.active() {
		return o.print(s, resp.Members)
	}
	members := append([]*api.AgentMember(nil), resp.Members...)
	sort.SliceStable(members, func(i, j int) bool {
		a, b := members[i], members[j]
		if a.Tags["region"] != b.Tags["region"] {
			return a.Tags["region"] < b.Tags["region"]
		}
		if a.Tags["dc"] != b.Tags["dc"] {
			return a.Tags["dc"] < b.Tags["dc"]
		}
		return a.Name < b.Name
	})

	// The leader of each region, by its RPC address.
	leaders := map[string]string{}
	var leaderErr error
	for _, m := range members {
		region := m.Tags["region"]
		if _, ok := leaders[region]; ok {
			continue
		}
		var l string
		var err error
		if region == "" {
			l, err = client.Status().Leader()
		} else {
			l, err = client.Status().RegionLeader(region)
		}
		if err != nil && leaderErr == nil {
			leaderErr = fmt.Errorf("region %q: %v", region, err)
		}
		leaders[region] = l
	}

	header := "Name|Address|Port|Status|Leader|Raft Version|Build|Datacenter|Region"
	if verbose {
		header = "Name|Address|Port|Status|Leader|Protocol|Raft Version|Build|Datacenter|Region|Tags"
	}
	rows := []string{header}
	for _, m := range members {
		leader := false
		if l := leaders[m.Tags["region"]]; l != "" && m.Tags["port"] != "" {
			leader = net.JoinHostPort(m.Addr, m.Tags["port"]) == l
		}
		row := fmt.Sprintf("%s|%s|%d|%s|%v", m.Name, m.Addr, m.Port, m.Status, leader)
		if verbose {
			row += fmt.Sprintf("|%d", m.ProtocolCur)
		}
		row += fmt.Sprintf("|%s|%s|%s|%s", m.Tags["raft_vsn"], m.Tags["build"], m.Tags["dc"], m.Tags["region"])
		if verbose {
			row += "|" + memberTags(m.Tags)
		}
		rows = append(rows, row)
	}
	fmt.Fprintln(s.Out, formatListWithSpaces(rows))
	if leaderErr != nil {
		return fail(1, "Error determining leaders: %v", leaderErr)
	}
	// The cluster page lists the servers with the clients.
	s.uiHint(hintServers, "/ui/clients")
	return nil
}

func newServerJoinCommand(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "join <address> [<address>...]",
		Short: "Join server nodes together",
		Long: "Asks the agent's server to join the servers at the given gossip addresses\n" +
			"(host:port, serf port 4648 by default). Joining one of them is enough: gossip\n" +
			"then finds the rest of the cluster. The command succeeds (exit code 0) when at\n" +
			"least one address was joined, and fails (exit code 1) otherwise.",
		Example: "  drover server join 10.0.0.8:4648\n" +
			"  drover server join -address http://10.0.0.9:4646 10.0.0.8:4648 10.0.0.7:4648",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) < 1 {
				return &usageError{cmd: c, msg: "One or more node addresses must be given as arguments"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			return runServerJoin(s, client, args)
		},
	}
	return c
}

func runServerJoin(s *streams, client *api.Client, addrs []string) error {
	n, err := client.Agent().Join(addrs...)
	if err != nil {
		return fail(1, "Error joining: %v", err)
	}
	if n < 1 {
		return fail(1, "Error joining: no servers were joined")
	}
	fmt.Fprintf(s.Out, "Joined %d servers successfully\n", n)
	return nil
}

func newServerForceLeaveCommand(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "force-leave <node>",
		Short: "Force a server into the 'left' state",
		Long: "Marks the named server (its member name, as \"server members\" shows it) as\n" +
			"having left the cluster, to eject a server that failed and will not come\n" +
			"back. A server that is in fact still alive rejoins by itself. Prints nothing\n" +
			"on success.",
		Example: "  drover server force-leave server-3.global",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <node>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if err := client.Agent().ForceLeave(args[0]); err != nil {
				return fail(1, "Error force-leaving server %s: %v", args[0], err)
			}
			return nil
		},
	}
	return c
}

// memberTags prints a member's tags as sorted key=value pairs.
func memberTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+tags[k])
	}
	return strings.Join(pairs, ",")
}

// wrapWords breaks text into lines of at most width characters at
// spaces; a word longer than width stays whole on its own line.
func wrapWords(text string, width int) string {
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			switch {
			case line == "":
				line = w
			case len(line)+1+len(w) <= width:
				line += " " + w
			default:
				lines = append(lines, line)
				line = w
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
