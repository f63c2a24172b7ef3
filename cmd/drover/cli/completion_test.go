package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// bashComplete is the bash side of a <TAB>: it loads the script (failing
// on any complaint while loading), sets the COMP_* variables as readline
// does for a line whose words are the arguments, calls the script's
// completion function and prints COMPREPLY, one per line. The script
// relies on _get_comp_words_by_ref of the bash-completion package; when
// that package is not installed, a minimal stand-in of that function
// (words split on blanks only) takes its place.
const bashComplete = `
script=$1; shift
if [ -f /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
fi
if ! declare -F _get_comp_words_by_ref >/dev/null; then
  _get_comp_words_by_ref() {
    while [[ $# -gt 0 && $1 == -* ]]; do
      [[ $1 == -n ]] && shift
      shift
    done
    local v
    for v in "$@"; do
      case $v in
        cur) cur=${COMP_WORDS[COMP_CWORD]} ;;
        prev) prev=${COMP_WORDS[COMP_CWORD-1]} ;;
        words) words=("${COMP_WORDS[@]}") ;;
        cword) cword=$COMP_CWORD ;;
      esac
    done
  }
fi
errs=$(source "$script" 2>&1 >/dev/null) || { echo "loading failed: $errs" >&2; exit 3; }
[ -z "$errs" ] || { echo "loading complained: $errs" >&2; exit 4; }
source "$script"
complete -p drover >/dev/null || { echo "no completion registered for drover" >&2; exit 5; }
COMP_WORDS=("$@")
COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COLUMNS=200
__start_drover
printf '%s\n' "${COMPREPLY[@]}"
`

// TestCompletionBash: the script of "drover completion bash" loads in
// bash and completes as a user's <TAB> would, by asking the drover
// executable on PATH.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed for this test: %v", err)
	}
	drover, err := exec.LookPath("drover")
	if err != nil {
		t.Fatalf("the drover executable is not on PATH: %v", err)
	}
	script, err := exec.Command(drover, "completion", "bash").Output()
	if err != nil {
		t.Fatalf("drover completion bash: %v", err)
	}
	path := filepath.Join(t.TempDir(), "drover.bash")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		cmd := exec.Command(bash, append([]string{"--norc", "--noprofile", "-c", bashComplete, "bash", path}, words...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", words, err, stderr.String())
		}
		// With several candidates, bash shows each with its description:
		// the candidate is the first field.
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				got = append(got, f[0])
			}
		}
		sort.Strings(got)
		return got
	}
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"drover", "job", "st"}, "status stop"},
		{[]string{"drover", "ev"}, "eval"},
		{[]string{"drover", "eval", "l"}, "list"},
		{[]string{"drover", "job", "status", "-verb"}, "-verbose"},
		{[]string{"drover", "eval", "list", "-per"}, "-per-page"},
		{[]string{"drover", "eval", "list", "--per"}, "--per-page"},
		{[]string{"drover", "monitor", "-log"}, "-log-level"},
		{[]string{"drover", "completion", ""}, "bash fish zsh"},
	}
	for _, c := range cases {
		if got := strings.Join(complete(c.words...), " "); got != c.want {
			t.Errorf("%q<TAB>: %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}
}

// TestCompletionScripts: zsh and fish scripts are produced, and parse
// when that shell is installed.
func TestCompletionScripts(t *testing.T) {
	for _, c := range []struct{ shell, mark string }{
		{"zsh", "#compdef drover"},
		{"fish", "complete -c drover"},
		{"bash", "complete -o default -F __start_drover drover"},
	} {
		code, out, errOut := run(t, "", "completion", c.shell)
		if code != 0 || errOut != "" || !strings.Contains(out, c.mark) || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: %d %q\n%.300s", c.shell, code, errOut, out)
			continue
		}
		sh, err := exec.LookPath(c.shell)
		if err != nil || c.shell == "bash" {
			continue // bash is run by TestCompletionBash
		}
		path := filepath.Join(t.TempDir(), "drover."+c.shell)
		os.WriteFile(path, []byte(out), 0o644)
		if msg, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse the script: %v\n%s", c.shell, err, msg)
		}
	}
}

// TestCompletionRequest: cobra's hidden __complete, as the scripts call
// it, with the one-dash flags the CLI takes.
func TestCompletionRequest(t *testing.T) {
	cases := []struct {
		args []string
		want []string // candidates, in order
	}{
		{[]string{"__complete", "job", "st"}, []string{"status", "stop"}},
		{[]string{"__completeNoDesc", "job", "st"}, []string{"status", "stop"}},
		// A one-dash flag typed earlier is understood; the flag being
		// typed completes in the form typed.
		{[]string{"__complete", "eval", "list", "-verbose", "-sta"}, []string{"-status"}},
		{[]string{"__complete", "eval", "list", "--sta"}, []string{"--status"}},
		// A flag's value: nothing to offer but files.
		{[]string{"__complete", "eval", "list", "-job", ""}, nil},
	}
	for _, c := range cases {
		var out, errOut strings.Builder
		if code := MainContext(context.Background(), c.args, &out, &errOut, nil); code != 0 {
			t.Errorf("%q: exit %d: %s", c.args, code, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
			t.Errorf("%q: no directive: %q", c.args, out.String())
			continue
		}
		var got []string
		for _, l := range lines[:len(lines)-1] {
			got = append(got, strings.SplitN(l, "\t", 2)[0])
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
}
