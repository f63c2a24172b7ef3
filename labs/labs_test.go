package labs

import (
	"strings"
	"testing"
)

// TestEmbeddedLabsParse: every lab shipped in the binary is well formed.
func TestEmbeddedLabsParse(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("no labs embedded")
	}
	for _, l := range all {
		if l.Title == "" || len(l.Steps) == 0 {
			t.Errorf("lab %s: title %q, %d steps", l.Name, l.Title, len(l.Steps))
		}
	}
	gs, err := Load("getting-started")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gs.Steps[0].Explain, "min_healthy_time") || gs.Steps[0].Actions[0].Value != "job init" {
		t.Errorf("first step: %+v", gs.Steps[0])
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"no title", "step: a\nrun: status\n", "x.lab: a lab needs a title"},
		{"action before step", "title: t\nrun: status\n", `x.lab:2: "run" before the first step`},
		{"unknown key", "title: t\nstep: s\nfrob: 1\n", `x.lab:3: unknown key "frob"`},
		{"not key value", "title: t\nstep: s\njust words\n", `x.lab:3: want "key: value"`},
		{"bad wait", "title: t\nstep: s\nwait: forever\n", `x.lab:3: wait wants`},
		{"bad edit", "title: t\nstep: s\nedit: a | b\n", `x.lab:3: edit wants`},
		{"bad capture", "title: t\nstep: s\ncapture: nothing\n", `x.lab:3: capture wants`},
		{"bad exit", "title: t\nstep: s\nexpect-exit: one\n", `x.lab:3: expect-exit wants a number`},
		{"orphan continuation", "  text\n", "x.lab:1: a continuation line"},
		{"bad cluster", "title: t\ncluster: big\nstep: s\n", `x.lab:2: cluster must be`},
		{"bad spread", "title: t\nstep: s\nwait: spread many\n", `x.lab:3: wait: spread <n> wants a number`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x", tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestContinuationLines(t *testing.T) {
	l, err := Parse("x", "title: t\nstep: s\nexplain: one\n  two\n    three\nrun: status\n")
	if err != nil {
		t.Fatal(err)
	}
	if l.Steps[0].Explain != "one two three" {
		t.Fatalf("explain %q", l.Steps[0].Explain)
	}
}

func TestMatchLine(t *testing.T) {
	out := "==> Monitoring evaluation \"ab12cd34\"\n    Allocation \"11112222\" created: node \"33334444\", group \"cache\"\n"
	cases := []struct {
		pattern string
		want    bool
	}{
		{`Allocation "* created: node "*", group "cache"`, true},
		{`(2 create, 1 in-place update)`, false},
		{`Monitoring evaluation`, true},
		{`created: node "*", group "web"`, false},
	}
	for _, tc := range cases {
		if got := matchLine(out, tc.pattern); got != tc.want {
			t.Errorf("matchLine(%q) = %v", tc.pattern, got)
		}
	}
}

func TestWrap(t *testing.T) {
	if got := wrap("aaa bbb ccc ddd", 7); got != "aaa bbb\nccc ddd" {
		t.Fatalf("wrap = %q", got)
	}
}
