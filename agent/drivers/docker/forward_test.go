package docker

import (
	"context"
	"fmt"
	"log"
	"net"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"

	"drover/agent/drivers"
	"drover/agent/structs"
)

// With a task network, the container joins that network and the driver
// itself listens on the port's host address and relays to the container:
// the task answers at the address its allocation advertises. After a
// driver restart the relay comes back; after a stop it is gone.
func TestTaskNetworkForwardsPorts(t *testing.T) {
	img, cli := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	netName := "drover-test-fwd-" + randomID(t)[:8]
	// Docker picks the subnet from its own pools, never its default bridge.
	if _, err := cli.NetworkCreate(ctx, netName, network.CreateOptions{Labels: map[string]string{"io.drover.test": "1"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.NetworkRemove(context.Background(), netName) })

	tl := &testLogger{t: t}
	d, err := New(log.New(tl, "", log.Lmicroseconds), Options{TaskNetwork: netName})
	if err != nil {
		t.Fatal(err)
	}
	cfg := newTask(t, cli, img)
	port := freePort(t)
	cfg.Ports = []structs.PortMapping{{Label: "db", Value: port, To: 6379, HostIP: "127.0.0.1"}}
	cfg.Config["ports"] = []interface{}{"db"}
	h, err := d.StartTask(ctx, cfg, nil)
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.DestroyTask(cfg.ID, true) })

	info, err := cli.ContainerInspect(ctx, containerID(t, h))
	if err != nil {
		t.Fatal(err)
	}
	if info.HostConfig.NetworkMode.NetworkName() != netName || len(info.HostConfig.PortBindings) != 0 {
		t.Errorf("network mode %q, engine port bindings %v", info.HostConfig.NetworkMode, info.HostConfig.PortBindings)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitPong(t, addr)

	// A new driver in the same process (a restarted client) recovers the
	// task and forwards again.
	d.Close()
	if err := ping(addr); err == nil {
		t.Errorf("the closed driver still forwards %s", addr)
	}
	d, err = New(log.New(tl, "", log.Lmicroseconds), Options{TaskNetwork: netName})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.RecoverTask(ctx, &drivers.TaskHandle{Driver: Name, Config: cfg, State: h.State}); err != nil {
		t.Fatal(err)
	}
	waitPong(t, addr)

	if err := d.StopTask(cfg.ID, 5*time.Second, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "forwarding to end", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
}
