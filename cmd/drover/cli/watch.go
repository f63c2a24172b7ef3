package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/nomad/api"
	"golang.org/x/term"
)

// This file follows a deployment until it ends, for "job run" and
// "deployment status -monitor". Two ways to show it:
//
//   - live, on a terminal: one block redrawn in place (only the lines that
//     changed, by moving the cursor up and clearing them), with a spinner,
//     the deployment and the latest task event of each allocation not yet
//     running (an image pull shows its progress there). It ends with the
//     compatible CLI's closing line (`✓ Deployment "45ceab07" successful`,
//     `! Deployment "45ceab07" failed`), the time and the deployment.
//   - appended, when the output is not a terminal: on each change of the
//     deployment, an empty line, the time and the deployment, as the
//     compatible CLI's non-terminal monitor prints it.
//
// Either way, a task that cannot start (its driver failed, its setup or
// config was refused) or an allocation that failed ends the watch at once
// with a line naming them, rather than after the progress deadline; a
// deployment that fails because of one names it too.

// watchResult is how a watched deployment ended.
type watchResult struct {
	// Status is the deployment's final status; "" when the watch ended
	// before the deployment did (a task cannot start, or interrupted).
	Status string
	// Problem is the line that ended the watch early, if one did.
	Problem string
}

// exitCode is the exit code of a command that followed the deployment:
// 0 only when it succeeded.
func (r watchResult) exitCode() int {
	if r.Status == api.DeploymentStatusSuccessful {
		return 0
	}
	return 1
}

// deploymentEnded reports whether a deployment in status has ended, as far
// as a watcher is concerned: "blocked" waits for capacity that may never
// come, so the compatible CLI stops there too.
func deploymentEnded(status string) bool {
	switch status {
	case api.DeploymentStatusSuccessful, api.DeploymentStatusFailed,
		api.DeploymentStatusCancelled, api.DeploymentStatusBlocked:
		return true
	}
	return false
}

// liveOutput tells whether the output is a terminal that can be redrawn in
// place. TERM=dumb terminals cannot move the cursor.
func (s *streams) liveOutput() bool {
	return isTerminal(s.Out) && s.getenv("TERM") != "dumb"
}

// deploymentWatch follows one deployment.
type deploymentWatch struct {
	s      *streams
	client *api.Client
	id     string
	length int
	live   bool
	// wait bounds each blocking query.
	wait time.Duration
	// tick is how often the live view's spinner turns.
	tick time.Duration
}

func newDeploymentWatch(s *streams, client *api.Client, id string, length int) *deploymentWatch {
	return &deploymentWatch{s: s, client: client, id: id, length: length, live: s.liveOutput(),
		wait: 30 * time.Second, tick: 120 * time.Millisecond}
}

// follow runs blocking queries with fetch until ctx ends, sending each
// answer to out; the first error goes to errs and ends it.
func follow[T any](ctx context.Context, wait time.Duration, out chan<- T, errs chan<- error,
	fetch func(*api.QueryOptions) (T, *api.QueryMeta, error)) {
	var index uint64
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: wait}).WithContext(ctx)
		v, meta, err := fetch(q)
		if err != nil {
			if ctx.Err() == nil {
				select {
				case errs <- err:
				case <-ctx.Done():
				}
			}
			return
		}
		// Never wait on index 0, which answers at once.
		index = max(index, meta.LastIndex, 1)
		select {
		case out <- v:
		case <-ctx.Done():
			return
		}
	}
}

// run follows the deployment until it ends, a task cannot start, or ctx
// ends (then it returns ctx's error).
func (w *deploymentWatch) run(ctx context.Context) (watchResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deployments := make(chan *api.Deployment)
	allocations := make(chan []*api.AllocationListStub)
	errs := make(chan error, 2)
	go follow(ctx, w.wait, deployments, errs, func(q *api.QueryOptions) (*api.Deployment, *api.QueryMeta, error) {
		return w.client.Deployments().Info(w.id, q)
	})
	go follow(ctx, w.wait, allocations, errs, func(q *api.QueryOptions) ([]*api.AllocationListStub, *api.QueryMeta, error) {
		return w.client.Deployments().Allocations(w.id, q)
	})

	var region *liveRegion
	var tick <-chan time.Time
	if w.live {
		region = newLiveRegion(w.s.Out)
		ticker := time.NewTicker(w.tick)
		defer ticker.Stop()
		tick = ticker.C
		fmt.Fprint(w.s.Out, hideCursor)
		defer fmt.Fprint(w.s.Out, showCursor)
	}

	var d *api.Deployment
	var allocs []*api.AllocationListStub
	var seen uint64
	var when time.Time
	spin := 0
	for {
		select {
		case d = <-deployments:
			if d.ModifyIndex != seen {
				seen, when = d.ModifyIndex, time.Now()
				if !w.live {
					fmt.Fprintf(w.s.Out, "\n%s\n%s\n", formatTime(when), formatDeployment(d, w.length))
				}
			}
		case allocs = <-allocations:
		case err := <-errs:
			return watchResult{}, fmt.Errorf("Error fetching deployment: %v", err)
		case <-tick:
			spin++
		case <-ctx.Done():
			return watchResult{}, ctx.Err()
		}
		if d == nil {
			continue
		}
		if deploymentEnded(d.Status) {
			res := watchResult{Status: d.Status}
			if d.Status != api.DeploymentStatusSuccessful {
				// Say why, when a task that cannot start is the reason.
				// The allocations are read again: the failure that ended
				// the deployment may be newer than the last answer.
				if now, _, err := w.client.Deployments().Allocations(w.id, nil); err == nil {
					allocs = now
				}
				res.Problem = findStartProblem(allocs, w.length)
			}
			if w.live {
				mark := colored(ansiGreen, "✓")
				if d.Status != api.DeploymentStatusSuccessful {
					mark = colored(ansiRed, "!")
				}
				head := fmt.Sprintf("%s Deployment %q %s", mark, limit(d.ID, w.length), d.Status)
				if res.Problem != "" {
					head += "\n  " + colored(ansiRed, "!") + " " + res.Problem
				}
				region.finish(w.s.colorize(deploymentFrame(head, d, nil, when, w.length) + "\n\n"))
			} else if res.Problem != "" {
				fmt.Fprintf(w.s.Out, "\n%s\n", w.s.colorize(colored(ansiRed, "!")+" "+res.Problem))
			}
			return res, nil
		}
		if p := findStartProblem(allocs, w.length); p != "" {
			line := colored(ansiRed, "!") + " " + p
			if w.live {
				region.finish(w.s.colorize(deploymentFrame(line, d, nil, when, w.length) + "\n\n"))
			} else {
				fmt.Fprintf(w.s.Out, "\n%s\n", w.s.colorize(line))
			}
			return watchResult{Problem: p}, nil
		}
		if w.live {
			head := fmt.Sprintf("%c Deployment %q in progress...", spinnerFrames[spin%len(spinnerFrames)], limit(d.ID, w.length))
			region.draw(w.s.colorize(deploymentFrame(head, d, allocs, when, w.length)))
		}
	}
}

// spinnerFrames turn in the live view's first line while it waits.
var spinnerFrames = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

// deploymentFrame is the live view: the head line (spinner or closing
// line) indented 2, then, indented 4 as the compatible CLI lays it out,
// the time of the deployment's last change, the deployment, and the
// allocations not yet running with their latest task event.
func deploymentFrame(head string, d *api.Deployment, allocs []*api.AllocationListStub, when time.Time, length int) string {
	body := formatTime(when) + "\n" + formatDeployment(d, length)
	if starting := formatStartingAllocs(allocs, length); starting != "" {
		body += "\n\n" + bold("Starting Allocations") + "\n" + starting
	}
	return "  " + head + "\n\n" + indentNonEmpty(body, "    ")
}

// indentNonEmpty puts prefix before every non-empty line of text.
func indentNonEmpty(text, prefix string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}

// maxStartingRows bounds the table of allocations not yet running.
const maxStartingRows = 10

// formatStartingAllocs is the table of the allocations that should run and
// do not yet, with each waiting task's latest event (an image pull shows
// its progress there); "" when there are none.
func formatStartingAllocs(allocs []*api.AllocationListStub, length int) string {
	rows := []string{"ID|Task|Type|Description"}
	more := 0
	for _, a := range sortedAllocs(allocs) {
		if a.DesiredStatus != api.AllocDesiredStatusRun || a.ClientStatus != api.AllocClientStatusPending {
			continue
		}
		var lines []string
		if len(a.TaskStates) == 0 {
			lines = append(lines, fmt.Sprintf("%s|-|-|Placed, waiting for its client", limit(a.ID, length)))
		}
		for _, name := range sortedTasks(a.TaskStates) {
			ts := a.TaskStates[name]
			if ts == nil || ts.State == "running" {
				continue
			}
			typ, desc := "", "No events yet"
			if n := len(ts.Events); n > 0 {
				typ, desc = ts.Events[n-1].Type, eventMessage(ts.Events[n-1])
			}
			lines = append(lines, fmt.Sprintf("%s|%s|%s|%s", limit(a.ID, length), name, typ, strings.ReplaceAll(desc, "|", "/")))
		}
		for _, l := range lines {
			if len(rows) > maxStartingRows {
				more++
				continue
			}
			rows = append(rows, l)
		}
	}
	if len(rows) == 1 {
		return ""
	}
	out := formatList(rows)
	if more > 0 {
		out += fmt.Sprintf("\n(%d more)", more)
	}
	return out
}

// startFailureEvents are the task events that mean a task cannot start:
// what the client says when the driver refuses or fails to start it.
var startFailureEvents = map[string]bool{"Driver Failure": true, "Setup Failure": true, "Failed Validation": true}

// findStartProblem looks, in a deployment's allocations, for a task that
// cannot start (a start failure event not followed by a start) or an
// allocation that failed, and returns the line saying so, or "".
func findStartProblem(allocs []*api.AllocationListStub, length int) string {
	sorted := sortedAllocs(allocs)
	for _, a := range sorted {
		if a.DesiredStatus != api.AllocDesiredStatusRun {
			continue
		}
		for _, name := range sortedTasks(a.TaskStates) {
			ts := a.TaskStates[name]
			if ts == nil {
				continue
			}
			var failure *api.TaskEvent
			for _, e := range ts.Events {
				switch {
				case e == nil:
				case startFailureEvents[e.Type]:
					failure = e
				case e.Type == "Started":
					failure = nil
				}
			}
			if failure != nil {
				return fmt.Sprintf("Task %q of allocation %q cannot start: %s", name, limit(a.ID, length), eventMessage(failure))
			}
		}
	}
	for _, a := range sorted {
		if a.DesiredStatus != api.AllocDesiredStatusRun || a.ClientStatus != api.AllocClientStatusFailed {
			continue
		}
		// Name the failed task, with its last word on why.
		for _, name := range sortedTasks(a.TaskStates) {
			ts := a.TaskStates[name]
			if ts == nil || !ts.Failed {
				continue
			}
			why := "failed"
			if n := len(ts.Events); n > 0 {
				why = eventMessage(ts.Events[n-1])
			}
			return fmt.Sprintf("Task %q of allocation %q failed: %s", name, limit(a.ID, length), why)
		}
		return fmt.Sprintf("Allocation %q failed: %s", limit(a.ID, length), a.ClientDescription)
	}
	return ""
}

// eventMessage is what a task event says, as "alloc status" shows it.
func eventMessage(e *api.TaskEvent) string {
	for _, m := range []string{e.DisplayMessage, e.Message, e.DriverError, e.SetupError, e.ValidationError} {
		if m != "" {
			return m
		}
	}
	return e.Type
}

// sortedAllocs orders allocations as they were placed, then by name, so
// the view and the reported problem are the same from run to run.
func sortedAllocs(allocs []*api.AllocationListStub) []*api.AllocationListStub {
	out := append([]*api.AllocationListStub(nil), allocs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].CreateIndex != out[j].CreateIndex {
			return out[i].CreateIndex < out[j].CreateIndex
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func sortedTasks(states map[string]*api.TaskState) []string {
	names := make([]string, 0, len(states))
	for n := range states {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Terminal control sequences of the live view.
const (
	hideCursor = "\x1b[?25l"
	showCursor = "\x1b[?25h"
	clearLine  = "\x1b[2K" // the whole line the cursor is on
	clearBelow = "\x1b[J"  // from the cursor to the end of the screen
)

// liveRegion is a block of lines at the bottom of a terminal that is
// redrawn in place: draw rewrites only the lines that changed, moving the
// cursor up to them, so the screen does not flicker and what was printed
// above the block stays. Lines are cut to the terminal's width (a wrapped
// line would take two rows and throw the cursor arithmetic off) and the
// block to its height.
type liveRegion struct {
	out   io.Writer
	size  func() (width, height int)
	lines []string // as on the screen; the cursor is on the row below them
}

func newLiveRegion(out io.Writer) *liveRegion {
	size := func() (int, int) { return 80, 24 }
	if f, ok := out.(*os.File); ok {
		size = func() (int, int) {
			w, h, err := term.GetSize(int(f.Fd()))
			if err != nil || w <= 0 || h <= 0 {
				return 80, 24
			}
			return w, h
		}
	}
	return &liveRegion{out: out, size: size}
}

// draw shows text (lines ending in "\n" or not) in place of the block.
func (r *liveRegion) draw(text string) { r.render(text, true) }

// finish shows text in place of the block for the last time: its lines
// are not cut, since nothing will be redrawn over them.
func (r *liveRegion) finish(text string) { r.render(text, false) }

func (r *liveRegion) render(text string, fit bool) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if fit {
		width, height := r.size()
		if height > 1 && len(lines) > height-1 {
			lines = lines[:height-1]
		}
		for i, l := range lines {
			lines[i] = truncateVisible(l, width-1)
		}
	}
	var b bytes.Buffer
	cur := len(r.lines)
	moveTo := func(row int) {
		switch {
		case row < cur:
			fmt.Fprintf(&b, "\x1b[%dA", cur-row)
		case row > cur:
			fmt.Fprintf(&b, "\x1b[%dB", row-cur)
		}
		b.WriteString("\r")
		cur = row
	}
	if len(lines) == len(r.lines) {
		for i, l := range lines {
			if l != r.lines[i] {
				moveTo(i)
				b.WriteString(clearLine + l)
			}
		}
		if b.Len() == 0 {
			return
		}
		moveTo(len(lines))
	} else {
		first := 0
		for first < len(lines) && first < len(r.lines) && lines[first] == r.lines[first] {
			first++
		}
		moveTo(first)
		b.WriteString(clearBelow)
		for _, l := range lines[first:] {
			b.WriteString(l + "\n")
		}
	}
	r.lines = lines
	r.out.Write(b.Bytes())
}

// truncateVisible cuts s to at most n visible characters; escape
// sequences (styles) take no room and are kept, and a cut line ends with
// a style reset.
func truncateVisible(s string, n int) string {
	if n <= 0 {
		return s
	}
	var b strings.Builder
	visible, styled := 0, false
	for i := 0; i < len(s); {
		if s[i] == '\x1b' && i+1 < len(s) && s[i+1] == '[' {
			styled = true
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j < len(s) {
				j++
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		if visible == n {
			if styled {
				b.WriteString(ansiReset)
			}
			return b.String()
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
		visible++
	}
	return b.String()
}
