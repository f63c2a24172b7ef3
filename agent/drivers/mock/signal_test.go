package mock

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"drover/agent/drivers"
)

// A mock task records the signals it gets; SIGKILL and the signals
// exit_on_signal names end it with that signal, others leave it running.
func TestSignalTask(t *testing.T) {
	d := New()
	cfg := newConfig(t, "web", map[string]interface{}{"exit_on_signal": []interface{}{"SIGUSR1"}})
	mustStart(t, d, cfg)
	for _, s := range []string{"SIGHUP", "usr2", "SIGUSR1"} {
		if err := d.SignalTask(cfg.ID, s); err != nil {
			t.Fatalf("signal %s: %v", s, err)
		}
	}
	if r := waitExit(t, d, cfg.ID, 5*time.Second); r.Signal != 10 || r.ExitCode != 0 {
		t.Fatalf("exit after SIGUSR1 = %+v, want signal 10", r)
	}
	if got := d.Signals(cfg.ID); !slices.Equal(got, []string{"SIGHUP", "SIGUSR2", "SIGUSR1"}) {
		t.Fatalf("recorded %v", got)
	}
	if err := d.SignalTask(cfg.ID, "SIGHUP"); !errors.Is(err, drivers.ErrNotRunning) {
		t.Fatalf("signal after exit: %v", err)
	}

	// SIGKILL always ends a task.
	cfg2 := newConfig(t, "db", nil)
	mustStart(t, d, cfg2)
	if err := d.SignalTask(cfg2.ID, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.tasks[cfg2.ID].done:
		t.Fatal("SIGTERM, not in exit_on_signal, ended the task")
	case <-time.After(50 * time.Millisecond):
	}
	if err := d.SignalTask(cfg2.ID, "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	if r := waitExit(t, d, cfg2.ID, 5*time.Second); r.Signal != 9 {
		t.Fatalf("exit after SIGKILL = %+v", r)
	}
}

func TestSignalTask_Errors(t *testing.T) {
	d := New()
	cfg := newConfig(t, "web", map[string]interface{}{"signal_error": "no signals here"})
	mustStart(t, d, cfg)
	t.Cleanup(func() { d.DestroyTask(cfg.ID, true) })
	if err := d.SignalTask(cfg.ID, "SIGHUP"); err == nil || err.Error() != "no signals here" {
		t.Fatalf("signal_error: %v", err)
	}
	if err := d.SignalTask(cfg.ID, "SIGNOPE"); err == nil || !strings.Contains(err.Error(), `unknown signal "SIGNOPE"`) {
		t.Fatalf("unknown signal: %v", err)
	}
	if err := d.SignalTask("alloc1/nope", "SIGHUP"); !errors.Is(err, drivers.ErrTaskNotFound) {
		t.Fatalf("unknown task: %v", err)
	}
	for _, bad := range []interface{}{"SIGNOPE", 3, []interface{}{"SIGHUP", 4}} {
		if _, err := parseConfig(map[string]interface{}{"exit_on_signal": bad}); err == nil {
			t.Errorf("exit_on_signal = %v accepted", bad)
		}
	}
	// The mock cannot exec: the client says so for it.
	var drv drivers.Driver = d
	if _, ok := drv.(drivers.Execer); ok {
		t.Fatal("the mock driver claims to exec")
	}
}
