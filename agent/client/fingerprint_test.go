package client

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestOSRelease: os.name and os.version are the distribution's, as the
// compatible client fingerprints them, and the kernel's name without
// an os-release file.
func TestOSRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "os-release")
	os.WriteFile(path, []byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n"), 0o644)
	if name, version := osRelease(path); name != "debian" || version != "12" {
		t.Fatalf("got %q %q", name, version)
	}
	if name, version := osRelease(filepath.Join(t.TempDir(), "none")); name != runtime.GOOS || version != "" {
		t.Fatalf("without the file: %q %q", name, version)
	}
}
