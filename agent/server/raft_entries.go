package server

import (
	"strconv"
	"sync"
)

// RaftEntryCount is what the entries of one message type (or all of them)
// weighed.
type RaftEntryCount struct {
	// Entries is how many entries were proposed, Bytes their total
	// encoded size (the type byte included), Largest the biggest one.
	Entries uint64 `json:"entries"`
	Bytes   uint64 `json:"bytes"`
	Largest uint64 `json:"largest"`
}

// RaftEntryStats are the sizes of the raft log entries this server
// proposed as leader since it started, in total and per message type
// (keyed by the type's name, e.g. "ApplyPlanResults"). The simulation
// harness (agent/bench) reports them: what crosses raft is what a
// cluster replicates, snapshots and restores.
type RaftEntryStats struct {
	Total RaftEntryCount `json:"total"`
	// LargestType is the message type of the largest entry.
	LargestType string                    `json:"largest_type"`
	ByType      map[string]RaftEntryCount `json:"by_type"`
}

// entryCounter accumulates RaftEntryStats; apply feeds it.
type entryCounter struct {
	mu          sync.Mutex
	total       RaftEntryCount
	largestType MessageType
	byType      map[MessageType]RaftEntryCount
}

// record counts one entry of type t that encoded to n bytes.
func (c *entryCounter) record(t MessageType, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byType == nil {
		c.byType = map[MessageType]RaftEntryCount{}
	}
	add := func(rc *RaftEntryCount) {
		rc.Entries++
		rc.Bytes += uint64(n)
		if uint64(n) > rc.Largest {
			rc.Largest = uint64(n)
		}
	}
	if uint64(n) > c.total.Largest {
		c.largestType = t
	}
	add(&c.total)
	rc := c.byType[t]
	add(&rc)
	c.byType[t] = rc
}

// RaftEntryStats returns the sizes of the raft entries proposed so far.
func (s *Server) RaftEntryStats() RaftEntryStats {
	c := &s.entries
	c.mu.Lock()
	defer c.mu.Unlock()
	out := RaftEntryStats{Total: c.total, ByType: map[string]RaftEntryCount{}}
	if c.total.Entries > 0 {
		out.LargestType = messageTypeName(c.largestType)
	}
	for t, rc := range c.byType {
		out.ByType[messageTypeName(t)] = rc
	}
	return out
}

// messageTypeName names a message type for reports; a type added later
// than this table reads as its number.
func messageTypeName(t MessageType) string {
	if n, ok := messageTypeNames[t]; ok {
		return n
	}
	return "type-" + strconv.Itoa(int(t))
}

var messageTypeNames = map[MessageType]string{
	JobRegisterRequestType:            "JobRegister",
	JobDeregisterRequestType:          "JobDeregister",
	EvalUpdateRequestType:             "EvalUpdate",
	ApplyPlanResultsRequestType:       "ApplyPlanResults",
	NodeRegisterRequestType:           "NodeRegister",
	NodeStatusUpdateRequestType:       "NodeStatusUpdate",
	NodeDrainUpdateRequestType:        "NodeDrainUpdate",
	NodeEligibilityUpdateRequestType:  "NodeEligibilityUpdate",
	AllocClientUpdateRequestType:      "AllocClientUpdate",
	AllocDesiredTransitionRequestType: "AllocDesiredTransition",
	DeploymentStatusUpdateRequestType: "DeploymentStatusUpdate",
	DeploymentPromoteRequestType:      "DeploymentPromote",
	JobStabilityRequestType:           "JobStability",
	NodeDeregisterRequestType:         "NodeDeregister",
	GCRequestType:                     "GC",
}
