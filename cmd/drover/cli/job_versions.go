package cli

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"drover/agent/structs"
)

// The commands about a job's tracked versions: history, inspect, revert.

// parseVersion reads a job version given on the command line.
func parseVersion(s string) (uint64, error) {
	return strconv.ParseUint(s, 10, 64)
}

// formatAPIDiff renders a job diff of the API as "job plan" does.
func formatAPIDiff(d *api.JobDiff) string {
	var sd structs.JobDiff
	b, err := json.Marshal(d)
	if err != nil || json.Unmarshal(b, &sd) != nil {
		return ""
	}
	return colorDiff(strings.TrimSpace(structs.FormatJobDiff(&sd, false)))
}

// formatVersionKV aligns "Key = value" rows whose values may span lines
// (a diff, a JSON job): the keys are padded, the values printed as they
// are.
func formatVersionKV(rows [][2]string) string {
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r[0] + strings.Repeat(" ", width-len(r[0])) + " = " + r[1]
	}
	return strings.Join(lines, "\n")
}

// formatJobVersion is one version's block of "job history".
func formatJobVersion(job *api.Job, diff *api.JobDiff, full bool) (string, error) {
	if job == nil {
		return "", fmt.Errorf("Error printing job history for non-existing job or job version")
	}
	rows := [][2]string{
		{"Version", fmt.Sprint(*job.Version)},
		{"Stable", fmt.Sprint(job.Stable != nil && *job.Stable)},
		{"Submit Date", formatUnixNano(*job.SubmitTime)},
	}
	if diff != nil && diff.Type != "None" {
		rows = append(rows, [2]string{"Diff", "\n" + formatAPIDiff(diff)})
	}
	if full {
		b, err := json.MarshalIndent(job, "", "    ")
		if err != nil {
			return "", fmt.Errorf("Error formatting the data: %s", err)
		}
		rows = append(rows, [2]string{"Full", "JSON Job:\n" + string(b)})
	}
	return formatVersionKV(rows), nil
}

func newJobHistoryCommand(s *streams) *cobra.Command {
	var diff, full bool
	var versionStr string
	var o outputFlags
	c := &cobra.Command{
		Use:   "history <job>",
		Short: "Display all tracked versions of a job",
		Long: "Lists the versions of a job the cluster keeps (the six newest, and the newest\n" +
			"stable one), newest first, with whether each is stable and when it was\n" +
			"submitted. -p adds, for each version, the difference from the version before\n" +
			"it, as \"job plan\" prints differences; -full prints each version's whole\n" +
			"job as JSON; -version shows one version only. The job may be given by an ID\n" +
			"prefix. Use it to choose the version \"job revert\" goes back to.",
		Example: "  drover job history example\n" +
			"  drover job history -p example\n" +
			"  drover job history -version 1 -full example\n" +
			"  drover job history -t '{{range .}}{{.Version}} {{end}}' example",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job>"}
			}
			if o.active() && (diff || full) {
				return fail(1, "-json and -t are exclusive with -p and -full")
			}
			if err := o.check(); err != nil {
				return err
			}
			client, stub, err := s.clientAndJob(args[0])
			if err != nil {
				return err
			}
			versions, diffs, _, err := client.Jobs().Versions(stub.ID, diff, nil)
			if err != nil {
				return fail(1, "Error retrieving job versions: %s", err)
			}
			// diffs[i] goes from versions[i+1] to versions[i]; the oldest
			// version has none.
			diffOf := func(i int) *api.JobDiff {
				if i < len(diffs) {
					return diffs[i]
				}
				return nil
			}
			if versionStr != "" {
				version, err := parseVersion(versionStr)
				if err != nil {
					return fail(1, "Error parsing -version: %q is not a job version (0, 1, 2, ...)", versionStr)
				}
				var job *api.Job
				var d *api.JobDiff
				for i, v := range versions {
					if *v.Version == version {
						job, d = v, diffOf(i)
					}
				}
				if job == nil {
					return fail(1, "Error printing job history for non-existing job or job version")
				}
				if o.active() {
					return o.print(s, job)
				}
				out, err := formatJobVersion(job, d, full)
				if err != nil {
					return fail(1, "%v", err)
				}
				fmt.Fprintln(s.Out, s.colorize(out))
				return nil
			}
			if o.active() {
				return o.print(s, versions)
			}
			blocks := make([]string, 0, len(versions))
			for i, v := range versions {
				out, err := formatJobVersion(v, diffOf(i), full)
				if err != nil {
					return fail(1, "%v", err)
				}
				blocks = append(blocks, out)
			}
			fmt.Fprintln(s.Out, s.colorize(strings.Join(blocks, "\n\n")))
			return nil
		},
	}
	c.Flags().BoolVarP(&diff, "diff", "p", false, "show the difference between each version and the one before it")
	c.Flags().BoolVar(&full, "full", false, "print each version's full job as JSON")
	c.Flags().StringVar(&versionStr, "version", "", "show only this version of the job")
	o.register(c, "the job versions")
	return c
}

func newJobInspectCommand(s *streams) *cobra.Command {
	var hcl, withVars bool
	var versionStr string
	var o outputFlags
	c := &cobra.Command{
		Use:   "inspect <job>",
		Short: "Inspect a submitted job",
		Long: "Prints the job as the cluster stores it, in the API's JSON form wrapped as\n" +
			"{\"Job\": {...}}, which \"job run\" accepts back as a .json file. -version shows\n" +
			"an earlier tracked version; -json prints the job alone and -t runs a Go\n" +
			"template on it. Without a job, -json and -t print the list of jobs.\n" +
			"Drover does not keep the submitted HCL source of a job, so -hcl and\n" +
			"-with-vars are refused with an error that says so.",
		Example: "  drover job inspect example\n" +
			"  drover job inspect -version 0 example\n" +
			"  drover job inspect -t '{{.Version}}' example\n" +
			"  drover inspect example > example.json",
		RunE: func(c *cobra.Command, args []string) error {
			if hcl && o.json {
				return fail(1, "can only use one of -hcl or -json")
			}
			if withVars && !hcl {
				return fail(1, "can only use -with-vars with -hcl")
			}
			if err := o.check(); err != nil {
				return err
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if len(args) == 0 && o.active() {
				jobs, _, err := client.Jobs().List(nil)
				if err != nil {
					return fail(1, "Error querying jobs: %v", err)
				}
				return o.print(s, jobs)
			}
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <job>"}
			}
			stub, err := findJob(client, strings.TrimSpace(args[0]))
			if err != nil {
				return fail(1, "%v", err)
			}
			var version *uint64
			if versionStr != "" {
				v, err := parseVersion(versionStr)
				if err != nil {
					return fail(1, "Error parsing -version: %q is not a job version (0, 1, 2, ...)", versionStr)
				}
				version = &v
			}
			if hcl {
				return fail(1, "Error inspecting job: Drover does not keep the submitted source of a job, "+
					"so -hcl and -with-vars cannot show it; without -hcl, \"drover job inspect %s\" prints the job as JSON", stub.ID)
			}
			job, err := jobAtVersion(client, stub.ID, version)
			if err != nil {
				return fail(1, "Error inspecting job: %s", err)
			}
			if o.active() {
				return o.print(s, job)
			}
			return printJobJSON(s, job)
		},
	}
	c.Flags().StringVar(&versionStr, "version", "", "show this tracked version of the job instead of the current one")
	c.Flags().BoolVar(&hcl, "hcl", false, "print the submitted HCL source (Drover does not keep it: refused)")
	c.Flags().BoolVar(&withVars, "with-vars", false, "with -hcl, also print the submitted variables (refused, as -hcl)")
	o.register(c, "the job")
	return c
}

// jobAtVersion reads the job, at one of its tracked versions if version
// is set.
func jobAtVersion(client *api.Client, id string, version *uint64) (*api.Job, error) {
	if version == nil {
		job, _, err := client.Jobs().Info(id, nil)
		return job, err
	}
	versions, _, _, err := client.Jobs().Versions(id, false, nil)
	if err != nil {
		return nil, err
	}
	for _, j := range versions {
		if *j.Version == *version {
			return j, nil
		}
	}
	return nil, fmt.Errorf("job %q with version %d couldn't be found", id, *version)
}

func newJobRevertCommand(s *streams) *cobra.Command {
	var detach, verbose bool
	var consulToken, vaultToken string
	c := &cobra.Command{
		Use:   "revert <job> <version>",
		Short: "Revert to a prior version of the job",
		Long: "Registers the specification of an earlier tracked version of the job (see\n" +
			"\"job history\") again, as the job's next version, and follows the evaluation\n" +
			"that schedules it, exactly as running that version's job file would. The\n" +
			"current version cannot be reverted to. -detach prints the evaluation ID and\n" +
			"returns at once. Drover has no version tags, so the version is a number.\n" +
			"-consul-token and -vault-token are accepted for compatibility and not used.",
		Example: "  drover job history -p example\n" +
			"  drover job revert example 0\n" +
			"  drover job revert -detach example 1",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &usageError{cmd: c, msg: "This command takes two arguments: <job> <version|tag>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			version, perr := parseVersion(args[1])
			if perr != nil {
				// Not a number: the compatible CLI looks it up as a version
				// tag. Drover has none, and the lookup says so.
				tagged, _, err := client.Jobs().VersionByTag(args[0], args[1], nil)
				if err != nil {
					return fail(1, "Error retrieving job versions: %s", err)
				}
				version = *tagged.Version
			}
			stub, err := findJob(client, strings.TrimSpace(args[0]))
			if err != nil {
				return fail(1, "%v", err)
			}
			resp, _, err := client.Jobs().Revert(stub.ID, version, nil, nil, consulToken, vaultToken)
			if err != nil {
				return fail(1, "Error retrieving job versions: %s", err)
			}
			if resp.EvalID == "" {
				return nil // a periodic job: nothing to evaluate
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
	c.Flags().StringVar(&consulToken, "consul-token", "", "accepted for compatibility; Drover does not use Consul")
	c.Flags().StringVar(&vaultToken, "vault-token", "", "accepted for compatibility; Drover does not use Vault")
	return c
}

// monitorEval follows an evaluation and exits as the monitor says: 2 when
// placements failed.
func monitorEval(c *cobra.Command, s *streams, client *api.Client, evalID string, verbose bool) error {
	code, err := newMonitor(s.Out, client, verbose).run(c.Context(), evalID)
	if err != nil {
		return fail(1, "%v", err)
	}
	if code != 0 {
		return fail(code, "")
	}
	return nil
}
