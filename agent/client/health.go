package client

import (
	"sync"
	"time"

	"drover/agent/structs"
)

// healthTracker decides an allocation's deployment health, which drives
// rolling updates and drains: healthy once every task has run for
// min_healthy_time without a restart; unhealthy when a task fails or when
// healthy_deadline passes first. The update block applies inside a
// deployment, the migrate block otherwise (a replacement during a drain).
type healthTracker struct {
	ar *allocRunner

	mu         sync.Mutex
	minHealthy time.Duration
	deadline   time.Duration
	healthy    *bool
	at         time.Time
	timer      *time.Timer
	expiry     *time.Timer
	generation int
}

func newHealthTracker(ar *allocRunner) *healthTracker {
	h := &healthTracker{ar: ar}
	h.reset()
	return h
}

// reset starts over, for a new deployment of the same allocation.
func (h *healthTracker) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopTimers()
	h.generation++
	h.healthy = nil
	h.ar.mu.Lock()
	alloc := h.ar.alloc
	h.ar.mu.Unlock()
	tg := alloc.Job.LookupTaskGroup(alloc.TaskGroup)
	h.minHealthy, h.deadline = 0, 0
	switch {
	case tg == nil || alloc.Job.Type != structs.JobTypeService:
		return // only service allocations report health
	case alloc.DeploymentID != "" && tg.Update != nil:
		h.minHealthy, h.deadline = tg.Update.MinHealthyTime, tg.Update.HealthyDeadline
	case tg.Migrate != nil:
		h.minHealthy, h.deadline = tg.Migrate.MinHealthyTime, tg.Migrate.HealthyDeadline
	default:
		h.minHealthy, h.deadline = 10*time.Second, 5*time.Minute
	}
	gen := h.generation
	if h.deadline > 0 {
		h.expiry = time.AfterFunc(h.deadline, func() { h.decide(gen, false) })
	}
	go h.tasksChanged()
}

func (h *healthTracker) stopTimers() {
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if h.expiry != nil {
		h.expiry.Stop()
		h.expiry = nil
	}
}

// tasksChanged re-examines the tasks: all running starts the
// min_healthy_time clock, anything else stops it, a failure decides.
func (h *healthTracker) tasksChanged() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.healthy != nil || (h.minHealthy == 0 && h.deadline == 0) {
		return // decided, or not a service allocation
	}
	allRunning, failed := true, false
	h.ar.mu.Lock()
	tasks := make([]*taskRunner, 0, len(h.ar.tasks))
	for _, tr := range h.ar.tasks {
		tasks = append(tasks, tr)
	}
	h.ar.mu.Unlock()
	if len(tasks) == 0 {
		return
	}
	for _, tr := range tasks {
		st := tr.snapshot()
		if st.State != structs.TaskStateRunning {
			allRunning = false
		}
		failed = failed || st.Failed
	}
	gen := h.generation
	switch {
	case failed:
		h.setLocked(false)
	case allRunning && h.timer == nil:
		h.timer = time.AfterFunc(h.minHealthy, func() { h.decide(gen, true) })
	case !allRunning && h.timer != nil:
		h.timer.Stop()
		h.timer = nil
	}
}

// decide settles health when its timer fires, if nothing changed since.
func (h *healthTracker) decide(gen int, healthy bool) {
	h.mu.Lock()
	if gen != h.generation || h.healthy != nil {
		h.mu.Unlock()
		return
	}
	h.setLocked(healthy)
	h.mu.Unlock()
	h.ar.c.markDirty(h.ar)
}

func (h *healthTracker) setLocked(healthy bool) {
	h.healthy = &healthy
	h.at = time.Now()
	h.stopTimers()
	go h.ar.c.markDirty(h.ar)
}

// status is the health to report, nil while undecided.
func (h *healthTracker) status() *structs.AllocDeploymentStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.healthy == nil {
		return nil
	}
	v := *h.healthy
	return &structs.AllocDeploymentStatus{Healthy: &v, Timestamp: h.at}
}
