package cli

import (
	"errors"
	"fmt"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// findAlloc resolves the allocation a command names: an ID or ID prefix,
// or with job set a job ID (or prefix), of which a running allocation is
// picked at random (any allocation when none runs), as "alloc logs -job"
// does. A prefix matching several allocations is an error listing them.
func findAlloc(client *api.Client, arg string, job bool, group string, verbose bool) (*api.Allocation, error) {
	var alloc *api.Allocation
	var err error
	if job {
		alloc, err = pickJobAlloc(client, arg, group)
	} else {
		alloc, err = resolveAlloc(client, arg)
	}
	var multi *errMultipleAllocs
	if errors.As(err, &multi) {
		length := shortID
		if verbose {
			length = fullID
		}
		return nil, fail(1, "Prefix matched multiple allocations\n\n%s", formatAllocListStubs(multi.stubs, verbose, length))
	}
	return alloc, err
}

// validateTask checks that the allocation's group has the task, and
// otherwise lists the ones it has, as the compatible CLI words it.
func validateTask(alloc *api.Allocation, task string) error {
	tg := allocGroup(alloc)
	if tg == nil {
		return fmt.Errorf("Could not find allocation task group: %s", alloc.TaskGroup)
	}
	var names []string
	for _, t := range tg.Tasks {
		if t == nil {
			continue
		}
		if t.Name == task {
			return nil
		}
		names = append(names, t.Name)
	}
	return fmt.Errorf("Could not find task named: %s, found:\n%s", task, formatList(names))
}

// ---------------------------------------------------------------------
// alloc stop

func newAllocStopCommand(s *streams) *cobra.Command {
	var detach, verbose, noShutdownDelay bool
	c := &cobra.Command{
		Use:   "stop <allocation>",
		Short: "Stop an allocation and have it replaced",
		Long: "Stops one allocation. The scheduler replaces it under the same name, as\n" +
			"it replaces one that migrates off a draining node (the replacement may land\n" +
			"on the same node). An allocation of a system job is only stopped: the job's\n" +
			"next evaluation places one on its node again. The command then follows the\n" +
			"evaluation, as \"job run\" does; it is safe to interrupt. With -detach it\n" +
			"prints the evaluation ID and returns at once.\n" +
			"-no-shutdown-delay asks the client to skip the tasks' shutdown_delay.\n" +
			"The allocation may be given by an ID prefix of at least two characters.",
		Example: "  drover alloc stop 6085301b\n" +
			"  drover alloc stop -detach 6085301b\n" +
			"  drover alloc stop -verbose -no-shutdown-delay 6085301b",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <alloc-id>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			alloc, err := findAlloc(client, args[0], false, "", verbose)
			if err != nil {
				return err
			}
			var q *api.QueryOptions
			if noShutdownDelay {
				q = &api.QueryOptions{Params: map[string]string{"no_shutdown_delay": "true"}}
			}
			resp, err := client.Allocations().Stop(alloc, q)
			if err != nil {
				return fail(1, "Error stopping allocation: %s", err)
			}
			if detach {
				fmt.Fprintln(s.Out, resp.EvalID)
				return nil
			}
			code, err := newMonitor(s.Out, client, verbose).run(c.Context(), resp.EvalID)
			if err != nil {
				return fail(1, "%v", err)
			}
			if code != 0 {
				return fail(code, "")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&detach, "detach", false, "print the evaluation ID and return at once instead of following it")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	c.Flags().BoolVar(&noShutdownDelay, "no-shutdown-delay", false, "ask the client to skip the tasks' shutdown_delay")
	return c
}

// ---------------------------------------------------------------------
// alloc restart

func newAllocRestartCommand(s *streams) *cobra.Command {
	var allTasks, verbose bool
	var task string
	c := &cobra.Command{
		Use:   "restart <allocation> [<task>]",
		Short: "Restart the tasks of an allocation in place",
		Long: "Restarts tasks of a running allocation where they run: the same allocation,\n" +
			"on the same node. Without a task, every running task restarts; with a task\n" +
			"(the second argument, or -task, which wins), only that one; with -all-tasks,\n" +
			"every task, including those that have finished. Each task is stopped with\n" +
			"its kill signal and timeout and started again at once; its events read\n" +
			"\"Restart Signaled\", \"Terminated\", \"Restarting\", \"Started\". A restart you\n" +
			"ask for does not count against the restart policy's attempts.",
		Example: "  drover alloc restart 6085301b\n" +
			"  drover alloc restart 6085301b redis\n" +
			"  drover alloc restart -task redis 6085301b\n" +
			"  drover alloc restart -all-tasks 6085301b",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{cmd: c, msg: "This command takes one or two arguments: <alloc-id> <task-name>"}
			}
			if task == "" && len(args) == 2 {
				task = args[1]
			}
			if allTasks && task != "" {
				return fail(1, "The -all-tasks option is not allowed when restarting a specific task.")
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			alloc, err := findAlloc(client, args[0], false, "", verbose)
			if err != nil {
				return err
			}
			if task != "" {
				if err := validateTask(alloc, task); err != nil {
					return fail(1, "%v", err)
				}
			}
			if allTasks {
				err = client.Allocations().RestartAllTasks(alloc, nil)
			} else {
				err = client.Allocations().Restart(alloc, task, nil)
			}
			if err != nil {
				target := "allocation"
				if task != "" {
					target = "task"
				}
				return fail(1, "Failed to restart %s:\n\n%s", target, err)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&allTasks, "all-tasks", false, "restart every task, also those that have finished (not with a task)")
	c.Flags().StringVar(&task, "task", "", "the task to restart (wins over the second argument)")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}

// ---------------------------------------------------------------------
// alloc signal

func newAllocSignalCommand(s *streams) *cobra.Command {
	var verbose bool
	var signal, task string
	c := &cobra.Command{
		Use:   "signal <allocation> [<task>]",
		Short: "Send a signal to the tasks of an allocation",
		Long: "Sends a signal to a task of a running allocation (the second argument, or\n" +
			"-task, which wins), or to all its tasks. The signal is named as kill -l names\n" +
			"it (SIGHUP, SIGUSR1, ...; the SIG may be left out) and is SIGKILL unless -s\n" +
			"says otherwise, so by default the task is killed and restarted according to\n" +
			"its restart policy. The task's events record it as \"Signaling\".",
		Example: "  drover alloc signal -s SIGHUP 6085301b\n" +
			"  drover alloc signal -s SIGUSR1 6085301b redis\n" +
			"  drover alloc signal -task redis 6085301b",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{cmd: c, msg: "This command takes up to two arguments: <alloc-id> <task>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			alloc, err := findAlloc(client, args[0], false, "", verbose)
			if err != nil {
				return err
			}
			if task == "" && len(args) == 2 {
				task = args[1]
			}
			if task != "" {
				if err := validateTask(alloc, task); err != nil {
					return fail(1, "%v", err)
				}
			}
			if err := client.Allocations().Signal(alloc, nil, task, signal); err != nil {
				return fail(1, "Error signalling allocation: %s", err)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&signal, "s", "s", "SIGKILL", "the `signal` to send")
	c.Flags().StringVar(&task, "task", "", "the task to signal (wins over the second argument)")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}
