// Package state is the cluster state of a Drover server: jobs and their
// version history, job summaries, evaluations, allocations, nodes and
// deployments, kept in an in-memory go-memdb database.
//
// The store has exactly one writer, the raft FSM. Every write method takes
// the raft log index of the entry being applied and runs in a single memdb
// transaction, so a log entry is applied entirely or not at all. Writes are
// deterministic (no clocks, no random IDs, no map-order dependence in what
// is stored) because every server replays the same log and must end up
// with identical state; times and IDs are stamped into the request by the
// leader before replication.
//
// Everything the store hands out is shared with other readers and with
// older snapshots: callers must copy an object before changing it, and the
// store itself copies a stored object before modifying it. Readers that
// need a consistent view across several lookups (the scheduler, the plan
// applier) take a Snapshot, which is a cheap point-in-time view.
//
// Every read method takes a memdb.WatchSet and adds the channels its result
// depends on, which is what HTTP blocking queries wait on (see
// StateStore.BlockingQuery). The "index" table records, per table, the raft
// index of the last write to it; that is the index a blocking query
// compares against and the API reports.
//
// Persist and Restore move the whole store in and out of raft snapshots.
// See DESIGN.md beside this file for the tables, indexes and the reasons
// for what is denormalized.
package state
