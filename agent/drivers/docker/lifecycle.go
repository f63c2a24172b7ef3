package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/versions"

	"drover/agent/drivers"
)

// defaultStopSignal is sent when the task names none.
const defaultStopSignal = "SIGTERM"

// StopTask sends signal (SIGTERM when empty) and kills the container once
// timeout has passed. It is not an error to stop a stopped task.
//
// Engines older than API 1.42 ignore the signal of a stop request and send
// the container's own stop signal, so for them a signal other than that one
// is delivered with a kill request, followed by SIGKILL at the timeout.
func (d *Driver) StopTask(taskID string, timeout time.Duration, signal string) error {
	t, err := d.get(taskID)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = defaultStopSignal
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+apiTimeout)
	defer cancel()

	info, err := d.cli.ContainerInspect(ctx, t.containerID)
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("docker: stop %s: inspect: %w", taskID, err)
	}
	if info.State == nil || !info.State.Running {
		return nil
	}

	imageSignal := ""
	if info.Config != nil {
		imageSignal = info.Config.StopSignal
	}
	// ClientVersion is the negotiated version here: the inspect above
	// negotiated it.
	if versions.GreaterThanOrEqualTo(d.cli.ClientVersion(), "1.42") || sameSignal(signal, imageSignal) {
		secs := int(math.Ceil(timeout.Seconds()))
		if err := d.cli.ContainerStop(ctx, t.containerID, container.StopOptions{Signal: signal, Timeout: &secs}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: stop %s: %w", taskID, err)
		}
		return nil
	}

	if err := d.cli.ContainerKill(ctx, t.containerID, signal); err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) { // gone or no longer running
			return nil
		}
		return fmt.Errorf("docker: stop %s: send %s: %w", taskID, signal, err)
	}
	if d.waitStopped(ctx, t.containerID, timeout) {
		return nil
	}
	if err := d.cli.ContainerKill(ctx, t.containerID, "SIGKILL"); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("docker: stop %s: kill: %w", taskID, err)
	}
	d.waitStopped(ctx, t.containerID, apiTimeout)
	return nil
}

// waitStopped reports whether the container stopped within timeout.
func (d *Driver) waitStopped(ctx context.Context, id string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	respCh, errCh := d.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case <-respCh:
		return true
	case err := <-errCh:
		return cerrdefs.IsNotFound(err)
	}
}

// sameSignal compares signal names the way the engine parses them
// ("TERM", "SIGTERM" and "15" are the same); an empty image signal means
// SIGTERM.
func sameSignal(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToUpper(strings.TrimSpace(s))
		switch s {
		case "", "15":
			return "TERM"
		case "2":
			return "INT"
		case "9":
			return "KILL"
		}
		return strings.TrimPrefix(s, "SIG")
	}
	return norm(a) == norm(b)
}

// DestroyTask removes the container, killing it first when force is set.
// Without force a running task is refused. The output the container wrote
// is copied to the log files before the container is removed.
func (d *Driver) DestroyTask(taskID string, force bool) error {
	t, err := d.get(taskID)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	info, err := d.cli.ContainerInspect(ctx, t.containerID)
	switch {
	case cerrdefs.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("docker: destroy %s: inspect: %w", taskID, err)
	default:
		running := info.State != nil && info.State.Running
		if running && !force {
			return fmt.Errorf("docker: destroy %s: container %s is still running (stop it first, or force)", taskID, shortID(t.containerID))
		}
		if !running {
			select {
			case <-t.logsDone:
			case <-time.After(logDrainTimeout):
			}
		}
		err := d.cli.ContainerRemove(ctx, t.containerID, container.RemoveOptions{Force: force, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: destroy %s: remove container %s: %w", taskID, shortID(t.containerID), err)
		}
	}
	d.forget(t)
	return nil
}

// TaskStats samples the container's usage with a one-shot stats request,
// which answers at once instead of waiting a second for the engine to take
// two CPU samples.
//
// CPU usage is the change in the container's CPU time since the previous
// TaskStats call (or the engine's previous sample when it reports one),
// relative to the host's: CPUPercent is percent of one core. The first
// call has nothing to compare with and reports no CPU figures.
// CPUTotalTicks is allocation-relative: CPUPercent × the task's CPU (MHz) /
// 100, so a task keeping one core busy counts as using its whole
// allocation. The node's MHz per core would be more exact, but the driver
// does not know it (the engine may even be on another host).
//
// Memory usage is the cgroup's usage minus the page cache; RSS and the maximum are reported when the cgroup version
// provides them. Measured names exactly the figures that are real.
func (d *Driver) TaskStats(ctx context.Context, taskID string) (*drivers.TaskStats, error) {
	t, err := d.get(taskID)
	if err != nil {
		return nil, err
	}
	resp, err := d.cli.ContainerStatsOneShot(ctx, t.containerID)
	if err != nil {
		return nil, fmt.Errorf("docker: stats %s: %w", taskID, err)
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("docker: stats %s: decode: %w", taskID, err)
	}

	out := &drivers.TaskStats{Timestamp: s.Read, Pids: int(s.PidsStats.Current)}
	if out.Timestamp.IsZero() {
		out.Timestamp = time.Now()
	}

	mem := s.MemoryStats
	if mem.Usage > 0 {
		// The page cache is reclaimable, so it is not the task's usage:
		// cgroup v1 reports it as "cache"; v2 has no such total, and
		// inactive_file is what the engine's own CLI subtracts there.
		cache, ok := mem.Stats["cache"]
		if !ok {
			cache = mem.Stats["inactive_file"]
		}
		out.MemoryUsage = mem.Usage
		if cache < mem.Usage {
			out.MemoryUsage = mem.Usage - cache
		}
		out.Measured = append(out.Measured, "Usage")
		if rss, ok := mem.Stats["rss"]; ok { // v1
			out.MemoryRSS = rss
			out.Measured = append(out.Measured, "RSS")
		} else if anon, ok := mem.Stats["anon"]; ok { // v2
			out.MemoryRSS = anon
			out.Measured = append(out.Measured, "RSS")
		}
		if mem.MaxUsage > 0 { // v1 only
			out.MemoryMax = mem.MaxUsage
			out.Measured = append(out.Measured, "Max Usage")
		}
	}

	cpuNow, sysNow := s.CPUStats.CPUUsage.TotalUsage, s.CPUStats.SystemUsage
	t.statsMu.Lock()
	cpuPrev, sysPrev, have := t.prevCPU, t.prevSystemCPU, t.havePrevCPU
	if !have && s.PreCPUStats.SystemUsage > 0 {
		cpuPrev, sysPrev, have = s.PreCPUStats.CPUUsage.TotalUsage, s.PreCPUStats.SystemUsage, true
	}
	if sysNow > 0 {
		t.prevCPU, t.prevSystemCPU, t.havePrevCPU = cpuNow, sysNow, true
	}
	t.statsMu.Unlock()
	if have && sysNow > sysPrev && cpuNow >= cpuPrev {
		cpus := float64(s.CPUStats.OnlineCPUs)
		if cpus == 0 {
			cpus = float64(len(s.CPUStats.CPUUsage.PercpuUsage))
		}
		if cpus == 0 {
			cpus = 1
		}
		out.CPUPercent = float64(cpuNow-cpuPrev) / float64(sysNow-sysPrev) * cpus * 100
		out.CPUTotalTicks = out.CPUPercent * float64(t.cfg.CPU) / 100
		out.Measured = append(out.Measured, "Percent", "Total Ticks")
	}
	return out, nil
}
