package rawexec

import (
	"fmt"

	"drover/agent/drivers"
)

var _ drivers.Signaler = (*Driver)(nil)

// SignalTask delivers a signal to the task. Signals its wrapper ignores go
// to the whole process group at once; any other (SIGKILL, SIGSTOP, ...)
// would take the wrapper and the exit status it records with it, so it goes
// to every process of the group but the wrapper (see task.signal).
func (d *Driver) SignalTask(taskID string, signal string) error {
	t, err := d.task(taskID)
	if err != nil {
		return err
	}
	_, sig, err := drivers.ParseSignal(signal)
	if err != nil {
		return fmt.Errorf("raw_exec: signal %s: %w", taskID, err)
	}
	if t.exited() || !t.alive() {
		return fmt.Errorf("raw_exec: signal %s: %w", taskID, drivers.ErrNotRunning)
	}
	if err := t.signal(sig); err != nil {
		return fmt.Errorf("raw_exec: signal %s: %w", taskID, err)
	}
	return nil
}
