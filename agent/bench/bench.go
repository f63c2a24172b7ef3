// Package bench is Drover's simulation harness: it runs an in-process
// server with many simulated client nodes (or, for c1k, one real client
// agent), registers jobs on the mock driver, waits until the outcome it
// expects is reached and verified, and reports what it cost: placements
// per second, the time to all placed and all running, register → placed
// latencies, raft entry bytes, Go heap and process RSS.
//
// The presets are those of issue 14:
//
//	c1k    500 allocations on one node, run by a real client agent
//	c100k  100,000 allocations over 5,000 simulated nodes (10 jobs)
//	churn  a steady cluster in which 10% of the allocations fail per
//	       minute and are rescheduled
//	boot   5,000 simulated nodes registering at once with a system job
//
// `drover bench <preset>` runs one from the command line; the Benchmark*
// functions of this package run them under `go test -bench`. See
// DESIGN.md beside this file for how the simulated nodes behave.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"

	"drover/agent/server"
	"drover/agent/structs"
)

// Preset names.
const (
	PresetC1k   = "c1k"
	PresetC100k = "c100k"
	PresetChurn = "churn"
	PresetBoot  = "boot"
)

// Presets lists the preset names, in the order they are documented.
var Presets = []string{PresetC1k, PresetC100k, PresetChurn, PresetBoot}

// ErrOutcome is wrapped by Run's error when the expected outcome (every
// allocation placed and running, every node with its allocation) was not
// reached before the timeout, or was reached but failed verification.
var ErrOutcome = errors.New("outcome not reached")

// Options size and pace a run. DefaultOptions gives each preset's.
type Options struct {
	// Preset is one of Presets.
	Preset string
	// Nodes is the number of simulated client nodes (c1k: always one
	// real client; boot: the nodes that register at once).
	Nodes int
	// Allocs is the number of allocations asked for in total, spread
	// evenly over Jobs jobs of one group each (boot: one per node).
	Allocs int
	// Jobs is the number of jobs; a job's group holds at most the
	// server's max_group_count (10,000) allocations.
	Jobs int
	// Duration is how long churn injects failures.
	Duration time.Duration
	// FailPerMinute is the fraction of the allocations churn fails each
	// minute (0.10: 10%).
	FailPerMinute float64
	// Timeout bounds the whole run; the outcome not reached by then is
	// an error (ErrOutcome).
	Timeout time.Duration
	// Deploy gives the service jobs the default update block, so each
	// runs a deployment (the nodes report allocations healthy as soon as
	// they run); without it the jobs have none (max_parallel = 0).
	Deploy bool
	// Batch is how long a simulated node coalesces its allocation
	// updates before it sends them, as a real client batches them.
	Batch time.Duration
	// Progress, when set, receives a progress line every few seconds.
	Progress io.Writer
	// HeapProfile, when set, receives a pprof heap profile written at
	// the moment the outcome is reached (or the run gives up), before
	// anything is stopped: what the cluster holds at its fullest.
	HeapProfile io.Writer
	// heartbeatTTL, when set, is the server's shortest heartbeat TTL and
	// its grace (tests shorten them to see nodes heartbeat).
	heartbeatTTL time.Duration
	// ServerLog, when set, receives the server's (and c1k's agent's) log;
	// it is discarded otherwise.
	ServerLog io.Writer
}

// DefaultOptions returns a preset's default sizes.
func DefaultOptions(preset string) (Options, error) {
	o := Options{Preset: preset, Batch: 100 * time.Millisecond, FailPerMinute: 0.10}
	switch preset {
	case PresetC1k:
		o.Nodes, o.Allocs, o.Jobs, o.Timeout = 1, 500, 1, 2*time.Minute
	case PresetC100k:
		o.Nodes, o.Allocs, o.Jobs, o.Timeout = 5000, 100000, 10, 10*time.Minute
	case PresetChurn:
		o.Nodes, o.Allocs, o.Jobs, o.Timeout = 1000, 10000, 1, 5*time.Minute
		o.Duration = 60 * time.Second
	case PresetBoot:
		o.Nodes, o.Allocs, o.Jobs, o.Timeout = 5000, 5000, 1, 10*time.Minute
	default:
		return Options{}, fmt.Errorf("unknown preset %q (one of c1k, c100k, churn, boot)", preset)
	}
	return o, nil
}

// validate checks the sizes against each other and the job limits.
func (o *Options) validate() error {
	if _, err := DefaultOptions(o.Preset); err != nil {
		return err
	}
	switch {
	case o.Nodes < 1:
		return fmt.Errorf("nodes must be at least 1, got %d", o.Nodes)
	case o.Jobs < 1:
		return fmt.Errorf("jobs must be at least 1, got %d", o.Jobs)
	case o.Timeout <= 0:
		return fmt.Errorf("timeout must be positive, got %v", o.Timeout)
	case o.Batch < 0:
		return fmt.Errorf("batch must not be negative, got %v", o.Batch)
	}
	switch o.Preset {
	case PresetC1k:
		if o.Nodes != 1 {
			return fmt.Errorf("c1k runs on one real client node; -nodes must be 1, got %d", o.Nodes)
		}
	case PresetBoot:
		if o.Jobs != 1 {
			return fmt.Errorf("boot registers one system job; -jobs must be 1, got %d", o.Jobs)
		}
		o.Allocs = o.Nodes // a system job places one allocation per node
	case PresetChurn:
		if o.Duration <= 0 {
			return fmt.Errorf("churn needs a positive duration, got %v", o.Duration)
		}
		if o.FailPerMinute <= 0 || o.FailPerMinute > 1 {
			return fmt.Errorf("the fraction failing per minute must be in (0, 1], got %v", o.FailPerMinute)
		}
	}
	if o.Allocs < o.Jobs {
		return fmt.Errorf("allocations (%d) must be at least one per job (%d jobs)", o.Allocs, o.Jobs)
	}
	if per := (o.Allocs + o.Jobs - 1) / o.Jobs; per > structs.DefaultLimits.MaxGroupCount {
		return fmt.Errorf("%d allocations over %d jobs is %d per job, more than a group's limit of %d: use more jobs",
			o.Allocs, o.Jobs, per, structs.DefaultLimits.MaxGroupCount)
	}
	return nil
}

// Milestone is when a share of the allocations had been placed.
type Milestone struct {
	Percent int     `json:"percent"`
	Placed  int     `json:"placed"`
	At      Seconds `json:"at_s"`
}

// Churn is what the churn preset measured once the cluster was steady.
type Churn struct {
	// Duration is how long failures were injected.
	Duration Seconds `json:"duration_s"`
	// Failed is how many allocations were reported failed, Replaced how
	// many of them had a replacement placed by the end of the run.
	Failed   int `json:"failed"`
	Replaced int `json:"replaced"`
	// Reschedule is the latency from a failure's report to its
	// replacement's placement (the replacement's CreateTime).
	Reschedule Percentiles `json:"reschedule"`
	// BacklogAtEnd is how many failures had no replacement when the
	// injection stopped; MaxBacklog the most at any second.
	BacklogAtEnd int `json:"backlog_at_end"`
	MaxBacklog   int `json:"max_backlog"`
	// KeptUp: when the injection stopped, every failure reported more than
	// KeepUpWindow earlier had been replaced, and afterwards the cluster
	// settled (all allocations running) before the timeout.
	KeptUp       bool    `json:"kept_up"`
	KeepUpWindow Seconds `json:"keep_up_window_s"`
	// Settle is the time from the end of the injection until every
	// allocation ran again.
	Settle Seconds `json:"settle_s"`
}

// Result is what a run measured. Times are in seconds from Start's
// origin: the first job registration (boot: the moment the nodes start
// registering).
type Result struct {
	Preset    string `json:"preset"`
	Nodes     int    `json:"nodes"`
	Jobs      int    `json:"jobs"`
	Allocs    int    `json:"allocs"`
	NumCPU    int    `json:"num_cpu"`
	GoVersion string `json:"go_version"`
	// OK is true when the outcome was reached and verified.
	OK bool `json:"ok"`
	// Error says why the outcome was not reached (empty when OK).
	Error string `json:"error,omitempty"`

	// Placed and Running are the allocations seen placed and reported
	// running (by the end, or when the run gave up).
	Placed  int `json:"placed"`
	Running int `json:"running"`
	// TimeToAllPlaced runs until the last initial allocation was
	// committed (its CreateTime); TimeToAllRunning until the last one was
	// acknowledged running. Zero when not reached.
	TimeToAllPlaced  Seconds `json:"time_to_all_placed_s"`
	TimeToAllRunning Seconds `json:"time_to_all_running_s"`
	// PlacementsPerSec is Allocs / TimeToAllPlaced.
	PlacementsPerSec float64 `json:"placements_per_s"`
	// RegisterToPlaced is, per allocation, its CreateTime minus its job's
	// registration (SubmitTime); for boot, minus its node's becoming
	// ready.
	RegisterToPlaced Percentiles `json:"register_to_placed"`
	// Milestones are the times to 10, 25, 50, 75, 90 and 100% placed
	// (by CreateTime), as far as the run got.
	Milestones []Milestone `json:"milestones"`
	// NodesRegistered is how long the simulated nodes took to register
	// and report ready (before the jobs, except for boot, where they
	// register against a system job).
	NodesRegistered Seconds `json:"nodes_registered_s"`
	// Evals is the number of evaluations in the state at the end.
	Evals int `json:"evals"`
	// Churn is set for the churn preset.
	Churn *Churn `json:"churn,omitempty"`
	// Raft is what the server proposed to raft during the run.
	Raft   server.RaftEntryStats `json:"raft"`
	Memory Memory                `json:"memory"`
	// Elapsed is the wall time of the whole run, set-up and teardown
	// included.
	Elapsed Seconds `json:"elapsed_s"`
}

// Run runs a preset with the given options and returns what it measured.
// When the outcome is not reached within opts.Timeout (or ctx ends) it
// returns the partial result with an error wrapping ErrOutcome; every
// server, agent and goroutine it started is stopped either way.
func Run(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	res := &Result{Preset: opts.Preset, Nodes: opts.Nodes, Jobs: opts.Jobs, Allocs: opts.Allocs,
		NumCPU: runtime.NumCPU(), GoVersion: runtime.Version()}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var err error
	if opts.Preset == PresetC1k {
		err = runAgent(ctx, opts, res)
	} else {
		err = runSim(ctx, opts, res)
	}
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrOutcome) {
		// Set-up ran out of time: still a timeout, whatever step it hit.
		err = outcomeError(ctx, opts.Timeout, "%v", err)
	}
	res.Elapsed = seconds(time.Since(started))
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	return res, err
}

// outcomeError is the error of a run that gave up, saying how far it got.
func outcomeError(ctx context.Context, timeout time.Duration, format string, args ...interface{}) error {
	why := "gave up"
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		why = fmt.Sprintf("timed out after %v", timeout)
	} else if ctx.Err() != nil {
		why = "interrupted"
	}
	return fmt.Errorf("%w: %s: %s", ErrOutcome, why, fmt.Sprintf(format, args...))
}

// milestonePercents are the shares of placements whose times are kept.
var milestonePercents = []int{10, 25, 50, 75, 90, 100}

// milestonesOf are the times, from origin, at which the allocations whose
// CreateTimes are given made up each milestone's share of total; shares
// not reached are left out.
func milestonesOf(creates []int64, origin int64, total int) []Milestone {
	c := append([]int64(nil), creates...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	var out []Milestone
	for _, p := range milestonePercents {
		need := (total*p + 99) / 100
		if need < 1 || need > len(c) {
			break
		}
		out = append(out, Milestone{Percent: p, Placed: need, At: seconds(time.Duration(c[need-1] - origin))})
	}
	return out
}
