package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"drover/agent/drivers"
	"drover/agent/structs"
	"drover/agent/wire"
)

// Errors of the allocation lifecycle endpoints ("alloc restart", "alloc
// signal", "alloc exec"), worded as the compatible API words them. Their
// kind (wire.ErrInvalidRequest) makes the HTTP layer answer 400.
var (
	// ErrTaskNotRunning refuses to restart, signal or exec into a task
	// that is not running.
	ErrTaskNotRunning = wire.Errorf(wire.ErrInvalidRequest, "Task not running")
	// ErrAllocNotRunning refuses to restart the tasks of an allocation
	// that has stopped or finished.
	ErrAllocNotRunning = wire.Errorf(wire.ErrInvalidRequest, "restart of an alloc that should not run")
)

// Restart reasons, shown as the "Restart Signaled" event's message.
const (
	reasonRestartTask    = "User requested task to restart"
	reasonRestartRunning = "User requested running tasks to restart"
	reasonRestartAll     = "User requested all tasks to restart"
)

// runner returns the runner of a local allocation.
func (c *Client) runner(allocID string) (*allocRunner, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ar := c.allocs[allocID]
	if ar == nil {
		return nil, ErrUnknownAlloc
	}
	return ar, nil
}

// taskRunner returns the runner of one of the allocation's tasks, or nil.
func (ar *allocRunner) taskRunner(name string) *taskRunner {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	return ar.tasks[name]
}

// shouldRun reports whether the allocation is meant to run: not stopped
// or being removed, and not finished.
func (ar *allocRunner) shouldRun() bool {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	if ar.stopped || ar.destroyed || ar.alloc.DesiredStatus != structs.AllocDesiredStatusRun {
		return false
	}
	switch ar.status {
	case structs.AllocClientStatusComplete, structs.AllocClientStatusFailed, structs.AllocClientStatusLost:
		return false
	}
	return true
}

// RestartAlloc restarts tasks of a local allocation in place, as "alloc
// restart" does: one task, every running task, or (allTasks) every task,
// including those that have finished. Restarted tasks get a "Restart
// Signaled" event with the reason, are stopped with their kill signal and
// timeout and started again at once; a user's restart does not use up the
// restart policy's attempts. It returns once the old instances have exited.
func (c *Client) RestartAlloc(ctx context.Context, allocID, task string, allTasks bool) error {
	if allTasks && task != "" {
		return wire.Errorf(wire.ErrInvalidRequest, "task name cannot be set when restarting all tasks")
	}
	ar, err := c.runner(allocID)
	if err != nil {
		return err
	}
	if task != "" {
		tr := ar.taskRunner(task)
		if tr == nil {
			return wire.Errorf(wire.ErrInvalidRequest, "Could not find task runner for task: %s", task)
		}
		return tr.requestRestart(ctx, reasonRestartTask)
	}
	if !ar.shouldRun() {
		return ErrAllocNotRunning
	}
	reason := reasonRestartRunning
	if allTasks {
		reason = reasonRestartAll
	}
	trs := ar.taskList()
	sort.Slice(trs, func(i, j int) bool { return trs[i].task.Name < trs[j].task.Name })
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, tr := range trs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := tr.requestRestart(ctx, reason)
			if errors.Is(err, ErrTaskNotRunning) && allTasks && tr.isDead() {
				err = ar.revive(tr, reason)
			}
			// Tasks that do not run are not restarted, as asked.
			if err != nil && !errors.Is(err, ErrTaskNotRunning) {
				mu.Lock()
				errs = append(errs, fmt.Errorf("failed to restart task %s: %w", tr.task.Name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return multiError(errs)
}

// requestRestart asks the run loop to restart the running task and waits
// until the old instance has exited.
func (tr *taskRunner) requestRestart(ctx context.Context, reason string) error {
	tr.mu.Lock()
	running := tr.state.State == structs.TaskStateRunning
	tr.mu.Unlock()
	if !running || tr.driver == nil || tr.killed() {
		return ErrTaskNotRunning
	}
	tr.recordEvent(&structs.TaskEvent{Type: EventRestartSignal, RestartReason: reason,
		DisplayMessage: reason, Message: reason}, nil)
	req := &restartRequest{done: make(chan struct{})}
	select {
	case tr.restartCh <- req:
	default:
		return nil // a restart is already on its way
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isDead reports whether the task has finished and its run loop ended.
func (tr *taskRunner) isDead() bool {
	tr.mu.Lock()
	dead := tr.state.State == structs.TaskStateDead
	done := tr.done
	tr.mu.Unlock()
	if !dead {
		return false
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// revive starts a finished task again in its allocation, which still runs
// other tasks ("alloc restart -all-tasks"). It does not apply to an
// allocation whose tasks have all finished: that one is done.
func (ar *allocRunner) revive(tr *taskRunner, reason string) error {
	if tr.driver == nil {
		return fmt.Errorf("driver %q is not available on this client", tr.task.Driver)
	}
	ar.mu.Lock()
	if ar.stopped || ar.destroyed || !ar.launched || ar.live == 0 {
		ar.mu.Unlock()
		return ErrAllocNotRunning
	}
	ar.live++
	ar.mu.Unlock()
	tr.mu.Lock()
	tr.done = make(chan struct{})
	tr.mu.Unlock()
	tr.recordEvent(&structs.TaskEvent{Type: EventRestartSignal, RestartReason: reason,
		DisplayMessage: reason, Message: reason}, nil)
	tr.recordEvent(&structs.TaskEvent{Type: EventRestarting, DisplayMessage: "Task restarting in 0s",
		Message: "Task restarting in 0s"}, func(s *structs.TaskState) {
		s.State = structs.TaskStatePending
		s.Failed = false
		s.FinishedAt = time.Time{}
		s.Restarts++
		s.LastRestart = time.Now().UTC()
	})
	go func() {
		defer ar.runEnded()
		tr.runFrom(ar.ctx, false, false)
	}()
	return nil
}

// SignalAlloc sends a signal to one task of a local allocation, or to all
// of them when task is empty, as "alloc signal" does. An empty signal is
// SIGKILL, the compatible CLI's default. Each task signalled gets a
// "Signaling" event.
func (c *Client) SignalAlloc(allocID, task, signal string) error {
	if signal == "" {
		signal = "SIGKILL"
	}
	name, _, err := drivers.ParseSignal(signal)
	if err != nil {
		return wire.Errorf(wire.ErrInvalidRequest, "%v", err)
	}
	ar, err := c.runner(allocID)
	if err != nil {
		return err
	}
	if task != "" {
		tr := ar.taskRunner(task)
		if tr == nil {
			return wire.Errorf(wire.ErrInvalidRequest, "Task not found")
		}
		return tr.sendSignal(name)
	}
	trs := ar.taskList()
	sort.Slice(trs, func(i, j int) bool { return trs[i].task.Name < trs[j].task.Name })
	var errs []error
	for _, tr := range trs {
		if err := tr.sendSignal(name); err != nil {
			errs = append(errs, fmt.Errorf("Failed to signal task: %s, err: %w", tr.task.Name, err))
		}
	}
	return multiError(errs)
}

// sendSignal delivers a signal (a canonical name) to the running task.
func (tr *taskRunner) sendSignal(name string) error {
	tr.mu.Lock()
	running := tr.state.State == structs.TaskStateRunning
	tr.mu.Unlock()
	if !running || tr.driver == nil || tr.killed() {
		return ErrTaskNotRunning
	}
	s, ok := tr.driver.(drivers.Signaler)
	if !ok {
		return wire.Errorf(wire.ErrInvalidRequest, "driver %q does not support signals", tr.task.Driver)
	}
	tr.recordEvent(&structs.TaskEvent{Type: EventSignaling, TaskSignal: name,
		DisplayMessage: "Task being sent signal " + name, Message: "Task being sent signal " + name}, nil)
	if err := s.SignalTask(tr.cfg.ID, name); err != nil {
		if errors.Is(err, drivers.ErrNotRunning) {
			return ErrTaskNotRunning
		}
		return err
	}
	return nil
}

// multiError joins errors the way the compatible API reports several
// failures at once ("2 errors occurred:\n\t* ..."). When every error is
// the caller's (wire.ErrInvalidRequest), so is the joined one.
func multiError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	if len(errs) == 1 {
		b.WriteString("1 error occurred:\n")
	} else {
		fmt.Fprintf(&b, "%d errors occurred:\n", len(errs))
	}
	invalid := true
	for _, e := range errs {
		fmt.Fprintf(&b, "\t* %v\n", e)
		invalid = invalid && errors.Is(e, wire.ErrInvalidRequest)
	}
	b.WriteString("\n")
	if invalid {
		return wire.Errorf(wire.ErrInvalidRequest, "%s", b.String())
	}
	return errors.New(b.String())
}
