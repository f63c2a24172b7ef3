package client

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"drover/agent/drivers"
	"drover/agent/drivers/mock"
	"drover/agent/structs"
)

// TestOSRelease: os.name and os.version are the distribution's, as the
// compatible client fingerprints them, and the kernel's name without
// an os-release file.
func TestOSRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "os-release")
	os.WriteFile(path, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"), 0o644)
	if name, version := osRelease(path); name != "debian" || version != "12" {
		t.Fatalf("got %q %q", name, version)
	}
	if name, version := osRelease(filepath.Join(t.TempDir(), "none")); name != runtime.GOOS || version != "" {
		t.Fatalf("without the file: %q %q", name, version)
	}
}

// slowDriver is the mock driver under another name whose fingerprint
// waits until released, as docker's does for an engine slow to answer.
type slowDriver struct {
	*mock.Driver
	release chan struct{}
}

func (d *slowDriver) Name() string { return "slow" }

func (d *slowDriver) Fingerprint(ctx context.Context) *structs.DriverInfo {
	select {
	case <-d.release:
	case <-ctx.Done():
	}
	return d.Driver.Fingerprint(ctx)
}

// A driver that has not answered its fingerprint does not hold the node
// back: the node registers ready without it, then again once it answers,
// and a job for that driver placed meanwhile runs then.
func TestClient_SlowDriverRegistersLater(t *testing.T) {
	srv := testServer(t)
	slow := &slowDriver{Driver: mock.New(), release: make(chan struct{})}
	dir := t.TempDir()
	c, err := New(&Config{
		NodeName: "slow", Datacenter: "dc1", Servers: []string{srv.RPCAddr()},
		StateDir: dir + "/client", AllocDir: dir + "/alloc", CPUTotalCompute: 4000, MemoryTotalMB: 4096,
		Version: "test", Logger: log.New(testLog{t}, "slow ", 0),
	}, drivers.NewRegistry(mock.New(), slow))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	node := func() *structs.Node {
		n, _ := srv.State().NodeByID(nil, c.NodeID())
		return n
	}
	waitFor(t, 10*time.Second, "the node ready", func() (bool, string) {
		n := node()
		return n != nil && n.Status == structs.NodeStatusReady, "not registered"
	})
	if d := node().Drivers["slow"]; d == nil || d.Detected || d.Healthy {
		t.Fatalf("the slow driver before it answered: %+v", d)
	}
	if d := node().Drivers["mock"]; d == nil || !d.Detected || !d.Healthy {
		t.Fatalf("the mock driver: %+v", d)
	}
	job := mockJob(t, "service", "", "")
	job.TaskGroups[0].Tasks[0].Driver = "slow"
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	waitFor(t, 10*time.Second, "the slow driver's task running", func() (bool, string) {
		allocs := allocsOf(t, srv, job.ID)
		if len(allocs) != 1 {
			return false, fmt.Sprintf("%d allocations", len(allocs))
		}
		return allocs[0].ClientStatus == structs.AllocClientStatusRunning, allocs[0].ClientStatus
	})
	if d := node().Drivers["slow"]; d == nil || !d.Detected || !d.Healthy {
		t.Fatalf("the slow driver after it answered: %+v", d)
	}
}
