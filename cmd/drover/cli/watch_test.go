package cli

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// terminal is a small emulation of what a terminal shows for the control
// sequences the live view uses: printable text, \r, \n, cursor up and down
// (ESC[nA, ESC[nB), clear line (ESC[2K), clear below (ESC[J); styles and
// the cursor's visibility change nothing on the screen. Its screen grows
// downwards without bound, as a terminal's scrollback does.
type terminal struct {
	rows     [][]rune
	row, col int
}

var controlSequence = regexp.MustCompile(`^\x1b\[(\??)([0-9;]*)([A-Za-z])`)

func (tm *terminal) write(t *testing.T, s string) {
	t.Helper()
	for len(s) > 0 {
		for tm.row >= len(tm.rows) {
			tm.rows = append(tm.rows, nil)
		}
		switch {
		case s[0] == '\x1b':
			m := controlSequence.FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("unknown escape sequence at %q", s[:min(len(s), 10)])
			}
			n := 1
			if m[2] != "" && m[1] == "" && m[3] != "m" {
				n, _ = strconv.Atoi(m[2])
			}
			switch {
			case m[1] == "?" && (m[2] == "25" && (m[3] == "l" || m[3] == "h")):
			case m[3] == "m":
			case m[3] == "A":
				if n > tm.row {
					t.Fatalf("cursor up %d from row %d: above the screen", n, tm.row)
				}
				tm.row -= n
			case m[3] == "B":
				tm.row += n
			case m[3] == "K" && m[2] == "2":
				tm.rows[tm.row] = nil
			case m[3] == "J" && m[2] == "":
				tm.rows[tm.row] = tm.rows[tm.row][:min(tm.col, len(tm.rows[tm.row]))]
				tm.rows = tm.rows[:tm.row+1]
			default:
				t.Fatalf("unexpected control sequence %q", m[0])
			}
			s = s[len(m[0]):]
		case s[0] == '\r':
			tm.col = 0
			s = s[1:]
		case s[0] == '\n':
			// A terminal's line discipline turns \n into \r\n (onlcr).
			tm.row++
			tm.col = 0
			s = s[1:]
		default:
			r := []rune(s)[0]
			line := tm.rows[tm.row]
			for len(line) <= tm.col {
				line = append(line, ' ')
			}
			line[tm.col] = r
			tm.rows[tm.row] = line
			tm.col++
			s = s[len(string(r)):]
		}
	}
}

func (tm *terminal) screen() string {
	var b strings.Builder
	for i, r := range tm.rows {
		if i == len(tm.rows)-1 && len(r) == 0 {
			break
		}
		b.WriteString(strings.TrimRight(string(r), " ") + "\n")
	}
	return b.String()
}

// screenOf is what a terminal shows after out was written to it.
func screenOf(t *testing.T, out string) string {
	t.Helper()
	var tm terminal
	tm.write(t, out)
	return tm.screen()
}

// The live region rewrites only the lines that change, moves the cursor
// back below the block, and grows and shrinks without leaving old lines
// behind; what was printed before it stays.
func TestLiveRegion(t *testing.T) {
	var out bytes.Buffer
	r := &liveRegion{out: &out, size: func() (int, int) { return 40, 10 }}
	out.WriteString("above\n")

	r.draw("a\nb\nc\n")
	if got := out.String(); got != "above\n\r\x1b[Ja\nb\nc\n" {
		t.Errorf("first draw: %q", got)
	}
	out.Reset()
	r.draw("a\nB\nc")
	if got := out.String(); got != "\x1b[2A\r\x1b[2KB\x1b[2B\r" {
		t.Errorf("one line changed: %q", got)
	}
	out.Reset()
	r.draw("a\nB\nc")
	if out.Len() != 0 {
		t.Errorf("nothing changed, yet it wrote %q", out.String())
	}
	r.draw("a\nB\nc\nd")
	if got := out.String(); got != "\r\x1b[Jd\n" {
		t.Errorf("a line added: %q", got)
	}
	out.Reset()
	r.draw("x\nB")
	if got := out.String(); got != "\x1b[4A\r\x1b[Jx\nB\n" {
		t.Errorf("shrunk: %q", got)
	}

	// The whole sequence, as a terminal shows it.
	var all bytes.Buffer
	r = &liveRegion{out: &all, size: func() (int, int) { return 40, 10 }}
	all.WriteString("above\n")
	for _, frame := range []string{"a\nb\nc", "a\nB\nc", "a\nB\nc\nd", "x\nB", "x\nB\ny"} {
		r.draw(frame)
	}
	if got := screenOf(t, all.String()); got != "above\nx\nB\ny\n" {
		t.Errorf("screen:\n%s", got)
	}
}

// Lines are cut to the terminal's width (styles take no room) and the
// block to its height, so the cursor arithmetic holds; the last frame is
// shown whole.
func TestLiveRegion_FitsTheTerminal(t *testing.T) {
	var out bytes.Buffer
	r := &liveRegion{out: &out, size: func() (int, int) { return 11, 4 }}
	r.draw("0123456789abcdef\n" + bold("0123456789abcdef") + "\nshort\nfour\nfive")
	want := "\r\x1b[J0123456789\n\x1b[1m0123456789\x1b[0m\nshort\n"
	if got := out.String(); got != want {
		t.Errorf("draw:\n%q\nwant\n%q", got, want)
	}
	r.finish("0123456789abcdef\nend\n")
	if got := screenOf(t, out.String()); got != "0123456789abcdef\nend\n" {
		t.Errorf("finish: %q", got)
	}
}

func TestTruncateVisible(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"✓ done", 3, "✓ d"},
		{"\x1b[32m✓\x1b[0m Deployment", 5, "\x1b[32m✓\x1b[0m Dep\x1b[0m"},
		{"\x1b[1mab\x1b[0m", 2, "\x1b[1mab\x1b[0m"},
		{"anything", 0, "anything"},
	} {
		if got := truncateVisible(tc.in, tc.n); got != tc.want {
			t.Errorf("truncateVisible(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func event(typ, msg string) *api.TaskEvent {
	return &api.TaskEvent{Type: typ, DisplayMessage: msg}
}

func stub(id string, create uint64, desired, client string, tasks map[string]*api.TaskState) *api.AllocationListStub {
	return &api.AllocationListStub{ID: id, Name: "example.cache[" + id[:1] + "]", CreateIndex: create,
		DesiredStatus: desired, ClientStatus: client, TaskStates: tasks}
}

const (
	allocA = "4666e64b-0000-0000-0000-000000000000"
	allocB = "5777f75c-0000-0000-0000-000000000000"
)

// The problems that end a watch: a start failure not followed by a start,
// or a failed allocation; stopped allocations and recovered tasks do not
// count.
func TestFindStartProblem(t *testing.T) {
	pending := func(events ...*api.TaskEvent) map[string]*api.TaskState {
		return map[string]*api.TaskState{"redis": {State: "pending", Events: events}}
	}
	for _, tc := range []struct {
		name   string
		allocs []*api.AllocationListStub
		want   string
	}{
		{"none", nil, ""},
		{"starting", []*api.AllocationListStub{stub(allocA, 10, "run", "pending",
			pending(event("Received", "Task received by client"), event("Driver", "Downloading image redis:7")))}, ""},
		{"driver failure", []*api.AllocationListStub{stub(allocA, 10, "run", "pending",
			pending(event("Task Setup", "Building Task Directory"), event("Driver Failure", `Failed to pull "redis:9": no such host`),
				event("Restarting", "Task restarting in 15s")))},
			`Task "redis" of allocation "4666e64b" cannot start: Failed to pull "redis:9": no such host`},
		{"setup failure", []*api.AllocationListStub{stub(allocA, 10, "run", "pending",
			pending(event("Setup Failure", "failed to build task directory")))},
			`Task "redis" of allocation "4666e64b" cannot start: failed to build task directory`},
		{"failed validation", []*api.AllocationListStub{stub(allocA, 10, "run", "pending",
			pending(&api.TaskEvent{Type: "Failed Validation", ValidationError: "missing image"}))},
			`Task "redis" of allocation "4666e64b" cannot start: missing image`},
		{"started after a failure", []*api.AllocationListStub{stub(allocA, 10, "run", "running",
			map[string]*api.TaskState{"redis": {State: "running", Events: []*api.TaskEvent{
				event("Driver Failure", "registry hiccup"), event("Restarting", "Task restarting in 15s"), event("Started", "Task started by client")}}})}, ""},
		{"stopped allocation", []*api.AllocationListStub{stub(allocA, 10, "stop", "pending",
			pending(event("Driver Failure", "boom")))}, ""},
		{"failed allocation", []*api.AllocationListStub{stub(allocA, 10, "run", "failed",
			map[string]*api.TaskState{"redis": {State: "dead", Failed: true, Events: []*api.TaskEvent{
				event("Terminated", "Exit Code: 3"), event("Not Restarting", "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"")}}})},
			`Task "redis" of allocation "4666e64b" failed: Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"`},
		{"the first placed is named", []*api.AllocationListStub{
			stub(allocB, 12, "run", "pending", pending(event("Driver Failure", "second"))),
			stub(allocA, 10, "run", "pending", pending(event("Driver Failure", "first")))},
			`Task "redis" of allocation "4666e64b" cannot start: first`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := findStartProblem(tc.allocs, shortID); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// The allocations not yet running, each waiting task with its latest
// event; running and stopped ones are left out.
func TestFormatStartingAllocs(t *testing.T) {
	allocs := []*api.AllocationListStub{
		stub(allocB, 12, "run", "pending", nil),
		stub(allocA, 10, "run", "pending", map[string]*api.TaskState{
			"redis": {State: "pending", Events: []*api.TaskEvent{event("Driver", "Downloading image redis:7"),
				event("Driver", "Docker image pull progress: Pulled 1/3 (12.5MiB/40.1MiB) layers: 1 waiting/1 pulling")}},
			"sidecar": {State: "running", Events: []*api.TaskEvent{event("Started", "Task started by client")}},
		}),
		stub("6888a86d-0000-0000-0000-000000000000", 9, "run", "running", nil),
		stub("7999b97e-0000-0000-0000-000000000000", 9, "stop", "pending", nil),
	}
	want := "ID        Task   Type    Description\n" +
		"4666e64b  redis  Driver  Docker image pull progress: Pulled 1/3 (12.5MiB/40.1MiB) layers: 1 waiting/1 pulling\n" +
		"5777f75c  -      -       Placed, waiting for its client"
	if got := formatStartingAllocs(allocs, shortID); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := formatStartingAllocs(allocs[2:], shortID); got != "" {
		t.Errorf("nothing starting: %q", got)
	}
	var many []*api.AllocationListStub
	for i := 0; i < maxStartingRows+3; i++ {
		many = append(many, stub(fmt.Sprintf("%08x-0000", i), uint64(i), "run", "pending", nil))
	}
	if got := formatStartingAllocs(many, shortID); strings.Count(got, "\n") != maxStartingRows+1 || !strings.HasSuffix(got, "\n(3 more)") {
		t.Errorf("bounded table:\n%s", got)
	}
}

// The live view's frame: the head line, then the time, the deployment and
// the starting allocations, indented as the compatible CLI lays them out.
func TestDeploymentFrame(t *testing.T) {
	d := &api.Deployment{ID: allocA, JobID: "example", Status: "running", StatusDescription: "Deployment is running",
		TaskGroups: map[string]*api.DeploymentState{"cache": {DesiredTotal: 1, PlacedAllocs: 1}}}
	when := time.Date(2024, 5, 3, 11, 37, 55, 0, time.UTC)
	allocs := []*api.AllocationListStub{stub(allocA, 10, "run", "pending", map[string]*api.TaskState{
		"redis": {State: "pending", Events: []*api.TaskEvent{event("Driver", "Downloading image redis:7")}}})}
	got := deploymentFrame(`⠋ Deployment "4666e64b" in progress...`, d, allocs, when, shortID)
	want := `  ⠋ Deployment "4666e64b" in progress...

    2024-05-03T11:37:55Z
    ID          = 4666e64b
    Job ID      = example
    Job Version = 0
    Status      = running
    Description = Deployment is running

    Deployed
    Task Group  Desired  Placed  Healthy  Unhealthy
    cache       1        1       0        0

    ` + bold("Starting Allocations") + `
    ID        Task   Type    Description
    4666e64b  redis  Driver  Downloading image redis:7`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
