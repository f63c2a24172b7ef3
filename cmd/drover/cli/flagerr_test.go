package cli

import "testing"

// A number flag that does not parse is reported in the compatible CLI's
// words, not Go's parser's, as a usage error (exit 1).
func TestBadNumberFlag(t *testing.T) {
	code, out, errOut := runCLI(t, "http://127.0.0.1:1", "job", "run", "-check-index", "abc", "example.nomad")
	want := "Error parsing -check-index: \"abc\" is not a number\nFor additional help try 'drover job run -help'\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}
}
