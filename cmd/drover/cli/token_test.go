package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestTokenIsSent: NOMAD_TOKEN, or -token over it, reaches the agent as
// the X-Nomad-Token header, as the compatible CLI sends it.
func TestTokenIsSent(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Nomad-Token"))
		mu.Unlock()
		w.Header().Set("X-Nomad-Index", "1")
		w.Write([]byte("[]"))
	}))
	defer srv.Close()
	run := func(env []string, args ...string) string {
		t.Helper()
		mu.Lock()
		seen = nil
		mu.Unlock()
		var out, errOut bytes.Buffer
		if code := MainContext(context.Background(), args, &out, &errOut, append(env, noHints)); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errOut.String())
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			t.Fatalf("%v sent no request", args)
		}
		for _, tok := range seen[1:] {
			if tok != seen[0] {
				t.Fatalf("%v sent different tokens: %q", args, seen)
			}
		}
		return seen[0]
	}
	if got := run([]string{"NOMAD_ADDR=" + srv.URL, "NOMAD_TOKEN=sekrit"}, "job", "status"); got != "sekrit" {
		t.Errorf("NOMAD_TOKEN: sent %q", got)
	}
	if got := run([]string{"NOMAD_ADDR=" + srv.URL, "NOMAD_TOKEN=sekrit"}, "job", "status", "-token", "other"); got != "other" {
		t.Errorf("-token over NOMAD_TOKEN: sent %q", got)
	}
	if got := run([]string{"NOMAD_ADDR=" + srv.URL}, "job", "status"); got != "" {
		t.Errorf("no token: sent %q", got)
	}
}
