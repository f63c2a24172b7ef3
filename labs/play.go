package labs

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// StepReport is how one step went when its solution was played.
type StepReport struct {
	ID       string        `json:"id"`
	Title    string        `json:"title"`
	OK       bool          `json:"ok"`
	Error    string        `json:"error,omitempty"`
	Checks   []CheckReport `json:"checks"`
	Duration time.Duration `json:"duration_ns"`
}

// CheckReport is one check's result, for -json.
type CheckReport struct {
	Kind     string `json:"kind"`
	OK       bool   `json:"ok"`
	Want     string `json:"want"`
	Observed string `json:"observed"`
}

// Report is how a whole lab went.
type Report struct {
	Lab      string        `json:"lab"`
	OK       bool          `json:"ok"`
	Steps    []StepReport  `json:"steps"`
	Duration time.Duration `json:"duration_ns"`
}

// Player plays a lab's solutions and checks, for instructors and for
// regression: transcript receives everything a terminal would show,
// progress one line per step.
type Player struct {
	Session    *Session
	Transcript io.Writer
	Progress   io.Writer
	// MaxWait, when set, bounds every check's wait.
	MaxWait time.Duration
}

// Play plays steps from..len-1 (0-based), stopping at the first step that
// fails. Steps before from are neither played nor reported.
func (p *Player) Play(ctx context.Context, from int) *Report {
	s := p.Session
	start := time.Now()
	rep := &Report{Lab: s.Lab.ID(), OK: true}
	steps := s.Lab.Steps
	for i := from; i < len(steps); i++ {
		sr := p.PlayStep(ctx, i)
		rep.Steps = append(rep.Steps, sr)
		status := "ok"
		if !sr.OK {
			status = "FAILED"
		}
		if p.Progress != nil {
			fmt.Fprintf(p.Progress, "  [%d/%d] %-44s %s (%.1fs)\n", i+1, len(steps), clip(steps[i].Title, 44), status, sr.Duration.Seconds())
		}
		if !sr.OK {
			rep.OK = false
			break
		}
	}
	rep.Duration = time.Since(start)
	return rep
}

func clip(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// PlayStep plays one step's solution and then its checks.
func (p *Player) PlayStep(ctx context.Context, i int) StepReport {
	s := p.Session
	step := s.Lab.Steps[i]
	start := time.Now()
	sr := StepReport{ID: step.ID, Title: step.Title, OK: true}
	out := p.Transcript
	if out == nil {
		out = io.Discard
	}
	fmt.Fprintf(out, "\n-- Step %d/%d: %s\n", i+1, len(s.Lab.Steps), step.Title)
	for _, a := range step.Solution {
		if err := s.Act(ctx, a, out); err != nil {
			sr.OK, sr.Error = false, fmt.Sprintf("%s:%d: %v", s.Lab.File, a.Range.Start.Line, err)
			fmt.Fprintf(out, "✗ %s\n", sr.Error)
			sr.Duration = time.Since(start)
			return sr
		}
	}
	for _, c := range step.Checks {
		wait := c.Wait
		if p.MaxWait > 0 && wait > p.MaxWait {
			wait = p.MaxWait
		}
		r := s.Check(ctx, c, wait)
		sr.Checks = append(sr.Checks, CheckReport{Kind: c.Kind, OK: r.OK, Want: r.Want, Observed: r.Observed})
		fmt.Fprintln(out, indent(r.String(), ""))
		if !r.OK {
			sr.OK = false
			sr.Error = fmt.Sprintf("%s:%d: check %q failed: expected %s; observed %s", s.Lab.File, c.Range.Start.Line, c.Kind, r.Want, r.Observed)
		}
	}
	sr.Duration = time.Since(start)
	return sr
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}
