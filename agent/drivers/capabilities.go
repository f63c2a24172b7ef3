package drivers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"syscall"
)

// The optional capabilities below are small interfaces a driver implements
// when it can; the client checks for them with a type assertion, so a
// driver without them (a simulated one, say) stays a complete Driver.

// Signaler is a driver that can send a signal to a running task
// ("alloc signal").
type Signaler interface {
	// SignalTask delivers sig, a signal name ParseSignal accepted (such
	// as "SIGHUP"), to the task's processes. A task that is not running
	// is an error.
	SignalTask(taskID string, sig string) error
}

// Execer is a driver that can run a command inside a running task's
// environment ("alloc exec").
type Execer interface {
	// ExecTask runs opts.Command in the task's environment (its
	// directory, environment, user; its container for docker) and
	// returns the command's exit code once it has exited and its output
	// has been written. A command killed by signal N exits 128+N. When
	// ctx ends first the command is killed where the driver can.
	ExecTask(ctx context.Context, taskID string, opts *ExecOptions) (int, error)
}

// ExecOptions is one command run by an Execer.
type ExecOptions struct {
	// Command is the program and its arguments; it must not be empty.
	Command []string
	// TTY runs the command on a pseudo-terminal: everything it writes
	// arrives on Stdout, and Resize changes the terminal's size.
	TTY bool
	// Stdin is the command's input; nil gives it none (an immediate end
	// of file). The driver stops reading it when the command exits.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output as it comes.
	Stdout io.Writer
	Stderr io.Writer
	// Resize carries terminal sizes (the first one is the initial size);
	// it may be nil.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	Height int
	Width  int
}

// ErrNotRunning is returned by SignalTask and ExecTask for a task that has
// exited.
var ErrNotRunning = errors.New("task is not running")

// signalNumbers are the signals a user may send to a task, by their
// conventional names; the numbers come from the platform.
var signalNumbers = map[string]syscall.Signal{
	"SIGABRT": syscall.SIGABRT, "SIGALRM": syscall.SIGALRM, "SIGBUS": syscall.SIGBUS,
	"SIGCHLD": syscall.SIGCHLD, "SIGCONT": syscall.SIGCONT, "SIGFPE": syscall.SIGFPE,
	"SIGHUP": syscall.SIGHUP, "SIGILL": syscall.SIGILL, "SIGINT": syscall.SIGINT,
	"SIGIO": syscall.SIGIO, "SIGKILL": syscall.SIGKILL, "SIGPIPE": syscall.SIGPIPE,
	"SIGPROF": syscall.SIGPROF, "SIGQUIT": syscall.SIGQUIT, "SIGSEGV": syscall.SIGSEGV,
	"SIGSTOP": syscall.SIGSTOP, "SIGSYS": syscall.SIGSYS, "SIGTERM": syscall.SIGTERM,
	"SIGTRAP": syscall.SIGTRAP, "SIGTSTP": syscall.SIGTSTP, "SIGTTIN": syscall.SIGTTIN,
	"SIGTTOU": syscall.SIGTTOU, "SIGURG": syscall.SIGURG, "SIGUSR1": syscall.SIGUSR1,
	"SIGUSR2": syscall.SIGUSR2, "SIGVTALRM": syscall.SIGVTALRM, "SIGWINCH": syscall.SIGWINCH,
	"SIGXCPU": syscall.SIGXCPU, "SIGXFSZ": syscall.SIGXFSZ,
}

// ParseSignal reads a signal name as users write it: "SIGHUP", "sighup" or
// "HUP". It returns the canonical name ("SIGHUP") and the number; a name it
// does not know is an error naming it. Numbers are not accepted: they
// differ between platforms, names do not.
func ParseSignal(name string) (string, syscall.Signal, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if n != "" && !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if sig, ok := signalNumbers[n]; ok {
		return n, sig, nil
	}
	return "", 0, fmt.Errorf("unknown signal %q (signals are named as kill -l names them, e.g. SIGHUP, SIGUSR1 or SIGKILL)", name)
}

// SignalNames lists the names ParseSignal accepts, sorted.
func SignalNames() []string {
	out := make([]string, 0, len(signalNumbers))
	for n := range signalNumbers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
