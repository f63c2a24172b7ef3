package rawexec

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"drover/agent/drivers"
)

// syncBuffer is a bytes.Buffer safe for the driver's writer goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A signal reaches the command (which can trap it); SIGKILL kills the
// command but not the wrapper, which records the death.
func TestSignalTask(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell(`trap 'echo got USR1' USR1; trap 'echo got HUP' HUP; echo ready; while true; do sleep 0.05; done`))
	mustStart(t, d, cfg)
	waitFor(t, "the task to start", 5*time.Second, func() bool { return strings.Contains(readLogs(t, cfg, "web.stdout"), "ready") })
	for _, s := range []string{"SIGHUP", "usr1"} {
		if err := d.SignalTask(cfg.ID, s); err != nil {
			t.Fatalf("signal %s: %v", s, err)
		}
	}
	waitFor(t, "the traps", 5*time.Second, func() bool {
		l := readLogs(t, cfg, "web.stdout")
		return strings.Contains(l, "got HUP") && strings.Contains(l, "got USR1")
	})
	if err := d.SignalTask(cfg.ID, "SIGBOGUS"); err == nil || !strings.Contains(err.Error(), `unknown signal "SIGBOGUS"`) {
		t.Fatalf("unknown signal: %v", err)
	}
	if err := d.SignalTask(cfg.ID, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	if r := waitExit(t, d, cfg.ID, 10*time.Second); r.Signal != 9 || r.ExitCode != 137 || r.Err != nil {
		t.Fatalf("exit after SIGKILL = %+v", r)
	}
	if err := d.SignalTask(cfg.ID, "SIGHUP"); !errors.Is(err, drivers.ErrNotRunning) {
		t.Fatalf("signal after exit: %v", err)
	}
	if err := d.SignalTask("alloc1/nope", "SIGHUP"); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("unknown task: %v", err)
	}
}

func runningTask(t *testing.T, env map[string]string) (*Driver, *drivers.TaskConfig) {
	t.Helper()
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell(`while true; do sleep 0.1; done`))
	for k, v := range env {
		cfg.Env[k] = v
	}
	mustStart(t, d, cfg)
	return d, cfg
}

// Exec runs beside the task: in its directory, with its environment, with
// input, both outputs and the exit code.
func TestExecTask_Pipes(t *testing.T) {
	d, cfg := runningTask(t, map[string]string{"GREETING": "hi"})
	var out, errb syncBuffer
	code, err := d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{
		Command: []string{"/bin/sh", "-c", `cat; echo "$GREETING $NOMAD_TASK_NAME $(pwd)"; echo err >&2; exit 5`},
		Stdin:   strings.NewReader("input\n"), Stdout: &out, Stderr: &errb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if code != 5 || out.String() != "input\nhi web "+cfg.TaskDir+"\n" || errb.String() != "err\n" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	// No input is an immediate end of file; a bare name is searched in
	// the task's PATH.
	out = syncBuffer{}
	code, err = d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{Command: []string{"cat"}, Stdout: &out})
	if err != nil || code != 0 || out.String() != "" {
		t.Fatalf("cat without input: %d %v %q", code, err, out.String())
	}
	// Death by signal is 128+N.
	code, err = d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{Command: []string{"/bin/sh", "-c", "kill -TERM $$"}})
	if err != nil || code != 128+15 {
		t.Fatalf("killed command: %d %v", code, err)
	}
	// A command that does not exist is an error, not an exit code.
	if _, err := d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{Command: []string{"no-such-cmd"}}); err == nil ||
		err.Error() != `exec: "no-such-cmd": executable file not found in $PATH` {
		t.Fatalf("missing command: %v", err)
	}
	if _, err := d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{Command: []string{"./local"}}); err == nil ||
		err.Error() != `exec: "./local": not an executable file` {
		t.Fatalf("a directory as the command: %v", err)
	}
	if _, err := d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{}); err == nil {
		t.Fatal("an empty command was accepted")
	}
}

// A command whose session ends (ctx) is killed with its children.
func TestExecTask_ContextKillsGroup(t *testing.T) {
	d, cfg := runningTask(t, nil)
	pidFile := cfg.TaskDir + "/child.pid"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		code, _ := d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{
			Command: []string{"/bin/sh", "-c", `sleep 60 & echo $! > child.pid; wait`}, Stdin: pr,
		})
		done <- code
	}()
	waitFor(t, "the child", 5*time.Second, func() bool { b, _ := os.ReadFile(pidFile); return len(b) > 0 })
	b, _ := os.ReadFile(pidFile)
	cancel()
	select {
	case code := <-done:
		if code != 128+9 {
			t.Fatalf("exit code %d, want 137", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the exec did not end with its context")
	}
	pid := strings.TrimSpace(string(b))
	waitFor(t, "the child to die", 5*time.Second, func() bool {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	})
}

// With a terminal the command sees one, of the size asked, and resizes
// reach it.
func TestExecTask_TTY(t *testing.T) {
	d, cfg := runningTask(t, nil)
	var out syncBuffer
	resize := make(chan drivers.TerminalSize, 2)
	resize <- drivers.TerminalSize{Height: 24, Width: 80}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var code int
	go func() {
		var err error
		code, err = d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{
			Command: []string{"/bin/sh", "-c", `trap 'echo "resized $(stty size)"' WINCH; test -t 0 && echo "size $(stty size) term $TERM"; until read line; do :; done; echo "read $line"; exit 7`},
			TTY:     true, Stdin: pr, Stdout: &out, Resize: resize,
		})
		done <- err
	}()
	waitFor(t, "the first size", 5*time.Second, func() bool { return strings.Contains(out.String(), "size 24 80 term xterm") })
	resize <- drivers.TerminalSize{Height: 50, Width: 132}
	waitFor(t, "the resize", 5*time.Second, func() bool { return strings.Contains(out.String(), "resized 50 132") })
	pw.Write([]byte("hello\n"))
	pw.Close()
	select {
	case err := <-done:
		if err != nil || code != 7 {
			t.Fatalf("tty exec: %d %v", code, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the tty exec did not end: %q", out.String())
	}
	// A read interrupted by the WINCH trap is read again; the terminal
	// turns \n into \r\n, as terminals do.
	if !strings.Contains(out.String(), "read hello\r\n") {
		t.Fatalf("output %q", out.String())
	}
}

// Exec refuses a task that has exited.
func TestExecTask_NotRunning(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell("exit 0"))
	mustStart(t, d, cfg)
	waitExit(t, d, cfg.ID, 5*time.Second)
	if _, err := d.ExecTask(context.Background(), cfg.ID, &drivers.ExecOptions{Command: []string{"true"}}); !errors.Is(err, drivers.ErrNotRunning) {
		t.Fatalf("exec in an exited task: %v", err)
	}
}
