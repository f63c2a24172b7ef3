// Package server is the cluster server: raft-replicated state and the
// leader's machinery that turns evaluations into placements.
//
// Every change follows one path: an endpoint (RegisterJob, RegisterNode,
// ...) stamps IDs and times into a request, raft replicates it, and the
// FSM applies it to the state store in one transaction. The FSM is the
// only writer. On the leader, evaluations written by the FSM go to the
// eval broker; scheduler workers take them, run the pure scheduler on a
// state snapshot and submit plans to the single plan applier, which
// re-checks each plan against the newest state before committing it.
// Heartbeat timers, the deployment watcher and the drainer are leader
// loops that write through raft like everything else.
//
// See DESIGN.md beside this file for the picture.
package server
