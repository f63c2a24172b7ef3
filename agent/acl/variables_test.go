package acl

import (
	"strings"
	"testing"
)

func TestVariableRules(t *testing.T) {
	a := New([]*Policy{mustParse(t, `
namespace "default" {
  variables {
    path "drover/*" { capabilities = ["write", "read", "list", "destroy"] }
    path "drover/secret" { capabilities = ["deny"] }
    path "shared/*" { capabilities = ["read", "list"] }
    path "readonly/*" { capabilities = ["read"] }
    path "writeonly/*" { capabilities = ["write"] }
  }
}
namespace "ro" { policy = "read" }
namespace "rw" { policy = "write" }
namespace "jobs-only" { capabilities = ["read-job"] }
`)})
	for _, c := range []struct {
		ns, path, op string
		want         bool
	}{
		{"default", "drover/labs/x", VarCapWrite, true},
		{"default", "drover/labs/x", VarCapDestroy, true},
		{"default", "drover/secret", VarCapRead, false},
		{"default", "shared/a", VarCapRead, true},
		{"default", "shared/a", VarCapWrite, false},
		{"default", "other", VarCapRead, false},
		// read implies list, as in the compatible policy language;
		// write alone implies neither.
		{"default", "readonly/a", VarCapList, true},
		{"default", "readonly/a", VarCapWrite, false},
		{"default", "writeonly/a", VarCapList, false},
		{"default", "writeonly/a", VarCapRead, false},
		{"ro", "anything", VarCapRead, true},
		{"ro", "anything", VarCapList, true},
		{"ro", "anything", VarCapWrite, false},
		{"rw", "anything", VarCapDestroy, true},
		{"jobs-only", "anything", VarCapRead, false},
		{"absent", "drover/labs/x", VarCapRead, false},
	} {
		if got := a.AllowVariableOperation(c.ns, c.path, c.op); got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.ns, c.path, c.op, got, c.want)
		}
	}
	if !Management().AllowVariableOperation("x", "y", VarCapWrite) {
		t.Error("management refused")
	}
	if Deny().AllowVariableOperation("default", "drover/labs/x", VarCapRead) {
		t.Error("deny allowed")
	}
}

func TestVariableRulesRejected(t *testing.T) {
	wrap := func(path string) string {
		return "namespace \"default\" {\n  variables {\n    " + path + "\n  }\n}\n"
	}
	for src, want := range map[string]string{
		wrap(`path "a" { capabilities = ["fly"] }`): `unknown variable capability "fly"`,
		wrap(`path { capabilities = ["read"] }`):    "takes one label",
		wrap("path \"a\" {\n}"):                     "needs capabilities",
		wrap("paths \"a\" {\n}"):                    `no "paths" block`,
	} {
		_, err := Parse("p.hcl", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}
