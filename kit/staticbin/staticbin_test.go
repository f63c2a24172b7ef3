package staticbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "static")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module static\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := Check(bin, ""); err != nil {
		t.Errorf("static binary refused: %v", err)
	}
	if err := Check(bin, "amd64"); err != nil {
		t.Errorf("static amd64 binary refused for amd64: %v", err)
	}
	if err := Check(bin, "arm64"); err == nil || !strings.Contains(err.Error(), "built for amd64") || !strings.Contains(err.Error(), "GOARCH=arm64") {
		t.Errorf("amd64 binary for an arm64 engine: %v", err)
	}

	text := filepath.Join(dir, "main.go")
	if err := Check(text, ""); err == nil || !strings.Contains(err.Error(), "not a Linux binary") {
		t.Errorf("text file: %v", err)
	}

	if runtime.GOOS == "linux" {
		if sh, err := exec.LookPath("sh"); err == nil {
			sh, _ = filepath.EvalSymlinks(sh)
			if err := Check(sh, ""); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
				t.Errorf("%s (dynamically linked on every distribution we know): %v", sh, err)
			}
		}
	}
}
