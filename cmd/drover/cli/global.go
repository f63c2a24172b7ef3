package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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

	// TLS for an agent whose API is HTTPS (tls { http = true }).
	caCert        string
	caPath        string
	clientCert    string
	clientKey     string
	tlsServerName string
	tlsSkipVerify bool
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
	f.StringVar(&s.global.caCert, "ca-cert", "", "a PEM CA certificate to verify the agent's HTTPS certificate with (default $NOMAD_CACERT)")
	f.StringVar(&s.global.caPath, "ca-path", "", "a directory of PEM CA certificates, used when -ca-cert is not given (default $NOMAD_CAPATH)")
	f.StringVar(&s.global.clientCert, "client-cert", "", "a PEM client certificate to present to the agent; needs -client-key (default $NOMAD_CLIENT_CERT)")
	f.StringVar(&s.global.clientKey, "client-key", "", "the PEM private key of -client-cert (default $NOMAD_CLIENT_KEY)")
	f.StringVar(&s.global.tlsServerName, "tls-server-name", "", "the name to verify the agent's certificate against instead of the address's host (default $NOMAD_TLS_SERVER_NAME)")
	f.BoolVar(&s.global.tlsSkipVerify, "tls-skip-verify", false, "do not verify the agent's certificate: insecure, for testing only (also $NOMAD_SKIP_VERIFY)")
}

// tlsSettings is the TLS the CLI talks to agents with: the global flags,
// else their environment variables. All empty means the defaults of plain
// HTTPS (the system's CAs).
func (s *streams) tlsSettings() (*api.TLSConfig, error) {
	cfg := &api.TLSConfig{
		CACert:        s.setting(s.global.caCert, "CACERT"),
		CAPath:        s.setting(s.global.caPath, "CAPATH"),
		ClientCert:    s.setting(s.global.clientCert, "CLIENT_CERT"),
		ClientKey:     s.setting(s.global.clientKey, "CLIENT_KEY"),
		TLSServerName: s.setting(s.global.tlsServerName, "TLS_SERVER_NAME"),
		Insecure:      s.global.tlsSkipVerify,
	}
	if v := s.setting("", "SKIP_VERIFY"); v != "" && !cfg.Insecure {
		skip, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("NOMAD_SKIP_VERIFY=%q is not a boolean (true or false)", v)
		}
		cfg.Insecure = skip
	}
	if (cfg.ClientCert == "") != (cfg.ClientKey == "") {
		return nil, errors.New("-client-cert and -client-key must be given together (or NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY)")
	}
	// Read the files here, so that a wrong path is reported as such and
	// not as a failed connection.
	for _, f := range []struct{ flag, path string }{
		{"-ca-cert", cfg.CACert}, {"-client-cert", cfg.ClientCert}, {"-client-key", cfg.ClientKey},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	return cfg, nil
}

// tlsEnv is the environment that carries the CLI's TLS flags to commands
// it runs itself (a lab's steps), so they reach the same agent the same way.
func (s *streams) tlsEnv() []string {
	var env []string
	for _, kv := range []struct{ name, flag string }{
		{"NOMAD_CACERT", s.global.caCert}, {"NOMAD_CAPATH", s.global.caPath},
		{"NOMAD_CLIENT_CERT", s.global.clientCert}, {"NOMAD_CLIENT_KEY", s.global.clientKey},
		{"NOMAD_TLS_SERVER_NAME", s.global.tlsServerName},
	} {
		if kv.flag != "" {
			if abs, err := filepath.Abs(kv.flag); err == nil && kv.name != "NOMAD_TLS_SERVER_NAME" {
				kv.flag = abs
			}
			env = append(env, kv.name+"="+kv.flag)
		}
	}
	if s.global.tlsSkipVerify {
		env = append(env, "NOMAD_SKIP_VERIFY=true")
	}
	return env
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
	cfg, err := s.apiConfigAt(addr)
	if err != nil {
		return nil, err
	}
	return api.NewClient(cfg)
}

// apiConfigAt is the client configuration apiClientAt uses.
func (s *streams) apiConfigAt(addr string) (*api.Config, error) {
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
	tlsCfg, err := s.tlsSettings()
	if err != nil {
		return nil, err
	}
	cfg.TLSConfig = tlsCfg
	return cfg, nil
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
