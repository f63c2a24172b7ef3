package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"drover/labs"
)

// workspace is a learner's lab in progress: its directory, progress and
// the session that checks it.
type workspace struct {
	dir      string
	progress *labs.Progress
	lab      *labs.Lab
	sess     *labs.Session
	out      *labOut
	// errOut is stderr, for the one line that says progress was not
	// published.
	errOut io.Writer
}

// openWorkspace finds the workspace holding the current directory (or
// $DROVER_LAB_DIR) whose cluster runs.
func openWorkspace(s *streams) (*workspace, error) {
	w, err := openAnyWorkspace(s)
	if err != nil {
		return nil, err
	}
	if e := w.progress.Embedded; e != nil && !processAlive(e.PID) {
		return nil, fmt.Errorf("the lab's cluster is not running (stopped by \"drover lab stop\", or the machine restarted): \"drover lab start -dir %s %s\" starts the lab again", w.dir, w.lab.ID())
	}
	return w, nil
}

// openAnyWorkspace is openWorkspace whether its cluster runs or not.
func openAnyWorkspace(s *streams) (*workspace, error) {
	start := s.getenv("DROVER_LAB_DIR")
	if start == "" {
		start = "."
	}
	dir, err := labs.FindWorkspace(start)
	if err != nil {
		return nil, err
	}
	p, err := labs.LoadProgress(dir)
	if err != nil {
		return nil, err
	}
	lab, err := s.findLab(p.Lab)
	if err != nil {
		return nil, err
	}
	return newWorkspace(s, dir, p, lab)
}

func newWorkspace(s *streams, dir string, p *labs.Progress, lab *labs.Lab) (*workspace, error) {
	client, err := labClient(s, p.Address, p.PKI())
	if err != nil {
		return nil, err
	}
	if p.Vars == nil {
		p.Vars = map[string]string{}
	}
	var agents map[string]string
	if p.Embedded != nil {
		agents = p.Embedded.Agents
	}
	env := labEnv(s, p.Address, dir, p.PKI())
	mgmt := ""
	if lab.Security != labs.SecurityNone {
		// Checks and solutions act with the token the lab gives them, not
		// with whatever the learner's shell exported last.
		env = withoutToken(env)
		if mgmt = labKeptToken(dir); mgmt != "" {
			client.SetSecretID(mgmt)
		}
	}
	sess := &labs.Session{Lab: lab, Client: client, Dir: dir, Agents: agents, Vars: p.Vars, ManagementToken: mgmt,
		Run: inDir(dir, labRunner(env))}
	return &workspace{dir: dir, progress: p, lab: lab, sess: sess, out: newLabOut(s), errOut: s.Err}, nil
}

func (w *workspace) save() error { return w.progress.Save(w.dir) }

func (w *workspace) step() *labs.Step {
	if w.progress.Step >= len(w.lab.Steps) {
		return nil
	}
	return w.lab.Steps[w.progress.Step]
}

// show prints the current step, as "lab show" does.
func (w *workspace) show() {
	o := w.out
	step := w.step()
	if step == nil {
		o.line(fmt.Sprintf("Lab %s is complete. \"drover lab stop\" stops its cluster; \"drover lab reset 1\" starts over.", w.lab.ID()))
		return
	}
	o.printf("%s\n", o.bold(labs.Fold(fmt.Sprintf("Step %d/%d: %s", w.progress.Step+1, len(w.lab.Steps), step.Title), labWidth, "  ")))
	o.printf("\n%s\n", o.wrap(w.sess.Display(step.Instructions), "  "))
	if len(step.Commands) > 0 {
		o.printf("\nType:\n")
		for _, c := range step.Commands {
			o.printf("  %s\n", w.sess.Display(c))
		}
	}
	o.printf("\nThen \"drover lab check\". Stuck? \"drover lab hint\", or \"drover lab solve\".\n")
}

// check runs the current step's checks, waiting up to wait for each, and
// prints them; it reports whether all passed.
func (w *workspace) check(ctx context.Context, wait time.Duration) bool {
	step := w.step()
	o := w.out
	ok := true
	o.line(fmt.Sprintf("Step %d/%d: %s", w.progress.Step+1, len(w.lab.Steps), step.Title))
	var results []labs.Result
	defer func() { w.recordResults(step.ID, results) }()
	for _, c := range step.Checks {
		d := wait
		if c.Wait < d {
			d = c.Wait
		}
		r := w.sess.Check(ctx, c, d)
		results = append(results, r)
		if r.OK {
			o.printf("  %s %s\n", o.green("✓"), o.wrapHanging(r.Want, 4))
			continue
		}
		ok = false
		o.printf("  %s expected: %s\n", o.red("✗"), o.wrapHanging(r.Want, 14))
		o.printf("    observed: %s\n", o.wrapHanging(r.Observed, 14))
	}
	if ok {
		o.printf("\n%s\n", o.wrap("Why: "+step.Why, ""))
		if w.progress.Done == nil {
			w.progress.Done = map[string]bool{}
		}
		w.progress.Done[step.ID] = true
		if w.progress.Step+1 < len(w.lab.Steps) {
			o.printf("\nStep done. \"drover lab next\" goes on.\n")
		} else {
			o.printf("\nLab %s complete. \"drover lab stop\" stops its cluster.\n", w.lab.ID())
		}
	} else {
		o.printf("\n%s\n", o.wrap("What should happen: "+step.Why, ""))
		o.line("\nNot yet. \"drover lab hint\" gives a hint; \"drover lab check\" again when you have tried.")
	}
	return ok
}

// learnerWait is how long lab check waits for each condition: long
// enough for a placement, short enough for a check that will not pass.
const learnerWait = 5 * time.Second

func newLabStartCommand(s *streams) *cobra.Command {
	var addr, dir string
	var httpPort int
	c := &cobra.Command{
		Use:   "start <lab>",
		Short: "Start a lab: a workspace with its files and a cluster to work on",
		Long: "Creates the lab's workspace (the directory -dir, by default ./<lab>) with the\n" +
			"files the lab hands you, and the cluster it needs: without -address, an embedded\n" +
			"cluster that keeps running in the background (a dev agent, or a server with the\n" +
			"clients client-one and client-two) until \"drover lab stop\"; with -address, the\n" +
			"kit's cluster. The lab's own jobs are purged first, so it starts clean. Your\n" +
			"progress is saved in the workspace.",
		Example: "  drover lab start getting-started\n  drover lab start -address http://192.168.56.101:4646 cluster-ops",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: <lab>"}
			}
			lab, err := s.findLab(args[0])
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if dir == "" {
				dir = lab.Name
			}
			if dir, err = filepath.Abs(dir); err != nil {
				return fail(1, "Error: %v", err)
			}
			if old, err := labs.LoadProgress(dir); err == nil && old.Embedded != nil && processAlive(old.Embedded.PID) {
				return fail(1, "Error: %s already holds lab %s with its cluster running: \"drover lab stop\" there first", dir, old.Lab)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fail(1, "Error: %v", err)
			}
			p := &labs.Progress{Lab: lab.ID(), Started: time.Now().UTC(), Address: addr}
			external := c.Flags().Changed("address")
			standIns, note, err := labImages(c.Context(), lab, !external)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			p.StandIns = standIns
			if !external {
				info, err := spawnLabCluster(s, dir, lab.Topology, lab.Security, httpPort, standIns)
				if err != nil {
					return fail(1, "Error starting the lab's cluster: %v", err)
				}
				p.Embedded, p.Address = info, info.Agents[firstAgent(lab)]
			} else if p.Address == "" {
				p.Address = defaultAddress
			}
			if err := p.Save(dir); err != nil {
				return fail(1, "Error: %v", err)
			}
			if lab.Security != labs.SecurityNone {
				client, err := labClient(s, p.Address, p.PKI())
				if err != nil {
					return fail(1, "Error: %v", err)
				}
				if _, err := labBootstrap(s, client, dir, external); err != nil {
					return fail(1, "Error: %v", err)
				}
			}
			w, err := newWorkspace(s, dir, p, lab)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if err := waitNodesReady(w.sess.Client, labClients(lab), time.Minute); err != nil {
				return fail(1, "Error: %v", err)
			}
			if err := w.sess.CleanJobs(); err != nil {
				return fail(1, "Error: %v", err)
			}
			if err := w.sess.WriteFiles(); err != nil {
				return fail(1, "Error: %v", err)
			}
			o := w.out
			o.printf("%s\n\n%s\n\n", o.bold(labs.Fold(fmt.Sprintf("Lab %s: %s", lab.ID(), lab.Title), labWidth, "  ")), o.wrap(lab.Description, ""))
			if p.Embedded != nil {
				o.line(fmt.Sprintf("Cluster: %s, running in the background.", describeAgents(p.Embedded.Agents)))
			} else {
				o.line("Cluster: " + p.Address)
			}
			for _, l := range strings.Split(note, "\n") {
				if l != "" {
					o.line(l)
				}
			}
			o.line("Workspace: " + dir + "\n")
			if lab.Security != labs.SecurityNone {
				on := "ACLs are on."
				if p.PKI() != "" {
					on = "ACLs and mutual TLS are on: the API is HTTPS, for clients with a certificate of the lab's CA (the exports below give yours)."
				}
				o.printf("%s\n\n", o.wrap(fmt.Sprintf("%s The management token, which can do everything, is kept in "+
					"%s (readable by you alone): the lab says when to use it.", on, filepath.Join(dir, LabTokenFile)), ""))
			}
			o.printf("In another terminal, or here:\n  cd %s\n", dir)
			if p.Address != defaultAddress {
				o.printf("  export DROVER_ADDR=%s\n", p.Address)
			}
			if pki := p.PKI(); pki != "" {
				// The student has just cd'ed into the workspace: $PWD
				// keeps the lines short and the variables absolute.
				for _, kv := range labTLSEnv(pki) {
					if rel, err := filepath.Rel(dir, kv[strings.Index(kv, "=")+1:]); err == nil && !strings.HasPrefix(rel, "..") {
						kv = kv[:strings.Index(kv, "=")+1] + "$PWD/" + rel
					}
					o.printf("  export %s\n", kv)
				}
			}
			o.printf("\n")
			w.show()
			w.publish(c.Context())
			return nil
		},
	}
	labAddressFlag(c, &addr)
	c.Flags().StringVar(&dir, "dir", "", "the workspace directory (default ./<lab>)")
	c.Flags().IntVar(&httpPort, "http-port", labServerHTTP, "the embedded server's HTTP port (0: any free port; a taken port falls back to a free one)")
	return c
}

func firstAgent(lab *labs.Lab) string {
	if lab.Topology == labs.TopologyDev {
		return "agent"
	}
	return "server"
}

// spawnLabCluster starts "drover lab serve" in the background, in its own
// session so it outlives this command and the terminal, and waits until
// it says where its agents are.
func spawnLabCluster(s *streams, dir, topology, security string, httpPort int, standIns map[string]string) (*labs.ClusterInfo, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	state := filepath.Join(dir, ".drover-lab")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return nil, err
	}
	ready := filepath.Join(state, "cluster.json")
	os.Remove(ready)
	logFile, err := os.Create(filepath.Join(state, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	args := []string{"drover", "lab", "serve", "-dir", state, "-topology", topology, "-security", security, "-http-port", strconv.Itoa(httpPort)}
	for image, standIn := range standIns {
		args = append(args, "-stand-in", image+"="+standIn)
	}
	// Args[0] is "drover" whatever the binary's name, so a test binary
	// that dispatches on its name runs the CLI.
	cmd := &exec.Cmd{Path: exe, Args: args, Stdout: logFile, Stderr: logFile, Dir: state,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if s.Env != nil {
		cmd.Env = s.Env
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(time.Minute)
	for {
		if p, err := labs.LoadClusterInfo(ready); err == nil {
			return p, nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(state, "serve.log"))
			return nil, fmt.Errorf("the lab cluster exited (%v): %s", err, strings.TrimSpace(string(b)))
		case <-deadline:
			cmd.Process.Kill()
			return nil, fmt.Errorf("the lab cluster did not start within a minute (see %s)", filepath.Join(state, "serve.log"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == nil
}

func newLabServeCommand(s *streams) *cobra.Command {
	var dir, topology, security string
	var httpPort int
	var standIns []string
	c := &cobra.Command{
		Use:     "serve",
		Short:   "Run a lab's embedded cluster (started by lab start)",
		Example: "  drover lab serve -dir ws/.drover-lab -topology server-and-two-clients -security acl -http-port 0",
		Hidden:  true,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			m := map[string]string{}
			for _, kv := range standIns {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fail(1, "Error: -stand-in takes image=stand-in, not %q", kv)
				}
				m[k] = v
			}
			sec, err := labSecurityOf(security)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			cluster, err := startSecureLabCluster(dir, topology, httpPort, m, sec)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			control, err := cluster.Serve()
			if err != nil {
				cluster.Shutdown()
				return fail(1, "Error: %v", err)
			}
			info := &labs.ClusterInfo{PID: os.Getpid(), Control: control, Agents: cluster.Agents()}
			if sec.TLS {
				info.PKI = cluster.PKIDir()
			}
			if err := info.Save(filepath.Join(dir, "cluster.json")); err != nil {
				cluster.Shutdown()
				return fail(1, "Error: %v", err)
			}
			fmt.Fprintf(s.Out, "lab cluster: %s, control %s\n", describeAgents(info.Agents), control)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
			select {
			case <-sig:
				cluster.Shutdown()
			case <-cluster.Done():
			}
			os.Remove(filepath.Join(dir, "cluster.json"))
			fmt.Fprintln(s.Out, "lab cluster: stopped")
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "the directory for the agents' data and logs")
	c.Flags().StringVar(&topology, "topology", labs.TopologyDev, "dev or server-and-two-clients")
	c.Flags().StringVar(&security, "security", labs.SecurityNone, "none, acl (ACLs on; lab start bootstraps them), or acl+tls (and mutual TLS from a lab CA made in -dir's pki)")
	c.Flags().IntVar(&httpPort, "http-port", labServerHTTP, "the server's HTTP port")
	c.Flags().StringArrayVar(&standIns, "stand-in", nil, "image=stand-in image the clients run in its place")
	return c
}

func newLabShowCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "show",
		Short:   "Show the current step",
		Example: "  drover lab show",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			w.show()
			return nil
		},
	}
}

func newLabCheckCommand(s *streams) *cobra.Command {
	wait := learnerWait
	c := &cobra.Command{
		Use:   "check",
		Short: "Check the current step against the cluster's state",
		Long: "Checks what the current step asks for, from the cluster's state: ✓ or ✗ per check,\n" +
			"with what was expected and what was observed. Each check waits up to -wait for its\n" +
			"condition (a placement or a deployment takes a few seconds). Exits 1 when a check\n" +
			"fails.",
		Example: "  drover lab check\n  drover lab check -wait 30s",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if w.step() == nil {
				w.show()
				return nil
			}
			ok := w.check(c.Context(), wait)
			if err := w.save(); err != nil {
				return fail(1, "Error: %v", err)
			}
			w.publish(c.Context())
			if !ok {
				return fail(1, "")
			}
			return nil
		},
	}
	c.Flags().DurationVar(&wait, "wait", learnerWait, "how long each check waits for its condition")
	return c
}

func newLabHintCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "hint",
		Short:   "Show the next hint for the current step",
		Example: "  drover lab hint",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			step := w.step()
			if step == nil {
				w.show()
				return nil
			}
			if w.progress.Hints == nil {
				w.progress.Hints = map[string]int{}
			}
			n := w.progress.Hints[step.ID]
			if n >= len(step.Hints) {
				w.out.printf("No more hints for this step: \"drover lab solve\" shows the solution.\n")
				return nil
			}
			w.progress.Hints[step.ID] = n + 1
			w.out.printf("Hint %d/%d: %s\n", n+1, len(step.Hints), w.out.wrapHanging(w.sess.Display(step.Hints[n]), 10))
			return w.save()
		},
	}
}

func newLabSolveCommand(s *streams) *cobra.Command {
	var runIt bool
	c := &cobra.Command{
		Use:   "solve",
		Short: "Show the current step's solution, or run it",
		Long: "Shows the commands and file edits that solve the current step. With -run, runs\n" +
			"them (as if you typed them) and checks the step.",
		Example: "  drover lab solve\n  drover lab solve -run",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			step := w.step()
			if step == nil {
				w.show()
				return nil
			}
			if !runIt {
				defer w.publish(c.Context())
				w.out.line(fmt.Sprintf("Solution of step %d/%d: %s", w.progress.Step+1, len(w.lab.Steps), step.Title))
				for _, a := range step.Solution {
					if a.Edit != "" {
						w.out.line(fmt.Sprintf("  edit %s: replace %q with %q", a.Edit, a.Replace, a.With))
					} else {
						w.out.line("  " + w.sess.DisplayEnv(a.Env) + "drover " + w.sess.Display(a.Run))
					}
				}
				return nil
			}
			player := &labs.Player{Session: w.sess, Transcript: s.Out}
			rep := player.PlayStep(c.Context(), w.progress.Step)
			w.recordReport(rep)
			if rep.OK {
				if w.progress.Done == nil {
					w.progress.Done = map[string]bool{}
				}
				w.progress.Done[step.ID] = true
				w.out.printf("\nStep solved. \"drover lab next\" goes on.\n")
			}
			if err := w.save(); err != nil {
				return fail(1, "Error: %v", err)
			}
			w.publish(c.Context())
			if !rep.OK {
				return fail(1, "The solution did not pass: %s", rep.Error)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&runIt, "run", false, "run the solution and check the step")
	return c
}

func newLabNextCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:     "next",
		Short:   "Go on to the next step once this one checks",
		Example: "  drover lab next",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			step := w.step()
			if step == nil {
				w.show()
				return nil
			}
			if !w.progress.Done[step.ID] {
				if !w.check(c.Context(), learnerWait) {
					w.save()
					w.publish(c.Context())
					return fail(1, "")
				}
				w.out.printf("\n")
			}
			w.progress.Step++
			if err := w.save(); err != nil {
				return fail(1, "Error: %v", err)
			}
			w.show()
			w.publish(c.Context())
			return nil
		},
	}
}

func newLabResetCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "reset [step]",
		Short: "Go back (or forward) to a step, replaying the solutions before it",
		Long: "Puts the cluster and the workspace in the state a step starts from: purges the\n" +
			"lab's jobs, makes every node eligible again, restarts a stopped agent of the\n" +
			"embedded cluster, rewrites the lab's files, then replays the solutions of every\n" +
			"earlier step, checking each. Without an argument, the current step starts over.",
		Example: "  drover lab reset\n  drover lab reset 3",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{cmd: c, msg: "This command takes at most one argument: [step]"}
			}
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			target := w.progress.Step + 1
			if target > len(w.lab.Steps) {
				target = len(w.lab.Steps)
			}
			if len(args) == 1 {
				target, err = stepNumber(w.lab, args[0])
				if err != nil {
					return fail(1, "Error: %v", err)
				}
			}
			if err := w.reset(c.Context(), target); err != nil {
				w.save()
				w.publish(c.Context())
				return fail(1, "Error: %v", err)
			}
			w.out.printf("\n")
			w.show()
			w.publish(c.Context())
			return nil
		},
	}
}

// stepNumber reads a step given by number (1-based) or ID.
func stepNumber(lab *labs.Lab, arg string) (int, error) {
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 1 || n > len(lab.Steps) {
			return 0, fmt.Errorf("lab %s has steps 1 to %d", lab.ID(), len(lab.Steps))
		}
		return n, nil
	}
	var ids []string
	for i, st := range lab.Steps {
		if st.ID == arg {
			return i + 1, nil
		}
		ids = append(ids, st.ID)
	}
	return 0, fmt.Errorf("lab %s has no step %q (steps: %s)", lab.ID(), arg, strings.Join(ids, ", "))
}

// reset brings the cluster and the workspace to the start of step target
// (1-based).
func (w *workspace) reset(ctx context.Context, target int) error {
	o := w.out
	if e := w.progress.Embedded; e != nil {
		if _, err := labControl(ctx, e.Control, "start-all", ""); err != nil {
			return err
		}
	}
	if err := waitNodesReady(w.sess.Client, labClients(w.lab), time.Minute); err != nil {
		return err
	}
	if err := w.sess.CleanJobs(); err != nil {
		return err
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		// Dot files hold the progress and the embedded cluster's state;
		// bootstrap.token is the cluster's, not the learner's.
		if !strings.HasPrefix(e.Name(), ".") && e.Name() != LabTokenFile {
			if err := os.RemoveAll(filepath.Join(w.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := w.sess.WriteFiles(); err != nil {
		return err
	}
	for k := range w.sess.Vars {
		delete(w.sess.Vars, k)
	}
	w.progress.Done, w.progress.Hints = map[string]bool{}, map[string]int{}
	w.progress.Checked = nil
	w.progress.Step = 0
	o.line(fmt.Sprintf("Resetting lab %s to step %d: jobs purged, nodes eligible, files rewritten.", w.lab.ID(), target))
	player := &labs.Player{Session: w.sess, Progress: s2w(o)}
	for i := 0; i < target-1; i++ {
		rep := player.PlayStep(ctx, i)
		w.recordReport(rep)
		status := "replayed"
		if !rep.OK {
			status = "FAILED"
		}
		o.printf("  [%d/%d] %-44s %s\n", i+1, len(w.lab.Steps), w.lab.Steps[i].Title, status)
		if !rep.OK {
			w.progress.Step = i
			return fmt.Errorf("replaying step %d: %s", i+1, rep.Error)
		}
		w.progress.Done[w.lab.Steps[i].ID] = true
	}
	w.progress.Step = target - 1
	return w.save()
}

func s2w(o *labOut) io.Writer { return o.w }

func newLabStopCommand(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "stop",
		Short: "Stop the lab: its jobs, and its embedded cluster",
		Long: "Purges the lab's jobs, so nothing is left running, and stops the embedded cluster\n" +
			"if the lab started one. The workspace and your progress stay.",
		Example: "  drover lab stop",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openAnyWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			e := w.progress.Embedded
			if e != nil && !processAlive(e.PID) {
				w.out.printf("The lab's cluster is not running: nothing to stop.\n")
				return nil
			}
			if err := w.sess.CleanJobs(); err != nil {
				fmt.Fprintf(s.Err, "Warning: purging the lab's jobs: %v\n", err)
			} else {
				w.out.printf("Purged the lab's jobs: %s\n", strings.Join(w.lab.Jobs, ", "))
			}
			if e != nil {
				if err := stopLabCluster(e); err != nil {
					return fail(1, "Error: %v", err)
				}
				w.out.printf("Stopped the lab's cluster.\n")
			}
			if err := w.save(); err != nil {
				return fail(1, "Error: %v", err)
			}
			w.out.line(fmt.Sprintf("The workspace %s keeps your files and progress.", w.dir))
			return nil
		},
	}
}

// stopLabCluster asks a background lab cluster to stop and waits for its
// process to exit, killing it after a minute.
func stopLabCluster(e *labs.ClusterInfo) error {
	if !processAlive(e.PID) {
		return nil
	}
	syscall.Kill(e.PID, syscall.SIGTERM)
	deadline := time.Now().Add(time.Minute)
	for processAlive(e.PID) {
		if time.Now().After(deadline) {
			syscall.Kill(e.PID, syscall.SIGKILL)
			return fmt.Errorf("the lab cluster (pid %d) did not stop within a minute: killed", e.PID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

func newLabAgentCommand(s *streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "agent [stop|start|restart <name>]",
		Short: "List, stop, start or restart an agent of the lab's embedded cluster",
		Long: "The embedded cluster's agents stand for the kit's machines: stopping client-two is\n" +
			"what \"vagrant halt client-two\" does to the kit, restarting the server is what\n" +
			"\"sudo systemctl restart drover\" on it does. Without arguments, lists the agents.",
		Example: "  drover lab agent\n  drover lab agent stop client-two\n  drover lab agent restart server",
		RunE: func(c *cobra.Command, args []string) error {
			w, err := openWorkspace(s)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			e := w.progress.Embedded
			if e == nil {
				return fail(1, "Error: this lab runs on %s, which drover did not start: stop and start its machines yourself", w.progress.Address)
			}
			op, name := "", ""
			switch len(args) {
			case 0:
			case 2:
				op, name = args[0], args[1]
			default:
				return &usageError{cmd: c, msg: "This command takes no argument, or an operation and an agent name"}
			}
			status, err := labControl(c.Context(), e.Control, op, name)
			if err != nil {
				return fail(1, "Error: %v", err)
			}
			if op != "" {
				fmt.Fprintf(s.Out, "==> %s: %s\n", name, map[string]string{"stop": "stopped", "start": "started", "restart": "restarted"}[op])
			}
			rows := []string{"Name|Role|Address|Running"}
			for _, a := range status {
				rows = append(rows, fmt.Sprintf("%s|%s|%s|%t", a.Name, a.Role, a.Address, a.Running))
			}
			fmt.Fprintln(s.Out, formatList(rows))
			return nil
		},
	}
	return c
}
