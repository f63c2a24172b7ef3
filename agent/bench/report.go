package bench

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints the result as an aligned two-column table.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...interface{}) {
		fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...))
	}
	row("preset", "%s", r.Preset)
	row("nodes", "%s", count(r.Nodes))
	row("jobs", "%s", count(r.Jobs))
	row("allocations", "%s", count(r.Allocs))
	if r.OK {
		row("outcome", "ok: every allocation placed and running, verified in the state")
	} else {
		row("outcome", "NOT REACHED: %s", r.Error)
	}
	row("machine", "%d CPUs, %s", r.NumCPU, r.GoVersion)
	if r.Preset == PresetC1k {
		row("agent start to node ready", "%s", secs(r.NodesRegistered))
	} else {
		row("nodes registered and ready", "%s", secs(r.NodesRegistered))
	}
	row("placed / running", "%s / %s", count(r.Placed), count(r.Running))
	row("time to all placed", "%s", secs(r.TimeToAllPlaced))
	row("time to all running", "%s", secs(r.TimeToAllRunning))
	if r.PlacementsPerSec > 0 {
		row("placements/s", "%s", count(int(r.PlacementsPerSec+0.5)))
	} else {
		row("placements/s", "-")
	}
	from := "register → placed"
	if r.Preset == PresetBoot {
		from = "node ready → placed"
	}
	row(from, "%s", pcts(r.RegisterToPlaced))
	for _, m := range r.Milestones {
		row(fmt.Sprintf("  %d%% placed (%s)", m.Percent, count(m.Placed)), "%s", secs(m.At))
	}
	if c := r.Churn; c != nil {
		row("churn: failures injected", "%s over %s", count(c.Failed), secs(c.Duration))
		row("churn: replaced", "%s", count(c.Replaced))
		row("churn: fail → replacement placed", "%s", pcts(c.Reschedule))
		row("churn: backlog at end / max", "%s / %s", count(c.BacklogAtEnd), count(c.MaxBacklog))
		row("churn: settled after", "%s", secs(c.Settle))
		row("churn: kept up", "%v (no failure older than %s unreplaced at the end)", c.KeptUp, secs(c.KeepUpWindow))
	}
	row("evaluations in state", "%s", count(r.Evals))
	row("raft entries", "%s, %s, largest %s (%s)", count(int(r.Raft.Total.Entries)), size(r.Raft.Total.Bytes),
		size(r.Raft.Total.Largest), r.Raft.LargestType)
	types := make([]string, 0, len(r.Raft.ByType))
	for t := range r.Raft.ByType {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return r.Raft.ByType[types[i]].Bytes > r.Raft.ByType[types[j]].Bytes })
	for _, t := range types {
		c := r.Raft.ByType[t]
		row("  "+t, "%s, %s, largest %s", count(int(c.Entries)), size(c.Bytes), size(c.Largest))
	}
	row("Go heap in use", "%s (peak %s)", size(r.Memory.HeapInUse), size(r.Memory.PeakHeapInUse))
	row("RSS", "%s (peak %s)", size(r.Memory.RSS), size(r.Memory.PeakRSS))
	row("goroutines", "%s", count(r.Memory.Goroutines))
	row("elapsed", "%s", secs(r.Elapsed))
	return tw.Flush()
}

// count prints n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// secs prints a time in seconds, or in milliseconds below one second;
// "-" for a time not reached.
func secs(s Seconds) string {
	switch {
	case s <= 0:
		return "-"
	case s < 1:
		return fmt.Sprintf("%.1f ms", float64(s)*1000)
	default:
		return fmt.Sprintf("%.2f s", float64(s))
	}
}

func pcts(p Percentiles) string {
	if p.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s (%s samples)", secs(p.P50), secs(p.P99), secs(p.Max), count(p.Count))
}

// size prints bytes in binary units.
func size(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
