package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"drover/agent/bench"
)

// benchFlags are bench's flags; a size left unset keeps the preset's.
type benchFlags struct {
	nodes, allocs, jobs      int
	duration, timeout, batch time.Duration
	failRate                 float64
	deploy, asJSON, verbose  bool
	cpuProfile, memProfile   string
}

// newBenchCommand is "bench": the simulation harness (agent/bench) from
// the command line. It needs no agent: the cluster runs in-process.
func newBenchCommand(s *streams) *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "bench <preset>",
		Short: "Measure a simulated cluster in this process",
		Long: "Runs an in-process server with simulated client nodes on the mock driver,\n" +
			"registers jobs, waits until every allocation is placed and running, checks\n" +
			"that in the server's state, and reports placements/s, the time to all placed\n" +
			"and all running, register → placed p50/p99, raft entry bytes, Go heap and RSS.\n" +
			"Presets: c1k (500 allocations on one node of a real client agent), c100k\n" +
			"(100,000 allocations over 5,000 simulated nodes, 10 jobs), churn (10% of the\n" +
			"allocations fail per minute and are rescheduled; -duration, 60s) and boot\n" +
			"(5,000 nodes registering at once with a system job). -nodes, -allocs and\n" +
			"-jobs override a preset's sizes. Progress goes to stderr, the result to\n" +
			"stdout as a table or, with -json, as JSON. A run that does not reach its\n" +
			"outcome within -timeout prints how far it got and exits 1.",
		Example: "  drover bench c1k\n" +
			"  drover bench c1k -allocs 2000\n" +
			"  drover bench c100k -json\n" +
			"  drover bench churn -nodes 500 -allocs 5000 -duration 60s\n" +
			"  drover bench boot -cpuprofile boot.cpu -memprofile boot.heap",
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{cmd: c, msg: "This command takes one argument: a preset (" + strings.Join(bench.Presets, ", ") + ")"}
			}
			opts, err := bench.DefaultOptions(args[0])
			if err != nil {
				return &usageError{cmd: c, msg: fmt.Sprintf("Unknown preset %q: one of %s", args[0], strings.Join(bench.Presets, ", "))}
			}
			fl := c.Flags()
			for name, set := range map[string]func(){
				"nodes":     func() { opts.Nodes = f.nodes },
				"allocs":    func() { opts.Allocs = f.allocs },
				"jobs":      func() { opts.Jobs = f.jobs },
				"duration":  func() { opts.Duration = f.duration },
				"timeout":   func() { opts.Timeout = f.timeout },
				"batch":     func() { opts.Batch = f.batch },
				"fail-rate": func() { opts.FailPerMinute = f.failRate },
			} {
				if fl.Changed(name) {
					set()
				}
			}
			opts.Deploy = f.deploy
			opts.Progress = s.Err
			if f.verbose {
				opts.ServerLog = s.Err
			}
			return runBench(c, s, f, opts)
		},
	}
	fl := c.Flags()
	fl.IntVar(&f.nodes, "nodes", 0, "simulated client nodes (default: the preset's)")
	fl.IntVar(&f.allocs, "allocs", 0, "allocations in total, spread over the jobs (default: the preset's)")
	fl.IntVar(&f.jobs, "jobs", 0, "jobs; each holds at most 10,000 allocations (default: the preset's)")
	fl.DurationVar(&f.duration, "duration", 0, "churn: how long allocations keep failing (default 60s)")
	fl.Float64Var(&f.failRate, "fail-rate", 0, "churn: the fraction of the allocations that fail per minute (default 0.1)")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up when the outcome is not reached by then (default: the preset's)")
	fl.DurationVar(&f.batch, "batch", 0, "how long a simulated node coalesces its allocation updates (default 100ms)")
	fl.BoolVar(&f.deploy, "deploy", false, "give the jobs the default update block, so each runs a deployment")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.BoolVar(&f.verbose, "verbose", false, "print the server's log to stderr")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fl.StringVar(&f.memProfile, "memprofile", "", "write a heap profile, taken when the outcome is reached, to this file")
	return c
}

// runBench runs one preset with its profiles, and prints the result, also
// when the outcome was not reached.
func runBench(c *cobra.Command, s *streams, f benchFlags, opts bench.Options) error {
	if f.memProfile != "" {
		file, err := os.Create(f.memProfile)
		if err != nil {
			return fail(1, "Error creating the heap profile: %v", err)
		}
		defer file.Close()
		opts.HeapProfile = file
	}
	if f.cpuProfile != "" {
		file, err := os.Create(f.cpuProfile)
		if err != nil {
			return fail(1, "Error creating the CPU profile: %v", err)
		}
		defer file.Close()
		if err := pprof.StartCPUProfile(file); err != nil {
			return fail(1, "Error starting the CPU profile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(c.Context(), opts)
	if res == nil {
		// The options were refused before anything ran.
		return fail(1, "Error running bench %s: %v", opts.Preset, err)
	}
	if perr := printBenchResult(s.Out, res, f.asJSON); perr != nil {
		return fail(1, "Error printing the result: %v", perr)
	}
	if err != nil {
		return fail(1, "Error running bench %s: %v", opts.Preset, err)
	}
	return nil
}

func printBenchResult(w io.Writer, res *bench.Result, asJSON bool) error {
	if !asJSON {
		return res.WriteTable(w)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
