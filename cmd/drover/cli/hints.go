package cli

import (
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/nomad/api"
	"github.com/hashicorp/nomad/api/contexts"
	"github.com/spf13/cobra"
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

// jobUIPath is a job's page: /ui/jobs/<id>@<namespace>, the namespace
// always named, so that an ID with an "@" of its own is not read as one in
// another namespace.
func jobUIPath(id, namespace string) string {
	if namespace == "" {
		namespace = "default"
	}
	return "/ui/jobs/" + url.PathEscape(id) + "@" + url.PathEscape(namespace)
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

// newUICommand is "ui [id]": the address of the web UI, or of the page of
// the job, allocation, client or evaluation an ID (or a prefix of one)
// names, printed and opened in a browser.
func newUICommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "ui [id]",
		Short: "Open the web UI, or its page of a job, allocation, client or evaluation",
		Long: "Prints the address of the agent's web UI and opens it in a browser (xdg-open),\n" +
			"if there is one. With an ID or a prefix of one, opens the page of the job,\n" +
			"allocation, client node or evaluation it names (jobs in the CLI's namespace).",
		Example: "  drover ui\n  drover ui example\n  drover ui 6085301b",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes either no arguments or one: <id>"}
			}
			path := "/ui/jobs"
			if len(args) == 1 {
				client, err := s.apiClient()
				if err != nil {
					return fail(1, "Error initializing client: %v", err)
				}
				if path, err = uiPathOf(s, client, args[0]); err != nil {
					return err
				}
			}
			u := s.uiURL(path)
			fmt.Fprintf(s.Out, "Opening URL %q\n", u)
			openBrowser(u)
			return nil
		},
	}
}

// uiPathOf is the web UI page of what id names, found by a prefix search.
func uiPathOf(s *streams, client *api.Client, id string) (string, error) {
	ctxs := []contexts.Context{contexts.Jobs, contexts.Allocs, contexts.Nodes, contexts.Evals}
	matches := map[contexts.Context][]string{}
	for _, ctx := range ctxs {
		res, _, err := client.Search().PrefixSearch(id, ctx, nil)
		if err != nil {
			return "", fail(1, "Error searching for ID %q: %v", id, err)
		}
		matches[ctx] = res.Matches[ctx]
	}
	ctx, fullID, ok := resolveSearch(id, matches)
	if !ok {
		if ctx == "" {
			return "", fail(1, "No job, allocation, node or evaluation with prefix or ID %q found", id)
		}
		return "", fail(1, "%s", formatSearchMatches(id, matches))
	}
	switch ctx {
	case contexts.Jobs:
		return jobUIPath(fullID, s.setting(s.global.namespace, "NAMESPACE")), nil
	case contexts.Allocs:
		return allocUIPath(fullID), nil
	case contexts.Nodes:
		return nodeUIPath(fullID), nil
	default:
		return evalUIPath(fullID), nil
	}
}
