package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// newCompletionCommand is "completion <shell>": the shell's completion
// script, which asks "drover __complete ..." (cobra's hidden command) for
// the candidates of each word.
func newCompletionCommand(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: "Prints the completion script of bash, zsh or fish for drover: commands,\n" +
			"subcommands and flags (in their one-dash form, -verbose) complete on <TAB>.\n" +
			"Load it in the current shell, or install it where the shell looks for\n" +
			"completions. The bash script needs the bash-completion package (version 2),\n" +
			"as most Linux distributions install it; on macOS, bash-completion@2.",
		Example: "  source <(drover completion bash)\n" +
			"  drover completion bash > /etc/bash_completion.d/drover\n" +
			"  drover completion zsh > \"${fpath[1]}/_drover\"\n" +
			"  drover completion fish > ~/.config/fish/completions/drover.fish",
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: the shell (bash, zsh or fish)"}
			}
			root := c.Root()
			var err error
			switch args[0] {
			case "bash":
				err = root.GenBashCompletionV2(s.Out, true)
			case "zsh":
				err = root.GenZshCompletion(s.Out)
			case "fish":
				err = root.GenFishCompletion(s.Out, true)
			default:
				return &usageError{cmd: c, msg: fmt.Sprintf("Unknown shell %q: completion scripts are for bash, zsh and fish", args[0])}
			}
			if err != nil {
				return fail(1, "Error writing the completion script: %v", err)
			}
			return nil
		},
	}
	return c
}

// isCompletionRequest tells whether args are a shell script's request
// for candidates (cobra's hidden __complete command).
func isCompletionRequest(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}

// runCompletionRequest answers "drover __complete <words...> <partial>".
// The words typed so far get the one-dash normalisation every command
// line gets; the partial word, when it is a one-dash flag ("-verb"), is
// completed as the long flag it starts ("--verb") and the candidates are
// given back in the one-dash form the user types ("-verbose").
func runCompletionRequest(ctx context.Context, root *cobra.Command, args []string, stdout io.Writer) {
	words := args[1:]
	if len(words) == 0 {
		words = []string{""}
	}
	partial := words[len(words)-1]
	oneDash := strings.HasPrefix(partial, "-") && !strings.HasPrefix(partial, "--")
	if oneDash && len(partial) > 1 {
		partial = "-" + partial
	}
	req := append([]string{args[0]}, normalizeArgs(root, words[:len(words)-1])...)
	req = append(req, partial)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(req)
	_ = root.ExecuteContext(ctx) // cobra reports its own problems in the output
	if !oneDash {
		stdout.Write(out.Bytes())
		return
	}
	lines := strings.SplitAfter(out.String(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "--") {
			lines[i] = l[1:]
		}
	}
	io.WriteString(stdout, strings.Join(lines, ""))
}
