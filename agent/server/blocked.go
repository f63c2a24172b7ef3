// Blocked evaluations are the leader's record of jobs that could not place
// everything for lack of capacity. Like the broker, the set is in memory
// only and rebuilt from state by a new leader.
//
// A capacity change (a node joins, becomes ready or eligible, an
// allocation stops) names the nodes it happened on, and unblocks only the
// evaluations it can help, as a Nomad-compatible server does:
//
//   - not those whose job cannot use the node at all: another datacenter
//     or node pool than the job's;
//   - not those that recorded the node's computed class as ineligible
//     (no node of the class passed the job's constraints and drivers);
//   - all others: the class was eligible, or unknown to the evaluation
//     (its nodes were not candidates when it was scheduled), or the
//     evaluation escaped class bookkeeping (constraints on unique node
//     properties), or the node has no class.
//
// When the nodes of a change are not known, everything is unblocked. A
// wrong "cannot help" would leave a job waiting forever, so every rule
// errs towards unblocking; a pass that still cannot place blocks again.

package server

import (
	"path"
	"sort"
	"sync"

	"drover/agent/structs"
)

// BlockedEvals holds at most one blocked evaluation per job until capacity
// that can help it appears, then hands it back to the broker. Only the
// leader enables it. It is safe for concurrent use; its methods never
// block, so the FSM can call them while applying.
type BlockedEvals struct {
	broker *EvalBroker
	// jobScope returns the datacenters and node pool a job places in, or
	// ok false if the job is unknown (then any node may help it). Nil
	// means no scope is known for any job.
	jobScope func(namespace, jobID string) (datacenters []string, pool string, ok bool)

	mu      sync.Mutex
	enabled bool
	jobs    map[brokerJobKey]*blockedEval

	// A scheduler that took its snapshot before a capacity change judged
	// capacity as it was before it; if its blocked evaluation arrives
	// after the change it would otherwise wait for the next one, which
	// may never come. So the set remembers the index of the latest change
	// on each class of node (classIndex), and of the latest change whose
	// nodes were unknown (lastUnblockAll), and Block checks them.
	classIndex     map[NodeCapacity]uint64
	lastUnblockAll uint64
}

// NodeCapacity names a node on which capacity changed by what decides
// which blocked evaluations it can help.
type NodeCapacity struct {
	Class      string // computed class; "" if unknown
	Datacenter string
	Pool       string
}

// blockedEval is a tracked evaluation with the placement scope of its job
// as it was when it blocked (a newer version of the job supersedes the
// evaluation, see UntrackJob).
type blockedEval struct {
	eval        *structs.Evaluation
	scoped      bool
	datacenters []string
	pool        string
}

// helps reports whether capacity on node can help the evaluation.
func (b *blockedEval) helps(node NodeCapacity) bool {
	if b.scoped {
		// The placer only considers nodes of the job's datacenters and
		// pool (see scheduler.newPlacer).
		if !inDatacenters(node.Datacenter, b.datacenters) {
			return false
		}
		if node.Pool != "" && b.pool != "" && b.pool != allNodePools && node.Pool != b.pool {
			return false
		}
	}
	if b.eval.EscapedComputedClass || node.Class == "" {
		return true
	}
	eligible, known := b.eval.ClassEligibility[node.Class]
	return !known || eligible
}

// allNodePools is the node pool of a job that may run in any pool.
const allNodePools = "all"

// inDatacenters reports whether dc matches one of the patterns, with the
// scheduler's glob rules; no patterns or a bad pattern count as a match.
func inDatacenters(dc string, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		ok, err := path.Match(p, dc)
		if ok || err != nil {
			return true
		}
	}
	return false
}

// NewBlockedEvals returns a disabled set that unblocks into broker.
// jobScope may be nil.
func NewBlockedEvals(broker *EvalBroker, jobScope func(namespace, jobID string) ([]string, string, bool)) *BlockedEvals {
	return &BlockedEvals{
		broker:     broker,
		jobScope:   jobScope,
		jobs:       make(map[brokerJobKey]*blockedEval),
		classIndex: make(map[NodeCapacity]uint64),
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
		b.jobs = make(map[brokerJobKey]*blockedEval)
		b.classIndex = make(map[NodeCapacity]uint64)
		b.lastUnblockAll = 0
	}
}

// Enabled reports whether this server's set is in use (it leads).
func (b *BlockedEvals) Enabled() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.enabled
}

// Block tracks a blocked evaluation. A job keeps only its newest blocked
// evaluation (higher CreateIndex; on a tie, the later call), because one
// scheduler pass places everything the job still lacks. The evaluation that
// loses is returned so the leader can mark it canceled; that may be the
// argument itself when it is older than the one tracked. Blocking the
// tracked evaluation again (same ID) updates it and returns nil.
//
// If eval.SnapshotIndex is set and capacity that can help it changed
// after that index, the evaluation goes straight back to the broker
// instead of waiting. Disabled, Block does nothing and returns nil.
func (b *BlockedEvals) Block(eval *structs.Evaluation) (replaced *structs.Evaluation) {
	if eval == nil {
		return nil
	}
	entry := &blockedEval{eval: eval}
	if b.jobScope != nil {
		// Outside the lock: it reads the state store.
		entry.datacenters, entry.pool, entry.scoped = b.jobScope(eval.Namespace, eval.JobID)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled {
		return nil
	}
	key := jobKeyOf(eval)
	if cur, ok := b.jobs[key]; ok {
		if cur.eval.ID != eval.ID {
			if eval.CreateIndex < cur.eval.CreateIndex {
				return eval
			}
			replaced = cur.eval
		}
		delete(b.jobs, key)
	}
	if b.missedUnblock(entry) {
		b.broker.Enqueue(unblockedCopy(eval))
		return replaced
	}
	b.jobs[key] = entry
	return replaced
}

// missedUnblock reports whether capacity that can help the evaluation
// changed after the snapshot it was scheduled from.
func (b *BlockedEvals) missedUnblock(e *blockedEval) bool {
	snap := e.eval.SnapshotIndex
	if snap == 0 {
		return false
	}
	if snap < b.lastUnblockAll {
		return true
	}
	for node, index := range b.classIndex {
		if snap < index && e.helps(node) {
			return true
		}
	}
	return false
}

// Unblock is called when capacity changed at raft index on nodes that are
// not known: every tracked evaluation goes back to the broker.
func (b *BlockedEvals) Unblock(index uint64) {
	b.unblock(index, nil, true)
}

// UnblockNodes is called when capacity changed at raft index on the given
// nodes: the evaluations it can help (see the package comment of this
// file) go back to the broker as pending copies and are no longer tracked
// here; the others keep waiting. The originals are not modified (they may
// be shared with the state store).
func (b *BlockedEvals) UnblockNodes(index uint64, nodes []NodeCapacity) {
	b.unblock(index, nodes, false)
}

func (b *BlockedEvals) unblock(index uint64, nodes []NodeCapacity, all bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.enabled {
		return
	}
	if all {
		if index > b.lastUnblockAll {
			b.lastUnblockAll = index
		}
	}
	for _, n := range nodes {
		if index > b.classIndex[n] {
			b.classIndex[n] = index
		}
	}
	if len(b.jobs) == 0 {
		return
	}
	var evals []*structs.Evaluation
	for key, e := range b.jobs {
		if all || helpsAny(e, nodes) {
			evals = append(evals, e.eval)
			delete(b.jobs, key)
		}
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
}

func helpsAny(e *blockedEval, nodes []NodeCapacity) bool {
	for _, n := range nodes {
		if e.helps(n) {
			return true
		}
	}
	return false
}

// UntrackJob forgets the job's blocked evaluation, because the job was
// stopped, purged or updated (its new evaluation supersedes the blocked
// one), and returns it so the leader can cancel it. It returns nil if the
// job had none.
func (b *BlockedEvals) UntrackJob(namespace, jobID string) (removed *structs.Evaluation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := brokerJobKey{namespace: namespace, jobID: jobID}
	if e := b.jobs[key]; e != nil {
		removed = e.eval
	}
	delete(b.jobs, key)
	return removed
}

// Blocked returns the job's tracked blocked evaluation, so a worker can
// reuse its ID instead of creating a second one.
func (b *BlockedEvals) Blocked(namespace, jobID string) (*structs.Evaluation, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.jobs[brokerJobKey{namespace: namespace, jobID: jobID}]
	if !ok {
		return nil, false
	}
	return e.eval, true
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
