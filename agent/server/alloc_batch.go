package server

import (
	"sync"
	"time"

	"drover/agent/structs"
)

// allocUpdateBatchInterval is how long the leader gathers client
// allocation updates before committing them as one raft entry. Every
// client reports its allocations on its own, and a busy cluster's reports
// arrive by the thousand: one entry per report made the log, and the FSM
// that applies it one transaction at a time, the bottleneck of the whole
// server. 50 ms is what Nomad-compatible servers wait; a client's own
// updates already wait longer than that.
const allocUpdateBatchInterval = 50 * time.Millisecond

// allocUpdateBatch is the updates gathered for one raft entry. Each
// caller waits for done and then reads index and err, which the commit
// sets once for all of them.
type allocUpdateBatch struct {
	allocs []*structs.Allocation
	evals  []*structs.Evaluation
	// evalFor remembers the jobs that already have a retry evaluation in
	// this batch: one evaluation per job is enough, however many of its
	// allocations failed.
	evalFor map[nsJob]bool
	done    chan struct{}
	index   uint64
	err     error
}

type nsJob struct{ namespace, id string }

// allocBatcher hands out the open batch and commits it when its interval
// is over.
type allocBatcher struct {
	srv      *Server
	interval time.Duration
	mu       sync.Mutex
	open     *allocUpdateBatch
}

// add puts a report's allocations, and the retry evaluations of failed
// ones not yet in the batch, into the open batch and returns it.
func (b *allocBatcher) add(allocs []*structs.Allocation, failedJobs []*structs.Job, ts time.Time) *allocUpdateBatch {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil {
		b.open = &allocUpdateBatch{evalFor: map[nsJob]bool{}, done: make(chan struct{})}
		batch := b.open
		time.AfterFunc(b.interval, func() { b.commit(batch) })
	}
	batch := b.open
	batch.allocs = append(batch.allocs, allocs...)
	for _, job := range failedJobs {
		k := nsJob{job.Namespace, job.ID}
		if batch.evalFor[k] {
			continue
		}
		batch.evalFor[k] = true
		batch.evals = append(batch.evals, structs.NewEval(job, structs.EvalTriggerRetryFailedAlloc, ts))
	}
	return batch
}

// commit closes the batch to new updates and applies it.
func (b *allocBatcher) commit(batch *allocUpdateBatch) {
	b.mu.Lock()
	if b.open == batch {
		b.open = nil
	}
	b.mu.Unlock()
	batch.index, batch.err = b.srv.apply(AllocClientUpdateRequestType, &AllocClientUpdateRequest{Allocs: batch.allocs, Evals: batch.evals})
	close(batch.done)
}

// wait blocks until the batch is committed or the server shuts down.
func (b *allocBatcher) wait(batch *allocUpdateBatch) (uint64, error) {
	select {
	case <-batch.done:
		return batch.index, batch.err
	case <-b.srv.shutdownCtx.Done():
		return 0, ErrNotLeader
	}
}
