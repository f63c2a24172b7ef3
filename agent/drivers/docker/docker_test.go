package docker

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"drover/agent/drivers"
	"drover/agent/drivers/logrotate"
	"drover/agent/structs"
	"drover/testutil/dockerimg"
)

// These tests run real containers of the tinyredis image, built locally by
// dockerimg. Each uses its own allocation ID (and so container names and
// labels) and free host ports, so they run in parallel, and removes its
// containers when it ends.

// testLogger routes driver logs to the test, until the test ends.
type testLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// setup skips or fails (see dockerimg.Require) without Docker, builds the
// image and returns it with a test docker client.
func setup(t *testing.T) (string, *client.Client) {
	t.Helper()
	dockerimg.Require(t)
	img := dockerimg.Build(t)
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	t.Parallel()
	return img, cli
}

// newDriver returns a driver closed when the test ends.
func newDriver(t *testing.T) *Driver {
	t.Helper()
	tl := &testLogger{t: t}
	d, err := New(log.New(tl, "", log.Lmicroseconds), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		tl.mu.Lock()
		tl.done = true
		tl.mu.Unlock()
	})
	return d
}

func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTask returns a task config in a fresh allocation directory, and
// removes the allocation's containers when the test ends.
func newTask(t *testing.T, cli *client.Client, image string, args ...string) *drivers.TaskConfig {
	t.Helper()
	allocID := randomID(t)
	allocDir := t.TempDir()
	name := "redis"
	cfg := &drivers.TaskConfig{
		ID:               allocID + "/" + name,
		AllocID:          allocID,
		AllocName:        "example.cache[0]",
		JobID:            "example",
		TaskGroup:        "cache",
		TaskName:         name,
		Config:           map[string]interface{}{"image": image},
		Env:              map[string]string{"NOMAD_TASK_NAME": name, "DROVER_TEST": t.Name()},
		CPU:              100,
		MemoryMB:         64,
		AllocDir:         allocDir,
		TaskDir:          filepath.Join(allocDir, name),
		LogDir:           filepath.Join(allocDir, "alloc", "logs"),
		LogMaxFiles:      3,
		LogMaxFileSizeMB: 1,
	}
	if len(args) > 0 {
		cfg.Config["args"] = toInterfaces(args)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, c := range allocContainers(t, cli, allocID) {
			if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
				t.Logf("cleanup: remove %s: %v", c.ID, err)
			}
		}
	})
	return cfg
}

func toInterfaces(ss []string) []interface{} {
	out := make([]interface{}, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// allocContainers lists the containers, running or not, of an allocation.
func allocContainers(t *testing.T, cli *client.Client, allocID string) []container.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := cli.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", LabelAllocID+"="+allocID)),
	})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	return cs
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

// ping sends a RESP PING and reports whether +PONG came back.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("got %q", line)
	}
	return nil
}

func waitPong(t *testing.T, addr string) {
	t.Helper()
	var last error
	waitFor(t, "PONG from "+addr, 20*time.Second, func() bool {
		last = ping(addr)
		return last == nil
	})
}

// readLogs concatenates a stream's log files, oldest first.
func readLogs(t *testing.T, dir, base string) string {
	t.Helper()
	files, err := logrotate.Files(dir, base)
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

func waitLog(t *testing.T, cfg *drivers.TaskConfig, base, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%q in %s", want, base), 20*time.Second, func() bool {
		return strings.Contains(readLogs(t, cfg.LogDir, base), want)
	})
}

func waitExit(t *testing.T, d *Driver, taskID string, timeout time.Duration) *drivers.ExitResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ch, err := d.WaitTask(ctx, taskID)
	if err != nil {
		t.Fatalf("WaitTask: %v", err)
	}
	select {
	case res := <-ch:
		return res
	case <-ctx.Done():
		t.Fatalf("task %s did not exit within %s", taskID, timeout)
		return nil
	}
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) add(kind, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, kind+": "+msg)
}

func (e *eventLog) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

func start(t *testing.T, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := d.StartTask(ctx, cfg, nil)
	if err != nil {
		t.Fatalf("StartTask: %v", err)
	}
	return h
}

func containerID(t *testing.T, h *drivers.TaskHandle) string {
	t.Helper()
	var st handleState
	if err := json.Unmarshal(h.State, &st); err != nil {
		t.Fatal(err)
	}
	return st.ContainerID
}

func TestFingerprint(t *testing.T) {
	_, cli := setup(t)
	d := newDriver(t)
	info := d.Fingerprint(context.Background())
	if !info.Detected || !info.Healthy {
		t.Fatalf("fingerprint: %+v", info)
	}
	v, err := cli.ServerVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Attributes["driver.docker.version"]; got != v.Version {
		t.Errorf("driver.docker.version %q, the engine's /version says %q", got, v.Version)
	}
	if d.Name() != "docker" {
		t.Errorf("Name() = %q", d.Name())
	}
}

func TestFingerprintUnreachable(t *testing.T) {
	// No Docker needed: the engine is deliberately absent.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	d := newDriver(t)
	info := d.Fingerprint(context.Background())
	if info.Detected || info.Healthy || info.HealthDescription == "" {
		t.Fatalf("fingerprint without an engine: %+v", info)
	}
}

// A group port is published on the host IP and port and reaches the
// container's port "to"; output reaches the log files; SIGTERM ends the
// task cleanly and its shutdown lines are logged.
func TestGroupPortLogsAndStop(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img)
	port := freePort(t)
	cfg.Ports = []structs.PortMapping{{Label: "db", Value: port, To: 6379, HostIP: "127.0.0.1"}}
	cfg.Config["ports"] = []interface{}{"db"}
	cfg.Config["labels"] = []interface{}{map[string]interface{}{"team": "cache"}}

	var ev eventLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := d.StartTask(ctx, cfg, ev.add)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.list(); len(got) != 0 {
		t.Errorf("events for a local image: %v", got)
	}
	if h.Driver != "docker" || h.Config != cfg || containerID(t, h) == "" {
		t.Errorf("handle: %+v", h)
	}

	waitPong(t, fmt.Sprintf("127.0.0.1:%d", port))
	waitLog(t, cfg, cfg.StdoutBase(), "tinyredis ready to accept connections on port 6379\n")
	waitLog(t, cfg, cfg.StderrBase(), "tinyredis: pid")
	if _, err := os.Stat(filepath.Join(cfg.LogDir, cfg.StdoutBase()+".0")); err != nil {
		t.Errorf("stdout log: %v", err)
	}

	info, err := cli.ContainerInspect(ctx, containerID(t, h))
	if err != nil {
		t.Fatal(err)
	}
	if want := "/redis-" + cfg.AllocID; info.Name != want {
		t.Errorf("container name %q, want %q", info.Name, want)
	}
	for k, want := range map[string]string{
		LabelAllocID: cfg.AllocID, LabelTaskName: "redis", LabelJobID: "example",
		LabelAllocName: "example.cache[0]", "team": "cache",
	} {
		if got := info.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if !slices.Contains(info.Config.Env, "NOMAD_TASK_NAME=redis") {
		t.Errorf("env %v lacks NOMAD_TASK_NAME", info.Config.Env)
	}
	if info.HostConfig.CPUShares != 100 || info.HostConfig.Memory != 64<<20 {
		t.Errorf("resources: shares %d memory %d", info.HostConfig.CPUShares, info.HostConfig.Memory)
	}
	var targets []string
	for _, m := range info.Mounts {
		targets = append(targets, m.Destination)
	}
	slices.Sort(targets)
	if !slices.Equal(targets, []string{"/alloc", "/local", "/secrets"}) {
		t.Errorf("mounts %v", targets)
	}

	if err := d.StopTask(cfg.ID, 10*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, d, cfg.ID, 20*time.Second)
	if !res.Successful() {
		t.Errorf("exit: %v", res)
	}
	// The exit is reported only once the last output is in the files.
	out := readLogs(t, cfg.LogDir, cfg.StdoutBase())
	for _, want := range []string{"Received SIGTERM scheduling shutdown...\n", "ready to exit, bye bye...\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Z tinyredis") {
		t.Errorf("timestamps not stripped:\n%s", out)
	}

	// Stopping a stopped task is fine; destroying removes the container.
	if err := d.StopTask(cfg.ID, time.Second, ""); err != nil {
		t.Errorf("second StopTask: %v", err)
	}
	if err := d.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	if cs := allocContainers(t, cli, cfg.AllocID); len(cs) != 0 {
		t.Errorf("containers left after DestroyTask: %d", len(cs))
	}
	if _, err := d.WaitTask(ctx, cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("WaitTask after destroy: %v", err)
	}
}

// The old style: a task network's dynamic port, mapped into the container
// by port_map as the job parser gives it (a list of maps, float64 ports).
func TestPortMap(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img)
	port := freePort(t)
	cfg.TaskNetworks = []*structs.NetworkResource{{IP: "127.0.0.1", DynamicPorts: []structs.Port{{Label: "db", Value: port}}}}
	cfg.Config["port_map"] = []interface{}{map[string]interface{}{"db": float64(6379)}}
	start(t, d, cfg)
	waitPong(t, fmt.Sprintf("127.0.0.1:%d", port))
	if err := d.DestroyTask(cfg.ID, false); err == nil {
		t.Error("DestroyTask without force removed a running container")
	}
	if err := d.DestroyTask(cfg.ID, true); err != nil {
		t.Fatal(err)
	}
	if cs := allocContainers(t, cli, cfg.AllocID); len(cs) != 0 {
		t.Errorf("containers left after forced DestroyTask: %d", len(cs))
	}
}

// A signal other than the image's stop signal takes the kill path on
// engines older than API 1.42, and ContainerStop on newer ones.
func TestStopSignal(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img)
	start(t, d, cfg)
	waitLog(t, cfg, cfg.StdoutBase(), "ready to accept connections")
	if err := d.StopTask(cfg.ID, 10*time.Second, "SIGINT"); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, d, cfg.ID, 20*time.Second); res.ExitCode != 0 {
		t.Errorf("exit: %v", res)
	}
	if out := readLogs(t, cfg.LogDir, cfg.StdoutBase()); !strings.Contains(out, "Received SIGINT scheduling shutdown...") {
		t.Errorf("stdout log:\n%s", out)
	}
}

// A task ignoring SIGTERM is killed when the timeout passes.
func TestKillTimeout(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img, "-ignore-term")
	start(t, d, cfg)
	waitLog(t, cfg, cfg.StdoutBase(), "ready to accept connections")
	begin := time.Now()
	if err := d.StopTask(cfg.ID, time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	res := waitExit(t, d, cfg.ID, 20*time.Second)
	elapsed := time.Since(begin)
	if elapsed < 900*time.Millisecond || elapsed > 15*time.Second {
		t.Errorf("stopped after %s, want about 1s", elapsed)
	}
	if res.ExitCode != 137 || res.Successful() {
		t.Errorf("exit: %v, want code 137 (SIGKILL)", res)
	}
	if out := readLogs(t, cfg.LogDir, cfg.StdoutBase()); strings.Contains(out, "Received SIGTERM") {
		t.Errorf("SIGTERM was not ignored:\n%s", out)
	}
}

func TestExitCode(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img, "-exit-after", "100ms", "-exit-code", "3")
	start(t, d, cfg)
	res := waitExit(t, d, cfg.ID, 20*time.Second)
	if res.ExitCode != 3 || res.OOMKilled || res.Err != nil || res.Successful() {
		t.Errorf("exit: %+v, want code 3", res)
	}
	// Every waiter gets the result.
	if again := waitExit(t, d, cfg.ID, 5*time.Second); again.ExitCode != 3 {
		t.Errorf("second WaitTask: %v", again)
	}
	if out := readLogs(t, cfg.LogDir, cfg.StdoutBase()); !strings.Contains(out, "exiting with code 3") {
		t.Errorf("stdout log:\n%s", out)
	}
}

// Enough output for several 1 MiB files: at most LogMaxFiles are kept,
// none larger than the limit, and the newest output is in the last one.
func TestLogRotation(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img, "-log-lines", "5000", "-log-size", "1024", "-exit-after", "500ms")
	start(t, d, cfg)
	if res := waitExit(t, d, cfg.ID, 60*time.Second); !res.Successful() {
		t.Fatalf("exit: %v", res)
	}
	files, err := logrotate.Files(cfg.LogDir, cfg.StdoutBase())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != cfg.LogMaxFiles {
		t.Fatalf("%d stdout files, want %d: %v", len(files), cfg.LogMaxFiles, files)
	}
	if last := files[len(files)-1]; !strings.HasSuffix(last, ".stdout.4") {
		t.Errorf("newest file %s, want index 4 (about 5 MiB in 1 MiB files)", last)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over 1 MiB", f, fi.Size())
		}
	}
	out := readLogs(t, cfg.LogDir, cfg.StdoutBase())
	if !strings.Contains(out, "log line 4999 x") || !strings.HasSuffix(out, "exiting with code 0 after 500ms\n") {
		t.Errorf("newest output missing; tail: %q", out[max(len(out)-200, 0):])
	}
	if strings.Contains(out, "ready to accept connections") {
		t.Error("oldest output was not rotated away")
	}
}

// A new driver (a restarted client) re-attaches to the running container
// from the persisted handle: same container, no second one, WaitTask and
// StopTask work, and the log copy resumes without repeating lines.
func TestRecoverRunning(t *testing.T) {
	img, cli := setup(t)
	d1 := newDriver(t)
	cfg := newTask(t, cli, img, "-log-lines", "3", "-log-size", "40")
	h := start(t, d1, cfg)
	waitLog(t, cfg, cfg.StdoutBase(), "log line 2 ")

	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	// The client exits; its tasks keep running.
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}

	var h2 drivers.TaskHandle
	if err := json.Unmarshal(data, &h2); err != nil {
		t.Fatal(err)
	}
	d2 := newDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d2.RecoverTask(ctx, &h2); err != nil {
		t.Fatalf("RecoverTask: %v", err)
	}
	if err := d2.RecoverTask(ctx, &h2); err != nil {
		t.Errorf("second RecoverTask: %v", err)
	}
	cs := allocContainers(t, cli, cfg.AllocID)
	if len(cs) != 1 || cs[0].ID != containerID(t, h) || cs[0].State != "running" {
		t.Fatalf("containers after recovery: %+v", cs)
	}
	if _, err := d2.TaskStats(ctx, cfg.ID); err != nil {
		t.Errorf("TaskStats after recovery: %v", err)
	}

	if err := d2.StopTask(cfg.ID, 10*time.Second, ""); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, d2, cfg.ID, 20*time.Second); !res.Successful() {
		t.Errorf("exit: %v", res)
	}
	out := readLogs(t, cfg.LogDir, cfg.StdoutBase())
	for _, line := range []string{"tinyredis ready", "log line 0 ", "log line 2 ", "Received SIGTERM", "bye bye"} {
		if n := strings.Count(out, line); n != 1 {
			t.Errorf("%q appears %d times in the stdout log:\n%s", line, n, out)
		}
	}
	if n := strings.Count(readLogs(t, cfg.LogDir, cfg.StderrBase()), "tinyredis: pid"); n != 1 {
		t.Errorf("stderr line appears %d times", n)
	}

	// Once the container is gone, recovery fails and creates nothing.
	if err := d2.DestroyTask(cfg.ID, false); err != nil {
		t.Fatal(err)
	}
	d3 := newDriver(t)
	if err := d3.RecoverTask(ctx, &h2); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("RecoverTask of a removed container: %v", err)
	}
	if cs := allocContainers(t, cli, cfg.AllocID); len(cs) != 0 {
		t.Errorf("RecoverTask created containers: %+v", cs)
	}
}

// A container that exits while no client runs is recovered as exited: its
// exit code is reported and its last output is copied once.
func TestRecoverExited(t *testing.T) {
	img, cli := setup(t)
	d1 := newDriver(t)
	cfg := newTask(t, cli, img, "-exit-after", "1s", "-exit-code", "5")
	h := start(t, d1, cfg)
	waitLog(t, cfg, cfg.StdoutBase(), "ready to accept connections")
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, "container exit", 20*time.Second, func() bool {
		info, err := cli.ContainerInspect(ctx, containerID(t, h))
		return err == nil && !info.State.Running
	})
	if out := readLogs(t, cfg.LogDir, cfg.StdoutBase()); strings.Contains(out, "exiting") {
		t.Fatalf("output copied while detached:\n%s", out)
	}

	d2 := newDriver(t)
	if err := d2.RecoverTask(ctx, h); err != nil {
		t.Fatal(err)
	}
	if res := waitExit(t, d2, cfg.ID, 20*time.Second); res.ExitCode != 5 {
		t.Errorf("exit: %v, want 5", res)
	}
	out := readLogs(t, cfg.LogDir, cfg.StdoutBase())
	if strings.Count(out, "tinyredis ready") != 1 || strings.Count(out, "exiting with code 5") != 1 {
		t.Errorf("stdout log after recovery:\n%s", out)
	}
	if cs := allocContainers(t, cli, cfg.AllocID); len(cs) != 1 {
		t.Errorf("%d containers, want 1", len(cs))
	}
}

func TestStats(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img)
	start(t, d, cfg)
	waitLog(t, cfg, cfg.StdoutBase(), "ready to accept connections")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := d.TaskStats(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // CPU usage is a rate: it needs two samples apart
	s, err := d.TaskStats(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stats: first %+v, second %+v", first, s)
	if s.MemoryUsage == 0 || !slices.Contains(s.Measured, "Usage") {
		t.Errorf("no memory usage: %+v", s)
	}
	if !slices.Contains(s.Measured, "Percent") || s.CPUPercent < 0 {
		t.Errorf("no CPU usage on the second sample: %+v", s)
	}
	if s.Timestamp.IsZero() {
		t.Error("no timestamp")
	}
	if _, err := d.TaskStats(ctx, "nope/nope"); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("stats of an unknown task: %v", err)
	}
}

func TestUnknownConfigKey(t *testing.T) {
	// Refused before the engine is contacted, so no Docker is needed.
	d := newDriver(t)
	cfg := &drivers.TaskConfig{ID: "a/t", AllocID: "a", TaskName: "t",
		Config: map[string]interface{}{"image": "redis:3.2", "port_mapp": []interface{}{}}}
	_, err := d.StartTask(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown key "port_mapp"`) {
		t.Fatalf("err = %v", err)
	}
}

// With no registry reachable the pull fails at once; the error names the
// image, and the "Downloading image" event came first.
func TestPullFailure(t *testing.T) {
	_, cli := setup(t)
	d := newDriver(t)
	// Port 1 on the loopback never has a registry, wherever this runs.
	const missing = "127.0.0.1:1/drover-test/missing:nope"
	cfg := newTask(t, cli, missing)
	var ev eventLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := d.StartTask(ctx, cfg, ev.add)
	if err == nil {
		t.Fatal("StartTask succeeded with an image that cannot be pulled")
	}
	if !strings.HasPrefix(err.Error(), "Failed to pull \""+missing+"\": ") {
		t.Errorf("error does not say what failed: %v", err)
	}
	t.Logf("pull error: %v", err)
	if got := ev.list(); !slices.Equal(got, []string{"Driver: Downloading image " + missing}) {
		t.Errorf("events = %v", got)
	}
	if cs := allocContainers(t, cli, cfg.AllocID); len(cs) != 0 {
		t.Errorf("containers created: %d", len(cs))
	}
}

// A task restarted in place (same task ID, no DestroyTask in between)
// replaces its exited container, and its output is appended to the same
// log files.
func TestRestartInPlace(t *testing.T) {
	img, cli := setup(t)
	d := newDriver(t)
	cfg := newTask(t, cli, img, "-exit-after", "100ms", "-exit-code", "1")
	h1 := start(t, d, cfg)
	if res := waitExit(t, d, cfg.ID, 20*time.Second); res.ExitCode != 1 {
		t.Fatalf("first run: %v", res)
	}
	cfg.Config["args"] = []interface{}{"-exit-after", "100ms", "-exit-code", "0"}
	h2 := start(t, d, cfg)
	if containerID(t, h1) == containerID(t, h2) {
		t.Fatal("restart reused the exited container")
	}
	if res := waitExit(t, d, cfg.ID, 20*time.Second); res.ExitCode != 0 {
		t.Fatalf("second run: %v", res)
	}
	cs := allocContainers(t, cli, cfg.AllocID)
	if len(cs) != 1 || cs[0].ID != containerID(t, h2) {
		t.Errorf("containers after restart: %+v", cs)
	}
	out := readLogs(t, cfg.LogDir, cfg.StdoutBase())
	if strings.Count(out, "tinyredis ready") != 2 || !strings.Contains(out, "exiting with code 1") || !strings.Contains(out, "exiting with code 0") {
		t.Errorf("stdout log of both runs:\n%s", out)
	}
}

// The engine's version is read from the ping's Server header; an engine
// that names itself otherwise is asked for it.
func TestEngineVersion(t *testing.T) {
	for _, tc := range []struct{ server, want string }{
		{"Docker/28.2.2 (linux)", "28.2.2"},
		{"Docker/20.10.24+dfsg1 (linux)", "20.10.24+dfsg1"},
		{"Docker/27.0.1", "27.0.1"},
		{"Libpod/5.2.0 (linux)", ""},
		{"", ""},
	} {
		if got := engineVersion(tc.server); got != tc.want {
			t.Errorf("engineVersion(%q) = %q, want %q", tc.server, got, tc.want)
		}
	}
}
