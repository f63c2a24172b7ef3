package hoststats

import (
	"math"
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	m, err := ParseMeminfo(strings.NewReader("MemTotal:       16000000 kB\nMemFree:         2000000 kB\nMemAvailable:    6000000 kB\nBuffers:  10 kB\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{Total: 16000000 * 1024, Free: 2000000 * 1024, Available: 6000000 * 1024, Used: 10000000 * 1024}
	if *m != want {
		t.Fatalf("got %+v, want %+v", *m, want)
	}
	// Old kernels have no MemAvailable: free + buffers + cache.
	m, err = ParseMeminfo(strings.NewReader("MemTotal: 100 kB\nMemFree: 10 kB\nBuffers: 5 kB\nCached: 20 kB\n"))
	if err != nil || m.Available != 35*1024 || m.Used != 65*1024 {
		t.Fatalf("got %+v %v", m, err)
	}
	if _, err := ParseMeminfo(strings.NewReader("garbage\n")); err == nil {
		t.Fatal("meminfo without MemTotal was accepted")
	}
}

func TestCPUUsageBetweenSamples(t *testing.T) {
	before, err := parseProcStat(strings.NewReader("cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\nintr 1 2 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	// cpu0 was busy (user) for 60 of 100 ticks, cpu1 idle throughout.
	after, err := parseProcStat(strings.NewReader("cpu  160 0 110 930 0 0 0 0 0 0\ncpu0 110 0 60 430 0 0 0 0 0 0\ncpu1 50 0 50 500 0 0 0 0 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	cores, idle := usage(before, after)
	if len(cores) != 2 || cores[0].CPU != "cpu0" || cores[1].CPU != "cpu1" {
		t.Fatalf("cores %+v", cores)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if !near(cores[0].User, 60) || !near(cores[0].System, 10) || !near(cores[0].Idle, 30) {
		t.Errorf("cpu0 %+v", *cores[0])
	}
	if !near(cores[1].Idle, 100) || cores[1].User != 0 {
		t.Errorf("cpu1 %+v", *cores[1])
	}
	if !near(idle, 0.65) {
		t.Errorf("aggregate idle share %v, want 0.65", idle)
	}
	if _, err := parseProcStat(strings.NewReader("intr 1\n")); err == nil {
		t.Error("/proc/stat without cpu lines was accepted")
	}
}

func TestParseUptime(t *testing.T) {
	up, err := ParseUptime(strings.NewReader("3725.41 7000.12\n"))
	if err != nil || up != 3725 {
		t.Fatalf("got %d %v", up, err)
	}
}

func TestMountOfPicksTheLongestPrefix(t *testing.T) {
	mounts := "overlay / overlay rw 0 0\n/dev/sda1 /var/lib rw 0 0\n/dev/sdb1 /var/lib/drover rw 0 0\n/dev/sdc1 /var/lib/droverx rw 0 0\n"
	dev, mp := mountOf(strings.NewReader(mounts), "/var/lib/drover/alloc")
	if dev != "/dev/sdb1" || mp != "/var/lib/drover" {
		t.Fatalf("got %s %s", dev, mp)
	}
	dev, _ = mountOf(strings.NewReader(mounts), "/tmp")
	if dev != "overlay" {
		t.Fatalf("got %s", dev)
	}
}

func TestCollectOnThisMachine(t *testing.T) {
	c := &Collector{AllocDir: t.TempDir(), TotalMHz: 2000}
	s, err := c.Collect()
	if err != nil {
		t.Fatal(err)
	}
	if s.Memory.Total == 0 || s.Memory.Used > s.Memory.Total || len(s.CPU) == 0 || s.Uptime == 0 {
		t.Fatalf("implausible sample %+v", s)
	}
	if s.AllocDirStats == nil || s.AllocDirStats.Size == 0 || s.AllocDirStats.Mountpoint == "" {
		t.Fatalf("alloc dir stats %+v", s.AllocDirStats)
	}
	if s.CPUTicksConsumed < 0 || s.CPUTicksConsumed > 2000 {
		t.Fatalf("ticks %v of 2000", s.CPUTicksConsumed)
	}
}
