package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestPlanExplainNamesIgnoredAllocations: the agent records a group's
// ignored allocations as one decision without their IDs; -explain still
// prints a row per allocation with the ID of the live allocation of that
// name.
func TestPlanExplainNamesIgnoredAllocations(t *testing.T) {
	addr, client := devAgent(t)
	file := filepath.Join(t.TempDir(), "example.nomad")
	if err := os.WriteFile(file, []byte(tutorialJob(3, "one")), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, addr, "job", "run", file); code != 0 {
		t.Fatalf("job run: %d\n%s%s", code, out, errOut)
	}
	waitUntil(t, 30*time.Second, "first deployment successful", func() bool {
		d, _, err := client.Jobs().LatestDeployment("example", nil)
		return err == nil && d != nil && d.Status == "successful"
	})
	allocs, _, err := client.Jobs().Allocations("example", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]string{}
	for _, a := range allocs {
		if a.DesiredStatus == "run" {
			live[a.Name] = a.ID[:8]
		}
	}
	if err := os.WriteFile(file, []byte(tutorialJob(3, "two")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runCLI(t, addr, "job", "plan", "-explain", file)
	if code != 1 {
		t.Fatalf("plan exit %d, want 1\n%s", code, out)
	}
	row := regexp.MustCompile(`(?m)^(example\.cache\[\d\])\s+(\S+)\s+ignore\s`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 {
		t.Fatalf("want 2 ignore rows (max_parallel 1 of 3):\n%s", out)
	}
	for _, r := range rows {
		if live[r[1]] == "" || r[2] != live[r[1]] {
			t.Errorf("%s shows alloc %s, live allocation is %q\n%s", r[1], r[2], live[r[1]], out)
		}
	}
}
