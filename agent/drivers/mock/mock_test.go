package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"drover/agent/drivers"
)

func newConfig(t *testing.T, id string, conf map[string]interface{}) *drivers.TaskConfig {
	t.Helper()
	logDir := filepath.Join(t.TempDir(), "alloc", "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &drivers.TaskConfig{
		ID: "alloc1/" + id, AllocID: "alloc1", TaskName: id,
		Config: conf, LogDir: logDir, LogMaxFiles: 2, LogMaxFileSizeMB: 1,
	}
}

func mustStart(t *testing.T, d *Driver, cfg *drivers.TaskConfig) *drivers.TaskHandle {
	t.Helper()
	h, err := d.StartTask(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("StartTask: %v", err)
	}
	return h
}

// waitExit waits for the task's exit, failing after timeout.
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

func TestFingerprint(t *testing.T) {
	d := New()
	var _ drivers.Driver = d
	if d.Name() != "mock" {
		t.Fatalf("Name = %q", d.Name())
	}
	fp := d.Fingerprint(context.Background())
	if !fp.Detected || !fp.Healthy {
		t.Fatalf("fingerprint = %+v", fp)
	}
	if _, ok := drivers.NewRegistry(d).Get("mock"); !ok {
		t.Fatal("not registrable")
	}
}

func TestRunFor_ExitCode(t *testing.T) {
	cases := []struct {
		name string
		code interface{}
		want int
	}{
		{"float64 from JSON", float64(3), 3},
		{"int from HCL", 4, 4},
		{"int64 from msgpack", int64(5), 5},
		{"absent", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := New()
			conf := map[string]interface{}{"run_for": "20ms"}
			if tc.code != nil {
				conf["exit_code"] = tc.code
			}
			cfg := newConfig(t, "web", conf)
			mustStart(t, d, cfg)
			r := waitExit(t, d, cfg.ID, 5*time.Second)
			if r.ExitCode != tc.want || r.Signal != 0 || r.Err != nil {
				t.Fatalf("exit = %+v, want code %d", r, tc.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		conf    map[string]interface{}
		wantErr string
	}{
		{"unknown key", map[string]interface{}{"run_for": "1s", "run_four": "1s"}, `"run_four"`},
		{"skipped key is unknown", map[string]interface{}{"start_error_recoverable": true}, `"start_error_recoverable"`},
		{"bad duration", map[string]interface{}{"run_for": "soon"}, "run_for"},
		{"duration as number", map[string]interface{}{"kill_after": 5}, "kill_after"},
		{"fractional exit code", map[string]interface{}{"exit_code": 1.5}, "exit_code"},
		{"exit code as string", map[string]interface{}{"exit_code": "1"}, "exit_code"},
		{"negative repeat", map[string]interface{}{"stdout_repeat": -1}, "stdout_repeat"},
		{"start_error", map[string]interface{}{"start_error": "image pull failed"}, "image pull failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := New()
			cfg := newConfig(t, "web", tc.conf)
			_, err := d.StartTask(context.Background(), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("StartTask error = %v, want it to mention %s", err, tc.wantErr)
			}
			if _, err := d.WaitTask(context.Background(), cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
				t.Fatalf("a failed start left a task behind: %v", err)
			}
		})
	}
}

func TestOutputWrittenToLogs(t *testing.T) {
	d := New()
	cfg := newConfig(t, "web", map[string]interface{}{
		"stdout_string": "hello\n", "stdout_repeat": float64(3), "stderr_string": "oops\n",
	})
	mustStart(t, d, cfg)
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(cfg.LogDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got := read("web.stdout.0"); got != "hello\nhello\nhello\n" {
		t.Fatalf("stdout = %q", got)
	}
	if got := read("web.stderr.0"); got != "oops\n" {
		t.Fatalf("stderr = %q", got)
	}
	d.DestroyTask(cfg.ID, true)
}

func TestStop_ReportsSignal(t *testing.T) {
	cases := []struct {
		signal string
		want   int
	}{
		{"", 15}, {"SIGTERM", 15}, {"SIGINT", 2}, {"int", 2}, {"SIGUSR1", 10}, {"9", 9},
	}
	for _, tc := range cases {
		t.Run("signal "+tc.signal, func(t *testing.T) {
			d := New()
			cfg := newConfig(t, "web", nil) // runs until stopped
			mustStart(t, d, cfg)
			ch, _ := d.WaitTask(context.Background(), cfg.ID)
			if err := d.StopTask(cfg.ID, 5*time.Second, tc.signal); err != nil {
				t.Fatal(err)
			}
			r := <-ch
			if r.ExitCode != 0 || r.Signal != tc.want {
				t.Fatalf("exit = %+v, want signal %d", r, tc.want)
			}
			// Stopping again is harmless.
			if err := d.StopTask(cfg.ID, time.Second, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
	d := New()
	cfg := newConfig(t, "web", nil)
	mustStart(t, d, cfg)
	if err := d.StopTask(cfg.ID, time.Second, "SIGNOPE"); err == nil {
		t.Fatal("unknown signal accepted")
	}
	d.DestroyTask(cfg.ID, true)
}

func TestKillAfter(t *testing.T) {
	t.Run("exits by itself within the timeout", func(t *testing.T) {
		d := New()
		cfg := newConfig(t, "web", map[string]interface{}{"kill_after": "100ms"})
		mustStart(t, d, cfg)
		start := time.Now()
		if err := d.StopTask(cfg.ID, 10*time.Second, "SIGINT"); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el < 100*time.Millisecond || el > 5*time.Second {
			t.Fatalf("stop took %s, want about kill_after", el)
		}
		if r := waitExit(t, d, cfg.ID, time.Second); r.Signal != 2 {
			t.Fatalf("exit = %+v, want signal 2", r)
		}
	})
	t.Run("killed at a shorter timeout", func(t *testing.T) {
		d := New()
		cfg := newConfig(t, "web", map[string]interface{}{"kill_after": "1h"})
		mustStart(t, d, cfg)
		start := time.Now()
		if err := d.StopTask(cfg.ID, 50*time.Millisecond, ""); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Fatalf("stop took %s", el)
		}
		if r := waitExit(t, d, cfg.ID, time.Second); r.Signal != 9 {
			t.Fatalf("exit = %+v, want signal 9 (killed)", r)
		}
	})
}

func TestRecover(t *testing.T) {
	d := New()
	cfg := newConfig(t, "web", nil)
	h := mustStart(t, d, cfg)

	// Same process: the task is still known, recovering is a no-op.
	if err := d.RecoverTask(context.Background(), h); err != nil {
		t.Fatalf("recover a live task: %v", err)
	}

	// A new process: a running mock task is gone.
	persisted, _ := json.Marshal(h)
	var h2 drivers.TaskHandle
	json.Unmarshal(persisted, &h2)
	if err := New().RecoverTask(context.Background(), &h2); err == nil {
		t.Fatal("recovered a running mock task in another driver")
	}

	// Unless the handle says it had finished.
	h2.State, _ = json.Marshal(TaskState{Finished: true, ExitCode: 4, Signal: 0})
	d2 := New()
	if err := d2.RecoverTask(context.Background(), &h2); err != nil {
		t.Fatal(err)
	}
	if r := waitExit(t, d2, cfg.ID, time.Second); r.ExitCode != 4 {
		t.Fatalf("recovered exit = %+v, want code 4", r)
	}
	d.DestroyTask(cfg.ID, true)
}

func TestStatsAndDestroy(t *testing.T) {
	d := New()
	cfg := newConfig(t, "web", nil)
	mustStart(t, d, cfg)
	s, err := d.TaskStats(context.Background(), cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUPercent <= 0 || s.CPUTotalTicks <= 0 || s.MemoryRSS == 0 || s.Pids == 0 {
		t.Fatalf("stats = %+v, want non-zero", s)
	}
	if err := d.DestroyTask(cfg.ID, false); err == nil {
		t.Fatal("destroyed a running task without force")
	}
	ch, _ := d.WaitTask(context.Background(), cfg.ID)
	if err := d.DestroyTask(cfg.ID, true); err != nil {
		t.Fatal(err)
	}
	if r := <-ch; r.Signal != 9 {
		t.Fatalf("forced destroy exit = %+v, want signal 9", r)
	}
	for name, err := range map[string]error{
		"stats":   func() error { _, err := d.TaskStats(context.Background(), cfg.ID); return err }(),
		"wait":    func() error { _, err := d.WaitTask(context.Background(), cfg.ID); return err }(),
		"stop":    d.StopTask(cfg.ID, time.Second, ""),
		"destroy": d.DestroyTask(cfg.ID, true),
	} {
		if !errors.Is(err, drivers.ErrTaskNotFound) {
			t.Errorf("%s after destroy: %v, want ErrTaskNotFound", name, err)
		}
	}
	// The ID can be reused, as a restarted task would.
	mustStart(t, d, cfg)
	if _, err := d.StartTask(context.Background(), cfg, nil); err == nil {
		t.Fatal("started the same task ID twice")
	}
	d.DestroyTask(cfg.ID, true)
}

func TestWaitTask_ContextEnds(t *testing.T) {
	d := New()
	cfg := newConfig(t, "web", nil)
	mustStart(t, d, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := d.WaitTask(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case r, ok := <-ch:
		if ok {
			t.Fatalf("got %+v after cancel, want a closed channel", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed after cancel")
	}
	d.DestroyTask(cfg.ID, true)
}

func TestManyTasks(t *testing.T) {
	// Simulated clusters run thousands of mock tasks per process.
	d := New()
	const n = 2000
	for i := 0; i < n; i++ {
		cfg := &drivers.TaskConfig{ID: fmt.Sprintf("alloc%d/t", i), TaskName: "t",
			Config: map[string]interface{}{"run_for": "10ms", "exit_code": float64(i % 3)}}
		mustStart(t, d, cfg)
	}
	d.mu.Lock()
	ids := make([]string, 0, len(d.tasks))
	for id := range d.tasks {
		ids = append(ids, id)
	}
	d.mu.Unlock()
	for _, id := range ids {
		waitExit(t, d, id, 10*time.Second)
		if err := d.DestroyTask(id, false); err != nil {
			t.Fatal(err)
		}
	}
}

// start_delay makes StartTask take that long, reporting progress events
// meanwhile, and then fail with start_error if one is set; a cancelled
// context ends the wait.
func TestStartDelay(t *testing.T) {
	d := New()
	var events []string
	record := func(kind, msg string) { events = append(events, kind+": "+msg) }
	cfg := newConfig(t, "slow", map[string]interface{}{"start_delay": "600ms", "start_error": "image not found"})
	begin := time.Now()
	_, err := d.StartTask(context.Background(), cfg, record)
	if err == nil || err.Error() != "image not found" {
		t.Fatalf("StartTask: %v", err)
	}
	if took := time.Since(begin); took < 600*time.Millisecond {
		t.Errorf("StartTask returned after %s, before its delay", took)
	}
	if len(events) < 2 {
		t.Fatalf("progress events: %q", events)
	}
	for _, e := range events {
		if !strings.HasPrefix(e, drivers.EventProgress+": Mock start in progress: ") || !strings.HasSuffix(e, " of 600ms") {
			t.Errorf("event %q", e)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg = newConfig(t, "cancelled", map[string]interface{}{"start_delay": "1h"})
	if _, err := d.StartTask(ctx, cfg, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled start: %v", err)
	}
	if _, err := d.WaitTask(context.Background(), cfg.ID); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Errorf("a cancelled start left a task: %v", err)
	}
}
