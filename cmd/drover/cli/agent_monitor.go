package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

type monitorFlags struct {
	level    string
	nodeID   string
	serverID string
	json     bool
}

// newMonitorCommand is "monitor": the agent's log, live.
func newMonitorCommand(s *streams) *cobra.Command {
	var f monitorFlags
	c := &cobra.Command{
		Use:   "monitor",
		Short: "Stream the log of an agent",
		Long: "Streams the log of the agent the CLI talks to, from now on, until Ctrl-C. The\n" +
			"agent may log at INFO while -log-level TRACE, DEBUG, INFO, WARN or ERROR shows\n" +
			"every line of that level and above, whatever the agent's own log_level.\n" +
			"-node-id streams the log of the client agent of that node instead, and\n" +
			"-server-id that of a server (its name as \"drover server members\" shows it,\n" +
			"or \"leader\"); the agent asked forwards the stream. -json prints each line as\n" +
			"a JSON object (@level, @message, @module, @timestamp).",
		Example: "  drover monitor\n" +
			"  drover monitor -log-level DEBUG\n" +
			"  drover monitor -node-id e84125ed -log-level WARN\n" +
			"  drover monitor -server-id leader -json",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return monitorFail(c, "This command takes no arguments")
			}
			return runMonitor(c.Context(), c, s, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.level, "log-level", "", "the lowest level to show: TRACE, DEBUG, INFO (default), WARN or ERROR")
	fl.StringVar(&f.nodeID, "node-id", "", "stream the log of the client agent of this node (ID or prefix)")
	fl.StringVar(&f.serverID, "server-id", "", "stream the log of this server (member name, or leader)")
	fl.BoolVar(&f.json, "json", false, "print the log as JSON records")
	return c
}

// monitorFail reports an error as the monitor command does: each message's
// first line prefixed "==> ", and with c, the hint about -help.
func monitorFail(c *cobra.Command, messages ...string) error {
	if c != nil {
		messages = append(messages, fmt.Sprintf("For additional help try '%s -help'", c.CommandPath()))
	}
	return fail(1, "==> %s", strings.Join(messages, "\n==> "))
}

func runMonitor(ctx context.Context, c *cobra.Command, s *streams, f monitorFlags) error {
	client, err := s.apiClient()
	if err != nil {
		return monitorFail(c, fmt.Sprintf("Error initializing client: %v", err))
	}
	nodeID := f.nodeID
	if nodeID != "" {
		if nodeID, err = lookupNode(client, nodeID, nodeWords{tooShort: "Node ID must contain at least two characters.",
			query: "Error querying node: %v", notFound: "No node(s) with prefix or id %q found", verbose: true}); err != nil {
			return monitorFail(nil, err.Error())
		}
	}
	params := map[string]string{
		"log_level": f.level,
		"node_id":   nodeID,
		"server_id": f.serverID,
		"log_json":  strconv.FormatBool(f.json),
	}
	stop := make(chan struct{})
	defer close(stop)
	frames, errCh := client.Agent().Monitor(stop, &api.QueryOptions{Params: params})
	select {
	case err := <-errCh:
		return monitorFail(c, fmt.Sprintf("Error starting monitor: %v", err))
	default:
	}
	for {
		select {
		case <-ctx.Done():
			// Ctrl-C: a clean stop.
			return nil
		case frame, ok := <-frames:
			if !ok {
				// The agent ended the stream; its error says why.
				if err := <-errCh; err != nil && !errors.Is(err, io.EOF) {
					return monitorFail(nil, fmt.Sprintf("error monitoring logs: %v", err))
				}
				return nil
			}
			if _, err := s.Out.Write(frame.Data); err != nil {
				return monitorFail(nil, fmt.Sprintf("error monitoring logs: %v", err))
			}
		}
	}
}
