// Package wire holds the messages of the node-facing RPC (Node.*) and the
// error kinds that survive an RPC hop. Clients and servers both import it;
// it imports only structs, so a client links neither the server, nor its
// state store, nor the scheduler.
package wire

import (
	"time"

	"drover/agent/structs"
)

// NodeRegisterArgs registers a node.
type NodeRegisterArgs struct {
	Node *structs.Node
}

// NodeUpdateResponse tells a node how soon to heartbeat again.
type NodeUpdateResponse struct {
	HeartbeatTTL time.Duration
	Index        uint64
	Leader       string
	// Servers are the RPC addresses of the cluster's servers, which the
	// client adds to those it was configured with, for failover.
	Servers []string
}

// NodeHeartbeatArgs keeps a node alive.
type NodeHeartbeatArgs struct {
	NodeID   string
	SecretID string
}

// NodeStatusArgs changes a node's status (the client reports "ready").
type NodeStatusArgs struct {
	NodeID   string
	SecretID string
	Status   string
}

// NodeAllocsUpdateArgs carries the client's view of its allocations.
type NodeAllocsUpdateArgs struct {
	NodeID   string
	SecretID string
	Allocs   []*structs.Allocation
}

// GenericResponse carries the index a write was applied at.
type GenericResponse struct {
	Index uint64
}

// NodeGetAllocsArgs asks for a node's allocations once the state index
// passes MinIndex (a blocking query).
type NodeGetAllocsArgs struct {
	NodeID   string
	SecretID string
	MinIndex uint64
	MaxWait  time.Duration
}

// NodeGetAllocsResponse lists a node's allocations.
type NodeGetAllocsResponse struct {
	Allocs []*structs.Allocation
	Index  uint64
}

// NodeClientAllocsResponse names a node's allocations with the index of
// the server's last change to each (AllocModifyIndex), so that a client
// fetches only what changed (Node.GetAllocsByID) instead of every
// allocation, job included, on every change. Node.GetClientAllocs answers
// it, a blocking query with NodeGetAllocsArgs.
type NodeClientAllocsResponse struct {
	Allocs map[string]uint64
	Index  uint64
}

// NodeAllocsByIDArgs asks for some of a node's allocations; IDs of other
// nodes' allocations, or unknown ones, are left out of the answer.
type NodeAllocsByIDArgs struct {
	NodeID   string
	SecretID string
	AllocIDs []string
}

// NodeDrainArgs starts (DrainSpec set) or stops a drain.
type NodeDrainArgs struct {
	NodeID       string
	DrainSpec    *structs.DrainSpec
	MarkEligible bool
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// NodeEligibilityArgs sets scheduling eligibility.
type NodeEligibilityArgs struct {
	NodeID      string
	Eligibility string
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// NodeDrainResponse answers drain and eligibility changes.
type NodeDrainResponse struct {
	EvalIDs         []string
	EvalCreateIndex uint64
	NodeModifyIndex uint64
	Index           uint64
}

// ACLResolveArgs asks which policies a secret carries (ACL.ResolveToken):
// how a client-only agent checks the requests it answers itself.
type ACLResolveArgs struct{ SecretID string }

// ACLResolveResponse is a resolved token: whether the server checks ACLs,
// and the rules of the token's policies (Management: everything). Denied
// reports an unknown or expired secret.
type ACLResolveResponse struct {
	Enabled    bool
	Denied     bool
	Management bool
	Rules      []string
}
