package state

import (
	"fmt"

	"drover/agent/structs"
)

// UpsertEvals stores evaluations. A new one gets CreateIndex =
// ModifyIndex = index; an existing one keeps its CreateIndex. An
// evaluation that reports QueuedAllocations sets the Queued column of
// those groups in the job summary (the latest evaluation is the current
// truth about what could not be placed), and the job's status follows
// the evaluations.
func (s *StateStore) UpsertEvals(index uint64, evals []*structs.Evaluation) error {
	return s.update(index, func(w *writer) error {
		for _, e := range evals {
			if err := w.upsertEval(e); err != nil {
				return fmt.Errorf("upsert eval %q: %w", e.ID, err)
			}
		}
		return nil
	})
}

func (w *writer) upsertEval(e *structs.Evaluation) error {
	existing, err := evalByID(nil, w.txn, e.ID)
	if err != nil {
		return err
	}
	e.CreateIndex = w.index
	if existing != nil {
		e.CreateIndex = existing.CreateIndex
	}
	e.ModifyIndex = w.index
	if err := w.insert(TableEvals, e); err != nil {
		return err
	}
	if len(e.QueuedAllocations) > 0 {
		sum, err := w.summary(e.Namespace, e.JobID)
		if err != nil {
			return err
		}
		if sum != nil {
			for _, name := range sortedGroupNames(e.QueuedAllocations) {
				if tg, ok := sum.Summary[name]; ok {
					tg.Queued = e.QueuedAllocations[name]
					sum.Summary[name] = tg
				}
			}
		}
	}
	w.touchJob(e.Namespace, e.JobID)
	return nil
}

// DeleteEvals is garbage collection: it deletes evaluations and
// allocations. IDs not found are skipped, so a repeated collection is
// harmless. Deleted allocations leave the job summary, which counts the
// allocations that exist.
func (s *StateStore) DeleteEvals(index uint64, evalIDs, allocIDs []string) error {
	return s.update(index, func(w *writer) error {
		for _, id := range evalIDs {
			e, err := evalByID(nil, w.txn, id)
			if err != nil {
				return fmt.Errorf("delete evals: %w", err)
			}
			if e == nil {
				continue
			}
			if err := w.delete(TableEvals, e); err != nil {
				return fmt.Errorf("delete eval %q: %w", id, err)
			}
			w.touchJob(e.Namespace, e.JobID)
		}
		for _, id := range allocIDs {
			a, err := allocByID(nil, w.txn, id)
			if err != nil {
				return fmt.Errorf("delete allocs: %w", err)
			}
			if a == nil {
				continue
			}
			if err := w.delete(TableAllocs, a); err != nil {
				return fmt.Errorf("delete alloc %q: %w", id, err)
			}
			if err := w.adjustSummary(a, nil); err != nil {
				return fmt.Errorf("delete alloc %q: %w", id, err)
			}
			w.touchJob(a.Namespace, a.JobID)
		}
		return nil
	})
}
