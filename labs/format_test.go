package labs

import (
	"strings"
	"testing"
)

func TestBuiltinLabsParse(t *testing.T) {
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no built-in labs")
	}
	for _, l := range all {
		if l.Title == "" || len(l.Steps) == 0 {
			t.Errorf("%s: title %q, %d steps", l.Name, l.Title, len(l.Steps))
		}
		for _, s := range l.Steps {
			if len(s.Solution) == 0 || len(s.Checks) == 0 || len(s.Hints) == 0 || s.Why == "" || s.Instructions == "" {
				t.Errorf("%s step %s: a step needs instructions, hints, why, a solution and checks", l.Name, s.ID)
			}
		}
	}
}

func TestParseErrorsCarryFileLineCol(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"syntax", "title = \"x\"\nstep \"a\" {\n  title = \n}\n", "x.lab.hcl:3:"},
		{"unknown check kind", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  check \"bogus\" {}\n}\n", "x.lab.hcl:4:3: Invalid check"},
		{"attribute of another kind", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  check \"node\" {\n    name = \"c\"\n    count = 3\n  }\n}\n",
			"x.lab.hcl:6:5: Unsupported argument"},
		{"step without check", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n}\n", "x.lab.hcl:2:1: Step without a check"},
		{"bad topology", "title = \"x\"\ntopology = \"five\"\nstep \"a\" {\n  title = \"t\"\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:2:12: Invalid topology"},
		{"bad wait", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  check \"file\" {\n    path = \"f\"\n    wait = \"soon\"\n  }\n}\n", "x.lab.hcl:6:12: Invalid wait"},
		{"duplicate step", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  check \"file\" { path = \"f\" }\n}\nstep \"a\" {\n  title = \"t\"\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:6:6: Duplicate step"},
		{"missing title", "step \"a\" {\n  title = \"t\"\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:1:1: Missing required argument"},
		{"capture without group", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  solution {\n    run \"status\" {\n      capture = { id = \"[a-f]+\" }\n    }\n  }\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:6:17: Invalid capture"},
		{"unknown step attribute", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  titel = \"u\"\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:4:3: Unsupported argument; An argument named \"titel\""},
		{"unknown block", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  sollution {}\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:4:3: Unsupported block type"},
		{"bad security", "title = \"x\"\nsecurity = \"tls\"\nstep \"a\" {\n  title = \"t\"\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:2:12: Invalid security"},
		{"bad env name", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  check \"output\" {\n    run = \"status\"\n    env = { \"A-B\" = \"\" }\n  }\n}\n", "x.lab.hcl:6:11: Invalid env"},
		{"edit without replace", "title = \"x\"\nstep \"a\" {\n  title = \"t\"\n  solution {\n    edit \"f\" {\n      with = \"y\"\n    }\n  }\n  check \"file\" { path = \"f\" }\n}\n", "x.lab.hcl:5:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x", "x.lab.hcl", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestParseSecurityAndEnv: a lab may ask for ACLs and mutual TLS, and
// give a command (an action's or an output check's) its own environment.
func TestParseSecurityAndEnv(t *testing.T) {
	src := `title    = "x"
security = "acl+tls"
step "a" {
  title = "t"
  solution {
    run "node status" {
      env  = { NOMAD_CLIENT_CERT = "", NOMAD_CLIENT_KEY = "" }
      exit = 1
    }
  }
  check "output" {
    run = "node status"
    env = { NOMAD_CLIENT_CERT = "" }
    exit = 1
  }
}
`
	lab, err := Parse("x", "x.lab.hcl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if lab.Security != SecurityACLTLS {
		t.Errorf("security %q, want %q", lab.Security, SecurityACLTLS)
	}
	s := &Session{Lab: lab}
	if got := s.DisplayEnv(lab.Steps[0].Solution[0].Env); got != "NOMAD_CLIENT_CERT= NOMAD_CLIENT_KEY= " {
		t.Errorf("the action's env shows as %q", got)
	}
	if env := lab.Steps[0].Checks[0].Attrs.Env; len(env) != 1 {
		t.Errorf("the check's env is %v", env)
	}
}

// TestCheckSummary: before a check has run, the web UI shows what it
// will look for, in the lab file's own words.
func TestCheckSummary(t *testing.T) {
	yes, three, example, running := true, 3, "example", "running"
	c := &Check{Kind: "allocs", Attrs: checkAttrs{Job: &example, ClientStatus: &running, Count: &three, Exists: &yes}}
	if got, want := c.Summary(), `allocs: job = "example", exists = true, client_status = "running", count = 3`; got != want {
		t.Errorf("Summary() = %s, want %s", got, want)
	}
	if got := (&Check{Kind: "plan"}).Summary(); got != "plan" {
		t.Errorf("bare check: %q", got)
	}
	all, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		for _, s := range l.Steps {
			for _, c := range s.Checks {
				if !strings.HasPrefix(c.Summary(), c.Kind) {
					t.Errorf("%s/%s: summary %q", l.Name, s.ID, c.Summary())
				}
			}
		}
	}
}
