package testcluster

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %s", what, timeout, last)
}

// checkOneCluster asserts what "one cluster, never three" means: the same
// leader everywhere, every server with all n raft peers, and gossip
// showing n alive servers of which exactly one leads.
func checkOneCluster(t *testing.T, c *Cluster, n int) {
	t.Helper()
	waitFor(t, 20*time.Second, "one cluster", func() (bool, string) {
		leader := c.Leader()
		if leader == nil {
			return false, "no leader"
		}
		for _, m := range c.Servers {
			a := m.Agent()
			if a == nil {
				continue
			}
			if got := a.Server().Leader(); got != leader.RPCAddr() {
				return false, fmt.Sprintf("%s sees leader %q, want %q", m.Name, got, leader.RPCAddr())
			}
			if peers := a.Server().Peers(); len(peers) != n {
				return false, fmt.Sprintf("%s has raft peers %v", m.Name, peers)
			}
			alive := 0
			for _, mem := range a.Server().Members() {
				if mem.Status == "alive" {
					alive++
				}
			}
			if alive != n {
				return false, fmt.Sprintf("%s sees %d alive members", m.Name, alive)
			}
		}
		return true, ""
	})
	leaders := 0
	for _, m := range c.Servers {
		if a := m.Agent(); a != nil && a.Server().IsLeader() {
			leaders++
		}
	}
	if leaders != 1 {
		t.Fatalf("%d servers think they lead", leaders)
	}
}

func TestThreeServersBootstrapOnce(t *testing.T) {
	c := New(t, 3, 0, Options{})
	checkOneCluster(t, c, 3)
}

// A server started late (its peers waited for it, bootstrap_expect = 3)
// still gives one cluster: nobody bootstraps with fewer servers.
func TestLateServerStillOneCluster(t *testing.T) {
	c := New(t, 3, 0, Options{Start: []int{0, 1}})
	time.Sleep(3 * time.Second)
	for _, m := range c.Servers[:2] {
		if a := m.Agent(); a.Server().Leader() != "" {
			t.Fatalf("%s elected a leader with 2 of 3 servers", m.Name)
		}
	}
	c.Start(t, c.Servers[2])
	checkOneCluster(t, c, 3)
}

func mockJob(id string, count int) *api.Job {
	job := api.NewServiceJob(id, id, "global", 50)
	job.Datacenters = []string{"dc1"}
	tg := api.NewTaskGroup("web", count)
	task := api.NewTask("server", "mock")
	task.Config = map[string]interface{}{"run_for": "0"}
	task.Resources = &api.Resources{CPU: intp(100), MemoryMB: intp(64)}
	tg.AddTask(task)
	job.AddTaskGroup(tg)
	return job
}

func intp(i int) *int { return &i }

func runningAllocs(t *testing.T, client *api.Client, job string) (map[string]string, string) {
	allocs, _, err := client.Jobs().Allocations(job, false, nil)
	if err != nil {
		return nil, err.Error()
	}
	out := map[string]string{}
	var why []string
	for _, a := range allocs {
		if a.ClientStatus == "running" && a.DesiredStatus == "run" {
			out[a.ID] = a.NodeID
		}
		why = append(why, a.ID[:8]+" "+a.ClientStatus+"/"+a.DesiredStatus)
	}
	sort.Strings(why)
	return out, fmt.Sprint(why)
}

// A job written to a follower is forwarded and scheduled over both
// clients; the leader's death changes none of it and marks no node down;
// the new leader schedules; the old leader comes back as a follower.
func TestFailoverKeepsAllocations(t *testing.T) {
	c := New(t, 3, 2, Options{})
	leader := c.WaitForLeader(t, 20*time.Second)
	follower := c.Followers()[0]
	fc := follower.API(t)
	waitFor(t, 20*time.Second, "2 ready nodes", func() (bool, string) {
		nodes, _, err := fc.Nodes().List(nil)
		ready := 0
		for _, n := range nodes {
			if n.Status == "ready" {
				ready++
			}
		}
		return err == nil && ready == 2, fmt.Sprint(err, nodes)
	})
	if _, _, err := fc.Jobs().Register(mockJob("web", 4), nil); err != nil {
		t.Fatalf("register on a follower: %v", err)
	}
	var before map[string]string
	waitFor(t, 30*time.Second, "4 running allocations", func() (bool, string) {
		var why string
		before, why = runningAllocs(t, fc, "web")
		return len(before) == 4, why
	})
	nodes := map[string]int{}
	for _, n := range before {
		nodes[n]++
	}
	if len(nodes) != 2 {
		t.Fatalf("allocations not spread over both clients: %v", nodes)
	}

	c.Stop(leader)
	start := time.Now()
	newLeader := c.WaitForLeader(t, 5*time.Second)
	t.Logf("new leader %s after %s", newLeader.Name, time.Since(start))
	nc := newLeader.API(t)
	// Nodes heartbeat to the survivors; none is marked down.
	time.Sleep(3 * time.Second)
	after, why := runningAllocs(t, nc, "web")
	if fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("allocations changed across the failover:\nbefore %v\nafter  %v (%s)", before, after, why)
	}
	nodeList, _, err := nc.Nodes().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodeList {
		if n.Status != "ready" {
			t.Fatalf("node %s is %s after the failover", n.Name, n.Status)
		}
	}
	if _, _, err := nc.Jobs().Register(mockJob("after", 1), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the job registered after the failover runs", func() (bool, string) {
		got, why := runningAllocs(t, nc, "after")
		return len(got) == 1, why
	})

	c.Start(t, leader)
	checkOneCluster(t, c, 3)
	if c.Leader() == leader {
		t.Fatalf("the restarted server took the lead back")
	}
	waitFor(t, 10*time.Second, "the old leader has the new state", func() (bool, string) {
		got, why := runningAllocs(t, leader.API(t), "after")
		return len(got) == 1, why
	})
}
