package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/nomad/api"

	"drover/agent/state"
)

// signallingServer reports each blocking query it starts, so a test can
// make a change while a query waits instead of sleeping.
type signallingServer struct {
	Server
	started chan struct{}
}

func (s *signallingServer) BlockingQuery(ctx context.Context, minIndex uint64, wait time.Duration,
	query func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error)) (uint64, error) {
	select {
	case s.started <- struct{}{}:
	default:
	}
	return s.Server.BlockingQuery(ctx, minIndex, wait, query)
}

func TestBlockingQuery(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	sig := &signallingServer{Server: a.srv, started: make(chan struct{}, 1)}
	ts := newAPIServer(t, sig, a.info, a.logger)
	client, err := api.NewClient(&api.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	jobs := client.Jobs()

	reg, _, err := jobs.Register(smallJob("one", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)
	_, qm, err := jobs.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	index := qm.LastIndex

	// Nothing changes: the query answers when the wait ends, with the
	// same index.
	start := time.Now()
	list, qm, err := jobs.List(&api.QueryOptions{WaitIndex: index, WaitTime: 300 * time.Millisecond})
	elapsed := time.Since(start)
	if err != nil || len(list) != 1 {
		t.Fatalf("idle blocking list: %v %d", err, len(list))
	}
	if elapsed < 250*time.Millisecond || elapsed > 3*time.Second || qm.LastIndex != index {
		t.Fatalf("idle blocking list returned after %v with index %d (want ~300ms, index %d)", elapsed, qm.LastIndex, index)
	}
	<-sig.started

	// A registration wakes a waiting list.
	type result struct {
		list []*api.JobListStub
		qm   *api.QueryMeta
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		list, qm, err := jobs.List(&api.QueryOptions{WaitIndex: index, WaitTime: 20 * time.Second})
		done <- result{list, qm, err, time.Since(start)}
	}()
	<-sig.started
	reg, _, err = jobs.Register(smallJob("two", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("blocking list did not return after a registration")
	}
	if res.err != nil || res.qm.LastIndex <= index || len(res.list) != 2 || res.took > 10*time.Second {
		t.Fatalf("woken list: %v index %d (was %d) %d jobs after %v", res.err, res.qm.LastIndex, index, len(res.list), res.took)
	}

	// A blocking read of a job that does not exist yet waits for it. The
	// index is table-wide, so first let the scheduler finish with "two".
	a.waitEvalDone(t, reg.EvalID)
	_, qm, err = jobs.List(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		job, _, err := jobs.Info("three", &api.QueryOptions{WaitIndex: qm.LastIndex, WaitTime: 20 * time.Second})
		if err == nil && *job.ID != "three" {
			err = fmt.Errorf("got job %q", *job.ID)
		}
		got <- err
	}()
	<-sig.started
	if _, _, err := jobs.Register(smallJob("three", 1), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("blocking info: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking info did not return after the job was registered")
	}

	// Bad blocking parameters are refused.
	for _, q := range []string{"index=x", "index=1&wait=soon"} {
		code, body, _ := a.do(t, "GET", "/v1/jobs?"+q, "")
		if code != 400 || !strings.Contains(body, "Invalid") {
			t.Fatalf("GET /v1/jobs?%s: %d %q", q, code, body)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	node := a.addNode(t, "", "node-1")
	a.addNode(t, "aaaaaaaa-0000-4000-8000-000000000001", "twin-1")
	a.addNode(t, "aaaaaaaa-0000-4000-8000-000000000002", "twin-2")

	// Not found, through the client.
	_, _, err := a.client.Jobs().Info("nope", nil)
	if statusCode(err) != 404 || !strings.Contains(err.Error(), "job not found") {
		t.Fatalf("unknown job: %v", err)
	}
	_, _, err = a.client.Jobs().Summary("nope", nil)
	if statusCode(err) != 404 {
		t.Fatalf("unknown job summary: %v", err)
	}
	_, _, _, err = a.client.Jobs().Versions("nope", false, nil)
	if statusCode(err) != 404 {
		t.Fatalf("unknown job versions: %v", err)
	}
	if d, _, err := a.client.Jobs().LatestDeployment("nope", nil); err != nil || d != nil {
		t.Fatalf("latest deployment of unknown job: %v %+v", err, d)
	}
	notFound := []struct{ path, want string }{
		{"/v1/allocation/0123abcd", "alloc not found"},
		{"/v1/evaluation/0123abcd", "eval not found"},
		{"/v1/node/0123abcd", "node not found"},
		{"/v1/deployment/0123abcd", "deployment not found"},
		{"/v1/job/nope", "job not found"},
		{"/v1/nosuch", "Invalid URL path"},
	}
	for _, tc := range notFound {
		code, body, hdr := a.do(t, "GET", tc.path, "")
		if code != 404 || !strings.HasPrefix(body, tc.want) ||
			!strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET %s: %d %q (%s)", tc.path, code, body, hdr.Get("Content-Type"))
		}
	}
	_, err = a.client.Nodes().ToggleEligibility("0123abcd-0000-4000-8000-000000000000", false, nil)
	if statusCode(err) != 404 {
		t.Fatalf("eligibility of unknown node: %v", err)
	}

	// Wrong methods.
	for _, tc := range []struct{ method, path string }{
		{"DELETE", "/v1/jobs"}, {"GET", "/v1/job/x/plan"}, {"POST", "/v1/allocations"},
		{"PATCH", "/v1/job/x"}, {"GET", "/v1/node/x/drain"}, {"PUT", "/v1/status/leader"},
	} {
		code, body, _ := a.do(t, tc.method, tc.path, "")
		if code != 405 || body != "Invalid method" {
			t.Fatalf("%s %s: %d %q", tc.method, tc.path, code, body)
		}
	}

	// Malformed bodies say why.
	code, body, _ := a.do(t, "PUT", "/v1/node/"+node.ID+"/drain", `{"DrainSpec": {"Deadline": "soon"}}`)
	if code != 400 || !strings.Contains(body, "failed to decode request body") || !strings.Contains(body, "Deadline") {
		t.Fatalf("bad drain body: %d %q", code, body)
	}
	code, body, _ = a.do(t, "PUT", "/v1/node/"+node.ID+"/eligibility", `{"Eligibility": "maybe"}`)
	if code != 400 || !strings.Contains(body, "maybe") {
		t.Fatalf("bad eligibility: %d %q", code, body)
	}
	huge := `{"Job": {"ID": "` + strings.Repeat("x", maxBodySize) + `"}}`
	code, body, _ = a.do(t, "PUT", "/v1/jobs", huge)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large") {
		t.Fatalf("huge body: %d %.100q", code, body)
	}

	// Short IDs: a unique prefix finds the node, a shared one is refused.
	n, _, err := a.client.Nodes().Info("aaaaaaaa-0000-4000-8000-000000000002", nil)
	if err != nil || n.Name != "twin-2" {
		t.Fatalf("full node ID: %v", err)
	}
	_, _, err = a.client.Nodes().Info("aaaaaaaa", nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("ambiguous node prefix: %v", err)
	}

	// Enough allocations that two share a first hex digit.
	reg, _, err := a.client.Jobs().Register(smallJob("many", 17), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)
	stubs, _, err := a.client.Jobs().Allocations("many", false, nil)
	if err != nil || len(stubs) != 17 {
		t.Fatalf("allocations: %v %d", err, len(stubs))
	}
	byFirst := map[byte][]string{}
	for _, s := range stubs {
		byFirst[s.ID[0]] = append(byFirst[s.ID[0]], s.ID)
	}
	for first, ids := range byFirst {
		if len(ids) < 2 {
			continue
		}
		_, _, err = a.client.Allocations().Info(string(first), nil)
		if statusCode(err) != 400 || !strings.Contains(err.Error(), "ambiguous") {
			t.Fatalf("ambiguous alloc prefix %q: %v", first, err)
		}
		alloc, _, err := a.client.Allocations().Info(ids[0][:8], nil)
		if err != nil || alloc.ID != ids[0] {
			t.Fatalf("alloc short ID %s: %v", ids[0][:8], err)
		}
		break
	}
	eval, _, err := a.client.Evaluations().Info(reg.EvalID[:8], nil)
	if err != nil || eval.ID != reg.EvalID {
		t.Fatalf("eval by short ID: %v", err)
	}
}

func TestNodeDrainAndEligibility(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	n1 := a.addNode(t, "", "node-1")
	// An allocation that never becomes healthy (there is no client) keeps
	// node-1's drain going: a drain of an empty node completes at once.
	reg, _, err := a.client.Jobs().Register(smallJob("pinned", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)
	n2 := a.addNode(t, "", "node-2")
	nodes := a.client.Nodes()
	if allocs, _, err := nodes.Allocations(n1.ID, nil); err != nil || len(allocs) != 1 {
		t.Fatalf("node-1 allocations: %v %d", err, len(allocs))
	}

	resp, err := nodes.UpdateDrain(n1.ID, &api.DrainSpec{Deadline: time.Hour, IgnoreSystemJobs: true}, false, nil)
	if err != nil || resp.NodeModifyIndex == 0 || resp.LastIndex != resp.NodeModifyIndex {
		t.Fatalf("drain: %v %+v", err, resp)
	}
	node, _, err := nodes.Info(n1.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !node.Drain || node.DrainStrategy == nil || node.DrainStrategy.Deadline != time.Hour ||
		!node.DrainStrategy.IgnoreSystemJobs || node.SchedulingEligibility != "ineligible" {
		t.Fatalf("draining node: drain %v strategy %+v eligibility %q", node.Drain, node.DrainStrategy, node.SchedulingEligibility)
	}
	if node.DrainStrategy.ForceDeadline.IsZero() {
		t.Fatalf("drain without a force deadline: %+v", node.DrainStrategy)
	}

	if _, err := nodes.ToggleEligibility(n2.ID, false, nil); err != nil {
		t.Fatalf("ineligible: %v", err)
	}
	node, _, err = nodes.Info(n2.ID, nil)
	if err != nil || node.SchedulingEligibility != "ineligible" || node.Drain {
		t.Fatalf("ineligible node: %v %q drain %v", err, node.SchedulingEligibility, node.Drain)
	}
	list, _, err := nodes.List(nil)
	if err != nil || len(list) != 2 {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.SchedulingEligibility != "ineligible" {
			t.Fatalf("node %s is %q", s.Name, s.SchedulingEligibility)
		}
	}

	// Undo both.
	if _, err := nodes.UpdateDrain(n1.ID, nil, true, nil); err != nil {
		t.Fatalf("end drain: %v", err)
	}
	if _, err := nodes.ToggleEligibility(n2.ID, true, nil); err != nil {
		t.Fatalf("eligible: %v", err)
	}
	for _, id := range []string{n1.ID, n2.ID} {
		node, _, err := nodes.Info(id, nil)
		if err != nil || node.Drain || node.DrainStrategy != nil || node.SchedulingEligibility != "eligible" {
			t.Fatalf("node %s after undo: %v drain %v eligibility %q", id, err, node.Drain, node.SchedulingEligibility)
		}
		if len(node.Events) < 2 {
			t.Fatalf("node %s events: %d", id, len(node.Events))
		}
	}
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node-1")
	reg, _, err := a.client.Jobs().Register(smallJob("web", 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, reg.EvalID)
	d, _, err := a.client.Jobs().LatestDeployment("web", nil)
	if err != nil || d == nil || d.Status != "running" {
		t.Fatalf("deployment: %v %+v", err, d)
	}

	code, body, _ := a.do(t, "PUT", "/v1/deployment/promote/"+d.ID, `{"DeploymentID": "`+d.ID+`"}`)
	if code != 400 || !strings.Contains(body, "All or Groups") {
		t.Fatalf("promote nothing: %d %q", code, body)
	}

	resp, wm, err := a.client.Deployments().Fail(d.ID, nil)
	if err != nil || resp.EvalID == "" || resp.DeploymentModifyIndex == 0 || wm.LastIndex != resp.DeploymentModifyIndex {
		t.Fatalf("fail: %v %+v", err, resp)
	}
	got, _, err := a.client.Deployments().Info(d.ID, nil)
	if err != nil || got.Status != "failed" || got.StatusDescription != "Deployment marked as failed" {
		t.Fatalf("failed deployment: %v %+v", err, got)
	}
	_, _, err = a.client.Deployments().PromoteAll(d.ID, nil)
	if statusCode(err) != 400 || !strings.Contains(err.Error(), "terminal") {
		t.Fatalf("promote a failed deployment: %v", err)
	}
	_, _, err = a.client.Deployments().Fail("0123abcd-0000-4000-8000-000000000000", nil)
	if statusCode(err) != 404 {
		t.Fatalf("fail an unknown deployment: %v", err)
	}
	list, _, err := a.client.Deployments().PrefixList(d.ID[:6])
	if err != nil || len(list) != 1 || list[0].ID != d.ID {
		t.Fatalf("deployment prefix list: %v %+v", err, list)
	}
	// Another namespace sees nothing.
	list, _, err = a.client.Deployments().List(&api.QueryOptions{Namespace: "other"})
	if err != nil || len(list) != 0 {
		t.Fatalf("deployments of another namespace: %v %+v", err, list)
	}
	list, _, err = a.client.Deployments().List(&api.QueryOptions{Namespace: "*"})
	if err != nil || len(list) != 1 {
		t.Fatalf("deployments of all namespaces: %v %+v", err, list)
	}
}

func TestAgentEndpoints(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)

	self, err := a.client.Agent().Self()
	if err != nil {
		t.Fatalf("self: %v", err)
	}
	if self.Member.Name != "drover-test.global" || self.Member.Status != "alive" ||
		self.Config["Region"] != "global" || self.Config["Datacenter"] != "dc1" || self.Config["DataDir"] != "" {
		t.Fatalf("self: member %+v config %+v", self.Member, self.Config)
	}
	if self.Stats["nomad"]["leader"] != "true" || self.Stats["nomad"]["server"] != "true" || self.Stats["raft"]["state"] != "Leader" {
		t.Fatalf("self stats: %+v", self.Stats)
	}
	name, err := a.client.Agent().NodeName()
	if err != nil || name != "drover-test.global" {
		t.Fatalf("node name: %v %q", err, name)
	}
	if dc, err := a.client.Agent().Datacenter(); err != nil || dc != "dc1" {
		t.Fatalf("datacenter: %v %q", err, dc)
	}

	members, err := a.client.Agent().Members()
	if err != nil {
		t.Fatalf("members: %v", err)
	}
	if members.ServerName != "drover-test" || members.ServerRegion != "global" || members.ServerDC != "dc1" ||
		len(members.Members) != 1 {
		t.Fatalf("members: %+v", members)
	}
	m := members.Members[0]
	leader, err := a.client.Status().Leader()
	if err != nil || leader != a.srv.RPCAddr() {
		t.Fatalf("leader: %v %q want %q", err, leader, a.srv.RPCAddr())
	}
	if m.Status != "alive" || m.Tags["region"] != "global" || m.Tags["dc"] != "dc1" || m.Tags["build"] != "0.1.0-test" ||
		m.Addr+":"+strconv.Itoa(int(m.Port)) != leader || m.Tags["port"] != strconv.Itoa(int(m.Port)) {
		t.Fatalf("member: %+v", m)
	}

	peers, err := a.client.Status().Peers()
	if err != nil || len(peers) != 1 || peers[0] != leader {
		t.Fatalf("peers: %v %v", err, peers)
	}
	regions, err := a.client.Regions().List()
	if err != nil || len(regions) != 1 || regions[0] != "global" {
		t.Fatalf("regions: %v %v", err, regions)
	}
}

// TestResponseFormat checks headers, empty lists and ?pretty on raw
// responses.
func TestResponseFormat(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)

	for _, path := range []string{"/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/deployments", "/v1/nodes",
		"/v1/job/x/allocations", "/v1/job/x/evaluations", "/v1/job/x/deployments"} {
		code, body, hdr := a.do(t, "GET", path, "")
		if code != 200 || body != "[]" || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %q %q", path, code, body, hdr.Get("Content-Type"))
		}
		idx, err := strconv.ParseUint(hdr.Get("X-Nomad-Index"), 10, 64)
		if err != nil || idx == 0 || hdr.Get("X-Nomad-KnownLeader") != "true" || hdr.Get("X-Nomad-LastContact") != "0" {
			t.Fatalf("GET %s headers: %v", path, hdr)
		}
	}
	code, body, _ := a.do(t, "GET", "/v1/job/x/deployment", "")
	if code != 200 || body != "null" {
		t.Fatalf("latest deployment of no job: %d %q", code, body)
	}

	a.addNode(t, "", "node-1")
	code, body, _ = a.do(t, "GET", "/v1/nodes?pretty", "")
	if code != 200 || !strings.HasPrefix(body, "[\n    {\n        \"Address\": \"127.0.0.1\"") || !strings.HasSuffix(body, "]\n") {
		t.Fatalf("pretty nodes: %d %q", code, body)
	}
	code, body, _ = a.do(t, "GET", "/v1/nodes?pretty=false", "")
	if code != 200 || strings.Contains(body, "\n") {
		t.Fatalf("not pretty nodes: %d %q", code, body)
	}
	code, body, _ = a.do(t, "GET", "/v1/regions", "")
	if code != 200 || body != `["global"]` {
		t.Fatalf("regions: %d %q", code, body)
	}

	// The node's secret never leaves the server.
	nodes, _, err := a.client.Nodes().List(nil)
	if err != nil || len(nodes) != 1 {
		t.Fatal(err)
	}
	_, body, _ = a.do(t, "GET", "/v1/node/"+nodes[0].ID, "")
	if !strings.Contains(body, `"SecretID":""`) {
		t.Fatalf("node secret: %s", body)
	}

	// Lists are sorted as the client expects them even without its help.
	for _, id := range []string{"b", "c", "a"} {
		if _, _, err := a.client.Jobs().Register(smallJob(id, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	_, body, _ = a.do(t, "GET", "/v1/jobs", "")
	var ids []string
	for _, part := range strings.Split(body, `"ID":"`)[1:] {
		ids = append(ids, part[:strings.IndexByte(part, '"')])
	}
	if len(ids) != 3 || !sort.StringsAreSorted(ids) {
		t.Fatalf("job order: %v", ids)
	}
}
