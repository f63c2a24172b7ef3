package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"drover/agent/drivers"
	"drover/testutil/dockerimg"
)

// These tests run the execprobe image (testutil/execprobe), built locally:
// its main process reports the signals it gets, and it is also the command
// exec'd in the container.

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// probeTask starts an execprobe "serve" container and waits until it is
// ready.
func probeTask(t *testing.T) (*Driver, *drivers.TaskConfig) {
	t.Helper()
	dockerimg.Require(t)
	img := dockerimg.BuildProbe(t)
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	t.Parallel()
	d := newDriver(t)
	cfg := newTask(t, cli, img, "serve")
	start(t, d, cfg)
	waitLog(t, cfg, cfg.StdoutBase(), "ready\n")
	return d, cfg
}

func TestExecTask_Pipes(t *testing.T) {
	d, cfg := probeTask(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb lockedBuffer
	code, err := d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{
		Command: []string{"/execprobe", "cat"}, Stdin: strings.NewReader("through the container\n"), Stdout: &out, Stderr: &errb,
	})
	if err != nil || code != 0 || out.String() != "through the container\n" || errb.String() != "" {
		t.Fatalf("cat: code %d, err %v, stdout %q, stderr %q", code, err, out.String(), errb.String())
	}
	out, errb = lockedBuffer{}, lockedBuffer{}
	code, err = d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{
		Command: []string{"/execprobe", "stderr", "to", "stderr"}, Stdout: &out, Stderr: &errb,
	})
	if err != nil || code != 0 || out.String() != "" || errb.String() != "to stderr\n" {
		t.Fatalf("stderr: code %d, err %v, stdout %q, stderr %q", code, err, out.String(), errb.String())
	}
	code, err = d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{Command: []string{"/execprobe", "exit", "7"}})
	if err != nil || code != 7 {
		t.Fatalf("exit 7: code %d, err %v", code, err)
	}
	// Without a terminal the command has none.
	out = lockedBuffer{}
	if code, err = d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{Command: []string{"/execprobe", "tty"}, Stdout: &out}); err != nil || out.String() != "no tty\n" {
		t.Fatalf("tty check: %d %v %q", code, err, out.String())
	}
	// A command the image does not have: the engine's status for it.
	out, errb = lockedBuffer{}, lockedBuffer{}
	code, err = d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{Command: []string{"/no/such/command"}, Stdout: &out, Stderr: &errb})
	if err != nil || code == 0 {
		t.Fatalf("missing command: code %d, err %v, output %q %q", code, err, out.String(), errb.String())
	}
	if _, err := d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{}); err == nil {
		t.Fatal("an empty command was accepted")
	}
}

// With a terminal the command gets the engine's, of the size asked, and
// its output comes back on stdout.
func TestExecTask_TTY(t *testing.T) {
	d, cfg := probeTask(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resize := make(chan drivers.TerminalSize, 1)
	resize <- drivers.TerminalSize{Height: 33, Width: 101}
	// The command reads its input to the end first, so the size is set
	// before it looks: the input ends after a pause.
	pr, pw := io.Pipe()
	go func() {
		time.Sleep(500 * time.Millisecond)
		pw.Close()
	}()
	var out lockedBuffer
	code, err := d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{
		Command: []string{"/execprobe", "tty", "wait"}, TTY: true, Stdin: pr, Stdout: &out, Resize: resize,
	})
	if err != nil || code != 0 || !strings.HasSuffix(out.String(), "tty 33 101\r\n") {
		t.Fatalf("tty: code %d, err %v, output %q", code, err, out.String())
	}
	out = lockedBuffer{}
	code, err = d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{
		Command: []string{"/execprobe", "echo", "on", "a", "terminal"}, TTY: true, Stdout: &out,
	})
	if err != nil || code != 0 || out.String() != "on a terminal\r\n" {
		t.Fatalf("echo on a tty: code %d, err %v, output %q", code, err, out.String())
	}
}

// Signals go to the container's main process; SIGKILL ends it.
func TestSignalTask(t *testing.T) {
	d, cfg := probeTask(t)
	for _, s := range []string{"SIGHUP", "usr1"} {
		if err := d.SignalTask(cfg.ID, s); err != nil {
			t.Fatalf("signal %s: %v", s, err)
		}
	}
	waitLog(t, cfg, cfg.StdoutBase(), "got SIGHUP\n")
	waitLog(t, cfg, cfg.StdoutBase(), "got SIGUSR1\n")
	if err := d.SignalTask(cfg.ID, "SIGNOPE"); err == nil || !strings.Contains(err.Error(), `unknown signal "SIGNOPE"`) {
		t.Fatalf("unknown signal: %v", err)
	}
	if err := d.SignalTask(cfg.ID, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	if r := waitExit(t, d, cfg.ID, 30*time.Second); r.ExitCode != 137 {
		t.Fatalf("exit after SIGKILL: %+v", r)
	}
	if err := d.SignalTask(cfg.ID, "SIGHUP"); !errors.Is(err, drivers.ErrNotRunning) {
		t.Fatalf("signal to a stopped container: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.ExecTask(ctx, cfg.ID, &drivers.ExecOptions{Command: []string{"/execprobe", "echo"}}); !errors.Is(err, drivers.ErrNotRunning) {
		t.Fatalf("exec in a stopped container: %v", err)
	}
	if err := d.SignalTask("nope/nope", "SIGHUP"); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("unknown task: %v", err)
	}
}
