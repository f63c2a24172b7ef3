// Package hclerr renders HCL diagnostics as plain, one-line-per-problem
// error text.
//
// Every diagnostic becomes a single line of the form
//
//	<file>:<line>,<col>-<endcol>: <Summary>; <Detail>
//
// or, when the diagnostic's subject spans several lines,
//
//	<file>:<line>,<col>-<endline>,<endcol>: <Summary>; <Detail>
//
// The "; <Detail>" part is left out when a diagnostic has no detail, and
// the location prefix is left out when it has no subject range. This is the
// layout used by Nomad-compatible tooling, so editors and scripts that
// already understand it keep working.
package hclerr

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Format renders every diagnostic in diags (errors and warnings alike) as
// one line and joins the lines with "\n". It returns "" for no diagnostics.
func Format(diags hcl.Diagnostics) string {
	lines := make([]string, 0, len(diags))
	for _, d := range diags {
		if d == nil {
			continue
		}
		lines = append(lines, formatOne(d))
	}
	return strings.Join(lines, "\n")
}

// Range renders a source range as "<file>:<line>,<col>-<endcol>", or as
// "<file>:<line>,<col>-<endline>,<endcol>" when it spans several lines.
func Range(r hcl.Range) string {
	if r.Start.Line == r.End.Line {
		return fmt.Sprintf("%s:%d,%d-%d", r.Filename, r.Start.Line, r.Start.Column, r.End.Column)
	}
	return fmt.Sprintf("%s:%d,%d-%d,%d", r.Filename, r.Start.Line, r.Start.Column, r.End.Line, r.End.Column)
}

func formatOne(d *hcl.Diagnostic) string {
	var b strings.Builder
	if d.Subject != nil {
		b.WriteString(Range(*d.Subject))
		b.WriteString(": ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString("; ")
		b.WriteString(d.Detail)
	}
	return b.String()
}

// DiagnosticsError is the error returned by Error. Diags holds only the
// error-severity diagnostics it was built from.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

// Error implements the error interface using Format.
func (e *DiagnosticsError) Error() string {
	return Format(e.Diags)
}

// Error returns nil when diags holds no error-severity diagnostic, and
// otherwise a *DiagnosticsError whose text lists the error diagnostics one
// per line (warnings are dropped).
func Error(diags hcl.Diagnostics) error {
	if !diags.HasErrors() {
		return nil
	}
	errs := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		if d != nil && d.Severity == hcl.DiagError {
			errs = append(errs, d)
		}
	}
	return &DiagnosticsError{Diags: errs}
}
