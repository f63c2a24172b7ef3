package dockercluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/hashicorp/nomad/api"

	"drover/kit/topology"
	"drover/testutil/dockerimg"
)

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

// staticDrover builds the drover binary as cluster up needs it.
func staticDrover(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "drover")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/drover")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func randomName(t testing.TB) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("got %q", line)
	}
	return nil
}

// TestUpRunsJobDown is the kit's promise without VMs: the shipped
// cluster.yaml comes up as one server and two ready clients; a job of
// count 3 with a port spreads over both clients and every allocation
// answers at its advertised address:port; down leaves nothing behind.
func TestUpRunsJobDown(t *testing.T) {
	dockerimg.Require(t)
	img := dockerimg.Build(t)
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	c, err := topology.Load(filepath.Join(repoRoot(), "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	name := randomName(t)
	stateDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { _ = Down(context.Background(), cli, name, os.Stderr) })

	var progress strings.Builder
	start := time.Now()
	st, err := Up(ctx, cli, c, Options{Name: name, Binary: staticDrover(t), StateDir: stateDir, Progress: &progress})
	t.Logf("cluster up took %s:\n%s", time.Since(start).Round(100*time.Millisecond), progress.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{" ✓ Image ", " ✓ Network drover-" + name + " 10.201.", " ✓ Server drover-server ", " ✓ Clients client-one ", " ✓ Ready: leader "} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	subnet := netip.MustParsePrefix(st.Subnet)
	if subnet.Overlaps(topology.DockerBridge) || len(st.Members) != 3 || st.HostAddress == "" {
		t.Fatalf("status: %+v", st)
	}
	for i, want := range []string{"drover-server server", "drover-client01 client", "drover-client02 client"} {
		m := st.Members[i]
		if got := m.Machine + " " + string(m.Role); got != want || m.State != "running" || !subnet.Contains(netip.MustParseAddr(m.IP)) {
			t.Errorf("member %d: %+v, want %s running", i, m, want)
		}
		if !strings.HasSuffix(m.IP, "."+strconv.Itoa(101+i)) {
			t.Errorf("%s at %s: the host number of cluster.yaml is kept", m.Machine, m.IP)
		}
	}
	leader, nodes, err := Health(ctx, st)
	if err != nil || leader == "" || nodes["client-one"] != "ready" || nodes["client-two"] != "ready" || len(nodes) != 2 {
		t.Fatalf("health: leader %q nodes %v err %v", leader, nodes, err)
	}

	api, err := api.NewClient(&api.Config{Address: st.HostAddress})
	if err != nil {
		t.Fatal(err)
	}
	job := cacheJob(name+"-cache", img, 3)
	if _, _, err := api.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	var allocs []*apiAlloc
	deadline := time.Now().Add(2 * time.Minute)
	for {
		allocs, err = runningAllocs(api, *job.ID)
		if err == nil && len(allocs) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 running allocations: %v (%v)", allocs, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	perNode := map[string]int{}
	for _, a := range allocs {
		perNode[a.node]++
		addr := net.JoinHostPort(a.ip, strconv.Itoa(a.port))
		if !subnet.Contains(netip.MustParseAddr(a.ip)) {
			t.Errorf("allocation %s advertises %s, outside the cluster network", a.id, addr)
		}
		var perr error
		for try := 0; try < 40; try++ {
			if perr = pingRedis(addr); perr == nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if perr != nil {
			t.Errorf("allocation %s on %s at %s: %v", a.id, a.node, addr, perr)
		}
	}
	if len(perNode) != 2 {
		t.Errorf("allocations per node %v: want both clients", perNode)
	}
	// The task containers are the host engine's, left running when the
	// clients go; one is stopped behind its client's back, as a crashed
	// task would be. Down removes them all, running or not.
	tasks, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.drover.job_id="+*job.ID))})
	if err != nil || len(tasks) != 3 {
		t.Fatalf("task containers: %d (%v)", len(tasks), err)
	}
	var taskIDs []string
	for _, c := range tasks {
		taskIDs = append(taskIDs, c.ID)
	}
	if err := cli.ContainerStop(ctx, taskIDs[0], container.StopOptions{}); err != nil {
		t.Fatal(err)
	}

	var downOut strings.Builder
	if err := Down(ctx, cli, name, &downOut); err != nil {
		t.Fatal(err)
	}
	t.Logf("down: %s", downOut.String())
	assertGone(t, cli, name, stateDir, *job.ID, taskIDs)
	downOut.Reset()
	if err := Down(ctx, cli, name, &downOut); err != nil || !strings.Contains(downOut.String(), "nothing to remove") {
		t.Errorf("second down: %v %q", err, downOut.String())
	}
}

func assertGone(t *testing.T, cli interface {
	ContainerList(context.Context, container.ListOptions) ([]container.Summary, error)
	NetworkList(context.Context, network.ListOptions) ([]network.Summary, error)
	ContainerInspect(context.Context, string) (container.InspectResponse, error)
}, name, stateDir, jobID string, taskIDs []string) {
	t.Helper()
	ctx := context.Background()
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: clusterFilter(name)})
	if err != nil || len(cs) != 0 {
		t.Errorf("containers left: %d (%v)", len(cs), err)
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: clusterFilter(name)})
	if err != nil || len(ns) != 0 {
		t.Errorf("networks left: %d (%v)", len(ns), err)
	}
	for _, id := range taskIDs {
		if _, err := cli.ContainerInspect(ctx, id); err == nil {
			t.Errorf("task container %s left behind", id)
		}
	}
	// Nor any other container of the job (a restarted task is a new one).
	left, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.drover.job_id="+jobID))})
	if err != nil || len(left) != 0 {
		t.Errorf("containers of job %s left: %d (%v)", jobID, len(left), err)
	}
	if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
		t.Errorf("state left under %s: %v", stateDir, entries)
	}
}

func cacheJob(id, img string, count int) *api.Job {
	job := api.NewServiceJob(id, id, "global", 50)
	job.Datacenters = []string{"dc1"}
	tg := api.NewTaskGroup("cache", count)
	tg.Networks = []*api.NetworkResource{{DynamicPorts: []api.Port{{Label: "db", To: 6379}}}}
	task := api.NewTask("redis", "docker")
	task.Config = map[string]interface{}{"image": img, "ports": []string{"db"}}
	task.Resources = &api.Resources{CPU: intp(100), MemoryMB: intp(64)}
	tg.Tasks = []*api.Task{task}
	job.TaskGroups = []*api.TaskGroup{tg}
	return job
}

func intp(i int) *int { return &i }

type apiAlloc struct {
	id, node, ip string
	port         int
}

func runningAllocs(c *api.Client, job string) ([]*apiAlloc, error) {
	stubs, _, err := c.Jobs().Allocations(job, false, nil)
	if err != nil {
		return nil, err
	}
	var out []*apiAlloc
	for _, s := range stubs {
		if s.ClientStatus != "running" || s.DesiredStatus != "run" {
			continue
		}
		a, _, err := c.Allocations().Info(s.ID, nil)
		if err != nil {
			return nil, err
		}
		if a.AllocatedResources == nil || len(a.AllocatedResources.Shared.Ports) != 1 {
			return nil, fmt.Errorf("allocation %s has no port", s.ID)
		}
		p := a.AllocatedResources.Shared.Ports[0]
		out = append(out, &apiAlloc{id: s.ID[:8], node: s.NodeName, ip: p.HostIP, port: p.Value})
	}
	return out, nil
}

func TestPickSubnet(t *testing.T) {
	cands := []netip.Prefix{netip.MustParsePrefix("172.17.5.0/24"), netip.MustParsePrefix("10.201.0.0/24"), netip.MustParsePrefix("10.201.1.0/24")}
	got, err := pickSubnet(cands, []netip.Prefix{netip.MustParsePrefix("10.201.0.0/16")})
	if err == nil {
		t.Errorf("picked %s inside a used /16", got)
	}
	got, err = pickSubnet(cands, []netip.Prefix{netip.MustParsePrefix("10.201.0.0/24")})
	if err != nil || got.String() != "10.201.1.0/24" {
		t.Errorf("picked %s %v, want 10.201.1.0/24 (172.17 is Docker's bridge, 10.201.0 is used)", got, err)
	}
}

func TestCheckStatic(t *testing.T) {
	if err := checkStatic("/bin/sh"); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("/bin/sh: %v", err)
	}
	if err := checkStatic(filepath.Join(repoRoot(), "cluster.yaml")); err == nil || !strings.Contains(err.Error(), "not a Linux binary") {
		t.Errorf("a YAML file: %v", err)
	}
}

// BenchmarkClusterUp measures `drover cluster up` on the shipped
// cluster.yaml until the server has a leader and both clients are ready
// (the target: under 60 s on a 2-core machine), then takes it down. The
// node image is built before the timer starts, as after a first run.
func BenchmarkClusterUp(b *testing.B) {
	dockerimg.Require(b)
	cli, err := dockerimg.Client()
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	c, err := topology.Load(filepath.Join(repoRoot(), "cluster.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	bin := staticDrover(b)
	if _, err := nodeImage(context.Background(), cli, bin); err != nil {
		b.Fatal(err)
	}
	stateDir := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := randomName(b)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		_, err := Up(ctx, cli, c, Options{Name: name, Binary: bin, StateDir: stateDir})
		b.StopTimer()
		if derr := Down(context.Background(), cli, name, io.Discard); derr != nil {
			b.Error(derr)
		}
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
