package httpapi

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// /v1/validate/job answers as the compatible API: a valid job has no
// validation errors, an invalid one lists them; nothing is registered.
func TestValidateJob(t *testing.T) {
	a := newTestAgent(t)
	resp, _, err := a.client.Jobs().Validate(smallJob("ok", 1), nil)
	if err != nil || len(resp.ValidationErrors) != 0 || resp.Error != "" || !resp.DriverConfigValidated {
		t.Fatalf("valid job: %+v %v", resp, err)
	}
	bad := smallJob("bad", 1)
	bad.TaskGroups[0].Count = ptr(-1)
	resp, _, err = a.client.Jobs().Validate(bad, nil)
	if err != nil || len(resp.ValidationErrors) == 0 || !strings.Contains(resp.Error, "Task group count can't be negative") {
		t.Fatalf("invalid job: %+v %v", resp, err)
	}
	if jobs, _, _ := a.client.Jobs().List(nil); len(jobs) != 0 {
		t.Fatalf("validation registered %d jobs", len(jobs))
	}
}

func TestAgentHealth(t *testing.T) {
	a := newTestAgent(t)
	res, err := http.Get(a.client.Address() + "/v1/agent/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"server":{"ok":true,"message":"ok"}`) {
		t.Fatalf("health: %d %s", res.StatusCode, body)
	}
}

// ?wait= is clamped to [0, 10m]: a negative wait does not block.
func TestNegativeWaitDoesNotBlock(t *testing.T) {
	a := newTestAgent(t)
	_, meta, err := a.client.Jobs().List(nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := http.Get(a.client.Address() + "/v1/jobs?index=" + strconv.FormatUint(meta.LastIndex, 10) + "&wait=-5s")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if took := time.Since(start); res.StatusCode != 200 || took > 2*time.Second {
		t.Fatalf("wait=-5s: status %d after %s", res.StatusCode, took)
	}
}
