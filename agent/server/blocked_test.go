// Tests of the blocked-evaluation tracker, with a real broker behind it.

package server

import (
	"testing"
	"time"

	"drover/agent/structs"
)

func newTestBlockedEvals(t *testing.T) (*BlockedEvals, *EvalBroker) {
	t.Helper()
	broker := newTestEvalBroker(t, time.Minute, 3)
	blocked := NewBlockedEvals(broker)
	blocked.SetEnabled(true)
	t.Cleanup(func() { blocked.SetEnabled(false) })
	return blocked, broker
}

// blockedTestEval returns a blocked evaluation of job, as a scheduler
// writes it.
func blockedTestEval(id, job string, createIndex uint64) *structs.Evaluation {
	e := brokerTestEval(id, job, 50, createIndex)
	e.Status = structs.EvalStatusBlocked
	e.StatusDescription = "created to place remaining allocations"
	return e
}

func TestBlockedEvals_OnePerJob(t *testing.T) {
	cases := []struct {
		name         string
		first        *structs.Evaluation
		second       *structs.Evaluation
		wantReplaced string // ID returned by the second Block; "" for nil
		wantTracked  string
	}{
		{
			name:         "newer replaces older",
			first:        blockedTestEval("old", "j", 10),
			second:       blockedTestEval("new", "j", 20),
			wantReplaced: "old",
			wantTracked:  "new",
		},
		{
			name:         "older arriving late is itself replaced",
			first:        blockedTestEval("new", "j", 20),
			second:       blockedTestEval("old", "j", 10),
			wantReplaced: "old",
			wantTracked:  "new",
		},
		{
			name:         "equal index: later call wins",
			first:        blockedTestEval("first", "j", 10),
			second:       blockedTestEval("second", "j", 10),
			wantReplaced: "first",
			wantTracked:  "second",
		},
		{
			name:        "same eval blocked again updates it",
			first:       blockedTestEval("e", "j", 10),
			second:      blockedTestEval("e", "j", 12),
			wantTracked: "e",
		},
		{
			name:        "other job is tracked separately",
			first:       blockedTestEval("a", "j1", 10),
			second:      blockedTestEval("b", "j2", 5),
			wantTracked: "b",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blocked, _ := newTestBlockedEvals(t)
			if r := blocked.Block(tc.first); r != nil {
				t.Fatalf("first Block replaced %s", r.ID)
			}
			r := blocked.Block(tc.second)
			switch {
			case tc.wantReplaced == "" && r != nil:
				t.Fatalf("second Block replaced %s, want nil", r.ID)
			case tc.wantReplaced != "" && (r == nil || r.ID != tc.wantReplaced):
				t.Fatalf("second Block replaced %v, want %s", r, tc.wantReplaced)
			}
			got, ok := blocked.Blocked(tc.second.Namespace, tc.second.JobID)
			if !ok || got.ID != tc.wantTracked {
				t.Fatalf("Blocked(%s) = %v, %v; want %s", tc.second.JobID, got, ok, tc.wantTracked)
			}
			if got != tc.second && got != tc.first {
				t.Fatal("tracked eval is neither of those blocked")
			}
			wantTotal := 1
			if tc.first.JobID != tc.second.JobID {
				wantTotal = 2
			}
			if n := blocked.Stats(); n != wantTotal {
				t.Fatalf("Stats() = %d, want %d", n, wantTotal)
			}
		})
	}
}

func TestBlockedEvals_Unblock(t *testing.T) {
	blocked, broker := newTestBlockedEvals(t)
	a := blockedTestEval("a", "ja", 10)
	b := blockedTestEval("b", "jb", 11)
	blocked.Block(a)
	blocked.Block(b)

	blocked.Unblock(20)
	if n := blocked.Stats(); n != 0 {
		t.Fatalf("Stats() after Unblock = %d, want 0", n)
	}
	if _, ok := blocked.Blocked("default", "ja"); ok {
		t.Fatal("ja still tracked after Unblock")
	}
	checkBrokerStats(t, broker, BrokerStats{TotalReady: 2})

	for _, orig := range []*structs.Evaluation{a, b} {
		e, token := mustDequeueEval(t, broker)
		if e.ID != orig.ID {
			t.Fatalf("dequeued %s, want %s", e.ID, orig.ID)
		}
		if e == orig {
			t.Fatal("broker got the tracked eval itself, not a copy")
		}
		if e.Status != structs.EvalStatusPending || e.StatusDescription != "" {
			t.Fatalf("unblocked eval has status %q (%q), want pending with no description", e.Status, e.StatusDescription)
		}
		if orig.Status != structs.EvalStatusBlocked {
			t.Fatalf("original eval modified: status %q", orig.Status)
		}
		mustAck(t, broker, e.ID, token)
	}

	// Nothing tracked: Unblock is a no-op.
	blocked.Unblock(21)
	checkBrokerStats(t, broker, BrokerStats{})
}

func TestBlockedEvals_UntrackJob(t *testing.T) {
	blocked, broker := newTestBlockedEvals(t)
	e := blockedTestEval("e", "j", 10)
	blocked.Block(e)
	blocked.Block(blockedTestEval("other", "k", 11))

	if removed := blocked.UntrackJob("default", "j"); removed != e {
		t.Fatalf("UntrackJob returned %v, want e", removed)
	}
	if removed := blocked.UntrackJob("default", "j"); removed != nil {
		t.Fatalf("second UntrackJob returned %s, want nil", removed.ID)
	}
	if removed := blocked.UntrackJob("other-namespace", "k"); removed != nil {
		t.Fatalf("UntrackJob in another namespace returned %s", removed.ID)
	}
	if _, ok := blocked.Blocked("default", "j"); ok {
		t.Fatal("job still tracked")
	}
	if n := blocked.Stats(); n != 1 {
		t.Fatalf("Stats() = %d, want 1", n)
	}
	blocked.Unblock(20)
	got, token := mustDequeueEval(t, broker)
	if got.ID != "other" {
		t.Fatalf("unblocked %s, want only other", got.ID)
	}
	mustAck(t, broker, got.ID, token)
	checkBrokerStats(t, broker, BrokerStats{})
}

func TestBlockedEvals_SnapshotBeforeUnblock(t *testing.T) {
	blocked, broker := newTestBlockedEvals(t)
	blocked.Unblock(20) // nothing tracked yet

	// Scheduled against state from before the capacity change: retried
	// at once rather than waiting for the next change.
	stale := blockedTestEval("stale", "j1", 21)
	stale.SnapshotIndex = 19
	if r := blocked.Block(stale); r != nil {
		t.Fatalf("Block replaced %s", r.ID)
	}
	if _, ok := blocked.Blocked("default", "j1"); ok {
		t.Fatal("stale eval tracked")
	}
	e, token := mustDequeueEval(t, broker)
	if e.ID != "stale" || e.Status != structs.EvalStatusPending {
		t.Fatalf("dequeued %s (%s), want stale, pending", e.ID, e.Status)
	}
	mustAck(t, broker, e.ID, token)

	// Saw the change (or carries no snapshot index): tracked.
	for _, snap := range []uint64{20, 0} {
		fresh := blockedTestEval("fresh", "j2", 22)
		fresh.SnapshotIndex = snap
		blocked.Block(fresh)
		if _, ok := blocked.Blocked("default", "j2"); !ok {
			t.Fatalf("eval with snapshot index %d not tracked", snap)
		}
		blocked.UntrackJob("default", "j2")
	}
	checkBrokerStats(t, broker, BrokerStats{})
}

func TestBlockedEvals_Disable(t *testing.T) {
	blocked, broker := newTestBlockedEvals(t)
	blocked.Block(blockedTestEval("e", "j", 10))

	blocked.SetEnabled(false)
	if n := blocked.Stats(); n != 0 {
		t.Fatalf("Stats() after disable = %d, want 0", n)
	}
	if r := blocked.Block(blockedTestEval("f", "j", 11)); r != nil {
		t.Fatalf("Block while disabled replaced %s", r.ID)
	}
	if n := blocked.Stats(); n != 0 {
		t.Fatalf("Block while disabled tracked an eval")
	}
	blocked.Unblock(20)
	checkBrokerStats(t, broker, BrokerStats{})

	blocked.SetEnabled(true)
	blocked.Block(blockedTestEval("g", "j", 12))
	if _, ok := blocked.Blocked("default", "j"); !ok {
		t.Fatal("Block after re-enable not tracked")
	}
}
