package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/hashicorp/nomad/api"

	"drover/agent/config"
	"drover/testutil/dockerimg"
)

// dockerJob is the second tutorial's job, with knobs for the tests. It
// runs the locally built stand-in image under its own name: tests must
// not retag images such as redis:3.2 on a developer's machine.
func dockerJob(t *testing.T, c *api.Client, count int, env, group string) *api.Job {
	t.Helper()
	job, err := c.Jobs().ParseHCL(fmt.Sprintf(`job "example" {
  datacenters = ["dc1"]
  group "cache" {
    count = %d
    network {
      port "db" {
        to = 6379
      }
    }
%s
    task "redis" {
      driver = "docker"
      kill_timeout = "2s"
      config {
        image = %q
        ports = ["db"]
      }
      env {
%s
      }
      logs {
        max_files     = 3
        max_file_size = 1
      }
      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}`, count, group, dockerimg.Image, env), true)
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// serverClientAgent is a server that is also a client, like a dev agent
// but on disk and on free ports.
func serverClientAgent(t *testing.T) *Agent {
	return startAgent(t, "nomad", `server {
  enabled = true
  bootstrap_expect = 1
}
client {
  enabled = true
  network_interface = "lo"
}`)
}

func runningAllocs(t *testing.T, c *api.Client, job string) []*api.AllocationListStub {
	allocs, _, err := c.Jobs().Allocations(job, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*api.AllocationListStub
	for _, a := range allocs {
		if a.ClientStatus == "running" && a.DesiredStatus == "run" {
			out = append(out, a)
		}
	}
	return out
}

// TestDocker_RunPortEventsStatsStop: the tutorial's redis job runs as a
// container; its dynamic port answers on the node address; the
// allocation shows the mapping, its task events in order and non-zero
// memory; stopping kills it within the kill timeout.
func TestDocker_RunPortEventsStatsStop(t *testing.T) {
	dockerimg.Require(t)
	dockerimg.Build(t)
	a := serverClientAgent(t)
	c := apiClient(t, a)
	if _, _, err := c.Jobs().Register(dockerJob(t, c, 1, "", ""), nil); err != nil {
		t.Fatal(err)
	}
	var alloc *api.Allocation
	waitFor(t, 60*time.Second, "the container running", func() (bool, string) {
		running := runningAllocs(t, c, "example")
		if len(running) != 1 {
			return false, fmt.Sprint(len(running), " running")
		}
		var err error
		alloc, _, err = c.Allocations().Info(running[0].ID, nil)
		return err == nil, fmt.Sprint(err)
	})
	ports := alloc.AllocatedResources.Shared.Ports
	if len(ports) != 1 || ports[0].Label != "db" || ports[0].To != 6379 || ports[0].HostIP != "127.0.0.1" {
		t.Fatalf("address mapping: %+v", ports)
	}
	addr := net.JoinHostPort(ports[0].HostIP, fmt.Sprint(ports[0].Value))
	waitFor(t, 20*time.Second, "PONG from "+addr, func() (bool, string) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		fmt.Fprintf(conn, "PING\r\n")
		line, err := bufio.NewReader(conn).ReadString('\n')
		return line == "+PONG\r\n", fmt.Sprintf("%q %v", line, err)
	})
	var types []string
	for _, e := range alloc.TaskStates["redis"].Events {
		types = append(types, e.Type)
	}
	if got := strings.Join(types, ","); got != "Received,Task Setup,Started" {
		t.Fatalf("events %s", got)
	}
	waitFor(t, 20*time.Second, "non-zero memory usage", func() (bool, string) {
		stats, err := c.Allocations().Stats(alloc, nil)
		if err != nil {
			return false, err.Error()
		}
		mem := stats.ResourceUsage.MemoryStats
		return mem.Usage > 0 || mem.RSS > 0, fmt.Sprintf("%+v", mem)
	})

	start := time.Now()
	if _, _, err := c.Jobs().Deregister("example", false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "complete after stop", func() (bool, string) {
		got, _, err := c.Allocations().Info(alloc.ID, nil)
		if err != nil {
			return false, err.Error()
		}
		return got.ClientStatus == "complete", got.ClientStatus
	})
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("stop took %s; the kill timeout is 2s", took)
	}
	got, _, _ := c.Allocations().Info(alloc.ID, nil)
	events := got.TaskStates["redis"].Events
	n := len(events)
	if events[n-2].Type != "Killing" || events[n-2].DisplayMessage != "Sent interrupt. Waiting 2s before force killing" ||
		events[n-1].Type != "Killed" {
		t.Fatalf("stop events: %+v %+v", events[n-2], events[n-1])
	}
}

// TestDocker_LogsAcrossRotation: alloc logs and follow return what the
// container printed, across rotated files.
func TestDocker_LogsAcrossRotation(t *testing.T) {
	dockerimg.Require(t)
	dockerimg.Build(t)
	a := serverClientAgent(t)
	c := apiClient(t, a)
	// 3 × 1 MiB files: 2000 lines of 1000 bytes make about two of them.
	job := dockerJob(t, c, 1, `        LOG_LINES = "2000"
        LOG_SIZE  = "1000"`, "")
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, 60*time.Second, "running", func() (bool, string) {
		running := runningAllocs(t, c, "example")
		if len(running) == 1 {
			id = running[0].ID
		}
		return len(running) == 1, ""
	})
	read := func(query string) string {
		res, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=redis&type=stdout&plain=true%s", a.HTTPAddr(), id, query))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	waitFor(t, 30*time.Second, "every line in the log", func() (bool, string) {
		out := read("")
		return strings.Count(out, "\n") >= 2001, fmt.Sprint(strings.Count(out, "\n"), " lines")
	})
	files, _ := filepath.Glob(filepath.Join(a.Client().AllocDir(id), "alloc", "logs", "redis.stdout.*"))
	if len(files) < 2 {
		t.Fatalf("log files %v, want a rotation", files)
	}
	if tail := read("&origin=end&offset=30"); len(tail) != 30 || !strings.HasSuffix(read(""), tail) {
		t.Fatalf("tail %q", tail)
	}
	// follow: starts at the end and stays open.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=redis&type=stdout&plain=true&follow=true&origin=end&offset=10", a.HTTPAddr(), id), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(b) != 10 {
		t.Fatalf("follow from the end returned %q", b)
	}
}

// TestDocker_RestartPolicyThenFailAndBatchComplete: a task that exits
// non-zero is restarted per the policy, then "Not Restarting" fails the
// allocation; a batch task that exits 0 completes.
func TestDocker_RestartPolicyThenFailAndBatchComplete(t *testing.T) {
	dockerimg.Require(t)
	dockerimg.Build(t)
	a := serverClientAgent(t)
	c := apiClient(t, a)
	job := dockerJob(t, c, 1, `        EXIT_AFTER = "100ms"
        EXIT_CODE  = "3"`, `    restart {
      attempts = 1
      interval = "10m"
      delay    = "100ms"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }`)
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "failed", func() (bool, string) {
		allocs, _, _ := c.Jobs().Allocations("example", false, nil)
		if len(allocs) == 0 {
			return false, "none"
		}
		return allocs[0].ClientStatus == "failed", allocs[0].ClientStatus
	})
	allocs, _, _ := c.Jobs().Allocations("example", false, nil)
	ts := allocs[0].TaskStates["redis"]
	var types []string
	for _, e := range ts.Events {
		if e.Type != "Driver" {
			types = append(types, e.Type)
		}
	}
	if got := strings.Join(types, ","); got != "Received,Task Setup,Started,Terminated,Restarting,Started,Terminated,Not Restarting" {
		t.Fatalf("events %s", got)
	}
	if ts.Events[3].DisplayMessage != "Exit Code: 3" || ts.Restarts != 1 {
		t.Fatalf("terminated %q restarts %d", ts.Events[3].DisplayMessage, ts.Restarts)
	}

	batch := dockerJob(t, c, 1, `        EXIT_AFTER = "100ms"
        EXIT_CODE  = "0"`, "")
	batch.ID, batch.Name, batch.Type = ptr("once"), ptr("once"), ptr("batch")
	batch.Update, batch.TaskGroups[0].Update, batch.TaskGroups[0].Migrate = nil, nil, nil
	batch.TaskGroups[0].Networks = nil
	batch.TaskGroups[0].Tasks[0].Config["ports"] = nil
	delete(batch.TaskGroups[0].Tasks[0].Config, "ports")
	if _, _, err := c.Jobs().Register(batch, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "batch complete", func() (bool, string) {
		allocs, _, _ := c.Jobs().Allocations("once", false, nil)
		if len(allocs) == 0 {
			return false, "none"
		}
		return allocs[0].ClientStatus == "complete", allocs[0].ClientStatus
	})
}

func ptr[T any](v T) *T { return &v }

// TestHelperClientAgent is not a test: it is the body of the client
// process that TestDocker_ClientSIGKILLReattaches starts and kills.
func TestHelperClientAgent(t *testing.T) {
	path := os.Getenv("DROVER_HELPER_AGENT_CONFIG")
	if path == "" {
		t.Skip("helper process for TestDocker_ClientSIGKILLReattaches")
	}
	cfg, _, err := config.Load([]string{path}, false)
	if err != nil {
		fmt.Println("config:", err)
		os.Exit(1)
	}
	a, err := New(cfg, log.New(os.Stderr, "helper ", 0))
	if err != nil {
		fmt.Println("start:", err)
		os.Exit(1)
	}
	fmt.Println("NODE", a.Client().NodeID())
	select {} // until killed
}

// TestDocker_ClientSIGKILLReattaches: the client process is killed with
// SIGKILL while a container runs, then started again: the same container,
// still running, the allocation still running, no second container.
func TestDocker_ClientSIGKILLReattaches(t *testing.T) {
	dockerimg.Require(t)
	dockerimg.Build(t)
	srv := startAgent(t, "server", `server {
  enabled = true
  bootstrap_expect = 1
  min_heartbeat_ttl = "2s"
  heartbeat_grace = "10s"
}`)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "client.hcl")
	os.WriteFile(cfgPath, []byte(fmt.Sprintf(`name = "client-one"
data_dir = %q
bind_addr = "127.0.0.1"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
client {
  enabled = true
  network_interface = "lo"
  servers = [%q]
}
`, dir, freePort(t), freePort(t), freePort(t), srv.Server().RPCAddr())), 0o644)
	var stderr *lockedBuffer
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperClientAgent$")
		cmd.Env = append(os.Environ(), "DROVER_HELPER_AGENT_CONFIG="+cfgPath)
		out, _ := cmd.StdoutPipe()
		stderr = &lockedBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		if !strings.HasPrefix(line, "NODE ") {
			cmd.Process.Kill()
			t.Fatalf("helper client did not start: %q", line)
		}
		return cmd
	}
	helper := start()
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() }) // if the test stops early

	c := apiClient(t, srv)
	if _, _, err := c.Jobs().Register(dockerJob(t, c, 1, "", ""), nil); err != nil {
		t.Fatal(err)
	}
	var allocID string
	waitFor(t, 60*time.Second, "running", func() (bool, string) {
		running := runningAllocs(t, c, "example")
		if len(running) == 1 {
			allocID = running[0].ID
		}
		return len(running) == 1, ""
	})
	docker, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	containers := func() []container.Summary {
		list, err := docker.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", "com.drover.alloc_id="+allocID))})
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	before := containers()
	if len(before) != 1 || before[0].State != "running" {
		t.Fatalf("containers before: %+v", before)
	}
	t.Cleanup(func() {
		// The client first, or it would restart the task it sees die.
		helper.Process.Kill()
		helper.Wait()
		for _, ctr := range containers() {
			docker.ContainerRemove(context.Background(), ctr.ID, container.RemoveOptions{Force: true})
		}
	})

	helper.Process.Signal(syscall.SIGKILL)
	helper.Wait()
	if after := containers(); len(after) != 1 || after[0].State != "running" {
		t.Fatalf("the container must outlive the client: %+v", after)
	}
	helper = start()
	waitFor(t, 30*time.Second, "the restarted client to take the allocation back", func() (bool, string) {
		return strings.Contains(stderr.String(), "restored allocation "+allocID), stderr.String()
	})
	waitFor(t, 30*time.Second, "the node ready again", func() (bool, string) {
		n, _, err := c.Nodes().Info(alloc0Node(t, c, allocID), nil)
		if err != nil {
			return false, err.Error()
		}
		return n.Status == "ready", n.Status
	})
	after := containers()
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].State != "running" {
		t.Fatalf("after restart: %+v, want the same running container %s", after, before[0].ID)
	}
	alloc, _, err := c.Allocations().Info(allocID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if alloc.ClientStatus != "running" || alloc.TaskStates["redis"].Restarts != 0 {
		t.Fatalf("alloc %s restarts %d", alloc.ClientStatus, alloc.TaskStates["redis"].Restarts)
	}
	for _, e := range alloc.TaskStates["redis"].Events {
		if e.Type == "Restarting" || e.Type == "Terminated" {
			t.Fatalf("the task was restarted: %+v", e)
		}
	}
}

func alloc0Node(t *testing.T, c *api.Client, allocID string) string {
	a, _, err := c.Allocations().Info(allocID, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a.NodeID
}

// lockedBuffer collects a helper process's output for polling.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDocker_LogsNeverFollowATasksLink: a Docker task shares its alloc
// directory with the host, so it can put a link to a host file where its
// log is (the test plays the task and makes the link in that shared
// directory). The logs API then answers with an error, never the host
// file; the writer and rotator refusing links are tested in logrotate.
func TestDocker_LogsNeverFollowATasksLink(t *testing.T) {
	dockerimg.Require(t)
	dockerimg.Build(t)
	a := serverClientAgent(t)
	c := apiClient(t, a)
	secret := filepath.Join(t.TempDir(), "hostname")
	if err := os.WriteFile(secret, []byte("the host's own file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Jobs().Register(dockerJob(t, c, 1, "", ""), nil); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, 60*time.Second, "running", func() (bool, string) {
		running := runningAllocs(t, c, "example")
		if len(running) == 1 {
			id = running[0].ID
		}
		return len(running) == 1, ""
	})
	logFile := filepath.Join(a.Client().AllocDir(id), "alloc", "logs", "redis.stdout.0")
	if err := os.Remove(logFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, logFile); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=redis&type=stdout&plain=true", a.HTTPAddr(), id))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "the host's own file") {
		t.Fatalf("the logs API returned the host's file through the task's link: %d %q", res.StatusCode, body)
	}
	if got, _ := os.ReadFile(secret); string(got) != "the host's own file\n" {
		t.Fatalf("the host file changed: %q", got)
	}
}
