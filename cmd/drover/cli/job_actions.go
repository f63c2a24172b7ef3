package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

// The commands that act on a registered job: scale, eval, dispatch and
// periodic force, and the lists of its allocations and deployments.

// clientAndJob is the API client and the job a command's argument names
// (an ID or a prefix), or the error the command ends with.
func (s *streams) clientAndJob(prefix string) (*api.Client, *api.JobListStub, error) {
	client, err := s.apiClient()
	if err != nil {
		return nil, nil, fail(1, "Error initializing client: %v", err)
	}
	stub, err := findJob(client, strings.TrimSpace(prefix))
	if err != nil {
		return nil, nil, fail(1, "%v", err)
	}
	return client, stub, nil
}

// findJobWhere is findJob restricted to the jobs keep accepts, with the
// error of no match worded by noMatch.
func findJobWhere(client *api.Client, prefix string, keep func(*api.JobListStub) bool,
	noMatch func(prefix string) error) (*api.JobListStub, error) {
	all, _, err := client.Jobs().PrefixList(prefix)
	if err != nil {
		return nil, fmt.Errorf("Error querying job: %s", err)
	}
	var jobs []*api.JobListStub
	for _, j := range all {
		if keep(j) {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return nil, noMatch(prefix)
	}
	for _, j := range jobs {
		if j.ID == prefix {
			return j, nil
		}
	}
	if len(jobs) > 1 {
		return nil, fmt.Errorf("Prefix %q matched multiple jobs\n\n%s", prefix, formatJobList(jobs))
	}
	return jobs[0], nil
}

func newJobScaleCommand(s *streams) *cobra.Command {
	var detach, verbose bool
	var checkIndex uint64
	c := &cobra.Command{
		Use:   "scale <job> [<group>] <count>",
		Short: "Change the count of a job's task group",
		Long: "Sets the count of one task group of the job and follows the evaluation that\n" +
			"schedules the change. The job is stored as its next version with the new\n" +
			"count, and is scheduled exactly as running the job file with the count edited\n" +
			"would be (allocations that stay are updated in place, new ones are placed,\n" +
			"surplus ones stopped, under a new deployment). The group may be left out when\n" +
			"the job has only one. Scaling is refused while a deployment of the job is\n" +
			"running. -detach prints the evaluation ID and returns at once. With\n" +
			"-check-index, the job is only scaled if its modify index on the server is\n" +
			"still the one given (0 is ignored).",
		Example: "  drover job scale example 3\n" +
			"  drover job scale example cache 3\n" +
			"  drover job scale -check-index 24 example cache 3\n" +
			"  drover job scale -detach example cache 0",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return fail(1, "Command requires at least two arguments and no more than three")
			}
			group, countStr := "", args[1]
			if len(args) == 3 {
				group, countStr = args[1], args[2]
			}
			count, err := strconv.Atoi(countStr)
			switch {
			case err != nil && strings.HasPrefix(countStr, "-"):
				return &usageError{cmd: c, msg: fmt.Sprintf("Flags go before the job: %q is not a count", "-"+strings.TrimLeft(countStr, "-"))}
			case err != nil:
				return fail(1, "Failed to convert count string to int: %q is not a number", countStr)
			}
			client, stub, err := s.clientAndJob(args[0])
			if err != nil {
				return err
			}
			status, _, err := client.Jobs().ScaleStatus(stub.ID, nil)
			if err != nil {
				return fail(1, "Error querying job: %v", err)
			}
			if group, err = scaleGroup(status.TaskGroups, group); err != nil {
				return fail(1, "%v", err)
			}
			count64 := int64(count)
			resp, _, err := client.Jobs().ScaleWithRequest(stub.ID, &api.ScalingRequest{
				Count: &count64, Target: map[string]string{"Job": stub.ID, "Group": group},
				Message: "submitted using the Drover CLI", JobModifyIndex: checkIndex,
			}, nil)
			if err != nil {
				return fail(1, "Error submitting scaling request: %s", err)
			}
			if resp.Warnings != "" {
				fmt.Fprintln(s.Out, s.colorize(bold(colored(ansiYellow, "Job Warnings:\n"+resp.Warnings))+"\n"))
			}
			if detach {
				fmt.Fprintln(s.Out, "Evaluation ID: "+resp.EvalID)
				return nil
			}
			return monitorEval(c, s, client, resp.EvalID, verbose)
		},
	}
	c.Flags().BoolVar(&detach, "detach", false, "print the evaluation ID and return at once")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	c.Flags().Uint64Var(&checkIndex, "check-index", 0, "only scale if the job's modify index on the server is this one (0: not checked)")
	// Flags come before the job, as in the compatible CLI, so that a
	// negative count reaches the cluster (which refuses it) instead of
	// being read as a flag.
	c.Flags().SetInterspersed(false)
	return c
}

// scaleGroup picks the group to scale: the one named, or the job's only
// one.
func scaleGroup(groups map[string]api.TaskGroupScaleStatus, group string) (string, error) {
	if group == "" {
		if len(groups) > 1 {
			return "", errors.New("Group name required")
		}
		for name := range groups {
			return name, nil
		}
	}
	if _, ok := groups[group]; !ok {
		return "", fmt.Errorf("Group %v not found within job", group)
	}
	return group, nil
}

func newJobEvalCommand(s *streams) *cobra.Command {
	var force, detach, verbose bool
	c := &cobra.Command{
		Use:   "eval <job>",
		Short: "Force an evaluation for the job",
		Long: "Creates a new evaluation of the job, so the scheduler looks at it again (for\n" +
			"example after nodes changed), and follows it. With -force-reschedule, failed\n" +
			"allocations that were not replaced yet are replaced now, whatever their\n" +
			"reschedule policy's delay and attempts say (a group whose policy allows no\n" +
			"rescheduling at all is left alone). -detach prints the evaluation ID and\n" +
			"returns at once.",
		Example: "  drover job eval example\n" +
			"  drover job eval -force-reschedule example\n" +
			"  drover job eval -detach example",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			length := shortID
			if verbose {
				length = fullID
			}
			stub, err := findJob(client, strings.TrimSpace(args[0]))
			if err != nil {
				return fail(1, "%v", err)
			}
			evalID, _, err := client.Jobs().EvaluateWithOpts(stub.ID, api.EvalOptions{ForceReschedule: force}, nil)
			if err != nil {
				return fail(1, "Error evaluating job: %s", err)
			}
			if detach {
				// The compatible CLI ends this line with a space.
				fmt.Fprintf(s.Out, "Created eval ID: %q \n", limit(evalID, length))
				return nil
			}
			return monitorEval(c, s, client, evalID, verbose)
		},
	}
	c.Flags().BoolVar(&force, "force-reschedule", false, "reschedule failed allocations now, even if they are not yet eligible")
	c.Flags().BoolVar(&detach, "detach", false, "print the evaluation ID and return at once")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}

func newJobAllocsCommand(s *streams) *cobra.Command {
	var all, verbose bool
	var o outputFlags
	c := &cobra.Command{
		Use:   "allocs <job>",
		Short: "List allocations for a job",
		Long: "Lists the allocations of the job, newest first, in the table \"job status\"\n" +
			"prints. -all includes the allocations of earlier instances of the job (before\n" +
			"it was purged and registered again); -verbose shows full IDs, the evaluation\n" +
			"and node name of each allocation, and exact times.",
		Example: "  drover job allocs example\n" +
			"  drover job allocs -verbose example\n" +
			"  drover job allocs -t '{{range .}}{{.ID}} {{.ClientStatus}}{{\"\\n\"}}{{end}}' example",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job>"}
			}
			if err := o.check(); err != nil {
				return err
			}
			client, stub, err := s.clientAndJob(args[0])
			if err != nil {
				return err
			}
			allocs, _, err := client.Jobs().Allocations(stub.ID, all, nil)
			if err != nil {
				return fail(1, "Error retrieving allocations: %s", err)
			}
			if o.active() {
				return o.print(s, allocs)
			}
			if len(allocs) == 0 {
				fmt.Fprintln(s.Out, "No allocations placed")
				return nil
			}
			length := shortID
			if verbose {
				length = fullID
			}
			fmt.Fprintln(s.Out, formatAllocListStubs(allocs, verbose, length))
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "include allocations of earlier instances of the job")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs, evaluation and node name, and exact times")
	o.register(c, "the allocations")
	return c
}

func newJobDeploymentsCommand(s *streams) *cobra.Command {
	var latest, all, verbose bool
	var o outputFlags
	c := &cobra.Command{
		Use:   "deployments <job>",
		Short: "List deployments for a job",
		Long: "Lists the deployments of the job, newest first: the job version each rolled\n" +
			"out, its status and why. -latest shows only the latest deployment, as\n" +
			"\"deployment status\" shows it, with its task groups. -all includes the\n" +
			"deployments of earlier instances of the job.",
		Example: "  drover job deployments example\n" +
			"  drover job deployments -latest example\n" +
			"  drover job deployments -json example",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job>"}
			}
			if err := o.check(); err != nil {
				return err
			}
			client, stub, err := s.clientAndJob(args[0])
			if err != nil {
				return err
			}
			if !o.active() {
				defer s.uiHint(hintDeployments, jobUIPath(stub.ID, stub.Namespace)+"/deployments")
			}
			length := shortID
			if verbose {
				length = fullID
			}
			if latest {
				d, _, err := client.Jobs().LatestDeployment(stub.ID, nil)
				if err != nil {
					return fail(1, "Error retrieving deployments: %s", err)
				}
				if o.active() {
					return o.print(s, d)
				}
				if d == nil {
					fmt.Fprintln(s.Out, "No deployment found")
					return nil
				}
				fmt.Fprintln(s.Out, formatDeployment(d, length))
				return nil
			}
			ds, _, err := client.Jobs().Deployments(stub.ID, all, nil)
			if err != nil {
				return fail(1, "Error retrieving deployments: %s", err)
			}
			if o.active() {
				return o.print(s, ds)
			}
			if len(ds) == 0 {
				fmt.Fprintln(s.Out, "No deployments found")
				return nil
			}
			sort.SliceStable(ds, func(i, j int) bool { return ds[i].CreateIndex > ds[j].CreateIndex })
			fmt.Fprintln(s.Out, formatList(deploymentListRows(ds, length)))
			return nil
		},
	}
	c.Flags().BoolVar(&latest, "latest", false, "show only the latest deployment")
	c.Flags().BoolVar(&all, "all", false, "include deployments of earlier instances of the job")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	o.register(c, "the deployments")
	return c
}

func newJobDispatchCommand(s *streams) *cobra.Command {
	var detach, verbose bool
	var meta []string
	var idempotencyToken, idPrefixTemplate string
	c := &cobra.Command{
		Use:   "dispatch <parameterized job> [input source]",
		Short: "Dispatch an instance of a parameterized job (not supported by Drover)",
		Long: "Takes the arguments and flags of the compatible CLI's \"job dispatch\": the\n" +
			"parameterized job, an optional payload file (\"-\" reads standard input),\n" +
			"-meta key=value (repeatable), -idempotency-token and -id-prefix-template.\n" +
			"Drover has no parameterized jobs (the job parser refuses the parameterized\n" +
			"block), so the cluster refuses every dispatch and the command prints why\n" +
			"and exits 1.",
		Example: "  drover job dispatch -meta input=a.txt report payload.json",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return &usageError{cmd: c, msg: "This command takes one or two argument: <parameterized job> [input source]"}
			}
			var payload []byte
			if len(args) == 2 {
				var err error
				if args[1] == "-" {
					payload, err = readAllStdin()
				} else {
					payload, err = os.ReadFile(args[1])
				}
				if err != nil {
					return fail(1, "Error reading input data: %v", err)
				}
			}
			metaMap := make(map[string]string, len(meta))
			for _, m := range meta {
				k, v, ok := strings.Cut(m, "=")
				if !ok {
					return fail(1, "Error parsing meta value: %v", m)
				}
				metaMap[k] = v
			}
			client, stub, err := s.clientAndJob(args[0])
			if err != nil {
				return err
			}
			w := &api.WriteOptions{IdempotencyToken: idempotencyToken}
			resp, _, err := client.Jobs().Dispatch(stub.ID, metaMap, payload, idPrefixTemplate, w)
			if err != nil {
				return fail(1, "Failed to dispatch job: %s", err)
			}
			length := shortID
			if verbose {
				length = fullID
			}
			rows := []string{"Dispatched Job ID|" + resp.DispatchedJobID}
			if resp.EvalID != "" {
				rows = append(rows, "Evaluation ID|"+limit(resp.EvalID, length))
			}
			fmt.Fprintln(s.Out, formatKV(rows))
			if detach || resp.EvalID == "" {
				return nil
			}
			fmt.Fprintln(s.Out)
			return monitorEval(c, s, client, resp.EvalID, verbose)
		},
	}
	c.Flags().StringArrayVar(&meta, "meta", nil, "metadata for the dispatched job, as key=value (repeatable)")
	c.Flags().BoolVar(&detach, "detach", false, "print the dispatched job and evaluation and return at once")
	c.Flags().StringVar(&idempotencyToken, "idempotency-token", "", "dispatch at most one instance with this token")
	c.Flags().StringVar(&idPrefixTemplate, "id-prefix-template", "", "prefix template for the dispatched job's ID")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}

func newJobPeriodicCommand(s *streams) *cobra.Command {
	c := group("periodic", "Interact with periodic jobs",
		"  drover job periodic force nightly-report",
		newJobPeriodicForceCommand(s),
	)
	c.Long = "Commands for periodic jobs. Drover parses and validates periodic blocks but\n" +
		"does not launch periodic jobs, so \"periodic force\" is refused by the cluster."
	return c
}

func newJobPeriodicForceCommand(s *streams) *cobra.Command {
	var detach, verbose bool
	c := &cobra.Command{
		Use:   "force <job id>",
		Short: "Force the launch of a periodic job (not supported by Drover)",
		Long: "Takes the arguments and flags of the compatible CLI's \"job periodic force\":\n" +
			"a periodic job (by ID or prefix; other jobs do not match), -detach and\n" +
			"-verbose. Drover validates periodic blocks but has no periodic launcher, so\n" +
			"the cluster refuses the launch and the command prints why and exits 1.",
		Example: "  drover job periodic force nightly-report",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job id>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			prefix := strings.TrimSpace(args[0])
			stub, err := findJobWhere(client, prefix, func(j *api.JobListStub) bool { return j.Periodic },
				func(p string) error { return fmt.Errorf("No periodic job(s) with prefix or ID %q found", p) })
			if err != nil {
				return fail(1, "%v", err)
			}
			evalID, _, err := client.Jobs().PeriodicForce(stub.ID, nil)
			if err != nil {
				return fail(1, "Error forcing periodic job %q: %s", stub.ID, err)
			}
			if detach {
				fmt.Fprintln(s.Out, "Force periodic successful")
				fmt.Fprintln(s.Out, "Evaluation ID: "+evalID)
				return nil
			}
			return monitorEval(c, s, client, evalID, verbose)
		},
	}
	c.Flags().BoolVar(&detach, "detach", false, "print the evaluation ID and return at once")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}
