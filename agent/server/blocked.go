// Blocked evaluations are the leader's record of jobs that could not place
// everything for lack of capacity. Like the broker, the set is in memory
// only and rebuilt from state by a new leader.
//
// The tracker is deliberately simple: it keeps no per-node-class
// bookkeeping, so any capacity change (a node joins or becomes eligible, an
// allocation stops) unblocks every tracked evaluation. That costs some
// scheduler passes that find nothing new, in exchange for no logic that
// could wrongly decide an evaluation cannot benefit; a pass that still
// cannot place simply blocks again.

package server

import (
	"sort"
	"sync"

	"drover/agent/structs"
)

// BlockedEvals holds at most one blocked evaluation per job until capacity
// changes, then hands them back to the broker. Only the leader enables it.
// It is safe for concurrent use; its methods never block, so the FSM can
// call them while applying.
type BlockedEvals struct {
	broker *EvalBroker

	mu      sync.Mutex
	enabled bool
	jobs    map[brokerJobKey]*structs.Evaluation

	// lastUnblock is the highest index passed to Unblock. A scheduler that
	// took its snapshot before that index judged capacity as it was before
	// the change; if its blocked evaluation arrives after the Unblock it
	// would otherwise wait for the next change, which may never come.
	lastUnblock uint64
}

// NewBlockedEvals returns a disabled set that unblocks into broker.
func NewBlockedEvals(broker *EvalBroker) *BlockedEvals {
	return &BlockedEvals{
		broker: broker,
		jobs:   make(map[brokerJobKey]*structs.Evaluation),
	}
}

// SetEnabled turns the set on when this server becomes leader and off when
// it stops. Disabling forgets every blocked evaluation; the next leader
// re-blocks them from state.
func (b *BlockedEvals) SetEnabled(enabled bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.enabled == enabled {
		return
	}
	b.enabled = enabled
	if !enabled {
		b.jobs = make(map[brokerJobKey]*structs.Evaluation)
		b.lastUnblock = 0
	}
}

// Block tracks a blocked evaluation. A job keeps only its newest blocked
// evaluation (higher CreateIndex; on a tie, the later call), because one
// scheduler pass places everything the job still lacks. The evaluation that
// loses is returned so the leader can mark it canceled; that may be the
// argument itself when it is older than the one tracked. Blocking the
// tracked evaluation again (same ID) updates it and returns nil.
//
// If eval.SnapshotIndex is set and capacity changed after it, the
// evaluation goes straight back to the broker instead of waiting.
// Disabled, Block does nothing and returns nil.
func (b *BlockedEvals) Block(eval *structs.Evaluation) (replaced *structs.Evaluation) {
	if eval == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled {
		return nil
	}
	key := jobKeyOf(eval)
	if cur, ok := b.jobs[key]; ok {
		if cur.ID != eval.ID {
			if eval.CreateIndex < cur.CreateIndex {
				return eval
			}
			replaced = cur
		}
		delete(b.jobs, key)
	}
	if eval.SnapshotIndex != 0 && eval.SnapshotIndex < b.lastUnblock {
		b.broker.Enqueue(unblockedCopy(eval))
		return replaced
	}
	b.jobs[key] = eval
	return replaced
}

// Unblock is called when capacity changed at raft index: every tracked
// evaluation goes back to the broker as a pending copy and is no longer
// tracked here. The originals are not modified (they may be shared with
// the state store).
func (b *BlockedEvals) Unblock(index uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled {
		return
	}
	if index > b.lastUnblock {
		b.lastUnblock = index
	}
	if len(b.jobs) == 0 {
		return
	}
	evals := make([]*structs.Evaluation, 0, len(b.jobs))
	for _, e := range b.jobs {
		evals = append(evals, e)
	}
	// Enqueue in a stable order so equal-priority evals keep their age.
	sort.Slice(evals, func(i, j int) bool {
		if evals[i].CreateIndex != evals[j].CreateIndex {
			return evals[i].CreateIndex < evals[j].CreateIndex
		}
		return evals[i].ID < evals[j].ID
	})
	for _, e := range evals {
		b.broker.Enqueue(unblockedCopy(e))
	}
	b.jobs = make(map[brokerJobKey]*structs.Evaluation)
}

// UntrackJob forgets the job's blocked evaluation, because the job was
// stopped, purged or updated (its new evaluation supersedes the blocked
// one), and returns it so the leader can cancel it. It returns nil if the
// job had none.
func (b *BlockedEvals) UntrackJob(namespace, jobID string) (removed *structs.Evaluation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := brokerJobKey{namespace: namespace, jobID: jobID}
	removed = b.jobs[key]
	delete(b.jobs, key)
	return removed
}

// Blocked returns the job's tracked blocked evaluation, so a worker can
// reuse its ID instead of creating a second one.
func (b *BlockedEvals) Blocked(namespace, jobID string) (*structs.Evaluation, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.jobs[brokerJobKey{namespace: namespace, jobID: jobID}]
	return e, ok
}

// Stats returns how many evaluations are blocked.
func (b *BlockedEvals) Stats() (total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.jobs)
}

func unblockedCopy(e *structs.Evaluation) *structs.Evaluation {
	c := e.Copy()
	c.Status = structs.EvalStatusPending
	c.StatusDescription = ""
	return c
}
