package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// tableJobCounts holds, per job ID, the counts a job's status is derived
// from (see jobStatus). It is derived data: it is kept up to date by the
// writer as allocations, evaluations and deployments are inserted and
// deleted, rebuilt by Restore rather than persisted, and never read by
// anything but the writer, so it has no entry in the index table and is
// not in allTables.
const tableJobCounts = "job_counts"

// jobCounts is what a job's status needs to know about its allocations,
// evaluations and deployments, so that settling the status of a job of
// 100,000 allocations costs a lookup rather than a scan. It is keyed by
// job ID, not by incarnation, because allocations, evaluations and
// deployments outlive a purge of their job; the incarnation is a key
// inside. Stored records are immutable, like every stored object.
type jobCounts struct {
	Namespace string
	JobID     string
	// LiveAllocs counts the allocations that are not terminal, by the
	// CreateIndex of the job incarnation they were made for
	// (Allocation.Job.CreateIndex). Allocations without a job are not
	// counted: they belong to no incarnation.
	LiveAllocs map[uint64]int
	// ActiveDeployments counts the active deployments by JobCreateIndex;
	// 0 (a deployment that does not record it) counts for every
	// incarnation.
	ActiveDeployments map[uint64]int
	// Evals counts every evaluation of the job ID, LiveEvals those that
	// are not terminal (pending or blocked).
	Evals     int
	LiveEvals int
}

func (c *jobCounts) copy() *jobCounts {
	out := *c
	out.LiveAllocs = make(map[uint64]int, len(c.LiveAllocs))
	for k, v := range c.LiveAllocs {
		out.LiveAllocs[k] = v
	}
	out.ActiveDeployments = make(map[uint64]int, len(c.ActiveDeployments))
	for k, v := range c.ActiveDeployments {
		out.ActiveDeployments[k] = v
	}
	return &out
}

func (c *jobCounts) empty() bool {
	return len(c.LiveAllocs) == 0 && len(c.ActiveDeployments) == 0 && c.Evals == 0 && c.LiveEvals == 0
}

func (c *jobCounts) equal(o *jobCounts) bool {
	return c.Evals == o.Evals && c.LiveEvals == o.LiveEvals &&
		sameCounts(c.LiveAllocs, o.LiveAllocs) && sameCounts(c.ActiveDeployments, o.ActiveDeployments)
}

func sameCounts(a, b map[uint64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func newJobCounts(namespace, jobID string) *jobCounts {
	return &jobCounts{Namespace: namespace, JobID: jobID,
		LiveAllocs: map[uint64]int{}, ActiveDeployments: map[uint64]int{}}
}

// addCount adds n to m[k], dropping the key at zero so that an empty
// record can be recognised and deleted.
func addCount(m map[uint64]int, k uint64, n int) {
	if v := m[k] + n; v != 0 {
		m[k] = v
	} else {
		delete(m, k)
	}
}

// countedKey says what an object contributes to its job's counts: the job
// it counts for, which counter, and the key inside it. ok is false when it
// contributes nothing (a terminal allocation, an inactive deployment).
type countedKey struct {
	job  nsKey
	kind int // 1 live alloc, 2 active deployment, 3 terminal eval, 4 live eval
	key  uint64
}

func countedOf(obj interface{}) (countedKey, bool) {
	switch o := obj.(type) {
	case *structs.Allocation:
		if o.Job == nil || o.TerminalStatus() {
			return countedKey{}, false
		}
		return countedKey{nsKey{o.Namespace, o.JobID}, 1, o.Job.CreateIndex}, true
	case *structs.Deployment:
		if !o.Active() {
			return countedKey{}, false
		}
		return countedKey{nsKey{o.Namespace, o.JobID}, 2, o.JobCreateIndex}, true
	case *structs.Evaluation:
		if o.TerminalStatus() {
			return countedKey{nsKey{o.Namespace, o.JobID}, 3, 0}, true
		}
		return countedKey{nsKey{o.Namespace, o.JobID}, 4, 0}, true
	}
	return countedKey{}, false
}

func (c *jobCounts) add(k countedKey, n int) {
	switch k.kind {
	case 1:
		addCount(c.LiveAllocs, k.key, n)
	case 2:
		addCount(c.ActiveDeployments, k.key, n)
	case 3:
		c.Evals += n
	case 4:
		c.Evals += n
		c.LiveEvals += n
	}
}

// countedTable reports whether a table's objects feed the job counts.
func countedTable(table string) bool {
	return table == TableAllocs || table == TableEvals || table == TableDeployments
}

// objectID is the id-index key of an object of a counted table.
func objectID(obj interface{}) string {
	switch o := obj.(type) {
	case *structs.Allocation:
		return o.ID
	case *structs.Evaluation:
		return o.ID
	case *structs.Deployment:
		return o.ID
	}
	panic(fmt.Sprintf("state: no counted table holds %T", obj))
}

// jobOf is the job an object of a counted table belongs to.
func jobOf(obj interface{}) nsKey {
	switch o := obj.(type) {
	case *structs.Allocation:
		return nsKey{o.Namespace, o.JobID}
	case *structs.Evaluation:
		return nsKey{o.Namespace, o.JobID}
	case *structs.Deployment:
		return nsKey{o.Namespace, o.JobID}
	}
	panic(fmt.Sprintf("state: no counted table holds %T", obj))
}

// track moves an object's contribution to the job counts from what the
// stored object (old, nil if none) counted to what cur (nil on delete)
// counts. It must run before the table changes, because a pending recount
// reads the tables and then has the delta applied.
//
// A caller that changed a stored object in place and writes it back (old
// and cur are the same pointer) has erased what it was; the write rules
// forbid it, but rather than drift, the job is recounted from the tables.
func (w *writer) track(old, cur interface{}) error {
	if old != nil && cur != nil && old == cur {
		w.recount[jobOf(cur)] = true
		return nil
	}
	ko, okOld := countedKey{}, false
	if old != nil {
		ko, okOld = countedOf(old)
	}
	kc, okCur := countedKey{}, false
	if cur != nil {
		kc, okCur = countedOf(cur)
	}
	if okOld == okCur && ko == kc {
		return nil // the common case: a change that counts the same
	}
	if okOld {
		c, err := w.jobCounts(ko.job)
		if err != nil {
			return err
		}
		c.add(ko, -1)
	}
	if okCur {
		c, err := w.jobCounts(kc.job)
		if err != nil {
			return err
		}
		c.add(kc, 1)
	}
	return nil
}

// jobCounts returns this transaction's private copy of a job's counts,
// recounting them first if an in-place change made them unknown.
func (w *writer) jobCounts(k nsKey) (*jobCounts, error) {
	if w.recount[k] {
		delete(w.recount, k)
		c, err := recountJob(w.txn, k)
		if err != nil {
			return nil, err
		}
		w.counts[k] = c
		return c, nil
	}
	if c, ok := w.counts[k]; ok {
		return c, nil
	}
	obj, err := w.txn.First(tableJobCounts, indexID, k.namespace, k.id)
	if err != nil {
		return nil, fmt.Errorf("job counts lookup: %w", err)
	}
	c := newJobCounts(k.namespace, k.id)
	if obj != nil {
		c = obj.(*jobCounts).copy()
	}
	w.counts[k] = c
	return c, nil
}

// settleCounts stores the counts this transaction changed (and recounts
// those still unknown), in job order. An empty record is deleted, so the
// table holds only jobs that still have something to count.
func (w *writer) settleCounts() error {
	for _, k := range sortedKeys(w.recount) {
		if _, err := w.jobCounts(k); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(w.counts) {
		c := w.counts[k]
		stored, err := w.txn.First(tableJobCounts, indexID, k.namespace, k.id)
		if err != nil {
			return fmt.Errorf("job counts lookup: %w", err)
		}
		switch {
		case c.empty() && stored != nil:
			err = w.txn.Delete(tableJobCounts, stored)
		case c.empty():
		case stored != nil && stored.(*jobCounts).equal(c):
		default:
			err = w.txn.Insert(tableJobCounts, c)
		}
		if err != nil {
			return fmt.Errorf("job counts of %q: %w", k.id, err)
		}
	}
	return nil
}

// recountJob counts a job's allocations, evaluations and deployments from
// the tables: the slow way, for the rare in-place change.
func recountJob(txn *memdb.Txn, k nsKey) (*jobCounts, error) {
	c := newJobCounts(k.namespace, k.id)
	for _, table := range []string{TableAllocs, TableEvals, TableDeployments} {
		it, err := txn.Get(table, indexJob, k.namespace, k.id)
		if err != nil {
			return nil, fmt.Errorf("recount %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if key, ok := countedOf(raw); ok {
				c.add(key, 1)
			}
		}
	}
	return c, nil
}

// rebuildJobCounts derives the whole job counts table from the other
// tables, as Restore does: counts are not part of a snapshot.
func rebuildJobCounts(txn *memdb.Txn) error {
	all := map[nsKey]*jobCounts{}
	for _, table := range []string{TableAllocs, TableEvals, TableDeployments} {
		it, err := txn.Get(table, indexID)
		if err != nil {
			return fmt.Errorf("rebuild job counts: %s: %w", table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			key, ok := countedOf(raw)
			if !ok {
				continue
			}
			c := all[key.job]
			if c == nil {
				c = newJobCounts(key.job.namespace, key.job.id)
				all[key.job] = c
			}
			c.add(key, 1)
		}
	}
	for _, k := range sortedKeys(all) {
		if c := all[k]; !c.empty() {
			if err := txn.Insert(tableJobCounts, c); err != nil {
				return fmt.Errorf("rebuild job counts: %w", err)
			}
		}
	}
	return nil
}

// readJobCounts returns a job's stored counts (for tests and consistency
// checks), an empty record if it has none.
func readJobCounts(txn *memdb.Txn, namespace, jobID string) (*jobCounts, error) {
	obj, err := txn.First(tableJobCounts, indexID, namespace, jobID)
	if err != nil {
		return nil, fmt.Errorf("job counts lookup: %w", err)
	}
	if obj == nil {
		return newJobCounts(namespace, jobID), nil
	}
	return obj.(*jobCounts), nil
}
