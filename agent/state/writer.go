package state

import (
	"fmt"
	"sort"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// nsKey names a job (or its summary) within its namespace.
type nsKey struct{ namespace, id string }

func sortedKeys[V any](m map[nsKey]V) []nsKey {
	keys := make([]nsKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].namespace != keys[j].namespace {
			return keys[i].namespace < keys[j].namespace
		}
		return keys[i].id < keys[j].id
	})
	return keys
}

// writer is one write transaction: the raft index it applies, the tables
// it wrote, and the derived data (job summaries, job statuses) to settle
// before it commits. Deriving once per transaction rather than once per
// object keeps a plan with a thousand allocations from recomputing a job's
// status a thousand times, and settling in sorted order keeps the result
// independent of map iteration.
type writer struct {
	txn   *memdb.Txn
	index uint64

	dirty map[string]bool
	// jobs whose status must be recomputed.
	jobs map[nsKey]bool
	// summaries copied for change in this transaction, and whether the
	// copy differs from what is stored.
	summaries map[nsKey]*structs.JobSummary
	// counts copied for change in this transaction (see jobCounts), and
	// the jobs whose counts must be recounted from the tables.
	counts  map[nsKey]*jobCounts
	recount map[nsKey]bool
}

// update runs fn as one write transaction at index; derived data is
// settled and the index table updated before the commit.
func (s *StateStore) update(index uint64, fn func(w *writer) error) error {
	return s.write(func(txn *memdb.Txn) error {
		w := &writer{
			txn: txn, index: index, dirty: map[string]bool{},
			jobs: map[nsKey]bool{}, summaries: map[nsKey]*structs.JobSummary{},
			counts: map[nsKey]*jobCounts{}, recount: map[nsKey]bool{},
		}
		if err := fn(w); err != nil {
			return err
		}
		return w.finish()
	})
}

// insert stores obj in table and marks the table written. Allocations,
// evaluations and deployments also move the job counts, here rather than
// at each call site so that no write can forget to.
func (w *writer) insert(table string, obj interface{}) error {
	w.dirty[table] = true
	if countedTable(table) {
		old, err := w.txn.First(table, indexID, objectID(obj))
		if err != nil {
			return fmt.Errorf("%s lookup: %w", table, err)
		}
		if err := w.track(old, obj); err != nil {
			return err
		}
	}
	if a, ok := obj.(*structs.Allocation); ok {
		a.CacheComparable()
	}
	return w.txn.Insert(table, obj)
}

// delete removes obj from table and marks the table written.
func (w *writer) delete(table string, obj interface{}) error {
	w.dirty[table] = true
	if countedTable(table) {
		old, err := w.txn.First(table, indexID, objectID(obj))
		if err != nil {
			return fmt.Errorf("%s lookup: %w", table, err)
		}
		if old != nil {
			if err := w.track(old, nil); err != nil {
				return err
			}
		}
	}
	return w.txn.Delete(table, obj)
}

// touchJob asks for the job's status to be recomputed at commit.
func (w *writer) touchJob(namespace, id string) { w.jobs[nsKey{namespace, id}] = true }

// finish writes the settled summaries and job statuses, then the index
// table entries of every table written.
func (w *writer) finish() error {
	for _, k := range sortedKeys(w.summaries) {
		sum := w.summaries[k]
		if sum == nil {
			continue
		}
		stored, err := jobSummary(nil, w.txn, k.namespace, k.id)
		if err != nil {
			return err
		}
		if stored != nil && sameSummary(stored, sum) {
			continue
		}
		sum.ModifyIndex = w.index
		if err := w.insert(TableJobSummary, sum); err != nil {
			return err
		}
	}
	if err := w.settleCounts(); err != nil {
		return err
	}
	for _, k := range sortedKeys(w.jobs) {
		if err := w.settleJobStatus(k); err != nil {
			return err
		}
	}
	for _, t := range allTables {
		if w.dirty[t] {
			if err := setIndex(w.txn, t, w.index); err != nil {
				return err
			}
		}
	}
	return nil
}

// summary returns this transaction's private copy of a job's summary, or
// nil if the job has none.
func (w *writer) summary(namespace, id string) (*structs.JobSummary, error) {
	k := nsKey{namespace, id}
	if sum, ok := w.summaries[k]; ok {
		return sum, nil
	}
	stored, err := jobSummary(nil, w.txn, namespace, id)
	if err != nil {
		return nil, err
	}
	var sum *structs.JobSummary
	if stored != nil {
		sum = copySummary(stored)
	}
	w.summaries[k] = sum
	return sum, nil
}

func copySummary(s *structs.JobSummary) *structs.JobSummary {
	c := *s
	c.Summary = make(map[string]structs.TaskGroupSummary, len(s.Summary))
	for k, v := range s.Summary {
		c.Summary[k] = v
	}
	if s.Children != nil {
		ch := *s.Children
		c.Children = &ch
	}
	return &c
}

func sameSummary(a, b *structs.JobSummary) bool {
	if len(a.Summary) != len(b.Summary) {
		return false
	}
	for k, v := range a.Summary {
		if w, ok := b.Summary[k]; !ok || w != v {
			return false
		}
	}
	return true
}
