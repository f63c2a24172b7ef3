// Package cli is the drover command line. Every command is built by a
// constructor that receives the output streams, so tests run commands
// in-process and read what a user would see.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"drover/agent"
)

// Version is the Drover release, set at build time with -ldflags.
var Version = "0.1.0-dev"

// streams is where a command writes. Info goes to Out, problems to Err.
type streams struct {
	Out io.Writer
	Err io.Writer
	// In is what commands that pass input on (exec) read; nil means the
	// process's standard input.
	In io.Reader
	// Env is the environment visible to the command (os.Environ form);
	// injected so tests control it.
	Env []string
	// global holds the global flags once they are parsed.
	global globalOptions
	// args is the command line as typed (without the program name), for
	// messages that suggest the next command.
	args []string
	// ui is what the agent said about its web UI, asked once per run
	// for the web UI hints (hints.go).
	ui uiInfo
}

// exitError carries a message and the process exit code a command wants.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// fail returns an error that makes Main print msg and exit with code.
func fail(code int, format string, args ...interface{}) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, args...)}
}

// usageError is a misuse of a command: Main adds a hint about -help.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usageExitCode is the annotation of a command whose misuse exits with
// another code than 1: job plan exits 255 on every error, as the
// compatible CLI does, so that 1 keeps meaning "allocations would change".
const usageExitCode = "drover/usage-exit-code"

// exitCode is how the process ends for a misuse of e.cmd.
func (e *usageError) exitCode() int {
	if e.cmd != nil {
		if v, err := strconv.Atoi(e.cmd.Annotations[usageExitCode]); err == nil {
			return v
		}
	}
	return 1
}

// Main runs the CLI with args (without the program name) and returns the
// process exit code.
func Main(args []string, stdout, stderr io.Writer, env []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdout, stderr, env)
}

// MainContext is Main with a context whose end stops long-running
// commands (the agent), as a signal does.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) int {
	agent.Version = Version
	s := &streams{Out: stdout, Err: stderr, Env: env, args: args}
	root := newRootCommand(s)
	if isCompletionRequest(args) {
		runCompletionRequest(ctx, root, args, stdout)
		return 0
	}
	root.SetArgs(normalizeArgs(root, args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	var ue *usageError
	switch {
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(stderr, ee.msg)
		}
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.msg)
		fmt.Fprintf(stderr, "For additional help try '%s -help'\n", ue.cmd.CommandPath())
		return ue.exitCode()
	default:
		// Flag and argument errors from cobra itself, worded as the
		// compatible CLI words an unknown command.
		msg := err.Error()
		if strings.HasPrefix(msg, "unknown command ") {
			msg = "U" + msg[1:]
		}
		fmt.Fprintln(stderr, msg)
		cmd, _, ferr := root.Find(args)
		if ferr != nil || cmd == nil {
			cmd = root
		}
		fmt.Fprintf(stderr, "For additional help try '%s -help'\n", cmd.CommandPath())
		return 1
	}
}

func newRootCommand(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "drover",
		Short: "Drover: a Nomad-compatible cluster agent and lab kit",
		Long: "Drover runs and schedules jobs across a cluster of clients. Its commands,\n" +
			"flags and output follow the Nomad tutorials, so what you learn here applies there.",
		SilenceErrors: true,
		SilenceUsage:  true,
		Example: "  drover job init\n" +
			"  drover job validate example.nomad\n" +
			"  drover agent -dev",
	}
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	// "completion" is a command of ours (newCompletionCommand); cobra's
	// hidden __complete, which its scripts call, stays.
	root.CompletionOptions.DisableDefaultCmd = true
	// -version prints what `drover version` prints, as in the compatible CLI.
	root.Version = Version
	root.SetVersionTemplate("Drover v{{.Version}}\n")
	root.InitDefaultVersionFlag()
	s.registerGlobalFlags(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{cmd: c, msg: flagErrorText(err)}
	})
	root.AddCommand(
		newVersionCommand(s),
		newJobCommand(s),
		newConfigCommand(s),
		newAgentCommand(s),
		newStatusCommand(s),
		newAllocCommand(s),
		newEvalCommand(s),
		newNodeCommand(s),
		newDeploymentCommand(s),
		newServerCommand(s),
		newOperatorCommand(s),
		newTLSCommand(s),
		newSystemCommand(s),
		newACLCommand(s),
		newLogsCommand(s),
		newFSCommand(s),
		newExecCommand(s),
		newLabCommand(s),
		newClusterCommand(s),
		newAgentInfoCommand(s),
		newMonitorCommand(s),
		newBenchCommand(s),
		newCompletionCommand(s),
		newUICommand(s),
	)
	// Hyphenated names from older releases, still used by the operations
	// guides: hidden, same behaviour.
	for _, legacy := range []*cobra.Command{newAllocStatusLegacyCommand(s), newEvalStatusLegacyCommand(s),
		newNodeStatusLegacyCommand(s), newNodeDrainLegacyCommand(s), newServerMembersLegacyCommand(s)} {
		legacy.Hidden = true
		root.AddCommand(legacy)
	}
	// The tutorials' short forms: "drover run" is "drover job run", ...
	for _, alias := range []*cobra.Command{newJobInitCommand(s), newJobValidateCommand(s), newJobPlanCommand(s),
		newJobRunCommand(s), newJobStopCommand(s), newJobInspectCommand(s)} {
		alias.Hidden = true
		root.AddCommand(alias)
	}
	return root
}

// group builds a parent command that only holds subcommands.
func group(use, short, example string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		// A group parses no flags itself, so that `drover job nosuch
		// example -address ...` is reported as the unknown command it is,
		// not as an unknown flag of the group.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			for _, a := range args {
				if a == "-h" || a == "--help" || a == "-help" {
					return c.Help()
				}
			}
			if strings.HasPrefix(args[0], "-") {
				return &usageError{cmd: c, msg: "flag provided but not defined: -" + strings.TrimLeft(args[0], "-")}
			}
			msg := fmt.Sprintf("Unknown command %q for %q", args[0], c.CommandPath())
			if c.SuggestionsMinimumDistance <= 0 {
				c.SuggestionsMinimumDistance = 2
			}
			if sugg := c.SuggestionsFor(args[0]); len(sugg) > 0 {
				msg += "\n\nDid you mean this?\n\t" + strings.Join(sugg, "\n\t")
			}
			return &usageError{cmd: c, msg: msg}
		},
	}
	c.AddCommand(children...)
	return c
}

// normalizeArgs lets every command take long flags with one dash, as the
// Nomad tutorials spell them (-check-index 24, -short, -self), by
// rewriting them to the two-dash form pflag parses. Only names that are
// real long flags of the command being run are rewritten, so shorthand
// flags (-h), negative numbers and a lone "-" (stdin) pass unchanged.
// Values of flags that take one are copied verbatim, and so is everything
// after "--".
func normalizeArgs(root *cobra.Command, args []string) []string {
	cmd := root
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") {
			if sub := subcommand(cmd, a); sub != nil {
				cmd = sub
			} else if cmd.Annotations[verbatimArgs] != "" {
				// The rest is the command's own (exec's command line).
				return append(out, args[i:]...)
			}
			out = append(out, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		single := !strings.HasPrefix(a, "--") && len(a) > 2
		f := lookupFlag(cmd, name)
		if single && (f != nil || name == "help") {
			a = "-" + a
		}
		out = append(out, a)
		if (single || strings.HasPrefix(a, "--")) && f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// verbatimArgs marks a command whose arguments, from the first one that is
// not a flag on, are passed on untouched (exec runs them as a command line).
const verbatimArgs = "drover/verbatim-args"

func markVerbatimArgs(c *cobra.Command) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[verbatimArgs] = "true"
}

func subcommand(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}

// lookupFlag finds a long flag of cmd, its own or inherited.
func lookupFlag(cmd *cobra.Command, name string) *pflag.Flag {
	if name == "" {
		return nil
	}
	for c := cmd; c != nil; c = c.Parent() {
		if f := c.Flags().Lookup(name); f != nil {
			return f
		}
		if f := c.PersistentFlags().Lookup(name); f != nil {
			return f
		}
	}
	return nil
}

// badValue matches pflag's complaint about a value that does not parse,
// e.g. `invalid argument "abc" for "--check-index" flag: strconv.ParseUint: ...`;
// a one-letter flag is labelled "-n, --n".
var badValue = regexp.MustCompile(`^invalid argument "(.*)" for "(?:-[^"]*, )?-{1,2}([^"]+)" flag: (.*)$`)

// missingValue matches pflag's complaint about a flag given no value:
// `flag needs an argument: --address` or `... 't' in -t`.
var missingValue = regexp.MustCompile(`^flag needs an argument: (?:'.' in )?-{1,2}(\S+)$`)

// flagErrorText words a flag error as the compatible CLI does, never in Go's
// parser's words: `Error parsing -check-index: "abc" is not a number`,
// `flag needs an argument: -t`, `flag provided but not defined: -bogus`.
func flagErrorText(err error) string {
	if m := badValue.FindStringSubmatch(err.Error()); m != nil {
		value, name, why := m[1], m[2], m[3]
		switch {
		case strings.HasPrefix(why, "strconv.ParseBool"):
			return fmt.Sprintf("Error parsing -%s: %q is not a boolean (true or false)", name, value)
		case strings.HasPrefix(why, "strconv.Parse"):
			return fmt.Sprintf("Error parsing -%s: %q is not a number", name, value)
		case strings.HasPrefix(why, "time: "):
			return fmt.Sprintf("Error parsing -%s: %q is not a duration (such as 10s or 1h)", name, value)
		}
		return fmt.Sprintf("Error parsing -%s: %q: %s", name, value, why)
	}
	if m := missingValue.FindStringSubmatch(err.Error()); m != nil {
		return "flag needs an argument: -" + m[1]
	}
	if m := unknownFlag.FindStringSubmatch(err.Error()); m != nil {
		name, _, _ := strings.Cut(strings.TrimLeft(m[1]+m[2], "-"), "=")
		return "flag provided but not defined: -" + name
	}
	return err.Error()
}

// unknownFlag matches pflag's two ways of saying a flag does not exist:
// `unknown flag: --bogus` and `unknown shorthand flag: 'b' in -bogus`.
var unknownFlag = regexp.MustCompile(`^unknown (?:flag: (\S+)|shorthand flag: '.' in (\S+))$`)
