package client

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"drover/agent/structs"
)

// natAddress is the address VirtualBox gives every VM's first interface.
// It is the same on every machine of a Vagrant lab, so it must never be
// what a node advertises when another private address exists.
const natAddress = "10.0.2.15"

// fingerprintDrivers asks every driver to fingerprint itself, all at once
// (a driver may wait on something slow, as docker on its engine), and
// returns a function that waits for the answers.
func (c *Client) fingerprintDrivers(ctx context.Context) func() map[string]*structs.DriverInfo {
	names := c.drivers.Names()
	infos := make([]*structs.DriverInfo, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		d, _ := c.drivers.Get(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i] = d.Fingerprint(ctx)
		}()
	}
	return func() map[string]*structs.DriverInfo {
		wg.Wait()
		out := make(map[string]*structs.DriverInfo, len(names))
		for i, name := range names {
			out[name] = infos[i]
		}
		return out
	}
}

// fingerprint builds the node this client registers: resources, address,
// OS attributes and the drivers that can run tasks here. It registers
// ready: everything it reports is known by then.
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
