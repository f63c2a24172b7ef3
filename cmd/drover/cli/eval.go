package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"

	"drover/agent/structs"
)

// newEvalCommand is "eval": look at the scheduler's evaluations.
func newEvalCommand(s *streams) *cobra.Command {
	c := group("eval", "Inspect evaluations: why the scheduler placed what it placed",
		"  drover eval list\n  drover eval status a0e6ef8b\n  drover eval status -explain a0e6ef8b",
		newEvalListCommand(s),
		newEvalStatusCommand(s, "status", "drover eval status"),
	)
	c.Long = "An evaluation is the scheduler's pass over a job after something changed (a\n" +
		"job was registered, a node went down, ...). These commands show its outcome\n" +
		"and, when allocations could not be placed, why."
	return c
}

// newEvalStatusLegacyCommand is the hidden "eval-status" spelling of
// "eval status".
func newEvalStatusLegacyCommand(s *streams) *cobra.Command {
	c := newEvalStatusCommand(s, "eval-status", "drover eval-status")
	c.Hidden = true
	return c
}

type evalStatusFlags struct {
	verbose bool
	out     outputFlags
	explain bool
	monitor bool
}

// evalWithDecisions is an evaluation as the agent sends it.
type evalWithDecisions struct {
	api.Evaluation
	Decisions []*structs.Decision // Drover's recorded reasons, which the official type leaves out
	// rows are Decisions expanded, one per allocation (decisionRows).
	rows []structs.DecisionRow
}

func newEvalStatusCommand(s *streams, use, path string) *cobra.Command {
	var f evalStatusFlags
	c := &cobra.Command{
		Use:   use + " <evaluation>",
		Short: "Show an evaluation's outcome and its placement failures",
		Long: "Shows one evaluation: what triggered it, its status and, when it could not\n" +
			"place every allocation, why not for each task group (nodes filtered out by\n" +
			"constraints, resources exhausted, ...) and which blocked evaluation waits\n" +
			"for capacity. -explain adds the scheduler's decision for each allocation.\n" +
			"The evaluation may be given by an ID prefix of at least two characters.",
		Example: "  " + path + " a0e6ef8b\n" +
			"  " + path + " -verbose a0e6ef8b\n" +
			"  " + path + " -explain a0e6ef8b\n" +
			"  " + path + " -json a0e6ef8b",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <evaluation>"}
			}
			return runEvalStatus(c.Context(), s, f, args[0])
		},
	}
	c.Flags().BoolVar(&f.verbose, "verbose", false, "show full IDs, exact times and the linked evaluations")
	f.out.register(c, "the evaluation")
	c.Flags().BoolVar(&f.monitor, "monitor", false, "follow the evaluation until it completes, as job run does")
	c.Flags().BoolVar(&f.explain, "explain", false, "show the scheduler's decision and reason for each allocation")
	return c
}

func runEvalStatus(ctx context.Context, s *streams, f evalStatusFlags, id string) error {
	if len(id) == 1 {
		return fail(1, "Identifier must contain at least two characters.")
	}
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	length := shortID
	if f.verbose {
		length = fullID
	}
	evals, _, err := client.Evaluations().PrefixList(sanitizeIDPrefix(id))
	if err != nil {
		return fail(1, "Error querying evaluation: %v", err)
	}
	var matches []*api.Evaluation
	for _, e := range evals {
		if e.ID == id {
			matches = []*api.Evaluation{e}
			break
		}
		if strings.HasPrefix(e.ID, id) {
			matches = append(matches, e)
		}
	}
	switch {
	case len(matches) == 0:
		return fail(1, "No evaluation(s) with prefix or id %q found", id)
	case len(matches) > 1:
		rows := []string{"ID|Priority|Triggered By|Job ID|Status|Placement Failures"}
		for _, e := range matches {
			failures, _ := evalFailureStatus(e)
			rows = append(rows, fmt.Sprintf("%s|%d|%s|%s|%s|%s", limit(e.ID, length), e.Priority, e.TriggeredBy, e.JobID, e.Status, failures))
		}
		fmt.Fprintf(s.Out, "Prefix matched multiple evaluations\n\n%s\n", formatList(rows))
		return nil
	}

	if f.monitor {
		code, err := newMonitor(s.Out, client, f.verbose).run(ctx, matches[0].ID)
		if err != nil {
			return fail(1, "%v", err)
		}
		if code != 0 {
			return fail(code, "")
		}
		return nil
	}
	body, err := client.Raw().Response("/v1/evaluation/"+url.PathEscape(matches[0].ID), nil)
	if err != nil {
		return fail(1, "Error querying evaluation: %v", err)
	}
	raw, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return fail(1, "Error querying evaluation: %v", err)
	}
	if f.out.active() {
		return f.out.printRaw(s, raw)
	}
	var eval evalWithDecisions
	if err := json.Unmarshal(raw, &eval); err != nil {
		return fail(1, "Error decoding evaluation: %v", err)
	}
	if f.explain {
		eval.rows = decisionRows(client, eval.Namespace, eval.JobID, eval.Decisions)
	}
	fmt.Fprint(s.Out, formatEvalStatus(&eval, f.verbose, f.explain, length))
	s.uiHint(hintEval, evalUIPath(eval.ID))
	return nil
}

// evalFailureStatus is the "Placement Failures" value and whether there
// were any.
func evalFailureStatus(e *api.Evaluation) (string, bool) {
	failures := len(e.FailedTGAllocs) > 0
	if e.Status == "blocked" {
		return "N/A - In Progress", failures
	}
	return fmt.Sprint(failures), failures
}

func formatEvalStatus(e *evalWithDecisions, verbose, explain bool, length int) string {
	var b strings.Builder
	created, modified := time.Unix(0, e.CreateTime), time.Unix(0, e.ModifyTime)
	createStr, modifyStr := prettyTimeDiff(created, time.Now()), prettyTimeDiff(modified, time.Now())
	if verbose {
		createStr, modifyStr = formatTime(created), formatTime(modified)
	}
	desc := e.StatusDescription
	if desc == "" {
		desc = e.Status
	}
	failureStr, failures := evalFailureStatus(&e.Evaluation)
	rows := []string{
		"ID|" + limit(e.ID, length),
		"Create Time|" + createStr,
		"Modify Time|" + modifyStr,
		"Status|" + e.Status,
		"Status Description|" + desc,
		"Type|" + e.Type,
		"TriggeredBy|" + e.TriggeredBy,
	}
	switch {
	case e.NodeID != "" && (e.TriggeredBy == "node-update" || e.TriggeredBy == "node-drain" || e.JobID == ""):
		rows = append(rows, "Node ID|"+limit(e.NodeID, length))
	default:
		rows = append(rows, "Job ID|"+e.JobID)
	}
	rows = append(rows, fmt.Sprintf("Priority|%d", e.Priority), "Placement Failures|"+failureStr)
	if !e.WaitUntil.IsZero() {
		rows = append(rows, "Wait Until|"+formatTime(e.WaitUntil))
	}
	if verbose {
		rows = append(rows,
			"Previous Eval|"+limit(e.PreviousEval, length),
			"Next Eval|"+limit(e.NextEval, length),
			"Blocked Eval|"+limit(e.BlockedEval, length))
	}
	b.WriteString(formatKV(rows))
	b.WriteString("\n")

	if failures {
		b.WriteString("\nFailed Placements\n")
		for i, g := range sortedFailedGroups(e.FailedTGAllocs) {
			m := e.FailedTGAllocs[g]
			if i > 0 {
				b.WriteString("\n")
			}
			noun := "allocation"
			if m.CoalescedFailures > 0 {
				noun += "s"
			}
			fmt.Fprintf(&b, "Task Group %q (failed to place %d %s):\n", g, m.CoalescedFailures+1, noun)
			b.WriteString(formatAllocMetrics(m, verbose, "  "))
		}
		if e.BlockedEval != "" {
			fmt.Fprintf(&b, "\nEvaluation %q waiting for additional capacity to place remainder\n", limit(e.BlockedEval, length))
		}
	}

	if explain {
		b.WriteString("\nDecisions\n")
		if len(e.rows) == 0 {
			b.WriteString("The scheduler recorded no decisions for this evaluation.\n")
		} else {
			rows := []string{"Name|Alloc ID|Action|Reason"}
			for _, d := range e.rows {
				name := d.Name
				if name == "" {
					name = d.TaskGroup
				}
				rows = append(rows, fmt.Sprintf("%s|%s|%s|%s", name, limit(d.AllocID, length), d.Action,
					strings.ReplaceAll(d.Reason, "|", "/")))
			}
			b.WriteString(formatList(rows))
			b.WriteString("\n")
		}
	}
	return b.String()
}

func sortedFailedGroups(m map[string]*api.AllocationMetric) []string {
	groups := make([]string, 0, len(m))
	for g, metric := range m {
		if metric != nil {
			groups = append(groups, g)
		}
	}
	sort.Strings(groups)
	return groups
}

// formatAllocMetrics explains a placement failure, one line per reason,
// each line starting with prefix and ending with a newline; with prefix
// "  " a line reads `  * Constraint "missing drivers": 1 nodes excluded
// by filter`.
// With scores it adds the score of each node considered. Map entries are
// printed in sorted order so the output is stable.
func formatAllocMetrics(m *api.AllocationMetric, scores bool, prefix string) string {
	if m == nil {
		return ""
	}
	var b strings.Builder
	line := func(format string, args ...interface{}) {
		b.WriteString(prefix + "* " + fmt.Sprintf(format, args...) + "\n")
	}
	reasons := (&structs.AllocMetric{NodesEvaluated: m.NodesEvaluated, NodesAvailable: m.NodesAvailable,
		ClassFiltered: m.ClassFiltered, ConstraintFiltered: m.ConstraintFiltered, NodesExhausted: m.NodesExhausted,
		ClassExhausted: m.ClassExhausted, DimensionExhausted: m.DimensionExhausted, QuotaExhausted: m.QuotaExhausted}).FailureReasons()
	for _, r := range reasons {
		line("%s", r)
	}
	if scores {
		for _, sm := range m.ScoreMetaData {
			if sm == nil {
				continue
			}
			for _, k := range sortedFloatKeys(sm.Scores) {
				line("Score %q = %f", limit(sm.NodeID, shortID)+"."+k, sm.Scores[k])
			}
			line("Score %q = %f", limit(sm.NodeID, shortID)+".normalized-score", sm.NormScore)
		}
	}
	return b.String()
}

func sortedFloatKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
