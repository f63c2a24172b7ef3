package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/server"
	"drover/agent/structs"
)

// The concrete server is what the API serves in production.
var _ Server = (*server.Server)(nil)

// testAgent is one in-memory server with the API in front of it.
type testAgent struct {
	srv    *server.Server
	ts     *httptest.Server
	client *api.Client
	info   AgentInfo
	logger *log.Logger
}

// tlogWriter routes log lines to t.Log until the test ends; the server's
// goroutines may still log while it shuts down.
type tlogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newTestAgent(t *testing.T) *testAgent {
	t.Helper()
	lw := &tlogWriter{t: t}
	t.Cleanup(func() { lw.mu.Lock(); lw.done = true; lw.mu.Unlock() })
	logger := log.New(lw, "", log.Lmicroseconds)

	cfg := server.DefaultConfig()
	cfg.NodeName = "drover-test"
	cfg.DataDir = ""
	cfg.RPCAddr = "127.0.0.1:0"
	cfg.NumSchedulers = 2
	// Nodes registered by the tests never heartbeat; keep them up for
	// longer than any test runs.
	cfg.MinHeartbeatTTL = time.Minute
	cfg.HeartbeatGrace = time.Minute
	cfg.Logger = logger
	srv, err := server.NewServer(cfg)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Logf("shutdown: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.WaitForLeader(ctx); err != nil {
		t.Fatalf("no leader: %v", err)
	}

	info := AgentInfo{
		NodeName: "drover-test", Region: "global", Datacenter: "dc1", Version: "0.1.0-test",
		Server: true, RPCAddr: srv.RPCAddr(),
		Config: map[string]interface{}{"DataDir": ""},
	}
	ts := newAPIServer(t, srv, info, logger)
	info.HTTPAddr = strings.TrimPrefix(ts.URL, "http://")
	client, err := api.NewClient(&api.Config{Address: ts.URL})
	if err != nil {
		t.Fatalf("api client: %v", err)
	}
	return &testAgent{srv: srv, ts: ts, client: client, info: info, logger: logger}
}

// newAPIServer serves the API of srv on a loopback port until the test
// ends.
func newAPIServer(t *testing.T, srv Server, info AgentInfo, logger *log.Logger) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(NewHandler(srv, info, logger))
	t.Cleanup(ts.Close)
	return ts
}

// addNode registers a ready node with docker and mock drivers. An empty
// id gets a random one.
func (a *testAgent) addNode(t *testing.T, id, name string) *structs.Node {
	t.Helper()
	if id == "" {
		id = structs.GenerateUUID()
	}
	drivers := map[string]*structs.DriverInfo{
		"docker": {Detected: true, Healthy: true, UpdateTime: time.Now()},
		"mock":   {Detected: true, Healthy: true, UpdateTime: time.Now()},
	}
	n := &structs.Node{
		ID: id, SecretID: structs.GenerateUUID(), Name: name, Datacenter: "dc1", Status: structs.NodeStatusReady,
		NodeResources: &structs.NodeResources{
			Cpu:            structs.NodeCpuResources{CpuShares: 4000},
			Memory:         structs.NodeMemoryResources{MemoryMB: 8192},
			Disk:           structs.NodeDiskResources{DiskMB: 100000},
			MinDynamicPort: 20000, MaxDynamicPort: 32000,
		},
		Attributes: map[string]string{"unique.network.ip-address": "127.0.0.1", "kernel.name": "linux"},
		Drivers:    drivers,
	}
	if _, err := a.srv.RegisterNode(n); err != nil {
		t.Fatalf("register node %s: %v", name, err)
	}
	return n
}

// waitFor polls cond every 10ms until it holds or timeout passes; cond
// returns a description of what it still waits for.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", timeout, why)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEvalDone waits until an evaluation is complete (or failed/cancelled)
// and returns it.
func (a *testAgent) waitEvalDone(t *testing.T, evalID string) *api.Evaluation {
	t.Helper()
	var eval *api.Evaluation
	waitFor(t, 10*time.Second, func() (bool, string) {
		e, _, err := a.client.Evaluations().Info(evalID, nil)
		if err != nil {
			return false, fmt.Sprintf("eval %s: %v", evalID, err)
		}
		eval = e
		switch e.Status {
		case structs.EvalStatusComplete, structs.EvalStatusFailed, structs.EvalStatusCancelled:
			return true, ""
		}
		return false, fmt.Sprintf("eval %s is %s", evalID, e.Status)
	})
	return eval
}

// statusCode extracts the HTTP status from a client error, 0 if none.
func statusCode(err error) int {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode()
	}
	return 0
}

// seed003 is the example job, parsed by the API itself.
func (a *testAgent) seed003(t *testing.T) *api.Job {
	t.Helper()
	src, err := os.ReadFile("../jobspec/testdata/seed003.nomad")
	if err != nil {
		t.Fatal(err)
	}
	job, err := a.client.Jobs().ParseHCL(string(src), true)
	if err != nil {
		t.Fatalf("parse seed003: %v", err)
	}
	return job
}

// smallJob is a service job built with the client's own types, with small
// tasks so that many fit on one node.
func smallJob(id string, count int) *api.Job {
	task := api.NewTask("work", "mock").
		SetConfig("run_for", "1h").
		Require(&api.Resources{CPU: ptr(50), MemoryMB: ptr(32)})
	tg := api.NewTaskGroup("grp", count).AddTask(task)
	return api.NewServiceJob(id, id, "global", 50).AddDatacenter("dc1").AddTaskGroup(tg)
}

// do sends a raw request and returns the status, body and headers.
func (a *testAgent) do(t *testing.T, method, path, body string) (int, string, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func ptr[T any](v T) *T { return &v }
