package cli

import (
	"fmt"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

type evalListFlags struct {
	verbose   bool
	out       outputFlags
	job       string
	status    string
	perPage   int
	pageToken string
	filter    string
}

// newEvalListCommand is "eval list": the evaluations, newest first.
func newEvalListCommand(s *streams) *cobra.Command {
	var f evalListFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List evaluations, newest first",
		Long: "Lists the evaluations the servers keep, newest first: what triggered each,\n" +
			"for which job (or node), its status and whether allocations could not be\n" +
			"placed. -job and -status narrow the list. -per-page cuts it into pages: the\n" +
			"command then prints how to ask for the next page (-page-token). -filter keeps\n" +
			"the evaluations an expression over their fields selects, e.g.\n" +
			"'TriggeredBy == \"node-update\"'.",
		Example: "  drover eval list\n" +
			"  drover eval list -job example -status complete\n" +
			"  drover eval list -per-page 3\n" +
			"  drover eval list -json",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			return runEvalList(s, f)
		},
	}
	fl := c.Flags()
	fl.BoolVar(&f.verbose, "verbose", false, "show full IDs")
	f.out.register(c, "the evaluations")
	fl.StringVar(&f.job, "job", "", "only the evaluations of this job ID")
	fl.StringVar(&f.status, "status", "", "only the evaluations with this status (pending, blocked, complete, failed, canceled)")
	fl.IntVar(&f.perPage, "per-page", 0, "list this many evaluations at most, with a token for the next page")
	fl.StringVar(&f.pageToken, "page-token", "", "start at this token, from the previous page")
	fl.StringVar(&f.filter, "filter", "", "only the evaluations this expression selects, e.g. 'Status == \"blocked\"'")
	return c
}

func runEvalList(s *streams, f evalListFlags) error {
	if err := f.out.check(); err != nil {
		return err
	}
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	opts := &api.QueryOptions{Filter: f.filter, PerPage: int32(f.perPage), NextToken: f.pageToken, Params: map[string]string{}}
	if f.job != "" {
		opts.Params["job"] = f.job
	}
	if f.status != "" {
		opts.Params["status"] = f.status
	}
	evals, meta, err := client.Evaluations().List(opts)
	if err != nil {
		return fail(1, "Error querying evaluations: %v", err)
	}
	if f.out.active() {
		return f.out.print(s, evals)
	}
	if len(evals) == 0 {
		fmt.Fprintln(s.Out, "No evals found")
		return nil
	}
	length := shortID
	if f.verbose {
		length = fullID
	}
	fmt.Fprintln(s.Out, formatList(evalListRows(evals, length)))
	s.printNextPage(meta.NextToken, "eval", "list")
	s.uiHint(hintEvals, "/ui/evaluations")
	return nil
}

// evalListRows is the evaluations table: a header and one row each.
func evalListRows(evals []*api.Evaluation, length int) []string {
	rows := []string{"ID|Priority|Triggered By|Job ID|Namespace|Node ID|Status|Placement Failures"}
	for _, e := range evals {
		failures, _ := evalFailureStatus(e)
		rows = append(rows, fmt.Sprintf("%s|%d|%s|%s|%s|%s|%s|%s", limit(e.ID, length), e.Priority, e.TriggeredBy,
			e.JobID, e.Namespace, limit(e.NodeID, length), e.Status, failures))
	}
	return rows
}
