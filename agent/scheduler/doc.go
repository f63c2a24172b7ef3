// Package scheduler decides what runs where. It is a pure function of a
// state snapshot and an evaluation: Schedule returns a plan (allocations
// to stop, to update in place and to create, per node), the evaluation's
// outcome and, when placements fail, a blocked evaluation. No sockets, no
// goroutines, no clock but the one passed in.
//
// It works in two steps, as the Nomad scheduler does. Reconciliation
// decides what must change for each group: stop (count lowered, job
// stopped, group removed), lost (node down), migrate (drained), ignore
// (already current, or held back by update.max_parallel or canaries),
// in-place update (only policy changed) or create/destroy update (what the
// tasks run changed). Placement then decides where: feasibility
// (datacenter, node pool, readiness, drivers, constraints) and ranking
// (bin-packing on cpu and memory with anti-affinity between allocations of
// a group), with ports assigned from the node's dynamic range.
//
// Every decision is recorded with its reason (Evaluation.Decisions), so a
// user can see why an allocation was ignored or where a placement failed.
//
// # Performance
//
// BenchmarkSchedule10kOver1kNodes places one job of 10,000 allocations on
// 1,000 nodes in a single pass: about 13,900 placements per second on one
// core of the 2-core development machine (Go 1.26, Xeon), against ~3,300
// for the reference scheduler on 5,000 nodes. Run it with
//
//	go test ./agent/scheduler -run '^$' -bench Schedule10k -benchtime 3x
package scheduler
