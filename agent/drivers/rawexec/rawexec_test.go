package rawexec

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"drover/agent/drivers"
	"drover/agent/drivers/logrotate"
)

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// newConfig returns a task config with its own alloc dir.
func newConfig(root, name string, conf map[string]interface{}) *drivers.TaskConfig {
	allocDir := filepath.Join(root, "alloc1")
	return &drivers.TaskConfig{
		ID: "alloc1/" + name, AllocID: "alloc1", TaskName: name,
		Config:   conf,
		Env:      map[string]string{"NOMAD_TASK_NAME": name},
		AllocDir: allocDir, TaskDir: filepath.Join(allocDir, name), LogDir: filepath.Join(allocDir, "alloc", "logs"),
		LogMaxFiles: 3, LogMaxFileSizeMB: 1,
	}
}

func shell(script string) map[string]interface{} {
	return map[string]interface{}{"command": "/bin/sh", "args": []interface{}{"-c", script}}
}

func mustStart(t *testing.T, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	h, err := d.StartTask(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("StartTask: %v", err)
	}
	t.Cleanup(func() { d.DestroyTask(cfg.ID, true) })
	return h
}

func waitExit(t *testing.T, d *Driver, id string, timeout time.Duration) *drivers.ExitResult {
	t.Helper()
	ch, err := d.WaitTask(context.Background(), id)
	if err != nil {
		t.Fatalf("WaitTask: %v", err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(timeout):
		t.Fatalf("task %s did not exit within %s", id, timeout)
		return nil
	}
}

func readLogs(t *testing.T, cfg *drivers.TaskConfig, base string) string {
	t.Helper()
	files, err := logrotate.Files(cfg.LogDir, base)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func logSize(cfg *drivers.TaskConfig) int64 {
	files, _ := logrotate.Files(cfg.LogDir, cfg.StdoutBase())
	var n int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func roundTrip(t *testing.T, h *drivers.TaskHandle) *drivers.TaskHandle {
	t.Helper()
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var out drivers.TaskHandle
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func gone(pid int) bool {
	st, err := readProcStat(pid)
	return err != nil || st.state == 'Z'
}

func TestDisabled(t *testing.T) {
	d := New(false)
	var _ drivers.Driver = d
	fp := d.Fingerprint(context.Background())
	if fp.Detected || fp.Healthy || fp.HealthDescription != "disabled" {
		t.Fatalf("fingerprint = %+v", fp)
	}
	cfg := newConfig(t.TempDir(), "web", shell("true"))
	_, err := d.StartTask(context.Background(), cfg, nil)
	if !errors.Is(err, ErrDisabled) || err.Error() != "raw_exec is disabled on this client" {
		t.Fatalf("StartTask on a disabled driver: %v", err)
	}
	if fp := New(true).Fingerprint(context.Background()); !fp.Detected || !fp.Healthy {
		t.Fatalf("enabled fingerprint = %+v", fp)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		conf    map[string]interface{}
		wantErr string
	}{
		{"unknown key", map[string]interface{}{"command": "true", "comand": "x"}, `unknown config key "comand"`},
		{"missing command", map[string]interface{}{"args": []interface{}{"x"}}, "command is required"},
		{"command not a string", map[string]interface{}{"command": 5}, "command"},
		{"args not strings", map[string]interface{}{"command": "true", "args": []interface{}{"a", 1.0}}, "args[1]"},
		{"args not a list", map[string]interface{}{"command": "true", "args": "a b"}, "args"},
		{"command not found", map[string]interface{}{"command": "no-such-command-here"}, "not found"},
		{"relative path not there", map[string]interface{}{"command": "local/run.sh"}, "not an executable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := New(true)
			cfg := newConfig(t.TempDir(), "web", tc.conf)
			_, err := d.StartTask(context.Background(), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("StartTask error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestExitCodeAndOutput(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell("echo to-stdout; echo to-stderr >&2; exit 3"))
	mustStart(t, d, cfg)
	r := waitExit(t, d, cfg.ID, 10*time.Second)
	if r.ExitCode != 3 || r.Signal != 0 || r.Err != nil {
		t.Fatalf("exit = %+v, want code 3", r)
	}
	if got := readLogs(t, cfg, "web.stdout"); got != "to-stdout\n" {
		t.Fatalf("stdout = %q", got)
	}
	if got := readLogs(t, cfg, "web.stderr"); got != "to-stderr\n" {
		t.Fatalf("stderr = %q", got)
	}
	// A second start of the same task (a restart) appends to the same logs.
	if err := d.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	mustStart(t, d, cfg)
	if r := waitExit(t, d, cfg.ID, 10*time.Second); r.ExitCode != 3 {
		t.Fatalf("restart exit = %+v", r)
	}
	if got := readLogs(t, cfg, "web.stdout"); got != "to-stdout\nto-stdout\n" {
		t.Fatalf("stdout after restart = %q", got)
	}
}

func TestEnvDirAndSignals(t *testing.T) {
	t.Setenv("DROVER_CLIENT_ONLY", "leak")
	root := t.TempDir()
	cfg := newConfig(root, "web", shell(`pwd; env; grep SigIgn /proc/self/status; if [ -e /proc/$$/fd/3 ]; then echo FD3-LEAKED; fi`))
	cfg.Env["FOO"] = "bar baz"
	// A command found through the task's PATH, relative to the task dir.
	cfg.Env["PATH"] = "bin:/usr/bin:/bin"
	if err := os.MkdirAll(filepath.Join(cfg.TaskDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cfg.TaskDir, "bin", "hello"), []byte("#!/bin/sh\necho hello from $0\n"), 0o755)

	d := New(true)
	mustStart(t, d, cfg)
	if r := waitExit(t, d, cfg.ID, 10*time.Second); !r.Successful() {
		t.Fatalf("exit = %+v", r)
	}
	out := readLogs(t, cfg, "web.stdout")
	lines := strings.Split(out, "\n")
	if lines[0] != cfg.TaskDir {
		t.Fatalf("working dir = %q, want %q", lines[0], cfg.TaskDir)
	}
	for _, want := range []string{"FOO=bar baz\n", "NOMAD_TASK_NAME=web\n", "PATH=bin:/usr/bin:/bin\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("env lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FD3-LEAKED") {
		t.Errorf("the wrapper's ready pipe leaked into the command")
	}
	if strings.Contains(out, "DROVER_CLIENT_ONLY") {
		t.Errorf("client environment leaked into the task:\n%s", out)
	}
	// The wrapper ignores stop signals, the command must not inherit that.
	self, _ := os.ReadFile("/proc/self/status")
	var mine string
	for _, l := range strings.Split(string(self), "\n") {
		if strings.HasPrefix(l, "SigIgn:") {
			mine = l
		}
	}
	if !strings.Contains(out, mine+"\n") {
		t.Errorf("command's ignored signals differ from the client's %q:\n%s", mine, out)
	}

	cfg2 := newConfig(root, "hello", map[string]interface{}{"command": "hello"})
	cfg2.Env["PATH"] = "bin"
	cfg2.TaskDir = cfg.TaskDir
	mustStart(t, d, cfg2)
	if r := waitExit(t, d, cfg2.ID, 10*time.Second); !r.Successful() {
		t.Fatalf("exit = %+v", r)
	}
	if got := readLogs(t, cfg2, "hello.stdout"); !strings.Contains(got, "hello from "+filepath.Join(cfg.TaskDir, "bin", "hello")) {
		t.Fatalf("stdout = %q", got)
	}
}

func TestStop_SIGTERM(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", map[string]interface{}{"command": "sleep", "args": []string{"60"}})
	mustStart(t, d, cfg)
	start := time.Now()
	if err := d.StopTask(cfg.ID, 5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Fatalf("stop took %s", el)
	}
	r := waitExit(t, d, cfg.ID, time.Second)
	if r.Signal != int(syscall.SIGTERM) || r.ExitCode != 128+15 {
		t.Fatalf("exit = %+v, want signal 15", r)
	}
	// Stopping a stopped task is fine.
	if err := d.StopTask(cfg.ID, time.Second, ""); err != nil {
		t.Fatal(err)
	}
}

// A signal the wrapper does not ignore must still reach only the command.
func TestStop_OtherSignal(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", map[string]interface{}{"command": "sleep", "args": []string{"60"}})
	mustStart(t, d, cfg)
	if err := d.StopTask(cfg.ID, 5*time.Second, "alrm"); err != nil {
		t.Fatal(err)
	}
	if r := waitExit(t, d, cfg.ID, time.Second); r.Signal != int(syscall.SIGALRM) || r.Err != nil {
		t.Fatalf("exit = %+v, want signal %d", r, syscall.SIGALRM)
	}
	if err := d.StopTask(cfg.ID, time.Second, "SIGBOGUS"); err == nil {
		t.Fatal("unknown signal accepted")
	}
}

func TestStop_IgnoresSIGTERM_KilledAfterTimeout(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell(`trap "" TERM; echo ready; sleep 60`))
	mustStart(t, d, cfg)
	waitFor(t, "the trap to be set", 5*time.Second, func() bool { return logSize(cfg) > 0 })
	const timeout = 300 * time.Millisecond
	start := time.Now()
	if err := d.StopTask(cfg.ID, timeout, ""); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	if el < timeout || el > timeout+4*time.Second {
		t.Fatalf("stop took %s, want a little over %s", el, timeout)
	}
	r := waitExit(t, d, cfg.ID, time.Second)
	if r.Signal != int(syscall.SIGKILL) || r.Err != nil {
		t.Fatalf("exit = %+v, want signal 9", r)
	}
}

func TestSurvival_NewDriverInstance(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell(`while [ ! -e stop ]; do echo tick; sleep 0.05; done; exit 7`))
	h := mustStart(t, d, cfg)
	persisted := roundTrip(t, h)

	// A restarted client: a new driver that knows nothing but the handle.
	d2 := New(true)
	if err := d2.RecoverTask(context.Background(), persisted); err != nil {
		t.Fatalf("RecoverTask: %v", err)
	}
	if err := d2.RecoverTask(context.Background(), persisted); err != nil {
		t.Fatalf("second RecoverTask: %v", err)
	}
	t.Cleanup(func() { d2.DestroyTask(cfg.ID, true) })
	s, err := d2.TaskStats(context.Background(), cfg.ID)
	if err != nil || s.Pids == 0 {
		t.Fatalf("stats of a recovered task = %+v, %v", s, err)
	}
	ch, err := d2.WaitTask(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		t.Fatalf("exited early: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	os.WriteFile(filepath.Join(cfg.TaskDir, "stop"), nil, 0o644)
	select {
	case r := <-ch:
		if r.ExitCode != 7 || r.Err != nil {
			t.Fatalf("exit = %+v, want code 7", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("recovered task did not report its exit")
	}
}

func TestRecover_AfterExitAndFailures(t *testing.T) {
	root := t.TempDir()
	d := New(true)
	cfg := newConfig(root, "web", shell("exit 5"))
	h := mustStart(t, d, cfg)
	waitExit(t, d, cfg.ID, 10*time.Second)

	// It ended while "no client" watched: the recorded status is reported.
	d2 := New(true)
	if err := d2.RecoverTask(context.Background(), roundTrip(t, h)); err != nil {
		t.Fatalf("recover an exited task: %v", err)
	}
	if r := waitExit(t, d2, cfg.ID, time.Second); r.ExitCode != 5 {
		t.Fatalf("exit = %+v, want 5", r)
	}

	// Gone, and no status: the task is lost.
	os.Remove(filepath.Join(cfg.TaskDir, ExitStatusFile))
	if err := New(true).RecoverTask(context.Background(), roundTrip(t, h)); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("recover a vanished task: %v, want ErrTaskNotFound", err)
	}

	// A live pid with another start time is someone else's process.
	st, _ := readProcStat(os.Getpid())
	reused := roundTrip(t, h)
	reused.State, _ = json.Marshal(TaskState{PID: os.Getpid(), PGID: os.Getpid(), StartTime: st.startTime + 1,
		ExitStatusFile: filepath.Join(cfg.TaskDir, ExitStatusFile)})
	if err := New(true).RecoverTask(context.Background(), reused); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("recover a reused pid: %v, want ErrTaskNotFound", err)
	}

	bad := roundTrip(t, h)
	bad.State = json.RawMessage(`{"pid": 0}`)
	if err := New(true).RecoverTask(context.Background(), bad); err == nil {
		t.Fatal("recovered from an incomplete state")
	}
}

// A wrapper killed from outside leaves no status: the exit is reported as
// lost, not made up.
func TestExitStatusLost(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", map[string]interface{}{"command": "sleep", "args": []string{"60"}})
	h := mustStart(t, d, cfg)
	var st TaskState
	json.Unmarshal(h.State, &st)
	syscall.Kill(-st.PGID, syscall.SIGKILL)
	r := waitExit(t, d, cfg.ID, 10*time.Second)
	if !errors.Is(r.Err, ErrExitStatusLost) || r.Err.Error() != "task exited but its exit status was lost" {
		t.Fatalf("exit = %+v, want the status lost", r)
	}
}

func TestStats(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", map[string]interface{}{"command": "sleep", "args": []string{"60"}})
	mustStart(t, d, cfg)
	s, err := d.TaskStats(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The wrapper and sleep.
	if s.MemoryRSS == 0 || s.Pids != 2 {
		t.Fatalf("stats = %+v, want RSS and 2 processes", s)
	}

	busy := newConfig(t.TempDir(), "busy", shell("while :; do :; done"))
	mustStart(t, d, busy)
	d.TaskStats(context.Background(), busy.ID)
	time.Sleep(300 * time.Millisecond) // a sampling interval, not a wait for an event
	s, err = d.TaskStats(context.Background(), busy.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUPercent < 10 || s.CPUTotalTicks <= 0 || s.MemoryRSS == 0 {
		t.Fatalf("busy stats = %+v, want CPU use", s)
	}
}

func TestLogRotation(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell(`while [ ! -e stop ]; do head -c 300000 /dev/zero; sleep 0.1; done`))
	cfg.LogMaxFiles = 2
	mustStart(t, d, cfg)
	waitFor(t, "rotations and pruning", 30*time.Second, func() bool {
		files, _ := logrotate.Files(cfg.LogDir, cfg.StdoutBase())
		return len(files) > 0 && filepath.Base(files[0]) != "web.stdout.0"
	})
	files, _ := logrotate.Files(cfg.LogDir, cfg.StdoutBase())
	if len(files) > 2 {
		t.Fatalf("%d files kept, want at most 2", len(files))
	}
	before := logSize(cfg)
	waitFor(t, "output after rotation", 10*time.Second, func() bool { return logSize(cfg) != before })
	os.WriteFile(filepath.Join(cfg.TaskDir, "stop"), nil, 0o644)
	if r := waitExit(t, d, cfg.ID, 10*time.Second); !r.Successful() {
		t.Fatalf("exit = %+v", r)
	}
}

func TestDestroy(t *testing.T) {
	d := New(true)
	cfg := newConfig(t.TempDir(), "web", shell(`sleep 60 & echo $! > bg.pid; exit 0`))
	mustStart(t, d, cfg)
	if r := waitExit(t, d, cfg.ID, 10*time.Second); !r.Successful() {
		t.Fatalf("exit = %+v", r)
	}
	data, err := os.ReadFile(filepath.Join(cfg.TaskDir, "bg.pid"))
	if err != nil {
		t.Fatal(err)
	}
	bg, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	if gone(bg) {
		t.Fatal("background child already gone")
	}
	if err := d.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leftover child to be killed", 5*time.Second, func() bool { return gone(bg) })
	if _, err := d.WaitTask(context.Background(), cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("WaitTask after destroy: %v", err)
	}

	running := newConfig(t.TempDir(), "run", map[string]interface{}{"command": "sleep", "args": []string{"60"}})
	mustStart(t, d, running)
	if err := d.DestroyTask(running.ID, false); err == nil {
		t.Fatal("destroyed a running task without force")
	}
	if err := d.DestroyTask(running.ID, true); err != nil {
		t.Fatal(err)
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("switching users needs root")
	}
	root := t.TempDir()
	// The unprivileged user must reach its task dir.
	for p := root; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	d := New(true)
	cfg := newConfig(root, "web", shell("id -u; exit 4"))
	cfg.User = "nobody"
	mustStart(t, d, cfg)
	if r := waitExit(t, d, cfg.ID, 10*time.Second); r.ExitCode != 4 || r.Err != nil {
		t.Fatalf("exit = %+v, want 4", r)
	}
	if got := strings.TrimSpace(readLogs(t, cfg, "web.stdout")); got == "0" || got == "" {
		t.Fatalf("ran as uid %q, want nobody", got)
	}
}

const helperEnv = "DROVER_RAWEXEC_HELPER_DIR"

// TestHelperProcess is not a test: run as a child of the survival test, it
// plays a client that starts a task, prints its handle and waits to be
// killed.
func TestHelperProcess(t *testing.T) {
	root := os.Getenv(helperEnv)
	if root == "" {
		t.Skip("helper process for TestSurvival_ClientKilled")
	}
	d := New(true)
	cfg := newConfig(root, "web", shell(`while [ ! -e stop ]; do echo tick; sleep 0.05; done; exit 7`))
	h, err := d.StartTask(context.Background(), cfg, nil)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	data, _ := json.Marshal(h)
	fmt.Printf("%s\n", data)
	time.Sleep(time.Hour)
}

func TestSurvival_ClientKilled(t *testing.T) {
	root := t.TempDir()
	client := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	client.Env = append(os.Environ(), helperEnv+"="+root)
	client.Stderr = os.Stderr
	out, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read handle from the client: %v", err)
	}
	var h drivers.TaskHandle
	if err := json.Unmarshal([]byte(line), &h); err != nil {
		t.Fatalf("handle %q: %v", line, err)
	}
	var st TaskState
	if err := json.Unmarshal(h.State, &st); err != nil {
		t.Fatal(err)
	}
	cfg := h.Config
	t.Cleanup(func() { syscall.Kill(-st.PGID, syscall.SIGKILL) })
	waitFor(t, "the task to write", 5*time.Second, func() bool { return logSize(cfg) > 0 })

	// The client dies without any chance to clean up.
	client.Process.Signal(syscall.SIGKILL)
	client.Wait()

	// The task was the dead client's grandchild; it keeps running...
	if !processAlive(st.PID, st.StartTime) {
		t.Fatal("the task died with its client")
	}
	ps, _ := readProcStat(st.PID)
	if ppid := parentPID(t, st.PID); ppid == client.Process.Pid {
		t.Fatalf("task still has the dead client as parent (%+v)", ps)
	}
	// ...and keeps writing its log.
	size := logSize(cfg)
	waitFor(t, "the task to keep writing after its client died", 5*time.Second, func() bool { return logSize(cfg) > size })

	// The restarted client re-attaches and gets the real exit code.
	d := New(true)
	if err := d.RecoverTask(context.Background(), &h); err != nil {
		t.Fatalf("RecoverTask: %v", err)
	}
	os.WriteFile(filepath.Join(cfg.TaskDir, "stop"), nil, 0o644)
	if r := waitExit(t, d, cfg.ID, 10*time.Second); r.ExitCode != 7 || r.Err != nil {
		t.Fatalf("exit = %+v, want code 7", r)
	}
	if !strings.Contains(readLogs(t, cfg, cfg.StdoutBase()), "tick\n") {
		t.Fatal("log lost")
	}
}

func parentPID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and parentheses must not shift fields.
	line := "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 12345 1000000 250 18446744073709551615"
	st, err := parseProcStat(42, line)
	if err != nil {
		t.Fatal(err)
	}
	if st.state != 'S' || st.pgrp != 42 || st.session != 42 || st.ticks != 10 || st.startTime != 12345 || st.rssPages != 250 {
		t.Fatalf("parsed %+v", st)
	}
	if _, err := parseProcStat(1, "1 (x) S 1"); err == nil {
		t.Fatal("short line accepted")
	}
}
