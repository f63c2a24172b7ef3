package ui

import (
	"cmp"
	"slices"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/labreport"
	"drover/agent/state"
)

// The lab page shows what a lab run against this cluster last reported:
// which step the learner is on and how each check came out. The lab
// engine publishes a labreport.Report as a variable after every start,
// check, next, solve and reset; the page only reads those variables.

type labView struct {
	Labs []labCard
	// NoRead is set when the token may not read the reports' variables.
	NoRead bool
	// Broken names reports that do not decode, so a bad write shows up
	// rather than vanishing.
	Broken []string
}

type labCard struct {
	Lab, Title string
	// Current is the 1-based step the learner is on; Complete is set
	// once every step is done.
	Current  int
	Complete bool
	Updated  string
	Steps    []labStep
	Done     int
}

type labStep struct {
	N       int
	ID      string
	Title   string
	Done    bool
	Current bool
	Checks  []labCheck
}

type labCheck struct {
	Want, Observed string
	// Mark is ✓, ✗ or · (not yet checked); Class the stylesheet's.
	Mark, Class string
}

// labViewOf lays out decoded reports, newest first.
func labViewOf(reports []*labreport.Report, broken []string) *labView {
	v := &labView{Broken: broken}
	slices.SortFunc(reports, func(a, b *labreport.Report) int {
		return cmp.Or(b.Updated.Compare(a.Updated), cmp.Compare(a.Lab, b.Lab))
	})
	for _, r := range reports {
		c := labCard{Lab: r.Lab, Title: r.Title, Current: r.Current + 1, Complete: r.Current >= len(r.Steps)}
		c.Updated = ago(r.Updated)
		for i, s := range r.Steps {
			st := labStep{N: i + 1, ID: s.ID, Title: s.Title, Done: s.Done, Current: i == r.Current}
			if s.Done {
				c.Done++
			}
			for _, ch := range s.Checks {
				lc := labCheck{Want: ch.Want, Observed: ch.Observed, Mark: "·", Class: "unchecked"}
				switch {
				case ch.Checked && ch.OK:
					lc.Mark, lc.Class = "✓", "ok"
				case ch.Checked:
					lc.Mark, lc.Class = "✗", "fail"
				}
				st.Checks = append(st.Checks, lc)
			}
			c.Steps = append(c.Steps, st)
		}
		v.Labs = append(v.Labs, c)
	}
	return v
}

// labPage reads every lab report the token may read.
func labPage(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (any, uint64, error) {
	vars, err := snap.VariablesByPrefix(ws, labreport.Namespace, labreport.PathPrefix)
	if err != nil {
		return nil, 0, err
	}
	var reports []*labreport.Report
	var broken []string
	hidden := 0
	for _, v := range vars {
		if !req.acl.AllowVariableOperation(v.Namespace, v.Path, acl.VarCapRead) {
			hidden++
			continue
		}
		r, err := labreport.FromItems(v.Items)
		if err != nil {
			broken = append(broken, v.Path)
			continue
		}
		reports = append(reports, r)
	}
	v := labViewOf(reports, broken)
	v.NoRead = hidden > 0 && len(reports) == 0 && len(broken) == 0
	idx, err := indexOf(snap, state.TableVariables)
	return v, idx, err
}
