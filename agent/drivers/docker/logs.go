package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"drover/agent/drivers"
	"drover/agent/drivers/logrotate"
)

// cursorFile is the file, in the task directory, that remembers how far
// the output has been copied. The handle cannot hold it: it is persisted
// only when the task starts.
const cursorFile = ".docker-log-since"

// cursorRecordSize is the fixed size of the cursor record. Rewriting a
// fixed-size record in place is one pwrite per line, with no truncation
// window in which a crash would leave a half-written cursor.
const cursorRecordSize = 256

// collector copies one container's output into the task's rotating log
// files, resuming where an earlier collector (perhaps in an earlier client
// process) stopped.
type collector struct {
	d              *Driver
	t              *task
	stdout, stderr *logrotate.Writer
	cur            *cursor
}

func newCollector(d *Driver, t *task) (*collector, error) {
	cfg := t.cfg
	if cfg.LogDir == "" {
		return nil, fmt.Errorf("task %s has no log directory", cfg.ID)
	}
	if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	maxBytes := int64(cfg.LogMaxFileSizeMB) << 20
	stdout, err := logrotate.NewWriter(cfg.LogDir, cfg.StdoutBase(), cfg.LogMaxFiles, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("open stdout log: %w", err)
	}
	stderr, err := logrotate.NewWriter(cfg.LogDir, cfg.StderrBase(), cfg.LogMaxFiles, maxBytes)
	if err != nil {
		stdout.Close()
		return nil, fmt.Errorf("open stderr log: %w", err)
	}
	cur, err := openCursor(cursorPath(cfg), t.containerID)
	if err != nil {
		stdout.Close()
		stderr.Close()
		return nil, err
	}
	return &collector{d: d, t: t, stdout: stdout, stderr: stderr, cur: cur}, nil
}

func cursorPath(cfg *drivers.TaskConfig) string {
	if cfg.TaskDir != "" {
		return filepath.Join(cfg.TaskDir, cursorFile)
	}
	// Without a task directory, keep one cursor per task beside the logs.
	return filepath.Join(cfg.LogDir, "."+cfg.TaskName+cursorFile)
}

func (c *collector) close() {
	c.stdout.Close()
	c.stderr.Close()
	if err := c.cur.close(); err != nil {
		c.d.logger.Printf("docker: task %s: log cursor: %v", c.t.cfg.ID, err)
	}
}

// run follows the container's log stream until the container has stopped
// and everything it wrote is copied, or ctx ends. A stream that breaks
// while the container runs (engine restart, network) is reopened from the
// cursor, so nothing is lost or written twice.
func (c *collector) run(ctx context.Context) {
	defer c.close()
	id := c.t.containerID
	backoff := 100 * time.Millisecond
	failuresStopped := 0
	for {
		err := c.copyOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		ictx, cancel := context.WithTimeout(ctx, apiTimeout)
		info, ierr := c.d.cli.ContainerInspect(ictx, id)
		cancel()
		switch {
		case cerrdefs.IsNotFound(ierr):
			return
		case ierr == nil && info.State != nil && !info.State.Running:
			// A followed stream ends by itself when the container stops,
			// after the last line: done. A broken one is retried a few
			// times, then given up, since a stopped container's logs
			// will not become readable later.
			if err == nil {
				return
			}
			if failuresStopped++; failuresStopped > 3 {
				c.d.logger.Printf("docker: task %s: giving up on logs: %v", c.t.cfg.ID, err)
				return
			}
		}
		if err != nil {
			c.d.logger.Printf("docker: task %s: log stream: %v; reopening", c.t.cfg.ID, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// copyOnce reads one log stream, from the cursor, to its end.
func (c *collector) copyOnce(ctx context.Context) error {
	opts := container.LogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     true,
		Timestamps: true,
		Since:      c.cur.resume(),
	}
	rc, err := c.d.cli.ContainerLogs(ctx, c.t.containerID, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = stdcopy.StdCopy(
		&stampedWriter{cur: c.cur, stream: streamStdout, w: c.stdout},
		&stampedWriter{cur: c.cur, stream: streamStderr, w: c.stderr},
		rc)
	return err
}

// Stream indexes of a cursor.
const (
	streamStdout = iota
	streamStderr
)

// stampedWriter receives one log message per Write (stdcopy writes each
// frame whole, and the engine sends one message per frame), prefixed with
// its timestamp. It writes the message without the timestamp, unless the
// cursor says it was already written, and moves the cursor past it.
type stampedWriter struct {
	cur    *cursor
	stream int
	w      io.Writer
}

func (s *stampedWriter) Write(p []byte) (int, error) {
	ts, msg, ok := splitTimestamp(p)
	if !ok {
		// Not what we asked for; keep the output rather than drop it.
		if _, err := s.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	s.cur.mu.Lock()
	defer s.cur.mu.Unlock()
	if !s.cur.isNew(s.stream, ts) {
		return len(p), nil
	}
	if _, err := s.w.Write(msg); err != nil {
		return 0, err
	}
	s.cur.advance(s.stream, ts)
	return len(p), nil
}

// splitTimestamp splits "2006-01-02T15:04:05.999999999Z msg" into its
// parts.
func splitTimestamp(p []byte) (time.Time, []byte, bool) {
	i := bytes.IndexByte(p, ' ')
	if i <= 0 || i > 40 {
		return time.Time{}, nil, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(p[:i]))
	if err != nil {
		return time.Time{}, nil, false
	}
	return ts, p[i+1:], true
}

// cursor is how far each of a container's two output streams has been
// copied: the newest message timestamp written, and how many messages
// carrying exactly that timestamp were written (the parts of a line too
// long for one message share a timestamp).
//
// It is kept per stream because each stream is stamped by its own reader
// in the engine: within a stream timestamps never go back, so a message
// older than the cursor is one already written (the engine's follow mode
// re-sends some when it rotates its files); across streams they may be
// out of order by microseconds. A resumed stream asks the engine for
// messages since the older of the two positions; the engine's since filter
// keeps messages at that instant itself, hence the counts.
type cursor struct {
	mu          sync.Mutex
	f           *os.File
	containerID string
	streams     [2]streamCursor
	err         error
}

type streamCursor struct {
	last  time.Time
	count int
	// skip is how many messages at last remain to be skipped in the
	// current engine stream.
	skip int
}

// openCursor loads the cursor of the container from path; a cursor of
// another container (an earlier run of the task) means starting over.
func openCursor(path, containerID string) (*cursor, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log cursor: %w", err)
	}
	c := &cursor{f: f, containerID: containerID}
	buf := make([]byte, cursorRecordSize)
	n, _ := f.ReadAt(buf, 0)
	fields := strings.Fields(string(buf[:n]))
	if len(fields) != 5 || fields[0] != containerID {
		return c, nil
	}
	for i := range c.streams {
		last, count := fields[1+2*i], fields[2+2*i]
		if last == "-" {
			continue
		}
		ts, terr := time.Parse(time.RFC3339Nano, last)
		n, cerr := strconv.Atoi(count)
		if terr != nil || cerr != nil {
			return &cursor{f: f, containerID: containerID}, nil
		}
		c.streams[i] = streamCursor{last: ts, count: n}
	}
	return c, nil
}

// resume returns the "since" of a new engine stream, and arms the skipping
// of the messages at each stream's position already copied. A stream
// without a position takes everything, from the other's position: what it
// wrote before that instant would have come before the other's message.
func (c *cursor) resume() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var since time.Time
	for i := range c.streams {
		s := &c.streams[i]
		s.skip = s.count
		if !s.last.IsZero() && (since.IsZero() || s.last.Before(since)) {
			since = s.last
		}
	}
	if since.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())
}

// isNew reports whether a message was not written yet, consuming a skip.
func (c *cursor) isNew(stream int, ts time.Time) bool {
	s := &c.streams[stream]
	switch {
	case ts.Before(s.last):
		return false
	case ts.Equal(s.last) && s.skip > 0:
		s.skip--
		return false
	}
	return true
}

// advance records a written message and persists the cursor.
func (c *cursor) advance(stream int, ts time.Time) {
	s := &c.streams[stream]
	if ts.After(s.last) {
		s.last, s.count = ts, 1
	} else {
		s.count++
	}
	s.skip = 0
	c.persist()
}

func (c *cursor) persist() {
	rec := c.containerID
	for _, s := range c.streams {
		if s.last.IsZero() {
			rec += " - 0"
			continue
		}
		rec += " " + s.last.UTC().Format(time.RFC3339Nano) + " " + strconv.Itoa(s.count)
	}
	buf := []byte(rec + strings.Repeat(" ", max(cursorRecordSize-1-len(rec), 0)) + "\n")
	if _, err := c.f.WriteAt(buf, 0); err != nil && c.err == nil {
		c.err = err // reported at close; the output itself is still copied
	}
}

// close closes the file and reports a failure to persist, if any.
func (c *cursor) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.f.Close(); err != nil && c.err == nil {
		c.err = err
	}
	return c.err
}
