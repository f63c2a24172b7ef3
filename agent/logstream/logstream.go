// Package logstream copies an agent's log to live readers (the monitor
// API) without ever slowing the agent down.
//
// A Sink sits between the agent's loggers and where their output goes: it
// passes every write through unchanged and offers a copy of it to each
// Subscription whose level it meets. A subscription holds a bounded
// buffer; when a reader falls behind and its buffer is full, further lines
// are dropped for that reader (and counted) rather than making the logger
// wait. The agent's own output is never filtered here.
//
//	logger ──▶ Sink ──▶ out (stdout)
//	             │
//	             ├──▶ Subscription (buffer, min level) ──▶ monitor stream
//	             └──▶ Subscription ...
package logstream

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Level is a log line's severity, from Trace up to Error. Off, as a
// subscription's level, lets nothing through.
type Level int

// The levels, in increasing severity.
const (
	Trace Level = iota
	Debug
	Info
	Warn
	Error
	Off
)

var levelNames = [...]string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"}

// String is the level's name in upper case, as the log lines carry it.
func (l Level) String() string {
	if l < Trace || l > Off {
		return "UNKNOWN"
	}
	return levelNames[l]
}

// ParseLevel reads a level name in any case (trace, debug, info, warn,
// error, off), surrounding spaces ignored.
func ParseLevel(s string) (Level, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	for i, name := range levelNames {
		if s == name {
			return Level(i), true
		}
	}
	return 0, false
}

// tags are the level markers the agent's loggers (and gossip's) write,
// e.g. "2024/05/01 10:00:00 [WARN] client: ...".
var tags = []struct {
	tag   string
	level Level
}{
	{"[TRACE]", Trace}, {"[DEBUG]", Debug}, {"[INFO]", Info}, {"[WARN]", Warn},
	{"[WARNING]", Warn}, {"[ERR]", Error}, {"[ERROR]", Error},
}

// LevelOf finds a line's level: its first level marker, or Info for a line
// without one (the agent's unmarked lines are informational).
func LevelOf(line string) Level {
	_, level, _ := splitTag(line)
	return level
}

// splitTag finds the first level marker in line and returns what follows
// it, trimmed; without a marker, the whole line after a leading timestamp
// is the message and the level is Info.
func splitTag(line string) (msg string, level Level, tagged bool) {
	best := -1
	var bestTag string
	for _, t := range tags {
		if i := strings.Index(line, t.tag); i >= 0 && (best < 0 || i < best) {
			best, bestTag, level = i, t.tag, t.level
		}
	}
	if best < 0 {
		return strings.TrimSpace(stripTimestamp(line)), Info, false
	}
	return strings.TrimSpace(line[best+len(bestTag):]), level, true
}

// stripTimestamp removes the "2006/01/02 15:04:05[.000000] " that Go's log
// package puts before a message.
func stripTimestamp(line string) string {
	s := strings.TrimLeft(line, " \t")
	if len(s) >= 20 && s[4] == '/' && s[7] == '/' && s[10] == ' ' && s[13] == ':' && s[16] == ':' {
		rest := s[19:]
		if strings.HasPrefix(rest, ".") {
			if i := strings.IndexByte(rest, ' '); i >= 0 {
				rest = rest[i:]
			}
		}
		return strings.TrimLeft(rest, " ")
	}
	return line
}

// Line is one log record as a subscriber receives it.
type Line struct {
	// Time is when the record was written to the sink.
	Time  time.Time
	Level Level
	// Text is the record as the logger wrote it, without its leading
	// indentation and trailing newline. A record may span lines (an
	// error message with newlines in it).
	Text string
}

// Message splits the record into the subsystem that logged it and what it
// said: "[INFO] client: node x registered" is ("client", "node x
// registered"). A record without a "subsystem: " head has no module.
func (l Line) Message() (module, msg string) {
	msg, _, _ = splitTag(l.Text)
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " \t\n") {
		return msg[:i], msg[i+2:]
	}
	return "", msg
}

// JSON renders the record as one JSON object with the keys of the
// compatible agent's JSON logs: @level (lower case), @message, @module
// (when known) and @timestamp.
func (l Line) JSON() []byte {
	module, msg := l.Message()
	rec := struct {
		Level     string `json:"@level"`
		Message   string `json:"@message"`
		Module    string `json:"@module,omitempty"`
		Timestamp string `json:"@timestamp"`
	}{strings.ToLower(l.Level.String()), msg, module, l.Time.Format("2006-01-02T15:04:05.000000Z07:00")}
	b, _ := json.Marshal(rec) // strings only: cannot fail
	return b
}

// Sink is an io.Writer that passes writes to out and offers each one, as a
// Line, to the subscriptions. Each Write is one record, as Go's log
// package writes them. It is safe for concurrent use.
type Sink struct {
	out io.Writer
	now func() time.Time

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	closed bool
	n      atomic.Int32 // len(subs), read without the lock on the fast path
}

// NewSink returns a sink writing to out (nil discards).
func NewSink(out io.Writer) *Sink {
	if out == nil {
		out = io.Discard
	}
	return &Sink{out: out, now: time.Now, subs: map[*Subscription]struct{}{}}
}

// Write passes p to the sink's output, then offers it to the subscribers.
// It never waits for a subscriber: a full buffer drops the line for that
// subscriber alone.
func (s *Sink) Write(p []byte) (int, error) {
	n, err := s.out.Write(p)
	if s.n.Load() > 0 {
		s.publish(string(p))
	}
	return n, err
}

func (s *Sink) publish(record string) {
	text := strings.TrimRight(strings.TrimLeft(record, " \t"), "\r\n")
	if text == "" {
		return
	}
	line := Line{Time: s.now(), Level: LevelOf(text), Text: text}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs {
		if line.Level < sub.min {
			continue
		}
		select {
		case sub.ch <- line:
		default:
			sub.dropped.Add(1)
		}
	}
}

// Subscribe starts copying records of level min or above to a new
// subscription with room for buffer records (at least 1). Close it when
// done. After the sink is closed, the subscription starts closed.
func (s *Sink) Subscribe(min Level, buffer int) *Subscription {
	sub := &Subscription{sink: s, min: min, ch: make(chan Line, max(buffer, 1))}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(sub.ch)
		return sub
	}
	s.subs[sub] = struct{}{}
	s.n.Store(int32(len(s.subs)))
	return sub
}

// Close ends every subscription (their readers see Lines closed), and
// any made later: the agent closes it as it stops, so that streams end
// rather than hold the HTTP server's shutdown up. Writes still pass
// through to the output.
func (s *Sink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for sub := range s.subs {
		delete(s.subs, sub)
		close(sub.ch)
	}
	s.n.Store(0)
}

// Subscribers is the number of open subscriptions.
func (s *Sink) Subscribers() int { return int(s.n.Load()) }

// Subscription receives a sink's records of its level and above.
type Subscription struct {
	sink    *Sink
	min     Level
	ch      chan Line
	dropped atomic.Uint64
}

// Lines delivers the records; it is closed by Close.
func (sub *Subscription) Lines() <-chan Line { return sub.ch }

// Level is the lowest level the subscription receives.
func (sub *Subscription) Level() Level { return sub.min }

// TakeDropped returns how many records were dropped because the buffer was
// full since the last call, and resets the count.
func (sub *Subscription) TakeDropped() uint64 { return sub.dropped.Swap(0) }

// Close ends the subscription and closes Lines. It is safe to call more
// than once.
func (sub *Subscription) Close() {
	s := sub.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	// Publishing happens under the lock, so nothing sends after this.
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		s.n.Store(int32(len(s.subs)))
		close(sub.ch)
	}
}
