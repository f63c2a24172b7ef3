// Package mock is a real, registrable task driver whose tasks are
// goroutines. It lets tests and simulated clusters exercise the whole
// client path (start, events, logs, stop signals, exit codes, restarts)
// with thousands of tasks per process and no host side effects.
//
// A task's behaviour comes from its config:
//
//	run_for       duration string; the task exits after it ("" or 0: runs until stopped)
//	exit_code     exit code when run_for ends (default 0)
//	start_error   StartTask fails with this message (after start_delay)
//	start_delay   duration string; StartTask takes this long, reporting its
//	              progress (drivers.EventProgress) as an image pull does
//	kill_after    ignore the stop signal this long, then exit (but StopTask's
//	              timeout still kills it if that is shorter)
//	stdout_string written to the task's stdout log at start
//	stderr_string written to the task's stderr log at start
//	stdout_repeat how many times stdout_string is written (default 1)
//	exit_on_signal a signal name, or a list of them: the task exits when it
//	              receives one ("alloc signal"); SIGKILL always ends it, and
//	              every other signal is only recorded (see Signals)
//	signal_error  SignalTask fails with this message
//
// Unknown keys are refused, so a typo in a test job fails loudly instead of
// silently running a task that never exits.
package mock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"drover/agent/drivers"
	"drover/agent/drivers/logrotate"
	"drover/agent/structs"
)

// Name is the driver's name in job files.
const Name = "mock"

// CompatibleName is the name Nomad-compatible servers give their mock
// driver; clients offer the mock under both, so one benchmark or test job
// runs on either.
const CompatibleName = "mock_driver"

// Signal numbers as Linux numbers them. The mock never delivers signals, it
// only reports the number, so a fixed table keeps it portable.
var signals = map[string]int{
	"SIGHUP": 1, "SIGINT": 2, "SIGQUIT": 3, "SIGKILL": 9,
	"SIGUSR1": 10, "SIGUSR2": 12, "SIGTERM": 15,
}

const (
	sigKill    = 9
	sigDefault = 15 // SIGTERM, what StopTask uses when given no signal
)

// TaskState is the driver-specific part of a mock task's handle. A mock
// task cannot outlive its process, so the handle only lets RecoverTask
// restore a task that had already finished: whoever persists handles (the
// client, or a test) records the exit here once WaitTask has reported it.
type TaskState struct {
	Finished bool `json:"finished"`
	ExitCode int  `json:"exit_code"`
	Signal   int  `json:"signal"`
}

// taskConfig is the parsed task config.
type taskConfig struct {
	RunFor       time.Duration
	ExitCode     int
	StartError   string
	StartDelay   time.Duration
	KillAfter    time.Duration
	StdoutString string
	StderrString string
	StdoutRepeat int
	ExitOnSignal map[int]bool
	SignalError  string
}

type stopRequest struct {
	signal  int
	timeout time.Duration
}

type task struct {
	cfg       *drivers.TaskConfig
	tc        taskConfig
	startedAt time.Time

	stopCh chan stopRequest // buffered 1: the first stop request wins
	killCh chan struct{}    // closed to kill at once (forced destroy)
	kill   sync.Once

	done   chan struct{} // closed once result is set
	result *drivers.ExitResult

	// sigCh carries signals that end the task (buffered 1: the first one
	// wins); signals records every signal received, by name.
	sigCh   chan int
	sigMu   sync.Mutex
	signals []string
}

// Driver is the mock driver. The zero value is not usable; call New.
type Driver struct {
	mu    sync.Mutex
	tasks map[string]*task
}

var _ drivers.Driver = (*Driver)(nil)

// New returns a mock driver with no tasks.
func New() *Driver {
	return &Driver{tasks: map[string]*task{}}
}

// Name returns "mock".
func (d *Driver) Name() string { return Name }

// Fingerprint reports the driver detected and healthy: it needs nothing
// from the host.
func (d *Driver) Fingerprint(ctx context.Context) *structs.DriverInfo {
	return &structs.DriverInfo{
		Detected:          true,
		Healthy:           true,
		HealthDescription: "Healthy",
		UpdateTime:        time.Now(),
	}
}

// StartTask validates the config, writes the configured output and starts
// the task's goroutine.
func (d *Driver) StartTask(ctx context.Context, cfg *drivers.TaskConfig, events drivers.EventFunc) (*drivers.TaskHandle, error) {
	if cfg == nil || cfg.ID == "" {
		return nil, errors.New("mock: task config without an ID")
	}
	tc, err := parseConfig(cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("mock: %w", err)
	}
	if err := startDelay(ctx, tc.StartDelay, events); err != nil {
		return nil, err
	}
	if tc.StartError != "" {
		return nil, errors.New(tc.StartError)
	}

	d.mu.Lock()
	if _, ok := d.tasks[cfg.ID]; ok {
		d.mu.Unlock()
		return nil, fmt.Errorf("mock: task %s already exists", cfg.ID)
	}
	// Reserve the ID before writing logs so a concurrent duplicate start
	// cannot write them twice.
	t := &task{
		cfg:       cfg,
		tc:        tc,
		startedAt: time.Now(),
		stopCh:    make(chan stopRequest, 1),
		killCh:    make(chan struct{}),
		done:      make(chan struct{}),
		sigCh:     make(chan int, 1),
	}
	d.tasks[cfg.ID] = t
	d.mu.Unlock()

	if err := writeOutput(cfg, tc); err != nil {
		d.mu.Lock()
		delete(d.tasks, cfg.ID)
		d.mu.Unlock()
		return nil, fmt.Errorf("mock: %w", err)
	}
	if events != nil && tc.RunFor > 0 {
		events("Driver", fmt.Sprintf("mock task runs for %s", tc.RunFor))
	}
	go t.run()

	state, _ := json.Marshal(TaskState{})
	return &drivers.TaskHandle{Driver: Name, Config: cfg, StartedAt: t.startedAt, State: state}, nil
}

// startProgressEvery is how often a start delay reports its progress.
const startProgressEvery = 250 * time.Millisecond

// startDelay waits for delay, or until ctx ends, reporting how much of it
// has passed as a driver's progress event ("Mock start in progress: 750ms
// of 3s").
func startDelay(ctx context.Context, delay time.Duration, events drivers.EventFunc) error {
	if delay <= 0 {
		return nil
	}
	start := time.Now()
	done := time.NewTimer(delay)
	defer done.Stop()
	tick := time.NewTicker(startProgressEvery)
	defer tick.Stop()
	for {
		select {
		case <-done.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("mock: start cancelled: %w", ctx.Err())
		case t := <-tick.C:
			if events != nil {
				events(drivers.EventProgress, fmt.Sprintf("Mock start in progress: %s of %s",
					t.Sub(start).Round(10*time.Millisecond), delay))
			}
		}
	}
}

func writeOutput(cfg *drivers.TaskConfig, tc taskConfig) error {
	write := func(base, s string, times int) error {
		if s == "" || times == 0 {
			return nil
		}
		if cfg.LogDir == "" {
			return errors.New("task config has no log dir for its output")
		}
		w, err := logrotate.NewWriter(cfg.LogDir, base, cfg.LogMaxFiles, int64(cfg.LogMaxFileSizeMB)<<20)
		if err != nil {
			return err
		}
		for i := 0; i < times; i++ {
			if _, err := w.Write([]byte(s)); err != nil {
				w.Close()
				return err
			}
		}
		return w.Close()
	}
	if err := write(cfg.StdoutBase(), tc.StdoutString, tc.StdoutRepeat); err != nil {
		return err
	}
	return write(cfg.StderrBase(), tc.StderrString, 1)
}

// run is the task: it ends when run_for passes, when stopped, or killed.
func (t *task) run() {
	var runFor <-chan time.Time
	if t.tc.RunFor > 0 {
		timer := time.NewTimer(t.tc.RunFor)
		defer timer.Stop()
		runFor = timer.C
	}
	finish := func(r *drivers.ExitResult) {
		t.result = r
		close(t.done)
	}
	select {
	case <-runFor:
		finish(&drivers.ExitResult{ExitCode: t.tc.ExitCode})
		return
	case <-t.killCh:
		finish(&drivers.ExitResult{Signal: sigKill})
		return
	case sig := <-t.sigCh:
		finish(&drivers.ExitResult{Signal: sig})
		return
	case req := <-t.stopCh:
		if t.tc.KillAfter <= 0 {
			finish(&drivers.ExitResult{Signal: req.signal})
			return
		}
		// A task that handles its stop signal slowly: it exits by itself
		// after kill_after, unless the stop timeout kills it first.
		grace := time.NewTimer(t.tc.KillAfter)
		defer grace.Stop()
		var deadline <-chan time.Time
		if req.timeout < t.tc.KillAfter {
			dt := time.NewTimer(req.timeout)
			defer dt.Stop()
			deadline = dt.C
		}
		select {
		case <-grace.C:
			finish(&drivers.ExitResult{Signal: req.signal})
		case <-deadline:
			finish(&drivers.ExitResult{Signal: sigKill})
		case <-runFor:
			finish(&drivers.ExitResult{ExitCode: t.tc.ExitCode})
		case <-t.killCh:
			finish(&drivers.ExitResult{Signal: sigKill})
		case sig := <-t.sigCh:
			finish(&drivers.ExitResult{Signal: sig})
		}
	}
}

func (t *task) killNow() { t.kill.Do(func() { close(t.killCh) }) }

func (t *task) exited() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

func (d *Driver) task(id string) (*task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tasks[id]
	if !ok {
		return nil, fmt.Errorf("mock: %s: %w", id, drivers.ErrTaskNotFound)
	}
	return t, nil
}

// RecoverTask succeeds for a task this driver still runs, and for a handle
// whose state says the task had finished (WaitTask then reports that exit).
// A task that was running when its process ended is gone with it, so that
// case fails, which is what makes the client restart the task.
func (d *Driver) RecoverTask(ctx context.Context, h *drivers.TaskHandle) error {
	if h == nil || h.Config == nil {
		return errors.New("mock: recover: handle without a task config")
	}
	id := h.Config.ID
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.tasks[id]; ok {
		return nil
	}
	var st TaskState
	if len(h.State) > 0 {
		if err := json.Unmarshal(h.State, &st); err != nil {
			return fmt.Errorf("mock: recover %s: bad handle state: %w", id, err)
		}
	}
	if !st.Finished {
		return fmt.Errorf("mock: recover %s: mock tasks do not survive their process: %w", id, drivers.ErrTaskNotFound)
	}
	t := &task{
		cfg:       h.Config,
		startedAt: h.StartedAt,
		stopCh:    make(chan stopRequest, 1),
		killCh:    make(chan struct{}),
		done:      make(chan struct{}),
		sigCh:     make(chan int, 1),
		result:    &drivers.ExitResult{ExitCode: st.ExitCode, Signal: st.Signal},
	}
	close(t.done)
	d.tasks[id] = t
	return nil
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
			r := *t.result // each waiter gets its own copy
			ch <- &r
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

// StopTask delivers signal ("" means SIGTERM) and returns once the task has
// exited: by itself after kill_after, or killed when timeout passes.
func (d *Driver) StopTask(taskID string, timeout time.Duration, signal string) error {
	t, err := d.task(taskID)
	if err != nil {
		return err
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return fmt.Errorf("mock: stop %s: %w", taskID, err)
	}
	select {
	case t.stopCh <- stopRequest{signal: sig, timeout: timeout}:
	default: // already asked to stop; the first request decides
	}
	// The task honours the timeout itself; this deadline only guards
	// against a request that lost to an earlier one with a longer timeout.
	dt := time.NewTimer(timeout)
	defer dt.Stop()
	select {
	case <-t.done:
	case <-dt.C:
		t.killNow()
		<-t.done
	}
	return nil
}

// DestroyTask forgets the task. A running task is refused unless force is
// set, in which case it is killed first.
func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, err := d.task(taskID)
	if err != nil {
		return err
	}
	if !t.exited() {
		if !force {
			return fmt.Errorf("mock: destroy %s: task is still running", taskID)
		}
		t.killNow()
		<-t.done
	}
	d.mu.Lock()
	if d.tasks[taskID] == t {
		delete(d.tasks, taskID)
	}
	d.mu.Unlock()
	return nil
}

// TaskStats returns synthetic usage: small fixed non-zero numbers for a
// running task (1% of a core, 10 MHz, 10 MiB resident, one process) so
// that stats plumbing and UIs have something to show; zeros once the task
// has exited.
func (d *Driver) TaskStats(ctx context.Context, taskID string) (*drivers.TaskStats, error) {
	t, err := d.task(taskID)
	if err != nil {
		return nil, err
	}
	s := &drivers.TaskStats{
		Timestamp: time.Now(),
		Measured:  []string{"RSS", "Usage", "Percent", "Total Ticks"},
	}
	if !t.exited() {
		s.CPUPercent = 1
		s.CPUTotalTicks = 10
		s.MemoryRSS = 10 << 20
		s.MemoryUsage = 10 << 20
		s.Pids = 1
	}
	return s, nil
}

func parseSignal(s string) (int, error) {
	if s == "" {
		return sigDefault, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if n, ok := signals[name]; ok {
		return n, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return n, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func parseConfig(raw map[string]interface{}) (taskConfig, error) {
	tc := taskConfig{StdoutRepeat: 1}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same key first every time
	for _, k := range keys {
		v := raw[k]
		var err error
		switch k {
		case "run_for":
			tc.RunFor, err = toDuration(v)
		case "kill_after":
			tc.KillAfter, err = toDuration(v)
		case "exit_code":
			tc.ExitCode, err = toInt(v)
		case "stdout_repeat":
			tc.StdoutRepeat, err = toInt(v)
			if err == nil && tc.StdoutRepeat < 0 {
				err = errors.New("must not be negative")
			}
		case "start_error":
			tc.StartError, err = toString(v)
		case "start_delay":
			tc.StartDelay, err = toDuration(v)
		case "stdout_string":
			tc.StdoutString, err = toString(v)
		case "stderr_string":
			tc.StderrString, err = toString(v)
		case "exit_on_signal":
			tc.ExitOnSignal, err = toSignalSet(v)
		case "signal_error":
			tc.SignalError, err = toString(v)
		default:
			return tc, fmt.Errorf("unknown config key %q", k)
		}
		if err != nil {
			return tc, fmt.Errorf("config %s: %w", k, err)
		}
	}
	return tc, nil
}

func toString(v interface{}) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

func toDuration(v interface{}) (time.Duration, error) {
	s, err := toString(v)
	if err != nil {
		return 0, err
	}
	if s == "" {
		return 0, nil
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if dur < 0 {
		return 0, errors.New("must not be negative")
	}
	return dur, nil
}

// toInt accepts the numeric types config decoders produce: float64 from
// JSON, integers from HCL or msgpack.
func toInt(v interface{}) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int8:
		return int(n), nil
	case int16:
		return int(n), nil
	case int32:
		return int(n), nil
	case int64:
		return int(n), nil
	case uint8:
		return int(n), nil
	case uint16:
		return int(n), nil
	case uint32:
		return int(n), nil
	case uint64:
		if n > math.MaxInt32 {
			return 0, fmt.Errorf("%d is out of range", n)
		}
		return int(n), nil
	case float32:
		return floatToInt(float64(n))
	case float64:
		return floatToInt(n)
	case json.Number:
		i, err := n.Int64()
		return int(i), err
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

func floatToInt(f float64) (int, error) {
	if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, fmt.Errorf("%v is not a whole number", f)
	}
	return int(f), nil
}
