package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runMonitorCLI runs "drover monitor args..." in-process against addr
// until ctx ends or the stream does; it returns the exit code on done.
func runMonitorCLI(ctx context.Context, addr string, out, errOut *syncBuffer, args ...string) <-chan int {
	done := make(chan int, 1)
	go func() {
		done <- MainContext(ctx, append([]string{"monitor"}, args...), out, errOut, []string{"DROVER_ADDR=" + addr, noHints})
	}()
	return done
}

func waitOutput(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Ctrl-C (the context's end) stops the monitor at once, with exit 0;
// the stream is printed as it comes.
func TestMonitor_InterruptStopsCleanly(t *testing.T) {
	addr, _ := devAgent(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := runMonitorCLI(ctx, addr, out, errOut, "-log-level", "debug")
	waitOutput(t, out, "[INFO] http: log monitor attached (level DEBUG)")
	// A second monitor's attach is a line the first one prints.
	out2, errOut2 := &syncBuffer{}, &syncBuffer{}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := runMonitorCLI(ctx2, addr, out2, errOut2, "-log-level", "error")
	waitOutput(t, out, "[INFO] http: log monitor attached (level ERROR)")
	cancel2()
	waitOutput(t, out, "[INFO] http: log monitor detached (level ERROR)")
	if code := <-done2; code != 0 || out2.String() != "" || errOut2.String() != "" {
		t.Errorf("the ERROR monitor: exit %d, out %q, err %q", code, out2.String(), errOut2.String())
	}

	start := time.Now()
	cancel()
	select {
	case code := <-done:
		if code != 0 || errOut.String() != "" {
			t.Errorf("after Ctrl-C: exit %d, stderr %q", code, errOut.String())
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Ctrl-C took %v to stop the monitor", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor does not stop on Ctrl-C")
	}
}

// When the agent stops, its stream ends, and so does the monitor, with
// exit 0.
func TestMonitor_EndsWithTheAgent(t *testing.T) {
	dir := t.TempDir()
	ports := filepath.Join(dir, "ports.hcl")
	os.WriteFile(ports, []byte(fmt.Sprintf("ports {\n  http = %d\n  rpc = %d\n  serf = %d\n}\n",
		freePort(t), freePort(t), freePort(t))), 0o644)
	_, client, stop := startAgent(t, "agent", "-dev", "-config", ports)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := runMonitorCLI(context.Background(), client.Address(), out, errOut)
	waitOutput(t, out, "[INFO] http: log monitor attached (level INFO)")
	if code := stop(); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	select {
	case code := <-done:
		if code != 0 || errOut.String() != "" {
			t.Errorf("monitor after the agent stopped: exit %d, stderr %q", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the monitor outlives its agent")
	}
}
