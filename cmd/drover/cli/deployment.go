package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
)

func newDeploymentCommand(s *streams) *cobra.Command {
	c := group("deployment", "Inspect and steer job deployments",
		"  drover deployment list\n  drover deployment status 45ceab07\n  drover deployment promote 45ceab07",
		newDeploymentListCommand(s),
		newDeploymentStatusCommand(s),
		newDeploymentPromoteCommand(s),
		newDeploymentFailCommand(s),
	)
	c.Long = "A deployment tracks the rollout of a new version of a service job: how many\n" +
		"allocations of each group are placed and healthy, its canaries and whether\n" +
		"they were promoted. These commands list deployments, show one, promote its\n" +
		"canaries or mark it failed."
	return c
}

// deploymentListRows is the deployment table.
func deploymentListRows(ds []*api.Deployment, length int) []string {
	rows := []string{"ID|Job ID|Job Version|Status|Description"}
	for _, d := range ds {
		rows = append(rows, fmt.Sprintf("%s|%s|%d|%s|%s",
			limit(d.ID, length), d.JobID, d.JobVersion, d.Status, d.StatusDescription))
	}
	return rows
}

func listDeployments(s *streams, client *api.Client, verbose bool, o outputFlags) error {
	ds, _, err := client.Deployments().List(nil)
	if err != nil {
		return fail(1, "Error retrieving deployments: %v", err)
	}
	if o.active() {
		return o.print(s, ds)
	}
	if len(ds) == 0 {
		fmt.Fprintln(s.Out, "No deployments found")
		return nil
	}
	length := shortID
	if verbose {
		length = fullID
	}
	fmt.Fprintln(s.Out, formatList(deploymentListRows(ds, length)))
	return nil
}

func newDeploymentListCommand(s *streams) *cobra.Command {
	var verbose bool
	var o outputFlags
	c := &cobra.Command{
		Use:   "list",
		Short: "List deployments",
		Long: "Lists every deployment, newest first, with its job, the job version it rolls\n" +
			"out, its status and a description of that status.",
		Example: "  drover deployment list\n  drover deployment list -verbose",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			return listDeployments(s, client, verbose, o)
		},
	}
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	o.register(c, "the deployments")
	return c
}

// resolveDeployment finds the deployment an ID or ID prefix names.
func resolveDeployment(client *api.Client, prefix string, verbose bool) (*api.Deployment, error) {
	if len(prefix) == 1 {
		return nil, fail(1, "Identifier must contain at least two characters.")
	}
	ds, _, err := client.Deployments().PrefixList(prefix)
	if err != nil {
		return nil, fail(1, "Error retrieving deployment: %v", err)
	}
	var match *api.Deployment
	for _, d := range ds {
		if d.ID == prefix {
			match = d
		}
	}
	switch {
	case match != nil:
	case len(ds) == 0:
		return nil, fail(1, "Deployment ID %q matched no deployments", prefix)
	case len(ds) == 1:
		match = ds[0]
	default:
		length := shortID
		if verbose {
			length = fullID
		}
		return nil, fail(1, "Prefix matched multiple deployments\n\n%s", formatList(deploymentListRows(ds, length)))
	}
	// The list may be a summary; read the deployment itself.
	d, _, err := client.Deployments().Info(match.ID, nil)
	if err != nil {
		return nil, fail(1, "Error retrieving deployment: %v", err)
	}
	return d, nil
}

func newDeploymentStatusCommand(s *streams) *cobra.Command {
	var verbose, monitor bool
	var o outputFlags
	c := &cobra.Command{
		Use:   "status [deployment]",
		Short: "Show a deployment",
		Long: "Shows a deployment (by ID or an ID prefix of at least two characters): its\n" +
			"job and job version, its status and, per task group, how many allocations\n" +
			"are desired, placed, healthy and unhealthy, the canaries and whether they\n" +
			"were promoted, and the progress deadline. Without an argument it lists\n" +
			"deployments, as \"deployment list\" does. -monitor follows the deployment\n" +
			"until it ends: on a terminal as a view redrawn in place, with the latest\n" +
			"event of each allocation not yet running, else by printing the deployment\n" +
			"under the time at each change. A task that cannot start (its driver failed)\n" +
			"or an allocation that failed ends it at once. The exit code is then 0 only\n" +
			"if the deployment succeeded.",
		Example: "  drover deployment status 45ceab07\n" +
			"  drover deployment status -verbose 45ceab07\n" +
			"  drover deployment status -monitor 45ceab07",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes either one or no arguments"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			if len(args) == 0 {
				return listDeployments(s, client, verbose, o)
			}
			d, err := resolveDeployment(client, args[0], verbose)
			if err != nil {
				return err
			}
			if o.active() {
				return o.print(s, d)
			}
			length := shortID
			if verbose {
				length = fullID
			}
			defer s.uiHint(hintDeployments, jobUIPath(d.JobID, d.Namespace)+"/deployments")
			if !monitor {
				fmt.Fprintln(s.Out, formatDeployment(d, length))
				return nil
			}
			res, err := newDeploymentWatch(s, client, d.ID, length).run(c.Context())
			if err != nil {
				if c.Context().Err() != nil {
					return fail(1, "")
				}
				return fail(1, "%v", err)
			}
			if code := res.exitCode(); code != 0 {
				return fail(code, "")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	o.register(c, "the deployment")
	c.Flags().BoolVar(&monitor, "monitor", false, "follow the deployment until it ends (redrawn in place on a terminal)")
	return c
}

// formatDeployment is the deployment block of "deployment status" (also
// shown by "job run" when it follows a deployment): the deployment's
// summary, then the "Deployed" table of its task groups. IDs are cut to
// uuidLength characters.
func formatDeployment(d *api.Deployment, uuidLength int) string {
	head := formatKV([]string{
		"ID|" + limit(d.ID, uuidLength),
		"Job ID|" + d.JobID,
		fmt.Sprintf("Job Version|%d", d.JobVersion),
		"Status|" + d.Status,
		"Description|" + d.StatusDescription,
	})
	return head + "\n\nDeployed\n" + formatDeploymentGroups(d)
}

// formatDeploymentGroups is the "Deployed" table: one row per task group,
// sorted by name. Auto Revert shows when a group reverts automatically,
// Promoted and Canaries when a group has canaries, Progress Deadline when
// a group has one.
func formatDeploymentGroups(d *api.Deployment) string {
	names := make([]string, 0, len(d.TaskGroups))
	var autoRevert, canaries, deadline bool
	for name, st := range d.TaskGroups {
		names = append(names, name)
		if st == nil {
			continue
		}
		autoRevert = autoRevert || st.AutoRevert
		canaries = canaries || st.DesiredCanaries > 0
		deadline = deadline || st.ProgressDeadline != 0
	}
	sort.Strings(names)

	header := []string{"Task Group"}
	if autoRevert {
		header = append(header, "Auto Revert")
	}
	if canaries {
		header = append(header, "Promoted")
	}
	header = append(header, "Desired")
	if canaries {
		header = append(header, "Canaries")
	}
	header = append(header, "Placed", "Healthy", "Unhealthy")
	if deadline {
		header = append(header, "Progress Deadline")
	}
	rows := []string{strings.Join(header, "|")}
	for _, name := range names {
		st := d.TaskGroups[name]
		if st == nil {
			st = &api.DeploymentState{}
		}
		row := []string{name}
		if autoRevert {
			row = append(row, fmt.Sprintf("%v", st.AutoRevert))
		}
		if canaries {
			if st.DesiredCanaries > 0 {
				row = append(row, fmt.Sprintf("%v", st.Promoted))
			} else {
				row = append(row, "N/A")
			}
		}
		row = append(row, fmt.Sprintf("%d", st.DesiredTotal))
		if canaries {
			row = append(row, fmt.Sprintf("%d", st.DesiredCanaries))
		}
		row = append(row, fmt.Sprintf("%d", st.PlacedAllocs), fmt.Sprintf("%d", st.HealthyAllocs),
			fmt.Sprintf("%d", st.UnhealthyAllocs))
		if deadline {
			if st.RequireProgressBy.IsZero() || st.RequireProgressBy.Unix() < 1 {
				row = append(row, "N/A")
			} else {
				row = append(row, formatTime(st.RequireProgressBy))
			}
		}
		rows = append(rows, strings.Join(row, "|"))
	}
	return formatList(rows)
}

func newDeploymentPromoteCommand(s *streams) *cobra.Command {
	var groups []string
	var verbose bool
	c := &cobra.Command{
		Use:   "promote <deployment>",
		Short: "Promote a deployment's canaries",
		Long: "Promotes the canaries of a deployment (by ID or an ID prefix), of every task\n" +
			"group or only of the groups given with -group, so the rolling update replaces\n" +
			"the remaining allocations. Prints the evaluation the promotion created.",
		Example: "  drover deployment promote 45ceab07\n" +
			"  drover deployment promote -group cache 45ceab07",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <deployment id>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			d, err := resolveDeployment(client, args[0], verbose)
			if err != nil {
				return err
			}
			var resp *api.DeploymentUpdateResponse
			if len(groups) == 0 {
				resp, _, err = client.Deployments().PromoteAll(d.ID, nil)
			} else {
				resp, _, err = client.Deployments().PromoteGroups(d.ID, groups, nil)
			}
			if err != nil {
				return fail(1, "Error promoting deployment: %v", err)
			}
			fmt.Fprintf(s.Out, "Deployment %q promoted\n", d.ID)
			if resp.EvalID != "" {
				fmt.Fprintf(s.Out, "Evaluation ID: %s\n", resp.EvalID)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&groups, "group", nil, "promote only this task group's canaries (repeatable)")
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}

func newDeploymentFailCommand(s *streams) *cobra.Command {
	var verbose bool
	c := &cobra.Command{
		Use:   "fail <deployment>",
		Short: "Mark a deployment as failed",
		Long: "Marks a running deployment (by ID or an ID prefix) as failed: the rollout\n" +
			"stops and, when its groups have auto_revert set, the job goes back to its\n" +
			"last stable version. Prints the evaluation this created.",
		Example: "  drover deployment fail 45ceab07",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <deployment id>"}
			}
			client, err := s.apiClient()
			if err != nil {
				return fail(1, "Error initializing client: %v", err)
			}
			d, err := resolveDeployment(client, args[0], verbose)
			if err != nil {
				return err
			}
			resp, _, err := client.Deployments().Fail(d.ID, nil)
			if err != nil {
				return fail(1, "Error failing deployment: %v", err)
			}
			fmt.Fprintf(s.Out, "Deployment %q failed\n", d.ID)
			if resp.EvalID != "" {
				fmt.Fprintf(s.Out, "Evaluation ID: %s\n", resp.EvalID)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&verbose, "verbose", false, "show full IDs")
	return c
}
