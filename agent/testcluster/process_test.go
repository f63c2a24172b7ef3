package testcluster

import (
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// The tests in this file run separate `drover agent` processes on
// loopback ports, as an operator would: kill -9 is a real crash and
// SIGSTOP a real partition.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// droverBinary builds cmd/drover once per test run.
func droverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drover-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "drover")
		cmd := exec.Command("go", "build", "-o", binPath, "drover/cmd/drover")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is one agent process; it keeps its ports and data across restarts.
type proc struct {
	name            string
	bin             string
	dir             string
	http, rpc, serf int
	hcl             string

	mu  sync.Mutex
	cmd *exec.Cmd
	log *os.File
}

func (p *proc) addr() string    { return fmt.Sprintf("http://127.0.0.1:%d", p.http) }
func (p *proc) rpcAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.rpc) }

func (p *proc) api(t *testing.T) *api.Client {
	c, err := api.NewClient(&api.Config{Address: p.addr()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	src := fmt.Sprintf(`name = %q
data_dir = %q
bind_addr = "127.0.0.1"
log_level = "DEBUG"
ports {
  http = %d
  rpc  = %d
  serf = %d
}
%s`, p.name, filepath.Join(p.dir, "data"), p.http, p.rpc, p.serf, p.hcl)
	cfg := filepath.Join(p.dir, "agent.hcl")
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(p.dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p.bin, "agent", "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.cmd, p.log = cmd, logf
	p.mu.Unlock()
	go cmd.Wait()
}

// signal sends sig to the process; SIGKILL and SIGINT also wait for it to
// be gone.
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(sig)
	if sig != syscall.SIGKILL && sig != syscall.SIGINT {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cmd.Process.Signal(syscall.Signal(0)) != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cmd.Process.Signal(syscall.Signal(0)) == nil {
		cmd.Process.Kill()
	}
	p.mu.Lock()
	p.cmd = nil
	if p.log != nil {
		p.log.Close()
	}
	p.mu.Unlock()
}

func (p *proc) logText() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "agent.log"))
	return string(b)
}

type procCluster struct {
	servers, clients []*proc
}

func newProcCluster(t *testing.T, servers, clients int, serverHCL string) *procCluster {
	bin := droverBinary(t)
	c := &procCluster{}
	mk := func(name string) *proc {
		return &proc{name: name, bin: bin, dir: t.TempDir(), http: freePort(t), rpc: freePort(t), serf: freePort(t)}
	}
	var joins, rpcs []string
	for i := 0; i < servers; i++ {
		p := mk(fmt.Sprintf("server-%d", i+1))
		c.servers = append(c.servers, p)
		joins = append(joins, strconv.Quote(fmt.Sprintf("127.0.0.1:%d", p.serf)))
		rpcs = append(rpcs, strconv.Quote(p.rpcAddr()))
	}
	for _, p := range c.servers {
		p.hcl = fmt.Sprintf("server {\n  enabled = true\n  bootstrap_expect = %d\n%s\n  server_join {\n    retry_join = [%s]\n    retry_interval = \"1s\"\n  }\n}\n",
			servers, serverHCL, strings.Join(joins, ", "))
	}
	for i := 0; i < clients; i++ {
		p := mk(fmt.Sprintf("client-%d", i+1))
		p.hcl = fmt.Sprintf("client {\n  enabled = true\n  servers = [%s]\n  network_interface = \"lo\"\n  options = {\n    \"driver.mock.enable\" = \"true\"\n  }\n}\n",
			strings.Join(rpcs, ", "))
		c.clients = append(c.clients, p)
	}
	t.Cleanup(func() {
		for _, p := range append(append([]*proc(nil), c.clients...), c.servers...) {
			p.signal(syscall.SIGCONT)
			p.signal(syscall.SIGKILL)
		}
		if t.Failed() {
			for _, p := range append(append([]*proc(nil), c.servers...), c.clients...) {
				log := p.logText()
				if len(log) > 6000 {
					log = log[len(log)-6000:]
				}
				t.Logf("---- %s log (tail) ----\n%s", p.name, log)
			}
		}
	})
	return c
}

// status asks a server, with ?stale, who leads and who its peers are.
func (c *procCluster) status(t *testing.T, p *proc) (leader string, peers []string, err error) {
	cl := p.api(t)
	if leader, err = cl.Status().Leader(); err != nil {
		return
	}
	peers, err = cl.Status().Peers()
	return
}

// waitOneCluster waits until every running server reports the same leader
// and n raft peers, and returns the leader.
func (c *procCluster) waitOneCluster(t *testing.T, running []*proc, n int, timeout time.Duration) *proc {
	t.Helper()
	leader, err := c.tryOneCluster(t, running, n, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return leader
}

// tryOneCluster is waitOneCluster for goroutines other than the test's.
func (c *procCluster) tryOneCluster(t *testing.T, running []*proc, n int, timeout time.Duration) (*proc, error) {
	var leader *proc
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := c.oneCluster(t, running, n, &leader)
		if ok {
			return leader, nil
		}
		last = why
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("one cluster of %d: not within %s: %s", n, timeout, last)
}

func (c *procCluster) oneCluster(t *testing.T, running []*proc, n int, leader **proc) (bool, string) {
	{
		first := ""
		for _, p := range running {
			l, peers, err := c.status(t, p)
			if err != nil {
				return false, fmt.Sprintf("%s: %v", p.name, err)
			}
			if l == "" || (first != "" && l != first) || len(peers) != n {
				return false, fmt.Sprintf("%s: leader %q peers %v", p.name, l, peers)
			}
			first = l
		}
		for _, p := range running {
			if p.rpcAddr() == first {
				*leader = p
			}
		}
		return *leader != nil, "leader not among the running servers: " + first
	}
}

// members runs `drover server members` against p and counts alive members
// and leaders in its table.
func (c *procCluster) members(t *testing.T, p *proc) (alive, leaders int, out string) {
	b, err := exec.Command(p.bin, "server", "members", "-address", p.addr()).CombinedOutput()
	out = string(b)
	if err != nil {
		return 0, 0, out + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "Name") {
		return 0, 0, out
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) >= 5 && f[3] == "alive" {
			alive++
		}
		if len(f) >= 5 && f[4] == "true" {
			leaders++
		}
	}
	return alive, leaders, out
}

func (c *procCluster) others(p *proc) []*proc {
	var out []*proc
	for _, s := range c.servers {
		if s != p {
			out = append(out, s)
		}
	}
	return out
}

// TestProcessCluster walks a three-server, two-client cluster of real
// processes through the clustering promises: bootstrap with a late
// server, writes to a follower, kill -9 of the leader, concurrent writes
// across two leader crashes, a full restart, and a partitioned client.
func TestProcessCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts separate agent processes; run without -short")
	}
	c := newProcCluster(t, 3, 2, "  min_heartbeat_ttl = \"1s\"\n  heartbeat_grace = \"2s\"")

	// Start in a random order, the last one 20 s late: no leader until
	// the third arrives, then one cluster.
	order := rand.Perm(3)
	t.Logf("start order: %v (the last 20s late)", order)
	c.servers[order[0]].start(t)
	c.servers[order[1]].start(t)
	time.Sleep(20 * time.Second)
	for _, i := range order[:2] {
		if l, _, err := c.status(t, c.servers[i]); err == nil && l != "" {
			t.Fatalf("%s has leader %q with 2 of 3 servers up", c.servers[i].name, l)
		}
	}
	c.servers[order[2]].start(t)
	leader := c.waitOneCluster(t, c.servers, 3, 30*time.Second)
	waitFor(t, 15*time.Second, "server members: 3 alive, 1 leader", func() (bool, string) {
		for _, p := range c.servers {
			alive, leaders, out := c.members(t, p)
			if alive != 3 || leaders != 1 {
				return false, p.name + ":\n" + out
			}
		}
		return true, ""
	})

	// Clients listing all three servers; a job written to a follower.
	for _, p := range c.clients {
		p.start(t)
	}
	follower := c.others(leader)[0]
	fc := follower.api(t)
	waitFor(t, 30*time.Second, "2 ready nodes", func() (bool, string) {
		nodes, _, err := fc.Nodes().List(nil)
		ready := 0
		for _, n := range nodes {
			if n.Status == "ready" {
				ready++
			}
		}
		return err == nil && ready == 2, fmt.Sprint(err, len(nodes))
	})
	if _, _, err := fc.Jobs().Register(mockJob("web", 4), nil); err != nil {
		t.Fatalf("register on follower %s: %v", follower.name, err)
	}
	var before map[string]string
	waitFor(t, 30*time.Second, "4 running allocations", func() (bool, string) {
		var why string
		before, why = runningAllocs(t, fc, "web")
		return len(before) == 4, why
	})
	perNode := map[string]int{}
	for _, n := range before {
		perNode[n]++
	}
	if len(perNode) != 2 {
		t.Fatalf("allocations not spread over both clients: %v", perNode)
	}

	// kill -9 the leader.
	leader.signal(syscall.SIGKILL)
	killed := time.Now()
	survivors := c.others(leader)
	newLeader := c.waitOneCluster(t, survivors, 3, 5*time.Second)
	t.Logf("new leader %s %s after the kill", newLeader.name, time.Since(killed).Round(time.Millisecond))
	nc := newLeader.api(t)
	time.Sleep(4 * time.Second) // several heartbeat TTLs: a node wrongly marked down would show
	after, why := runningAllocs(t, nc, "web")
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("allocations changed across the failover:\nbefore %v\nafter  %v (%s)", before, after, why)
	}
	assertNodesReady(t, nc)
	if _, _, err := nc.Jobs().Register(mockJob("after", 1), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the job registered after the failover runs", func() (bool, string) {
		got, why := runningAllocs(t, nc, "after")
		return len(got) == 1, why
	})
	leader.start(t)
	c.waitOneCluster(t, c.servers, 3, 30*time.Second)
	waitFor(t, 15*time.Second, "the old leader follows with the same state", func() (bool, string) {
		lc := leader.api(t)
		if l, _ := lc.Status().Leader(); l == leader.rpcAddr() {
			return false, "it leads again"
		}
		got, why := runningAllocs(t, lc, "after")
		return len(got) == 1, why
	})

	t.Run("NothingAcknowledgedIsLost", func(t *testing.T) { testConcurrentWritesAcrossCrashes(t, c) })
	t.Run("FullRestartKeepsState", func(t *testing.T) { testFullRestart(t, c) })
	t.Run("PartitionedClient", func(t *testing.T) { testPartitionedClient(t, c) })
}

func assertNodesReady(t *testing.T, cl *api.Client) {
	t.Helper()
	nodes, _, err := cl.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Status != "ready" {
			t.Fatalf("node %s is %s", n.Name, n.Status)
		}
	}
}

func (c *procCluster) leader(t *testing.T, running []*proc) *proc {
	return c.waitOneCluster(t, running, len(c.servers), 30*time.Second)
}

// 300 registrations from 10 writers spread over the servers while the
// leader is killed twice (restarted in between, so a quorum remains):
// every registration answered 200 is there afterwards, with the same
// JobModifyIndex on every server, and the servers' indexes agree.
func testConcurrentWritesAcrossCrashes(t *testing.T, c *procCluster) {
	const writers, perWriter = 10, 30
	type ack struct {
		job   string
		index uint64
	}
	var mu sync.Mutex
	var acks []ack
	var failures int
	var done sync.WaitGroup
	progress := make(chan int, writers*perWriter)
	for w := 0; w < writers; w++ {
		done.Add(1)
		go func(w int) {
			defer done.Done()
			for i := 0; i < perWriter; i++ {
				id := fmt.Sprintf("w%02d-%03d", w, i)
				job := mockJob(id, 0)
				srv := c.servers[(w+i)%len(c.servers)]
				resp, _, err := srv.api(t).Jobs().Register(job, nil)
				mu.Lock()
				if err == nil {
					acks = append(acks, ack{id, resp.JobModifyIndex})
				} else {
					failures++
				}
				mu.Unlock()
				progress <- 1
				time.Sleep(100 * time.Millisecond) // spread the writes over both crashes
			}
		}(w)
	}
	// The killer: after 60 and after 180 registrations, kill -9 the
	// leader and start it again once a new leader is up.
	killerErr := make(chan error, 1)
	go func() {
		n := 0
		var err error
		for range progress {
			n++
			if (n == 60 || n == 180) && err == nil {
				var leader *proc
				if leader, err = c.tryOneCluster(t, c.servers, 3, 30*time.Second); err != nil {
					continue
				}
				leader.signal(syscall.SIGKILL)
				t.Logf("killed leader %s after %d registrations", leader.name, n)
				if _, err = c.tryOneCluster(t, c.others(leader), 3, 10*time.Second); err != nil {
					continue
				}
				leader.start(t)
			}
		}
		killerErr <- err
	}()
	done.Wait()
	close(progress)
	if err := <-killerErr; err != nil {
		t.Fatal(err)
	}
	c.waitOneCluster(t, c.servers, 3, 30*time.Second)
	t.Logf("%d registrations acknowledged, %d failed", len(acks), failures)
	if len(acks) < writers*perWriter/2 {
		t.Fatalf("only %d of %d registrations succeeded", len(acks), writers*perWriter)
	}
	// Converged: every server holds every acknowledged job at the index
	// it was acknowledged with.
	waitFor(t, 30*time.Second, "every acknowledged job on every server", func() (bool, string) {
		for _, p := range c.servers {
			jobs, _, err := p.api(t).Jobs().List(&api.QueryOptions{AllowStale: true})
			if err != nil {
				return false, err.Error()
			}
			have := map[string]uint64{}
			for _, j := range jobs {
				have[j.ID] = j.JobModifyIndex
			}
			for _, a := range acks {
				if got, ok := have[a.job]; !ok || got != a.index {
					return false, fmt.Sprintf("%s: job %s has JobModifyIndex %d (present %v), acknowledged %d",
						p.name, a.job, got, ok, a.index)
				}
			}
		}
		return true, ""
	})
	waitFor(t, 30*time.Second, "the servers' indexes agree", func() (bool, string) {
		var first string
		for _, p := range c.servers {
			idx := indexes(t, p)
			if first == "" {
				first = idx
			} else if idx != first {
				return false, fmt.Sprintf("%s has %s, another %s", p.name, idx, first)
			}
		}
		return true, ""
	})
}

// indexes reads the index of each table from one server's local state.
func indexes(t *testing.T, p *proc) string {
	var parts []string
	for _, path := range []string{"/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/nodes", "/v1/deployments"} {
		resp, err := http.Get(p.addr() + path + "?stale")
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		parts = append(parts, path+"="+resp.Header.Get("X-Nomad-Index"))
	}
	return strings.Join(parts, " ")
}

// snapshotState summarises every job, allocation and evaluation a server
// holds, with their indexes.
func snapshotState(t *testing.T, p *proc) string {
	cl := p.api(t)
	q := &api.QueryOptions{AllowStale: true}
	var lines []string
	jobs, _, err := cl.Jobs().List(q)
	if err != nil {
		return err.Error()
	}
	for _, j := range jobs {
		lines = append(lines, fmt.Sprintf("job %s jmi=%d mi=%d %s", j.ID, j.JobModifyIndex, j.ModifyIndex, j.Status))
	}
	allocs, _, err := cl.Allocations().List(q)
	if err != nil {
		return err.Error()
	}
	for _, a := range allocs {
		lines = append(lines, fmt.Sprintf("alloc %s %s node=%s %s/%s ci=%d", a.ID, a.Name, a.NodeID[:8], a.DesiredStatus, a.ClientStatus, a.CreateIndex))
	}
	evals, _, err := cl.Evaluations().List(q)
	if err != nil {
		return err.Error()
	}
	for _, e := range evals {
		lines = append(lines, fmt.Sprintf("eval %s %s %s mi=%d", e.ID, e.JobID, e.Status, e.ModifyIndex))
	}
	deps, _, err := cl.Deployments().List(q)
	if err != nil {
		return err.Error()
	}
	for _, d := range deps {
		lines = append(lines, fmt.Sprintf("deployment %s %s %s", d.ID, d.JobID, d.Status))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n" + indexes(t, p)
}

// Stop all three servers (SIGINT) and start them again: the same jobs,
// allocations, evaluations, deployments and indexes.
func testFullRestart(t *testing.T, c *procCluster) {
	leader := c.leader(t, c.servers)
	// Wait until nothing is in motion (no deployment waiting for health,
	// no evaluation pending), or the restart would be blamed for what
	// the cluster was about to do anyway.
	waitFor(t, 60*time.Second, "a quiet cluster", func() (bool, string) {
		cl := leader.api(t)
		deps, _, err := cl.Deployments().List(nil)
		if err != nil {
			return false, err.Error()
		}
		for _, d := range deps {
			if d.Status == "running" || d.Status == "pending" {
				return false, "deployment of " + d.JobID + " is " + d.Status
			}
		}
		evals, _, err := cl.Evaluations().List(nil)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evals {
			if e.Status == "pending" || e.Status == "blocked" {
				return false, "evaluation of " + e.JobID + " is " + e.Status
			}
		}
		return true, ""
	})
	time.Sleep(time.Second) // let the last client updates land
	before := snapshotState(t, leader)
	for _, p := range c.servers {
		p.signal(syscall.SIGINT)
	}
	for _, p := range c.servers {
		p.start(t)
	}
	leader = c.waitOneCluster(t, c.servers, 3, 30*time.Second)
	waitFor(t, 20*time.Second, "the same state after a full restart", func() (bool, string) {
		for _, p := range c.servers {
			if got := snapshotState(t, p); got != before {
				return false, fmt.Sprintf("%s:\n%s\nwant:\n%s", p.name, diffLines(got, before), "")
			}
		}
		return true, ""
	})
}

func diffLines(got, want string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], "...")
	}
	return strings.Join(out, "\n")
}

// A client stopped with SIGSTOP past its TTL and grace is marked down,
// its allocations lost and replaced on the other client; after SIGCONT it
// is ready again, the replaced allocations are stopped there and nothing
// runs twice.
func testPartitionedClient(t *testing.T, c *procCluster) {
	leader := c.leader(t, c.servers)
	cl := leader.api(t)
	running, why := runningAllocs(t, cl, "web")
	if len(running) != 4 {
		t.Fatalf("web before the partition: %s", why)
	}
	nodes, _, err := cl.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, n := range nodes {
		names[n.Name] = n.ID
	}
	victim := c.clients[0]
	victimID := names[victim.name]
	if victimID == "" {
		t.Fatalf("no node for %s in %v", victim.name, names)
	}
	var onVictim []string
	for id, node := range running {
		if node == victimID {
			onVictim = append(onVictim, id)
		}
	}
	// A new leader gives every node the 5-minute failover TTL until its
	// first heartbeat; wait for those (TTL at most 2 s here) so that the
	// stopped client is judged by its real TTL.
	time.Sleep(3 * time.Second)
	victim.signal(syscall.SIGSTOP)
	waitFor(t, 30*time.Second, "the stopped client is down", func() (bool, string) {
		n, _, err := cl.Nodes().Info(victimID, nil)
		if err != nil {
			return false, err.Error()
		}
		return n.Status == "down", n.Status
	})
	waitFor(t, 30*time.Second, "its allocations lost and replaced", func() (bool, string) {
		for _, id := range onVictim {
			a, _, err := cl.Allocations().Info(id, nil)
			if err != nil || a.ClientStatus != "lost" {
				return false, fmt.Sprint(id[:8], err, a.ClientStatus)
			}
		}
		got, why := runningAllocs(t, cl, "web")
		for _, node := range got {
			if node == victimID {
				return false, "still running on the victim: " + why
			}
		}
		return len(got) == 4, why
	})
	victim.signal(syscall.SIGCONT)
	waitFor(t, 30*time.Second, "the client is ready again", func() (bool, string) {
		n, _, err := cl.Nodes().Info(victimID, nil)
		if err != nil {
			return false, err.Error()
		}
		return n.Status == "ready", n.Status
	})
	// The lost allocations stay stopped on the returning client, and
	// the job runs exactly 4 instances.
	waitFor(t, 30*time.Second, "nothing runs twice", func() (bool, string) {
		allocs, _, err := cl.Jobs().Allocations("web", false, nil)
		if err != nil {
			return false, err.Error()
		}
		runningCount := 0
		var why []string
		for _, a := range allocs {
			if a.ClientStatus == "running" {
				runningCount++
				if a.NodeID == victimID {
					return false, "an allocation runs on the returned client: " + a.ID
				}
			}
			why = append(why, a.ID[:8]+" "+a.ClientStatus+"/"+a.DesiredStatus)
		}
		return runningCount == 4, fmt.Sprint(why)
	})
}
