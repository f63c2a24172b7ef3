package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestMain turns the web UI hints off for every command a test runs,
// in-process or as a transcript's drover, unless the test (or script) set
// NOMAD_CLI_SHOW_HINTS itself, and never lets -ui open a browser.
func TestMain(m *testing.M) {
	openBrowser = func(string) {}
	if _, ok := os.LookupEnv("NOMAD_CLI_SHOW_HINTS"); !ok {
		os.Setenv("NOMAD_CLI_SHOW_HINTS", "false")
	}
	testscript.Main(m, map[string]func(){
		"drover": func() {
			openBrowser = func(string) {}
			env := os.Environ()
			if _, ok := os.LookupEnv("NOMAD_CLI_SHOW_HINTS"); !ok {
				env = append(env, "NOMAD_CLI_SHOW_HINTS=false")
			}
			os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr, env))
		},
	})
}

// noHints is the setting the test helpers put in a command's injected
// environment: no web UI hints on stderr (hints_test.go tests them).
const noHints = "NOMAD_CLI_SHOW_HINTS=false"

// TestScripts runs the CLI transcripts in testdata/scripts: each is a
// txtar file of commands and the output a user should see.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/scripts", Cmds: scriptCmds})
}

// scriptCmds are commands every transcript may use.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"exit-code": cmdExitCode,
}

// cmdExitCode: exit-code <code> <program> [args...] runs the program, as
// exec does (its output is then checked with stdout and stderr), and
// fails unless it exits with code.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exit-code <code> <program> [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("%s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// run executes the CLI in-process and returns its exit code and output.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out, errOut bytes.Buffer
	code := Main(args, &out, &errOut, nil)
	return code, out.String(), errOut.String()
}

func TestNormalizeArgs(t *testing.T) {
	root := newRootCommand(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"one-dash bool", []string{"job", "init", "-short"}, []string{"job", "init", "--short"}},
		{"two-dash bool", []string{"job", "init", "--short"}, []string{"job", "init", "--short"}},
		{"one-dash with value", []string{"agent", "-config", "a.hcl", "-dev"}, []string{"agent", "--config", "a.hcl", "--dev"}},
		{"one-dash with =", []string{"agent", "-config=a.hcl"}, []string{"agent", "--config=a.hcl"}},
		{"value that looks like a flag", []string{"job", "validate", "-var", "-dev=1", "f"}, []string{"job", "validate", "--var", "-dev=1", "f"}},
		{"shorthand untouched", []string{"job", "init", "-h"}, []string{"job", "init", "-h"}},
		{"help with one dash", []string{"job", "init", "-help"}, []string{"job", "init", "--help"}},
		{"unknown flag untouched", []string{"job", "init", "-bogus"}, []string{"job", "init", "-bogus"}},
		{"stdin dash untouched", []string{"job", "validate", "-"}, []string{"job", "validate", "-"}},
		{"after double dash untouched", []string{"job", "validate", "--", "-short"}, []string{"job", "validate", "--", "-short"}},
		{"flag of another command untouched", []string{"job", "validate", "-short"}, []string{"job", "validate", "-short"}},
		{"exec's command line untouched", []string{"alloc", "exec", "-task", "web", "ab12", "ls", "-task", "-job"},
			[]string{"alloc", "exec", "--task", "web", "ab12", "ls", "-task", "-job"}},
		{"exec alias too", []string{"exec", "-i=false", "ab12", "sh", "-c", "-verbose"}, []string{"exec", "--i=false", "ab12", "sh", "-c", "-verbose"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := normalizeArgs(root, tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestEveryFlagTakesOneDash walks every registered command and checks that
// each of its long flags is parsed when written with one dash, as the
// tutorials write them.
func TestEveryFlagTakesOneDash(t *testing.T) {
	root := newRootCommand(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		path := strings.Fields(c.CommandPath())[1:]
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			value := "1"
			switch f.Value.Type() {
			case "bool":
				value = "true"
			case "string", "stringArray":
				value = "x"
			case "duration":
				value = "1s"
			}
			args := append(append([]string{}, path...), "-"+f.Name+"="+value)
			norm := normalizeArgs(root, args)
			if got := norm[len(norm)-1]; got != "--"+f.Name+"="+value {
				t.Errorf("%s: -%s was not normalized (got %q)", c.CommandPath(), f.Name, got)
				return
			}
			fresh := newRootCommand(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
			target, rest, err := fresh.Find(norm)
			if err != nil {
				t.Fatal(err)
			}
			if err := target.ParseFlags(rest); err != nil {
				t.Errorf("%s: parse -%s: %v", c.CommandPath(), f.Name, err)
				return
			}
			if !target.Flags().Changed(f.Name) {
				t.Errorf("%s: -%s was not set", c.CommandPath(), f.Name)
			}
			checked++
		})
	}
	walk(root)
	if checked < 8 {
		t.Fatalf("only %d flags checked; the walk is broken", checked)
	}
}

// TestEveryCommandHasAnExample keeps "-h" useful.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRootCommand(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			t.Errorf("%s has no example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(sub)
			}
		}
	}
	walk(root)
	code, out, _ := run(t, "", "job", "init", "-h")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "drover job init -short") {
		t.Errorf("job init -h: code %d, output:\n%s", code, out)
	}
}

func TestJobInit(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, dir, "job", "init")
	if code != 0 || out != "Example job file written to example.nomad\n" || errOut != "" {
		t.Fatalf("first init: code %d out %q err %q", code, out, errOut)
	}
	full, _ := os.ReadFile("example.nomad")
	want, _ := assets.ReadFile("assets/example.nomad")
	if !bytes.Equal(full, want) {
		t.Error("example.nomad is not the full example")
	}
	code, _, errOut = run(t, "", "job", "init", "-short")
	if code != 1 || errOut != "Job 'example.nomad' already exists\n" {
		t.Fatalf("second init: code %d err %q", code, errOut)
	}
	after, _ := os.ReadFile("example.nomad")
	if !bytes.Equal(after, full) {
		t.Error("existing file was changed")
	}
	code, out, _ = run(t, "", "job", "init", "--short", "short.nomad")
	if code != 0 || out != "Example job file written to short.nomad\n" {
		t.Fatalf("short init: code %d out %q", code, out)
	}
	short, _ := os.ReadFile("short.nomad")
	want, _ = assets.ReadFile("assets/example-short.nomad")
	if !bytes.Equal(short, want) {
		t.Error("short.nomad is not the short example")
	}
	code, _, errOut = run(t, "", "job", "init", "a", "b")
	if code != 1 || !strings.Contains(errOut, "This command takes either no arguments or one: <filename>") ||
		!strings.Contains(errOut, "For additional help try 'drover job init -help'") {
		t.Fatalf("two args: code %d err %q", code, errOut)
	}
}

// TestJobInit_RoundTrip: what job init writes must validate, in both forms.
func TestJobInit_RoundTrip(t *testing.T) {
	for _, short := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"job", "init"}
		if short {
			args = append(args, "-short")
		}
		if code, _, errOut := run(t, dir, args...); code != 0 {
			t.Fatalf("init: %s", errOut)
		}
		code, out, errOut := run(t, "", "job", "validate", "example.nomad")
		if code != 0 || out != "Job validation successful\n" {
			t.Fatalf("validate (short=%v): code %d out %q err %q", short, code, out, errOut)
		}
	}
}

func TestUnknownFlag(t *testing.T) {
	code, _, errOut := run(t, "", "job", "init", "-bogus")
	if code != 1 || !strings.Contains(errOut, "flag provided but not defined: -bogus\n") ||
		!strings.Contains(errOut, "For additional help try 'drover job init -help'") {
		t.Fatalf("code %d err %q", code, errOut)
	}
}

// TestReadCommandsTakeJSONAndTemplate: every command that shows cluster
// objects (status, list, inspect, history, allocs, deployments) takes -json
// and -t, as the compatible CLI's do. The exceptions say why.
func TestReadCommandsTakeJSONAndTemplate(t *testing.T) {
	exempt := map[string]string{
		"drover cluster status":           "the lab cluster's containers, not cluster objects",
		"drover operator raft list-peers": "the compatible CLI has no -json there either",
		"drover lab list":                 "lab content, not cluster objects",
	}
	reads := map[string]bool{"status": true, "list": true, "inspect": true, "history": true, "allocs": true, "deployments": true, "list-peers": true}
	root := newRootCommand(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !reads[c.Name()] || c.Hidden {
			return
		}
		if why, ok := exempt[c.CommandPath()]; ok {
			t.Logf("%s: exempt (%s)", c.CommandPath(), why)
			return
		}
		checked++
		for _, name := range []string{"json", "t"} {
			if c.Flags().Lookup(name) == nil {
				t.Errorf("%s has no -%s", c.CommandPath(), name)
			}
		}
	}
	walk(root)
	if checked < 10 {
		t.Fatalf("only %d read commands found", checked)
	}
}
