package testcluster

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// A follower answers a write as the leader would, errors included: the
// same text and the same status code.
func TestFollowerForwardsWritesWithTheLeadersAnswers(t *testing.T) {
	c := New(t, 3, 0, Options{})
	c.WaitForLeader(t, 20*time.Second)
	fc := c.Followers()[0].API(t)

	resp, _, err := fc.Jobs().Register(mockJob("fwd", 1), nil)
	if err != nil || resp.EvalID == "" || resp.JobModifyIndex == 0 {
		t.Fatalf("register on a follower: %+v %v", resp, err)
	}
	// -check-index refused the same way on a follower.
	_, _, err = fc.Jobs().EnforceRegister(mockJob("fwd", 2), 0, nil)
	if err == nil || !strings.Contains(err.Error(), "Enforcing job modify index 0: job already exists") {
		t.Fatalf("check-index on a follower: %v", err)
	}
	// A stop of an unknown job is a 404 from any server.
	_, _, err = fc.Jobs().Deregister("nope", false, nil)
	var apiErr api.UnexpectedResponseError
	if err == nil || !asUnexpected(err, &apiErr) || apiErr.StatusCode() != http.StatusNotFound {
		t.Fatalf("deregister of an unknown job on a follower: %v", err)
	}
	// A bad eligibility is a 400 from any server.
	req, _ := http.NewRequest(http.MethodPut, c.Followers()[1].Addr()+"/v1/node/nope/eligibility",
		strings.NewReader(`{"NodeID":"nope","Eligibility":"bogus"}`))
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad eligibility on a follower: %d", r.StatusCode)
	}
}

func asUnexpected(err error, out *api.UnexpectedResponseError) bool {
	e, ok := err.(api.UnexpectedResponseError)
	if ok {
		*out = e
	}
	return ok
}

// A write acknowledged by one server is in the next read of any other;
// ?stale reads answer even without a leader.
func TestReadsAfterWritesAcrossServers(t *testing.T) {
	c := New(t, 3, 0, Options{})
	c.WaitForLeader(t, 20*time.Second)
	f := c.Followers()
	for i := 0; i < 20; i++ {
		id := "rw-" + string(rune('a'+i))
		if _, _, err := f[i%2].API(t).Jobs().Register(mockJob(id, 0), nil); err != nil {
			t.Fatal(err)
		}
		// Read at once from the other follower: never "not found".
		job, _, err := f[(i+1)%2].API(t).Jobs().Info(id, nil)
		if err != nil || *job.ID != id {
			t.Fatalf("read of %s right after its write: %v", id, err)
		}
	}
	// Two of three servers down: no leader, yet a stale read works and a
	// consistent one says why it cannot answer.
	c.Stop(c.Servers[0])
	c.Stop(c.Servers[1])
	last := c.Servers[2].API(t)
	waitFor(t, 10*time.Second, "the last server knows there is no leader", func() (bool, string) {
		return c.Servers[2].Agent().Server().Leader() == "", c.Servers[2].Agent().Server().Leader()
	})
	jobs, _, err := last.Jobs().List(&api.QueryOptions{AllowStale: true})
	if err != nil || len(jobs) != 20 {
		t.Fatalf("stale read without a leader: %d jobs, %v", len(jobs), err)
	}
	_, _, err = last.Jobs().List(nil)
	if err == nil || !strings.Contains(err.Error(), "No cluster leader") {
		t.Fatalf("consistent read without a leader: %v", err)
	}
}

// A blocking query on a follower keeps waiting through a leader change
// and returns when a write lands after it.
func TestBlockingQueryAcrossLeaderChange(t *testing.T) {
	c := New(t, 3, 0, Options{})
	leader := c.WaitForLeader(t, 20*time.Second)
	if _, _, err := leader.API(t).Jobs().Register(mockJob("first", 0), nil); err != nil {
		t.Fatal(err)
	}
	follower := c.Followers()[0]
	fc := follower.API(t)
	// Let the job's evaluation finish first: the job's status changes
	// when it is scheduled, and that write would end the query early.
	waitFor(t, 10*time.Second, "the first job scheduled", func() (bool, string) {
		evals, _, err := fc.Jobs().Evaluations("first", nil)
		if err != nil || len(evals) == 0 {
			return false, fmt.Sprint(err)
		}
		return evals[0].Status == "complete", evals[0].Status
	})
	_, meta, err := fc.Jobs().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		jobs []*api.JobListStub
		err  error
	}
	done := make(chan result, 1)
	go func() {
		q := &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute}
		jobs, _, err := fc.Jobs().List(q.WithContext(context.Background()))
		done <- result{jobs, err}
	}()
	time.Sleep(300 * time.Millisecond)
	c.Stop(leader)
	newLeader := c.WaitForLeader(t, 10*time.Second)
	select {
	case r := <-done:
		t.Fatalf("the blocking query returned before any write: %v %v", r.jobs, r.err)
	default:
	}
	if _, _, err := newLeader.API(t).Jobs().Register(mockJob("second", 0), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || len(r.jobs) != 2 {
			t.Fatalf("blocking query after the leader change: %v %v", r.jobs, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the blocking query did not return after the write")
	}
}

// A crashed server stays a raft peer (it may come back); force-leave
// removes it, and a new server joins the formed cluster as a voter.
func TestForceLeaveAndLaterServer(t *testing.T) {
	c := New(t, 3, 0, Options{})
	leader := c.WaitForLeader(t, 20*time.Second)
	gone := c.Followers()[0]
	c.Stop(gone)
	time.Sleep(2 * time.Second)
	if n := len(leader.Agent().Server().Peers()); n != 3 {
		t.Fatalf("a crashed server was dropped from raft at once: %d peers", n)
	}
	waitFor(t, 20*time.Second, "gossip sees the crashed server as failed", func() (bool, string) {
		for _, m := range leader.Agent().Server().Members() {
			if strings.HasPrefix(m.Name, gone.Name+".") {
				return m.Status == "failed", m.Status
			}
		}
		return false, "not a member"
	})
	req, _ := http.NewRequest(http.MethodPut, leader.Addr()+"/v1/agent/force-leave?node="+gone.Name, nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("force-leave: %d", r.StatusCode)
	}
	waitFor(t, 20*time.Second, "the leader removes it from raft", func() (bool, string) {
		peers := leader.Agent().Server().Peers()
		for _, p := range peers {
			if p == gone.RPCAddr() {
				return false, strings.Join(peers, ",")
			}
		}
		return len(peers) == 2, strings.Join(peers, ",")
	})

	// A fourth server joins by `server join` (no retry_join of its own)
	// and becomes a voter.
	late := &Member{Name: "server-4", Server: true, HTTP: freePort(t), RPC: freePort(t), Serf: freePort(t), dir: t.TempDir(),
		hcl: "server {\n  enabled = true\n  bootstrap_expect = 3\n}\n"}
	c.Servers = append(c.Servers, late)
	c.Start(t, late)
	joined, err := late.API(t).Agent().Join("127.0.0.1:" + strconv.Itoa(leader.Serf))
	if err != nil || joined != 1 {
		t.Fatalf("join: %d %v", joined, err)
	}
	waitFor(t, 20*time.Second, "the later server is a voter", func() (bool, string) {
		cfg, err := leader.Agent().Server().RaftConfig()
		if err != nil {
			return false, err.Error()
		}
		for _, s := range cfg.Servers {
			if s.Address == late.RPCAddr() {
				return s.Voter, "not a voter"
			}
		}
		return false, "not in raft"
	})
	waitFor(t, 10*time.Second, "the later server follows the leader", func() (bool, string) {
		l := late.Agent().Server().Leader()
		return l == leader.RPCAddr(), l
	})
}
