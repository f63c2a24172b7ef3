package labs

import (
	"strings"
	"testing"
)

func TestNormalizeIsConsistent(t *testing.T) {
	in := `==> Monitoring evaluation "3f8a1c2e"
    Allocation "78535854" created: node "d1e2f3a4", group "cache"
ID                  = 78535854-1111-2222-3333-444455556666
Submit Date   = 2026-12-03T08:33:10Z
Started At     = 2026-12-03T08:33:10.123456Z
Created  = 9s ago   Modified = 1m3s ago
0/500 MHz  7.5 MiB/256 MiB  300 MiB  db: 127.0.0.1:23456
Job Modify Index: 42
drover job run -check-index 42 example.nomad
$ drover alloc logs 78535854 redis
Placement Failures = false
count = 3`
	got := NewNormalizer().Normalize(in)
	for _, want := range []string{
		`Monitoring evaluation "<id-1>"`,
		// An all-digit short ID is an ID; the same ID, short or full, gets
		// the same placeholder.
		`Allocation "<id-2>" created: node "<id-3>"`,
		"ID = <id-2-full>",
		"Submit Date = <time>",
		"Started At = <time>",
		"Created = <ago> Modified = <ago>",
		"<used>/500 MHz <used>/256 MiB 300 MiB db: 127.0.0.1:<port>",
		"Job Modify Index: <index>",
		"-check-index <index> example.nomad",
		"alloc logs <id-2> redis",
		"count = 3",
	} {
		if !strings.Contains(strings.Join(strings.Fields(got), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("normalised text has no %q:\n%s", want, got)
		}
	}
	// Two runs with different IDs and times normalise to the same text.
	other := strings.NewReplacer("3f8a1c2e", "0badcafe", "78535854", "aaaabbbb", "d1e2f3a4", "99998888",
		"08:33:10", "09:01:02", "9s ago", "10s ago", "23456", "31000", "42", "57", "7.5 MiB", "12 MiB").Replace(in)
	if a, b := NewNormalizer().Normalize(in), NewNormalizer().Normalize(other); a != b {
		t.Errorf("two runs normalise differently:\n%s\n----\n%s", a, b)
	}
}
