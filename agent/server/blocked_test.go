// Tests of the blocked-evaluation tracker, with a real broker behind it.

package server

import (
	"fmt"
	"testing"
	"time"

	"drover/agent/structs"
)

func newTestBlockedEvals(t *testing.T) (*BlockedEvals, *EvalBroker) {
	t.Helper()
	broker := newTestEvalBroker(t, time.Minute, 3)
	blocked := NewBlockedEvals(broker, nil)
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

// The rules by which a capacity change on named nodes unblocks an
// evaluation, each as a Nomad-compatible server applies it (blocked
// evaluations record ClassEligibility and EscapedComputedClass; capacity
// changes are matched by the node's computed class, datacenter and pool).
func TestBlockedEvals_UnblockNodes(t *testing.T) {
	type scope struct {
		dcs  []string
		pool string
	}
	dc1 := func(class string) NodeCapacity { return NodeCapacity{Class: class, Datacenter: "dc1", Pool: "default"} }
	cases := []struct {
		name    string
		elig    map[string]bool
		escaped bool
		scope   *scope // nil: the job is unknown to the scope lookup
		nodes   []NodeCapacity
		all     bool // Unblock: the nodes of the change are unknown
		want    bool // unblocked
	}{
		// A class on which a node passed the job's constraints and
		// drivers: new capacity there can help.
		{name: "eligible class unblocks", elig: map[string]bool{"c1": true},
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{dc1("c1")}, want: true},
		// No node of the class passed: more capacity there cannot help.
		{name: "ineligible class stays blocked", elig: map[string]bool{"c1": false},
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{dc1("c1")}, want: false},
		// A class the scheduler never saw (its nodes were not candidates
		// then): it may fit, so unblock.
		{name: "unknown class unblocks", elig: map[string]bool{"c1": false},
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{dc1("c2")}, want: true},
		// Constraints on unique node properties are not captured by
		// classes: every change may help.
		{name: "escaped evaluation unblocks on an ineligible class", elig: map[string]bool{"c1": false}, escaped: true,
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{dc1("c1")}, want: true},
		// A node without a computed class cannot be judged by class.
		{name: "node without a class unblocks", elig: map[string]bool{"c1": false},
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{dc1("")}, want: true},
		// An evaluation that recorded no classes (blocked by an older
		// server) knows no class to rule out.
		{name: "no class records unblocks", scope: &scope{dcs: []string{"dc1"}},
			nodes: []NodeCapacity{dc1("c1")}, want: true},
		// One helpful node among several is enough.
		{name: "any node of the change helps", elig: map[string]bool{"c1": false, "c2": true},
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{dc1("c1"), dc1("c2")}, want: true},
		// The job places only in its datacenters: other datacenters
		// cannot help, whatever the class, even for an escaped job.
		{name: "other datacenter stays blocked", elig: map[string]bool{"c1": true}, escaped: true,
			scope: &scope{dcs: []string{"dc1"}}, nodes: []NodeCapacity{{Class: "c1", Datacenter: "dc2"}}, want: false},
		// Datacenter patterns are globs, as in the job specification.
		{name: "datacenter glob matches", elig: map[string]bool{"c1": true},
			scope: &scope{dcs: []string{"dc*"}}, nodes: []NodeCapacity{{Class: "c1", Datacenter: "dc2"}}, want: true},
		// The job places only in its node pool.
		{name: "other node pool stays blocked", elig: map[string]bool{"c1": true},
			scope: &scope{dcs: []string{"dc1"}, pool: "gpu"}, nodes: []NodeCapacity{dc1("c1")}, want: false},
		// A job of node pool "all" places in every pool.
		{name: "pool all matches every pool", elig: map[string]bool{"c1": true},
			scope: &scope{dcs: []string{"dc1"}, pool: "all"}, nodes: []NodeCapacity{dc1("c1")}, want: true},
		// Without the job's scope (not found), any datacenter or pool may
		// help: the class rules alone decide.
		{name: "unknown job scope: class rules only", elig: map[string]bool{"c1": true},
			nodes: []NodeCapacity{{Class: "c1", Datacenter: "elsewhere", Pool: "other"}}, want: true},
		// A change whose nodes are not known unblocks everything.
		{name: "unknown nodes unblock everything", elig: map[string]bool{"c1": false},
			scope: &scope{dcs: []string{"dc1"}}, all: true, want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			broker := newTestEvalBroker(t, time.Minute, 3)
			blocked := NewBlockedEvals(broker, func(ns, job string) ([]string, string, bool) {
				if tc.scope == nil {
					return nil, "", false
				}
				return tc.scope.dcs, tc.scope.pool, true
			})
			blocked.SetEnabled(true)
			t.Cleanup(func() { blocked.SetEnabled(false) })
			e := blockedTestEval("e", "j", 10)
			e.ClassEligibility, e.EscapedComputedClass = tc.elig, tc.escaped
			blocked.Block(e)
			if tc.all {
				blocked.Unblock(20)
			} else {
				blocked.UnblockNodes(20, tc.nodes)
			}
			_, stillBlocked := blocked.Blocked("default", "j")
			if stillBlocked == tc.want {
				t.Fatalf("unblocked = %v, want %v", !stillBlocked, tc.want)
			}
			if tc.want {
				got, token := mustDequeueEval(t, broker)
				if got.ID != "e" || got.Status != structs.EvalStatusPending {
					t.Fatalf("dequeued %s (%s)", got.ID, got.Status)
				}
				mustAck(t, broker, got.ID, token)
			} else {
				checkBrokerStats(t, broker, BrokerStats{})
			}
		})
	}
}

// An evaluation scheduled from a snapshot older than a capacity change is
// retried at once only if that change could help it: a change on a class
// it found ineligible is not a missed wake-up.
func TestBlockedEvals_MissedUnblockByClass(t *testing.T) {
	blocked, broker := newTestBlockedEvals(t)
	blocked.UnblockNodes(20, []NodeCapacity{{Class: "c1", Datacenter: "dc1"}})

	cases := []struct {
		name   string
		elig   map[string]bool
		snap   uint64
		missed bool
	}{
		{"older snapshot, ineligible class: waits", map[string]bool{"c1": false}, 19, false},
		{"older snapshot, eligible class: retried", map[string]bool{"c1": true}, 19, true},
		{"older snapshot, unknown class: retried", map[string]bool{"c2": false}, 19, true},
		{"snapshot saw the change: waits", map[string]bool{"c1": true}, 20, false},
	}
	for i, tc := range cases {
		e := blockedTestEval(fmt.Sprint("e", i), fmt.Sprint("j", i), uint64(30+i))
		e.ClassEligibility, e.SnapshotIndex = tc.elig, tc.snap
		blocked.Block(e)
		_, tracked := blocked.Blocked("default", e.JobID)
		if tracked == tc.missed {
			t.Fatalf("%s: tracked = %v", tc.name, tracked)
		}
		if tc.missed {
			got, token := mustDequeueEval(t, broker)
			if got.ID != e.ID {
				t.Fatalf("%s: dequeued %s", tc.name, got.ID)
			}
			mustAck(t, broker, got.ID, token)
		}
		checkBrokerStats(t, broker, BrokerStats{})
	}
}
