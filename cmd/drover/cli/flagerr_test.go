package cli

import (
	"strings"
	"testing"
)

// A number flag that does not parse is reported in the compatible CLI's
// words, not Go's parser's, as a usage error (exit 1).
func TestBadNumberFlag(t *testing.T) {
	code, out, errOut := runCLI(t, "http://127.0.0.1:1", "job", "run", "-check-index", "abc", "example.nomad")
	want := "Error parsing -check-index: \"abc\" is not a number\nFor additional help try 'drover job run -help'\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
}

// An unknown subcommand is named as such, with a suggestion when one is
// close, even when flags follow it.
func TestUnknownSubcommand(t *testing.T) {
	code, out, errOut := runCLI(t, "http://127.0.0.1:1", "job", "nosuch", "example", "-address", "http://127.0.0.1:1")
	want := "Unknown command \"nosuch\" for \"drover job\"\nFor additional help try 'drover job -help'\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("job nosuch: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
	code, _, errOut = runCLI(t, "http://127.0.0.1:1", "job", "stauts")
	if code != 1 || !strings.Contains(errOut, "Did you mean this?\n\tstatus\n") {
		t.Fatalf("job stauts: exit %d, stderr %q", code, errOut)
	}
	code, out, _ = runCLI(t, "http://127.0.0.1:1", "job", "-help")
	if code != 0 || !strings.Contains(out, "Usage:") {
		t.Fatalf("job -help: exit %d, %q", code, out)
	}
}

func TestVersionFlag(t *testing.T) {
	code, out, _ := runCLI(t, "http://127.0.0.1:1", "-version")
	_, want, _ := runCLI(t, "http://127.0.0.1:1", "version")
	if code != 0 || out != want || !strings.HasPrefix(out, "Drover v") {
		t.Fatalf("-version: exit %d, %q; version says %q", code, out, want)
	}
}
