package state

import (
	"context"
	"time"

	"github.com/hashicorp/go-memdb"
)

// Watch calls fn whenever what watch reads changes, and at least every
// interval (for deadlines that pass with no write), until ctx ends. It is
// the loop of the leader's watchers; store returns the live store, which a
// snapshot restore may replace.
func Watch(ctx context.Context, store func() *StateStore, every time.Duration,
	watch func(ws memdb.WatchSet, snap *StateSnapshot) error, fn func()) {
	var index uint64
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, every)
		next, err := store().BlockingQuery(wctx, index, func(ws memdb.WatchSet, snap *StateSnapshot) (uint64, error) {
			if err := watch(ws, snap); err != nil {
				return 0, err
			}
			return snap.LatestIndex()
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && next > index {
			index = next
		}
		fn()
	}
}
