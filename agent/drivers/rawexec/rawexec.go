// Package rawexec is the raw_exec driver: it runs a command directly on the
// host, as the client's user (or the task's user when the client may switch
// to it), without isolation. It is disabled unless the client enables it.
//
// A raw_exec task must outlive the client: a client that is killed,
// upgraded or restarted must neither take its tasks down nor lose their
// output, and the next client must re-attach to them. Instead of a helper
// process per task that relays output and waits for the task (tens of MB
// each), the task is set up to need nobody:
//
//   - It runs in its own session and process group, so signals aimed at
//     the client's group (Ctrl-C, a service manager stopping the client)
//     do not reach it.
//   - Its stdout and stderr are the log files themselves, opened O_APPEND
//     and inherited, never a pipe read by the client, so its output lands
//     on disk whether or not a client is alive. A monitor goroutine rotates
//     the files with copy-truncate (logrotate.RotateIfNeeded), which the
//     task never notices.
//   - Only a process's parent can learn its exit status, and the client
//     that started the task may be gone when it ends. So the command runs
//     as the child of a small /bin/sh wrapper (about 1 MB) that waits for it
//     and writes its status to <TaskDir>/.exit-status. The wrapper ignores
//     the usual stop signals, which lets the driver signal the whole process
//     group (atomically, forks included) without killing the one process
//     that records the outcome; the command itself gets default signal
//     handling back before it starts.
//   - The handle records the wrapper's pid and its start time from
//     /proc/<pid>/stat; a restarted client re-attaches only to a process
//     with both, so a reused pid is never mistaken for the task. It then
//     polls /proc until the wrapper is gone and reads the status file.
//
// The shell reports a death by signal N as status 128+N, so ExitResult has
// ExitCode 128+N and Signal N; a command that calls exit(130) by itself is
// indistinguishable from one killed by SIGINT. That is the price of the
// shell wrapper over a purpose-built one, and matches what shells show.
//
// Like every driver without cgroups, raw_exec loses track of processes
// that leave the task's process group (setsid, daemonising); TaskStats and
// the final kill only reach the group.
package rawexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"drover/agent/drivers"
	"drover/agent/drivers/logrotate"
	"drover/agent/structs"
)

// Name is the driver's name in job files.
const Name = "raw_exec"

// ErrDisabled is returned by StartTask when the client has not enabled
// raw_exec, which runs arbitrary commands as the client's user.
var ErrDisabled = errors.New("raw_exec is disabled on this client")

// ErrExitStatusLost is the ExitResult error of a task whose process ended
// without its wrapper recording an exit status (the wrapper itself was
// killed, or the status file was removed).
var ErrExitStatusLost = errors.New("task exited but its exit status was lost")

// ExitStatusFile is the name, in the task dir, of the file where the
// wrapper records the command's exit status.
const ExitStatusFile = ".exit-status"

const (
	// pollInterval is how often a re-attached task is checked for exit;
	// short enough that exits are noticed promptly, cheap (one small read).
	pollInterval = 100 * time.Millisecond
	// rotateInterval is how often the log files are checked for rotation;
	// files may exceed their limit by one interval's output.
	rotateInterval = time.Second
	// killGrace is how long the wrapper gets to record the status of a
	// SIGKILLed command before it is killed too.
	killGrace = 5 * time.Second
	// defaultPath is the task's PATH when neither its env nor the client's
	// has one.
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// wrapperSignals are the signals the wrapper ignores: those a job may pick
// as its kill_signal. The wrapper's child resets them before exec, so the
// command sees default handling (except for signals the client itself was
// started with ignored, which no child can undo).
const wrapperSignals = "HUP INT QUIT TERM USR1 USR2"

// wrapperScript runs as: sh -c wrapperScript raw_exec <status file> <command> <args...>.
// The command runs in a subshell in the foreground, not with "&", because
// a non-interactive shell starts background jobs with SIGINT and SIGQUIT
// ignored for good. The subshell reports on fd 3 (a pipe to the client)
// once the wrapper's traps are set and its own are reset, and closes it so
// the command does not inherit it: from then on a stop signal is handled
// right, whether it reaches the subshell or the command it became.
const wrapperScript = `f=$1; shift
trap '' ` + wrapperSignals + `
( trap - ` + wrapperSignals + `; echo >&3; exec 3>&-; exec "$@" )
echo $? > "$f"
`

// readyTimeout bounds the wait for the wrapper to start the command.
const readyTimeout = 10 * time.Second

// wrapperSigSet is wrapperSignals as numbers: signals that can go to the
// whole group.
var wrapperSigSet = map[syscall.Signal]bool{
	syscall.SIGHUP: true, syscall.SIGINT: true, syscall.SIGQUIT: true,
	syscall.SIGTERM: true, syscall.SIGUSR1: true, syscall.SIGUSR2: true,
}

var signalNames = map[string]syscall.Signal{
	"SIGHUP": syscall.SIGHUP, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT,
	"SIGKILL": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
	"SIGTERM": syscall.SIGTERM, "SIGALRM": syscall.SIGALRM, "SIGWINCH": syscall.SIGWINCH,
	"SIGCONT": syscall.SIGCONT, "SIGSTOP": syscall.SIGSTOP, "SIGPIPE": syscall.SIGPIPE,
}

// TaskState is the driver-specific part of a raw_exec handle: everything a
// restarted client needs to find the task again.
type TaskState struct {
	// PID is the wrapper's pid; PGID its process group (the same number:
	// the wrapper leads its own session).
	PID  int `json:"pid"`
	PGID int `json:"pgid"`
	// StartTime is the wrapper's start time in clock ticks after boot
	// (/proc/<pid>/stat field 22); it tells the task from a process that
	// reused its pid.
	StartTime uint64 `json:"start_time"`
	// ExitStatusFile is where the wrapper writes the command's status.
	ExitStatusFile string `json:"exit_status_file"`
}

type task struct {
	cfg       *drivers.TaskConfig
	st        TaskState
	startedAt time.Time

	// killedWrapper is set when the driver had to SIGKILL the wrapper,
	// so that a missing status can still be reported as a kill.
	killedWrapper atomic.Bool

	done   chan struct{} // closed once result is set
	result *drivers.ExitResult

	destroyed   chan struct{} // closed by DestroyTask; stops the monitor
	destroyOnce sync.Once

	statsMu   sync.Mutex
	lastTicks uint64
	lastAt    time.Time
}

func (t *task) exited() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// alive reports whether the wrapper still runs.
func (t *task) alive() bool { return processAlive(t.st.PID, t.st.StartTime) }

// finish records the exit once the wrapper has gone.
func (t *task) finish() {
	r := readExitStatus(t.st.ExitStatusFile)
	if r.Err != nil && t.killedWrapper.Load() {
		r = &drivers.ExitResult{ExitCode: 128 + int(syscall.SIGKILL), Signal: int(syscall.SIGKILL)}
	}
	t.result = r
	close(t.done)
}

// readExitStatus turns the wrapper's record into an ExitResult; a missing
// or unreadable record is ErrExitStatusLost.
func readExitStatus(path string) *drivers.ExitResult {
	data, err := os.ReadFile(path)
	if err != nil {
		return &drivers.ExitResult{Err: ErrExitStatusLost}
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || code < 0 {
		return &drivers.ExitResult{Err: ErrExitStatusLost}
	}
	r := &drivers.ExitResult{ExitCode: code}
	if code > 128 && code <= 128+64 {
		r.Signal = code - 128
	}
	return r
}

// Driver is the raw_exec driver.
type Driver struct {
	enabled bool

	mu    sync.Mutex
	tasks map[string]*task
	// starting reserves the IDs being started, so that two concurrent
	// starts of one task cannot both run it.
	starting map[string]bool
}

var _ drivers.Driver = (*Driver)(nil)

// New returns the driver; enabled comes from the client's plugin config,
// since running arbitrary host commands must be an explicit choice.
func New(enabled bool) *Driver {
	return &Driver{enabled: enabled, tasks: map[string]*task{}, starting: map[string]bool{}}
}

// Name returns "raw_exec".
func (d *Driver) Name() string { return Name }

// Fingerprint reports the driver detected and healthy only when enabled,
// so the scheduler never places raw_exec tasks on a client that refuses
// them.
func (d *Driver) Fingerprint(ctx context.Context) *structs.DriverInfo {
	info := &structs.DriverInfo{Detected: d.enabled, Healthy: d.enabled, UpdateTime: time.Now()}
	if d.enabled {
		info.HealthDescription = "Healthy"
	} else {
		info.HealthDescription = "disabled"
	}
	return info
}

type taskConfig struct {
	Command string
	Args    []string
}

func parseConfig(raw map[string]interface{}) (taskConfig, error) {
	var tc taskConfig
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := raw[k]; k {
		case "command":
			s, ok := v.(string)
			if !ok {
				return tc, fmt.Errorf("config command: want a string, got %T", v)
			}
			tc.Command = s
		case "args":
			switch a := v.(type) {
			case []string:
				tc.Args = append([]string(nil), a...)
			case []interface{}:
				for i, e := range a {
					s, ok := e.(string)
					if !ok {
						return tc, fmt.Errorf("config args[%d]: want a string, got %T", i, e)
					}
					tc.Args = append(tc.Args, s)
				}
			case nil:
			default:
				return tc, fmt.Errorf("config args: want a list of strings, got %T", v)
			}
		default:
			return tc, fmt.Errorf("unknown config key %q", k)
		}
	}
	if tc.Command == "" {
		return tc, errors.New("config command is required")
	}
	return tc, nil
}

// taskEnv is the task's environment: exactly cfg.Env, plus a PATH when it
// has none, since a command without PATH cannot even find its own tools.
// Nothing else of the client's environment leaks in.
func taskEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+1)
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	if _, ok := env["PATH"]; !ok {
		p := os.Getenv("PATH")
		if p == "" {
			p = defaultPath
		}
		out = append(out, "PATH="+p)
	}
	sort.Strings(out) // deterministic, for tests and /proc readers
	return out
}

// lookPath finds the command as the task would: a name with a slash is
// relative to the task dir (its working directory), a bare name is searched
// in the task's PATH, not the client's.
func lookPath(command, taskDir, path string) (string, error) {
	isExec := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
	}
	if strings.Contains(command, "/") {
		p := command
		if !filepath.IsAbs(p) {
			p = filepath.Join(taskDir, p)
		}
		if !isExec(p) {
			return "", fmt.Errorf("command %q: not an executable file", command)
		}
		return p, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(taskDir, dir)
		}
		if p := filepath.Join(dir, command); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in PATH %q", command, path)
}

// credential returns who the task runs as: nil for the client's own user.
func credential(name string) (*syscall.Credential, error) {
	if name == "" {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %s: non-numeric uid/gid", name)
	}
	if int(uid) == os.Getuid() {
		return nil, nil
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func openLog(dir, base string) (*os.File, error) {
	path, err := logrotate.CurrentFile(dir, base)
	if err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
}

// StartTask starts the command under its wrapper and returns once it runs.
func (d *Driver) StartTask(ctx context.Context, cfg *drivers.TaskConfig, events drivers.EventFunc) (*drivers.TaskHandle, error) {
	if !d.enabled {
		return nil, ErrDisabled
	}
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("raw_exec: task config without an ID")
	}
	if cfg.TaskDir == "" || cfg.LogDir == "" {
		return nil, fmt.Errorf("raw_exec: task %s has no task or log dir", cfg.ID)
	}
	tc, err := parseConfig(cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("raw_exec: %w", err)
	}
	h, err := d.start(cfg, tc)
	if err != nil {
		return nil, fmt.Errorf("raw_exec: start %s: %w", cfg.ID, err)
	}
	return h, nil
}

func (d *Driver) start(cfg *drivers.TaskConfig, tc taskConfig) (*drivers.TaskHandle, error) {
	d.mu.Lock()
	if _, ok := d.tasks[cfg.ID]; ok || d.starting[cfg.ID] {
		d.mu.Unlock()
		return nil, errors.New("task already exists")
	}
	d.starting[cfg.ID] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.starting, cfg.ID)
		d.mu.Unlock()
	}()

	for _, dir := range []string{cfg.TaskDir, cfg.LogDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	env := taskEnv(cfg.Env)
	pathVar := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	command, err := lookPath(tc.Command, cfg.TaskDir, pathVar)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg.User)
	if err != nil {
		return nil, err
	}

	// A restarted task reuses its task dir: a status left by the previous
	// run must not be taken for this one's.
	statusFile := filepath.Join(cfg.TaskDir, ExitStatusFile)
	if err := os.Remove(statusFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if cred != nil {
		// The wrapper runs as the task's user, who may not be allowed to
		// create files in the task dir; it only needs to overwrite this one.
		if err := os.WriteFile(statusFile, nil, 0o644); err != nil {
			return nil, err
		}
		if err := os.Chown(statusFile, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}

	stdout, err := openLog(cfg.LogDir, cfg.StdoutBase())
	if err != nil {
		return nil, err
	}
	defer stdout.Close() // the wrapper holds its own copy
	stderr, err := openLog(cfg.LogDir, cfg.StderrBase())
	if err != nil {
		return nil, err
	}
	defer stderr.Close()

	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close()
	defer readyW.Close()

	cmd := &exec.Cmd{
		Path:   "/bin/sh",
		Args:   append([]string{"sh", "-c", wrapperScript, Name, statusFile, command}, tc.Args...),
		Dir:    cfg.TaskDir,
		Env:    env,
		Stdout: stdout, // *os.File: passed as is, no pipe, no copying goroutine
		Stderr: stderr,
		// fd 3: the ready pipe
		ExtraFiles: []*os.File{readyW},
		SysProcAttr: &syscall.SysProcAttr{
			// A new session is a new process group with no controlling
			// terminal: neither the client's group signals nor a terminal
			// hangup reach the task.
			Setsid:     true,
			Credential: cred,
		},
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	// Returning before the command runs would let an early StopTask kill
	// the wrapper before its traps are set, losing the exit status.
	readyW.Close()
	readyR.SetReadDeadline(time.Now().Add(readyTimeout))
	if _, err := readyR.Read(make([]byte, 1)); err != nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		cmd.Wait()
		return nil, fmt.Errorf("wrapper did not start the command: %w", err)
	}
	// The wrapper cannot be reaped before cmd.Wait, so its stat is there
	// even if the command has already exited.
	ps, err := readProcStat(pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("read wrapper start time: %w", err)
	}
	t := &task{
		cfg:       cfg,
		st:        TaskState{PID: pid, PGID: pid, StartTime: ps.startTime, ExitStatusFile: statusFile},
		startedAt: time.Now(),
		done:      make(chan struct{}),
		destroyed: make(chan struct{}),
	}
	state, err := json.Marshal(t.st)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.tasks[cfg.ID] = t
	d.mu.Unlock()

	// This process is the wrapper's parent, so it must reap it; a client
	// that re-attaches later polls instead (see watch).
	go func() {
		cmd.Wait()
		t.finish()
	}()
	go t.monitor()
	return &drivers.TaskHandle{Driver: Name, Config: cfg, StartedAt: t.startedAt, State: state}, nil
}

// monitor rotates the task's logs while it runs, and once more after it
// exits so the last burst is rotated too.
func (t *task) monitor() {
	tick := time.NewTicker(rotateInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.rotateLogs()
		case <-t.done:
			t.rotateLogs()
			return
		case <-t.destroyed:
			return
		}
	}
}

// rotateLogs rotates both streams. Errors are not fatal: the next tick
// tries again, and a failure only lets a file grow past its limit.
func (t *task) rotateLogs() {
	maxBytes := int64(t.cfg.LogMaxFileSizeMB) << 20
	logrotate.RotateIfNeeded(t.cfg.LogDir, t.cfg.StdoutBase(), t.cfg.LogMaxFiles, maxBytes)
	logrotate.RotateIfNeeded(t.cfg.LogDir, t.cfg.StderrBase(), t.cfg.LogMaxFiles, maxBytes)
}

// watch polls a re-attached task until its wrapper is gone; that process
// is not our child, so it cannot be waited for. (A pidfd would also work
// for a non-child, but polling every 100ms costs next to nothing and also
// sees the zombie state of a wrapper whose new parent has not reaped it.)
func (t *task) watch() {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for range tick.C {
		if !t.alive() {
			t.finish()
			return
		}
	}
}

// RecoverTask re-attaches to a task started by an earlier client process.
// A task that ended while no client watched is recovered too when its
// wrapper recorded the exit status, so WaitTask reports the real outcome
// instead of the task being presumed lost. It works on a disabled driver,
// so tasks started before raw_exec was disabled can still be stopped.
func (d *Driver) RecoverTask(ctx context.Context, h *drivers.TaskHandle) error {
	if h == nil || h.Config == nil || h.Config.ID == "" {
		return errors.New("raw_exec: recover: handle without a task config")
	}
	id := h.Config.ID
	var st TaskState
	if err := json.Unmarshal(h.State, &st); err != nil {
		return fmt.Errorf("raw_exec: recover %s: bad handle state: %w", id, err)
	}
	if st.PID <= 0 || st.PGID <= 0 || st.ExitStatusFile == "" {
		return fmt.Errorf("raw_exec: recover %s: incomplete handle state", id)
	}
	t := &task{
		cfg:       h.Config,
		st:        st,
		startedAt: h.StartedAt,
		done:      make(chan struct{}),
		destroyed: make(chan struct{}),
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tasks[id]; ok {
		return nil
	}
	if t.alive() {
		d.tasks[id] = t
		go t.watch()
		go t.monitor()
		return nil
	}
	if r := readExitStatus(st.ExitStatusFile); r.Err == nil {
		t.result = r
		close(t.done)
		d.tasks[id] = t
		return nil
	}
	return fmt.Errorf("raw_exec: recover %s: process %d is gone and left no exit status: %w", id, st.PID, drivers.ErrTaskNotFound)
}

func (d *Driver) task(id string) (*task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tasks[id]
	if !ok {
		return nil, fmt.Errorf("raw_exec: %s: %w", id, drivers.ErrTaskNotFound)
	}
	return t, nil
}

// WaitTask returns a channel that receives the task's exit once. If ctx
// ends first the channel is closed without a value.
func (d *Driver) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	t, err := d.task(taskID)
	if err != nil {
		return nil, err
	}
	ch := make(chan *drivers.ExitResult, 1)
	go func() {
		defer close(ch)
		select {
		case <-t.done:
			r := *t.result
			ch <- &r
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

func parseSignal(s string) (syscall.Signal, error) {
	if s == "" {
		return syscall.SIGTERM, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

// signal delivers sig to the task. The signals the wrapper ignores go to
// the whole group in one atomic kill; others would kill the wrapper, so
// they go to every group member but it.
func (t *task) signal(sig syscall.Signal) error {
	if !t.alive() {
		return nil // gone already, and the pid may belong to someone else
	}
	if wrapperSigSet[sig] {
		if err := syscall.Kill(-t.st.PGID, sig); err != nil && err != syscall.ESRCH {
			return err
		}
		return nil
	}
	t.signalCommand(sig)
	return nil
}

// signalCommand sends sig to the group's processes except the wrapper.
func (t *task) signalCommand(sig syscall.Signal) int {
	n := 0
	for _, p := range groupMembers(t.st.PGID) {
		if p.pid != t.st.PID && p.session == t.st.PGID {
			syscall.Kill(p.pid, sig)
			n++
		}
	}
	return n
}

// kill SIGKILLs the command and its group, sparing the wrapper so it can
// record the status; a wrapper that has not exited after killGrace is
// killed too (and the exit reported as a SIGKILL). It returns once the
// task has exited, or with an error when even that did not end it.
func (t *task) kill() error {
	deadline := time.Now().Add(killGrace)
	for !t.exited() && time.Now().Before(deadline) {
		if t.alive() {
			// Repeated, because the command may have forked meanwhile.
			t.signalCommand(syscall.SIGKILL)
		}
		select {
		case <-t.done:
		case <-time.After(pollInterval):
		}
	}
	if !t.exited() {
		if t.alive() {
			t.killedWrapper.Store(true)
			syscall.Kill(-t.st.PGID, syscall.SIGKILL)
		}
		select {
		case <-t.done:
		case <-time.After(killGrace):
			return fmt.Errorf("task %s did not exit after SIGKILL", t.cfg.ID)
		}
	}
	return nil
}

// StopTask sends signal ("" means SIGTERM) to the task and, when it has not
// exited after timeout, kills it. It returns once the task has exited.
func (d *Driver) StopTask(taskID string, timeout time.Duration, signal string) error {
	t, err := d.task(taskID)
	if err != nil {
		return err
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return fmt.Errorf("raw_exec: stop %s: %w", taskID, err)
	}
	if t.exited() {
		return nil
	}
	if sig != syscall.SIGKILL {
		if err := t.signal(sig); err != nil {
			return fmt.Errorf("raw_exec: stop %s: %w", taskID, err)
		}
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		select {
		case <-t.done:
			return nil
		case <-timer.C:
		}
	}
	if err := t.kill(); err != nil {
		return fmt.Errorf("raw_exec: stop %s: %w", taskID, err)
	}
	return nil
}

// DestroyTask forgets the task, killing it first if force is set (a
// running task is refused otherwise). Processes the command left behind in
// its group, such as background children, are killed too: they would
// otherwise keep running, and writing to the logs, unsupervised.
func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, err := d.task(taskID)
	if err != nil {
		return err
	}
	if !t.exited() {
		if !force {
			return fmt.Errorf("raw_exec: destroy %s: task is still running", taskID)
		}
		if err := t.kill(); err != nil {
			return fmt.Errorf("raw_exec: destroy %s: %w", taskID, err)
		}
	}
	// The wrapper is gone, but while any process of the group lives, the
	// kernel cannot give its id to another group, so this cannot hit a
	// stranger's group.
	if len(groupMembers(t.st.PGID)) > 0 {
		syscall.Kill(-t.st.PGID, syscall.SIGKILL)
	}
	t.destroyOnce.Do(func() { close(t.destroyed) })
	d.mu.Lock()
	if d.tasks[taskID] == t {
		delete(d.tasks, taskID)
	}
	d.mu.Unlock()
	return nil
}

// TaskStats sums the usage of the task's process group, wrapper included
// (it is part of what the task costs the node), from /proc:
//
//   - MemoryRSS is the resident set, without cgroups the only memory
//     figure per process that means something;
//   - CPUPercent is the group's utime+stime since the previous sample (or
//     since the task started) as a percentage of one core;
//   - CPUTotalTicks is that percentage applied to one core's MHz, read from
//     /proc/cpuinfo or assumed to be 1000 when it is not there, so it can be
//     compared with the task's CPU allocation in MHz.
func (d *Driver) TaskStats(ctx context.Context, taskID string) (*drivers.TaskStats, error) {
	t, err := d.task(taskID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	s := &drivers.TaskStats{Timestamp: now, Measured: []string{"RSS", "Percent", "Total Ticks"}}
	if t.exited() {
		return s, nil
	}
	var ticks, pages uint64
	members := groupMembers(t.st.PGID)
	for _, p := range members {
		if p.session != t.st.PGID {
			continue
		}
		ticks += p.ticks
		pages += p.rssPages
		s.Pids++
	}
	s.MemoryRSS = pages * uint64(os.Getpagesize())

	t.statsMu.Lock()
	prevTicks, prevAt := t.lastTicks, t.lastAt
	if prevAt.IsZero() {
		prevTicks, prevAt = 0, t.startedAt
	}
	t.lastTicks, t.lastAt = ticks, now
	t.statsMu.Unlock()

	// Processes that exited since the previous sample take their ticks
	// with them, so the sum can shrink; that interval then reads as 0.
	if el := now.Sub(prevAt).Seconds(); el > 0 && ticks > prevTicks {
		s.CPUPercent = float64(ticks-prevTicks) / clockTicks / el * 100
	}
	s.CPUTotalTicks = s.CPUPercent / 100 * coreMHz()
	return s, nil
}
