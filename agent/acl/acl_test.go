package acl

import (
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *Policy {
	t.Helper()
	p, err := Parse("test.hcl", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestParse_AllBlocks(t *testing.T) {
	p := mustParse(t, `
namespace "default" {
  policy       = "read"
  capabilities = ["submit-job"]
}
namespace "dev-*" {
  policy = "write"
  variables {
    path "*" { capabilities = ["read"] }
  }
}
node     { policy = "read" }
agent    { policy = "write" }
operator { policy = "deny" }
quota    { policy = "read" }
plugin   { policy = "list" }
`)
	if len(p.Namespaces) != 2 || p.Namespaces[0].Name != "default" || p.Namespaces[0].Policy != "read" ||
		len(p.Namespaces[0].Capabilities) != 1 || p.Namespaces[1].Name != "dev-*" {
		t.Errorf("namespaces: %+v %+v", p.Namespaces[0], p.Namespaces[1])
	}
	if p.Node != "read" || p.Agent != "write" || p.Operator != "deny" {
		t.Errorf("levels: node %q agent %q operator %q", p.Node, p.Agent, p.Operator)
	}
}

// TestParse_Errors: every malformed policy is refused with where the
// problem is, as file:line,col.
func TestParse_Errors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax", "namespace \"default\" {\n  policy = \n}\n", "test.hcl:2,"},
		{"bad namespace policy", "namespace \"default\" {\n  policy = \"reed\"\n}\n",
			`test.hcl:2,12-18: Invalid policy; invalid namespace policy "reed"`},
		{"bad capability", "namespace \"x\" {\n  capabilities = [\"read-job\", \"fly\"]\n}\n",
			`test.hcl:2,18-37: Invalid policy; unknown namespace capability "fly"`},
		{"bad node policy", "node {\n  policy = \"scale\"\n}\n", `test.hcl:2,12-19: Invalid policy; invalid node policy "scale"`},
		{"unknown block", "namespace \"a\" { policy = \"read\" }\nnodes { policy = \"read\" }\n",
			`test.hcl:2,1-6: Unsupported block type`},
		{"unknown attribute", "agent {\n  policy = \"read\"\n  level = 3\n}\n", `test.hcl:3,3-8: Unsupported argument`},
		{"top-level attribute", "policy = \"read\"\n", `test.hcl:1,1-7: Unsupported argument`},
		{"namespace without label", "namespace {\n policy = \"read\"\n}\n", `test.hcl:1,1-10: Invalid block`},
		{"empty namespace", "namespace \"a\" {\n}\n", `test.hcl:1,1-14: Invalid namespace rule`},
		{"node without policy", "node {\n}\n", `test.hcl:1,1-5: Missing required argument`},
		{"duplicate", "node { policy = \"read\" }\nnode { policy = \"write\" }\n", `test.hcl:2,1-5: Duplicate block`},
		{"empty", "  \n", "test.hcl: the policy has no rules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test.hcl", []byte(tc.src))
			if err == nil {
				t.Fatalf("parsed %q", tc.src)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestACL_NamespacePolicies(t *testing.T) {
	a := New([]*Policy{mustParse(t, `
namespace "default" { policy = "read" }
namespace "prod"    { policy = "write" }
namespace "ops"     { capabilities = ["read-logs"] }
namespace "locked"  {
  policy = "write"
  capabilities = ["deny"]
}
namespace "sc"      { policy = "scale" }
namespace "li"      { policy = "list" }
`)})
	for _, tc := range []struct {
		ns, op string
		want   bool
	}{
		{"default", CapReadJob, true},
		{"default", CapListJobs, true},
		{"default", CapSubmitJob, false},
		{"default", CapReadLogs, false},
		{"prod", CapSubmitJob, true},
		{"prod", CapAllocExec, true},
		{"prod", CapAllocLifecycle, true},
		{"prod", CapReadFS, true},
		{"ops", CapReadLogs, true},
		{"ops", CapReadJob, false},
		{"locked", CapReadJob, false},
		{"sc", CapScaleJob, true},
		{"sc", CapSubmitJob, false},
		{"li", CapListJobs, true},
		{"li", CapReadJob, false},
		{"other", CapReadJob, false},
	} {
		if got := a.AllowNamespaceOperation(tc.ns, tc.op); got != tc.want {
			t.Errorf("%s in %s: %v, want %v", tc.op, tc.ns, got, tc.want)
		}
	}
	if !a.AllowNamespace("ops") || a.AllowNamespace("locked") || a.AllowNamespace("other") {
		t.Error("AllowNamespace: ops must be visible, locked and other not")
	}
	if a.AllowNodeRead() || a.AllowAgentRead() || a.AllowOperatorRead() || a.IsManagement() {
		t.Error("namespace rules alone grant node, agent or operator access")
	}
}

// TestACL_Globs: an exact name wins over globs; among globs the closest
// match (most literal characters) governs.
func TestACL_Globs(t *testing.T) {
	a := New([]*Policy{mustParse(t, `
namespace "*"        { policy = "read" }
namespace "dev-*"    { policy = "write" }
namespace "dev-sec*" { policy = "deny" }
namespace "dev-x"    { policy = "list" }
`)})
	for _, tc := range []struct {
		ns, op string
		want   bool
	}{
		{"default", CapReadJob, true},
		{"default", CapSubmitJob, false},
		{"dev-1", CapSubmitJob, true},
		{"dev-secret", CapReadJob, false},
		{"dev-x", CapReadJob, false},
		{"dev-x", CapListJobs, true},
	} {
		if got := a.AllowNamespaceOperation(tc.ns, tc.op); got != tc.want {
			t.Errorf("%s in %s: %v, want %v", tc.op, tc.ns, got, tc.want)
		}
	}
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "ac", true},
		{"a*b*c", "axbyc", true}, {"a*a", "a", false}, {"ab", "abc", false}, {"*b*", "xyz", false},
	} {
		if got := globMatch(tc.pattern, tc.name); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v", tc.pattern, tc.name, got)
		}
	}
}

// TestACL_Merge: capabilities of several policies add up, a deny in any
// of them wins, and levels take the largest grant unless denied.
func TestACL_Merge(t *testing.T) {
	a := New([]*Policy{
		mustParse(t, "namespace \"default\" { policy = \"read\" }\nnode { policy = \"read\" }\nagent { policy = \"write\" }"),
		mustParse(t, "namespace \"default\" { capabilities = [\"submit-job\"] }\nnode { policy = \"write\" }\nagent { policy = \"deny\" }"),
	})
	if !a.AllowNamespaceOperation("default", CapReadJob) || !a.AllowNamespaceOperation("default", CapSubmitJob) {
		t.Error("capabilities of two policies do not add up")
	}
	if !a.AllowNodeWrite() || !a.AllowNodeRead() {
		t.Error("node write (from the second policy) not granted")
	}
	if a.AllowAgentRead() || a.AllowAgentWrite() {
		t.Error("agent deny in one policy must refuse the write of the other")
	}
	d := New([]*Policy{
		mustParse(t, `namespace "default" { policy = "write" }`),
		mustParse(t, `namespace "default" { policy = "deny" }`),
	})
	if d.AllowNamespaceOperation("default", CapReadJob) {
		t.Error("a deny in one policy must refuse what another grants")
	}
	op := New([]*Policy{mustParse(t, `operator { policy = "read" }`)})
	if !op.AllowOperatorRead() || op.AllowOperatorWrite() {
		t.Error("operator read: read allowed, write refused")
	}
}

func TestACL_ManagementAndDeny(t *testing.T) {
	m := Management()
	if !m.IsManagement() || !m.AllowNamespaceOperation("anything", CapAllocExec) || !m.AllowNodeWrite() ||
		!m.AllowAgentWrite() || !m.AllowOperatorWrite() || !m.AllowNamespace("x") {
		t.Error("management must allow everything")
	}
	d := Deny()
	if d.IsManagement() || d.AllowNamespaceOperation("default", CapListJobs) || d.AllowNodeRead() ||
		d.AllowAgentRead() || d.AllowOperatorRead() || d.AllowNamespace("default") {
		t.Error("Deny must allow nothing")
	}
	if New(nil).AllowNamespaceOperation("default", CapReadJob) {
		t.Error("no policies must allow nothing")
	}
}
