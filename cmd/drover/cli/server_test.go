package cli

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestServerMembers(t *testing.T) {
	addr, client := devAgent(t)
	clusterNode(t, client)
	leader, err := client.Status().Leader()
	if err != nil {
		t.Fatal(err)
	}

	out := clusterRun(t, addr, "server", "members")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("server members:\n%s", out)
	}
	if !regexp.MustCompile(`^Name +Address +Port +Status +Leader +Raft Version +Build +Datacenter +Region$`).MatchString(lines[0]) {
		t.Errorf("header: %q", lines[0])
	}
	// The address and port are the member's gossip (serf) endpoint, as
	// in the compatible CLI; the leader is found by its RPC port tag.
	host, rpcPort, _ := strings.Cut(leader, ":")
	self, err := client.Agent().Self()
	if err != nil {
		t.Fatal(err)
	}
	serfPort := strconv.Itoa(int(self.Member.Port))
	if serfPort == rpcPort || self.Member.Tags["port"] != rpcPort {
		t.Fatalf("member port %s, port tag %q, leader's RPC port %s", serfPort, self.Member.Tags["port"], rpcPort)
	}
	fields := strings.Fields(lines[1])
	want := []string{"*.global", host, serfPort, "alive", "true", "3", Version, "dc1", "global"}
	if len(fields) != len(want) || !strings.HasSuffix(fields[0], ".global") {
		t.Fatalf("row: %q, want %q", lines[1], want)
	}
	for i := 1; i < len(want); i++ {
		if fields[i] != want[i] {
			t.Errorf("column %d = %q, want %q (%q)", i, fields[i], want[i], lines[1])
		}
	}
	// Columns line up under their headers.
	if strings.Index(lines[0], "Leader") != strings.Index(lines[1], "true") {
		t.Errorf("misaligned:\n%s", out)
	}

	verbose := clusterRun(t, addr, "server", "members", "-verbose")
	if !strings.Contains(verbose, "Leader  Protocol  Raft Version") || !strings.Contains(verbose, "raft_vsn=3") {
		t.Errorf("server members -verbose:\n%s", verbose)
	}

	// The deprecated hyphenated name warns on stderr, then does the same.
	code, legacy, errOut := runCluster(t, addr, "server-members")
	warning := "WARNING! The \"drover server-members\" command is deprecated. Please use \"drover\n" +
		"server members\" instead. This command will be removed a later version of\n" +
		"Drover.\n\n"
	if code != 0 || legacy != out || errOut != warning {
		t.Errorf("server-members: exit %d\nstdout:\n%s\nstderr:\n%q\nwant:\n%q", code, legacy, errOut, warning)
	}
	code, _, errOut = runCluster(t, addr, "server-members", "extra")
	if code != 1 || !strings.HasSuffix(errOut, "This command takes no arguments\nFor additional help try 'drover server members -help'\n") {
		t.Errorf("server-members extra: exit %d, %q", code, errOut)
	}
}

func TestServerMembers_Unreachable(t *testing.T) {
	code, out, errOut := runCluster(t, "http://127.0.0.1:1", "server", "members")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "Error querying servers: ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestServerWrapWords(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  string
	}{
		{"a bb ccc dddd", 6, "a bb\nccc\ndddd"},
		{"exactly six", 11, "exactly six"},
		{"averyveryverylongword x", 5, "averyveryverylongword\nx"},
	} {
		if got := wrapWords(tc.in, tc.width); got != tc.want {
			t.Errorf("wrapWords(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// TestNodeDeploymentServer_FlagsAndExamples checks the node, deployment
// and server commands as the root's tests check every registered one:
// each long flag works with one dash and each command has an example.
func TestNodeDeploymentServer_FlagsAndExamples(t *testing.T) {
	newRoot := func() *cobra.Command {
		return clusterRoot(&streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	}
	root := newRoot()
	checked := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" && c != root {
			t.Errorf("%s has no example", c.CommandPath())
		}
		if (c.Short == "" || c.Long == "") && c != root {
			t.Errorf("%s lacks a short or long description", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "help" {
				walk(sub)
			}
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
			}
			args := append(append([]string{}, path...), "-"+f.Name+"="+value)
			norm := normalizeArgs(root, args)
			if got := norm[len(norm)-1]; got != "--"+f.Name+"="+value {
				t.Errorf("%s: -%s was not normalized (got %q)", c.CommandPath(), f.Name, got)
				return
			}
			target, rest, err := newRoot().Find(norm)
			if err != nil {
				t.Fatal(err)
			}
			if err := target.ParseFlags(rest); err != nil || !target.Flags().Changed(f.Name) {
				t.Errorf("%s: -%s: %v", c.CommandPath(), f.Name, err)
			}
			checked++
		})
	}
	walk(root)
	if checked < 40 {
		t.Fatalf("only %d flags checked", checked)
	}
	// The tutorials' spellings, with separate values.
	for _, args := range [][]string{
		{"node-drain", "-self", "-enable", "-deadline", "10m", "-m", "maintenance"},
		{"node", "drain", "-enable", "-yes", "-meta", "k=v", "abcd"},
		{"deployment", "promote", "-group", "cache", "abcd"},
	} {
		target, rest, err := newRoot().Find(normalizeArgs(root, args))
		if err == nil {
			err = target.ParseFlags(rest)
		}
		if err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}
