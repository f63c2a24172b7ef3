package state

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hashicorp/go-memdb"
)

// Errors callers branch on. They are wrapped with context ("upsert evals:
// ...") so match them with errors.Is.
var (
	ErrJobNotFound        = errors.New("job not found")
	ErrNodeNotFound       = errors.New("node not found")
	ErrDeploymentNotFound = errors.New("deployment not found")
	// ErrEvalNotFound is not returned by the store (reads return nil for
	// an absent evaluation); it is here so that callers reporting a
	// missing evaluation use the same family of errors as the others.
	ErrEvalNotFound = errors.New("eval not found")
)

// StateStore is the cluster state. It is written only by the raft FSM,
// one transaction per log entry, and read by everyone else, directly or
// through a Snapshot. The read methods are those of reader, which it
// embeds.
type StateStore struct {
	reader

	// abandonCh is closed when a raft snapshot restore replaces this store,
	// so that blocking queries still waiting on it wake up and move to the
	// new one instead of waiting for writes that will never come.
	abandonCh   chan struct{}
	abandonOnce sync.Once
}

// StateSnapshot is a point-in-time read view of the store. Taking one is
// O(1) (it pins the memdb root); it never changes afterwards, and it is
// safe to read from any number of goroutines. It offers the same read
// methods as StateStore.
type StateSnapshot struct {
	reader
}

// NewStateStore returns an empty store.
func NewStateStore() (*StateStore, error) {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, fmt.Errorf("state store schema: %w", err)
	}
	return &StateStore{reader: reader{db: db}, abandonCh: make(chan struct{})}, nil
}

// Snapshot returns a consistent read view of the current state, which is
// what the scheduler and plan applier work from: several reads that must
// agree with each other cannot be done against the live store.
func (s *StateStore) Snapshot() *StateSnapshot {
	return &StateSnapshot{reader: reader{db: s.db.Snapshot()}}
}

// AbandonCh returns a channel closed once the store has been abandoned.
func (s *StateStore) AbandonCh() <-chan struct{} { return s.abandonCh }

// Abandon marks the store as replaced (by a restore). Blocking queries on
// it return at once. Calling it more than once is harmless.
func (s *StateStore) Abandon() {
	s.abandonOnce.Do(func() { close(s.abandonCh) })
}

// BlockingQuery runs query with a fresh WatchSet and snapshot until the
// index it returns is greater than minIndex, ctx ends, or the store is
// abandoned, and returns the index of the last run. A query error ends the
// loop and is returned. The end of ctx is not an error: a blocking query
// that times out answers with the current result, as the HTTP API does, so
// the caller tells the cases apart by comparing the index with minIndex
// (and by ctx.Err() if it cares). After Abandon the result comes from the
// old store; the caller should query the new store.
func (s *StateStore) BlockingQuery(ctx context.Context, minIndex uint64,
	query func(ws memdb.WatchSet, snap *StateSnapshot) (uint64, error)) (uint64, error) {
	for {
		ws := memdb.NewWatchSet()
		// The abandon channel is in the set so a restore wakes the query.
		ws.Add(s.abandonCh)
		idx, err := query(ws, s.Snapshot())
		if err != nil {
			return idx, err
		}
		if idx > minIndex {
			return idx, nil
		}
		select {
		case <-s.abandonCh:
			return idx, nil
		default:
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return idx, nil
		}
	}
}

// write runs fn in a write transaction and commits it if fn succeeds; on
// error nothing fn did is visible.
func (s *StateStore) write(fn func(txn *memdb.Txn) error) error {
	txn := s.db.Txn(true)
	defer txn.Abort()
	if err := fn(txn); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

// setIndex records that table was written at index.
func setIndex(txn *memdb.Txn, table string, index uint64) error {
	if err := txn.Insert(TableIndex, &IndexEntry{Key: table, Value: index}); err != nil {
		return fmt.Errorf("update index of %s: %w", table, err)
	}
	return nil
}
