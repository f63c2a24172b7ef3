package redisd

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the server in the test process; testutil/tinyredis
// tests the same code as a separate process (exit codes, real signals).

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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go Serve(ln)
	return ln
}

func exchange(t *testing.T, c net.Conn, r *bufio.Reader, req string) string {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reply to %q: %v", req, err)
	}
	return line
}

func TestServe(t *testing.T) {
	ln := listen(t)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for _, tc := range []struct{ name, req, want string }{
		{"inline", "PING\r\n", "+PONG\r\n"},
		{"inline lower case", "ping\n", "+PONG\r\n"},
		{"resp", "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
		{"resp with argument", "*2\r\n$4\r\nPING\r\n$5\r\nhello\r\n", "+PONG\r\n"},
		{"empty line skipped", "\r\nPING\r\n", "+PONG\r\n"},
		{"unknown inline", "GET k\r\n", "-ERR unknown command 'GET'\r\n"},
		{"unknown resp", "*2\r\n$3\r\nSET\r\n$1\r\nk\r\n", "-ERR unknown command 'SET'\r\n"},
	} {
		if got := exchange(t, c, r, tc.req); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestServeClosesOnProtocolError(t *testing.T) {
	ln := listen(t)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "*x\r\n"); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read after a bad array header: %d bytes, %v; want EOF", n, err)
	}
}

func TestParse(t *testing.T) {
	t.Setenv("PORT", "7000")
	t.Setenv("EXIT_CODE", "3")
	t.Setenv("IGNORE_TERM", "true")
	o, err := Parse("x", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != 7000 || o.ExitCode != 3 || !o.IgnoreTerm || o.LogSize != 80 {
		t.Errorf("from the environment: %+v", o)
	}
	// Flags win over the environment; a leading redis-server is skipped.
	o, err = Parse("x", []string{"redis-server", "--port", "7001", "-exit-after", "2s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Port != 7001 || o.ExitAfter != 2*time.Second {
		t.Errorf("from flags: %+v", o)
	}
	var stderr bytes.Buffer
	if _, err := Parse("standin", []string{"-bogus"}, &stderr); err == nil {
		t.Error("unknown flag accepted")
	}
	if code := Run("standin", []string{"-bogus"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("Run with a bad flag: exit code %d, want 2", code)
	}
}

var bannerRE = regexp.MustCompile(`(\S+) ready to accept connections on port (\d+)\n`)

// start runs Run in the background on a free port and returns its output
// once the banner is out, with the port and the exit code's channel.
func start(t *testing.T, name string, args ...string) (stdout *safeBuffer, port int, code <-chan int) {
	t.Helper()
	stdout = &safeBuffer{}
	done := make(chan int, 1)
	go func() { done <- Run(name, append([]string{"-port", "0"}, args...), stdout, io.Discard) }()
	var m []string
	waitFor(t, "banner", func() bool {
		m = bannerRE.FindStringSubmatch(stdout.String())
		return m != nil
	})
	if m[1] != name {
		t.Errorf("banner names %q, want %q", m[1], name)
	}
	port, _ = strconv.Atoi(m[2])
	if port == 0 {
		t.Fatalf("banner gives port 0, not the port listened on: %q", m[0])
	}
	return stdout, port, done
}

func TestRunExitAfter(t *testing.T) {
	out, port, code := start(t, "tinyredis", "-exit-after", "300ms", "-exit-code", "5", "-log-lines", "3", "-log-size", "20")
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	if got := exchange(t, c, bufio.NewReader(c), "PING\r\n"); got != "+PONG\r\n" {
		t.Errorf("PING: %q", got)
	}
	c.Close()
	select {
	case n := <-code:
		if n != 5 {
			t.Errorf("exit code %d, want 5", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after -exit-after")
	}
	lines := strings.Split(out.String(), "\n")
	var logLines int
	for _, l := range lines {
		if strings.HasPrefix(l, "log line ") {
			logLines++
			if len(l)+1 != 20 {
				t.Errorf("log line %q is %d bytes with its newline, want 20", l, len(l)+1)
			}
		}
	}
	if logLines != 3 {
		t.Errorf("%d log lines, want 3:\n%s", logLines, out)
	}
	if !strings.Contains(out.String(), "exiting with code 5 after 300ms") {
		t.Errorf("no exit message:\n%s", out)
	}
	// The listener is closed on return.
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Error("still listening after Run returned")
	}
}

func TestMainSIGTERM(t *testing.T) {
	out, _, code := start(t, DefaultName)
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-code:
		if n != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return on SIGTERM")
	}
	for _, want := range []string{"Received SIGTERM scheduling shutdown...", "ready to exit, bye bye..."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if Main([]string{"-bogus"}, io.Discard, io.Discard) != 2 {
		t.Error("Main with a bad flag did not return 2")
	}
}
