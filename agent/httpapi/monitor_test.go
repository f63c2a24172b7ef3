package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/logstream"
	"drover/agent/structs"
)

// monitorAgent is a test agent whose API streams a log sink of its own;
// its logger writes into that sink, as the agent's does.
type monitorAgent struct {
	*testAgent
	sink   *logstream.Sink
	log    *log.Logger
	url    string
	client *api.Client
}

func newMonitorAgent(t *testing.T) *monitorAgent {
	t.Helper()
	a := newTestAgent(t)
	sink := logstream.NewSink(io.Discard)
	logger := log.New(sink, "    ", log.LstdFlags)
	info := a.info
	ts := httptest.NewServer(NewHandler(a.srv, info, logger, WithLogs(sink)))
	t.Cleanup(ts.Close)
	t.Cleanup(sink.Close) // end the streams before the server waits for them
	c, err := api.NewClient(&api.Config{Address: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	return &monitorAgent{testAgent: a, sink: sink, log: logger, url: ts.URL, client: c}
}

// monitor starts a stream through the official client and returns a
// function that reads what arrives until want appears in it (or fails).
func monitor(t *testing.T, c *api.Client, params map[string]string) func(want string) string {
	t.Helper()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	frames, errCh := c.Agent().Monitor(stop, &api.QueryOptions{Params: params})
	select {
	case err := <-errCh:
		t.Fatalf("monitor %v: %v", params, err)
	default:
	}
	var got strings.Builder
	return func(want string) string {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !strings.Contains(got.String(), want) {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("stream ended before %q; got:\n%s", want, got.String())
				}
				got.Write(f.Data)
			case err := <-errCh:
				t.Fatalf("stream failed before %q: %v; got:\n%s", want, err, got.String())
			case <-deadline:
				t.Fatalf("no %q within 10s; got:\n%s", want, got.String())
			}
		}
		return got.String()
	}
}

// waitSubscribers waits until the sink has n subscribers.
func waitSubscribers(t *testing.T, sink *logstream.Sink, n int) {
	t.Helper()
	waitFor(t, 10*time.Second, func() (bool, string) {
		return sink.Subscribers() == n, fmt.Sprintf("%d subscribers, want %d", sink.Subscribers(), n)
	})
}

func TestMonitorLevels(t *testing.T) {
	t.Parallel()
	a := newMonitorAgent(t)

	warn := monitor(t, a.client, map[string]string{"log_level": "warn"})
	debug := monitor(t, a.client, map[string]string{"log_level": "DEBUG", "log_json": "true"})
	waitSubscribers(t, a.sink, 2)

	a.log.Printf("[DEBUG] test: one")
	a.log.Printf("[INFO] test: two")
	a.log.Printf("[WARN] test: three")
	a.log.Printf("[ERROR] test: four")

	got := warn("four")
	if !strings.Contains(got, "[WARN] test: three\n") || strings.Contains(got, "one") || strings.Contains(got, "two") ||
		strings.Contains(got, "[INFO]") {
		t.Errorf("a monitor at WARN got:\n%s", got)
	}
	// The JSON monitor: one object per line, each level present.
	got = debug(`"four"`)
	var levels []string
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		var rec map[string]string
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q (%v)", line, err)
		}
		if rec["@module"] == "test" {
			levels = append(levels, rec["@level"]+":"+rec["@message"])
		}
		if rec["@timestamp"] == "" {
			t.Errorf("no timestamp: %q", line)
		}
	}
	if g := strings.Join(levels, " "); g != "debug:one info:two warn:three error:four" {
		t.Errorf("the DEBUG monitor's records: %s", g)
	}
}

func TestMonitorErrors(t *testing.T) {
	t.Parallel()
	a := newMonitorAgent(t)
	cases := []struct {
		query string
		code  int
		msg   string
	}{
		{"log_level=loud", 400, "Unknown log level: loud"},
		{"log_json=maybe", 400, `Unknown option for log json: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"plain=maybe", 400, `Unknown option for plain: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"node_id=a&server_id=b", 400, "Cannot target node and server simultaneously"},
		{"node_id=00000000-0000-0000-0000-000000000000", 404, `Unknown node "00000000-0000-0000-0000-000000000000"`},
		{"server_id=nope", 400, `unknown server "nope": give a member name as the members list shows it, or "leader"`},
	}
	for _, c := range cases {
		// a.do asks the plain test API, which has no log stream: each of
		// these is refused before a stream would start.
		code, body, _ := a.do(t, "GET", "/v1/agent/monitor?"+c.query, "")
		if code != c.code || body != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.query, code, body, c.code, c.msg)
		}
	}
	// The official client reports the refusal as it starts.
	_, errCh := a.client.Agent().Monitor(nil, &api.QueryOptions{Params: map[string]string{"log_level": "loud"}})
	if err := <-errCh; err == nil || !strings.Contains(err.Error(), "Unexpected response code: 400 (Unknown log level: loud)") {
		t.Errorf("client error: %v", err)
	}
	if code, body, _ := a.do(t, "POST", "/v1/agent/monitor", ""); code != 405 || body != "Invalid method" {
		t.Errorf("POST: %d %q", code, body)
	}
	// An agent without a log stream says so.
	if code, body, _ := a.do(t, "GET", "/v1/agent/monitor", ""); code != 501 || body != "this agent does not stream its log" {
		t.Errorf("no logs: %d %q", code, body)
	}
}

// A reader that does not read must not hold the agent's logging up: its
// lines are dropped, and it is told how many once it reads again.
func TestMonitorSlowReaderDoesNotBlockTheAgent(t *testing.T) {
	t.Parallel()
	a := newMonitorAgent(t)
	resp, err := http.Get(a.url + "/v1/agent/monitor?plain=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	waitSubscribers(t, a.sink, 1)

	// Far more than the socket buffers hold, so that the stream stalls.
	const n = 200000
	filler := strings.Repeat("x", 100)
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		for i := 0; i < n; i++ {
			a.log.Printf("[INFO] test: line %d %s", i, filler)
		}
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		t.Logf("%d lines logged in %v with a stalled monitor", n, d)
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's logging blocked behind a monitor that does not read")
	}
	// The stream catches up with what the socket and its buffer held, then
	// the next line carries the notice of what was dropped. Lines logged
	// while it still catches up may be dropped too: keep logging.
	found := make(chan [2]bool, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var dropped, after bool
		for !(dropped && after) && sc.Scan() {
			line := sc.Text()
			dropped = dropped || strings.Contains(line, "[WARN] http: log monitor dropped ")
			after = after || strings.Contains(line, "test: after the flood")
		}
		found <- [2]bool{dropped, after}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case <-tick.C:
			a.log.Printf("[INFO] test: after the flood")
			continue
		case got := <-found:
			if !got[0] || !got[1] {
				t.Errorf("after the stall: drop notice %v, a later line %v", got[0], got[1])
			}
		case <-deadline:
			t.Error("the stalled monitor never caught up")
		}
		break
	}
}

// -node-id and -server-id: the server forwards to that agent's API; a
// client-only agent asks its server.
func TestMonitorForwarding(t *testing.T) {
	t.Parallel()
	a := newMonitorAgent(t)

	// A client-only agent, with a log of its own, registered as a node
	// whose HTTP address is its API.
	nodeID := structs.GenerateUUID()
	bSink := logstream.NewSink(io.Discard)
	bLog := log.New(bSink, "", log.LstdFlags)
	t.Cleanup(bSink.Close)
	serverHTTP := func() (string, error) { return strings.TrimPrefix(a.url, "http://"), nil }
	bts := httptest.NewUnstartedServer(nil)
	bInfo := AgentInfo{NodeName: "client-b", Region: "global", Datacenter: "dc1", Client: true, NodeID: nodeID,
		HTTPAddr: bts.Listener.Addr().String()}
	bts.Config.Handler = NewClientHandler(nil, serverHTTP, bInfo, bLog, WithLogs(bSink))
	bts.Start()
	t.Cleanup(bts.Close)
	node := &structs.Node{ID: nodeID, SecretID: structs.GenerateUUID(), Name: "client-b", Datacenter: "dc1",
		Status: structs.NodeStatusReady, HTTPAddr: bInfo.HTTPAddr,
		NodeResources: &structs.NodeResources{Cpu: structs.NodeCpuResources{CpuShares: 1000},
			Memory: structs.NodeMemoryResources{MemoryMB: 1024}, Disk: structs.NodeDiskResources{DiskMB: 1024}}}
	if _, err := a.srv.RegisterNode(node); err != nil {
		t.Fatal(err)
	}
	b, err := api.NewClient(&api.Config{Address: bts.URL})
	if err != nil {
		t.Fatal(err)
	}

	// Through the server, by node ID prefix: the node's log, not the server's.
	viaServer := monitor(t, a.client, map[string]string{"node_id": nodeID[:8]})
	// Through the client, the server's own log.
	leaderViaClient := monitor(t, b, map[string]string{"server_id": "leader"})
	byName := monitor(t, a.client, map[string]string{"server_id": "drover-test"})
	waitSubscribers(t, bSink, 1)
	waitSubscribers(t, a.sink, 2)

	a.log.Printf("[INFO] test: from the server")
	bLog.Printf("[INFO] test: from the client")
	if got := viaServer("from the client"); strings.Contains(got, "from the server") {
		t.Errorf("the node's stream carries the server's log:\n%s", got)
	}
	if got := leaderViaClient("from the server"); strings.Contains(got, "from the client") {
		t.Errorf("the leader's stream carries the client's log:\n%s", got)
	}
	byName("from the server")

	// An agent that receives a forwarded request it cannot serve does not
	// pass it on again.
	req, _ := http.NewRequest("GET", bts.URL+"/v1/agent/monitor?node_id="+structs.GenerateUUID(), nil)
	req.Header.Set(forwardedHeader, "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "is not node") {
		t.Errorf("forwarded twice: %d %s", resp.StatusCode, body)
	}
}
