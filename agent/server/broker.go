// The evaluation broker is the leader's in-memory queue of evaluations. It
// is not replicated: the state store is the record of which evaluations are
// unfinished, and a new leader rebuilds the broker from it. What the broker
// adds is delivery: it hands each evaluation to one scheduler worker at a
// time, takes it back if the worker fails or goes quiet, and gives up on it
// after a bounded number of deliveries.
//
// Life of an evaluation in the broker:
//
//	Enqueue ──► waiting (Wait / WaitUntil) ──┐
//	   │                                     ▼
//	   └──────────────────────────────► admit: job busy? ──yes──► pending (per job)
//	                                          │ no                     │ job's eval acked or failed
//	                                          ▼                        │
//	                 ┌───────────────────► ready ◄─────────────────────┘
//	                 │                        │ Dequeue (token, nack timer)
//	      requeue    │                        ▼
//	      delay      └──── nacked ◄───── unacked ──── Ack ───► forgotten
//	                          │ delivery limit reached
//	                          ▼
//	                      FailedCh

package server

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"drover/agent/structs"
)

// Sentinel errors of the broker, for workers to branch on.
var (
	// ErrNotOutstanding means the evaluation is not in flight: it was never
	// dequeued, was already acked or nacked (possibly by its nack timer), or
	// the broker was disabled since. The worker no longer owns it and must
	// not assume its result was accepted by the broker.
	ErrNotOutstanding = errors.New("evaluation is not outstanding")

	// ErrTokenMismatch means the evaluation is in flight under another
	// delivery: the caller's delivery timed out and the evaluation was
	// handed to someone else, who now owns it.
	ErrTokenMismatch = errors.New("evaluation token does not match")

	// errNoSchedulerTypes rejects a Dequeue that could never return.
	errNoSchedulerTypes = errors.New("dequeue: no scheduler types given")
)

// Defaults for the requeue delay after a nack. The first retry is immediate
// because most nacks are transient (a plan raced with another); later ones
// back off so a poisonous evaluation does not spin the workers before it
// reaches the delivery limit.
const (
	DefaultInitialNackDelay    = 0
	DefaultSubsequentNackDelay = 250 * time.Millisecond
	DefaultMaxNackDelay        = time.Second
)

// BrokerStats is a point-in-time count of the broker's evaluations by
// state, for metrics and for tests that wait for the broker to drain.
type BrokerStats struct {
	// TotalReady evaluations can be dequeued now.
	TotalReady int
	// TotalUnacked evaluations are with a worker.
	TotalUnacked int
	// TotalBlocked evaluations wait behind another evaluation of the same
	// job (not to be confused with BlockedEvals, which wait for capacity).
	TotalBlocked int
	// TotalWaiting evaluations wait for their Wait/WaitUntil time or for
	// the requeue delay after a nack.
	TotalWaiting int
	// TotalFailed evaluations exceeded the delivery limit and have not yet
	// been received from FailedCh.
	TotalFailed int
}

// EvalBroker hands evaluations to scheduler workers with at-least-once
// delivery. Only the raft leader enables it. It is safe for concurrent use.
//
// Ordering: ready evaluations leave by Priority (highest first), then by
// CreateIndex (oldest first), then by enqueue order. An evaluation without
// a CreateIndex (not yet written to raft; only tests do that) sorts before
// indexed ones of its priority, which keeps the order a strict total order.
//
// One evaluation per job: at most one evaluation of a job (Namespace and
// JobID) is ready or in flight. Two schedulers working on one job at once
// would produce plans that conflict, and the second would mostly be thrown
// away by the plan applier. Later evaluations of the job wait in a per-job
// pending list; when the current one is acked or fails, the newest of them
// (by CreateIndex, then enqueue order) is released and the others are
// superseded: they would schedule the same job against the same state.
// Each is a record in the state store that must reach a terminal status,
// so the leader takes them (TakeSuperseded) and marks them canceled
// through raft, as Nomad does.
// Evaluations with an empty JobID are not serialised.
//
// The broker keeps the *Evaluation it was given and hands that same pointer
// out; it never modifies it, and neither may workers (copy first).
type EvalBroker struct {
	// InitialNackDelay is how long a nacked evaluation waits before it is
	// ready again after its first delivery.
	InitialNackDelay time.Duration
	// SubsequentNackDelay is the step by which the requeue delay grows with
	// each further delivery: after delivery n (n ≥ 2) the delay is
	// (n-1) × SubsequentNackDelay.
	SubsequentNackDelay time.Duration
	// MaxNackDelay caps the requeue delay; zero means no cap.
	MaxNackDelay time.Duration
	// The three delays above are read under the broker's lock; set them
	// before the broker is shared (tests set them to zero).

	nackTimeout   time.Duration
	deliveryLimit int

	// enableMu serialises SetEnabled, which waits for the failed-eval
	// forwarder outside mu.
	enableMu sync.Mutex

	mu      sync.Mutex
	enabled bool
	epoch   uint64 // bumped on every SetEnabled; stale timers compare it
	seq     uint64 // enqueue order

	evals   map[string]*brokerEntry      // every eval the broker holds, by ID
	ready   map[string]*brokerHeap       // by scheduler type
	jobs    map[brokerJobKey]string      // job → ID of its ready or unacked eval
	pending map[brokerJobKey]*brokerHeap // job → evals waiting for the job
	delayed *brokerHeap                  // evals waiting for their time

	// superseded are pending evaluations a newer one of the same job made
	// redundant; the leader marks them canceled through raft.
	superseded []*structs.Evaluation

	delayTimer *time.Timer
	delayGen   uint64

	// wake is closed (and replaced) whenever an eval becomes ready, waking
	// every blocked Dequeue to look again. With a handful of workers the
	// herd is cheap and the logic stays obviously correct.
	wake chan struct{}

	// failed holds evals that exceeded the delivery limit, oldest first,
	// until the forwarder hands them to FailedCh. The slice rather than a
	// buffered channel means the broker never blocks or drops on a slow
	// leader.
	failed     []*structs.Evaluation
	failedCh   chan *structs.Evaluation
	failedKick chan struct{}
	failedStop chan struct{}
	failedDone chan struct{}
}

type brokerJobKey struct {
	namespace string
	jobID     string
}

type brokerState int

const (
	brokerWaiting   brokerState = iota // in the delay heap
	brokerPending                      // behind its job's current eval
	brokerReady                        // in a ready heap
	brokerUnacked                      // with a worker
	brokerNackDelay                    // nacked, waiting for its requeue delay
)

// brokerEntry is the broker's record of one evaluation.
type brokerEntry struct {
	eval       *structs.Evaluation
	seq        uint64
	state      brokerState
	readyAt    time.Time // brokerWaiting only
	deliveries int
	token      string // brokerUnacked only

	// timer is the nack timer (brokerUnacked) or the requeue timer
	// (brokerNackDelay). timerGen tells a firing that lost a race with
	// Ack, OutstandingReset or a new delivery that it is stale.
	timer    *time.Timer
	timerGen uint64

	// requeue is a newer copy of the eval enqueued while it was in flight.
	// Dropping it would lose whatever made the caller enqueue it again, so
	// the eval is delivered once more after the ack.
	requeue *structs.Evaluation
}

// NewEvalBroker returns a disabled broker. A dequeued evaluation that is
// not acked within nackTimeout is nacked for the worker (zero or less
// disables the timer); after deliveryLimit deliveries a nacked evaluation
// goes to FailedCh (zero or less means no limit).
func NewEvalBroker(nackTimeout time.Duration, deliveryLimit int) *EvalBroker {
	b := &EvalBroker{
		InitialNackDelay:    DefaultInitialNackDelay,
		SubsequentNackDelay: DefaultSubsequentNackDelay,
		MaxNackDelay:        DefaultMaxNackDelay,
		nackTimeout:         nackTimeout,
		deliveryLimit:       deliveryLimit,
		wake:                make(chan struct{}),
		failedCh:            make(chan *structs.Evaluation),
		failedKick:          make(chan struct{}, 1),
	}
	b.resetLocked()
	return b
}

// SetEnabled turns the broker on when this server becomes leader and off
// when it stops being leader. Disabling drops every evaluation the broker
// holds (queued, in flight, delayed or failed but not yet received) and
// stops its timers; the new leader rebuilds its broker from state. Blocked
// Dequeue calls keep waiting until the broker is enabled again or their
// context ends.
func (b *EvalBroker) SetEnabled(enabled bool) {
	b.enableMu.Lock()
	defer b.enableMu.Unlock()

	b.mu.Lock()
	if b.enabled == enabled {
		b.mu.Unlock()
		return
	}
	b.enabled = enabled
	b.epoch++
	var done chan struct{}
	if enabled {
		b.failedStop = make(chan struct{})
		b.failedDone = make(chan struct{})
		go b.forwardFailed(b.epoch, b.failedStop, b.failedDone)
		b.wakeLocked()
	} else {
		b.resetLocked()
		close(b.failedStop)
		done = b.failedDone
		b.failedStop, b.failedDone = nil, nil
	}
	b.mu.Unlock()

	if done != nil {
		<-done // the forwarder takes mu, so wait outside it
	}
}

// Enabled reports whether the broker is enabled, i.e. this server leads.
func (b *EvalBroker) Enabled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.enabled
}

// resetLocked forgets everything and stops every timer.
func (b *EvalBroker) resetLocked() {
	for _, e := range b.evals {
		stopEntryTimer(e)
	}
	if b.delayTimer != nil {
		b.delayTimer.Stop()
		b.delayTimer = nil
	}
	b.evals = make(map[string]*brokerEntry)
	b.ready = make(map[string]*brokerHeap)
	b.jobs = make(map[brokerJobKey]string)
	b.pending = make(map[brokerJobKey]*brokerHeap)
	b.delayed = &brokerHeap{less: delayLess}
	b.failed = nil
	b.superseded = nil
}

// Enqueue adds an evaluation. It is ignored while the broker is disabled
// (the next leader restores from state) and when the broker already holds
// an evaluation with that ID; an ID that was acked may be enqueued again.
// If the evaluation is in flight, the new copy is delivered again after the
// ack, because whatever enqueued it again happened after the worker took
// its snapshot. Callers enqueue only pending evaluations.
func (b *EvalBroker) Enqueue(eval *structs.Evaluation) {
	if eval == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled {
		return
	}
	b.enqueueLocked(eval)
}

func (b *EvalBroker) enqueueLocked(eval *structs.Evaluation) {
	if e, ok := b.evals[eval.ID]; ok {
		if e.state == brokerUnacked {
			e.requeue = eval
		}
		return
	}
	b.seq++
	e := &brokerEntry{eval: eval, seq: b.seq}
	b.evals[eval.ID] = e

	now := time.Now()
	readyAt := eval.WaitUntil
	if eval.Wait > 0 {
		if t := now.Add(eval.Wait); t.After(readyAt) {
			readyAt = t
		}
	}
	if readyAt.After(now) {
		e.state = brokerWaiting
		e.readyAt = readyAt
		heap.Push(b.delayed, e)
		b.armDelayTimerLocked()
		return
	}
	b.admitLocked(e)
}

// admitLocked makes e ready, or pending if its job already has an eval
// ready or in flight.
func (b *EvalBroker) admitLocked(e *brokerEntry) {
	if e.eval.JobID != "" {
		key := jobKeyOf(e.eval)
		if _, busy := b.jobs[key]; busy {
			e.state = brokerPending
			h := b.pending[key]
			if h == nil {
				h = &brokerHeap{less: pendingLess}
				b.pending[key] = h
			}
			heap.Push(h, e)
			return
		}
		b.jobs[key] = e.eval.ID
	}
	b.readyLocked(e)
}

func (b *EvalBroker) readyLocked(e *brokerEntry) {
	e.state = brokerReady
	h := b.ready[e.eval.Type]
	if h == nil {
		h = &brokerHeap{less: readyLess}
		b.ready[e.eval.Type] = h
	}
	heap.Push(h, e)
	b.wakeLocked()
}

// releaseJobLocked frees e's job for its next pending eval.
func (b *EvalBroker) releaseJobLocked(e *brokerEntry) {
	if e.eval.JobID == "" {
		return
	}
	key := jobKeyOf(e.eval)
	if b.jobs[key] != e.eval.ID {
		return
	}
	delete(b.jobs, key)
	h := b.pending[key]
	if h == nil {
		return
	}
	// Every waiting evaluation would schedule the same job against the
	// same (newest) state, so only the newest runs; the others are
	// superseded and canceled, as in Nomad. Without this a busy job's
	// evaluations pile up faster than they can run.
	delete(b.pending, key)
	var next *brokerEntry
	for h.Len() > 0 {
		e := heap.Pop(h).(*brokerEntry)
		if next != nil {
			delete(b.evals, next.eval.ID)
			b.superseded = append(b.superseded, next.eval)
		}
		next = e
	}
	b.jobs[key] = next.eval.ID
	b.readyLocked(next)
}

// TakeSuperseded returns (and forgets) up to max evaluations that a newer
// one of the same job made redundant, for the leader to cancel.
func (b *EvalBroker) TakeSuperseded(max int) []*structs.Evaluation {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(max, len(b.superseded))
	out := append([]*structs.Evaluation(nil), b.superseded[:n]...)
	b.superseded = b.superseded[n:]
	return out
}

func (b *EvalBroker) wakeLocked() {
	close(b.wake)
	b.wake = make(chan struct{})
}

// Dequeue blocks until an evaluation of one of the scheduler types is
// ready, and hands it out with a token that the worker must pass to Ack,
// Nack or OutstandingReset. It returns ctx.Err() when ctx ends first. While
// the broker is disabled it just waits: a follower's workers idle here
// until their server becomes leader.
func (b *EvalBroker) Dequeue(ctx context.Context, types []string) (*structs.Evaluation, string, error) {
	if len(types) == 0 {
		return nil, "", errNoSchedulerTypes
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		b.mu.Lock()
		if b.enabled {
			if e := b.popReadyLocked(types); e != nil {
				e.state = brokerUnacked
				e.deliveries++
				e.token = structs.GenerateUUID()
				b.armNackTimerLocked(e)
				eval, token := e.eval, e.token
				b.mu.Unlock()
				return eval, token, nil
			}
		}
		wake := b.wake
		b.mu.Unlock()

		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-wake:
		}
	}
}

// popReadyLocked takes the best ready eval across the given types.
func (b *EvalBroker) popReadyLocked(types []string) *brokerEntry {
	var best *brokerHeap
	for _, t := range types {
		h := b.ready[t]
		if h == nil || h.Len() == 0 {
			continue
		}
		if best == nil || readyLess(h.items[0], best.items[0]) {
			best = h
		}
	}
	if best == nil {
		return nil
	}
	return heap.Pop(best).(*brokerEntry)
}

// outstandingLocked finds the in-flight eval that token was issued for.
func (b *EvalBroker) outstandingLocked(evalID, token string) (*brokerEntry, error) {
	e, ok := b.evals[evalID]
	if !ok || e.state != brokerUnacked {
		return nil, fmt.Errorf("evaluation %s: %w", evalID, ErrNotOutstanding)
	}
	if e.token != token {
		return nil, fmt.Errorf("evaluation %s: %w", evalID, ErrTokenMismatch)
	}
	return e, nil
}

// Ack records that the worker finished the evaluation: the broker forgets
// it and releases the job's next pending evaluation.
func (b *EvalBroker) Ack(evalID, token string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, err := b.outstandingLocked(evalID, token)
	if err != nil {
		return err
	}
	stopEntryTimer(e)
	delete(b.evals, evalID)
	b.releaseJobLocked(e)
	if e.requeue != nil {
		b.enqueueLocked(e.requeue)
	}
	return nil
}

// Nack gives the evaluation back because the worker could not finish it.
// It is redelivered after the requeue delay, keeping its job's slot, or
// sent to FailedCh once it has been delivered deliveryLimit times.
func (b *EvalBroker) Nack(evalID, token string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, err := b.outstandingLocked(evalID, token)
	if err != nil {
		return err
	}
	b.nackLocked(e)
	return nil
}

func (b *EvalBroker) nackLocked(e *brokerEntry) {
	stopEntryTimer(e)
	e.token = ""
	if e.requeue != nil {
		e.eval, e.requeue = e.requeue, nil
	}
	if b.deliveryLimit > 0 && e.deliveries >= b.deliveryLimit {
		delete(b.evals, e.eval.ID)
		b.releaseJobLocked(e)
		b.failed = append(b.failed, e.eval)
		select {
		case b.failedKick <- struct{}{}:
		default:
		}
		return
	}
	delay := b.nackDelayLocked(e.deliveries)
	if delay <= 0 {
		b.readyLocked(e)
		return
	}
	e.state = brokerNackDelay
	e.timerGen++
	gen, epoch := e.timerGen, b.epoch
	e.timer = time.AfterFunc(delay, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.epoch != epoch || b.evals[e.eval.ID] != e || e.state != brokerNackDelay || e.timerGen != gen {
			return
		}
		e.timer = nil
		b.readyLocked(e)
	})
}

func (b *EvalBroker) nackDelayLocked(deliveries int) time.Duration {
	if deliveries <= 1 {
		return b.InitialNackDelay
	}
	d := time.Duration(deliveries-1) * b.SubsequentNackDelay
	if b.MaxNackDelay > 0 && d > b.MaxNackDelay {
		d = b.MaxNackDelay
	}
	return d
}

// OutstandingReset restarts the nack timer of an in-flight evaluation, for
// a worker that is still busy with it (for example, waiting for its plan)
// and would otherwise lose it to redelivery.
func (b *EvalBroker) OutstandingReset(evalID, token string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, err := b.outstandingLocked(evalID, token)
	if err != nil {
		return err
	}
	stopEntryTimer(e)
	b.armNackTimerLocked(e)
	return nil
}

// Outstanding returns the token of an in-flight evaluation, so the leader
// can check that a plan comes from the worker that owns the evaluation.
func (b *EvalBroker) Outstanding(evalID string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.evals[evalID]
	if !ok || e.state != brokerUnacked {
		return "", false
	}
	return e.token, true
}

func (b *EvalBroker) armNackTimerLocked(e *brokerEntry) {
	if b.nackTimeout <= 0 {
		return
	}
	e.timerGen++
	gen, epoch := e.timerGen, b.epoch
	e.timer = time.AfterFunc(b.nackTimeout, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.epoch != epoch || b.evals[e.eval.ID] != e || e.state != brokerUnacked || e.timerGen != gen {
			return // acked, reset or redelivered meanwhile
		}
		b.nackLocked(e)
	})
}

// stopEntryTimer stops e's timer. A firing already waiting for the lock
// finds its generation stale and does nothing.
func stopEntryTimer(e *brokerEntry) {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	e.timerGen++
}

// armDelayTimerLocked points the single delay timer at the earliest
// waiting eval. One timer for the whole heap keeps the number of pending
// runtime timers independent of how many evals wait.
func (b *EvalBroker) armDelayTimerLocked() {
	if b.delayTimer != nil {
		b.delayTimer.Stop()
		b.delayTimer = nil
	}
	b.delayGen++
	if b.delayed.Len() == 0 {
		return
	}
	gen, epoch := b.delayGen, b.epoch
	b.delayTimer = time.AfterFunc(time.Until(b.delayed.items[0].readyAt), func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.epoch != epoch || b.delayGen != gen {
			return
		}
		b.delayTimer = nil
		now := time.Now()
		for b.delayed.Len() > 0 && !b.delayed.items[0].readyAt.After(now) {
			b.admitLocked(heap.Pop(b.delayed).(*brokerEntry))
		}
		b.armDelayTimerLocked()
	})
}

// FailedCh delivers evaluations that exceeded the delivery limit, so the
// leader can mark them failed through raft. The channel is the same for the
// broker's whole life; nothing is sent on it while the broker is disabled.
func (b *EvalBroker) FailedCh() <-chan *structs.Evaluation {
	return b.failedCh
}

// forwardFailed feeds FailedCh from the failed slice while the broker is
// enabled (one forwarder per enabled period, identified by epoch). An eval
// leaves the slice only once received, so Stats counts it until then.
func (b *EvalBroker) forwardFailed(epoch uint64, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		b.mu.Lock()
		var next *structs.Evaluation
		if b.epoch == epoch && len(b.failed) > 0 {
			next = b.failed[0]
		}
		b.mu.Unlock()

		if next == nil {
			select {
			case <-b.failedKick:
				continue
			case <-stop:
				return
			}
		}
		select {
		case b.failedCh <- next:
			b.mu.Lock()
			if b.epoch == epoch && len(b.failed) > 0 {
				b.failed[0] = nil
				b.failed = b.failed[1:]
			}
			b.mu.Unlock()
		case <-stop:
			return
		}
	}
}

// Stats counts the broker's evaluations by state.
func (b *EvalBroker) Stats() BrokerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s BrokerStats
	for _, e := range b.evals {
		switch e.state {
		case brokerReady:
			s.TotalReady++
		case brokerUnacked:
			s.TotalUnacked++
		case brokerPending:
			s.TotalBlocked++
		case brokerWaiting, brokerNackDelay:
			s.TotalWaiting++
		}
	}
	s.TotalFailed = len(b.failed)
	return s
}

func jobKeyOf(e *structs.Evaluation) brokerJobKey {
	return brokerJobKey{namespace: e.Namespace, jobID: e.JobID}
}

// readyLess orders ready evals: higher priority first, then older
// CreateIndex, then earlier enqueue.
func readyLess(a, b *brokerEntry) bool {
	if a.eval.Priority != b.eval.Priority {
		return a.eval.Priority > b.eval.Priority
	}
	return pendingLess(a, b)
}

// pendingLess orders a job's pending evals oldest first.
func pendingLess(a, b *brokerEntry) bool {
	if a.eval.CreateIndex != b.eval.CreateIndex {
		return a.eval.CreateIndex < b.eval.CreateIndex
	}
	return a.seq < b.seq
}

// delayLess orders waiting evals by the time they become ready.
func delayLess(a, b *brokerEntry) bool {
	if !a.readyAt.Equal(b.readyAt) {
		return a.readyAt.Before(b.readyAt)
	}
	return a.seq < b.seq
}

// brokerHeap is a container/heap of entries under one of the orders above.
type brokerHeap struct {
	items []*brokerEntry
	less  func(a, b *brokerEntry) bool
}

func (h *brokerHeap) Len() int           { return len(h.items) }
func (h *brokerHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *brokerHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *brokerHeap) Push(x any)         { h.items = append(h.items, x.(*brokerEntry)) }
func (h *brokerHeap) Pop() any {
	n := len(h.items) - 1
	e := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	return e
}
