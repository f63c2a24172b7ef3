package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/spf13/cobra"

	"drover/agent"
	"drover/kit/labpki"
	"drover/labs"
)

func newLabCommand(s *streams) *cobra.Command {
	return group("lab", "Work through the guided labs",
		"  drover lab list\n  drover lab start getting-started\n  drover lab check\n  drover lab run all",
		newLabListCommand(s),
		newLabStartCommand(s),
		newLabShowCommand(s),
		newLabCheckCommand(s),
		newLabHintCommand(s),
		newLabSolveCommand(s),
		newLabNextCommand(s),
		newLabResetCommand(s),
		newLabStopCommand(s),
		newLabRunCommand(s),
		newLabPullCommand(s),
		newLabImagesCommand(s),
		newLabAgentCommand(s),
		newLabServeCommand(s),
		newLabStandInCommand(s),
	)
}

// labCacheDir is where pulled packs live.
func (s *streams) labCacheDir() string {
	if d := s.getenv("DROVER_LAB_CACHE"); d != "" {
		return d
	}
	if d := s.getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "drover", "labs")
	}
	home := s.getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".cache", "drover", "labs")
}

// packLabs parses every pulled pack's labs.
func (s *streams) packLabs() ([]*labs.Lab, error) {
	packs, err := listPacks(s.labCacheDir())
	if err != nil {
		return nil, err
	}
	var out []*labs.Lab
	for _, p := range packs {
		l, err := labs.ParseDir(p.Dir, p.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

func (s *streams) findLab(name string) (*labs.Lab, error) {
	packs, err := s.packLabs()
	if err != nil {
		return nil, err
	}
	return labs.Find(name, packs)
}

func newLabListCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the labs, the packs and your progress",
		Example: "  drover lab list",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			builtin, err := labs.Builtin()
			if err != nil {
				return fail(1, "Error reading labs: %v", err)
			}
			packLabs, err := s.packLabs()
			if err != nil {
				return fail(1, "Error reading lab packs: %v", err)
			}
			var progress *labs.Progress
			if ws, err := labs.FindWorkspace("."); err == nil {
				progress, _ = labs.LoadProgress(ws)
			}
			rows := []string{"Name|Steps|Progress|Title"}
			all := append(builtin, packLabs...)
			width := 0
			for _, l := range all {
				if n := len(l.ID()); n > width {
					width = n
				}
			}
			for _, l := range all {
				p := "-"
				if progress != nil && progress.Lab == l.ID() {
					p = fmt.Sprintf("step %d/%d", progress.Step+1, len(l.Steps))
				}
				// The title gets what is left of 80 columns.
				rows = append(rows, fmt.Sprintf("%s|%d|%s|%s", l.ID(), len(l.Steps), p, clipTitle(l.Title, 80-width-2-7-11)))
			}
			fmt.Fprintln(s.Out, formatList(rows))
			packs, err := listPacks(s.labCacheDir())
			if err != nil {
				return fail(1, "Error reading lab packs: %v", err)
			}
			if len(packs) > 0 {
				rows = []string{"Pack|Commit|Ref|Source"}
				for _, p := range packs {
					ref := p.Ref
					if ref == "" {
						ref = "HEAD"
					}
					rows = append(rows, fmt.Sprintf("%s|%s|%s|%s", p.Name, shortCommit(p.Commit), ref, p.URL))
				}
				fmt.Fprintf(s.Out, "\nPacks (in %s)\n%s\n", s.labCacheDir(), formatList(rows))
			}
			return nil
		},
	}
}

func clipTitle(s string, n int) string {
	if n < 10 {
		n = 10
	}
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// labEnv is the environment a lab's commands run with: the cluster's
// address and the workspace, so "drover lab agent" finds its cluster.
// pki is the directory of the embedded cluster's lab CA and CLI
// certificate when it serves HTTPS ("" otherwise): the commands present
// that certificate.
func labEnv(s *streams, addr, workspace, pki string) []string {
	base := s.Env
	if base == nil {
		base = os.Environ()
	}
	// The lab's cluster wins over an address already in the environment,
	// and TLS flags given to the lab command over TLS variables.
	tls := s.tlsEnv()
	if pki != "" {
		tls = labTLSEnv(pki)
	}
	// The lab records what its commands print, stderr too: no web UI
	// hints in its transcripts.
	set := append([]string{"DROVER_ADDR=" + addr, "DROVER_LAB_DIR=" + workspace, "NOMAD_CLI_SHOW_HINTS=false"}, tls...)
	return withEnv(withEnv(base, []string{"NOMAD_ADDR="}), set)
}

// withEnv is env with the settings of set in place of its own: the first
// of two settings is the one read, so the old ones are dropped, and a
// NOMAD_ variable's DROVER_ twin, which is read before it, too.
func withEnv(env, set []string) []string {
	if len(set) == 0 {
		return env
	}
	var drop []string
	for _, kv := range set {
		name, _, _ := strings.Cut(kv, "=")
		drop = append(drop, name+"=", "DROVER_"+strings.TrimPrefix(name, "NOMAD_")+"=")
	}
	var out []string
	for _, kv := range env {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// labTLSEnv is the TLS environment of a lab cluster's CLI certificate,
// made in pki with its lab CA, as the kit's .drover/pki holds them.
func labTLSEnv(pki string) []string {
	return []string{
		"NOMAD_CACERT=" + filepath.Join(pki, labpki.CAFile),
		"NOMAD_CLIENT_CERT=" + filepath.Join(pki, labpki.CLIFile),
		"NOMAD_CLIENT_KEY=" + filepath.Join(pki, labpki.CLIKeyFile),
	}
}

// labClient is the API client of a lab's cluster: the CLI's own settings,
// with the cluster's CLI certificate when pki is set.
func labClient(s *streams, addr, pki string) (*api.Client, error) {
	cfg, err := s.apiConfigAt(addr)
	if err != nil {
		return nil, err
	}
	if pki != "" {
		cfg.TLSConfig = &api.TLSConfig{CACert: filepath.Join(pki, labpki.CAFile),
			ClientCert: filepath.Join(pki, labpki.CLIFile), ClientKey: filepath.Join(pki, labpki.CLIKeyFile)}
	}
	return api.NewClient(cfg)
}

// LabTokenFile is where a lab with security = "acl" keeps the management
// token of the cluster it bootstrapped, in its workspace, as the kit's
// server keeps its own in /etc/drover.d/bootstrap.token.
const LabTokenFile = "bootstrap.token"

// labBootstrap returns the management token of a lab with ACLs and
// keeps it in the workspace's bootstrap.token, readable by its owner
// alone. On the embedded cluster it bootstraps ACLs; a cluster that kept
// its state across a "lab stop" was bootstrapped already, and its token
// is the one kept. On a cluster given by -address, the token is the one
// the client was given (NOMAD_TOKEN).
func labBootstrap(s *streams, client *api.Client, dir string, external bool) (string, error) {
	keep := func(tok string) (string, error) {
		return tok, os.WriteFile(filepath.Join(dir, LabTokenFile), []byte(tok+"\n"), 0o600)
	}
	if external {
		tok := s.setting(s.global.token, "TOKEN")
		if tok == "" {
			return "", fmt.Errorf("this lab needs the cluster's management token: export NOMAD_TOKEN (drover cluster up and the kit's provisioning print it)")
		}
		return keep(tok)
	}
	// A token of the environment is not the new cluster's: the agent
	// would refuse the request for it.
	client.SetSecretID("")
	deadline := time.Now().Add(time.Minute)
	for {
		tok, _, err := client.ACLTokens().Bootstrap(nil)
		if err == nil {
			return keep(tok.SecretID)
		}
		if strings.Contains(err.Error(), "ACL bootstrap already done") {
			if kept := labKeptToken(dir); kept != "" {
				return kept, nil
			}
			return "", fmt.Errorf("the lab's cluster was bootstrapped already and %s holds no token: \"drover lab stop\", remove %s and start the lab again",
				filepath.Join(dir, LabTokenFile), filepath.Join(dir, ".drover-lab"))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("acl bootstrap: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// labKeptToken is the management token kept in a workspace, or "".
func labKeptToken(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, LabTokenFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// withoutToken drops the token variables: a lab about ACLs starts as an
// anonymous user, whatever the shell had exported.
func withoutToken(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "NOMAD_TOKEN=") && !strings.HasPrefix(kv, "DROVER_TOKEN=") {
			out = append(out, kv)
		}
	}
	return out
}

// labRunner runs drover commands in-process, as the learner types them.
func labRunner(env []string) labs.CommandFunc {
	return func(ctx context.Context, args, set []string, stdout, stderr io.Writer) int {
		return MainContext(ctx, args, stdout, stderr, withEnv(env, set))
	}
}

func newLabRunCommand(s *streams) *cobra.Command {
	var addr, record, golden string
	var asJSON, verbose bool
	c := &cobra.Command{
		Use:   "run <lab|all>",
		Short: "Play every solution and every check of a lab",
		Long: "Plays a lab for instructors and regression: every step's solution (the commands a\n" +
			"student types, and file edits), then every check, one progress line per step and a\n" +
			"summary table; the exit status is 1 if any check fails. Without -address the lab\n" +
			"runs on an embedded cluster (a dev agent, or a server and two clients) stopped at\n" +
			"the end. A lab first purges its own jobs, so it replays on a lasting cluster, and\n" +
			"leaves nothing running.\n\n" +
			"-record DIR writes each lab's transcript to DIR/<lab>.txt with IDs, times, ports\n" +
			"and indexes replaced by placeholders; -golden DIR compares with those and prints\n" +
			"a unified diff.",
		Example: "  drover lab run getting-started\n  drover lab run -golden labs/golden getting-started\n" +
			"  drover lab run -address http://192.168.56.101:4646 all",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <lab> or all"}
			}
			var todo []*labs.Lab
			if args[0] == "all" {
				var err error
				if todo, err = labs.Builtin(); err != nil {
					return fail(1, "Error: %v", err)
				}
			} else {
				lab, err := s.findLab(args[0])
				if err != nil {
					return fail(1, "Error: %v", err)
				}
				todo = []*labs.Lab{lab}
			}
			var reports []*labs.Report
			failed := 0
			for _, lab := range todo {
				rep, err := playLab(c.Context(), s, lab, addr, c.Flags().Changed("address"), record, golden, verbose && !asJSON, asJSON)
				if err != nil {
					fmt.Fprintf(s.Err, "Error: %s: %v\n", lab.ID(), err)
					failed++
					rep = &labs.Report{Lab: lab.ID()}
				} else if !rep.OK {
					failed++
				}
				reports = append(reports, rep)
			}
			if asJSON {
				b, _ := json.MarshalIndent(reports, "", "  ")
				fmt.Fprintln(s.Out, string(b))
			} else {
				rows := []string{"Lab|Steps|Result|Time"}
				for _, r := range reports {
					result := "passed"
					if !r.OK {
						result = "FAILED"
						for _, st := range r.Steps {
							if !st.OK {
								result = "FAILED at " + st.ID
							}
						}
					}
					total := len(r.Steps)
					if l, err := s.findLab(r.Lab); err == nil {
						total = len(l.Steps)
					}
					rows = append(rows, fmt.Sprintf("%s|%d/%d|%s|%.0fs", r.Lab, passedSteps(r), total, result, r.Duration.Seconds()))
				}
				fmt.Fprintf(s.Out, "\n%s\n", formatList(rows))
			}
			if failed > 0 {
				return fail(1, "%d of %d lab(s) failed", failed, len(todo))
			}
			return nil
		},
	}
	labAddressFlag(c, &addr)
	c.Flags().StringVar(&record, "record", "", "write normalised transcripts to this directory")
	c.Flags().StringVar(&golden, "golden", "", "compare transcripts with the ones in this directory")
	c.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	c.Flags().BoolVar(&verbose, "verbose", false, "print the whole transcript, not one line per step")
	return c
}

func passedSteps(r *labs.Report) int {
	n := 0
	for _, st := range r.Steps {
		if st.OK {
			n++
		}
	}
	return n
}

// playLab plays one lab in a fresh workspace.
func playLab(ctx context.Context, s *streams, lab *labs.Lab, addr string, external bool, record, golden string, verbose, quiet bool) (*labs.Report, error) {
	dir, err := os.MkdirTemp("", "drover-lab-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	progressOut := s.Out
	if quiet {
		progressOut = io.Discard
	}
	standIns, imageNote, err := labImages(ctx, lab, !external)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progressOut, "==> Lab %s: %s\n", lab.ID(), lab.Title)
	if imageNote != "" {
		fmt.Fprintf(progressOut, "    %s\n", imageNote)
	}
	progress := &labs.Progress{Lab: lab.ID(), Started: time.Now().UTC(), StandIns: standIns}
	agents := map[string]string{}
	pki := ""
	if !external {
		sec, err := labSecurityOf(lab.Security)
		if err != nil {
			return nil, err
		}
		cluster, err := startSecureLabCluster(filepath.Join(dir, ".drover-lab"), lab.Topology, 0, standIns, sec)
		if err != nil {
			return nil, fmt.Errorf("starting the embedded cluster: %w", err)
		}
		defer cluster.Shutdown()
		control, err := cluster.Serve()
		if err != nil {
			return nil, err
		}
		addr, agents = cluster.Addr(), cluster.Agents()
		if sec.TLS {
			pki = cluster.PKIDir()
		}
		progress.Embedded = &labs.ClusterInfo{PID: os.Getpid(), Control: control, Agents: agents, PKI: pki}
		fmt.Fprintf(progressOut, "    embedded cluster: %s (logs in %s)\n", describeAgents(agents), filepath.Join(dir, ".drover-lab"))
	} else if addr == "" {
		addr = s.getenv("DROVER_ADDR")
	}
	if addr == "" {
		addr = defaultAddress
	}
	progress.Address = addr
	if err := progress.Save(dir); err != nil {
		return nil, err
	}
	client, err := labClient(s, addr, pki)
	if err != nil {
		return nil, err
	}
	env := labEnv(s, addr, dir, pki)
	mgmt := ""
	if lab.Security != labs.SecurityNone {
		if mgmt, err = labBootstrap(s, client, dir, external); err != nil {
			return nil, err
		}
		client.SetSecretID(mgmt)
		env = withoutToken(env)
	}
	if err := waitNodesReady(client, labClients(lab), time.Minute); err != nil {
		return nil, err
	}
	sess := &labs.Session{Lab: lab, Client: client, Dir: dir, Agents: agents, ManagementToken: mgmt,
		Run: inDir(dir, labRunner(env))}
	if err := sess.CleanJobs(); err != nil {
		return nil, err
	}
	if err := sess.WriteFiles(); err != nil {
		return nil, err
	}
	var transcript bytes.Buffer
	fmt.Fprintf(&transcript, "== Lab: %s\n%s\n", lab.Title, lab.Description)
	if imageNote != "" {
		fmt.Fprintf(&transcript, "== %s\n", imageNote)
	}
	tw := io.Writer(&transcript)
	if verbose {
		tw = io.MultiWriter(&transcript, s.Out)
	}
	player := &labs.Player{Session: sess, Transcript: tw, Progress: progressOut}
	rep := player.Play(ctx, 0)
	for _, st := range rep.Steps {
		if !st.OK {
			fmt.Fprintf(s.Err, "    %s\n", st.Error)
		}
	}
	// Leave nothing running, whatever happened.
	if err := sess.CleanJobs(); err != nil {
		fmt.Fprintf(s.Err, "    cleaning up: %v\n", err)
	}
	text := labs.NewNormalizer().Normalize(transcript.String())
	name := strings.ReplaceAll(lab.ID(), "/", "_") + ".txt"
	if record != "" {
		if err := os.MkdirAll(record, 0o755); err != nil {
			return rep, err
		}
		if err := os.WriteFile(filepath.Join(record, name), []byte(text), 0o644); err != nil {
			return rep, err
		}
		fmt.Fprintf(progressOut, "    transcript: %s\n", filepath.Join(record, name))
	}
	if golden != "" {
		want, err := os.ReadFile(filepath.Join(golden, name))
		if err != nil {
			return rep, fmt.Errorf("golden transcript: %w", err)
		}
		if d := diff.Diff(filepath.Join(golden, name), want, "this run", []byte(text)); d != nil {
			fmt.Fprintf(s.Out, "    the transcript differs from %s:\n%s", filepath.Join(golden, name), d)
			rep.OK = false
		} else {
			fmt.Fprintf(progressOut, "    transcript matches %s\n", filepath.Join(golden, name))
		}
	}
	return rep, nil
}

func describeAgents(agents map[string]string) string {
	if a, ok := agents["agent"]; ok {
		return "a dev agent at " + a
	}
	return fmt.Sprintf("server at %s, client-one, client-two", agents["server"])
}

// labClients is how many ready client nodes a lab needs.
func labClients(lab *labs.Lab) int {
	if lab.Topology == labs.TopologyDev {
		return 1
	}
	return 2
}

// inDir runs commands with the working directory set to dir, as a
// student's shell in the workspace would.
func inDir(dir string, run labs.CommandFunc) labs.CommandFunc {
	return func(ctx context.Context, args, env []string, stdout, stderr io.Writer) int {
		prev, err := os.Getwd()
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := os.Chdir(dir); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.Chdir(prev)
		return run(ctx, args, env, stdout, stderr)
	}
}

// waitNodesReady waits until n client nodes are ready.
func waitNodesReady(client *api.Client, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		nodes, _, err := client.Nodes().List(nil)
		ready := 0
		if err == nil {
			for _, node := range nodes {
				if node.Status == "ready" {
					ready++
				}
			}
		}
		if ready >= n {
			return nil
		}
		if isTLSError(err) {
			// Waiting does not make a certificate trusted.
			return fmt.Errorf("the cluster does not answer: %v (check -ca-cert, -client-cert and -client-key, or NOMAD_CACERT, NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY)", err)
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("the cluster does not answer: %v", err)
			}
			return fmt.Errorf("%d of %d client nodes ready after %s", ready, n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isTLSError tells a failed TLS handshake (an untrusted or missing
// certificate, or HTTP spoken to HTTPS) from a cluster still starting.
func isTLSError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "x509: ") || strings.Contains(msg, "tls: ") ||
		strings.Contains(msg, "HTTP response to HTTPS client")
}

// stopEmbedded stops an embedded agent and the tasks it runs: a lab
// leaves nothing behind.
func stopEmbedded(a *agent.Agent) {
	if c := a.Client(); c != nil {
		c.Stop()
	}
	a.Shutdown()
}

// labAddressFlag is the lab commands' own -address: naming an agent there
// means working against that cluster instead of an embedded one.
func labAddressFlag(c *cobra.Command, addr *string) {
	c.Flags().StringVar(addr, "address", "", "work against the cluster of this agent's HTTP address instead of an embedded one")
}
