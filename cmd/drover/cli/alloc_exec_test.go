package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hashicorp/nomad/api"
	"golang.org/x/sys/unix"
)

func TestEscapeReader(t *testing.T) {
	cases := []struct {
		name, in, want string
		closed         bool
	}{
		{"plain input", "ls -l\n", "ls -l\n", false},
		{"escape then dot closes", "echo\n~.ignored", "echo\n", true},
		{"escape at the very start", "~.", "", true},
		{"not at a line start", "a~.b\n", "a~.b\n", false},
		{"doubled escape sends one", "~~.\n", "~.\n", false},
		{"escape then another key", "~x\n", "~x\n", false},
		{"escape at the end of input", "ab\n~", "ab\n~", false},
		{"after a carriage return", "x\r~.", "x\r", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			closed := false
			// One byte at a time, so a sequence split across reads is
			// handled too.
			r := &escapeReader{r: iotest.OneByteReader(strings.NewReader(tc.in)), esc: '~', atLineStart: true,
				onClose: func() { closed = true }}
			got, err := io.ReadAll(r)
			if err != nil || string(got) != tc.want || closed != tc.closed {
				t.Fatalf("read %q (%v), closed %v; want %q, closed %v", got, err, closed, tc.want, tc.closed)
			}
		})
	}
}

// openTestPty opens a pseudo-terminal pair for a child process to run on.
func openTestPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestExecOnATerminal runs "drover alloc exec" as a user does, on a
// terminal: the remote command gets a terminal of this one's size, and a
// resize of this one (SIGWINCH) reaches it; keys typed go through raw.
func TestExecOnATerminal(t *testing.T) {
	addr, client := devAgent(t)
	job := api.NewServiceJob("shell", "shell", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := api.NewTask("sh", "raw_exec")
	task.Config = map[string]interface{}{"command": "/bin/sh", "args": []string{"-c", "while true; do sleep 0.1; done"}}
	job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
	if _, _, err := client.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	var allocID string
	deadline := time.Now().Add(30 * time.Second)
	for allocID == "" {
		stubs, _, _ := client.Jobs().Allocations("shell", false, nil)
		for _, s := range stubs {
			if s.ClientStatus == "running" {
				allocID = s.ID
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell job does not run")
		}
		time.Sleep(50 * time.Millisecond)
	}

	master, slave := openTestPty(t)
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("drover", "alloc", "exec", allocID[:8], "/bin/sh", "-c",
		`stty size; trap 'stty size' WINCH; while ! read x; do :; done; echo "done $x"; exit 3`)
	cmd.Env = append(os.Environ(), "DROVER_ADDR="+addr)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	slave.Close()

	var mu sync.Mutex
	var out bytes.Buffer
	go func() {
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waitOutput := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			got := out.String()
			mu.Unlock()
			if strings.Contains(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the terminal's output: %q", want, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// -t is the default on a terminal: the command sees this size.
	waitOutput("40 120\r\n")
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 50, Col: 132}); err != nil {
		t.Fatal(err)
	}
	waitOutput("50 132\r\n")
	// Raw mode: the line goes to the remote terminal, which echoes it.
	master.Write([]byte("bye\r"))
	waitOutput("done bye\r\n")
	errCh := make(chan error, 1)
	go func() { errCh <- cmd.Wait() }()
	select {
	case err := <-errCh:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("drover exited with %v, want the command's 3", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("drover alloc exec did not end with its command")
	}
}
