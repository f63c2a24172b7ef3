// Package logrotate keeps a task's output in a bounded set of numbered
// files, <dir>/<base>.0, <base>.1, ... (base is e.g. "redis.stdout").
// Indexes only grow; the highest index is the file being written; at most
// maxFiles files are kept, the oldest being deleted first.
//
// Two ways of writing are supported, because drivers differ in who holds
// the file descriptor:
//
//   - Writer is for output that passes through the client (the mock driver,
//     a container's log stream): the client writes, so it rotates exactly
//     when a file would exceed its size.
//   - CurrentFile and RotateIfNeeded are for tasks that write to the file
//     themselves (raw_exec), so that neither the task nor its output depend
//     on the client being alive. The task keeps one O_APPEND descriptor for
//     its whole life; rotation is done behind its back by copy-truncate.
//
// Both keep the same naming, so readers (Files) need not know which was
// used, and a restarted client continues the sequence where it stopped.
package logrotate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// DefaultMaxFiles and DefaultMaxBytes apply when a caller passes a
// non-positive limit; they are the usual task defaults (10 files of 10 MB),
// so a task config without log settings still gets bounded logs instead of
// an error.
const (
	DefaultMaxFiles       = 10
	DefaultMaxBytes int64 = 10 << 20
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("log writer closed")

func limits(maxFiles int, maxBytes int64) (int, int64) {
	if maxFiles <= 0 {
		maxFiles = DefaultMaxFiles
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return maxFiles, maxBytes
}

func fileName(dir, base string, idx int) string {
	return filepath.Join(dir, base+"."+strconv.Itoa(idx))
}

// indexes returns the indexes of the existing files, ascending.
func indexes(dir, base string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list log dir %s: %w", dir, err)
	}
	prefix := base + "."
	var out []int
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, prefix) {
			continue
		}
		suffix := name[len(prefix):]
		// Only plain decimal suffixes count, so "redis.stdout.0" and a task
		// named "redis.stdout" ("redis.stdout.stdout.0") never mix, and
		// temporary files are invisible to readers.
		if suffix == "" || strings.TrimLeft(suffix, "0123456789") != "" {
			continue
		}
		n, err := strconv.Atoi(suffix)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}

// Files returns the paths of the existing log files of base in dir, oldest
// first, which is the order a reader concatenates them in.
func Files(dir, base string) ([]string, error) {
	idx, err := indexes(dir, base)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(idx))
	for i, n := range idx {
		out[i] = fileName(dir, base, n)
	}
	return out, nil
}

// prune deletes the oldest files until at most maxFiles remain.
func prune(dir, base string, maxFiles int) error {
	idx, err := indexes(dir, base)
	if err != nil {
		return err
	}
	var errs []error
	for len(idx) > maxFiles {
		if err := os.Remove(fileName(dir, base, idx[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove old log file: %w", err))
		}
		idx = idx[1:]
	}
	return errors.Join(errs...)
}

// Writer is an io.WriteCloser over the rotating files of one stream. It is
// safe for concurrent use; each Write is written whole before the next one
// starts, but a Write larger than the room left in the current file is
// split across files, so that no file ever exceeds maxBytes.
type Writer struct {
	dir, base string
	maxFiles  int
	maxBytes  int64

	mu   sync.Mutex
	f    *os.File
	idx  int
	size int64
}

var _ io.WriteCloser = (*Writer)(nil)

// NewWriter opens the stream's current file for appending: the highest
// existing index, so that a restarted client continues the same sequence
// instead of overwriting it, or index 0 when there is none. dir must exist.
// Non-positive limits mean DefaultMaxFiles and DefaultMaxBytes.
func NewWriter(dir, base string, maxFiles int, maxBytes int64) (*Writer, error) {
	maxFiles, maxBytes = limits(maxFiles, maxBytes)
	idx, err := indexes(dir, base)
	if err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, base: base, maxFiles: maxFiles, maxBytes: maxBytes}
	if len(idx) > 0 {
		w.idx = idx[len(idx)-1]
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := openNoLink(fileName(w.dir, w.base, w.idx), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// rotate moves on to the next index and deletes what no longer fits.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("close log file: %w", err)
	}
	w.f = nil
	w.idx++
	if err := w.open(); err != nil {
		return err
	}
	return prune(w.dir, w.base, w.maxFiles)
}

// Write appends p, rotating as often as needed.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, ErrClosed
	}
	written := 0
	for len(p) > 0 {
		room := w.maxBytes - w.size
		if room <= 0 {
			if err := w.rotate(); err != nil {
				return written, err
			}
			room = w.maxBytes
		}
		chunk := p
		if int64(len(chunk)) > room {
			chunk = chunk[:room]
		}
		n, err := w.f.Write(chunk)
		written += n
		w.size += int64(n)
		if err != nil {
			return written, fmt.Errorf("write log file: %w", err)
		}
		p = p[n:]
	}
	return written, nil
}

// Close closes the current file. Later writes fail with ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// CurrentFile returns the path of the stream's current file (the highest
// index), creating index 0 when there is none. A task that writes its own
// output opens it with O_APPEND: appending is what lets RotateIfNeeded
// truncate the file under the task, since every write then lands at the
// (new) end instead of at the task's old offset, which would leave a hole.
func CurrentFile(dir, base string) (string, error) {
	idx, err := indexes(dir, base)
	if err != nil {
		return "", err
	}
	if len(idx) > 0 {
		return fileName(dir, base, idx[len(idx)-1]), nil
	}
	path := fileName(dir, base, 0)
	f, err := openNoLink(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return "", fmt.Errorf("create log file: %w", err)
	}
	return path, f.Close()
}

// RotateIfNeeded rotates a stream whose current file is being written by
// another process through an O_APPEND descriptor, once that file holds more
// than maxBytes; then it deletes the oldest files beyond maxFiles.
// Non-positive limits mean the defaults.
//
// It uses copy-truncate, so the writer never needs to reopen anything (it
// may not even know it is being rotated, and no helper process per task is
// needed to relay its output). With N the current index:
//
//  1. the live file is renamed to N+1: the writer's descriptor follows the
//     inode, so the live file is now the newest index;
//  2. its content is copied into a temporary file, which is renamed to N;
//  3. the live inode is truncated to zero; the writer's next O_APPEND write
//     lands at offset 0.
//
// The trade-off, as with any copytruncate, is a window between the end of
// the copy and the truncate: bytes the task writes in it are lost. The copy
// catches up with the file once more right before truncating, so the window
// is one read and one ftruncate system call wide. A crash of the caller
// part-way loses nothing: it leaves either no file N (a gap in the indexes,
// which readers tolerate) or the same bytes in both N and N+1.
//
// Since it is called periodically rather than on every write, files can
// exceed maxBytes by what the task writes between two calls. Calls for the
// same stream must not run concurrently.
func RotateIfNeeded(dir, base string, maxFiles int, maxBytes int64) error {
	maxFiles, maxBytes = limits(maxFiles, maxBytes)
	idx, err := indexes(dir, base)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		return nil
	}
	cur := idx[len(idx)-1]
	curPath := fileName(dir, base, cur)
	fi, err := os.Lstat(curPath)
	if err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("rotate %s: it is a link, which the task made; not following it", curPath)
	}
	if fi.Size() > maxBytes {
		if err := copyTruncate(curPath, fileName(dir, base, cur+1), filepath.Join(dir, "."+base+".rotating")); err != nil {
			return fmt.Errorf("rotate %s: %w", curPath, err)
		}
	}
	return prune(dir, base, maxFiles)
}

func copyTruncate(curPath, nextPath, tmpPath string) (err error) {
	// Opened by descriptor so the renames below cannot make us copy or
	// truncate the wrong file.
	live, err := openNoLink(curPath, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer live.Close()
	if err := os.Rename(curPath, nextPath); err != nil {
		return err
	}
	tmp, err := openNoLink(tmpPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
	}()
	// The first copy runs while the task keeps writing, so it is long;
	// the catch-up after the rename only takes what arrived meanwhile.
	if _, err := io.Copy(tmp, live); err != nil {
		os.Remove(tmpPath)
		return err
	}
	if err := os.Rename(tmpPath, curPath); err != nil {
		os.Remove(tmpPath)
		return err
	}
	if _, err := io.Copy(tmp, live); err != nil {
		return err
	}
	return live.Truncate(0)
}

// openNoLink opens a file of a log directory the task can write to. The
// task may have replaced a file or the directory with a link (to the
// host's /etc/hostname, say); writing, truncating or reading through it
// would act on a file that is not the task's. So the directory is opened
// as a root (nothing resolves outside it), and a link in the file's place
// is refused.
func openNoLink(path string, flag int, perm os.FileMode) (*os.File, error) {
	dir, name := filepath.Split(path)
	if fi, err := os.Lstat(filepath.Clean(dir)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("log directory %s is a link; not following it", dir)
	}
	root, err := os.OpenRoot(filepath.Clean(dir))
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if fi, err := root.Lstat(name); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s is a link; not writing through it", path)
	}
	return root.OpenFile(name, flag|syscall.O_NOFOLLOW, perm)
}
