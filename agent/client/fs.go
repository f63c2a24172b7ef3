package client

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"drover/agent/drivers/logrotate"
	"drover/agent/structs"
)

// ErrUnknownAlloc is returned for an allocation this client does not run.
var ErrUnknownAlloc = fmt.Errorf("unknown allocation")

// LogChunk is a piece of a task's log, with the file it came from and its
// offset in the concatenation of the stream's files.
type LogChunk struct {
	File   string
	Offset int64
	Data   []byte
	// Event is a file event ("file deleted", "file truncated") of the fs
	// stream; it comes without data.
	Event string
}

// StreamLogs sends a task's stdout or stderr to emit, as the logs API does:
// from the start (origin "start", skipping offset bytes) or from offset
// bytes before the end (origin "end"), and with follow, keeps sending what
// is written (across rotations) until ctx ends or the allocation is gone.
func (c *Client) StreamLogs(ctx context.Context, allocID, task, stream string, follow bool, origin string, offset int64,
	emit func(LogChunk) error) error {
	if !c.AllocRunning(allocID) {
		return ErrUnknownAlloc
	}
	if stream != "stdout" && stream != "stderr" {
		return fmt.Errorf("log type must be stdout or stderr, got %q", stream)
	}
	if task == "" || strings.ContainsAny(task, `/\`) || task == "." || task == ".." {
		return fmt.Errorf("invalid task name %q", task)
	}
	dir := filepath.Join(c.AllocDir(allocID), "alloc", "logs")
	base := task + "." + stream
	files, err := logrotate.Files(dir, base)
	if err != nil {
		return err
	}
	if len(files) == 0 && !follow {
		return nil
	}
	// Everything is read through a root at the log directory: the task
	// owns these files and may have replaced one with a link, and a link
	// must never lead outside (to the host's files).
	root, err := os.OpenRoot(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer root.Close()
	// Position: which file and where in it.
	total := int64(0)
	sizes := make([]int64, len(files))
	for i, f := range files {
		if st, err := root.Stat(filepath.Base(f)); err == nil {
			sizes[i] = st.Size()
			total += sizes[i]
		}
	}
	start := offset
	if origin == "end" {
		start = total - offset
	}
	if start < 0 {
		start = 0
	}
	fileIdx, pos, skipped := 0, start, int64(0)
	for fileIdx < len(files) && pos >= sizes[fileIdx] && fileIdx < len(files)-1 {
		pos -= sizes[fileIdx]
		skipped += sizes[fileIdx]
		fileIdx++
	}
	current := ""
	if fileIdx < len(files) {
		current = files[fileIdx]
	}
	buf := make([]byte, 64<<10)
	for {
		if current != "" {
			n, err := readFrom(root, filepath.Base(current), pos, buf, func(data []byte, at int64) error {
				return emit(LogChunk{File: relLogPath(current), Offset: skipped + at, Data: data})
			})
			if err != nil {
				return err
			}
			pos += n
		}
		// A newer file means the current one was rotated away.
		files, _ = logrotate.Files(dir, base)
		if next := nextFile(files, current); next != "" {
			if st, err := root.Stat(filepath.Base(current)); err == nil {
				skipped += st.Size()
			}
			current, pos = next, 0
			continue
		}
		if !follow || !c.followPause(ctx, allocID) {
			return nil
		}
		if current == "" && len(files) > 0 {
			current = files[0]
		}
	}
}

// followPoll is how often a follower (of a log or of a file) looks for
// what was written since it last read.
const followPoll = 200 * time.Millisecond

// followPause waits for the next poll of a follower: false when ctx ended
// or the allocation is gone, and the stream should end.
func (c *Client) followPause(ctx context.Context, allocID string) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(followPoll):
	}
	return c.AllocRunning(allocID)
}

func relLogPath(path string) string {
	return filepath.Join("alloc", "logs", filepath.Base(path))
}

// nextFile returns the file after current in files, or "".
func nextFile(files []string, current string) string {
	for i, f := range files {
		if f == current && i+1 < len(files) {
			return files[i+1]
		}
	}
	return ""
}

// readFrom emits what the file name under root holds from pos on, in
// chunks, and returns how many bytes it read. A link that leads out of
// root is an error, never the file it points at.
func readFrom(root *os.Root, name string, pos int64, buf []byte, emit func([]byte, int64) error) (int64, error) {
	f, err := root.Open(name)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("read log %s: %w", name, err)
	}
	defer f.Close()
	if _, err := f.Seek(pos, io.SeekStart); err != nil {
		return 0, err
	}
	read := int64(0)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			data := append([]byte(nil), buf[:n]...)
			if err := emit(data, pos+read); err != nil {
				return read, err
			}
			read += int64(n)
		}
		if err == io.EOF {
			return read, nil
		}
		if err != nil {
			return read, err
		}
	}
}

// AllocResourceUsage is an allocation's resource usage, in the shape of
// the stats API.
type AllocResourceUsage struct {
	ResourceUsage *ResourceUsage
	Tasks         map[string]*TaskResourceUsage
	Timestamp     int64
}

// TaskResourceUsage is one task's usage.
type TaskResourceUsage struct {
	ResourceUsage *ResourceUsage
	Timestamp     int64
	Pids          map[string]*ResourceUsage
}

// ResourceUsage holds CPU and memory figures.
type ResourceUsage struct {
	MemoryStats *MemoryStats
	CpuStats    *CpuStats
}

// MemoryStats in bytes.
type MemoryStats struct {
	RSS      uint64
	Cache    uint64
	Swap     uint64
	Usage    uint64
	MaxUsage uint64
	Measured []string
}

// CpuStats as percent of a core and MHz used (TotalTicks).
type CpuStats struct {
	SystemMode       float64
	UserMode         float64
	TotalTicks       float64
	ThrottledPeriods uint64
	ThrottledTime    uint64
	Percent          float64
	Measured         []string
}

// AllocStats samples every running task of an allocation.
func (c *Client) AllocStats(ctx context.Context, allocID string) (*AllocResourceUsage, error) {
	c.mu.Lock()
	ar := c.allocs[allocID]
	c.mu.Unlock()
	if ar == nil {
		return nil, ErrUnknownAlloc
	}
	now := time.Now().UnixNano()
	out := &AllocResourceUsage{Tasks: map[string]*TaskResourceUsage{}, Timestamp: now,
		ResourceUsage: &ResourceUsage{MemoryStats: &MemoryStats{}, CpuStats: &CpuStats{}}}
	ar.mu.Lock()
	tasks := make(map[string]*taskRunner, len(ar.tasks))
	for k, v := range ar.tasks {
		tasks[k] = v
	}
	ar.mu.Unlock()
	for name, tr := range tasks {
		if tr.driver == nil || tr.snapshot().State != structs.TaskStateRunning {
			continue
		}
		st, err := tr.driver.TaskStats(ctx, tr.cfg.ID)
		if err != nil {
			continue
		}
		ru := &ResourceUsage{
			MemoryStats: &MemoryStats{RSS: st.MemoryRSS, Usage: st.MemoryUsage, MaxUsage: st.MemoryMax, Measured: st.Measured},
			CpuStats:    &CpuStats{Percent: st.CPUPercent, TotalTicks: st.CPUTotalTicks, Measured: st.Measured},
		}
		out.Tasks[name] = &TaskResourceUsage{ResourceUsage: ru, Timestamp: st.Timestamp.UnixNano()}
		total := out.ResourceUsage
		total.MemoryStats.RSS += st.MemoryRSS
		total.MemoryStats.Usage += st.MemoryUsage
		total.MemoryStats.MaxUsage += st.MemoryMax
		total.CpuStats.Percent += st.CPUPercent
		total.CpuStats.TotalTicks += st.CPUTotalTicks
	}
	return out, nil
}
