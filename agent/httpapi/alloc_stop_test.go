package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAllocStop: PUT /v1/allocation/<id>/stop marks the allocation to
// migrate with an alloc-stop evaluation and answers {EvalID, Index}; the
// scheduler replaces it under its name. Bad input is refused and changes
// nothing.
func TestAllocStop(t *testing.T) {
	t.Parallel()
	a := newTestAgent(t)
	a.addNode(t, "", "node1")
	resp, _, err := a.client.Jobs().Register(smallJob("stopper", 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	a.waitEvalDone(t, resp.EvalID)
	stubs, _, err := a.client.Jobs().Allocations("stopper", false, nil)
	if err != nil || len(stubs) != 2 {
		t.Fatalf("allocations: %d %v", len(stubs), err)
	}
	target := stubs[0]
	_, _, beforeHdr := a.do(t, http.MethodGet, "/v1/allocations", "")

	// Bad input: nothing changes.
	for _, c := range []struct {
		method, path string
		code         int
		body         string
	}{
		{http.MethodPut, "/v1/allocation/" + strings.Repeat("f", 36) + "/stop", 404, "allocation not found"},
		{http.MethodPut, "/v1/allocation/" + target.ID + "/stop?no_shutdown_delay=maybe", 400, `no_shutdown_delay value is not a boolean: "maybe"`},
		{http.MethodGet, "/v1/allocation/" + target.ID + "/stop", 405, "Invalid method"},
		{http.MethodDelete, "/v1/allocation/" + target.ID + "/stop", 405, "Invalid method"},
	} {
		code, body, _ := a.do(t, c.method, c.path, "")
		if code != c.code || body != c.body {
			t.Errorf("%s %s = %d %q, want %d %q", c.method, c.path, code, body, c.code, c.body)
		}
	}
	_, _, afterHdr := a.do(t, http.MethodGet, "/v1/allocations", "")
	if beforeHdr.Get("X-Nomad-Index") != afterHdr.Get("X-Nomad-Index") {
		t.Fatalf("refused stops changed the allocations: index %s -> %s", beforeHdr.Get("X-Nomad-Index"), afterHdr.Get("X-Nomad-Index"))
	}

	// A stop by prefix, with no_shutdown_delay, through the raw API.
	code, body, hdr := a.do(t, http.MethodPut, "/v1/allocation/"+target.ID[:8]+"/stop?no_shutdown_delay=true", "")
	if code != 200 {
		t.Fatalf("stop: %d %s", code, body)
	}
	var out struct {
		EvalID string
		Index  uint64
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.EvalID == "" || out.Index == 0 ||
		hdr.Get("X-Nomad-Index") != fmt.Sprint(out.Index) {
		t.Fatalf("stop answer %s (%v), index header %q", body, err, hdr.Get("X-Nomad-Index"))
	}
	eval := a.waitEvalDone(t, out.EvalID)
	if eval.TriggeredBy != "alloc-stop" || eval.JobID != "stopper" || eval.Status != "complete" {
		t.Fatalf("evaluation: %+v", eval)
	}
	old, _, err := a.client.Allocations().Info(target.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if old.DesiredStatus != "stop" || old.DesiredDescription != "alloc is being migrated" ||
		old.DesiredTransition.Migrate == nil || !*old.DesiredTransition.Migrate ||
		old.DesiredTransition.NoShutdownDelay == nil || !*old.DesiredTransition.NoShutdownDelay {
		t.Fatalf("stopped allocation: %s %q %+v", old.DesiredStatus, old.DesiredDescription, old.DesiredTransition)
	}
	waitFor(t, 10*time.Second, func() (bool, string) {
		stubs, _, err := a.client.Jobs().Allocations("stopper", true, nil)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range stubs {
			if s.ID != target.ID && s.Name == target.Name && s.DesiredStatus == "run" {
				full, _, err := a.client.Allocations().Info(s.ID, nil)
				return err == nil && full.PreviousAllocation == target.ID, fmt.Sprint(err)
			}
		}
		return false, fmt.Sprintf("%d allocations", len(stubs))
	})
	// The official client reads the answer too.
	other := stubs[1]
	full, _, err := a.client.Allocations().Info(other.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := a.client.Allocations().Stop(full, nil)
	if err != nil || sr.EvalID == "" || sr.LastIndex == 0 {
		t.Fatalf("official client stop: %+v %v", sr, err)
	}
}
