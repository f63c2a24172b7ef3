package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests run the real binary: signal handling and exit codes are what
// the drivers rely on, and they only mean something in a separate process.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tinyredis-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tinyredis")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// safeBuffer lets the test read output while the process still writes it.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *safeBuffer
	done           chan error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: &safeBuffer{}, stderr: &safeBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) ready(t *testing.T) {
	t.Helper()
	waitFor(t, "banner", func() bool { return strings.Contains(p.stdout.String(), "ready to accept connections") })
}

func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // let the cleanup's receive succeed
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit")
		return -1
	}
}

func TestPing(t *testing.T) {
	port := freePort(t)
	p := start(t, "-port", fmt.Sprint(port))
	p.ready(t)
	if !strings.Contains(p.stdout.String(), fmt.Sprintf("on port %d", port)) {
		t.Errorf("banner does not name the port: %q", p.stdout.String())
	}
	if p.stderr.String() == "" {
		waitFor(t, "stderr line", func() bool { return p.stderr.String() != "" })
	}

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for name, req := range map[string]string{
		"inline": "PING\r\n",
		"resp":   "*1\r\n$4\r\nPING\r\n",
	} {
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil || line != "+PONG\r\n" {
			t.Errorf("%s: got %q, %v; want +PONG", name, line, err)
		}
	}
}

func TestSignals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGTERM, "SIGTERM"}, {syscall.SIGINT, "SIGINT"}} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, "-port", fmt.Sprint(freePort(t)))
			p.ready(t)
			p.cmd.Process.Signal(tc.sig)
			if code := p.exitCode(t); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
			out := p.stdout.String()
			for _, want := range []string{"Received " + tc.name + " scheduling shutdown...", "ready to exit, bye bye..."} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestIgnoreTerm(t *testing.T) {
	p := start(t, "-port", fmt.Sprint(freePort(t)), "-ignore-term")
	p.ready(t)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		t.Fatalf("exited on SIGTERM: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit code %d after SIGINT, want 0", code)
	}
}

func TestExitAfter(t *testing.T) {
	p := start(t, "-port", fmt.Sprint(freePort(t)), "-exit-after", "50ms", "-exit-code", "3")
	if code := p.exitCode(t); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
}

func TestEnvConfig(t *testing.T) {
	port := freePort(t)
	p := &proc{stdout: &safeBuffer{}, stderr: &safeBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t))
	p.cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "EXIT_AFTER=50ms", "EXIT_CODE=4")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	if code := p.exitCode(t); code != 4 {
		t.Errorf("exit code %d, want 4", code)
	}
	if !strings.Contains(p.stdout.String(), fmt.Sprintf("on port %d", port)) {
		t.Errorf("PORT not used: %q", p.stdout.String())
	}
}

func TestLogLines(t *testing.T) {
	p := start(t, "-port", fmt.Sprint(freePort(t)), "-log-lines", "100", "-log-size", "50")
	p.ready(t)
	waitFor(t, "log lines", func() bool { return strings.Contains(p.stdout.String(), "log line 99 ") })
	var n int
	for _, l := range strings.SplitAfter(p.stdout.String(), "\n") {
		if strings.HasPrefix(l, "log line ") {
			n++
			if len(l) != 50 {
				t.Fatalf("line %q is %d bytes, want 50", l, len(l))
			}
		}
	}
	if n != 100 {
		t.Errorf("%d log lines, want 100", n)
	}
}
