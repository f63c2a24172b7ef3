package logrotate

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustFiles(t *testing.T, dir, base string) []string {
	t.Helper()
	files, err := Files(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func names(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func sizes(t *testing.T, paths []string) []int64 {
	t.Helper()
	out := make([]int64, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = fi.Size()
	}
	return out
}

func concat(t *testing.T, paths []string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

func TestWriter_RotationSizesAndCounts(t *testing.T) {
	cases := []struct {
		name      string
		writes    []string
		maxFiles  int
		maxBytes  int64
		wantNames []string
		wantSizes []int64
		wantText  string
	}{
		{
			name:      "fits in one file",
			writes:    []string{"abc", "def"},
			maxFiles:  3,
			maxBytes:  10,
			wantNames: []string{"t.stdout.0"},
			wantSizes: []int64{6},
			wantText:  "abcdef",
		},
		{
			name:      "exactly full does not rotate yet",
			writes:    []string{"01234", "56789"},
			maxFiles:  3,
			maxBytes:  10,
			wantNames: []string{"t.stdout.0"},
			wantSizes: []int64{10},
			wantText:  "0123456789",
		},
		{
			name:      "a write that would exceed is split",
			writes:    []string{"0123456", "789abc"},
			maxFiles:  3,
			maxBytes:  10,
			wantNames: []string{"t.stdout.0", "t.stdout.1"},
			wantSizes: []int64{10, 3},
			wantText:  "0123456789abc",
		},
		{
			name:      "one large write spans files and is pruned",
			writes:    []string{strings.Repeat("x", 45)},
			maxFiles:  3,
			maxBytes:  10,
			wantNames: []string{"t.stdout.2", "t.stdout.3", "t.stdout.4"},
			wantSizes: []int64{10, 10, 5},
			wantText:  strings.Repeat("x", 25),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := NewWriter(dir, "t.stdout", tc.maxFiles, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files := mustFiles(t, dir, "t.stdout")
			if got := names(files); fmt.Sprint(got) != fmt.Sprint(tc.wantNames) {
				t.Fatalf("files = %v, want %v", got, tc.wantNames)
			}
			if got := sizes(t, files); fmt.Sprint(got) != fmt.Sprint(tc.wantSizes) {
				t.Fatalf("sizes = %v, want %v", got, tc.wantSizes)
			}
			if got := concat(t, files); got != tc.wantText {
				t.Fatalf("content = %q, want %q", got, tc.wantText)
			}
		})
	}
}

func TestWriter_ResumeAfterReopen(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, "r.stderr", 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("aaaaaaaabbb")) // .0 full, .1 holds "bbb"
	w.Close()
	if _, err := w.Write([]byte("x")); err != ErrClosed {
		t.Fatalf("write after close: %v, want ErrClosed", err)
	}

	w2, err := NewWriter(dir, "r.stderr", 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	w2.Write([]byte("cccccdd")) // appends to .1 ("bbbccccc"), then .2 "dd"
	w2.Close()

	files := mustFiles(t, dir, "r.stderr")
	if got, want := fmt.Sprint(names(files)), "[r.stderr.0 r.stderr.1 r.stderr.2]"; got != want {
		t.Fatalf("files = %s, want %s", got, want)
	}
	if got, want := concat(t, files), "aaaaaaaabbbcccccdd"; got != want {
		t.Fatalf("content = %q, want %q", got, want)
	}
}

func TestWriter_ResumeOversizedFileRotatesFirst(t *testing.T) {
	dir := t.TempDir()
	// A file larger than the limit, e.g. left by a copy-truncate writer or
	// an earlier, larger limit.
	os.WriteFile(filepath.Join(dir, "o.stdout.4"), []byte("0123456789"), 0o644)
	w, err := NewWriter(dir, "o.stdout", 5, 4)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("ab"))
	w.Close()
	if got, want := fmt.Sprint(names(mustFiles(t, dir, "o.stdout"))), "[o.stdout.4 o.stdout.5]"; got != want {
		t.Fatalf("files = %s, want %s", got, want)
	}
}

func TestFiles_OrderingAndFiltering(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"web.stdout.10", "web.stdout.2", "web.stdout.9", // numeric, not lexical, order
		"web.stderr.0",                 // other stream
		"web.stdout.stdout.0",          // a task named "web.stdout"
		"web.stdout.",                  // no index
		"web.stdout.1x",                // not an index
		".web.stdout.rotating",         // temporary
		"web.stdout.-1",                // not an index
		"unrelated", "web.stdout.3.gz", // others
	} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "web.stdout.7"), 0o755) // directories are not logs

	got := names(mustFiles(t, dir, "web.stdout"))
	if want := "[web.stdout.2 web.stdout.9 web.stdout.10]"; fmt.Sprint(got) != want {
		t.Fatalf("Files = %v, want %s", got, want)
	}
	cur, err := CurrentFile(dir, "web.stdout")
	if err != nil || filepath.Base(cur) != "web.stdout.10" {
		t.Fatalf("CurrentFile = %q, %v", cur, err)
	}
	if _, err := Files(filepath.Join(dir, "missing"), "web.stdout"); err == nil {
		t.Fatal("Files of a missing dir: no error")
	}
}

func TestWriter_MaxFilesPruning(t *testing.T) {
	dir := t.TempDir()
	w, err := NewWriter(dir, "p.stdout", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 10; i++ {
		w.Write([]byte(fmt.Sprintf("%03d", i)))
		files := mustFiles(t, dir, "p.stdout")
		if len(files) > 2 {
			t.Fatalf("after write %d: %d files, want at most 2", i, len(files))
		}
	}
	files := mustFiles(t, dir, "p.stdout")
	if got, want := concat(t, files), "008009"; got != want {
		t.Fatalf("content = %q, want %q", got, want)
	}
	if got, want := fmt.Sprint(names(files)), "[p.stdout.8 p.stdout.9]"; got != want {
		t.Fatalf("files = %s, want %s", got, want)
	}
}

func TestWriter_ConcurrentWrites(t *testing.T) {
	dir := t.TempDir()
	const writers, lines = 8, 200
	w, err := NewWriter(dir, "c.stdout", 1000, 256)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				if _, err := fmt.Fprintf(w, "writer %d line %03d\n", g, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	w.Close()

	files := mustFiles(t, dir, "c.stdout")
	for i, s := range sizes(t, files) {
		if s > 256 {
			t.Fatalf("file %d has %d bytes, more than 256", i, s)
		}
	}
	// Writes are serialised, so the concatenation holds every line whole.
	got := strings.Split(strings.TrimSuffix(concat(t, files), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	seen := map[string]bool{}
	for _, l := range got {
		seen[l] = true
	}
	for g := 0; g < writers; g++ {
		for i := 0; i < lines; i++ {
			if l := fmt.Sprintf("writer %d line %03d", g, i); !seen[l] {
				t.Fatalf("line %q missing or torn", l)
			}
		}
	}
}

func TestCurrentFile_CreatesIndexZero(t *testing.T) {
	dir := t.TempDir()
	p, err := CurrentFile(dir, "n.stdout")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "n.stdout.0" {
		t.Fatalf("CurrentFile = %s", p)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	// Idempotent: asking again does not start a new file.
	if p2, _ := CurrentFile(dir, "n.stdout"); p2 != p {
		t.Fatalf("second CurrentFile = %s, want %s", p2, p)
	}
}

func TestRotateIfNeeded_InProcess(t *testing.T) {
	dir := t.TempDir()
	cur, _ := CurrentFile(dir, "s.stdout")
	f, err := os.OpenFile(cur, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	f.WriteString("12345")
	if err := RotateIfNeeded(dir, "s.stdout", 3, 5); err != nil {
		t.Fatal(err)
	}
	if got := len(mustFiles(t, dir, "s.stdout")); got != 1 {
		t.Fatalf("at the limit: %d files, want 1 (rotate only beyond it)", got)
	}

	f.WriteString("6789")
	if err := RotateIfNeeded(dir, "s.stdout", 3, 5); err != nil {
		t.Fatal(err)
	}
	f.WriteString("ab") // through the same descriptor, after the truncate
	files := mustFiles(t, dir, "s.stdout")
	if got, want := fmt.Sprint(names(files)), "[s.stdout.0 s.stdout.1]"; got != want {
		t.Fatalf("files = %s, want %s", got, want)
	}
	if got, want := concat(t, files), "123456789ab"; got != want {
		t.Fatalf("content = %q, want %q", got, want)
	}
	// The descriptor now writes to the newest index.
	fi, _ := f.Stat()
	li, _ := os.Stat(files[1])
	if !os.SameFile(fi, li) {
		t.Fatal("the writer's inode is not the newest file")
	}

	for _, s := range []string{"cdefgh", "ijklmn", "opqrst"} {
		f.WriteString(s)
		if err := RotateIfNeeded(dir, "s.stdout", 3, 5); err != nil {
			t.Fatal(err)
		}
	}
	files = mustFiles(t, dir, "s.stdout")
	if got, want := fmt.Sprint(names(files)), "[s.stdout.2 s.stdout.3 s.stdout.4]"; got != want {
		t.Fatalf("after pruning files = %s, want %s", got, want)
	}
	// The live file is empty right after its rotation; "ab..." was pruned.
	if got, want := concat(t, files), "ijklmnopqrst"; got != want {
		t.Fatalf("content = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, ".s.stdout.rotating")); err == nil {
		t.Fatal("temporary file left behind")
	}
}

func TestRotateIfNeeded_NoFilesIsNoop(t *testing.T) {
	dir := t.TempDir()
	if err := RotateIfNeeded(dir, "x.stdout", 2, 1); err != nil {
		t.Fatal(err)
	}
	if len(mustFiles(t, dir, "x.stdout")) != 0 {
		t.Fatal("RotateIfNeeded created a file")
	}
}

// A separate process appends to the current file as fast as it can; it
// must keep writing into the newest file across rotations, never noticing.
func TestRotateIfNeeded_SeparateProcessKeepsWriting(t *testing.T) {
	dir := t.TempDir()
	const base, maxFiles, maxBytes = "w.stdout", 3, 64 << 10
	cur, err := CurrentFile(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", `while :; do echo line; done >> "$0"`, cur)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	})
	liveFD := fmt.Sprintf("/proc/%d/fd/1", cmd.Process.Pid)
	waitFor(t, "the writer to open the file", 5*time.Second, func() bool {
		fi, err := os.Stat(liveFD)
		return err == nil && fi.Size() > 0
	})

	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return -1
		}
		return fi.Size()
	}
	rotations := 0
	for rotations < 5 {
		waitFor(t, "the file to exceed the limit", 10*time.Second, func() bool {
			files := mustFiles(t, dir, base)
			return size(files[len(files)-1]) > maxBytes
		})
		if err := RotateIfNeeded(dir, base, maxFiles, maxBytes); err != nil {
			t.Fatal(err)
		}
		rotations++
		files := mustFiles(t, dir, base)
		newest := files[len(files)-1]
		if want := fmt.Sprintf("%s.%d", base, rotations); filepath.Base(newest) != want {
			t.Fatalf("newest file = %s, want %s", filepath.Base(newest), want)
		}
		// The writer's descriptor is the newest file, which it keeps growing
		// from (nearly) empty.
		lfi, err1 := os.Stat(liveFD)
		nfi, err2 := os.Stat(newest)
		if err1 != nil || err2 != nil || !os.SameFile(lfi, nfi) {
			t.Fatalf("writer's file is not the newest (%v, %v)", err1, err2)
		}
		after := size(newest)
		waitFor(t, "the live file to grow after rotation", 5*time.Second, func() bool {
			return size(newest) > after
		})
		if len(files) > maxFiles {
			t.Fatalf("%d files kept, want at most %d", len(files), maxFiles)
		}
		for _, old := range files[:len(files)-1] {
			data, err := os.ReadFile(old)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) <= maxBytes || !bytes.HasPrefix(data, []byte("line\n")) {
				t.Fatalf("old file %s: %d bytes, want the rotated content", old, len(data))
			}
			// Only whole lines, except the copy's end, which may cut one.
			if strings.Trim(string(data), "line\n") != "" {
				t.Fatalf("old file %s holds unexpected bytes", old)
			}
		}
	}
	if got := len(mustFiles(t, dir, base)); got != maxFiles {
		t.Fatalf("%d files after %d rotations, want %d", got, rotations, maxFiles)
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("writer died: %v", err)
	}
}

// A task can replace its log file with a link to a host file; the writer,
// the rotator and CurrentFile never write, truncate or create through it.
func TestLinksAreNeverFollowed(t *testing.T) {
	host := filepath.Join(t.TempDir(), "hostname")
	if err := os.WriteFile(host, []byte("the host's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(host, filepath.Join(dir, "evil.stdout.0")); err != nil {
		t.Fatal(err)
	}
	if w, err := NewWriter(dir, "evil.stdout", 2, 10); err == nil {
		w.Write([]byte("overwrite"))
		w.Close()
		t.Error("the writer opened a link")
	}
	if err := RotateIfNeeded(dir, "evil.stdout", 2, 1); err == nil {
		t.Error("the rotator followed a link")
	}
	if got, _ := os.ReadFile(host); string(got) != "the host's file\n" {
		t.Fatalf("the host's file changed: %q", got)
	}
	// A link in place of the directory is refused too.
	linkDir := filepath.Join(t.TempDir(), "logs")
	if err := os.Symlink(filepath.Dir(host), linkDir); err != nil {
		t.Fatal(err)
	}
	if _, err := CurrentFile(linkDir, "hostname"); err == nil {
		t.Error("CurrentFile went through a linked directory")
	}
	if _, err := NewWriter(linkDir, "other.stdout", 2, 10); err == nil {
		t.Error("the writer created a file through a linked directory")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(host), "other.stdout.0")); err == nil {
		t.Fatal("a file was created in the host directory")
	}
}
