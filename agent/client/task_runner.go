package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"drover/agent/drivers"
	"drover/agent/structs"
)

// Task event types and the texts users know from "alloc status".
const (
	EventReceived      = "Received"
	EventSetup         = "Task Setup"
	EventDriver        = "Driver"
	EventStarted       = "Started"
	EventTerminated    = "Terminated"
	EventRestarting    = "Restarting"
	EventNotRestarting = "Not Restarting"
	EventKilling       = "Killing"
	EventKilled        = "Killed"
	EventDriverFailure = "Driver Failure"
	// EventRestartSignal records a user's restart ("alloc restart");
	// EventSignaling a signal sent to the task ("alloc signal").
	EventRestartSignal = "Restart Signaled"
	EventSignaling     = "Signaling"
)

// maxTaskEvents bounds a task's event history, as the API shows only the
// recent ones.
const maxTaskEvents = 10

// taskRunner runs one task of an allocation through its life: setup,
// start, wait, restart per the restart policy, kill.
type taskRunner struct {
	ar     *allocRunner
	task   *structs.Task
	driver drivers.Driver
	cfg    *drivers.TaskConfig
	batch  bool

	mu     sync.Mutex
	state  *structs.TaskState
	handle *drivers.TaskHandle
	// progress is the task's newest event when that is a driver's
	// progress report (drivers.EventProgress), which the next report
	// replaces.
	progress *structs.TaskEvent
	// persistMu serialises persist.
	persistMu sync.Mutex

	killOnce sync.Once
	killCh   chan struct{}
	done     chan struct{}

	// restartCh carries a user's restart request to the run loop, which
	// takes it while it waits for the running task (buffered 1: one
	// request at a time); pendingRestart is the request being carried
	// out, touched only by the run loop.
	restartCh      chan *restartRequest
	pendingRestart *restartRequest
}

// restartRequest is one user restart of a running task; done is closed
// once the old instance has exited (or the request is dropped because
// the task is being killed).
type restartRequest struct {
	done chan struct{}
	once sync.Once
}

func (r *restartRequest) finish() { r.once.Do(func() { close(r.done) }) }

func newTaskRunner(ar *allocRunner, alloc *structs.Allocation, task *structs.Task, driver drivers.Driver, cfg *drivers.TaskConfig) *taskRunner {
	return &taskRunner{
		ar:     ar,
		task:   task,
		driver: driver,
		cfg:    cfg,
		batch:  alloc.Job.Type == structs.JobTypeBatch,
		state:  &structs.TaskState{State: structs.TaskStatePending},
		killCh: make(chan struct{}),
		done:   make(chan struct{}),

		restartCh: make(chan *restartRequest, 1),
	}
}

// snapshot returns a copy of the task's state for reporting.
func (tr *taskRunner) snapshot() *structs.TaskState {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	c := *tr.state
	c.Events = append([]*structs.TaskEvent(nil), tr.state.Events...)
	return &c
}

// event appends a task event and reports the change. A driver's progress
// report (drivers.EventProgress) is recorded as a "Driver" event that
// replaces the previous report when that is still the newest event.
func (tr *taskRunner) event(kind, msg string, mutate func(s *structs.TaskState)) {
	tr.recordEvent(&structs.TaskEvent{Type: kind, DisplayMessage: msg, Message: msg}, mutate)
}

// recordEvent appends a prepared task event (its time is stamped here)
// and reports the change.
func (tr *taskRunner) recordEvent(ev *structs.TaskEvent, mutate func(s *structs.TaskState)) {
	tr.mu.Lock()
	progress := ev.Type == drivers.EventProgress
	if progress {
		ev.Type = EventDriver
	}
	ev.Time = time.Now().UnixNano()
	if n := len(tr.state.Events); progress && n > 0 && tr.progress != nil && tr.state.Events[n-1] == tr.progress {
		// A new slice: snapshots share the old one's backing array.
		tr.state.Events = append(append([]*structs.TaskEvent(nil), tr.state.Events[:n-1]...), ev)
	} else {
		tr.state.Events = append(tr.state.Events, ev)
	}
	tr.progress = nil
	if progress {
		tr.progress = ev
	}
	if len(tr.state.Events) > maxTaskEvents {
		tr.state.Events = tr.state.Events[len(tr.state.Events)-maxTaskEvents:]
	}
	if mutate != nil {
		mutate(tr.state)
	}
	tr.mu.Unlock()
	if !preStart[ev.Type] {
		tr.persist()
	}
	tr.ar.taskChanged()
}

// preStart are the events of a task not yet handed to its driver. They are
// not persisted on their own: a client restarted before the next event
// starts the task afresh anyway (there is no handle to recover), and that
// next event (Started, Driver Failure, Killed, ...) persists them with it.
// Two fewer writes per task when hundreds start at once.
var preStart = map[string]bool{EventReceived: true, EventSetup: true}

// persist writes the task's handle and state. Events come from the run
// loop and from user requests (restart, signal) at once, so the state is
// copied under the lock, and writes are serialised so that the last one
// written is the newest.
func (tr *taskRunner) persist() {
	tr.persistMu.Lock()
	defer tr.persistMu.Unlock()
	rec := &persistedTask{State: tr.snapshot()}
	tr.mu.Lock()
	rec.Handle = tr.handle
	tr.mu.Unlock()
	if err := tr.ar.c.state.putTask(tr.cfg.AllocID, tr.task.Name, rec); err != nil {
		tr.ar.c.logger.Printf("[ERROR] client: persist task %s: %v", tr.cfg.ID, err)
	}
}

// kill asks the task to stop; run does the rest.
func (tr *taskRunner) kill() {
	tr.killOnce.Do(func() { close(tr.killCh) })
}

func (tr *taskRunner) killed() bool {
	select {
	case <-tr.killCh:
		return true
	default:
		return false
	}
}

// run drives the task until it is dead. recovered is true when a restarted
// client re-attached to a task that still runs.
func (tr *taskRunner) run(ctx context.Context, recovered bool) {
	tr.runFrom(ctx, recovered, true)
}

// runFrom is run; setup is false when a dead task starts again ("alloc
// restart -all-tasks"), whose directory is already built.
func (tr *taskRunner) runFrom(ctx context.Context, recovered, setup bool) {
	defer close(tr.done)
	defer tr.dropRestarts()
	tracker := newRestartTracker(tr.task.RestartPolicy, tr.batch)
	if !recovered && setup {
		tr.event(EventSetup, "Building Task Directory", nil)
	}
	for {
		if tr.killed() {
			tr.finish(false, "")
			return
		}
		if !recovered {
			h, err := tr.start(ctx)
			if err != nil {
				tr.event(EventDriverFailure, err.Error(), nil)
				if !tr.restart(ctx, tracker, &drivers.ExitResult{ExitCode: -1, Err: err}) {
					return
				}
				continue
			}
			tr.mu.Lock()
			tr.handle = h
			tr.mu.Unlock()
			tr.event(EventStarted, "Task started by client", func(s *structs.TaskState) {
				s.State = structs.TaskStateRunning
				if s.StartedAt.IsZero() {
					s.StartedAt = time.Now().UTC()
				}
			})
		}
		recovered = false
		exit, ok := tr.wait(ctx)
		if !ok {
			return // killed: wait already finished the task
		}
		tr.event(EventTerminated, exitMessage(exit), nil)
		tr.driver.DestroyTask(tr.cfg.ID, true)
		if req := tr.takeRestart(); req != nil {
			// A user's restart: at once, and not counted against the
			// restart policy's attempts.
			tr.recordEvent(&structs.TaskEvent{Type: EventRestarting, DisplayMessage: "Task restarting in 0s",
				Message: "Task restarting in 0s"}, func(s *structs.TaskState) {
				s.State = structs.TaskStatePending
				s.Restarts++
				s.LastRestart = time.Now().UTC()
			})
			req.finish()
			continue
		}
		if !tr.restart(ctx, tracker, exit) {
			return
		}
	}
}

// takeRestart returns the user restart that ended the task, or one that
// came while it was ending by itself (the user asked for a restart: it
// gets one), or nil.
func (tr *taskRunner) takeRestart() *restartRequest {
	if req := tr.pendingRestart; req != nil {
		tr.pendingRestart = nil
		return req
	}
	select {
	case req := <-tr.restartCh:
		return req
	default:
		return nil
	}
}

// dropRestarts releases whoever waits on a restart the run loop will not
// carry out (the task is killed, or the client shuts down).
func (tr *taskRunner) dropRestarts() {
	if tr.pendingRestart != nil {
		tr.pendingRestart.finish()
		tr.pendingRestart = nil
	}
	for {
		select {
		case req := <-tr.restartCh:
			req.finish()
		default:
			return
		}
	}
}

// start starts the task, giving up if it is killed meanwhile (an image
// pull can take long).
func (tr *taskRunner) start(ctx context.Context) (*drivers.TaskHandle, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-tr.killCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	return tr.driver.StartTask(ctx, tr.cfg, func(kind, msg string) { tr.event(kind, msg, nil) })
}

// wait waits for the task to exit, or for a kill, which it carries out.
// ok is false when the task was killed (and is finished).
func (tr *taskRunner) wait(ctx context.Context) (*drivers.ExitResult, bool) {
	ch, err := tr.driver.WaitTask(ctx, tr.cfg.ID)
	if err != nil {
		return &drivers.ExitResult{ExitCode: -1, Err: err}, true
	}
	select {
	case exit := <-ch:
		if exit == nil {
			exit = &drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("task wait ended")}
		}
		if tr.killed() {
			tr.finishKilled()
			return nil, false
		}
		return exit, true
	case <-tr.killCh:
		timeout := tr.killTimeout()
		tr.event(EventKilling, fmt.Sprintf("Sent interrupt. Waiting %s before force killing", timeout), nil)
		if err := tr.driver.StopTask(tr.cfg.ID, timeout, tr.task.KillSignal); err != nil {
			tr.ar.c.logger.Printf("[WARN] client: stop task %s: %v", tr.cfg.ID, err)
		}
		select {
		case <-ch:
		case <-time.After(timeout + 5*time.Second):
		}
		tr.finishKilled()
		return nil, false
	case req := <-tr.restartCh:
		// A user restart: stop this instance with the task's kill signal
		// and timeout, as a kill would, but without the Killing event;
		// the run loop starts it again.
		tr.pendingRestart = req
		timeout := tr.killTimeout()
		if err := tr.driver.StopTask(tr.cfg.ID, timeout, tr.task.KillSignal); err != nil {
			tr.ar.c.logger.Printf("[WARN] client: stop task %s for a restart: %v", tr.cfg.ID, err)
		}
		var exit *drivers.ExitResult
		select {
		case exit = <-ch:
		case <-time.After(timeout + 5*time.Second):
		}
		if exit == nil {
			exit = &drivers.ExitResult{ExitCode: -1, Err: fmt.Errorf("task did not exit after a restart request")}
		}
		if tr.killed() {
			tr.finishKilled()
			return nil, false
		}
		return exit, true
	case <-ctx.Done():
		// The client is shutting down, not the task: leave it running so
		// the next client process re-attaches to it.
		return nil, false
	}
}

// killTimeout is the task's kill_timeout, capped by the client's
// max_kill_timeout.
func (tr *taskRunner) killTimeout() time.Duration {
	timeout := tr.task.KillTimeout
	if max := tr.ar.c.config.MaxKillTimeout; max > 0 && timeout > max {
		timeout = max
	}
	return timeout
}

func (tr *taskRunner) finishKilled() {
	tr.driver.DestroyTask(tr.cfg.ID, true)
	tr.event(EventKilled, "Task successfully killed", func(s *structs.TaskState) {
		s.State = structs.TaskStateDead
		s.FinishedAt = time.Now().UTC()
	})
}

// finish marks the task dead without running it (killed before start, or
// given up).
func (tr *taskRunner) finish(failed bool, _ string) {
	tr.mu.Lock()
	tr.state.State = structs.TaskStateDead
	tr.state.Failed = failed
	tr.state.FinishedAt = time.Now().UTC()
	tr.mu.Unlock()
	tr.persist()
	tr.ar.taskChanged()
}

// restart applies the restart policy after an exit. It returns false when
// the task is done (completed, failed for good, or killed while waiting).
func (tr *taskRunner) restart(ctx context.Context, tracker *restartTracker, exit *drivers.ExitResult) bool {
	if tr.batch && exit.Successful() {
		tr.finish(false, "")
		return false
	}
	delay, ok, why := tracker.next(time.Now())
	if !ok {
		tr.event(EventNotRestarting, why, func(s *structs.TaskState) {
			s.State = structs.TaskStateDead
			s.Failed = true
			s.FinishedAt = time.Now().UTC()
		})
		return false
	}
	tr.event(EventRestarting, fmt.Sprintf("Task restarting in %s", delay), func(s *structs.TaskState) {
		s.State = structs.TaskStatePending
		s.Restarts++
		s.LastRestart = time.Now().UTC()
	})
	select {
	case <-time.After(delay):
		return true
	case <-tr.killCh:
		tr.finish(false, "")
		return false
	case <-ctx.Done():
		return false
	}
}

func exitMessage(r *drivers.ExitResult) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	msg := fmt.Sprintf("Exit Code: %d", r.ExitCode)
	if r.Signal != 0 {
		msg += fmt.Sprintf(", Signal: %d", r.Signal)
	}
	if r.OOMKilled {
		msg += ", OOM Killed"
	}
	return msg
}

// restartTracker implements the restart policy: at most Attempts restarts
// within Interval, each after Delay; past that, "fail" gives up and
// "delay" waits for the interval to end and starts counting again.
type restartTracker struct {
	policy *structs.RestartPolicy
	start  time.Time
	count  int
}

func newRestartTracker(p *structs.RestartPolicy, batch bool) *restartTracker {
	if p == nil {
		p = structs.DefaultRestartPolicy(structs.JobTypeService)
		if batch {
			p = structs.DefaultRestartPolicy(structs.JobTypeBatch)
		}
	}
	return &restartTracker{policy: p}
}

// next returns the delay before the next start, or false and why not.
func (t *restartTracker) next(now time.Time) (time.Duration, bool, string) {
	p := t.policy
	if t.start.IsZero() || (p.Interval > 0 && now.Sub(t.start) > p.Interval) {
		t.start, t.count = now, 0
	}
	t.count++
	if t.count <= p.Attempts {
		return p.Delay, true, ""
	}
	if p.Mode == "delay" && p.Interval > 0 {
		wait := t.start.Add(p.Interval).Sub(now)
		t.start, t.count = t.start.Add(p.Interval), 0
		if wait < p.Delay {
			wait = p.Delay
		}
		return wait, true, ""
	}
	return 0, false, fmt.Sprintf("Exceeded allowed attempts %d in interval %s and mode is %q", p.Attempts, p.Interval, p.Mode)
}
