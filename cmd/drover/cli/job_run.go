package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/hashicorp/nomad/api/contexts"
	"github.com/spf13/cobra"

	"drover/agent/structs"
)

// toAPIJob converts the parsed job to the official client's type through
// the API's JSON, which both share.
func toAPIJob(job *structs.Job) (*api.Job, error) {
	b, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	var out api.Job
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// loadAPIJob reads a job file for a command that submits it.
func (f *jobFlags) loadAPIJob(s *streams, path string) (*api.Job, error) {
	job, err := f.load(s, path)
	if err != nil {
		return nil, fmt.Errorf("Error getting job struct: Error parsing job file from %s:\n%v", path, err)
	}
	return toAPIJob(job)
}

// checkIndexError matches the server's -check-index refusals.
var checkIndexError = regexp.MustCompile(`\((Enforcing job modify index.*)\)`)

func newJobRunCommand(s *streams) *cobra.Command {
	var flags jobFlags
	var checkIndex uint64
	var detach, verbose, explain, watch bool
	var opts submitFlags
	c := &cobra.Command{
		Use:   "run <file>",
		Short: "Run a job, or update a running one",
		Long: "Submits the job file to the cluster and follows the evaluation the scheduler runs\n" +
			"for it. With -check-index, the job is only submitted if its modify index on the\n" +
			"server still is the one \"job plan\" reported (0: the job must not exist yet).\n" +
			"With -explain, prints why the scheduler did what it did to each allocation.\n" +
			"\n" +
			"When the evaluation starts a deployment (a service job's new version), \"job run\"\n" +
			"then follows the deployment until it ends, if the output is a terminal or with\n" +
			"-watch. On a terminal the view is redrawn in place: each task group's desired,\n" +
			"placed, healthy and unhealthy allocations and its progress deadline, the\n" +
			"deployment's status, and the latest event of each allocation not yet running\n" +
			"(an image being pulled shows its progress); it ends with \"✓ Deployment ...\n" +
			"successful\" or \"! Deployment ... failed\". Without a terminal, -watch prints the\n" +
			"deployment under the time at each change. A task that cannot start (image\n" +
			"missing, driver error, bad driver config) or an allocation that fails ends the\n" +
			"watch at once with a line naming them. -detach never follows. A job without a\n" +
			"deployment (batch, or an unchanged re-run) ends after the evaluation.\n" +
			"\n" +
			"Exit codes: 0 ok, 1 error, 2 allocations could not all be placed. When the\n" +
			"deployment is followed: 0 only if it succeeded (even after placement failures),\n" +
			"1 if it failed, was cancelled or blocked, or a task cannot start.",
		Example: "  drover job run example.nomad\n  drover job run -watch example.nomad\n  drover job run -check-index 24 example.nomad\n  drover run -explain example.nomad",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <path>"}
			}
			job, err := flags.loadAPIJob(s, args[0])
			if err != nil {
				return fail(1, "%v", err)
			}
			if opts.output {
				return printJobJSON(s, job)
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			resp, _, err := client.Jobs().RegisterOpts(job, &api.RegisterOptions{
				EnforceIndex: c.Flags().Changed("check-index"), ModifyIndex: checkIndex,
				PolicyOverride: opts.policyOverride, PreserveCounts: opts.preserveCounts,
				PreserveResources: opts.preserveResources, EvalPriority: opts.evalPriority,
			}, nil)
			if err != nil {
				if m := checkIndexError.FindStringSubmatch(err.Error()); m != nil {
					return fail(1, "%s\nJob not updated", m[1])
				}
				return fail(1, "Error submitting job: %v", err)
			}
			defer s.uiShow(hintJob, jobUIPath(*job.ID, jobNamespace(s, job)), opts.ui)
			if resp.Warnings != "" {
				fmt.Fprintf(s.Out, "Job Warnings:\n%s\n\n", resp.Warnings)
			}
			if detach || resp.EvalID == "" {
				fmt.Fprintln(s.Out, "Job registration successful")
				if resp.EvalID != "" {
					fmt.Fprintf(s.Out, "Evaluation ID: %s\n", resp.EvalID)
				}
				return nil
			}
			m := newMonitor(s.Out, client, verbose)
			code, err := m.run(c.Context(), resp.EvalID)
			if err != nil {
				return fail(1, "%v", err)
			}
			if explain {
				ds, err := evalDecisions(client, resp.EvalID)
				if err != nil {
					return fail(1, "Error reading decisions: %v", err)
				}
				fmt.Fprintln(s.Out)
				printDecisions(s.Out, ds)
			}
			if watch || s.liveOutput() {
				followed, dcode, err := followRunDeployment(c.Context(), s, client, m)
				if err != nil {
					return err
				}
				if followed {
					// The deployment's end decides, even over placement
					// failures that were placed later.
					code = dcode
				}
			}
			if code != 0 {
				return fail(code, "")
			}
			return nil
		},
	}
	flags.register(c)
	c.Flags().Uint64Var(&checkIndex, "check-index", 0, "only run if the job's modify index on the server is this one (0: must not exist)")
	c.Flags().BoolVar(&detach, "detach", false, "print the evaluation ID and return at once: follow neither the evaluation nor the deployment")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs (of the evaluation, allocations, nodes and deployment)")
	c.Flags().BoolVar(&watch, "watch", false, "follow the deployment until it ends even when the output is not a terminal (on a terminal it is followed anyway)")
	c.Flags().BoolVar(&explain, "explain", false, "print why the scheduler decided what it did for each allocation")
	opts.register(c)
	return c
}

// submitFlags are job run's flags of the compatible CLI beyond the
// tutorials' ones. Those naming a subsystem Drover does not have (Sentinel,
// Consul, Vault) are accepted so that scripts keep working, and change
// nothing, as they would change nothing for a job that does not use it.
type submitFlags struct {
	output            bool
	policyOverride    bool
	preserveCounts    bool
	preserveResources bool
	evalPriority      int
	consulNamespace   string
	vaultNamespace    string
	ui                bool
}

func (f *submitFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.output, "output", false, "print the job as the API's JSON instead of running it")
	c.Flags().BoolVar(&f.preserveCounts, "preserve-counts", false, "keep the current count of the groups that already run")
	c.Flags().BoolVar(&f.preserveResources, "preserve-resources", false, "keep the current resources of the tasks that already run")
	c.Flags().IntVar(&f.evalPriority, "eval-priority", 0, "the priority of the evaluation this creates, 1-100 (default: the job's)")
	c.Flags().BoolVar(&f.policyOverride, "policy-override", false, "accepted for compatibility: Drover has no Sentinel policies to override")
	c.Flags().StringVar(&f.consulNamespace, "consul-namespace", "", "accepted for compatibility: Drover does not use Consul")
	c.Flags().StringVar(&f.vaultNamespace, "vault-namespace", "", "accepted for compatibility: Drover does not use Vault")
	uiFlag(c, &f.ui)
}

// uiFlag is -ui: print the address of the web UI page that shows what
// the command did, and open it in a browser (hints.go).
func uiFlag(c *cobra.Command, ui *bool) {
	c.Flags().BoolVar(ui, "ui", false, "print the address of its web UI page and open it in a browser")
}

// jobNamespace is the namespace a submitted job goes to: its own, else
// the CLI's.
func jobNamespace(s *streams, job *api.Job) string {
	if job.Namespace != nil && *job.Namespace != "" {
		return *job.Namespace
	}
	if ns := s.setting(s.global.namespace, "NAMESPACE"); ns != "" {
		return ns
	}
	return "default"
}

func newJobPlanCommand(s *streams) *cobra.Command {
	var flags jobFlags
	var diff, noDiff, verbose, explain, jsonOutput, policyOverride bool
	var vaultNamespace string
	var o outputFlags
	c := &cobra.Command{
		Use:   "plan <file>",
		Short: "Dry-run a job: show what would change, and the index to run it with",
		Long: "Asks the scheduler what running the job file would do, changing nothing: the\n" +
			"differences from the running version, how many allocations would be created,\n" +
			"updated in place, replaced or left alone, and whether they all fit. Prints the\n" +
			"job modify index to pass to \"job run -check-index\".\n" +
			"Exit codes: 0 no allocation changes, 1 allocations would change, 255 error.",
		Example:     "  drover job plan example.nomad\n  drover job plan -explain example.nomad",
		Annotations: map[string]string{usageExitCode: "255"},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <path>"}
			}
			job, err := flags.loadAPIJob(s, args[0])
			if err != nil {
				return fail(255, "%v", err)
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(255, "Error initializing client: %v", err)
			}
			if noDiff {
				diff = false
			}
			if err := o.check(); err != nil {
				return fail(255, "%v", err)
			}
			var resp planResponse
			req := map[string]interface{}{"Job": job, "Diff": diff, "PolicyOverride": policyOverride}
			if _, err := client.Raw().Write("/v1/job/"+*job.ID+"/plan", req, &resp, nil); err != nil {
				return fail(255, "Error during plan: %v", err)
			}
			if jsonOutput || o.active() {
				if jsonOutput {
					o.json = true
				}
				if err := o.print(s, resp); err != nil {
					return fail(255, "%v", err)
				}
				if planChanges(resp.Annotations) {
					return fail(1, "")
				}
				return nil
			}
			if resp.Diff != nil {
				d := &structs.JobDiff{}
				if b, err := json.Marshal(resp.Diff); err == nil && json.Unmarshal(b, d) == nil {
					fmt.Fprintf(s.Out, "%s\n\n", s.colorize(colorDiff(strings.TrimSpace(structs.FormatJobDiff(d, verbose)))))
				}
			}
			fmt.Fprintln(s.Out, s.colorize(bold("Scheduler dry-run:")))
			fmt.Fprintln(s.Out, formatDryRun(resp.FailedTGAllocs, *job.Type == "system"))
			fmt.Fprintln(s.Out)
			if explain {
				printDecisions(s.Out, decisionRows(client, *job.Namespace, *job.ID, resp.Decisions))
				fmt.Fprintln(s.Out)
			}
			fmt.Fprint(s.Out, s.colorize(formatJobModifyIndex(resp.JobModifyIndex, runArgs(flags), args[0])))
			if planChanges(resp.Annotations) {
				return fail(1, "")
			}
			return nil
		},
	}
	flags.register(c)
	c.Flags().BoolVar(&diff, "diff", true, "show the differences from the running version (-diff=false hides them)")
	c.Flags().BoolVar(&noDiff, "no-diff", false, "same as -diff=false")
	c.Flags().BoolVar(&verbose, "verbose", false, "show every field of the diff, not only changed ones")
	c.Flags().BoolVar(&explain, "explain", false, "print why the scheduler would decide what it does for each allocation")
	c.Flags().BoolVar(&jsonOutput, "json-output", false, "print the plan as JSON (same as -json on the output; -json reads a JSON job file)")
	c.Flags().StringVarP(&o.template, "t", "t", "", "print the plan through this Go template")
	c.Flags().BoolVar(&policyOverride, "policy-override", false, "accepted for compatibility: Drover has no Sentinel policies to override")
	c.Flags().StringVar(&vaultNamespace, "vault-namespace", "", "accepted for compatibility: Drover does not use Vault")
	return c
}

// followRunDeployment follows the deployment of the evaluation "job run"
// monitored, when it has one that had not already ended before the
// evaluation (an unchanged re-run names the job's finished deployment).
// It returns whether it followed one, and then the exit code.
func followRunDeployment(ctx context.Context, s *streams, client *api.Client, m *monitor) (bool, int, error) {
	if m.eval == nil || m.eval.DeploymentID == "" {
		return false, 0, nil
	}
	d, _, err := client.Deployments().Info(m.eval.DeploymentID, nil)
	if err != nil {
		return false, 0, fail(1, "Error fetching deployment: %v", err)
	}
	if d.CreateIndex < m.eval.CreateIndex && deploymentEnded(d.Status) {
		return false, 0, nil
	}
	m.info("Monitoring deployment %q", limit(d.ID, m.length))
	res, err := newDeploymentWatch(s, client, d.ID, m.length).run(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return true, 0, fail(1, "")
		}
		return true, 0, fail(1, "%v", err)
	}
	return true, res.exitCode(), nil
}

// planResponse is the plan API's answer, with Drover's decisions.
type planResponse struct {
	JobModifyIndex uint64
	Annotations    *api.PlanAnnotations
	FailedTGAllocs map[string]*api.AllocationMetric
	Diff           *api.JobDiff
	Warnings       string
	Decisions      []*structs.Decision
}

// planChanges reports whether allocations would be created or destroyed;
// in-place updates and ignores do not count.
func planChanges(a *api.PlanAnnotations) bool {
	if a == nil {
		return false
	}
	for _, u := range a.DesiredTGUpdates {
		if u.Stop+u.Place+u.Migrate+u.DestructiveUpdate+u.Canary > 0 {
			return true
		}
	}
	return false
}

// formatDryRun is the "Scheduler dry-run:" text.
func formatDryRun(failed map[string]*api.AllocationMetric, system bool) string {
	if len(failed) == 0 {
		return "- All tasks successfully allocated."
	}
	var b strings.Builder
	if system {
		b.WriteString("- WARNING: Failed to place allocations on all nodes.")
	} else {
		b.WriteString("- WARNING: Failed to place all allocations.")
	}
	groups := make([]string, 0, len(failed))
	for g := range failed {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		m := failed[g]
		noun := "allocation"
		if m.CoalescedFailures > 0 {
			noun += "s"
		}
		fmt.Fprintf(&b, "\n  Task Group %q (failed to place %d %s):\n", g, m.CoalescedFailures+1, noun)
		b.WriteString(strings.TrimRight(formatAllocMetrics(m, false, "    "), "\n"))
	}
	return b.String()
}

// runArgs repeats the variable flags in the suggested run command.
func runArgs(f jobFlags) string {
	var b strings.Builder
	for _, v := range f.vars {
		fmt.Fprintf(&b, "-var=%q ", v)
	}
	for _, v := range f.varFiles {
		fmt.Fprintf(&b, "-var-file=%q ", v)
	}
	if !f.hcl2Strict {
		b.WriteString("-hcl2-strict=false ")
	}
	return b.String()
}

func formatJobModifyIndex(index uint64, args, path string) string {
	return fmt.Sprintf(bold("Job Modify Index: %d")+`
To submit the job with version verification run:

drover job run -check-index %d %s%s

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid.
`, index, index, args, path)
}

// findJob resolves a job ID or prefix, as "job status" and "job stop" do.
func findJob(client *api.Client, prefix string) (*api.JobListStub, error) {
	return findJobWhere(client, prefix, func(*api.JobListStub) bool { return true },
		func(prefix string) error { return fmt.Errorf("No job(s) with prefix or ID %q found", prefix) })
}

// formatJobList is the table of "status" without arguments.
func formatJobList(jobs []*api.JobListStub) string {
	rows := []string{"ID|Type|Priority|Status|Submit Date"}
	for _, j := range jobs {
		rows = append(rows, fmt.Sprintf("%s|%s|%d|%s|%s", j.ID, jobType(j.Type, j.Periodic, j.ParameterizedJob),
			j.Priority, statusString(j.Status, j.Stop), formatUnixNano(j.SubmitTime)))
	}
	return formatList(rows)
}

func jobType(t string, periodic, parameterized bool) string {
	if periodic {
		t += "/periodic"
	}
	if parameterized {
		t += "/parameterized"
	}
	return t
}

// statusString shows a stopped job as "dead (stopped)".
func statusString(status string, stop bool) string {
	if stop {
		return status + " (stopped)"
	}
	return status
}

func newJobStopCommand(s *streams) *cobra.Command {
	var purge, detach, yes, verbose, global, noShutdownDelay bool
	var evalPriority int
	c := &cobra.Command{
		Use:   "stop <job>",
		Short: "Stop a running job",
		Long: "Stops every allocation of the job. The job stays, as a new version marked stopped,\n" +
			"so \"job status\" shows it as \"dead (stopped)\"; -purge removes it entirely.",
		Example: "  drover job stop example\n  drover job stop -purge example",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			job, err := findJob(client, args[0])
			if err != nil {
				return fail(1, "%v", err)
			}
			if job.ID != args[0] && !yes {
				fmt.Fprintf(s.Out, "Are you sure you want to stop job %q? [y/N] ", job.ID)
				answer, _ := bufio.NewReader(confirmInput).ReadString('\n')
				answer = strings.TrimSpace(answer)
				switch {
				case answer == "" || strings.HasPrefix(strings.ToLower(answer), "n"):
					fmt.Fprintln(s.Out, "Cancelling job stop")
					return nil
				case answer != "y":
					return fail(1, "No confirmation detected. For confirmation, an exact 'y' is required.")
				}
			}
			evalID, _, err := client.Jobs().DeregisterOpts(job.ID, &api.DeregisterOptions{
				Purge: purge, Global: global, EvalPriority: evalPriority, NoShutdownDelay: noShutdownDelay}, nil)
			if err != nil {
				return fail(1, "Error deregistering job with id %s err: %v", args[0], err)
			}
			if detach {
				fmt.Fprintln(s.Out, evalID)
				return nil
			}
			if _, err := newMonitor(s.Out, client, verbose).run(c.Context(), evalID); err != nil {
				return fail(1, "%v", err)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&purge, "purge", false, "remove the job entirely instead of keeping it stopped")
	c.Flags().BoolVar(&detach, "detach", false, "print the evaluation ID and return at once")
	c.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation when the job was matched by prefix")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	c.Flags().IntVar(&evalPriority, "eval-priority", 0, "the priority of the evaluation this creates, 1-100 (default: the job's)")
	c.Flags().BoolVar(&global, "global", false, "stop the job in every region (Drover has one region: the same as without)")
	c.Flags().BoolVar(&noShutdownDelay, "no-shutdown-delay", false, "do not wait out shutdown_delay (Drover's client never waits for it)")
	return c
}

// confirmInput is where "job stop" reads its confirmation; tests replace it.
var confirmInput io.Reader = os.Stdin

func newJobStatusCommand(s *streams) *cobra.Command {
	var short, verbose, evals, allAllocs, ui bool
	var o outputFlags
	c := &cobra.Command{
		Use:   "status [job]",
		Short: "Show the status of jobs, or of one job",
		Long: "Without an argument, lists the jobs. With a job ID (or a prefix of one), shows the\n" +
			"job, its allocation summary, its latest deployment and its allocations.\n" +
			"-json and -t print, for each job, its summary, allocations, latest deployment\n" +
			"and evaluations.",
		Example: "  drover job status\n  drover job status example\n  drover job status -t '{{range .}}{{.Summary.JobID}}{{end}}' example",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes either no arguments or one: <job>"}
			}
			if err := o.check(); err != nil {
				return err
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if len(args) == 0 {
				if err := listJobs(s, client, o, allAllocs); err != nil {
					return err
				}
				if !o.active() || ui {
					s.uiShow(hintJobs, "/ui/jobs", ui)
				}
				return nil
			}
			stub, err := findJob(client, args[0])
			if err != nil {
				return fail(1, "%v", err)
			}
			page := jobUIPath(stub.ID, stub.Namespace)
			if o.active() {
				if err := printJobsStatusData(s, client, o, []string{stub.ID}, allAllocs); err != nil {
					return err
				}
				if ui {
					s.uiShow(hintJob, page, true)
				}
				return nil
			}
			out, err := formatJobStatus(client, stub.ID, short, verbose, evals, allAllocs)
			if err != nil {
				return fail(1, "%v", err)
			}
			fmt.Fprint(s.Out, s.colorize(out))
			s.uiShow(hintJob, page, ui)
			return nil
		},
	}
	c.Flags().BoolVar(&short, "short", false, "show only the job's header")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs and exact times")
	c.Flags().BoolVar(&evals, "evals", false, "also show the job's evaluations")
	c.Flags().BoolVar(&allAllocs, "all-allocs", false, "show the allocations of earlier instances of the job too")
	uiFlag(c, &ui)
	o.register(c, "each job's status")
	return c
}

func listJobs(s *streams, client *api.Client, o outputFlags, allAllocs bool) error {
	jobs, _, err := client.Jobs().List(nil)
	if err != nil {
		return fail(1, "Error querying jobs: %v", err)
	}
	if o.active() {
		ids := make([]string, len(jobs))
		for i, j := range jobs {
			ids[i] = j.ID
		}
		return printJobsStatusData(s, client, o, ids, allAllocs)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(s.Out, "No running jobs")
		return nil
	}
	fmt.Fprintln(s.Out, formatJobList(jobs))
	return nil
}

// jobStatusData is what "job status -json" prints for each job, as the
// compatible CLI does.
type jobStatusData struct {
	Summary          *api.JobSummary
	Allocations      []*api.AllocationListStub
	LatestDeployment *api.Deployment
	Evaluations      []*api.Evaluation
}

// printJobsStatusData prints the status data of the jobs as -json or -t
// asks, always as a list.
func printJobsStatusData(s *streams, client *api.Client, o outputFlags, ids []string, allAllocs bool) error {
	data := make([]jobStatusData, 0, len(ids))
	for _, id := range ids {
		var d jobStatusData
		var err error
		if d.Summary, _, err = client.Jobs().Summary(id, nil); err != nil {
			return fail(1, "Error querying job summary: %v", err)
		}
		if d.Allocations, _, err = client.Jobs().Allocations(id, allAllocs, nil); err != nil {
			return fail(1, "Error querying job allocations: %v", err)
		}
		if d.LatestDeployment, _, err = client.Jobs().LatestDeployment(id, nil); err != nil {
			return fail(1, "Error querying latest job deployment: %v", err)
		}
		if d.Evaluations, _, err = client.Jobs().Evaluations(id, nil); err != nil {
			return fail(1, "Error querying job evaluations: %v", err)
		}
		data = append(data, d)
	}
	return o.print(s, data)
}

// formatJobStatus renders "job status <id>" as the tutorials show it.
func formatJobStatus(client *api.Client, id string, short, verbose, showEvals, allAllocs bool) (string, error) {
	job, _, err := client.Jobs().Info(id, nil)
	if err != nil {
		return "", fmt.Errorf("Error querying job: %s", err)
	}
	length := shortID
	if verbose {
		length = fullID
	}
	var b strings.Builder
	periodic := job.Periodic != nil
	b.WriteString(formatKV([]string{
		"ID|" + *job.ID,
		"Name|" + *job.Name,
		"Submit Date|" + formatUnixNano(*job.SubmitTime),
		"Type|" + *job.Type,
		fmt.Sprintf("Priority|%d", *job.Priority),
		"Datacenters|" + strings.Join(job.Datacenters, ","),
		"Namespace|" + *job.Namespace,
		"Status|" + statusString(*job.Status, job.Stop != nil && *job.Stop),
		fmt.Sprintf("Periodic|%v", periodic),
		fmt.Sprintf("Parameterized|%v", job.ParameterizedJob != nil),
	}))
	b.WriteString("\n")
	if short {
		return b.String(), nil
	}
	if !periodic {
		summary, _, err := client.Jobs().Summary(id, nil)
		if err != nil {
			return "", fmt.Errorf("Error querying job summary: %s", err)
		}
		rows := []string{"Task Group|Queued|Starting|Running|Failed|Complete|Lost"}
		groups := make([]string, 0, len(summary.Summary))
		for g := range summary.Summary {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		for _, g := range groups {
			t := summary.Summary[g]
			rows = append(rows, fmt.Sprintf("%s|%d|%d|%d|%d|%d|%d", g, t.Queued, t.Starting, t.Running, t.Failed, t.Complete, t.Lost))
		}
		b.WriteString("\n" + bold("Summary") + "\n" + formatList(rows) + "\n")
	}
	evals, _, err := client.Jobs().Evaluations(id, nil)
	if err != nil {
		return "", fmt.Errorf("Error querying job evaluations: %s", err)
	}
	for _, e := range evals {
		if e.Status == "blocked" {
			b.WriteString("\n" + bold("Placement Failure") + "\n")
			groups := make([]string, 0, len(e.FailedTGAllocs))
			for g := range e.FailedTGAllocs {
				groups = append(groups, g)
			}
			sort.Strings(groups)
			for _, g := range groups {
				fmt.Fprintf(&b, "Task Group %q:\n%s", g, formatAllocMetrics(e.FailedTGAllocs[g], false, "  "))
			}
			// The blocked evaluation carries no metrics: its parent does.
			for _, parent := range evals {
				if parent.BlockedEval == e.ID {
					for _, g := range sortedMetricGroups(parent.FailedTGAllocs) {
						fmt.Fprintf(&b, "Task Group %q:\n%s", g, formatAllocMetrics(parent.FailedTGAllocs[g], false, "  "))
					}
				}
			}
		}
	}
	if showEvals || verbose {
		rows := []string{"ID|Priority|Triggered By|Status|Placement Failures"}
		for _, e := range evals {
			failures := fmt.Sprint(len(e.FailedTGAllocs) > 0)
			if e.Status == "blocked" {
				failures = "N/A - In Progress"
			}
			rows = append(rows, fmt.Sprintf("%s|%d|%s|%s|%s", limit(e.ID, length), e.Priority, e.TriggeredBy, e.Status, failures))
		}
		b.WriteString("\n" + bold("Evaluations") + "\n" + formatList(rows) + "\n")
	}
	if d, _, err := client.Jobs().LatestDeployment(id, nil); err == nil && d != nil {
		b.WriteString("\n" + bold("Latest Deployment") + "\n")
		b.WriteString(formatKV([]string{"ID|" + limit(d.ID, length), "Status|" + d.Status, "Description|" + d.StatusDescription}))
		b.WriteString("\n\n" + bold("Deployed") + "\n" + formatDeployedGroups(d) + "\n")
	}
	allocs, _, err := client.Jobs().Allocations(id, allAllocs, nil)
	if err != nil {
		return "", fmt.Errorf("Error querying job allocations: %s", err)
	}
	b.WriteString("\n" + bold("Allocations") + "\n")
	if len(allocs) == 0 {
		b.WriteString("No allocations placed\n")
		return b.String(), nil
	}
	b.WriteString(formatAllocListStubs(allocs, verbose, length) + "\n")
	return b.String(), nil
}

func sortedMetricGroups(m map[string]*api.AllocationMetric) []string {
	out := make([]string, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// formatDeployedGroups is the "Deployed" table of a deployment.
func formatDeployedGroups(d *api.Deployment) string {
	groups := make([]string, 0, len(d.TaskGroups))
	canaries, deadline := false, false
	for g, st := range d.TaskGroups {
		groups = append(groups, g)
		canaries = canaries || st.DesiredCanaries > 0
		deadline = deadline || st.ProgressDeadline != 0
	}
	sort.Strings(groups)
	header := "Task Group"
	if canaries {
		header += "|Promoted"
	}
	header += "|Desired"
	if canaries {
		header += "|Canaries"
	}
	header += "|Placed|Healthy|Unhealthy"
	if deadline {
		header += "|Progress Deadline"
	}
	rows := []string{header}
	for _, g := range groups {
		st := d.TaskGroups[g]
		row := g
		if canaries {
			promoted := "N/A"
			if st.DesiredCanaries > 0 {
				promoted = fmt.Sprint(st.Promoted)
			}
			row += "|" + promoted
		}
		row += fmt.Sprintf("|%d", st.DesiredTotal)
		if canaries {
			row += fmt.Sprintf("|%d", st.DesiredCanaries)
		}
		row += fmt.Sprintf("|%d|%d|%d", st.PlacedAllocs, st.HealthyAllocs, st.UnhealthyAllocs)
		if deadline {
			when := "N/A"
			if !st.RequireProgressBy.IsZero() {
				when = formatTime(st.RequireProgressBy)
			}
			row += "|" + when
		}
		rows = append(rows, row)
	}
	return formatList(rows)
}

// newStatusCommand is the generic "status": jobs without an argument,
// else whatever the ID (or prefix) names.
func newStatusCommand(s *streams) *cobra.Command {
	var verbose bool
	var o outputFlags
	c := &cobra.Command{
		Use:   "status [id]",
		Short: "Show the status of jobs, or of the job, allocation, node, evaluation or deployment an ID names",
		Long: "Without an argument, lists the jobs. With an ID or a prefix of one, searches every\n" +
			"kind of object for it and shows what it names, as the status command of its kind\n" +
			"does (job, allocation, node, evaluation or deployment), with -json or -t as that\n" +
			"command prints them. An ID that names one object exactly wins over longer ones\n" +
			"it is a prefix of; a prefix of several objects lists them.",
		Example: "  drover status\n  drover status example\n  drover status -json 6085301b",
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if len(args) == 0 {
				return listJobs(s, client, o, false)
			}
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes either no arguments or one: <id>"}
			}
			var extra []string
			if verbose {
				extra = append(extra, "--verbose")
			}
			if o.json {
				extra = append(extra, "--json")
			}
			if o.template != "" {
				extra = append(extra, "--t", o.template)
			}
			return statusByID(c, s, client, args[0], func(jobID string) error {
				if o.active() {
					return printJobsStatusData(s, client, o, []string{jobID}, false)
				}
				out, err := formatJobStatus(client, jobID, false, verbose, false, false)
				if err != nil {
					return fail(1, "%v", err)
				}
				fmt.Fprint(s.Out, s.colorize(out))
				return nil
			}, extra...)
		},
	}
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	o.register(c, "what the ID names")
	return c
}

// searchContexts are the contexts of a prefix search the generic status
// resolves an ID in, in the order it reports them.
var searchContexts = []contexts.Context{
	contexts.Jobs, contexts.Nodes, contexts.Allocs, contexts.Evals, contexts.Deployments, contexts.Namespaces,
}

// resolveSearch picks the object an ID names from the matches of a prefix
// search of every context: a context whose first match is the ID itself
// wins; otherwise the ID must match exactly one object in all. ok is
// false when nothing or several things match.
func resolveSearch(id string, matches map[contexts.Context][]string) (ctx contexts.Context, fullID string, ok bool) {
	for _, c := range searchContexts {
		if m := matches[c]; len(m) > 0 && m[0] == id {
			return c, id, true
		}
	}
	n := 0
	for _, c := range searchContexts {
		// A namespace prefix counts only when nothing else matched: "de"
		// means a job such as demo, not the default namespace.
		if c == contexts.Namespaces {
			continue
		}
		if m := matches[c]; len(m) > 0 {
			n += len(m)
			ctx, fullID = c, m[0]
		}
	}
	if m := matches[contexts.Namespaces]; n == 0 && len(m) > 0 {
		return contexts.Namespaces, m[0], len(m) == 1
	}
	return ctx, fullID, n == 1
}

// formatSearchMatches lists what an ambiguous ID matched: per context
// with matches, its title and the IDs.
func formatSearchMatches(id string, matches map[contexts.Context][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Multiple matches found for id %q", id)
	others := false
	for _, c := range searchContexts {
		others = others || (c != contexts.Namespaces && len(matches[c]) > 0)
	}
	for _, c := range searchContexts {
		m := matches[c]
		// Namespaces are listed only when nothing else matched (see
		// resolveSearch).
		if len(m) == 0 || (c == contexts.Namespaces && others) {
			continue
		}
		name := string(c)
		fmt.Fprintf(&b, "\n\n%s:\n%s", strings.ToUpper(name[:1])+name[1:], strings.Join(m, ", "))
	}
	return b.String()
}

// statusByID shows what an ID or a prefix names, found by a prefix search
// of every context: a job through showJob, the other kinds through their
// status command, given flags. A namespace, which has no status command,
// is printed by name. A single character is a prefix of jobs only: one
// hex digit would pick an allocation or an evaluation by chance.
func statusByID(c *cobra.Command, s *streams, client *api.Client, id string, showJob func(jobID string) error, flags ...string) error {
	searched := contexts.All
	if len(id) < 2 {
		searched = contexts.Jobs
	}
	res, _, err := client.Search().PrefixSearch(id, searched, nil)
	if err != nil {
		return fail(1, "Error searching for ID %q: %v", id, err)
	}
	ctx, fullID, ok := resolveSearch(id, res.Matches)
	if !ok {
		if fullID == "" && searched == contexts.Jobs {
			return fail(1, "Identifier must contain at least two characters.")
		}
		if fullID == "" {
			return fail(1, "Unable to resolve ID: %q", id)
		}
		return fail(1, "%s", formatSearchMatches(id, res.Matches))
	}
	var cmd *cobra.Command
	switch ctx {
	case contexts.Jobs:
		return showJob(fullID)
	case contexts.Nodes:
		cmd = newNodeCommand(s)
	case contexts.Allocs:
		cmd = newAllocCommand(s)
	case contexts.Evals:
		cmd = newEvalCommand(s)
	case contexts.Deployments:
		cmd = newDeploymentCommand(s)
	default:
		fmt.Fprintln(s.Out, formatKV([]string{"Namespace|" + fullID}))
		return nil
	}
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	// The global flags are already in s: the status command reads them.
	cmd.SetArgs(append(append([]string{"status"}, flags...), fullID))
	cmd.SetOut(s.Out)
	cmd.SetErr(s.Err)
	return cmd.ExecuteContext(c.Context())
}
