package cli

import (
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/hashicorp/nomad/api"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// defaultAddress is the agent the CLI talks to when neither -address nor
// the environment names one: the local agent.
const defaultAddress = "http://127.0.0.1:4646"

// globalOptions are the flags of every command that talks to an agent,
// spelt as the compatible CLI spells them. Each falls back to its
// environment variable: DROVER_<NAME>, then NOMAD_<NAME>, so scripts
// written for the tutorials keep working.
type globalOptions struct {
	address    string
	region     string
	namespace  string
	token      string
	noColor    bool
	forceColor bool
}

// registerGlobalFlags adds the global flags to root, for every command.
func (s *streams) registerGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&s.global.address, "address", "", "the agent's HTTP address (default $NOMAD_ADDR, else "+defaultAddress+")")
	f.StringVar(&s.global.region, "region", "", "the region of the servers to ask (default $NOMAD_REGION, else the agent's own)")
	f.StringVar(&s.global.namespace, "namespace", "", "the namespace to work in (default $NOMAD_NAMESPACE, else default)")
	f.StringVar(&s.global.token, "token", "", "the ACL token to send (default $NOMAD_TOKEN)")
	f.BoolVar(&s.global.noColor, "no-color", false, "never color the output (also $NO_COLOR or $NOMAD_CLI_NO_COLOR)")
	f.BoolVar(&s.global.forceColor, "force-color", false, "color the output even when it is not a terminal (also $NOMAD_CLI_FORCE_COLOR)")
}

// setting is a global flag's value, else its environment variable.
func (s *streams) setting(flag, name string) string {
	if flag != "" {
		return flag
	}
	if v := s.getenv("DROVER_" + name); v != "" {
		return v
	}
	return s.getenv("NOMAD_" + name)
}

// apiClient is the official Go client of the Nomad-compatible API, set up
// from the global flags and the environment.
func (s *streams) apiClient() (*api.Client, error) {
	return s.apiClientAt(s.global.address)
}

// apiClientAt is apiClient for a given address ("" means the default).
func (s *streams) apiClientAt(addr string) (*api.Client, error) {
	addr = s.setting(addr, "ADDR")
	if addr == "" {
		addr = defaultAddress
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	cfg := api.DefaultConfig()
	cfg.Address = addr
	// Set even when empty: DefaultConfig reads the process environment,
	// which an in-process command with its own environment must not see.
	cfg.Region = s.setting(s.global.region, "REGION")
	cfg.Namespace = s.setting(s.global.namespace, "NAMESPACE")
	cfg.SecretID = s.setting(s.global.token, "TOKEN")
	return api.NewClient(cfg)
}

// ANSI styles. Formatters put them around headings and markers; colorize
// removes them again when the output is not to be coloured.
const (
	ansiBold   = "\x1b[1m"
	ansiGreen  = "\x1b[32m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiReset  = "\x1b[0m"
)

var ansiStyle = regexp.MustCompile("\x1b\\[[0-9;]*m")

// bold marks a heading.
func bold(text string) string { return ansiBold + text + ansiReset }

// colored wraps text in an ANSI colour.
func colored(color, text string) string { return color + text + ansiReset }

// colorEnabled tells whether output is coloured: on a terminal, unless
// -no-color, NO_COLOR or NOMAD_CLI_NO_COLOR says otherwise; -force-color
// or NOMAD_CLI_FORCE_COLOR colours a pipe too.
func (s *streams) colorEnabled() bool {
	if s.global.noColor || s.getenv("NO_COLOR") != "" || s.getenv("NOMAD_CLI_NO_COLOR") != "" {
		return false
	}
	if s.global.forceColor || s.getenv("NOMAD_CLI_FORCE_COLOR") != "" {
		return true
	}
	return isTerminal(s.Out)
}

// colorize returns text as it should be printed: with its styles when
// colour is on, without them otherwise. It is applied to what Drover
// formats, never to a task's own output.
func (s *streams) colorize(text string) string {
	if s.colorEnabled() {
		return text
	}
	return ansiStyle.ReplaceAllString(text, "")
}

// isTerminal reports whether w is a terminal; tests and pipes are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// colorDiff colours the markers of a job diff as the compatible CLI does:
// added green, deleted red, edited yellow.
func colorDiff(diff string) string {
	lines := strings.Split(diff, "\n")
	for i, l := range lines {
		body := strings.TrimLeft(l, " ")
		indent := l[:len(l)-len(body)]
		for _, m := range []struct{ marker, color string }{{"+/- ", ansiYellow}, {"+ ", ansiGreen}, {"- ", ansiRed}} {
			if strings.HasPrefix(body, m.marker) {
				lines[i] = indent + colored(m.color, strings.TrimSpace(m.marker)) + " " + body[len(m.marker):]
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}
