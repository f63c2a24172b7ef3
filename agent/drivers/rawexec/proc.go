package rawexec

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. It is
// 100 on every Linux architecture we run on; reading it needs sysconf (cgo),
// which is not worth a cgo dependency.
const clockTicks = 100

// defaultCoreMHz is assumed when /proc/cpuinfo gives no clock speed (some
// ARM and virtualised hosts), so CPUTotalTicks stays comparable with
// allocations made on the same assumption.
const defaultCoreMHz = 1000.0

// procStat is what we use of /proc/<pid>/stat.
type procStat struct {
	pid       int
	state     byte
	pgrp      int
	session   int
	ticks     uint64 // utime + stime
	startTime uint64 // clock ticks after boot; with the pid, identifies the process
	rssPages  uint64
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(pid, string(data))
}

func parseProcStat(pid int, s string) (procStat, error) {
	// The command name (field 2) may hold spaces and parentheses, so the
	// fields are counted from its last ')'.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(n int) uint64 {
		v, _ := strconv.ParseUint(f[n-3], 10, 64)
		return v
	}
	return procStat{
		pid:       pid,
		state:     f[0][0],
		pgrp:      int(num(5)),
		session:   int(num(6)),
		ticks:     num(14) + num(15),
		startTime: num(22),
		rssPages:  num(24),
	}, nil
}

// processAlive reports whether pid is still the process that started at
// startTime: a vanished pid, a reused one, and a zombie (exited, waiting to
// be reaped by whoever adopted it) all count as gone.
func processAlive(pid int, startTime uint64) bool {
	st, err := readProcStat(pid)
	return err == nil && st.startTime == startTime && st.state != 'Z' && st.state != 'X'
}

// groupMembers lists the live processes of process group pgid. It scans
// all of /proc, as there is no index by group; that is a few milliseconds
// even with thousands of processes.
func groupMembers(pgid int) []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil || st.pgrp != pgid || st.state == 'Z' || st.state == 'X' {
			continue
		}
		out = append(out, st)
	}
	return out
}

// coreMHz is the clock speed of one core, read once.
var coreMHz = sync.OnceValue(func() float64 {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return defaultCoreMHz
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "cpu MHz" {
			continue
		}
		if mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && mhz > 0 {
			return mhz
		}
	}
	return defaultCoreMHz
})
