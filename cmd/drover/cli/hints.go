package cli

import (
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Web UI hints: after a command that shows a job, an allocation, a client,
// evaluations, deployments or the servers, the CLI names the web UI page
// that shows the same thing, on stderr so that stdout stays what scripts
// read:
//
//	==> View this job in the Web UI: http://127.0.0.1:4646/ui/jobs/example
//
// A hint is printed only when the agent the CLI talks to serves its UI
// (config.UI.Enabled in /v1/agent/self) and hints are on: NOMAD_CLI_SHOW_HINTS
// (or DROVER_CLI_SHOW_HINTS), read as a bool, decides when set; unset, the
// agent's ui { show_cli_hints } does. The agent is asked once per command
// run, and a failed question means no hint.

// uiInfo is what the agent told about its web UI.
type uiInfo struct {
	once sync.Once
	// ok: the agent answered and serves the UI.
	ok bool
	// showHints is the agent's ui { show_cli_hints }.
	showHints bool
}

// agentUI asks the agent about its web UI, once per command run.
func (s *streams) agentUI() *uiInfo {
	u := &s.ui
	u.once.Do(func() {
		client, err := s.apiClient()
		if err != nil {
			return
		}
		self, err := client.Agent().Self()
		if err != nil || self == nil {
			return
		}
		cfg, _ := self.Config["UI"].(map[string]interface{})
		enabled, _ := cfg["Enabled"].(bool)
		show, isSet := cfg["ShowCLIHints"].(bool)
		u.ok = enabled
		u.showHints = show || !isSet
	})
	return u
}

// hintsSetting is NOMAD_CLI_SHOW_HINTS read as a bool; set is false when
// the variable is unset or not a bool, and the agent's setting decides.
func (s *streams) hintsSetting() (on, set bool) {
	v := strings.TrimSpace(s.setting("", "CLI_SHOW_HINTS"))
	if v == "" {
		return false, false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, false
	}
	return b, true
}

// uiURL is the address of a web UI page at the agent the CLI talks to;
// path starts with "/ui".
func (s *streams) uiURL(path string) string {
	addr := defaultAddress
	if cfg, err := s.apiConfigAt(s.global.address); err == nil {
		addr = cfg.Address
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimRight(addr, "/") + path
}

// uiHint prints the web UI hint for a page ("View this job", path) on
// stderr, when the agent serves its UI and hints are on.
func (s *streams) uiHint(desc, path string) {
	on, set := s.hintsSetting()
	if set && !on {
		return
	}
	u := s.agentUI()
	if !u.ok || (!set && !u.showHints) {
		return
	}
	fmt.Fprintf(s.Err, "\n\n==> %s in the Web UI: %s\n", desc, s.uiURL(path))
}

// uiShow is what a command that shows a page does at its end: with -ui
// (open), print the page's address and open it in a browser, whatever the
// hint settings; otherwise print the hint if hints are on.
func (s *streams) uiShow(desc, path string, open bool) {
	if !open {
		s.uiHint(desc, path)
		return
	}
	if !s.agentUI().ok {
		fmt.Fprintln(s.Err, "==> The agent does not serve the web UI (ui { enabled = false }, or it could not be asked): -ui is ignored")
		return
	}
	u := s.uiURL(path)
	fmt.Fprintf(s.Err, "==> %s in the Web UI: %s\n", desc, u)
	openBrowser(u)
}

// openBrowser opens a URL with xdg-open (open on macOS) when there is
// one, without waiting for it and ignoring any failure: the address is
// printed anyway. Tests replace it.
var openBrowser = func(u string) {
	for _, name := range []string{"xdg-open", "open"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		cmd := exec.Command(path, u)
		if cmd.Start() == nil {
			go cmd.Wait()
		}
		return
	}
}

// UI pages, as the agent's web UI routes them.

// jobUIPath is a job's page: /ui/jobs/<id>, with @<namespace> outside the
// default namespace.
func jobUIPath(id, namespace string) string {
	key := url.PathEscape(id)
	if namespace != "" && namespace != "default" {
		key += "@" + url.PathEscape(namespace)
	}
	return "/ui/jobs/" + key
}

func allocUIPath(id string) string { return "/ui/allocations/" + url.PathEscape(id) }
func nodeUIPath(id string) string  { return "/ui/clients/" + url.PathEscape(id) }
func evalUIPath(id string) string  { return "/ui/evaluations/" + url.PathEscape(id) }

// The hints' words, one per page.
const (
	hintJob         = "View this job"
	hintJobs        = "View and manage jobs"
	hintAlloc       = "View this allocation"
	hintNode        = "View this client"
	hintNodes       = "View and manage clients"
	hintEvals       = "View evaluations"
	hintEval        = "View this evaluation"
	hintDeployments = "View this job's deployments"
	hintServers     = "View and manage servers"
)
