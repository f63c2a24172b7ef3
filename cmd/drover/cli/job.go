package cli

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"drover/agent/jobspec"
	"drover/agent/structs"
)

// assets holds the job files written by "job init".
//
//go:embed assets/example.nomad assets/example-short.nomad
var assets embed.FS

// DefaultInitName is the file "job init" writes when given none; the
// tutorials Drover follows use this name.
const DefaultInitName = "example.nomad"

func newVersionCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the Drover version",
		Long:    "Prints the version of this drover binary, \"Drover v<version>\", as -version does.",
		Example: "  drover version\n  drover -version",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return &usageError{cmd: c, msg: "This command takes no arguments"}
			}
			fmt.Fprintf(s.Out, "Drover v%s\n", Version)
			return nil
		},
	}
}

func newJobCommand(s *streams) *cobra.Command {
	return group("job", "Create, check, run and stop jobs",
		"  drover job init -short\n  drover job plan example.nomad\n  drover job run example.nomad\n  drover job status example",
		newJobInitCommand(s),
		newJobValidateCommand(s),
		newJobPlanCommand(s),
		newJobRunCommand(s),
		newJobStatusCommand(s),
		newJobStopCommand(s),
		newJobHistoryCommand(s),
		newJobInspectCommand(s),
		newJobRevertCommand(s),
		newJobScaleCommand(s),
		newJobAllocsCommand(s),
		newJobDeploymentsCommand(s),
		newJobEvalCommand(s),
		newJobDispatchCommand(s),
		newJobPeriodicCommand(s),
	)
}

func newJobInitCommand(s *streams) *cobra.Command {
	var short, connect, listTemplates bool
	var tmpl string
	c := &cobra.Command{
		Use:   "init [filename]",
		Short: "Write an example job file",
		Long: "Writes an example job file that runs Redis in a Docker container, to\n" +
			DefaultInitName + " unless a file name is given. An existing file is never\n" +
			"overwritten. With -short the file has no comments and only the essential blocks.",
		Example: "  drover job init\n  drover job init -short\n  drover job init -short cache.nomad",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes either no arguments or one: <filename>"}
			}
			// The compatible CLI keeps job templates as variables and has a
			// Consul Connect example; Drover has neither.
			switch {
			case listTemplates || tmpl != "":
				return fail(1, "Job templates are not supported: Drover keeps no variables to hold them")
			case connect:
				return fail(1, "The Consul Connect example is not supported: Drover does not use Consul")
			}
			name := DefaultInitName
			if len(args) == 1 {
				name = args[0]
			}
			asset := "assets/example.nomad"
			if short {
				asset = "assets/example-short.nomad"
			}
			return writeExample(s, name, asset)
		},
	}
	c.Flags().BoolVar(&short, "short", false, "write a minimal job file without comments")
	c.Flags().BoolVar(&connect, "connect", false, "write the Consul Connect example (not supported: Drover does not use Consul)")
	c.Flags().StringVar(&tmpl, "template", "", "write a stored job template (not supported: Drover keeps no templates)")
	c.Flags().BoolVar(&listTemplates, "list-templates", false, "list the stored job templates (not supported)")
	return c
}

func writeExample(s *streams, name, asset string) error {
	if _, err := os.Stat(name); err == nil {
		return fail(1, "Job '%s' already exists", name)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail(1, "Failed to stat '%s': %v", name, err)
	}
	content, err := assets.ReadFile(asset)
	if err != nil {
		return fail(1, "Failed to read example job: %v", err)
	}
	// O_EXCL: never overwrite, even if the file appeared since the check.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o660)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fail(1, "Job '%s' already exists", name)
		}
		return fail(1, "Failed to write '%s': %v", name, err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fail(1, "Failed to write '%s': %v", name, err)
	}
	if err := f.Close(); err != nil {
		return fail(1, "Failed to write '%s': %v", name, err)
	}
	fmt.Fprintf(s.Out, "Example job file written to %s\n", name)
	return nil
}

// jobFlags are the flags of every command that reads a job file.
type jobFlags struct {
	json       bool
	vars       []string
	varFiles   []string
	hcl2Strict bool
}

func (f *jobFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&f.json, "json", false, "parse the job file as API JSON instead of HCL")
	c.Flags().StringArrayVar(&f.vars, "var", nil, "set a job variable, as name=value (repeatable)")
	c.Flags().StringArrayVar(&f.varFiles, "var-file", nil, "read job variables from an HCL file (repeatable)")
	c.Flags().BoolVar(&f.hcl2Strict, "hcl2-strict", true, "refuse -var values for variables the job does not declare")
}

// load reads a job file ("-" is stdin) and returns the parsed job.
func (f *jobFlags) load(s *streams, path string) (*structs.Job, error) {
	var src []byte
	var err error
	name := path
	if path == "-" {
		src, err = readAllStdin()
		name = "<stdin>"
	} else {
		src, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("Error getting jobfile from %q: %v", path, err)
	}
	if f.json || (path != "-" && strings.EqualFold(filepath.Ext(path), ".json")) {
		return jobspec.ParseJSON(name, src)
	}
	return jobspec.Parse(name, src, jobspec.Options{
		Vars:            f.vars,
		VarFiles:        f.varFiles,
		Env:             s.Env,
		AllowUndeclared: !f.hcl2Strict,
	})
}

// readAllStdin is a variable so tests can feed standard input.
var readAllStdin = func() ([]byte, error) { return io.ReadAll(os.Stdin) }

func newJobValidateCommand(s *streams) *cobra.Command {
	var flags jobFlags
	c := &cobra.Command{
		Use:   "validate <file>",
		Short: "Check a job file for errors without running it",
		Long: "Parses the job file (HCL, or API JSON with -json or a .json name; \"-\" reads\n" +
			"standard input), applies defaults and reports every problem at once, each\n" +
			"with file:line:col.",
		Example: "  drover job validate example.nomad\n" +
			"  drover job validate -var image=redis:4.0 example.nomad\n" +
			"  drover job validate -json example.json",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <path>"}
			}
			if _, err := flags.load(s, args[0]); err != nil {
				return fail(1, "Job validation errors:\n%v", err)
			}
			fmt.Fprintln(s.Out, "Job validation successful")
			return nil
		},
	}
	flags.register(c)
	return c
}
