package client

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"drover/agent/structs"
)

// natAddress is the address VirtualBox gives every VM's first interface.
// It is the same on every machine of a Vagrant lab, so it must never be
// what a node advertises when another private address exists.
const natAddress = "10.0.2.15"

// driverWait bounds how long a client's first registration waits for its
// drivers' fingerprints. A driver that answers later (docker's ping waits
// up to 5 s for an engine that does not answer) is registered as not yet
// detected, and the node registers again once it answers: a ready node's
// registration has its jobs evaluated, so nothing waits for the driver
// longer than it must.
const driverWait = 250 * time.Millisecond

// driverAnswer is one driver's fingerprint.
type driverAnswer struct {
	name string
	info *structs.DriverInfo
}

// fingerprintDrivers asks every driver to fingerprint itself, all at once
// (a driver may wait on something slow, as docker on its engine). The
// answers arrive on the channel, which has room for all of them.
func (c *Client) fingerprintDrivers(ctx context.Context) ([]string, <-chan driverAnswer) {
	names := c.drivers.Names()
	answers := make(chan driverAnswer, len(names))
	for _, name := range names {
		d, _ := c.drivers.Get(name)
		go func() { answers <- driverAnswer{name, d.Fingerprint(ctx)} }()
	}
	return names, answers
}

// collectDrivers waits up to wait for the drivers' answers. A driver that
// has not answered by then is reported as being fingerprinted; missing
// counts those.
func collectDrivers(names []string, answers <-chan driverAnswer, wait time.Duration) (infos map[string]*structs.DriverInfo, missing int) {
	infos = make(map[string]*structs.DriverInfo, len(names))
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	expired := false
	for len(infos) < len(names) && !expired {
		// Answers already in are taken even when the time is up.
		select {
		case a := <-answers:
			infos[a.name] = a.info
			continue
		default:
		}
		select {
		case a := <-answers:
			infos[a.name] = a.info
		case <-timeout.C:
			expired = true
		}
	}
	for _, name := range names {
		if infos[name] == nil {
			infos[name] = &structs.DriverInfo{HealthDescription: "Fingerprinting", UpdateTime: time.Now()}
			missing++
		}
	}
	return infos, missing
}

// lateDrivers takes the fingerprints of drivers that answered after the
// node was built, and has the node register again with each.
func (c *Client) lateDrivers(answers <-chan driverAnswer, missing int) {
	defer c.wg.Done()
	for ; missing > 0; missing-- {
		var a driverAnswer
		select {
		case <-c.ctx.Done():
			return
		case a = <-answers:
		}
		c.mu.Lock()
		node := c.current.Copy()
		node.Drivers = maps.Clone(c.current.Drivers)
		node.Drivers[a.name] = a.info
		c.current = node
		c.mu.Unlock()
		c.logger.Printf("[INFO] client: driver %s answered its fingerprint after %s: registering the node again", a.name, driverWait)
		select {
		case c.nodeChanged <- struct{}{}:
		default:
		}
	}
}

// fingerprint builds the node this client registers: resources, address,
// OS attributes and the drivers that can run tasks here. It registers
// ready: everything it reports is known by then, but for a driver slow to
// answer, which the node reports when it does (lateDrivers).
func (c *Client) fingerprint(drivers map[string]*structs.DriverInfo) (*structs.Node, error) {
	cfg := c.config
	ip, err := nodeAddress(cfg.NetworkInterface)
	if err != nil {
		return nil, err
	}
	cpu := int64(cfg.CPUTotalCompute)
	cores := runtime.NumCPU()
	if cpu <= 0 {
		cpu = int64(cpuMHz() * float64(cores))
	}
	mem := int64(cfg.MemoryTotalMB)
	if mem <= 0 {
		mem = memoryMB()
	}
	disk := int64(cfg.DiskTotalMB)
	if disk <= 0 {
		disk = diskMB(cfg.AllocDir)
	}
	osName, osVersion := osRelease("/etc/os-release")
	node := &structs.Node{
		ID:         c.nodeID,
		SecretID:   c.secretID,
		Name:       cfg.NodeName,
		Datacenter: cfg.Datacenter,
		NodeClass:  cfg.NodeClass,
		NodePool:   structs.DefaultNodePool,
		HTTPAddr:   cfg.HTTPAddr,
		TLSEnabled: cfg.HTTPTLS,
		Status:     structs.NodeStatusReady,
		Meta:       cfg.Meta,
		Attributes: map[string]string{
			"unique.network.ip-address": ip,
			"unique.hostname":           hostname(),
			"kernel.name":               runtime.GOOS,
			"os.name":                   osName,
			"os.version":                osVersion,
			"cpu.arch":                  runtime.GOARCH,
			"cpu.numcores":              strconv.Itoa(cores),
			"cpu.totalcompute":          strconv.FormatInt(cpu, 10),
			"memory.totalbytes":         strconv.FormatInt(mem<<20, 10),
			"drover.version":            cfg.Version,
		},
		NodeResources: &structs.NodeResources{
			Cpu:            structs.NodeCpuResources{CpuShares: cpu, TotalCpuCores: uint16(cores)},
			Memory:         structs.NodeMemoryResources{MemoryMB: mem},
			Disk:           structs.NodeDiskResources{DiskMB: disk},
			Networks:       []*structs.NetworkResource{{Mode: "host", Device: cfg.NetworkInterface, IP: ip, MBits: 1000}},
			MinDynamicPort: cfg.MinDynamicPort,
			MaxDynamicPort: cfg.MaxDynamicPort,
		},
		ReservedResources: &structs.NodeReservedResources{
			Cpu:      structs.NodeReservedCpuResources{CpuShares: uint64(cfg.ReservedCPU)},
			Memory:   structs.NodeReservedMemoryResources{MemoryMB: uint64(cfg.ReservedMemoryMB)},
			Disk:     structs.NodeReservedDiskResources{DiskMB: uint64(cfg.ReservedDiskMB)},
			Networks: structs.NodeReservedNetworkResources{ReservedHostPorts: cfg.ReservedPorts},
		},
		Drivers: drivers,
	}
	return node, nil
}

// nodeAddress is the IPv4 address of iface, or when none is named, the
// first non-loopback address, preferring anything over the NAT address.
func nodeAddress(iface string) (string, error) {
	if iface != "" {
		ifc, err := net.InterfaceByName(iface)
		if err != nil {
			return "", fmt.Errorf("network_interface %q: %w", iface, err)
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return "", err
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
		return "", fmt.Errorf("network_interface %q has no IPv4 address", iface)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	fallback := ""
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() {
			continue
		}
		if ipn.IP.String() == natAddress {
			fallback = natAddress
			continue
		}
		return ipn.IP.String(), nil
	}
	if fallback != "" {
		return fallback, nil
	}
	return "127.0.0.1", nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// cpuMHz reads the clock of one core; 1000 MHz when it cannot be read
// (some virtual machines hide it).
func cpuMHz() float64 {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return 1000
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		key, value, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(key) == "cpu MHz" {
			if mhz, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil && mhz > 0 {
				return mhz
			}
		}
	}
	return 1000
}

// memoryMB is the machine's total memory.
func memoryMB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb / 1024
		}
	}
	return 1024
}

// diskMB is the free space where allocations live.
func diskMB(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 10240
	}
	return int64(st.Bavail) * int64(st.Bsize) >> 20
}

// osRelease reads the distribution's name and version (ID and VERSION_ID
// of os-release), as the compatible client reports os.name and
// os.version; without the file, the kernel's name stands in.
func osRelease(path string) (name, version string) {
	name = runtime.GOOS
	b, err := os.ReadFile(path)
	if err != nil {
		return name, ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			if v != "" {
				name = v
			}
		case "VERSION_ID":
			version = v
		}
	}
	return name, version
}
