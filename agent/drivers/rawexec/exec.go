package rawexec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"drover/agent/drivers"
)

var _ drivers.Execer = (*Driver)(nil)

// execIOGrace is how long an exec'd command's output may keep flowing
// after it exited: long enough for what it wrote last, short enough that a
// background child holding the output open does not hold the session.
const execIOGrace = time.Second

// ExecTask runs a command beside the task, the way the task itself runs:
// in its task directory, with its environment and as its user, in a
// process group (with a terminal, a session) of its own, which is killed
// when ctx ends. The exec'd command is not part of the task: stopping the
// task does not wait for it.
func (d *Driver) ExecTask(ctx context.Context, taskID string, o *drivers.ExecOptions) (int, error) {
	t, err := d.task(taskID)
	if err != nil {
		return -1, err
	}
	if o == nil || len(o.Command) == 0 || o.Command[0] == "" {
		return -1, errors.New("raw_exec: exec: no command given")
	}
	if t.exited() || !t.alive() {
		return -1, fmt.Errorf("raw_exec: exec in %s: %w", taskID, drivers.ErrNotRunning)
	}
	cfg := t.cfg
	env := taskEnv(cfg.Env)
	pathVar := defaultPath
	hasTerm := false
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
		hasTerm = hasTerm || strings.HasPrefix(kv, "TERM=")
	}
	if o.TTY && !hasTerm {
		env = append(env, "TERM=xterm")
	}
	path, err := lookPath(o.Command[0], cfg.TaskDir, pathVar)
	if err != nil {
		// Worded as Go's exec words it, which users know, and short:
		// the error travels in a websocket close frame.
		if strings.Contains(o.Command[0], "/") {
			return -1, fmt.Errorf("exec: %q: not an executable file", o.Command[0])
		}
		return -1, fmt.Errorf("exec: %q: executable file not found in $PATH", o.Command[0])
	}
	cred, err := credential(cfg.User)
	if err != nil {
		return -1, err
	}
	cmd := &exec.Cmd{Path: path, Args: append([]string(nil), o.Command...), Dir: cfg.TaskDir, Env: env}
	if o.TTY {
		return runTTY(ctx, cmd, cred, o)
	}
	return runPipes(ctx, cmd, cred, o)
}

// runPipes runs cmd with pipes for its input and output.
func runPipes(ctx context.Context, cmd *exec.Cmd, cred *syscall.Credential, o *drivers.ExecOptions) (int, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	cmd.Stdout, cmd.Stderr = orDiscard(o.Stdout), orDiscard(o.Stderr)
	cmd.WaitDelay = execIOGrace
	var stdin io.WriteCloser
	if o.Stdin != nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			return -1, err
		}
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("raw_exec: exec %s: %w", cmd.Args[0], err)
	}
	if stdin != nil {
		// Wait closes the pipe once the command exits, which ends this
		// copy at its next write; the reader's owner ends it otherwise.
		go func() {
			io.Copy(stdin, o.Stdin)
			stdin.Close()
		}()
	}
	pid := cmd.Process.Pid
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	defer stop()
	return exitStatus(cmd, cmd.Wait())
}

// runTTY runs cmd on a new pseudo-terminal, as the leader of a session
// whose controlling terminal it is; everything it writes comes back on
// Stdout, as from a terminal.
func runTTY(ctx context.Context, cmd *exec.Cmd, cred *syscall.Credential, o *drivers.ExecOptions) (int, error) {
	master, slave, err := openPty()
	if err != nil {
		return -1, err
	}
	defer master.Close()
	if cred != nil {
		// The command's user must be able to reopen its own terminal.
		os.Chown(slave.Name(), int(cred.Uid), int(cred.Gid))
	}
	// A size the caller already knows is set before the command starts,
	// so its first look at the terminal (stty size) sees it rather than
	// racing the resize loop below.
	applyQueuedSize(master, o.Resize)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Credential: cred}
	err = cmd.Start()
	slave.Close() // the command holds its own copies
	if err != nil {
		return -1, fmt.Errorf("raw_exec: exec %s: %w", cmd.Args[0], err)
	}
	pid := cmd.Process.Pid
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	defer stop()

	sessionDone := make(chan struct{})
	defer close(sessionDone)
	if o.Resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-o.Resize:
					if !ok {
						return
					}
					setPtySize(master, size.Height, size.Width)
				case <-sessionDone:
					return
				}
			}
		}()
	}
	if o.Stdin != nil {
		go func() {
			io.Copy(master, o.Stdin)
			// The end of the input is the terminal's end-of-file
			// character, as when a user types Ctrl-D.
			master.Write([]byte{4})
		}()
	}
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		// Ends with EIO once every holder of the slave side is gone.
		io.Copy(orDiscard(o.Stdout), master)
	}()
	waitErr := cmd.Wait()
	select {
	case <-outDone:
	case <-time.After(execIOGrace):
		master.Close()
		<-outDone
	}
	return exitStatus(cmd, waitErr)
}

// applyQueuedSize sets the terminal to the last size waiting on resize,
// without blocking when none is.
func applyQueuedSize(master *os.File, resize <-chan drivers.TerminalSize) {
	if resize == nil {
		return
	}
	for {
		select {
		case size, ok := <-resize:
			if !ok {
				return
			}
			setPtySize(master, size.Height, size.Width)
		default:
			return
		}
	}
}

// exitStatus is the command's exit code, 128+N for death by signal N.
func exitStatus(cmd *exec.Cmd, waitErr error) (int, error) {
	ps := cmd.ProcessState
	if ps == nil {
		return -1, waitErr
	}
	var ee *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return -1, waitErr
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
