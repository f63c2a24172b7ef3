package state

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

type blockResult struct {
	index uint64
	err   error
	runs  int
}

// blockOnJob starts a blocking query for job "web" at minIndex and returns
// a channel with its result, and one that receives after the first run
// (so the test writes only once the query is watching).
func blockOnJob(ctx context.Context, s *StateStore, minIndex uint64) (<-chan blockResult, <-chan struct{}) {
	done := make(chan blockResult, 1)
	started := make(chan struct{})
	go func() {
		runs := 0
		idx, err := s.BlockingQuery(ctx, minIndex, func(ws memdb.WatchSet, snap *StateSnapshot) (uint64, error) {
			runs++
			if _, err := snap.JobByID(ws, "default", "web"); err != nil {
				return 0, err
			}
			if runs == 1 {
				close(started)
			}
			return snap.Index(TableJobs)
		})
		done <- blockResult{idx, err, runs}
	}()
	return done, started
}

func waitResult(t *testing.T, ch <-chan blockResult) blockResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("blocking query did not return")
	}
	return blockResult{}
}

func TestBlockingQuery_WakesOnWatchedWrite(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web")))
	done, started := blockOnJob(context.Background(), s, 10)
	<-started
	must(t, s.UpsertJob(11, mockJob("web")))
	r := waitResult(t, done)
	if r.err != nil || r.index != 11 {
		t.Fatalf("woke with index %d err %v, want 11", r.index, r.err)
	}
}

func TestBlockingQuery_ReturnsAtOnceWhenAhead(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web")))
	done, _ := blockOnJob(context.Background(), s, 5)
	if r := waitResult(t, done); r.index != 10 || r.runs != 1 {
		t.Fatalf("index %d runs %d", r.index, r.runs)
	}
}

func TestBlockingQuery_NotWokenByUnrelatedWrite(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web")))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done, started := blockOnJob(ctx, s, 10)
	<-started
	must(t, s.UpsertNode(11, mockNode(1)))
	must(t, s.UpsertJob(12, mockJob("other")))
	r := waitResult(t, done)
	if r.err != nil || r.index != 10 {
		t.Fatalf("returned index %d err %v, want the old index 10", r.index, r.err)
	}
	if ctx.Err() == nil {
		t.Fatal("returned before the deadline")
	}
}

func TestBlockingQuery_WakesOnAbandon(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(10, mockJob("web")))
	done, started := blockOnJob(context.Background(), s, 10)
	<-started
	s.Abandon()
	s.Abandon() // harmless twice
	if r := waitResult(t, done); r.index != 10 || r.err != nil {
		t.Fatalf("index %d err %v", r.index, r.err)
	}
	select {
	case <-s.AbandonCh():
	default:
		t.Fatal("AbandonCh not closed")
	}
}

func TestWatchSetFiresOnAbsentObjectCreation(t *testing.T) {
	s := mustStore(t)
	ws := memdb.NewWatchSet()
	if a, err := s.AllocByID(ws, id("a", 1)); a != nil || err != nil {
		t.Fatal("unexpected alloc")
	}
	must(t, s.UpsertJob(10, mockJob("web")))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ws.WatchCtx(ctx); err == nil {
		t.Fatal("alloc watch fired on a job write")
	}
	must(t, s.UpsertAllocs(11, []*structs.Allocation{mockAlloc(1, getJob(t, s, "web"), "web", id("n", 1))}))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := ws.WatchCtx(ctx2); err != nil {
		t.Fatal("watch did not fire when the alloc appeared")
	}
}
