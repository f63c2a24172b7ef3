package structs

import (
	"strings"
	"testing"
)

// Names reach the state only printable: invalid UTF-8 (possible through
// the msgpack RPC, which does not repair strings as JSON does) and control
// characters are refused by name.
func TestNamesMustBePrintable(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"bad\xff\xfeid", "ID: Job ID is not valid UTF-8"},
		{"evil\nJob registered", "ID: Job ID contains a control character"},
		{"evil\x1b[2J", "ID: Job ID contains a control character"},
		{strings.Repeat("a", 129), "ID: Job ID is 129 bytes long; the limit is 128"},
	} {
		job := &Job{ID: tc.id, Name: "n", Type: JobTypeService, Priority: 50, Datacenters: []string{"dc1"},
			TaskGroups: []*TaskGroup{{Name: "g", Count: 1, Tasks: []*Task{{Name: "t", Driver: "mock"}}}}}
		job.Canonicalize()
		if err := job.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ID %q: %v, want %q", tc.id, err, tc.want)
		}
	}
}
