package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type allocExecFlags struct {
	task   string
	job    bool
	stdin  bool
	tty    bool
	escape string
}

// newAllocExecCommand builds "alloc exec" named use; path is how its
// examples spell it ("drover exec" is the same command).
func newAllocExecCommand(s *streams, use, path string) *cobra.Command {
	var f allocExecFlags
	c := &cobra.Command{
		Use:   use + " <allocation> <command> [<args>...]",
		Short: "Run a command inside a running task",
		Long: "Runs a command in the environment of a running task: for raw_exec, in the\n" +
			"task's directory with its environment and user; for docker, inside its\n" +
			"container. The task may be left out (-task) when the allocation runs only\n" +
			"one. Input is passed to the command unless -i=false; -t gives it a terminal\n" +
			"(the default when this command runs on one), and on a terminal the escape\n" +
			"character (-e, \"~\" by default, \"none\" for none) followed by \".\" at the start\n" +
			"of a line closes the session. The command's exit code is this command's.\n" +
			"With -job the argument is a job, and one of its allocations (a running one\n" +
			"when there is one) is picked at random. Flags go before the allocation:\n" +
			"everything after the command belongs to it. \"drover exec\" is the same\n" +
			"command. Drivers that cannot run commands (mock) are refused by name.",
		Example: "  " + path + " 6085301b /bin/sh\n" +
			"  " + path + " -task redis 6085301b redis-cli ping\n" +
			"  " + path + " -i=false -t=false 6085301b ls -l /alloc\n" +
			"  " + path + " -job example cat local/redis.conf",
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("t") {
				f.tty = s.isTerminal()
			}
			return runAllocExec(c.Context(), s, c, f, args)
		},
	}
	// Everything after the allocation is the command's, flags included.
	c.Flags().SetInterspersed(false)
	markVerbatimArgs(c)
	fl := c.Flags()
	fl.StringVar(&f.task, "task", "", "the task to run the command in")
	fl.BoolVar(&f.job, "job", false, "the argument is a job ID (or prefix): use one of its allocations, picked at random")
	fl.BoolVarP(&f.stdin, "i", "i", true, "pass this command's input to the command (-i=false: none)")
	fl.BoolVarP(&f.tty, "t", "t", false, "run the command on a terminal (default: when this command runs on one)")
	fl.StringVarP(&f.escape, "e", "e", "~", "the escape `character` of terminal sessions (\"none\": no escape)")
	return c
}

// newExecCommand is the top-level "exec" alias of "alloc exec".
func newExecCommand(s *streams) *cobra.Command {
	c := newAllocExecCommand(s, "exec", "drover exec")
	c.Hidden = true
	return c
}

// stdin is the command's input: s.In, else the process's.
func (s *streams) stdin() io.Reader {
	if s.In != nil {
		return s.In
	}
	return os.Stdin
}

// isTerminal reports whether both the input and the output are a
// terminal, when exec gives the command one by default.
func (s *streams) isTerminal() bool {
	in, ok1 := s.stdin().(*os.File)
	out, ok2 := s.Out.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd()))
}

func runAllocExec(ctx context.Context, s *streams, c *cobra.Command, f allocExecFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case len(args) < 1 && f.job:
		return &usageError{cmd: c, msg: "A job ID is required"}
	case len(args) < 1:
		return &usageError{cmd: c, msg: "An allocation ID is required"}
	case len(args) < 2:
		return &usageError{cmd: c, msg: "A command is required"}
	}
	if f.tty && !f.stdin {
		return fail(1, "-i must be enabled if running with tty")
	}
	escape := f.escape
	if escape == "none" {
		escape = ""
	}
	if len(escape) > 1 {
		return fail(1, "-e requires 'none' or a single character")
	}
	client, err := s.apiClient()
	if err != nil {
		return fail(1, "Error initializing client: %v", err)
	}
	alloc, err := findAlloc(client, args[0], f.job, "", false)
	if err != nil {
		return err
	}
	task := f.task
	if task != "" {
		err = validateTask(alloc, task)
	} else {
		task, err = pickTask(alloc, "")
	}
	if err != nil {
		return fail(1, "%v", err)
	}
	var stdin io.Reader = bytes.NewReader(nil)
	if f.stdin {
		stdin = s.stdin()
	}
	code, err := execSession(ctx, s, client, alloc, task, f.tty, args[1:], escape, stdin)
	if err != nil {
		return fail(1, "failed to exec into task: %v", err)
	}
	if code != 0 {
		return fail(code, "")
	}
	return nil
}

// execSession runs the command through the compatible client's exec,
// putting the terminal in raw mode and relaying its size when tty is set.
func execSession(ctx context.Context, s *streams, client *api.Client, alloc *api.Allocation, task string,
	tty bool, command []string, escape string, stdin io.Reader) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sizes := make(chan api.TerminalSize, 1)
	if tty {
		in, ok := stdin.(*os.File)
		if !ok || !term.IsTerminal(int(in.Fd())) {
			return -1, errors.New("not a terminal")
		}
		state, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return -1, err
		}
		var restoreOnce sync.Once
		restore := func() { restoreOnce.Do(func() { term.Restore(int(in.Fd()), state) }) }
		defer restore()
		if out, ok := s.Out.(*os.File); ok && term.IsTerminal(int(out.Fd())) {
			stop := watchTerminalSize(ctx, int(out.Fd()), sizes)
			defer stop()
		}
		if escape != "" {
			stdin = &escapeReader{r: stdin, esc: escape[0], atLineStart: true, onClose: func() {
				restore()
				fmt.Fprint(s.Err, "\nConnection closed\n")
				cancel()
			}}
		}
	}
	return client.Allocations().Exec(ctx, alloc, task, tty, command, stdin, s.Out, s.Err, sizes, nil)
}

// watchTerminalSize sends the terminal's size now and on every SIGWINCH,
// until the returned stop is called.
func watchTerminalSize(ctx context.Context, fd int, sizes chan<- api.TerminalSize) func() {
	ctx, cancel := context.WithCancel(ctx)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	send := func() {
		if w, h, err := term.GetSize(fd); err == nil {
			select {
			case sizes <- api.TerminalSize{Height: h, Width: w}:
			case <-ctx.Done():
			}
		}
	}
	go func() {
		send()
		for {
			select {
			case <-winch:
				send()
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		cancel()
	}
}

// escapeReader passes input through, except the escape character at the
// start of a line: followed by "." it closes the session (onClose), twice
// it is sent once, followed by anything else both are sent.
type escapeReader struct {
	r           io.Reader
	esc         byte
	atLineStart bool
	pending     bool // an escape character seen at the start of a line
	closed      bool
	onClose     func()
	buf         []byte
}

func (e *escapeReader) Read(p []byte) (int, error) {
	if e.closed {
		return 0, io.EOF
	}
	for len(e.buf) == 0 {
		raw := make([]byte, len(p))
		n, err := e.r.Read(raw)
		for _, b := range raw[:n] {
			switch {
			case e.pending:
				e.pending = false
				switch b {
				case '.':
					e.closed = true
					e.onClose()
					return copy(p, e.buf), nil
				case e.esc:
					e.buf = append(e.buf, b)
				default:
					e.buf = append(e.buf, e.esc, b)
				}
			case e.atLineStart && b == e.esc:
				e.pending = true
				continue
			default:
				e.buf = append(e.buf, b)
			}
			e.atLineStart = b == '\r' || b == '\n'
		}
		if err != nil {
			if e.pending {
				e.buf = append(e.buf, e.esc)
				e.pending = false
			}
			if len(e.buf) == 0 {
				return 0, err
			}
			break
		}
	}
	n := copy(p, e.buf)
	e.buf = e.buf[n:]
	return n, nil
}
