// Package hoststats measures the machine a client runs on: memory, CPU
// per core, the disk that holds the allocations, and uptime, in the shape
// of the compatible API's /v1/client/stats. The parsers of /proc files are
// pure functions; Collector is the thin shell that reads them.
package hoststats

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Memory is the host's memory in bytes.
type Memory struct {
	Total     uint64
	Available uint64
	Used      uint64
	Free      uint64
}

// CPU is one core's use, in percent of the time since the last sample.
type CPU struct {
	CPU    string
	User   float64
	System float64
	Idle   float64
}

// Disk is one file system, sizes in bytes.
type Disk struct {
	Device            string
	Mountpoint        string
	Size              uint64
	Used              uint64
	Available         uint64
	UsedPercent       float64
	InodesUsedPercent float64
}

// Stats is a sample of the host, as /v1/client/stats answers it.
type Stats struct {
	Memory        *Memory
	CPU           []*CPU
	DiskStats     []*Disk
	AllocDirStats *Disk
	// Uptime is in seconds.
	Uptime uint64
	// CPUTicksConsumed is the MHz in use, comparable with the node's
	// total compute.
	CPUTicksConsumed float64
	Timestamp        int64
}

// ParseMeminfo reads /proc/meminfo.
func ParseMeminfo(r io.Reader) (*Memory, error) {
	fields := map[string]uint64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		fields[name] = n
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	total, ok := fields["MemTotal"]
	if !ok {
		return nil, fmt.Errorf("meminfo: no MemTotal")
	}
	avail, ok := fields["MemAvailable"]
	if !ok { // kernels before 3.14
		avail = fields["MemFree"] + fields["Buffers"] + fields["Cached"]
	}
	m := &Memory{Total: total, Available: avail, Free: fields["MemFree"]}
	if avail < total {
		m.Used = total - avail
	}
	return m, nil
}

// cpuTimes are one line of /proc/stat, in clock ticks.
type cpuTimes struct {
	name                 string
	user, system, idle   uint64
	nice, iowait, irq    uint64
	softirq, steal, rest uint64
}

func (t cpuTimes) total() uint64 {
	return t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal
}

// parseProcStat reads the cpu lines of /proc/stat: the aggregate "cpu"
// first, then each core.
func parseProcStat(r io.Reader) ([]cpuTimes, error) {
	var out []cpuTimes
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		var v [8]uint64
		for i := 1; i < len(f) && i <= 8; i++ {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/stat: %q: %w", f[0], err)
			}
			v[i-1] = n
		}
		out = append(out, cpuTimes{name: f[0], user: v[0], nice: v[1], system: v[2], idle: v[3],
			iowait: v[4], irq: v[5], softirq: v[6], steal: v[7]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/stat: no cpu lines")
	}
	return out, nil
}

// usage is the share of time each line spent between two samples, as
// percentages; idleShare is the aggregate's idle fraction (0..1).
func usage(prev, cur []cpuTimes) (cores []*CPU, idleShare float64) {
	idleShare = 1
	for i, c := range cur {
		if i >= len(prev) || prev[i].name != c.name {
			continue
		}
		p := prev[i]
		dt := float64(c.total() - p.total())
		if c.total() < p.total() || dt == 0 {
			continue
		}
		pct := func(now, then uint64) float64 {
			if now < then {
				return 0
			}
			return float64(now-then) * 100 / dt
		}
		idle := pct(c.idle+c.iowait, p.idle+p.iowait)
		if c.name == "cpu" {
			idleShare = idle / 100
			continue
		}
		cores = append(cores, &CPU{CPU: c.name, User: pct(c.user+c.nice, p.user+p.nice),
			System: pct(c.system+c.irq+c.softirq, p.system+p.irq+p.softirq), Idle: idle})
	}
	return cores, idleShare
}

// ParseUptime reads /proc/uptime: whole seconds since boot.
func ParseUptime(r io.Reader) (uint64, error) {
	var up float64
	if _, err := fmt.Fscan(r, &up); err != nil {
		return 0, fmt.Errorf("/proc/uptime: %w", err)
	}
	return uint64(up), nil
}

// mountOf finds, in /proc/self/mounts, the device and mount point of the
// file system holding path: the longest mount point that prefixes it.
func mountOf(mounts io.Reader, path string) (device, mountpoint string) {
	sc := bufio.NewScanner(mounts)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		mp := f[1]
		if (path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(mountpoint) {
			device, mountpoint = f[0], mp
		}
	}
	return device, mountpoint
}

// diskOf measures the file system that holds path.
func diskOf(path string) (*Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", path, err)
	}
	d := &Disk{
		Size:      st.Blocks * uint64(st.Bsize),
		Available: st.Bavail * uint64(st.Bsize),
	}
	free := st.Bfree * uint64(st.Bsize)
	if d.Size > free {
		d.Used = d.Size - free
	}
	if d.Used+d.Available > 0 {
		d.UsedPercent = float64(d.Used) * 100 / float64(d.Used+d.Available)
	}
	if st.Files > 0 && st.Files >= st.Ffree {
		d.InodesUsedPercent = float64(st.Files-st.Ffree) * 100 / float64(st.Files)
	}
	if f, err := os.Open("/proc/self/mounts"); err == nil {
		d.Device, d.Mountpoint = mountOf(f, path)
		f.Close()
	}
	return d, nil
}

// minInterval is the shortest time CPU use is measured over: shorter
// samples say little.
const minInterval = 100 * time.Millisecond

// Collector samples the host. CPU use is measured between consecutive
// calls (at least minInterval apart, waiting when needed), so a caller
// that polls every second sees the last second's use.
type Collector struct {
	// AllocDir is the directory whose file system is reported.
	AllocDir string
	// TotalMHz is the node's compute, to turn the busy share into MHz.
	TotalMHz float64

	mu     sync.Mutex
	prev   []cpuTimes
	prevAt time.Time
}

// Collect takes a sample.
func (c *Collector) Collect() (*Stats, error) {
	mem, err := readWith("/proc/meminfo", ParseMeminfo)
	if err != nil {
		return nil, err
	}
	uptime, err := readWith("/proc/uptime", ParseUptime)
	if err != nil {
		return nil, err
	}
	cores, idle, err := c.cpu()
	if err != nil {
		return nil, err
	}
	s := &Stats{Memory: mem, CPU: cores, Uptime: uptime, CPUTicksConsumed: c.TotalMHz * (1 - idle),
		Timestamp: time.Now().UnixNano()}
	if c.AllocDir != "" {
		d, err := diskOf(c.AllocDir)
		if err != nil {
			return nil, err
		}
		s.AllocDirStats, s.DiskStats = d, []*Disk{d}
	}
	return s, nil
}

func (c *Collector) cpu() ([]*CPU, float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prev == nil || time.Since(c.prevAt) < minInterval {
		if c.prev == nil {
			first, err := readWith("/proc/stat", parseProcStat)
			if err != nil {
				return nil, 0, err
			}
			c.prev, c.prevAt = first, time.Now()
		}
		time.Sleep(minInterval - time.Since(c.prevAt))
	}
	cur, err := readWith("/proc/stat", parseProcStat)
	if err != nil {
		return nil, 0, err
	}
	cores, idle := usage(c.prev, cur)
	c.prev, c.prevAt = cur, time.Now()
	return cores, idle, nil
}

func readWith[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(f)
}
