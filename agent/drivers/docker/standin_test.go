package docker

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"testing"
	"time"

	"drover/agent/structs"
)

// newStandInDriver is newDriver with stand-ins.
func newStandInDriver(t *testing.T, standIns map[string]string) *Driver {
	t.Helper()
	tl := &testLogger{t: t}
	d, err := New(log.New(tl, "", log.Lmicroseconds), Options{StandIns: standIns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Close()
		tl.mu.Lock()
		tl.done = true
		tl.mu.Unlock()
	})
	return d
}

// An image that is absent runs its stand-in, with an event saying so; the
// task config keeps the job's image. The stand-in here is the tinyredis
// test image under its own name: no image is tagged for the test.
func TestStandInUsedWhenImageAbsent(t *testing.T) {
	img, cli := setup(t)
	// Under a repository no registry or machine has.
	absent := "drover-test-absent/redis:" + randomID(t)[:8]
	d := newStandInDriver(t, map[string]string{absent: img})
	cfg := newTask(t, cli, absent)
	port := freePort(t)
	cfg.Ports = []structs.PortMapping{{Label: "db", Value: port, To: 6379, HostIP: "127.0.0.1"}}
	cfg.Config["ports"] = []interface{}{"db"}

	var ev eventLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := d.StartTask(ctx, cfg, ev.add)
	if err != nil {
		t.Fatalf("StartTask: %v", err)
	}
	want := fmt.Sprintf("Driver: Using stand-in %s for %s (not the real image)", img, absent)
	if got := ev.list(); !slices.Equal(got, []string{want}) {
		t.Errorf("events = %q, want [%q]", got, want)
	}
	if cfg.Config["image"] != absent || h.Config.Config["image"] != absent {
		t.Errorf("task config image changed: %v, handle %v", cfg.Config["image"], h.Config.Config["image"])
	}
	info, err := cli.ContainerInspect(ctx, containerID(t, h))
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Image != img {
		t.Errorf("container runs image %q, want the stand-in %q", info.Config.Image, img)
	}
	waitPong(t, fmt.Sprintf("127.0.0.1:%d", port))
	waitLog(t, cfg, cfg.StdoutBase(), "ready to accept connections")
}

// A present image runs itself even when it has a stand-in, and nothing
// is said about stand-ins.
func TestStandInNotUsedWhenImagePresent(t *testing.T) {
	img, cli := setup(t)
	standIn := "drover-test-absent/standin:" + randomID(t)[:8]
	// Written in its long form, to check names are compared short.
	d := newStandInDriver(t, map[string]string{"docker.io/" + img: standIn})
	cfg := newTask(t, cli, img)
	var ev eventLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h, err := d.StartTask(ctx, cfg, ev.add)
	if err != nil {
		t.Fatalf("StartTask: %v", err)
	}
	if got := ev.list(); len(got) != 0 {
		t.Errorf("events for a present image: %v", got)
	}
	info, err := cli.ContainerInspect(ctx, containerID(t, h))
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Image != img {
		t.Errorf("container runs image %q, want %q", info.Config.Image, img)
	}
}

// With neither the image nor its stand-in present, the image is pulled as
// usual, and the error says the stand-in is missing too.
func TestStandInAbsentToo(t *testing.T) {
	_, cli := setup(t)
	// Port 1 on the loopback never has a registry, wherever this runs.
	const missing = "127.0.0.1:1/drover-test/missing:nope"
	const standIn = "drover-test-absent/standin:nope"
	d := newStandInDriver(t, map[string]string{missing: standIn})
	cfg := newTask(t, cli, missing)
	var ev eventLog
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := d.StartTask(ctx, cfg, ev.add); err == nil {
		t.Fatal("StartTask succeeded with neither image nor stand-in")
	} else if !strings.HasPrefix(err.Error(), "Failed to pull \""+missing+"\": ") || !strings.Contains(err.Error(), "stand-in "+standIn+" is not present either") {
		t.Errorf("error does not say what is missing: %v", err)
	}
	if got := ev.list(); !slices.Equal(got, []string{"Driver: Downloading image " + missing}) {
		t.Errorf("events = %v", got)
	}
	if cs := allocContainers(t, cli, cfg.AllocID); len(cs) != 0 {
		t.Errorf("containers created: %d", len(cs))
	}
}

func TestFamiliarImage(t *testing.T) {
	for in, want := range map[string]string{
		"redis:3.2":                       "redis:3.2",
		"redis":                           "redis:latest",
		"docker.io/library/redis:3.2":     "redis:3.2",
		"docker.io/bitnami/redis":         "bitnami/redis:latest",
		"drover-lab/redis:3.2":            "drover-lab/redis:3.2",
		"localhost:5000/redis":            "localhost:5000/redis:latest",
		"localhost:5000/redis:4.0":        "localhost:5000/redis:4.0",
		"redis@sha256:0123456789abcdef":   "redis@sha256:0123456789abcdef",
		"index.docker.io/library/redis:7": "redis:7",
	} {
		if got := familiarImage(in); got != want {
			t.Errorf("familiarImage(%q) = %q, want %q", in, got, want)
		}
	}
}
