package cli

import (
	"strings"
	"testing"
	"time"
)

// `system gc` forgets a stopped job at once, whatever the thresholds, and
// prints nothing.
func TestSystemGC(t *testing.T) {
	addr, client := devAgent(t)
	clusterRegister(t, client, clusterMockJob("", ""))
	clusterRunningAlloc(t, client, "example")
	if code, out, errOut := runCLI(t, addr, "job", "stop", "-detach", "example"); code != 0 {
		t.Fatalf("job stop: %d %s %s", code, out, errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, out, errOut := runCLI(t, addr, "system", "gc")
		if code != 0 || out != "" || errOut != "" {
			t.Fatalf("system gc: exit %d, %q, %q", code, out, errOut)
		}
		if _, _, err := client.Jobs().Info("example", nil); err != nil && strings.Contains(err.Error(), "404") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped job is still there after system gc")
		}
		time.Sleep(200 * time.Millisecond) // its allocation must finish stopping first
	}
}
