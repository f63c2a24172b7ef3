package cli

import (
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestACLScripts runs the transcripts in testdata/acl against a dev agent
// with acl { enabled = true }, not yet bootstrapped.
func TestACLScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/acl",
		Setup: func(env *testscript.Env) error {
			addr, stop, err := startScriptAgentWith(env.WorkDir, "acl {\n  enabled = true\n}\n",
				func(c *api.Client) (bool, error) {
					leader, err := c.Status().Leader()
					return err == nil && leader != "", err
				})
			if err != nil {
				return err
			}
			env.Defer(stop)
			env.Setenv("DROVER_ADDR", addr)
			env.Setenv("NOMAD_ADDR", addr)
			env.Setenv("NOMAD_CLI_SHOW_HINTS", "false")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exit-code": cmdExitCode,
			"kv-var":    cmdKVVar,
		},
	})
}

// cmdKVVar: kv-var <VAR> <key> sets VAR to the value of "key = value" in
// the last command's stdout (a token's Secret ID, say).
func cmdKVVar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: kv-var <VAR> <key>")
	}
	for _, line := range strings.Split(ts.ReadFile("stdout"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == args[1] {
			ts.Setenv(args[0], strings.TrimSpace(v))
			return
		}
	}
	ts.Fatalf("no %q in stdout", args[1])
}
