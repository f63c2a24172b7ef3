package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"drover/labs"
	"drover/labs/pack"
)

func listPacks(cacheDir string) ([]*pack.Pack, error) { return pack.List(cacheDir) }

func newLabPullCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "pull <url|path>[@ref]",
		Short: "Clone or update a lab pack from git",
		Long: "Clones a pack of labs (a git repository of *.lab.hcl files) into the cache, or\n" +
			"updates it, at a tag, branch or commit (default: the remote's HEAD). Every lab is\n" +
			"validated first: a pack with a broken lab is refused, with file:line:col, and\n" +
			"the cache is left as it was. No git binary is needed.",
		Example: "  drover lab pull https://example.com/course/labs.git@v1\n  drover lab pull ../my-labs",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <url|path>[@ref]"}
			}
			var count int
			validate := func(dir string) error {
				parsed, err := labs.ParseDir(dir, "pack")
				count = len(parsed)
				return err
			}
			p, err := pack.Pull(c.Context(), s.labCacheDir(), args[0], validate)
			if err != nil {
				return fail(1, "Error pulling %s: %v", args[0], indentLines(err.Error()))
			}
			parsed, err := labs.ParseDir(p.Dir, p.Name)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			var names []string
			for _, l := range parsed {
				names = append(names, l.ID())
			}
			fmt.Fprintf(s.Out, "==> Pack %q at %s (%s): %d lab(s): %s\n", p.Name, shortCommit(p.Commit), refOrHead(p.Ref), count, strings.Join(names, ", "))
			return nil
		},
	}
}

func refOrHead(ref string) string {
	if ref == "" {
		return "HEAD"
	}
	return ref
}

// indentLines puts each line of a multi-line error on its own line.
func indentLines(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	return "\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}
