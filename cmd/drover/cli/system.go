package cli

import (
	"github.com/spf13/cobra"
)

// system: maintenance of the cluster's state.

func newSystemCommand(s *streams) *cobra.Command {
	c := group("system", "Maintain the cluster's state",
		"  drover system gc",
		newSystemGCCommand(s),
	)
	c.Long = "Commands that maintain what the servers keep, such as collecting what finished."
	return c
}

func newSystemGCCommand(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "gc",
		Short: "Run the garbage collector now",
		Long: "Asks the leader to forget, now and whatever their age, finished evaluations\n" +
			"and their terminal allocations, dead or stopped jobs with nothing left running,\n" +
			"finished deployments and down nodes with nothing on them. The servers do this on\n" +
			"their own past the server's *_gc_threshold settings. Prints nothing on success.",
		Example: "  drover system gc",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if err := client.System().GarbageCollect(); err != nil {
				return fail(1, "Error running system garbage-collection: %v", err)
			}
			return nil
		},
	}
	return c
}
