package cli

import (
	"bytes"
	"strings"
	"testing"
)

// referenceCommand is a command of the compatible CLI that Drover has, the
// names it goes by, and the flags the reference gives it
// (../shared/reference/nomad-behaviour.md, §0.5, §1.1–§1.14 and §4.2). A flag is
// "name" for a switch or "name=value" with a sample value.
type referenceCommand struct {
	paths [][]string
	flags []string
}

// globalReferenceFlags are §0.5's flags, which every command takes.
var globalReferenceFlags = []string{
	"address=http://127.0.0.1:1", "region=global", "namespace=default", "no-color", "force-color", "token=secret",
	"ca-cert=ca.pem", "ca-path=certs", "client-cert=cli.pem", "client-key=cli-key.pem", "tls-server-name=server.global.nomad",
	"tls-skip-verify",
}

var referenceCommands = []referenceCommand{
	{[][]string{{"job", "init"}, {"init"}}, []string{"short", "connect", "template=web", "list-templates"}},
	{[][]string{{"job", "plan"}, {"plan"}}, []string{"diff", "verbose", "json", "json-output", "t={{.JobModifyIndex}}",
		"var=image=redis", "var-file=vars.hcl", "hcl2-strict", "policy-override", "vault-namespace=ns"}},
	{[][]string{{"job", "run"}, {"run"}}, []string{"check-index=24", "detach", "verbose", "output", "json",
		"hcl2-strict", "var=image=redis", "var-file=vars.hcl", "policy-override", "preserve-counts",
		"preserve-resources", "eval-priority=60", "consul-namespace=ns", "vault-namespace=ns", "ui"}},
	{[][]string{{"job", "status"}}, []string{"short", "evals", "all-allocs", "verbose", "json", "t={{.}}", "ui"}},
	{[][]string{{"status"}}, []string{"verbose"}},
	{[][]string{{"job", "stop"}, {"stop"}}, []string{"detach", "purge", "global", "no-shutdown-delay", "yes",
		"verbose", "eval-priority=60"}},
	{[][]string{{"alloc", "status"}, {"alloc-status"}}, []string{"short", "verbose", "stats", "json", "t={{.ID}}", "ui"}},
	{[][]string{{"alloc", "logs"}, {"logs"}}, []string{"stdout", "stderr", "verbose", "task=redis", "group=cache",
		"job", "f", "tail", "n=5", "c=100"}},
	{[][]string{{"node", "status"}, {"node-status"}}, []string{"self", "short", "verbose", "allocs", "os", "quiet",
		"stats", "json", "t={{.ID}}", "filter=Status == \"ready\"", "per-page=10", "page-token=abc"}},
	{[][]string{{"node", "drain"}, {"node-drain"}}, []string{"enable", "disable", "deadline=2h", "force",
		"no-deadline", "ignore-system", "keep-ineligible", "detach", "monitor", "self", "yes", "m=maintenance",
		"meta=reason=kernel"}},
	{[][]string{{"node", "eligibility"}}, []string{"enable", "disable", "self"}},
	{[][]string{{"eval", "status"}, {"eval-status"}}, []string{"monitor", "verbose", "json", "t={{.ID}}"}},
	{[][]string{{"deployment", "status"}}, []string{"monitor", "verbose", "json", "t={{.ID}}"}},
	{[][]string{{"deployment", "list"}}, []string{"verbose", "json", "t={{.}}"}},
	{[][]string{{"server", "members"}, {"server-members"}}, []string{"verbose"}},
	{[][]string{{"agent-info"}}, []string{"json", "t={{.}}"}},
	{[][]string{{"agent"}}, []string{"dev", "dev-connect", "config=agent.hcl", "data-dir=/tmp/drover"}}, // §4.2
	{[][]string{{"version"}}, nil},
	// Beyond the reference's sections, from the compatible CLI's documentation.
	{[][]string{{"job", "scale"}}, []string{"check-index=24", "detach", "verbose"}},
	{[][]string{{"tls", "ca", "create"}}, []string{"days=365", "domain=nomad", "common-name=Lab CA", "name-constraint",
		"additional-domain=example.com"}},
	{[][]string{{"tls", "cert", "create"}}, []string{"server", "client", "cli", "ca=nomad-agent-ca.pem",
		"key=nomad-agent-ca-key.pem", "region=global", "domain=nomad", "days=365", "additional-dnsname=web.local",
		"additional-ipaddress=10.0.0.1", "cluster-region=global"}},
	{[][]string{{"operator", "gossip", "keyring", "generate"}, {"operator", "keygen"}}, nil},
}

// TestReferenceFlagSpellings: every flag the reference lists for a command
// Drover has parses in Drover, in each spelling a user of the compatible
// CLI (Go's flag package) types: -name value, -name=value, --name=value,
// and for a switch -name alone. The value must arrive unchanged.
func TestReferenceFlagSpellings(t *testing.T) {
	checked := 0
	for _, rc := range referenceCommands {
		for _, path := range rc.paths {
			for _, spec := range append(append([]string{}, rc.flags...), globalReferenceFlags...) {
				name, value, hasValue := strings.Cut(spec, "=")
				var spellings [][]string
				if hasValue {
					spellings = [][]string{{"-" + name, value}, {"-" + name + "=" + value}, {"--" + name + "=" + value}}
				} else {
					spellings = [][]string{{"-" + name}, {"-" + name + "=true"}}
				}
				for _, sp := range spellings {
					args := append(append(append([]string{}, path...), sp...), "arg")
					t.Run(strings.Join(args, " "), func(t *testing.T) {
						root := newRootCommand(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
						norm := normalizeArgs(root, args)
						target, rest, err := root.Find(norm)
						if err != nil || target == root {
							t.Fatalf("%s: no such command (%v)", strings.Join(path, " "), err)
						}
						if err := target.ParseFlags(rest); err != nil {
							t.Fatalf("parse: %v", err)
						}
						f := target.Flags().Lookup(name)
						if f == nil {
							f = target.InheritedFlags().Lookup(name)
						}
						if f == nil || !f.Changed {
							t.Fatalf("-%s was not set", name)
						}
						want := value
						if !hasValue {
							want = "true"
						}
						got := f.Value.String()
						if f.Value.Type() == "stringArray" {
							got = strings.Trim(got, "[]")
						}
						if got != want {
							t.Errorf("-%s = %q, want %q", name, got, want)
						}
						if pos := target.Flags().Args(); len(pos) != 1 || pos[0] != "arg" {
							t.Errorf("positional arguments %q, want [arg]", pos)
						}
					})
					checked++
				}
			}
		}
	}
	if checked < 300 {
		t.Fatalf("only %d spellings checked; the table is broken", checked)
	}
}
