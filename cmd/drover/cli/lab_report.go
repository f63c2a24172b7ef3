package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/labreport"
	"drover/labs"
)

// publishTimeout bounds publishing a lab's progress: the lab command has
// done its work, and a slow cluster must not hold the learner up.
const publishTimeout = 5 * time.Second

// report is the workspace's progress as the lab publishes it.
func (w *workspace) report() *labreport.Report {
	r := &labreport.Report{Lab: w.lab.ID(), Title: w.lab.Title, Current: w.progress.Step, Updated: time.Now().UTC()}
	for _, st := range w.lab.Steps {
		rs := labreport.Step{ID: st.ID, Title: st.Title, Done: w.progress.Done[st.ID]}
		latest := w.progress.Checked[st.ID]
		for i, c := range st.Checks {
			if i < len(latest) && len(latest) == len(st.Checks) {
				l := latest[i]
				rs.Checks = append(rs.Checks, labreport.Check{Want: l.Want, Checked: true, OK: l.OK, Observed: l.Observed})
				continue
			}
			rs.Checks = append(rs.Checks, labreport.Check{Want: c.Summary()})
		}
		r.Steps = append(r.Steps, rs)
	}
	return r
}

// publish writes the lab's progress to its cluster as the variable
// labreport.PathPrefix+<lab ID> in the default namespace, with the token
// the lab talks to the cluster with, for the web UI to show. It is best
// effort: a failure is one line on stderr, and the command goes on.
func (w *workspace) publish(ctx context.Context) {
	if err := w.tryPublish(ctx); err != nil {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		fmt.Fprintf(w.errOut, "lab progress not published: %s\n", msg)
	}
}

func (w *workspace) tryPublish(ctx context.Context) error {
	items, err := w.report().Items()
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, publishTimeout)
	defer cancel()
	v := &api.Variable{Namespace: labreport.Namespace, Path: labreport.PathPrefix + w.lab.ID(), Items: items}
	opts := (&api.WriteOptions{Namespace: labreport.Namespace}).WithContext(ctx)
	_, _, err = w.sess.Client.Variables().Update(v, opts)
	return err
}

// recordResults keeps the results of a step's checks as its latest.
func (w *workspace) recordResults(stepID string, results []labs.Result) {
	out := make([]labs.CheckedResult, 0, len(results))
	for _, r := range results {
		out = append(out, labs.CheckedResult{OK: r.OK, Want: r.Want, Observed: r.Observed})
	}
	w.progress.RecordChecks(stepID, out)
}

// recordReport keeps the checks of a played step (solve -run, reset), if
// it got as far as checking.
func (w *workspace) recordReport(rep labs.StepReport) {
	if len(rep.Checks) == 0 {
		return
	}
	out := make([]labs.CheckedResult, 0, len(rep.Checks))
	for _, c := range rep.Checks {
		out = append(out, labs.CheckedResult{OK: c.OK, Want: c.Want, Observed: c.Observed})
	}
	w.progress.RecordChecks(rep.ID, out)
}
