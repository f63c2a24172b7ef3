package agent

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUI_ServedAndLiveRequestsEndOnShutdown: a server agent serves the
// web UI at /ui and sends a browser at its root there; a live request
// (an open browser tab) waiting for a change is answered when the agent
// stops, so the HTTP server's graceful shutdown does not wait for it
// (it would give up after its 5 s bound with an error).
func TestUI_ServedAndLiveRequestsEndOnShutdown(t *testing.T) {
	a := startAgent(t, "uiserver", `server {
  enabled          = true
  bootstrap_expect = 1
}`)
	base := "http://" + a.HTTPAddr()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d to %q, want 307 to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = http.Get(base + "/ui/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	index := resp.Header.Get("X-Nomad-Index")
	if resp.StatusCode != http.StatusOK || index == "" {
		t.Fatalf("GET /ui/jobs: %d, index %q", resp.StatusCode, index)
	}

	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/ui/jobs?live=1&index=" + index)
		if err != nil {
			answered <- -1
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	select {
	case code := <-answered:
		t.Fatalf("the live request was answered (%d) before any change", code)
	case <-time.After(500 * time.Millisecond):
	}
	if err := a.Shutdown(); err != nil && !strings.Contains(err.Error(), "closed") {
		t.Errorf("shutdown with a live request waiting: %v", err)
	}
	select {
	case code := <-answered:
		if code != http.StatusOK {
			t.Errorf("the live request ended with %d, want an answer", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the live request still waits after shutdown")
	}
}
