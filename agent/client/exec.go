package client

import (
	"context"
	"errors"

	"drover/agent/drivers"
	"drover/agent/structs"
	"drover/agent/wire"
)

// execTask finds the task of a local allocation that a command would run
// in, and its driver's Execer: the task must exist, run, and have a driver
// that can exec.
func (c *Client) execTask(allocID, task string) (*taskRunner, drivers.Execer, error) {
	ar, err := c.runner(allocID)
	if err != nil {
		return nil, nil, err
	}
	tr := ar.taskRunner(task)
	if tr == nil {
		return nil, nil, wire.Errorf(wire.ErrInvalidRequest, "Could not find task named: %s", task)
	}
	tr.mu.Lock()
	running := tr.state.State == structs.TaskStateRunning
	tr.mu.Unlock()
	if !running || tr.driver == nil || tr.killed() {
		return nil, nil, ErrTaskNotRunning
	}
	ex, ok := tr.driver.(drivers.Execer)
	if !ok {
		return nil, nil, wire.Errorf(wire.ErrInvalidRequest, "driver %q does not support exec", tr.task.Driver)
	}
	return tr, ex, nil
}

// CheckExec reports why a command could not run in a task of a local
// allocation (unknown task, task not running, a driver that cannot exec),
// or nil, so that the HTTP layer can refuse before it starts a session.
func (c *Client) CheckExec(allocID, task string) error {
	_, _, err := c.execTask(allocID, task)
	return err
}

// ExecTask runs a command in a task of a local allocation ("alloc exec")
// and returns its exit code once it has exited. Errors before the command
// runs (see CheckExec, or a command that cannot be found) are returned as
// such; ctx ending kills the command where the driver can.
func (c *Client) ExecTask(ctx context.Context, allocID, task string, opts *drivers.ExecOptions) (int, error) {
	if opts == nil || len(opts.Command) == 0 || opts.Command[0] == "" {
		return -1, wire.Errorf(wire.ErrInvalidRequest, "command is not provided")
	}
	tr, ex, err := c.execTask(allocID, task)
	if err != nil {
		return -1, err
	}
	code, err := ex.ExecTask(ctx, tr.cfg.ID, opts)
	if errors.Is(err, drivers.ErrNotRunning) {
		return -1, ErrTaskNotRunning
	}
	return code, err
}
