package drivers

import (
	"strings"
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]string{"SIGHUP": "SIGHUP", "hup": "SIGHUP", " sigusr1 ": "SIGUSR1", "KILL": "SIGKILL"} {
		name, _, err := ParseSignal(in)
		if err != nil || name != want {
			t.Errorf("ParseSignal(%q) = %q, %v; want %q", in, name, err, want)
		}
	}
	if _, n, _ := ParseSignal("SIGKILL"); n != syscall.SIGKILL {
		t.Errorf("SIGKILL is %d", n)
	}
	for _, bad := range []string{"", "SIG", "9", "SIGFOO", "SIGKILLX"} {
		if _, _, err := ParseSignal(bad); err == nil || !strings.Contains(err.Error(), "unknown signal") {
			t.Errorf("ParseSignal(%q) = %v, want an error", bad, err)
		}
	}
	if names := SignalNames(); len(names) < 20 || names[0] != "SIGABRT" {
		t.Errorf("names: %v", names)
	}
}
