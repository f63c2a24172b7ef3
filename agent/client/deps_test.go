package client

import (
	"os/exec"
	"strings"
	"testing"
)

// The client never links the server: not its raft FSM, its state store
// or its scheduler. Shared RPC messages live in agent/wire.
func TestClientDoesNotLinkTheServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "drover/agent/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch dep {
		case "drover/agent/server", "drover/agent/state", "drover/agent/scheduler":
			t.Errorf("agent/client depends on %s", dep)
		}
	}
}
