package state

import (
	"errors"
	"fmt"
	"time"

	"drover/agent/structs"
)

// MaxNodeEvents is how many events a node keeps; older ones are dropped
// so that a flapping node does not grow without bound.
const MaxNodeEvents = 10

// Drain statuses recorded in Node.LastDrain.
const (
	DrainStatusDraining = "draining"
	DrainStatusComplete = "complete"
	DrainStatusCanceled = "canceled"
)

// UpsertNode registers a node or re-registers it.
//
// A new node gets CreateIndex = ModifyIndex = index and is eligible unless
// it says otherwise. On re-registration the node describes itself afresh,
// but drain and eligibility are the operator's decisions, stored on the
// server: the stored Drain, DrainStrategy, SchedulingEligibility and
// LastDrain win, and the node's events are appended to the stored ones.
// The node's ComputedClass is computed here (see structs.Node.ComputeClass).
func (s *StateStore) UpsertNode(index uint64, node *structs.Node) error {
	return s.update(index, func(w *writer) error {
		existing, err := nodeByID(nil, w.txn, node.ID)
		if err != nil {
			return fmt.Errorf("upsert node: %w", err)
		}
		node.ModifyIndex = index
		incoming := node.Events
		if existing != nil {
			node.CreateIndex = existing.CreateIndex
			node.Drain = existing.Drain
			node.DrainStrategy = existing.DrainStrategy
			node.SchedulingEligibility = existing.SchedulingEligibility
			node.LastDrain = existing.LastDrain
			node.Events = existing.Events
		} else {
			node.CreateIndex = index
			node.Events = nil
			if node.SchedulingEligibility == "" {
				node.SchedulingEligibility = structs.NodeSchedulingEligible
			}
		}
		node.Events = appendEvents(node.Events, index, incoming...)
		// Derived from what the node reports, so every server computes
		// the same class.
		node.ComputedClass = node.ComputeClass()
		if err := w.insert(TableNodes, node); err != nil {
			return fmt.Errorf("upsert node %q: %w", node.ID, err)
		}
		return nil
	})
}

// appendEvents returns a new slice (the old one may be shared with a
// stored node) with the events stamped with index, capped at
// MaxNodeEvents by dropping the oldest.
func appendEvents(events []*structs.NodeEvent, index uint64, add ...*structs.NodeEvent) []*structs.NodeEvent {
	out := make([]*structs.NodeEvent, 0, len(events)+len(add))
	out = append(out, events...)
	for _, e := range add {
		if e == nil {
			continue
		}
		e.CreateIndex = index
		out = append(out, e)
	}
	if len(out) > MaxNodeEvents {
		out = out[len(out)-MaxNodeEvents:]
	}
	return out
}

// DeleteNode removes nodes (garbage collection of long-down nodes). An
// unknown ID fails the whole request.
func (s *StateStore) DeleteNode(index uint64, nodeIDs []string) error {
	return s.update(index, func(w *writer) error {
		for _, id := range nodeIDs {
			n, err := nodeByID(nil, w.txn, id)
			if err != nil {
				return fmt.Errorf("delete node: %w", err)
			}
			if n == nil {
				return fmt.Errorf("delete node %q: %w", id, ErrNodeNotFound)
			}
			if err := w.delete(TableNodes, n); err != nil {
				return fmt.Errorf("delete node %q: %w", id, err)
			}
		}
		return nil
	})
}

// updateNode applies fn to a copy of a stored node, stamps the change
// (updatedAt is unix seconds, as in StatusUpdatedAt) and appends event.
func (s *StateStore) updateNode(index uint64, op, nodeID string, updatedAt int64, event *structs.NodeEvent,
	fn func(n *structs.Node) error) error {
	return s.update(index, func(w *writer) error {
		n, err := nodeByID(nil, w.txn, nodeID)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if n == nil {
			return fmt.Errorf("%s %q: %w", op, nodeID, ErrNodeNotFound)
		}
		c := n.Copy()
		// fn's errors are refusals meant for the user, returned as they are.
		if err := fn(c); err != nil {
			return err
		}
		c.StatusUpdatedAt = updatedAt
		c.Events = appendEvents(c.Events, index, event)
		c.ModifyIndex = index
		if err := w.insert(TableNodes, c); err != nil {
			return fmt.Errorf("%s %q: %w", op, nodeID, err)
		}
		return nil
	})
}

// UpdateNodeStatus sets a node's status (ready, down, ...), as heartbeats
// and their absence decide.
func (s *StateStore) UpdateNodeStatus(index uint64, nodeID, status string, updatedAt int64, event *structs.NodeEvent) error {
	return s.updateNode(index, "update node status", nodeID, updatedAt, event, func(n *structs.Node) error {
		n.Status = status
		return nil
	})
}

// UpdateNodeDrain starts, changes or ends a drain. A drain makes the node
// ineligible, so nothing new lands on it while it empties. Ending a drain
// makes it eligible again only when asked: the drainer finishing a drain
// leaves the node ineligible, so an operator decides when it takes work
// again. LastDrain records the drain for "node status".
func (s *StateStore) UpdateNodeDrain(index uint64, nodeID string, drain *structs.DrainStrategy, markEligible bool,
	updatedAt int64, event *structs.NodeEvent) error {
	return s.updateNode(index, "update node drain", nodeID, updatedAt, event, func(n *structs.Node) error {
		at := time.Unix(updatedAt, 0).UTC()
		if drain != nil {
			if n.DrainStrategy == nil {
				started := drain.StartedAt
				if started.IsZero() {
					started = at
				}
				n.LastDrain = &structs.DrainMetadata{StartedAt: utc(started), Status: DrainStatusDraining}
			} else if n.LastDrain != nil {
				ld := *n.LastDrain
				n.LastDrain = &ld
			}
			if n.LastDrain != nil {
				n.LastDrain.UpdatedAt = at
			}
			n.Drain = true
			n.DrainStrategy = drain
			n.SchedulingEligibility = structs.NodeSchedulingIneligible
			return nil
		}
		if n.DrainStrategy != nil && n.LastDrain != nil {
			ld := *n.LastDrain
			ld.UpdatedAt = at
			ld.Status = DrainStatusCanceled
			if event != nil && event.Message == structs.NodeEventDrainComplete {
				ld.Status = DrainStatusComplete
			}
			n.LastDrain = &ld
		}
		n.Drain = false
		n.DrainStrategy = nil
		if markEligible {
			n.SchedulingEligibility = structs.NodeSchedulingEligible
		}
		return nil
	})
}

// ErrEligibleWhileDraining refuses to make a draining node eligible: the
// drain would be undone by new placements.
var ErrEligibleWhileDraining = errors.New("can not set node's scheduling eligibility to eligible while it is draining")

// UpdateNodeEligibility sets whether the scheduler may place new work on
// a node.
func (s *StateStore) UpdateNodeEligibility(index uint64, nodeID, eligibility string, updatedAt int64, event *structs.NodeEvent) error {
	return s.updateNode(index, "update node eligibility", nodeID, updatedAt, event, func(n *structs.Node) error {
		if (n.Drain || n.DrainStrategy != nil) && eligibility == structs.NodeSchedulingEligible {
			return ErrEligibleWhileDraining
		}
		n.SchedulingEligibility = eligibility
		return nil
	})
}
