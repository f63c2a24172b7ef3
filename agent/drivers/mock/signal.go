package mock

import (
	"errors"
	"fmt"

	"drover/agent/drivers"
)

var _ drivers.Signaler = (*Driver)(nil)

// SignalTask records the signal; SIGKILL, and the signals the task's
// exit_on_signal names, end the task with that signal, as an unhandled
// signal ends a process. signal_error makes it fail instead.
func (d *Driver) SignalTask(taskID string, signal string) error {
	t, err := d.task(taskID)
	if err != nil {
		return err
	}
	name, num, err := drivers.ParseSignal(signal)
	if err != nil {
		return fmt.Errorf("mock: signal %s: %w", taskID, err)
	}
	if t.exited() {
		return fmt.Errorf("mock: signal %s: %w", taskID, drivers.ErrNotRunning)
	}
	if t.tc.SignalError != "" {
		return errors.New(t.tc.SignalError)
	}
	t.sigMu.Lock()
	t.signals = append(t.signals, name)
	t.sigMu.Unlock()
	if int(num) == sigKill || t.tc.ExitOnSignal[int(num)] {
		select {
		case t.sigCh <- int(num):
		default: // already ending
		}
	}
	return nil
}

// Signals lists the signals a task received, by name, oldest first.
func (d *Driver) Signals(taskID string) []string {
	t, err := d.task(taskID)
	if err != nil {
		return nil
	}
	t.sigMu.Lock()
	defer t.sigMu.Unlock()
	return append([]string(nil), t.signals...)
}

// toSignalSet reads exit_on_signal: one signal name or a list of them.
func toSignalSet(v interface{}) (map[int]bool, error) {
	var names []string
	switch x := v.(type) {
	case string:
		names = []string{x}
	case []string:
		names = x
	case []interface{}:
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("[%d]: want a signal name, got %T", i, e)
			}
			names = append(names, s)
		}
	default:
		return nil, fmt.Errorf("want a signal name or a list of them, got %T", v)
	}
	set := map[int]bool{}
	for _, n := range names {
		_, num, err := drivers.ParseSignal(n)
		if err != nil {
			return nil, err
		}
		set[int(num)] = true
	}
	return set, nil
}
