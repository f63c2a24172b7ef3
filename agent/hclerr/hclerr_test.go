package hclerr_test

import (
	"errors"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"

	"drover/agent/hclerr"
)

func rng(file string, l1, c1, l2, c2 int) *hcl.Range {
	return &hcl.Range{
		Filename: file,
		Start:    hcl.Pos{Line: l1, Column: c1},
		End:      hcl.Pos{Line: l2, Column: c2},
	}
}

func TestFormat(t *testing.T) {
	cases := []struct {
		name  string
		diags hcl.Diagnostics
		want  string
	}{
		{name: "empty", diags: nil, want: ""},
		{
			name: "single line range",
			diags: hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   `An argument named "foo" is not expected here.`,
				Subject:  rng("a.hcl", 3, 5, 3, 8),
			}},
			want: `a.hcl:3,5-8: Unsupported argument; An argument named "foo" is not expected here.`,
		},
		{
			name: "multi line range",
			diags: hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Bad block",
				Detail:   "Nope.",
				Subject:  rng("b.hcl", 2, 1, 4, 2),
			}},
			want: "b.hcl:2,1-4,2: Bad block; Nope.",
		},
		{
			name: "no detail and no subject",
			diags: hcl.Diagnostics{
				{Severity: hcl.DiagError, Summary: "Only summary", Subject: rng("c.hcl", 1, 1, 1, 4)},
				{Severity: hcl.DiagWarning, Summary: "Floating", Detail: "No location."},
			},
			want: "c.hcl:1,1-4: Only summary\nFloating; No location.",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hclerr.Format(tc.diags); got != tc.want {
				t.Errorf("Format() =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestFormatMatchesRangeString(t *testing.T) {
	for _, r := range []*hcl.Range{rng("x.hcl", 1, 2, 1, 9), rng("y.hcl", 1, 2, 7, 3)} {
		if got, want := hclerr.Range(*r), r.String(); got != want {
			t.Errorf("Range() = %q, want %q", got, want)
		}
	}
}

func TestError(t *testing.T) {
	cases := []struct {
		name    string
		diags   hcl.Diagnostics
		wantNil bool
		want    string
	}{
		{name: "nil", diags: nil, wantNil: true},
		{
			name:    "only warnings",
			diags:   hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "w", Subject: rng("a", 1, 1, 1, 2)}},
			wantNil: true,
		},
		{
			name: "errors keep order, warnings dropped",
			diags: hcl.Diagnostics{
				{Severity: hcl.DiagError, Summary: "first", Detail: "one", Subject: rng("a.hcl", 1, 1, 1, 2)},
				{Severity: hcl.DiagWarning, Summary: "warn", Subject: rng("a.hcl", 2, 1, 2, 2)},
				{Severity: hcl.DiagError, Summary: "second", Detail: "two", Subject: rng("a.hcl", 3, 1, 3, 2)},
			},
			want: "a.hcl:1,1-2: first; one\na.hcl:3,1-2: second; two",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := hclerr.Error(tc.diags)
			if tc.wantNil {
				if err != nil {
					t.Fatalf("Error() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Error() = nil, want error")
			}
			if err.Error() != tc.want {
				t.Errorf("Error() =\n%s\nwant\n%s", err, tc.want)
			}
			var de *hclerr.DiagnosticsError
			if !errors.As(err, &de) {
				t.Fatalf("error is %T, want *DiagnosticsError", err)
			}
			for _, d := range de.Diags {
				if d.Severity != hcl.DiagError {
					t.Errorf("non-error diagnostic kept: %v", d)
				}
			}
		})
	}
}

func TestErrorFromParser(t *testing.T) {
	_, diags := hclparse.NewParser().ParseHCL([]byte("a = \"x\"\nb = {\n"), "bad.hcl")
	err := hclerr.Error(diags)
	if err == nil {
		t.Fatal("expected a parse error")
	}
	want := diags.Errs()[0].(*hcl.Diagnostic).Subject.String()
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("error %q does not start with %q", got, want)
	}
}
