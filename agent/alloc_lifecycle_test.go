package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// lifecycleScript is a raw_exec task that writes a file, answers SIGHUP in
// its log, ticks into another file, and records each start.
const lifecycleScript = `echo hello > "$NOMAD_ALLOC_DIR/data/greeting"
echo started >> "$NOMAD_ALLOC_DIR/data/starts"
trap 'echo got HUP' HUP
i=0
while true; do
  i=$((i+1))
  echo "tick $i" >> "$NOMAD_ALLOC_DIR/data/ticks"
  sleep 0.2
done`

// startLifecycleAgent starts a server+client agent with raw_exec and runs
// a one-task raw_exec service job in it; it returns the API client and the
// running allocation.
func startLifecycleAgent(t *testing.T, name string) (*Agent, *api.Client, *api.Allocation) {
	t.Helper()
	a := startAgent(t, name, serverClientRawExec)
	c := apiClient(t, a)
	job := api.NewServiceJob(name, name, "global", 50)
	job.Datacenters = []string{"dc1"}
	task := api.NewTask("web", "raw_exec")
	task.Config = map[string]interface{}{"command": "/bin/sh", "args": []string{"-c", lifecycleScript}}
	kill := 2 * time.Second
	task.KillTimeout = &kill
	job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	alloc := waitRunningAlloc(t, c, name, "")
	waitFor(t, 10*time.Second, "the task's first file", func() (bool, string) {
		r, err := c.AllocFS().Cat(alloc, "alloc/data/greeting", nil)
		if err != nil {
			return false, err.Error()
		}
		defer r.Close()
		b, _ := io.ReadAll(r)
		return string(b) == "hello\n", string(b)
	})
	return a, c, alloc
}

// waitRunningAlloc waits for a running allocation of the job other than
// not, and returns it.
func waitRunningAlloc(t *testing.T, c *api.Client, job, not string) *api.Allocation {
	t.Helper()
	var id string
	waitFor(t, 30*time.Second, "a running allocation of "+job, func() (bool, string) {
		stubs, _, err := c.Jobs().Allocations(job, false, nil)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range stubs {
			if s.ClientStatus == "running" && s.DesiredStatus == "run" && s.ID != not {
				id = s.ID
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d allocations", len(stubs))
	})
	alloc, _, err := c.Allocations().Info(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return alloc
}

// eventTypes lists a task's event types, oldest first.
func eventTypes(a *api.Allocation, task string) []string {
	var out []string
	if ts := a.TaskStates[task]; ts != nil {
		for _, e := range ts.Events {
			out = append(out, e.Type)
		}
	}
	return out
}

func catFile(t *testing.T, c *api.Client, alloc *api.Allocation, path string) string {
	t.Helper()
	r, err := c.AllocFS().Cat(alloc, path, nil)
	if err != nil {
		t.Fatalf("cat %s: %v", path, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAllocFS_OfficialClient reads an allocation directory with the
// compatible API client: list, stat, cat, read at an offset, and a stream
// that follows a growing file.
func TestAllocFS_OfficialClient(t *testing.T) {
	_, c, alloc := startLifecycleAgent(t, "fsapi")
	fs := c.AllocFS()

	root, _, err := fs.List(alloc, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range root {
		if !f.IsDir || f.FileMode == "" || f.ModTime.IsZero() {
			t.Errorf("root entry %+v: want a directory with a mode and a time", f)
		}
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "alloc,web" {
		t.Fatalf("root lists %v, want [alloc web]", names)
	}
	data, _, err := fs.List(alloc, "alloc/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 3 || data[0].Name != "greeting" || data[0].Size != 6 || data[0].IsDir {
		t.Fatalf("alloc/data: %+v", data)
	}

	st, _, err := fs.Stat(alloc, "/alloc/data/greeting", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "greeting" || st.Size != 6 || st.IsDir || st.ContentType != "text/plain; charset=utf-8" || !strings.HasPrefix(st.FileMode, "-rw") {
		t.Fatalf("stat: %+v", st)
	}
	dst, _, err := fs.Stat(alloc, "web/local", nil)
	if err != nil || !dst.IsDir || dst.Name != "local" {
		t.Fatalf("stat dir: %+v %v", dst, err)
	}

	if got := catFile(t, c, alloc, "alloc/data/greeting"); got != "hello\n" {
		t.Fatalf("cat: %q", got)
	}
	r, err := fs.ReadAt(alloc, "alloc/data/greeting", 1, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(r)
	r.Close()
	if string(part) != "ell" {
		t.Fatalf("readat 1,3: %q", part)
	}

	// Stream follows the file the task keeps appending to.
	cancel := make(chan struct{})
	defer close(cancel)
	frames, errCh := fs.Stream(alloc, "alloc/data/ticks", api.OriginStart, 0, cancel, nil)
	var got bytes.Buffer
	var lastOffset int64
	deadline := time.After(20 * time.Second)
	for !strings.Contains(got.String(), "tick 8\n") {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream ended early: %q, %v", got.String(), <-errCh)
			}
			if f.File != "alloc/data/ticks" || f.Offset <= lastOffset {
				t.Fatalf("frame %+v after offset %d", f, lastOffset)
			}
			lastOffset = f.Offset
			got.Write(f.Data)
		case err := <-errCh:
			t.Fatalf("stream: %v", err)
		case <-deadline:
			t.Fatalf("the stream did not follow the file: %q", got.String())
		}
	}
	if !strings.HasPrefix(got.String(), "tick 1\ntick 2\n") || int64(got.Len()) != lastOffset {
		t.Fatalf("stream content %q, last offset %d", got.String(), lastOffset)
	}
	// From the end: only the last bytes.
	frames2, errCh2 := fs.Stream(alloc, "alloc/data/greeting", api.OriginEnd, 3, cancel, nil)
	select {
	case f := <-frames2:
		if string(f.Data) != "lo\n" || f.Offset != 6 {
			t.Fatalf("stream from the end: %+v", f)
		}
	case err := <-errCh2:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("no frame from the end")
	}
}

// TestAllocFS_StreamFileEvents follows a file while it is truncated, then
// replaced by a link to a host file: the stream reports the truncation and
// reads the file again from its start, then ends with "file deleted"
// without ever reading through the link.
func TestAllocFS_StreamFileEvents(t *testing.T) {
	a, c, alloc := startLifecycleAgent(t, "fsevents")
	secret := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	watched := filepath.Join(a.Client().AllocDir(alloc.ID), "alloc", "data", "watched")
	if err := os.WriteFile(watched, []byte("first line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cancel := make(chan struct{})
	defer close(cancel)
	frames, errCh := c.AllocFS().Stream(alloc, "alloc/data/watched", api.OriginStart, 0, cancel, nil)
	// next returns the next frame that is not a heartbeat, or nil when
	// the stream ended (the official client says so with io.EOF).
	next := func(what string) *api.StreamFrame {
		t.Helper()
		for {
			select {
			case f, ok := <-frames:
				if !ok {
					return nil
				}
				if !f.IsHeartbeat() {
					return f
				}
			case err := <-errCh:
				if err == io.EOF {
					return nil
				}
				t.Fatalf("waiting for %s: %v", what, err)
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s", what)
			}
		}
	}
	if f := next("the first line"); f == nil || string(f.Data) != "first line\n" || f.Offset != 11 {
		t.Fatalf("first frame: %+v", f)
	}

	if err := os.WriteFile(watched, []byte("2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f := next("the truncation"); f == nil || f.FileEvent != "file truncated" || len(f.Data) != 0 {
		t.Fatalf("after truncating: %+v", f)
	}
	if f := next("the new content"); f == nil || string(f.Data) != "2\n" || f.Offset != 2 {
		t.Fatalf("after the truncation: %+v", f)
	}

	// Replaced, at once, by a link out of the allocation directory.
	if err := os.Symlink(secret, watched+".new"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(watched+".new", watched); err != nil {
		t.Fatal(err)
	}
	if f := next("the deletion"); f == nil || f.FileEvent != "file deleted" || len(f.Data) != 0 {
		t.Fatalf("after the link replaced the file: %+v", f)
	}
	if f := next("the end of the stream"); f != nil {
		t.Fatalf("a frame after the deletion: %+v (%q)", f, f.Data)
	}
}

// TestAllocExec_OfficialClient runs commands in a raw_exec task with the
// compatible API client: input, both outputs and the exit code, then on a
// terminal.
func TestAllocExec_OfficialClient(t *testing.T) {
	_, c, alloc := startLifecycleAgent(t, "execapi")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out, errb bytes.Buffer
	code, err := c.Allocations().Exec(ctx, alloc, "web", false,
		[]string{"/bin/sh", "-c", `cat; echo "dir=$(pwd) job=$NOMAD_JOB_ID" ; echo oops >&2; exit 3`},
		strings.NewReader("from stdin\n"), &out, &errb, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 || errb.String() != "oops\n" || !strings.HasPrefix(out.String(), "from stdin\ndir=") ||
		!strings.HasSuffix(out.String(), "/web job=execapi\n") {
		t.Fatalf("exec: code %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}

	// A terminal: the command sees one, with the size sent, and its
	// output comes back on stdout.
	out.Reset()
	sizes := make(chan api.TerminalSize, 1)
	sizes <- api.TerminalSize{Height: 33, Width: 101}
	code, err = c.Allocations().Exec(ctx, alloc, "web", true,
		[]string{"/bin/sh", "-c", `sleep 0.3; test -t 0 && echo "tty $(stty size)"; exit 0`},
		strings.NewReader(""), &out, &errb, sizes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out.String(), "tty 33 101") {
		t.Fatalf("tty exec: code %d, output %q", code, out.String())
	}

	// A command that is not there.
	_, err = c.Allocations().Exec(ctx, alloc, "web", false, []string{"no-such-command"},
		strings.NewReader(""), &out, &errb, nil, nil)
	if err == nil || err.Error() != `exec: "no-such-command": executable file not found in $PATH` {
		t.Fatalf("missing command: %v", err)
	}
	// An unknown task.
	_, err = c.Allocations().Exec(ctx, alloc, "nope", false, []string{"true"}, strings.NewReader(""), &out, &errb, nil, nil)
	if err == nil || err.Error() != "Could not find task named: nope" {
		t.Fatalf("unknown task: %v", err)
	}
}

// TestAllocSignalRestartStop_OfficialClient signals, restarts and stops an
// allocation with the compatible API client, and checks the events and
// the replacement.
func TestAllocSignalRestartStop_OfficialClient(t *testing.T) {
	a, c, alloc := startLifecycleAgent(t, "lifeapi")

	// Signal: delivered to the task, recorded as an event.
	if err := c.Allocations().Signal(alloc, nil, "web", "SIGHUP"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the task's answer to SIGHUP", func() (bool, string) {
		res, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=web&type=stdout&plain=true", a.HTTPAddr(), alloc.ID))
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(b), "got HUP"), string(b)
	})
	waitFor(t, 10*time.Second, "the Signaling event", func() (bool, string) {
		info, _, err := c.Allocations().Info(alloc.ID, nil)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range info.TaskStates["web"].Events {
			if e.Type == "Signaling" && e.DisplayMessage == "Task being sent signal SIGHUP" && e.TaskSignal == "SIGHUP" {
				return true, ""
			}
		}
		return false, fmt.Sprint(eventTypes(info, "web"))
	})

	// Restart one task: the same allocation, a new process, events in
	// order, one restart counted.
	if err := c.Allocations().Restart(alloc, "web", nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the restarted task", func() (bool, string) {
		info, _, err := c.Allocations().Info(alloc.ID, nil)
		if err != nil {
			return false, err.Error()
		}
		ts := info.TaskStates["web"]
		types := strings.Join(eventTypes(info, "web"), ",")
		return ts.State == "running" && ts.Restarts == 1 &&
			strings.HasSuffix(types, "Restart Signaled,Terminated,Restarting,Started"), types
	})
	info, _, _ := c.Allocations().Info(alloc.ID, nil)
	for _, e := range info.TaskStates["web"].Events {
		if e.Type == "Restart Signaled" && e.DisplayMessage != "User requested task to restart" {
			t.Errorf("restart event: %q", e.DisplayMessage)
		}
		if e.Type == "Restarting" && e.DisplayMessage != "Task restarting in 0s" {
			t.Errorf("restarting event: %q", e.DisplayMessage)
		}
	}
	waitFor(t, 10*time.Second, "a second start", func() (bool, string) {
		s := catFile(t, c, alloc, "alloc/data/starts")
		return s == "started\nstarted\n", s
	})
	// Every running task; then all tasks.
	if err := c.Allocations().RestartAllTasks(alloc, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a third start", func() (bool, string) {
		s := catFile(t, c, alloc, "alloc/data/starts")
		return s == "started\nstarted\nstarted\n", s
	})

	// Stop: an alloc-stop evaluation replaces the allocation under its
	// name, on this (the only) node.
	resp, err := c.Allocations().Stop(alloc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.EvalID == "" || resp.LastIndex == 0 {
		t.Fatalf("stop response: %+v", resp)
	}
	eval, _, err := c.Evaluations().Info(resp.EvalID, nil)
	if err != nil || eval.TriggeredBy != "alloc-stop" || eval.JobID != "lifeapi" {
		t.Fatalf("stop evaluation: %+v %v", eval, err)
	}
	repl := waitRunningAlloc(t, c, "lifeapi", alloc.ID)
	if repl.Name != alloc.Name || repl.PreviousAllocation != alloc.ID || repl.NodeID != alloc.NodeID {
		t.Fatalf("replacement %s (previous %s) on %s", repl.Name, repl.PreviousAllocation, repl.NodeID)
	}
	waitFor(t, 15*time.Second, "the stopped allocation to finish", func() (bool, string) {
		old, _, err := c.Allocations().Info(alloc.ID, nil)
		if err != nil {
			return false, err.Error()
		}
		return old.DesiredStatus == "stop" && old.ClientStatus == "complete" &&
			old.DesiredTransition.Migrate != nil && *old.DesiredTransition.Migrate, old.DesiredStatus + "/" + old.ClientStatus
	})
	old, _, _ := c.Allocations().Info(alloc.ID, nil)
	if old.DesiredDescription != "alloc is being migrated" {
		t.Errorf("stopped allocation's description: %q", old.DesiredDescription)
	}

	// Restarting the stopped allocation is refused as the compatible API
	// words it.
	err = c.Allocations().RestartAllTasks(old, nil)
	if err == nil || !strings.Contains(err.Error(), "restart of an alloc that should not run") {
		t.Fatalf("restart of a stopped allocation: %v", err)
	}
	err = c.Allocations().Restart(old, "web", nil)
	if err == nil || !strings.Contains(err.Error(), "Task not running") {
		t.Fatalf("restart of a stopped task: %v", err)
	}
}
