package logstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"sync"
	"testing"
	"time"
)

func TestParseLevel(t *testing.T) {
	cases := []struct {
		in   string
		want Level
		ok   bool
	}{
		{"trace", Trace, true}, {"DEBUG", Debug, true}, {" Info ", Info, true}, {"warn", Warn, true},
		{"ERROR", Error, true}, {"off", Off, true},
		{"", 0, false}, {"warning", 0, false}, {"verbose", 0, false}, {"err", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseLevel(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestLevelOf(t *testing.T) {
	cases := []struct {
		line string
		want Level
	}{
		{"    2024/05/01 10:00:00 [INFO] agent: HTTP API listening on x", Info},
		{"2024/05/01 10:00:00 [WARN] memberlist: Was able to connect", Warn},
		{"2024/05/01 10:00:00 [ERR] memberlist: failed", Error},
		{"2024/05/01 10:00:00 [ERROR] http: 500", Error},
		{"2024/05/01 10:00:00 [DEBUG] x", Debug},
		{"2024/05/01 10:00:00 [TRACE] x", Trace},
		{"2024/05/01 10:00:00 docker: pulling image redis", Info},
		// The first marker counts, not one quoted in the message.
		{"2024/05/01 10:00:00 [WARN] client: task said [ERROR] boom", Warn},
	}
	for _, c := range cases {
		if got := LevelOf(c.line); got != c.want {
			t.Errorf("LevelOf(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestLineMessageAndJSON(t *testing.T) {
	at := time.Date(2024, 5, 1, 10, 0, 0, 123456000, time.UTC)
	l := Line{Time: at, Level: Warn, Text: "2024/05/01 10:00:00 [WARN] client: contact servers: refused"}
	module, msg := l.Message()
	if module != "client" || msg != "contact servers: refused" {
		t.Errorf("Message() = %q, %q", module, msg)
	}
	var rec map[string]string
	if err := json.Unmarshal(l.JSON(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"@level": "warn", "@message": "contact servers: refused", "@module": "client",
		"@timestamp": "2024-05-01T10:00:00.123456Z"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %q, want %q (%s)", k, rec[k], v, l.JSON())
		}
	}
	// No "subsystem: " head: no module; an untagged line loses its timestamp.
	l = Line{Time: at, Level: Info, Text: "2024/05/01 10:00:00 docker task started"}
	if module, msg := l.Message(); module != "" || msg != "docker task started" {
		t.Errorf("untagged Message() = %q, %q", module, msg)
	}
	if bytes.Contains(l.JSON(), []byte("@module")) {
		t.Errorf("JSON without a module names one: %s", l.JSON())
	}
}

// A sink passes everything through, and gives each subscriber the
// records of its level and above, in order.
func TestSinkFansOutByLevel(t *testing.T) {
	var out bytes.Buffer
	sink := NewSink(&out)
	logger := log.New(sink, "    ", log.LstdFlags)
	debug := sink.Subscribe(Debug, 16)
	warn := sink.Subscribe(Warn, 16)
	defer debug.Close()
	defer warn.Close()

	logger.Printf("[DEBUG] server: one")
	logger.Printf("[INFO] server: two")
	logger.Printf("[WARN] server: three")
	logger.Printf("[ERROR] server: four")
	logger.Printf("docker: five")

	if n := bytes.Count(out.Bytes(), []byte("\n")); n != 5 {
		t.Errorf("the sink's output has %d lines, want all 5:\n%s", n, out.String())
	}
	got := func(sub *Subscription) []string {
		var msgs []string
		for {
			select {
			case l := <-sub.Lines():
				_, msg := l.Message()
				msgs = append(msgs, l.Level.String()+" "+msg)
			default:
				return msgs
			}
		}
	}
	if g, w := fmt.Sprint(got(debug)), "[DEBUG one INFO two WARN three ERROR four INFO five]"; g != w {
		t.Errorf("debug subscriber got %s, want %s", g, w)
	}
	if g, w := fmt.Sprint(got(warn)), "[WARN three ERROR four]"; g != w {
		t.Errorf("warn subscriber got %s, want %s", g, w)
	}
}

// A subscriber that never reads must not hold the logger up: once its
// buffer is full, its records are dropped and counted, and the others
// still get theirs.
func TestSinkSlowSubscriberNeverBlocks(t *testing.T) {
	sink := NewSink(nil)
	logger := log.New(sink, "", log.LstdFlags)
	stuck := sink.Subscribe(Trace, 4)
	defer stuck.Close()
	live := sink.Subscribe(Trace, 4)
	defer live.Close()

	const n = 20000
	var received int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range live.Lines() {
			received++
		}
	}()
	done := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			logger.Printf("[INFO] test: line %d", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("logging blocked behind a subscriber that does not read")
	}
	if d := stuck.TakeDropped(); d != n-4 {
		t.Errorf("the stuck subscriber dropped %d records, want %d", d, n-4)
	}
	if d := stuck.TakeDropped(); d != 0 {
		t.Errorf("TakeDropped does not reset: %d", d)
	}
	live.Close()
	wg.Wait()
	if received == 0 {
		t.Error("the reading subscriber got nothing")
	}
	if sink.Subscribers() != 1 {
		t.Errorf("%d subscribers after one closed, want 1", sink.Subscribers())
	}
	live.Close() // twice is fine
}

func TestSinkOffReceivesNothing(t *testing.T) {
	sink := NewSink(nil)
	sub := sink.Subscribe(Off, 4)
	fmt.Fprintln(sink, "2024/05/01 10:00:00 [ERROR] x: y")
	sub.Close()
	if _, ok := <-sub.Lines(); ok {
		t.Error("a subscription at level off received a record")
	}
}

// Closing the sink ends every stream, and later subscriptions start
// closed; writes still reach the output.
func TestSinkClose(t *testing.T) {
	var out bytes.Buffer
	sink := NewSink(&out)
	sub := sink.Subscribe(Info, 4)
	sink.Close()
	if _, ok := <-sub.Lines(); ok {
		t.Error("a subscription outlived its sink")
	}
	sub.Close() // after the sink closed it: no double close
	late := sink.Subscribe(Info, 4)
	if _, ok := <-late.Lines(); ok {
		t.Error("a subscription to a closed sink is open")
	}
	fmt.Fprintln(sink, "2024/05/01 10:00:00 [INFO] x: y")
	if out.Len() == 0 {
		t.Error("a closed sink stopped passing writes through")
	}
}
