package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/structs"
)

// monitor follows an evaluation until it is done and prints what happens,
// as the tutorials show it:
//
//	==> Monitoring evaluation "fc8f4a76"
//	    Evaluation triggered by job "example"
//	    Evaluation within deployment: "45ceab07"
//	    Allocation "4666e64b" created: node "e84125ed", group "cache"
//	    Evaluation status changed: "pending" -> "complete"
//	==> Evaluation "fc8f4a76" finished with status "complete"
//
// It returns 2 when placements failed (as "job run" exits), else 0.
type monitor struct {
	out    io.Writer
	client *api.Client
	length int
	poll   time.Duration
	// eval is the evaluation as it finished, once run returns: "job run"
	// follows its deployment.
	eval *api.Evaluation
}

func newMonitor(out io.Writer, client *api.Client, verbose bool) *monitor {
	length := shortID
	if verbose {
		length = fullID
	}
	return &monitor{out: out, client: client, length: length, poll: 200 * time.Millisecond}
}

func (m *monitor) info(format string, args ...interface{}) {
	fmt.Fprintf(m.out, "==> "+format+"\n", args...)
}

func (m *monitor) line(format string, args ...interface{}) {
	fmt.Fprintf(m.out, "    "+format+"\n", args...)
}

func (m *monitor) run(ctx context.Context, evalID string) (int, error) {
	m.info("Monitoring evaluation %q", limit(evalID, m.length))
	status := "pending"
	triggered, deployment := false, false
	seen := map[string]string{} // alloc ID -> client status printed
	for {
		eval, _, err := m.client.Evaluations().Info(evalID, nil)
		if err != nil {
			return 1, fmt.Errorf("Error reading evaluation: %s", err)
		}
		if !triggered {
			switch {
			case eval.NodeID != "":
				m.line("Evaluation triggered by node %q", limit(eval.NodeID, m.length))
			default:
				m.line("Evaluation triggered by job %q", eval.JobID)
			}
			triggered = true
		}
		// Placements are committed before the evaluation completes, so
		// waiting for it to finish prints them in the tutorials' order,
		// after the deployment they belong to.
		done := eval.Status == "complete" || eval.Status == "failed" || eval.Status == "canceled"
		if done && !deployment && eval.DeploymentID != "" {
			m.line("Evaluation within deployment: %q", limit(eval.DeploymentID, m.length))
			deployment = true
		}
		if done {
			allocs, _, err := m.client.Evaluations().Allocations(evalID, nil)
			if err != nil {
				return 1, fmt.Errorf("Error reading allocations: %s", err)
			}
			// New allocations first, then the ones updated in place; each
			// by name, so the output reads in a stable order.
			sort.Slice(allocs, func(i, j int) bool {
				ci, cj := allocs[i].CreateIndex >= eval.CreateIndex, allocs[j].CreateIndex >= eval.CreateIndex
				if ci != cj {
					return ci
				}
				return allocs[i].Name < allocs[j].Name
			})
			for _, a := range allocs {
				if _, known := seen[a.ID]; known {
					continue
				}
				verb := "created"
				if a.CreateIndex < eval.CreateIndex {
					verb = "modified"
				}
				m.line("Allocation %q %s: node %q, group %q", limit(a.ID, m.length), verb, limit(a.NodeID, m.length), a.TaskGroup)
				seen[a.ID] = a.ClientStatus
			}
		}
		if eval.Status != status {
			m.line("Evaluation status changed: %q -> %q", status, eval.Status)
			status = eval.Status
		}
		switch eval.Status {
		case "complete", "failed", "canceled":
			m.eval = eval
			return m.finish(eval), nil
		}
		select {
		case <-ctx.Done():
			return 1, ctx.Err()
		case <-time.After(m.poll):
		}
	}
}

// finish prints the end of the evaluation, with its placement failures.
func (m *monitor) finish(eval *api.Evaluation) int {
	if len(eval.FailedTGAllocs) == 0 {
		m.info("Evaluation %q finished with status %q", limit(eval.ID, m.length), eval.Status)
		return 0
	}
	m.info("Evaluation %q finished with status %q but failed to place all allocations:", limit(eval.ID, m.length), eval.Status)
	groups := make([]string, 0, len(eval.FailedTGAllocs))
	for g := range eval.FailedTGAllocs {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		metric := eval.FailedTGAllocs[g]
		noun := "allocation"
		if metric.CoalescedFailures > 0 {
			noun += "s"
		}
		m.line("Task Group %q (failed to place %d %s):", g, metric.CoalescedFailures+1, noun)
		fmt.Fprint(m.out, formatAllocMetrics(metric, false, "      "))
		fmt.Fprintln(m.out)
	}
	if eval.BlockedEval != "" {
		m.line("Evaluation %q waiting for additional capacity to place remainder", limit(eval.BlockedEval, m.length))
	}
	return 2
}

// printDecisions prints why the scheduler did what it did (-explain), one
// row per allocation.
func printDecisions(out io.Writer, rows []structs.DecisionRow) {
	if len(rows) == 0 {
		fmt.Fprintln(out, "Scheduler decisions: none")
		return
	}
	fmt.Fprintln(out, "Scheduler decisions")
	lines := []string{"Name|Alloc ID|Decision|Reason"}
	for _, d := range rows {
		lines = append(lines, fmt.Sprintf("%s|%s|%s|%s", d.Name, limit(d.AllocID, shortID), d.Action, strings.ReplaceAll(d.Reason, "|", "/")))
	}
	fmt.Fprintln(out, formatList(lines))
}

// evalDecisions reads an evaluation's decisions, which the official
// client's types leave out, as rows.
func evalDecisions(client *api.Client, evalID string) ([]structs.DecisionRow, error) {
	var raw struct {
		Namespace, JobID string
		Decisions        []*structs.Decision
	}
	if _, err := client.Raw().Query("/v1/evaluation/"+evalID, &raw, nil); err != nil {
		return nil, err
	}
	return decisionRows(client, raw.Namespace, raw.JobID, raw.Decisions), nil
}

// decisionRows expands the agent's grouped decision records into a row per
// allocation. Grouped "ignore" records name their allocations without IDs
// (the allocation is unchanged); the ID shown is that of the job's live
// allocation of that name, when the job's allocations can be read.
func decisionRows(client *api.Client, namespace, jobID string, records []*structs.Decision) []structs.DecisionRow {
	rows := structs.DecisionRows(records)
	var live map[string]string
	for i, r := range rows {
		if r.AllocID != "" || r.Action != structs.DecisionIgnore || jobID == "" {
			continue
		}
		if live == nil {
			live = map[string]string{}
			allocs, _, err := client.Jobs().Allocations(jobID, true, &api.QueryOptions{Namespace: namespace})
			if err == nil {
				for _, a := range allocs {
					if a.DesiredStatus == "run" {
						live[a.Name] = a.ID
					}
				}
			}
		}
		rows[i].AllocID = live[r.Name]
	}
	return rows
}
