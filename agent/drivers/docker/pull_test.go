package docker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"drover/agent/drivers"
)

// pullStream is what an engine sends while pulling an image of two layers
// (recorded from a pull of redis:7-alpine, sizes shortened), one message
// per line.
const pullStream = `{"status":"Pulling from library/redis","id":"7-alpine"}
{"status":"Pulling fs layer","progressDetail":{},"id":"aaaa00000001"}
{"status":"Pulling fs layer","progressDetail":{},"id":"bbbb00000002"}
{"status":"Waiting","progressDetail":{},"id":"bbbb00000002"}
{"status":"Downloading","progressDetail":{"current":1048576,"total":4194304},"progress":"[============>      ]  1.049MB/4.194MB","id":"aaaa00000001"}
{"status":"Downloading","progressDetail":{"current":2097152,"total":4194304},"progress":"[========================>  ]  2.097MB/4.194MB","id":"aaaa00000001"}
{"status":"Verifying Checksum","progressDetail":{},"id":"aaaa00000001"}
{"status":"Download complete","progressDetail":{},"id":"aaaa00000001"}
{"status":"Downloading","progressDetail":{"current":512,"total":2048},"progress":"[=====>   ]     512B/2.048kB","id":"bbbb00000002"}
{"status":"Extracting","progressDetail":{"current":4194304,"total":4194304},"id":"aaaa00000001"}
{"status":"Pull complete","progressDetail":{},"id":"aaaa00000001"}
{"status":"Download complete","progressDetail":{},"id":"bbbb00000002"}
{"status":"Pull complete","progressDetail":{},"id":"bbbb00000002"}
{"status":"Digest: sha256:0123456789abcdef"}
{"status":"Status: Downloaded newer image for redis:7-alpine"}
`

// stepClock is a clock that moves by step each time it is read.
type stepClock struct {
	t    time.Time
	step time.Duration
}

func (c *stepClock) now() time.Time {
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// Every change of the pull is reported when the throttle allows it, with
// layers, bytes and an estimate; statuses about no layer are not changes.
func TestReadPullStream_ReportsEachChange(t *testing.T) {
	clock := &stepClock{t: time.Unix(1000, 0), step: time.Second}
	var got []string
	if err := readPullStream(strings.NewReader(pullStream), 0, clock.now, func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Pulled 0/1 (0B/0B) layers: 1 waiting/0 pulling",
		"Pulled 0/2 (0B/0B) layers: 2 waiting/0 pulling",
		// 1 MiB of 4 after 5s: 15s to go.
		"Pulled 0/2 (1MiB/4MiB) layers: 1 waiting/1 pulling - est 15.0s remaining",
		"Pulled 0/2 (2MiB/4MiB) layers: 1 waiting/1 pulling - est 6.0s remaining",
		"Pulled 1/2 (4MiB/4MiB) layers: 1 waiting/0 pulling",
		"Pulled 1/2 (4MiB/4.002MiB) layers: 0 waiting/1 pulling - est 0.0s remaining",
		"Pulled 2/2 (4.002MiB/4.002MiB) layers: 0 waiting/0 pulling",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The throttle: nothing before the interval has passed, then at most one
// report per interval, and only when something changed.
func TestReadPullStream_Throttled(t *testing.T) {
	// Each message reads the clock once; 700ms per message, a report at
	// most every 2s.
	clock := &stepClock{t: time.Unix(1000, 0), step: 700 * time.Millisecond}
	var got []string
	if err := readPullStream(strings.NewReader(pullStream), 2*time.Second, clock.now, func(s string) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Pulled 0/2 (0B/0B) layers: 2 waiting/0 pulling",
		"Pulled 0/2 (2MiB/4MiB) layers: 1 waiting/1 pulling - est 4.2s remaining",
		"Pulled 1/2 (4MiB/4.002MiB) layers: 0 waiting/1 pulling - est 0.0s remaining",
		"Pulled 2/2 (4.002MiB/4.002MiB) layers: 0 waiting/0 pulling",
	}
	if !slices.Equal(got, want) {
		t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A pull that ends before the interval reports nothing.
	clock = &stepClock{t: time.Unix(1000, 0), step: time.Millisecond}
	got = nil
	if err := readPullStream(strings.NewReader(pullStream), 2*time.Second, clock.now, func(s string) { got = append(got, s) }); err != nil || len(got) != 0 {
		t.Errorf("quick pull: %v %q", err, got)
	}
}

// A failure in the stream ends the pull with its message; a stream that
// is not JSON says so.
func TestReadPullStream_Errors(t *testing.T) {
	clock := &stepClock{t: time.Unix(1000, 0), step: time.Second}
	for _, tc := range []struct{ name, stream, want string }{
		{"errorDetail", `{"status":"Pulling fs layer","id":"a"}` + "\n" + `{"errorDetail":{"message":"manifest for redis:9 not found"},"error":"other"}`, "manifest for redis:9 not found"},
		{"error only", `{"error":"toomanyrequests"}`, "toomanyrequests"},
		{"not json", `<html>`, "read pull progress: invalid character '<' looking for beginning of value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readPullStream(strings.NewReader(tc.stream), 0, clock.now, nil)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 512: "512B", 1536: "1.5KiB", 13107200: "12.5MiB", 1 << 40: "1TiB", 1291845632: "1.203GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %s, want %s", n, got, want)
		}
	}
}

// fakeEngine is a Docker Engine API that knows no image and answers a
// pull with the recorded progress stream, one message at a time; creating
// a container fails, which ends StartTask right after the pull.
func fakeEngine(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.47")
		w.Write([]byte("OK"))
	})
	var mu sync.Mutex
	pulled := false
	mux.HandleFunc("/v1.47/images/{name...}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		name := r.PathValue("name")
		switch {
		case r.Method == http.MethodPost && name == "create":
			if got := r.URL.Query().Get("fromImage"); got != "docker.io/library/redis" || r.URL.Query().Get("tag") != "7-alpine" {
				http.Error(w, `{"message":"unexpected image `+got+`"}`, http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			for _, line := range strings.SplitAfter(pullStream, "\n") {
				w.Write([]byte(line))
				w.(http.Flusher).Flush()
			}
			pulled = true
		case r.Method == http.MethodGet && name == "redis:7-alpine/json" && pulled:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"Id":"sha256:feedface"}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"No such image: %s"}`, name)
		}
	})
	mux.HandleFunc("/v1.47/containers/create", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"message":"no containers in this fake engine"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Through the driver, against a fake engine: the pull's progress reaches
// the task's events as progress reports in the compatible words, after
// "Downloading image".
func TestStartTask_PullProgressEvents(t *testing.T) {
	srv := fakeEngine(t)
	t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(srv.URL, "http://"))
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
	old := pullProgressEvery
	pullProgressEvery = 0
	t.Cleanup(func() { pullProgressEvery = old })

	d := newDriver(t)
	cfg := &drivers.TaskConfig{ID: "a1/redis", AllocID: "a1", TaskName: "redis",
		Config: map[string]interface{}{"image": "redis:7-alpine"}}
	var mu sync.Mutex
	var events []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := d.StartTask(ctx, cfg, func(kind, msg string) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, kind+": "+msg)
	})
	if err == nil || !strings.Contains(err.Error(), "no containers in this fake engine") {
		t.Fatalf("StartTask: %v (want the fake engine's create error)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) < 3 || events[0] != "Driver: Downloading image redis:7-alpine" {
		t.Fatalf("events: %q", events)
	}
	for _, e := range events[1:] {
		if !strings.HasPrefix(e, drivers.EventProgress+": Docker image pull progress: Pulled ") {
			t.Errorf("not a progress event: %q", e)
		}
	}
	if last := events[len(events)-1]; last != drivers.EventProgress+": Docker image pull progress: Pulled 2/2 (4.002MiB/4.002MiB) layers: 0 waiting/0 pulling" {
		t.Errorf("last event: %q", last)
	}
}
