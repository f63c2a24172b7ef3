package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"runtime"
	"testing"
)

// FuzzJobRegisterBody feeds arbitrary bodies to the job registration
// decoder, then canonicalizes and validates what decodes, as a
// registration does before anything is stored. It must never panic, and
// no body may make it allocate more than a bound: CI runs it briefly.
func FuzzJobRegisterBody(f *testing.F) {
	seed, _ := json.Marshal(map[string]interface{}{"Job": smallJob("seed", 2)})
	f.Add(seed)
	f.Add([]byte(`{"Job":{"ID":"a","TaskGroups":[{"Name":"g","Count":1000000000}]}}`))
	f.Add([]byte(`{"Job":{"ID":"a\u001b[2J","Meta":{"k":"v"}}}`))
	f.Add([]byte(`{"Job":{"ID":"a","TaskGroups":[{"Tasks":[{"Config":{"a":{"b":{"c":[[[[1]]]]}}}}]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := httptest.NewRequest("PUT", "/v1/jobs", bytes.NewReader(body))
		var req jobRegisterRequest
		if err := decodeBody(r, &req); err == nil && req.Job != nil {
			job := req.Job.Copy()
			job.Canonicalize()
			_ = job.Validate()
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 256<<20 {
			t.Fatalf("a body of %d bytes allocated %d MiB", len(body), n>>20)
		}
	})
}
