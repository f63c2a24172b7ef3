package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"drover/agent/drivers"
)

var _ drivers.Execer = (*Driver)(nil)

// execPollInterval is how often a finished exec is inspected for its exit
// code; the engine records it a moment after the output ends.
const execPollInterval = 50 * time.Millisecond

// ExecTask runs a command in the task's container, as "docker exec" does,
// with the engine's own terminal when opts.TTY is set. When ctx ends the
// session is detached; the engine offers no way to kill an exec'd process,
// so a command that ignores its closed input keeps running in the
// container until it ends by itself, as with "docker exec".
func (d *Driver) ExecTask(ctx context.Context, taskID string, o *drivers.ExecOptions) (int, error) {
	t, err := d.get(taskID)
	if err != nil {
		return -1, err
	}
	if o == nil || len(o.Command) == 0 || o.Command[0] == "" {
		return -1, errors.New("docker: exec: no command given")
	}
	created, err := d.cli.ContainerExecCreate(ctx, t.containerID, container.ExecOptions{
		Cmd:          o.Command,
		Tty:          o.TTY,
		AttachStdin:  o.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return -1, fmt.Errorf("docker: exec in %s: %w", taskID, drivers.ErrNotRunning)
		}
		return -1, fmt.Errorf("docker: exec in %s: %w", taskID, err)
	}
	hj, err := d.cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: o.TTY})
	if err != nil {
		return -1, fmt.Errorf("docker: exec in %s: attach: %w", taskID, err)
	}
	defer hj.Close()
	stop := context.AfterFunc(ctx, func() { hj.Close() })
	defer stop()

	sessionDone := make(chan struct{})
	defer close(sessionDone)
	if o.TTY && o.Resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-o.Resize:
					if !ok {
						return
					}
					rctx, cancel := context.WithTimeout(ctx, apiTimeout)
					d.cli.ContainerExecResize(rctx, created.ID, container.ResizeOptions{Height: uint(size.Height), Width: uint(size.Width)})
					cancel()
				case <-sessionDone:
					return
				}
			}
		}()
	}
	if o.Stdin != nil {
		go func() {
			io.Copy(hj.Conn, o.Stdin)
			if o.TTY {
				// A terminal's end of input is its end-of-file
				// character, as when a user types Ctrl-D.
				hj.Conn.Write([]byte{4})
				return
			}
			hj.CloseWrite() // the command reads the end of its input
		}()
	}
	stdout, stderr := orDiscard(o.Stdout), orDiscard(o.Stderr)
	if o.TTY {
		_, err = io.Copy(stdout, hj.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, hj.Reader)
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return -1, fmt.Errorf("docker: exec in %s: read output: %w", taskID, err)
	}
	for {
		ictx, cancel := context.WithTimeout(ctx, apiTimeout)
		info, err := d.cli.ContainerExecInspect(ictx, created.ID)
		cancel()
		if err != nil {
			return -1, fmt.Errorf("docker: exec in %s: inspect: %w", taskID, err)
		}
		if !info.Running {
			return info.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(execPollInterval):
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
