package docker

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/go-connections/nat"

	"drover/agent/drivers"
	"drover/agent/structs"
)

// These tests need no Docker engine.

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		raw     map[string]interface{}
		want    *taskConfig
		wantErr string
	}{
		{
			name: "full",
			raw: map[string]interface{}{
				"image":      "redis:3.2",
				"command":    "/bin/redis",
				"args":       []interface{}{"--port", float64(6379), true},
				"entrypoint": []string{"/init"},
				"ports":      []interface{}{"db"},
				"port_map":   []interface{}{map[string]interface{}{"db": float64(6379)}},
				"labels":     []interface{}{map[string]interface{}{"team": "cache"}},
				"work_dir":   "/data",
				"hostname":   "cache",
			},
			want: &taskConfig{
				Image: "redis:3.2", Command: "/bin/redis",
				Args: []string{"--port", "6379", "true"}, Entrypoint: []string{"/init"},
				Ports: []string{"db"}, PortMap: map[string]int{"db": 6379},
				Labels: map[string]string{"team": "cache"}, WorkDir: "/data", Hostname: "cache",
			},
		},
		{
			name: "port_map as a plain map",
			raw:  map[string]interface{}{"image": "x", "port_map": map[string]interface{}{"http": 80, "dns": "53"}},
			want: &taskConfig{Image: "x", PortMap: map[string]int{"http": 80, "dns": 53}},
		},
		{name: "image required", raw: map[string]interface{}{"args": []interface{}{"a"}}, wantErr: `"image" is required`},
		{name: "unknown key", raw: map[string]interface{}{"image": "x", "port_maps": 1}, wantErr: `unknown key "port_maps"`},
		{name: "bad args", raw: map[string]interface{}{"image": "x", "args": "a b"}, wantErr: `"args" must be a list`},
		{name: "bad port", raw: map[string]interface{}{"image": "x", "port_map": map[string]interface{}{"db": 6379.5}}, wantErr: `port of "db"`},
		{name: "port out of range", raw: map[string]interface{}{"image": "x", "port_map": map[string]interface{}{"db": 70000}}, wantErr: `port of "db"`},
		{name: "bad image", raw: map[string]interface{}{"image": 3}, wantErr: `"image" must be a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig(tc.raw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPortBindings(t *testing.T) {
	cfg := &drivers.TaskConfig{
		Ports: []structs.PortMapping{
			{Label: "db", Value: 23000, To: 6379, HostIP: "127.0.0.1"},
			{Label: "http", Value: 23001, HostIP: "10.0.0.1"},
			{Label: "unused", Value: 23002},
		},
	}
	exposed, bindings, err := portBindings(cfg, &taskConfig{Ports: []string{"db", "http"}})
	if err != nil {
		t.Fatal(err)
	}
	want := nat.PortMap{
		"6379/tcp":  {{HostIP: "127.0.0.1", HostPort: "23000"}},
		"6379/udp":  {{HostIP: "127.0.0.1", HostPort: "23000"}},
		"23001/tcp": {{HostIP: "10.0.0.1", HostPort: "23001"}},
		"23001/udp": {{HostIP: "10.0.0.1", HostPort: "23001"}},
	}
	if !reflect.DeepEqual(bindings, want) {
		t.Errorf("bindings = %v, want %v", bindings, want)
	}
	if len(exposed) != 4 {
		t.Errorf("exposed = %v", exposed)
	}

	if _, _, err := portBindings(cfg, &taskConfig{Ports: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown port label: err = %v", err)
	}

	old := &drivers.TaskConfig{TaskNetworks: []*structs.NetworkResource{{
		IP:            "127.0.0.1",
		ReservedPorts: []structs.Port{{Label: "admin", Value: 8080}},
		DynamicPorts:  []structs.Port{{Label: "db", Value: 24000}},
	}}}
	_, bindings, err = portBindings(old, &taskConfig{PortMap: map[string]int{"db": 6379}})
	if err != nil {
		t.Fatal(err)
	}
	want = nat.PortMap{
		"6379/tcp": {{HostIP: "127.0.0.1", HostPort: "24000"}},
		"6379/udp": {{HostIP: "127.0.0.1", HostPort: "24000"}},
		"8080/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}},
		"8080/udp": {{HostIP: "127.0.0.1", HostPort: "8080"}},
	}
	if !reflect.DeepEqual(bindings, want) {
		t.Errorf("old-style bindings = %v, want %v", bindings, want)
	}
	if _, _, err := portBindings(old, &taskConfig{PortMap: map[string]int{"web": 80}}); err == nil || !strings.Contains(err.Error(), "web") {
		t.Errorf("port_map label without port: err = %v", err)
	}
}

func TestContainerConfigResources(t *testing.T) {
	cfg := &drivers.TaskConfig{AllocID: "a1", TaskName: "redis", CPU: 500, MemoryMB: 256, MemoryMaxMB: 512,
		Env: map[string]string{"B": "2", "A": "1"}, AllocDir: "/allocs/a1", TaskDir: "/allocs/a1/redis"}
	conf, host, err := containerConfig(cfg, &taskConfig{Image: "x", Args: []string{"-v"}, Labels: map[string]string{LabelAllocID: "forged", "team": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if host.CPUShares != 500 || host.Memory != 512<<20 || host.MemoryReservation != 256<<20 {
		t.Errorf("resources: shares %d memory %d reservation %d", host.CPUShares, host.Memory, host.MemoryReservation)
	}
	if !reflect.DeepEqual(conf.Env, []string{"A=1", "B=2"}) {
		t.Errorf("env = %v", conf.Env)
	}
	if conf.Labels[LabelAllocID] != "a1" || conf.Labels["team"] != "t" {
		t.Errorf("labels = %v", conf.Labels)
	}
	if !reflect.DeepEqual([]string(conf.Cmd), []string{"-v"}) {
		t.Errorf("cmd = %v", conf.Cmd)
	}
	var targets []string
	for _, m := range host.Mounts {
		targets = append(targets, m.Source+":"+m.Target)
	}
	wantMounts := []string{"/allocs/a1/alloc:/alloc", "/allocs/a1/redis/local:/local", "/allocs/a1/redis/secrets:/secrets"}
	if !reflect.DeepEqual(targets, wantMounts) {
		t.Errorf("mounts = %v, want %v", targets, wantMounts)
	}
}

// The cursor must let a new stream skip exactly what an earlier one wrote,
// per stream, including messages sharing the last timestamp, and drop
// repeats of older messages.
func TestCursorResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), cursorFile)
	c, err := openCursor(path, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.resume(); s != "" {
		t.Fatalf("fresh cursor resumes from %q", s)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	c.advance(streamStderr, t0.Add(-time.Second))
	c.advance(streamStdout, t0.Add(-time.Second))
	c.advance(streamStdout, t0)
	c.advance(streamStdout, t0) // two parts of one long line share a timestamp
	if err := c.close(); err != nil {
		t.Fatal(err)
	}

	c, err = openCursor(path, "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	// Since the older position, the stderr one.
	if s := c.resume(); s != "1767323044.123456789" {
		t.Fatalf("resume since = %q", s)
	}
	type msg struct {
		stream int
		ts     time.Time
		isNew  bool
	}
	for i, m := range []msg{
		{streamStderr, t0.Add(-time.Second), false}, // the one stderr message written
		{streamStdout, t0.Add(-time.Second), false}, // older than the stdout cursor
		{streamStdout, t0, false},
		{streamStdout, t0, false},
		{streamStdout, t0, true}, // a third part: new
		{streamStderr, t0, true},
		{streamStdout, t0.Add(time.Millisecond), true},
		{streamStdout, t0, false}, // a repeat, as when the engine rotates its files
	} {
		got := c.isNew(m.stream, m.ts)
		if got != m.isNew {
			t.Errorf("message %d: isNew = %v, want %v", i, got, m.isNew)
		}
		if got {
			c.advance(m.stream, m.ts)
		}
	}

	// Another container's cursor is ignored.
	other, err := openCursor(path, "c2")
	if err != nil {
		t.Fatal(err)
	}
	defer other.close()
	if s := other.resume(); s != "" {
		t.Errorf("cursor of another container resumes from %q", s)
	}
	if data, _ := os.ReadFile(path); len(data) != cursorRecordSize {
		t.Errorf("cursor file is %d bytes, want %d", len(data), cursorRecordSize)
	}
}

func TestStampedWriter(t *testing.T) {
	c, err := openCursor(filepath.Join(t.TempDir(), cursorFile), "c1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var out strings.Builder
	w := &stampedWriter{cur: c, stream: streamStdout, w: &out}
	for _, frame := range []string{
		"2026-01-02T03:04:05.000000001Z hello\n",
		"2026-01-02T03:04:05.000000002Z partial",
		"2026-01-02T03:04:05.000000001Z hello\n", // repeated by the engine
		"no timestamp here\n",
	} {
		if n, err := w.Write([]byte(frame)); err != nil || n != len(frame) {
			t.Fatalf("Write(%q) = %d, %v", frame, n, err)
		}
	}
	if got, want := out.String(), "hello\npartialno timestamp here\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 2, time.UTC); !c.streams[streamStdout].last.Equal(want) {
		t.Errorf("cursor at %v, want %v", c.streams[streamStdout].last, want)
	}
}

func TestSameSignal(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"SIGTERM", "", true}, {"TERM", "SIGTERM", true}, {"15", "sigterm", true},
		{"SIGINT", "", false}, {"SIGINT", "2", true}, {"SIGQUIT", "SIGTERM", false},
	} {
		if got := sameSignal(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSignal(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
