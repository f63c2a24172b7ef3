package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `job validate` applies the job limits, with the line of the offending
// field: a count of a billion is not "Job validation successful".
func TestJobValidateRefusesAHugeCount(t *testing.T) {
	file := filepath.Join(t.TempDir(), "big.nomad")
	src := "job \"big\" {\n  datacenters = [\"dc1\"]\n  group \"g\" {\n    count = 1000000000\n    task \"t\" {\n      driver = \"docker\"\n      config {\n        image = \"redis:3.2\"\n      }\n    }\n  }\n}\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "http://127.0.0.1:1", "job", "validate", file)
	if code != 1 || strings.Contains(out, "successful") ||
		!strings.Contains(errOut, file+":4,13-23: Invalid job; Task group count 1000000000 exceeds the limit of 10000 allocations per group") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}
