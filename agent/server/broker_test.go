// Tests of the evaluation broker. They synchronise on channels and context
// deadlines; the only timing they depend on is that short nack and delay
// timers (tens of milliseconds) fire within a generous deadline.

package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"drover/agent/structs"
)

// brokerTestTimeout bounds every wait that is expected to succeed.
const brokerTestTimeout = 5 * time.Second

// newTestEvalBroker returns an enabled broker with no requeue delays, which
// is disabled when the test ends.
func newTestEvalBroker(t *testing.T, nackTimeout time.Duration, deliveryLimit int) *EvalBroker {
	t.Helper()
	b := NewEvalBroker(nackTimeout, deliveryLimit)
	b.InitialNackDelay, b.SubsequentNackDelay, b.MaxNackDelay = 0, 0, 0
	b.SetEnabled(true)
	t.Cleanup(func() { b.SetEnabled(false) })
	return b
}

// brokerTestEval returns a pending service evaluation of job in the default
// namespace.
func brokerTestEval(id, job string, priority int, createIndex uint64) *structs.Evaluation {
	return &structs.Evaluation{
		ID:          id,
		Namespace:   "default",
		Priority:    priority,
		Type:        structs.JobTypeService,
		JobID:       job,
		Status:      structs.EvalStatusPending,
		CreateIndex: createIndex,
	}
}

func mustDequeueEval(t *testing.T, b *EvalBroker, types ...string) (*structs.Evaluation, string) {
	t.Helper()
	if len(types) == 0 {
		types = []string{structs.JobTypeService}
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTestTimeout)
	defer cancel()
	e, token, err := b.Dequeue(ctx, types)
	if err != nil {
		t.Fatalf("Dequeue(%v): %v", types, err)
	}
	if token == "" {
		t.Fatalf("Dequeue(%v) of %s: empty token", types, e.ID)
	}
	return e, token
}

// mustNotDequeueEval checks that nothing of the types is ready for a
// short while.
func mustNotDequeueEval(t *testing.T, b *EvalBroker, types ...string) {
	t.Helper()
	if len(types) == 0 {
		types = []string{structs.JobTypeService}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	e, _, err := b.Dequeue(ctx, types)
	if err == nil {
		t.Fatalf("Dequeue(%v) = %s, want nothing ready", types, e.ID)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dequeue(%v) error = %v, want deadline exceeded", types, err)
	}
}

func mustAck(t *testing.T, b *EvalBroker, id, token string) {
	t.Helper()
	if err := b.Ack(id, token); err != nil {
		t.Fatalf("Ack(%s): %v", id, err)
	}
}

func checkBrokerStats(t *testing.T, b *EvalBroker, want BrokerStats) {
	t.Helper()
	if got := b.Stats(); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}

// waitForBroker polls cond until it holds or the deadline passes.
func waitForBroker(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(brokerTestTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEvalBroker_DequeueOrder(t *testing.T) {
	cases := []struct {
		name  string
		evals []*structs.Evaluation // enqueued in this order, distinct jobs
		want  []string
	}{
		{
			name: "higher priority first",
			evals: []*structs.Evaluation{
				brokerTestEval("low", "j1", 10, 1),
				brokerTestEval("high", "j2", 90, 2),
				brokerTestEval("mid", "j3", 50, 3),
			},
			want: []string{"high", "mid", "low"},
		},
		{
			name: "fifo by enqueue order within a priority",
			evals: []*structs.Evaluation{
				brokerTestEval("a", "j1", 50, 0),
				brokerTestEval("b", "j2", 50, 0),
				brokerTestEval("c", "j3", 50, 0),
			},
			want: []string{"a", "b", "c"},
		},
		{
			name: "create index before enqueue order",
			evals: []*structs.Evaluation{
				brokerTestEval("newer", "j1", 50, 20),
				brokerTestEval("older", "j2", 50, 10),
				brokerTestEval("same-as-newer", "j3", 50, 20),
			},
			want: []string{"older", "newer", "same-as-newer"},
		},
		{
			name: "priority beats age",
			evals: []*structs.Evaluation{
				brokerTestEval("old-low", "j1", 10, 1),
				brokerTestEval("new-high", "j2", 70, 100),
				brokerTestEval("old-high", "j3", 70, 5),
			},
			want: []string{"old-high", "new-high", "old-low"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestEvalBroker(t, time.Minute, 3)
			for _, e := range tc.evals {
				b.Enqueue(e)
			}
			checkBrokerStats(t, b, BrokerStats{TotalReady: len(tc.evals)})
			for _, want := range tc.want {
				e, token := mustDequeueEval(t, b)
				if e.ID != want {
					t.Fatalf("dequeued %s, want %s", e.ID, want)
				}
				mustAck(t, b, e.ID, token)
			}
			checkBrokerStats(t, b, BrokerStats{})
		})
	}
}

func TestEvalBroker_OneInFlightPerJob(t *testing.T) {
	b := newTestEvalBroker(t, time.Minute, 3)
	b.Enqueue(brokerTestEval("a1", "a", 50, 1))
	b.Enqueue(brokerTestEval("a2", "a", 50, 2))
	b.Enqueue(brokerTestEval("b1", "b", 50, 3))
	b.Enqueue(brokerTestEval("a3", "a", 90, 4)) // priority does not jump the job's queue
	checkBrokerStats(t, b, BrokerStats{TotalReady: 2, TotalBlocked: 2})

	a1, a1Token := mustDequeueEval(t, b)
	b1, b1Token := mustDequeueEval(t, b)
	if a1.ID != "a1" || b1.ID != "b1" {
		t.Fatalf("dequeued %s, %s; want a1, b1", a1.ID, b1.ID)
	}
	mustNotDequeueEval(t, b)
	checkBrokerStats(t, b, BrokerStats{TotalUnacked: 2, TotalBlocked: 2})

	// A nack keeps the job's slot: a1 comes back, not a2.
	if err := b.Nack(a1.ID, a1Token); err != nil {
		t.Fatal(err)
	}
	a1, a1Token = mustDequeueEval(t, b)
	if a1.ID != "a1" {
		t.Fatalf("after nack dequeued %s, want a1", a1.ID)
	}

	// After the ack only the newest waiting evaluation runs (it schedules
	// against the same state the older would); the older one is handed
	// over to be canceled, as Nomad cancels superseded evaluations.
	mustAck(t, b, a1.ID, a1Token)
	a3, a3Token := mustDequeueEval(t, b)
	if a3.ID != "a3" {
		t.Fatalf("after ack of a1 dequeued %s, want a3 (the newest pending)", a3.ID)
	}
	mustNotDequeueEval(t, b)
	if sup := b.TakeSuperseded(10); len(sup) != 1 || sup[0].ID != "a2" {
		t.Fatalf("superseded: %v, want a2", sup)
	}
	mustAck(t, b, a3.ID, a3Token)
	mustAck(t, b, b1.ID, b1Token)
	checkBrokerStats(t, b, BrokerStats{})
}

func TestEvalBroker_NackRedelivers(t *testing.T) {
	b := newTestEvalBroker(t, time.Minute, 3)
	b.Enqueue(brokerTestEval("e", "j", 50, 1))

	e, token1 := mustDequeueEval(t, b)
	if got, ok := b.Outstanding(e.ID); !ok || got != token1 {
		t.Fatalf("Outstanding = %q, %v; want %q, true", got, ok, token1)
	}
	if err := b.Nack(e.ID, token1); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Outstanding(e.ID); ok {
		t.Fatal("nacked eval still outstanding")
	}
	checkBrokerStats(t, b, BrokerStats{TotalReady: 1})

	again, token2 := mustDequeueEval(t, b)
	if again.ID != e.ID {
		t.Fatalf("redelivered %s, want %s", again.ID, e.ID)
	}
	if token2 == token1 {
		t.Fatal("redelivery reused the token")
	}
	if err := b.Ack(e.ID, token1); !errors.Is(err, ErrTokenMismatch) {
		t.Fatalf("Ack with the first delivery's token: %v, want ErrTokenMismatch", err)
	}
	mustAck(t, b, e.ID, token2)
	checkBrokerStats(t, b, BrokerStats{})
}

func TestEvalBroker_NackDelay(t *testing.T) {
	b := NewEvalBroker(time.Minute, 0)
	b.InitialNackDelay, b.SubsequentNackDelay, b.MaxNackDelay = 0, 20*time.Millisecond, 30*time.Millisecond
	for deliveries, want := range []time.Duration{0, 0, 20 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond} {
		if got := b.nackDelayLocked(deliveries); got != want {
			t.Errorf("delay after %d deliveries = %v, want %v", deliveries, got, want)
		}
	}

	b.SetEnabled(true)
	t.Cleanup(func() { b.SetEnabled(false) })
	b.Enqueue(brokerTestEval("e", "j", 50, 1))
	e, token := mustDequeueEval(t, b)
	if err := b.Nack(e.ID, token); err != nil { // first nack: immediate
		t.Fatal(err)
	}
	checkBrokerStats(t, b, BrokerStats{TotalReady: 1})
	e, token = mustDequeueEval(t, b)
	nacked := time.Now()
	if err := b.Nack(e.ID, token); err != nil { // second: 20ms
		t.Fatal(err)
	}
	e, token = mustDequeueEval(t, b)
	if waited := time.Since(nacked); waited < 20*time.Millisecond {
		t.Fatalf("redelivered %v after the second nack, want at least 20ms", waited)
	}
	mustAck(t, b, e.ID, token)
}

func TestEvalBroker_NackTimeout(t *testing.T) {
	b := newTestEvalBroker(t, 50*time.Millisecond, 3)
	b.Enqueue(brokerTestEval("e", "j", 50, 1))

	_, token1 := mustDequeueEval(t, b)
	// Nobody acks; the nack timer hands it out again.
	again, token2 := mustDequeueEval(t, b)
	if again.ID != "e" || token2 == token1 {
		t.Fatalf("redelivered %s with token %s (first %s)", again.ID, token2, token1)
	}
	if err := b.Ack("e", token1); !errors.Is(err, ErrTokenMismatch) {
		t.Fatalf("late Ack of timed-out delivery: %v, want ErrTokenMismatch", err)
	}
	mustAck(t, b, "e", token2)
}

func TestEvalBroker_DeliveryLimit(t *testing.T) {
	b := newTestEvalBroker(t, time.Minute, 2)
	b.Enqueue(brokerTestEval("poison", "j", 50, 1))
	b.Enqueue(brokerTestEval("next", "j", 50, 2))

	for i := 0; i < 2; i++ {
		e, token := mustDequeueEval(t, b)
		if e.ID != "poison" {
			t.Fatalf("delivery %d: dequeued %s, want poison", i+1, e.ID)
		}
		if err := b.Nack(e.ID, token); err != nil {
			t.Fatal(err)
		}
	}
	checkBrokerStats(t, b, BrokerStats{TotalReady: 1, TotalFailed: 1})

	select {
	case f := <-b.FailedCh():
		if f.ID != "poison" {
			t.Fatalf("failed %s, want poison", f.ID)
		}
	case <-time.After(brokerTestTimeout):
		t.Fatal("no failed eval on FailedCh")
	}
	waitForBroker(t, "failed count to drop", func() bool { return b.Stats().TotalFailed == 0 })

	// The failure released the job for its next evaluation.
	e, token := mustDequeueEval(t, b)
	if e.ID != "next" {
		t.Fatalf("dequeued %s, want next", e.ID)
	}
	mustAck(t, b, e.ID, token)
	checkBrokerStats(t, b, BrokerStats{})
}

func TestEvalBroker_FailedDoesNotBlockBroker(t *testing.T) {
	b := newTestEvalBroker(t, time.Minute, 1)
	const n = 20
	for i := 0; i < n; i++ {
		b.Enqueue(brokerTestEval(fmt.Sprint("e", i), fmt.Sprint("j", i), 50, uint64(i+1)))
	}
	// Nobody reads FailedCh while the evals fail.
	for i := 0; i < n; i++ {
		e, token := mustDequeueEval(t, b)
		if err := b.Nack(e.ID, token); err != nil {
			t.Fatal(err)
		}
	}
	checkBrokerStats(t, b, BrokerStats{TotalFailed: n})
	for i := 0; i < n; i++ {
		select {
		case f := <-b.FailedCh():
			if want := fmt.Sprint("e", i); f.ID != want {
				t.Fatalf("failed eval %d is %s, want %s", i, f.ID, want)
			}
		case <-time.After(brokerTestTimeout):
			t.Fatalf("only %d of %d failed evals delivered", i, n)
		}
	}
}

func TestEvalBroker_TokenErrors(t *testing.T) {
	ops := map[string]func(b *EvalBroker, id, token string) error{
		"Ack":              (*EvalBroker).Ack,
		"Nack":             (*EvalBroker).Nack,
		"OutstandingReset": (*EvalBroker).OutstandingReset,
	}
	cases := []struct {
		name string
		// setup returns the id and token to use.
		setup func(t *testing.T, b *EvalBroker) (string, string)
		want  error
	}{
		{
			name:  "unknown eval",
			setup: func(t *testing.T, b *EvalBroker) (string, string) { return "nope", "token" },
			want:  ErrNotOutstanding,
		},
		{
			name: "ready but not dequeued",
			setup: func(t *testing.T, b *EvalBroker) (string, string) {
				b.Enqueue(brokerTestEval("e", "j", 50, 1))
				return "e", "token"
			},
			want: ErrNotOutstanding,
		},
		{
			name: "wrong token",
			setup: func(t *testing.T, b *EvalBroker) (string, string) {
				b.Enqueue(brokerTestEval("e", "j", 50, 1))
				e, _ := mustDequeueEval(t, b)
				return e.ID, "not-the-token"
			},
			want: ErrTokenMismatch,
		},
		{
			name: "already acked",
			setup: func(t *testing.T, b *EvalBroker) (string, string) {
				b.Enqueue(brokerTestEval("e", "j", 50, 1))
				e, token := mustDequeueEval(t, b)
				mustAck(t, b, e.ID, token)
				return e.ID, token
			},
			want: ErrNotOutstanding,
		},
	}
	for _, tc := range cases {
		for opName, op := range ops {
			t.Run(tc.name+"/"+opName, func(t *testing.T) {
				b := newTestEvalBroker(t, time.Minute, 3)
				id, token := tc.setup(t, b)
				if err := op(b, id, token); !errors.Is(err, tc.want) {
					t.Fatalf("%s(%s) = %v, want %v", opName, id, err, tc.want)
				}
			})
		}
	}
}

func TestEvalBroker_OutstandingResetExtends(t *testing.T) {
	const nackTimeout = 100 * time.Millisecond
	b := newTestEvalBroker(t, nackTimeout, 3)
	b.Enqueue(brokerTestEval("e", "j", 50, 1))
	e, token := mustDequeueEval(t, b)

	// Keep resetting well inside the timeout for three timeouts' worth;
	// a competing Dequeue must get nothing meanwhile.
	stop := make(chan struct{})
	resetErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(nackTimeout / 5)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				resetErr <- nil
				return
			case <-tick.C:
				if err := b.OutstandingReset(e.ID, token); err != nil {
					resetErr <- err
					return
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*nackTimeout)
	got, _, err := b.Dequeue(ctx, []string{structs.JobTypeService})
	cancel()
	close(stop)
	if err == nil {
		t.Fatalf("eval %s redelivered although its worker kept resetting", got.ID)
	}
	if err := <-resetErr; err != nil {
		t.Fatalf("OutstandingReset: %v", err)
	}
	if cur, ok := b.Outstanding(e.ID); !ok || cur != token {
		t.Fatalf("Outstanding = %q, %v; want the original token", cur, ok)
	}

	// Once the resets stop, the timer fires again.
	again, token2 := mustDequeueEval(t, b)
	if again.ID != e.ID || token2 == token {
		t.Fatalf("redelivered %s/%s after resets stopped", again.ID, token2)
	}
}

func TestEvalBroker_Delayed(t *testing.T) {
	const wait = 60 * time.Millisecond
	cases := []struct {
		name string
		set  func(e *structs.Evaluation)
	}{
		{"WaitUntil", func(e *structs.Evaluation) { e.WaitUntil = time.Now().Add(wait) }},
		{"Wait", func(e *structs.Evaluation) { e.Wait = wait }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestEvalBroker(t, time.Minute, 3)
			start := time.Now()
			later := brokerTestEval("later", "j1", 90, 1)
			tc.set(later)
			b.Enqueue(later)
			b.Enqueue(brokerTestEval("now", "j2", 10, 2))
			checkBrokerStats(t, b, BrokerStats{TotalReady: 1, TotalWaiting: 1})

			e, token := mustDequeueEval(t, b)
			if e.ID != "now" {
				t.Fatalf("dequeued %s first, want now (later is delayed)", e.ID)
			}
			mustAck(t, b, e.ID, token)

			e, token = mustDequeueEval(t, b)
			if e.ID != "later" {
				t.Fatalf("dequeued %s, want later", e.ID)
			}
			if elapsed := time.Since(start); elapsed < wait {
				t.Fatalf("delayed eval ready after %v, want at least %v", elapsed, wait)
			}
			mustAck(t, b, e.ID, token)
			checkBrokerStats(t, b, BrokerStats{})
		})
	}

	t.Run("past WaitUntil is ready at once", func(t *testing.T) {
		b := newTestEvalBroker(t, time.Minute, 3)
		e := brokerTestEval("past", "j", 50, 1)
		e.WaitUntil = time.Now().Add(-time.Minute)
		b.Enqueue(e)
		checkBrokerStats(t, b, BrokerStats{TotalReady: 1})
	})

	t.Run("several delays fire in order", func(t *testing.T) {
		b := newTestEvalBroker(t, time.Minute, 3)
		now := time.Now()
		for i, d := range []int{3, 1, 2} {
			e := brokerTestEval(fmt.Sprint("d", d), fmt.Sprint("j", i), 50, 0)
			e.WaitUntil = now.Add(time.Duration(d) * 20 * time.Millisecond)
			b.Enqueue(e)
		}
		for _, want := range []string{"d1", "d2", "d3"} {
			e, token := mustDequeueEval(t, b)
			if e.ID != want {
				t.Fatalf("dequeued %s, want %s", e.ID, want)
			}
			mustAck(t, b, e.ID, token)
		}
	})
}

func TestEvalBroker_DisableAndReenable(t *testing.T) {
	b := newTestEvalBroker(t, 50*time.Millisecond, 3)
	delayed := brokerTestEval("delayed", "d", 50, 3)
	delayed.WaitUntil = time.Now().Add(50 * time.Millisecond)
	b.Enqueue(brokerTestEval("a1", "a", 50, 1))
	b.Enqueue(brokerTestEval("a2", "a", 50, 2))
	b.Enqueue(delayed)
	a1, token := mustDequeueEval(t, b)

	b.SetEnabled(false)
	if b.Enabled() {
		t.Fatal("still enabled")
	}
	checkBrokerStats(t, b, BrokerStats{})
	if err := b.Ack(a1.ID, token); !errors.Is(err, ErrNotOutstanding) {
		t.Fatalf("Ack after disable: %v, want ErrNotOutstanding", err)
	}
	b.Enqueue(brokerTestEval("ignored", "x", 50, 4))
	checkBrokerStats(t, b, BrokerStats{})

	// A worker waiting while disabled gets work once re-enabled, and
	// nothing from before (timers included) comes back.
	type result struct {
		e   *structs.Evaluation
		err error
	}
	got := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), brokerTestTimeout)
		defer cancel()
		e, _, err := b.Dequeue(ctx, []string{structs.JobTypeService})
		got <- result{e, err}
	}()
	mustNotDequeueEval(t, b) // also gives the old timers time to fire
	b.SetEnabled(true)
	checkBrokerStats(t, b, BrokerStats{})
	b.Enqueue(brokerTestEval("a1", "a", 50, 1)) // known before disable
	r := <-got
	if r.err != nil || r.e.ID != "a1" {
		t.Fatalf("waiting Dequeue = %v, %v; want a1", r.e, r.err)
	}
	checkBrokerStats(t, b, BrokerStats{TotalUnacked: 1})
}

func TestEvalBroker_DisableStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b := NewEvalBroker(time.Hour, 1)
	b.SetEnabled(true)
	delayed := brokerTestEval("delayed", "d", 50, 1)
	delayed.WaitUntil = time.Now().Add(time.Hour)
	b.Enqueue(delayed)
	b.Enqueue(brokerTestEval("inflight", "i", 50, 2))
	b.Enqueue(brokerTestEval("failed", "f", 50, 3))
	mustDequeueEval(t, b) // inflight, nack timer armed
	e, token := mustDequeueEval(t, b)
	if err := b.Nack(e.ID, token); err != nil { // failed, unread on FailedCh
		t.Fatal(err)
	}
	waitForBroker(t, "failed eval", func() bool { return b.Stats().TotalFailed == 1 })
	b.SetEnabled(false)
	waitForBroker(t, "broker goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestEvalBroker_DequeueContextAndTypes(t *testing.T) {
	b := newTestEvalBroker(t, time.Minute, 3)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := b.Dequeue(ctx, []string{structs.JobTypeService}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dequeue with canceled ctx: %v", err)
	}
	if _, _, err := b.Dequeue(context.Background(), nil); err == nil {
		t.Fatal("Dequeue with no types succeeded")
	}

	// Cancel while blocked.
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := b.Dequeue(ctx, []string{structs.JobTypeService})
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Dequeue after cancel: %v", err)
	}

	batch := brokerTestEval("batch", "jb", 50, 1)
	batch.Type = structs.JobTypeBatch
	system := brokerTestEval("system", "js", 80, 2)
	system.Type = structs.JobTypeSystem
	b.Enqueue(batch)
	b.Enqueue(system)
	mustNotDequeueEval(t, b, structs.JobTypeService)

	e, token := mustDequeueEval(t, b, structs.JobTypeService, structs.JobTypeBatch)
	if e.ID != "batch" {
		t.Fatalf("dequeued %s for service+batch, want batch", e.ID)
	}
	mustAck(t, b, e.ID, token)
	b.Enqueue(brokerTestEval("svc", "jv", 50, 3))
	// Across types the higher priority wins.
	e, token = mustDequeueEval(t, b, structs.JobTypeService, structs.JobTypeSystem)
	if e.ID != "system" {
		t.Fatalf("dequeued %s for service+system, want system (priority 80)", e.ID)
	}
	mustAck(t, b, e.ID, token)
}

func TestEvalBroker_EnqueueKnownIDs(t *testing.T) {
	b := newTestEvalBroker(t, time.Minute, 3)
	b.Enqueue(brokerTestEval("e", "j", 50, 1))
	b.Enqueue(brokerTestEval("e", "j", 50, 1)) // duplicate while ready
	checkBrokerStats(t, b, BrokerStats{TotalReady: 1})

	e, token := mustDequeueEval(t, b)
	// Enqueued again while in flight: delivered once more after the ack.
	update := brokerTestEval("e", "j", 50, 1)
	update.ModifyIndex = 7
	b.Enqueue(update)
	checkBrokerStats(t, b, BrokerStats{TotalUnacked: 1})
	mustAck(t, b, e.ID, token)

	again, token := mustDequeueEval(t, b)
	if again != update {
		t.Fatalf("redelivered %+v, want the copy enqueued in flight", again)
	}
	mustAck(t, b, again.ID, token)
	checkBrokerStats(t, b, BrokerStats{})

	// Acked IDs may come back.
	b.Enqueue(brokerTestEval("e", "j", 50, 1))
	checkBrokerStats(t, b, BrokerStats{TotalReady: 1})
}

func TestEvalBroker_Concurrent(t *testing.T) {
	const (
		workers = 8
		evals   = 1000
		jobs    = 50
	)
	b := newTestEvalBroker(t, time.Minute, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var (
		mu        sync.Mutex
		inFlight  = map[string]int{}
		delivered = map[string]int{}
		acked     int
		problems  []string
	)
	allAcked := make(chan struct{})

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			types := []string{structs.JobTypeService, structs.JobTypeBatch}
			for {
				e, token, err := b.Dequeue(ctx, types)
				if err != nil {
					return
				}
				mu.Lock()
				inFlight[e.JobID]++
				if n := inFlight[e.JobID]; n > 1 {
					problems = append(problems, fmt.Sprintf("job %s has %d evals in flight", e.JobID, n))
				}
				delivered[e.ID]++
				mu.Unlock()

				runtime.Gosched() // let other workers run while we "schedule"

				// Leave the job before acking: after the ack the job's
				// next eval may be dequeued at once.
				mu.Lock()
				inFlight[e.JobID]--
				mu.Unlock()
				if err := b.Ack(e.ID, token); err != nil {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("ack %s: %v", e.ID, err))
					mu.Unlock()
					continue
				}
				mu.Lock()
				acked++
				mu.Unlock()
			}
		}()
	}

	// Enqueue from two goroutines while the workers run.
	var enq sync.WaitGroup
	for part := 0; part < 2; part++ {
		enq.Add(1)
		go func() {
			defer enq.Done()
			for i := part; i < evals; i += 2 {
				e := brokerTestEval(fmt.Sprintf("eval-%04d", i), fmt.Sprintf("job-%02d", i%jobs), 10+i%7*10, uint64(i+1))
				if i%3 == 0 {
					e.Type = structs.JobTypeBatch
				}
				b.Enqueue(e)
			}
		}()
	}
	enq.Wait()

	// Every evaluation is either run and acked, or superseded by a newer
	// one of its job (and handed over to be canceled), exactly once.
	superseded := map[string]bool{}
	go func() {
		for ctx.Err() == nil {
			for _, e := range b.TakeSuperseded(100) {
				mu.Lock()
				superseded[e.ID] = true
				mu.Unlock()
			}
			mu.Lock()
			done := acked+len(superseded) == evals
			mu.Unlock()
			if done {
				close(allAcked)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	select {
	case <-allAcked:
	case <-ctx.Done():
		mu.Lock()
		n, s := acked, len(superseded)
		mu.Unlock()
		t.Fatalf("only %d of %d evals acked and %d superseded; stats %+v", n, evals, s, b.Stats())
	}
	cancel()
	wg.Wait()

	for _, p := range problems {
		t.Error(p)
	}
	if len(delivered)+len(superseded) != evals {
		t.Errorf("%d distinct evals delivered and %d superseded, want %d in all", len(delivered), len(superseded), evals)
	}
	for id := range superseded {
		if delivered[id] > 0 {
			t.Errorf("eval %s was both delivered and superseded", id)
		}
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("eval %s delivered %d times", id, n)
		}
	}
	checkBrokerStats(t, b, BrokerStats{})
}
