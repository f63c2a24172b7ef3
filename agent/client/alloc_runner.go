package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"drover/agent/drivers"
	"drover/agent/structs"
)

// allocRunner runs one allocation: its directory, a task runner per task,
// its client status and its deployment health.
type allocRunner struct {
	c        *Client
	id       string
	allocDir string
	// persistMu orders the writes of the allocation to the state
	// database, so that the last one written is the newest.
	persistMu sync.Mutex

	mu      sync.Mutex
	alloc   *structs.Allocation
	tasks   map[string]*taskRunner
	status  string
	desc    string
	health  *healthTracker
	stopped bool
	// destroyed is set once the allocation is being removed.
	destroyed bool
	// live counts the task runners whose run loop runs; done closes when
	// it drops to zero once start has launched them all (launched).
	live     int
	launched bool
	doneOnce sync.Once

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newAllocRunner(c *Client, alloc *structs.Allocation) *allocRunner {
	ctx, cancel := context.WithCancel(c.ctx)
	return &allocRunner{
		c:        c,
		id:       alloc.ID,
		allocDir: filepath.Join(c.config.AllocDir, alloc.ID),
		alloc:    alloc,
		tasks:    map[string]*taskRunner{},
		status:   structs.AllocClientStatusPending,
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
	}
}

// start builds the directories and starts the tasks. recovered holds the
// persisted tasks of an allocation a restarted client is taking back. It
// may run while the server's next version of the allocation arrives
// (update): it works on the version it began with, and persists the newest.
func (ar *allocRunner) start(recovered map[string]*persistedTask) (err error) {
	ar.mu.Lock()
	alloc := ar.alloc
	ar.mu.Unlock()
	defer func() {
		// done must close whatever happens, or destroy would wait for it.
		if err != nil {
			for _, tr := range ar.taskList() {
				tr.kill()
			}
		}
		ar.mu.Lock()
		ar.launched = true
		if ar.live == 0 {
			ar.closeDone()
		}
		ar.mu.Unlock()
	}()
	tg := alloc.Job.LookupTaskGroup(alloc.TaskGroup)
	if tg == nil {
		return fmt.Errorf("allocation %s: group %q not in its job", alloc.ID, alloc.TaskGroup)
	}
	for _, dir := range []string{"alloc", "alloc/logs", "alloc/data", "alloc/tmp"} {
		if err := os.MkdirAll(filepath.Join(ar.allocDir, dir), 0o777); err != nil {
			return err
		}
	}
	if err := ar.persistAlloc(); err != nil {
		return err
	}
	for _, task := range tg.Tasks {
		taskDir := filepath.Join(ar.allocDir, task.Name)
		for _, dir := range []string{"local", "secrets", "tmp"} {
			if err := os.MkdirAll(filepath.Join(taskDir, dir), 0o777); err != nil {
				return err
			}
		}
		driver, ok := ar.c.drivers.Get(task.Driver)
		var tr *taskRunner
		if ok {
			tr = newTaskRunner(ar, alloc, task, driver, ar.taskConfig(alloc, tg, task, taskDir))
		} else {
			tr = newTaskRunner(ar, alloc, task, nil, ar.taskConfig(alloc, tg, task, taskDir))
		}
		ar.mu.Lock()
		ar.tasks[task.Name] = tr
		// A stop or destroy that came while the allocation was starting
		// has already killed the tasks it saw; this one it did not.
		if ar.stopped || ar.destroyed {
			tr.kill()
		}
		ar.mu.Unlock()
		rec := recovered[task.Name]
		if rec != nil && rec.State != nil {
			tr.state = rec.State
			tr.handle = rec.Handle
		} else {
			tr.event(EventReceived, "Task received by client", nil)
		}
		if !ok {
			tr.event(EventDriverFailure, fmt.Sprintf("driver %q is not available on this client", task.Driver), nil)
			tr.finish(true, "")
			continue
		}
		resume := false
		if rec != nil && rec.Handle != nil && rec.State != nil && rec.State.State == structs.TaskStateRunning {
			// A restarted client takes back what still runs, untouched.
			if err := driver.RecoverTask(ar.ctx, rec.Handle); err == nil {
				resume = true
			} else {
				ar.c.logger.Printf("[WARN] client: task %s could not be recovered, starting it again: %v", tr.cfg.ID, err)
			}
		}
		if rec != nil && rec.State != nil && rec.State.State == structs.TaskStateDead {
			close(tr.done)
			continue
		}
		ar.goRun(func() { tr.run(ar.ctx, resume) })
	}
	health := newHealthTracker(ar)
	ar.mu.Lock()
	ar.health = health
	ar.mu.Unlock()
	ar.taskChanged()
	return nil
}

// goRun runs a task runner's loop and counts it as live until it ends.
func (ar *allocRunner) goRun(run func()) {
	ar.mu.Lock()
	ar.live++
	ar.mu.Unlock()
	go func() {
		defer ar.runEnded()
		run()
	}()
}

func (ar *allocRunner) runEnded() {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	ar.live--
	if ar.live == 0 && ar.launched {
		ar.closeDone()
	}
}

// closeDone closes done once; callers hold mu.
func (ar *allocRunner) closeDone() { ar.doneOnce.Do(func() { close(ar.done) }) }

// persistAlloc writes the allocation's newest version to the state
// database.
func (ar *allocRunner) persistAlloc() error {
	ar.persistMu.Lock()
	defer ar.persistMu.Unlock()
	ar.mu.Lock()
	alloc := ar.alloc
	ar.mu.Unlock()
	return ar.c.state.putAlloc(alloc)
}

// taskConfig is what the driver gets for one task.
func (ar *allocRunner) taskConfig(alloc *structs.Allocation, tg *structs.TaskGroup, task *structs.Task, taskDir string) *drivers.TaskConfig {
	cfg := &drivers.TaskConfig{
		ID: alloc.ID + "/" + task.Name, AllocID: alloc.ID, AllocName: alloc.Name, JobID: alloc.JobID,
		TaskGroup: alloc.TaskGroup, TaskName: task.Name, Config: task.Config, User: task.User,
		AllocDir: ar.allocDir, TaskDir: taskDir, LogDir: filepath.Join(ar.allocDir, "alloc", "logs"),
		LogMaxFiles: structs.DefaultLogMaxFiles, LogMaxFileSizeMB: structs.DefaultLogFileMB,
	}
	if task.LogConfig != nil {
		cfg.LogMaxFiles, cfg.LogMaxFileSizeMB = task.LogConfig.MaxFiles, task.LogConfig.MaxFileSizeMB
	}
	if r := alloc.AllocatedResources; r != nil {
		cfg.Ports = r.Shared.Ports
		if tr := r.Tasks[task.Name]; tr != nil {
			cfg.CPU, cfg.MemoryMB, cfg.MemoryMaxMB = tr.Cpu.CpuShares, tr.Memory.MemoryMB, tr.Memory.MemoryMaxMB
			cfg.TaskNetworks = tr.Networks
		}
	}
	cfg.Env = ar.taskEnv(alloc, tg, task, cfg)
	return cfg
}

// taskEnv builds the task's environment: the NOMAD_* variables tasks
// expect, then the task's own env with ${...} references resolved.
func (ar *allocRunner) taskEnv(alloc *structs.Allocation, tg *structs.TaskGroup, task *structs.Task, cfg *drivers.TaskConfig) map[string]string {
	env := map[string]string{
		"NOMAD_ALLOC_ID":       alloc.ID,
		"NOMAD_SHORT_ALLOC_ID": alloc.ID[:8],
		"NOMAD_ALLOC_NAME":     alloc.Name,
		"NOMAD_ALLOC_INDEX":    strconv.Itoa(alloc.Index()),
		"NOMAD_JOB_ID":         alloc.JobID,
		"NOMAD_JOB_NAME":       alloc.Job.Name,
		"NOMAD_GROUP_NAME":     tg.Name,
		"NOMAD_TASK_NAME":      task.Name,
		"NOMAD_NAMESPACE":      alloc.Namespace,
		"NOMAD_REGION":         alloc.Job.Region,
		"NOMAD_DC":             ar.c.config.Datacenter,
		"NOMAD_CPU_LIMIT":      strconv.FormatInt(cfg.CPU, 10),
		"NOMAD_MEMORY_LIMIT":   strconv.FormatInt(cfg.MemoryMB, 10),
	}
	if task.Driver == "docker" {
		env["NOMAD_ALLOC_DIR"], env["NOMAD_TASK_DIR"], env["NOMAD_SECRETS_DIR"] = "/alloc", "/local", "/secrets"
	} else {
		env["NOMAD_ALLOC_DIR"] = filepath.Join(ar.allocDir, "alloc")
		env["NOMAD_TASK_DIR"] = filepath.Join(cfg.TaskDir, "local")
		env["NOMAD_SECRETS_DIR"] = filepath.Join(cfg.TaskDir, "secrets")
	}
	addPort := func(label, ip string, host, to int) {
		if to == 0 {
			to = host
		}
		env["NOMAD_PORT_"+label] = strconv.Itoa(to)
		env["NOMAD_HOST_PORT_"+label] = strconv.Itoa(host)
		env["NOMAD_IP_"+label] = ip
		env["NOMAD_HOST_IP_"+label] = ip
		env["NOMAD_ADDR_"+label] = fmt.Sprintf("%s:%d", ip, to)
		env["NOMAD_HOST_ADDR_"+label] = fmt.Sprintf("%s:%d", ip, host)
	}
	for _, p := range cfg.Ports {
		addPort(p.Label, p.HostIP, p.Value, p.To)
	}
	for _, n := range cfg.TaskNetworks {
		for _, p := range append(append([]structs.Port{}, n.ReservedPorts...), n.DynamicPorts...) {
			addPort(p.Label, n.IP, p.Value, 0)
		}
	}
	for k, v := range alloc.Job.Meta {
		env["NOMAD_META_"+k] = v
	}
	for k, v := range tg.Meta {
		env["NOMAD_META_"+k] = v
	}
	for k, v := range task.Meta {
		env["NOMAD_META_"+k] = v
	}
	if path := os.Getenv("PATH"); path != "" {
		env["PATH"] = path
	}
	for k, v := range task.Env {
		env[k] = ar.interpolate(v, env)
	}
	return env
}

// interpolate resolves ${NAME} from the environment and ${node.*},
// ${attr.*} from the node; unknown references are left as written.
func (ar *allocRunner) interpolate(s string, env map[string]string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		if v, ok := ar.lookupVar(name, env); ok {
			b.WriteString(v)
		} else {
			b.WriteString(s[i : i+j+1])
		}
		s = s[i+j+1:]
	}
}

func (ar *allocRunner) lookupVar(name string, env map[string]string) (string, bool) {
	if v, ok := env[name]; ok {
		return v, true
	}
	node := ar.c.node()
	if node == nil {
		return "", false
	}
	return node.Property(name)
}

// update takes a newer version of the allocation from the server: a stop,
// or an in-place update (new job version, same tasks, nothing restarts).
func (ar *allocRunner) update(alloc *structs.Allocation) {
	ar.mu.Lock()
	prevDeployment := ar.alloc.DeploymentID
	health := ar.health
	ar.alloc = alloc
	stop := alloc.DesiredStatus != structs.AllocDesiredStatusRun && !ar.stopped
	if stop {
		ar.stopped = true
	}
	ar.mu.Unlock()
	if err := ar.persistAlloc(); err != nil {
		ar.c.logger.Printf("[ERROR] client: persist allocation %s: %v", alloc.ID, err)
	}
	if stop {
		for _, tr := range ar.taskList() {
			tr.kill()
		}
		return
	}
	if alloc.DeploymentID != prevDeployment && health != nil {
		health.reset()
	}
}

// taskChanged recomputes the client status after a task changed, and
// tells the client to report it.
func (ar *allocRunner) taskChanged() {
	ar.mu.Lock()
	pending, running, failed, dead := 0, 0, 0, 0
	for _, tr := range ar.tasks {
		st := tr.snapshot()
		switch st.State {
		case structs.TaskStatePending:
			pending++
		case structs.TaskStateRunning:
			running++
		case structs.TaskStateDead:
			dead++
			if st.Failed {
				failed++
			}
		}
	}
	status, desc := structs.AllocClientStatusPending, "No tasks have started"
	switch {
	case len(ar.tasks) > 0 && dead == len(ar.tasks) && failed > 0:
		status, desc = structs.AllocClientStatusFailed, "Failed tasks"
	case len(ar.tasks) > 0 && dead == len(ar.tasks):
		status, desc = structs.AllocClientStatusComplete, "All tasks have completed"
	case running > 0 && pending == 0:
		status, desc = structs.AllocClientStatusRunning, "Tasks are running"
	case running > 0 || dead > 0:
		status, desc = structs.AllocClientStatusRunning, "Tasks are running"
	}
	ar.status, ar.desc = status, desc
	health := ar.health
	ar.mu.Unlock()
	if health != nil {
		health.tasksChanged()
	}
	ar.c.markDirty(ar)
}

// report builds the update the server gets about this allocation.
func (ar *allocRunner) report() *structs.Allocation {
	ar.mu.Lock()
	u := &structs.Allocation{
		ID: ar.id, ClientStatus: ar.status, ClientDescription: ar.desc,
		TaskStates: map[string]*structs.TaskState{}, ModifyTime: time.Now().UnixNano(),
	}
	for name, tr := range ar.tasks {
		u.TaskStates[name] = tr.snapshot()
	}
	health := ar.health
	ar.mu.Unlock()
	// The health tracker takes its own lock and then ours: ask it only
	// after releasing ours.
	if health != nil {
		u.DeploymentStatus = health.status()
	}
	return u
}

// destroy stops everything and removes the allocation's directory; the
// server no longer knows it.
func (ar *allocRunner) destroy() {
	ar.mu.Lock()
	ar.destroyed = true
	ar.mu.Unlock()
	for _, tr := range ar.taskList() {
		tr.kill()
	}
	select {
	case <-ar.done:
	case <-time.After(time.Minute):
	}
	ar.cancel()
	os.RemoveAll(ar.allocDir)
	ar.c.state.deleteAlloc(ar.id)
}

// taskList is a snapshot of the task runners, safe while start adds them.
func (ar *allocRunner) taskList() []*taskRunner {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	out := make([]*taskRunner, 0, len(ar.tasks))
	for _, tr := range ar.tasks {
		out = append(out, tr)
	}
	return out
}
