// Package drivers defines how the client runs tasks: the Driver interface
// every driver implements (docker, raw_exec, mock), what a driver is given
// to start a task, and the handle that lets a restarted client find its
// tasks again.
package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"drover/agent/structs"
)

// ErrTaskNotFound is returned for a task ID the driver does not know.
var ErrTaskNotFound = errors.New("task not found")

// TaskConfig is everything a driver needs to start one task. The client
// builds it from the allocation; drivers never read the job.
type TaskConfig struct {
	// ID identifies this task instance: "<alloc ID>/<task name>".
	ID        string
	AllocID   string
	AllocName string
	JobID     string
	TaskGroup string
	TaskName  string
	// Config is the task's driver config, opaque to the client; the driver
	// validates it and refuses unknown keys with a clear error.
	Config map[string]interface{}
	// Env is the complete environment, NOMAD_* variables included.
	Env  map[string]string
	User string
	// CPU in MHz and MemoryMB, as allocated.
	CPU         int64
	MemoryMB    int64
	MemoryMaxMB int64
	// Ports are the group network's ports: host IP and port, and the port
	// inside the task ("to"; 0 means the same as the host port).
	Ports []structs.PortMapping
	// TaskNetworks are the deprecated task-level networks with their
	// assigned ports; the docker driver maps them with config port_map.
	TaskNetworks []*structs.NetworkResource
	// AllocDir is the allocation directory; TaskDir is AllocDir/<task>,
	// holding local/ and secrets/; LogDir is AllocDir/alloc/logs.
	AllocDir string
	TaskDir  string
	LogDir   string
	// Log rotation: files LogDir/<task>.stdout.N and .stderr.N, at most
	// LogMaxFiles of LogMaxFileSizeMB each per stream.
	LogMaxFiles      int
	LogMaxFileSizeMB int
}

// StdoutBase and StderrBase are the log file name prefixes of the task.
func (c *TaskConfig) StdoutBase() string { return c.TaskName + ".stdout" }

// StderrBase is the stderr counterpart of StdoutBase.
func (c *TaskConfig) StderrBase() string { return c.TaskName + ".stderr" }

// TaskHandle is what a driver returns when it starts a task, and what the
// client persists so that, after the client restarts, the driver can
// re-attach to the same container or process instead of starting another.
type TaskHandle struct {
	Driver    string
	Config    *TaskConfig
	StartedAt time.Time
	// State is driver-specific (a container ID, a process ID, ...).
	State json.RawMessage
}

// ExitResult is how a task ended.
type ExitResult struct {
	ExitCode  int
	Signal    int
	OOMKilled bool
	// Err is set when the driver lost track of the task.
	Err error
}

// Successful reports a clean exit.
func (r *ExitResult) Successful() bool {
	return r.ExitCode == 0 && r.Signal == 0 && r.Err == nil && !r.OOMKilled
}

func (r *ExitResult) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return fmt.Sprintf("Exit Code: %d, Signal: %d", r.ExitCode, r.Signal)
}

// TaskStats is a point-in-time resource usage sample.
type TaskStats struct {
	Timestamp time.Time
	// CPUPercent is of one core; CPUTotalTicks is MHz used, comparable
	// with the task's CPU allocation.
	CPUPercent    float64
	CPUTotalTicks float64
	MemoryRSS     uint64
	MemoryUsage   uint64
	MemoryMax     uint64
	// Measured names what was measured ("RSS", "Usage", "Percent", ...).
	Measured []string
	Pids     int
}

// EventFunc lets a driver report progress while it starts a task, such as
// ("Driver", "Downloading image redis:3.2"); the client turns it into a
// task event.
type EventFunc func(kind, message string)

// EventProgress is the kind of event a driver repeats while one long step
// runs, such as an image pull's layers and bytes. The client records it as
// a "Driver" task event that replaces the task's previous progress event
// instead of adding to the task's bounded event history, so a long pull
// does not push the task's other events out of it.
const EventProgress = "Driver Progress"

// Driver runs tasks of one kind.
type Driver interface {
	// Name is the driver's name in job files ("docker", "raw_exec", ...).
	Name() string
	// Fingerprint reports whether the driver can run tasks on this node;
	// the result is what the node registers under Drivers[name].
	Fingerprint(ctx context.Context) *structs.DriverInfo
	// StartTask validates the config and starts the task. Output goes to
	// the rotating log files described by the config.
	StartTask(ctx context.Context, cfg *TaskConfig, events EventFunc) (*TaskHandle, error)
	// RecoverTask re-attaches to a task started by an earlier client
	// process, from its persisted handle. It fails when the task is gone.
	RecoverTask(ctx context.Context, h *TaskHandle) error
	// WaitTask returns a channel that receives the task's exit once; it
	// is closed without a value if ctx ends first. A task killed by the
	// engine may report its exit code (137) rather than a signal.
	WaitTask(ctx context.Context, taskID string) (<-chan *ExitResult, error)
	// StopTask asks the task to stop with signal ("" means the driver's
	// default) and kills it once timeout has passed. It returns once the
	// task has exited.
	StopTask(taskID string, timeout time.Duration, signal string) error
	// DestroyTask frees everything the task holds (the container, ...),
	// killing it first if force is set; without force, a task that still
	// runs is an error.
	DestroyTask(taskID string, force bool) error
	// TaskStats samples the task's resource usage.
	TaskStats(ctx context.Context, taskID string) (*TaskStats, error)
}

// Registry holds the drivers a client offers, by name.
type Registry struct {
	mu      sync.RWMutex
	drivers map[string]Driver
}

// NewRegistry returns a registry of the given drivers.
func NewRegistry(ds ...Driver) *Registry {
	r := &Registry{drivers: map[string]Driver{}}
	for _, d := range ds {
		r.drivers[d.Name()] = d
	}
	return r
}

// Alias offers the driver registered as name under a second name too (a
// node then advertises both), for drivers another implementation of the
// API names differently. An unknown name adds nothing.
func (r *Registry) Alias(alias, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.drivers[name]; ok {
		r.drivers[alias] = d
	}
}

// Get returns the driver of that name.
func (r *Registry) Get(name string) (Driver, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.drivers[name]
	return d, ok
}

// Names lists the registered drivers, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.drivers))
	for n := range r.drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
