package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"drover/agent/msgpack"
	"drover/agent/state"
	"drover/agent/structs"
)

// MessageType tags a raft log entry. The values are part of the on-disk
// format: append new types, never renumber or reuse one.
type MessageType byte

// Raft log message types.
const (
	JobRegisterRequestType MessageType = iota + 1
	JobDeregisterRequestType
	EvalUpdateRequestType
	ApplyPlanResultsRequestType
	NodeRegisterRequestType
	NodeStatusUpdateRequestType
	NodeDrainUpdateRequestType
	NodeEligibilityUpdateRequestType
	AllocClientUpdateRequestType
	AllocDesiredTransitionRequestType
	DeploymentStatusUpdateRequestType
	DeploymentPromoteRequestType
	JobStabilityRequestType
	NodeDeregisterRequestType
	GCRequestType
)

// The log entries. Every value that must be the same on all replicas
// (IDs, times) is stamped by the leader before replication, so applying
// an entry is deterministic.

// JobRegisterRequest registers a job and the evaluation that schedules it.
type JobRegisterRequest struct {
	Job  *structs.Job
	Eval *structs.Evaluation
	// EnforceIndex (-check-index) registers only if the stored job's
	// JobModifyIndex is still JobModifyIndex (0: must not exist). The FSM
	// compares, so concurrent writers cannot both pass.
	EnforceIndex   bool
	JobModifyIndex uint64
}

// JobDeregisterRequest stops (re-registers with Stop set) or purges a job.
type JobDeregisterRequest struct {
	Namespace string
	JobID     string
	Purge     bool
	// Job is the stopped version to store when not purging.
	Job  *structs.Job
	Eval *structs.Evaluation
}

// EvalUpdateRequest upserts evaluations.
type EvalUpdateRequest struct {
	Evals []*structs.Evaluation
}

// NodeRegisterRequest registers or re-registers a node.
type NodeRegisterRequest struct {
	Node  *structs.Node
	Evals []*structs.Evaluation
}

// NodeStatusUpdateRequest changes a node's status (ready, down).
type NodeStatusUpdateRequest struct {
	NodeID    string
	Status    string
	UpdatedAt int64
	Event     *structs.NodeEvent
	Evals     []*structs.Evaluation
}

// NodeDrainUpdateRequest starts, changes or ends a drain.
type NodeDrainUpdateRequest struct {
	NodeID       string
	Drain        *structs.DrainStrategy
	MarkEligible bool
	UpdatedAt    int64
	Event        *structs.NodeEvent
	Evals        []*structs.Evaluation
}

// NodeEligibilityUpdateRequest toggles scheduling eligibility.
type NodeEligibilityUpdateRequest struct {
	NodeID      string
	Eligibility string
	UpdatedAt   int64
	Event       *structs.NodeEvent
	Evals       []*structs.Evaluation
}

// NodeDeregisterRequest removes nodes.
type NodeDeregisterRequest struct {
	NodeIDs []string
}

// AllocClientUpdateRequest carries client-side allocation updates.
type AllocClientUpdateRequest struct {
	Allocs []*structs.Allocation
	Evals  []*structs.Evaluation
}

// AllocDesiredTransitionRequest marks allocations, e.g. to migrate.
type AllocDesiredTransitionRequest struct {
	Transitions map[string]*structs.DesiredTransition
	Evals       []*structs.Evaluation
}

// DeploymentStatusUpdateRequest ends or changes a deployment; Job is set
// when it rolls the job back, Stable when it marks a version stable.
type DeploymentStatusUpdateRequest struct {
	Update *structs.DeploymentStatusUpdate
	Job    *structs.Job
	Eval   *structs.Evaluation
	Stable *JobStabilityRequest
}

// DeploymentPromoteRequest promotes canaries.
type DeploymentPromoteRequest struct {
	DeploymentID string
	Groups       []string
	Eval         *structs.Evaluation
}

// JobStabilityRequest marks a job version stable (or not).
type JobStabilityRequest struct {
	Namespace string
	JobID     string
	Version   uint64
	Stable    bool
}

// entryHints holds each message type's last encoded size: the next
// entry's buffer starts there, instead of doubling its way up from a few
// hundred bytes to a plan's megabytes.
var entryHints [256]atomic.Int64

// encode builds a log entry: the type byte, then the request in
// MessagePack (agent/msgpack, the codec RPC uses too). Servers before
// this one wrote JSON after the type byte; decodeEntry still reads it.
func encode(t MessageType, req interface{}) ([]byte, error) {
	hint := entryHints[t].Load()
	if hint < 256 {
		hint = 256
	}
	buf, err := msgpack.Append(append(make([]byte, 0, hint), byte(t)), req)
	if err != nil {
		return nil, fmt.Errorf("encode %d: %w", t, err)
	}
	entryHints[t].Store(int64(len(buf)))
	// Raft keeps every entry until a snapshot compacts its log, and a
	// large entry that kept its growing buffer's spare room would hold up
	// to twice its size there.
	if len(buf) > 64<<10 && cap(buf)-len(buf) > len(buf)/8 {
		buf = append(make([]byte, 0, len(buf)), buf...)
	}
	return buf, nil
}

// decodeEntry decodes the body of a log entry (what follows the type
// byte) into v, in either format a Drover server ever wrote:
//
//   - JSON, written by servers before MessagePack: json.Marshal of a
//     pointer to a request struct is an object, so its first byte is
//     '{' (0x7b; json.Marshal writes no leading space).
//   - MessagePack: a struct encodes as a map, so the first byte is a
//     fixmap (0x80-0x8f), map16 (0xde) or map32 (0xdf) header, or nil
//     (0xc0). 0x7b would be the positive fixint 123, and no request
//     encodes to an integer.
//
// So the first byte alone tells the formats apart, and a log written by
// an older server applies unchanged, its JSON decoded as it was then
// (with the structs' JSON methods).
func decodeEntry(body []byte, v interface{}) error {
	if len(body) > 0 && body[0] == '{' {
		return json.Unmarshal(body, v)
	}
	return msgpack.Decode(body, v)
}

// fsmHooks let the leader react to what was applied: new evaluations go to
// the broker, freed capacity unblocks blocked evaluations. They run on
// every replica; only the leader's broker is enabled, so elsewhere they do
// nothing.
type fsmHooks struct {
	evals func(evals []*structs.Evaluation)
	// capacity names the nodes whose capacity changed and the
	// allocations that stopped (nothing named: unknown where).
	capacity func(index uint64, nodeIDs, allocIDs []string)
}

// fsm applies the raft log to the state store. It is the only writer of
// cluster state.
type fsm struct {
	mu    sync.RWMutex // guards state, which Restore replaces
	state *state.StateStore
	hooks fsmHooks
	// restoreErr is why the last snapshot restore failed: raft only says
	// that none could be loaded.
	restoreErr error
}

func newFSM() (*fsm, error) {
	st, err := state.NewStateStore()
	if err != nil {
		return nil, err
	}
	return &fsm{state: st}, nil
}

// State returns the current store.
func (f *fsm) State() *state.StateStore {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.state
}

// Apply applies one committed entry. An entry that cannot be decoded means
// this replica would diverge from the others, so it panics rather than
// carry on.
func (f *fsm) Apply(l *raft.Log) interface{} {
	if len(l.Data) == 0 {
		return nil
	}
	t, body := MessageType(l.Data[0]), l.Data[1:]
	st := f.State()
	decode := func(v interface{}) {
		if err := decodeEntry(body, v); err != nil {
			panic(fmt.Sprintf("fsm: undecodable log entry of type %d at index %d: %v", t, l.Index, err))
		}
	}
	var err error
	var evals []*structs.Evaluation
	capacity := false
	var capNodes, capAllocs []string
	switch t {
	case JobRegisterRequestType:
		var req JobRegisterRequest
		decode(&req)
		if req.EnforceIndex {
			existing, jerr := st.JobByID(nil, req.Job.Namespace, req.Job.ID)
			if jerr != nil {
				return jerr
			}
			if err := checkIndex(existing, req.JobModifyIndex); err != nil {
				return err
			}
		}
		if err = st.UpsertJob(l.Index, req.Job); err == nil && req.Eval != nil {
			evals = []*structs.Evaluation{req.Eval}
			err = st.UpsertEvals(l.Index, evals)
		}
	case JobDeregisterRequestType:
		var req JobDeregisterRequest
		decode(&req)
		if req.Purge {
			err = st.DeleteJob(l.Index, req.Namespace, req.JobID)
		} else if req.Job != nil {
			err = st.UpsertJob(l.Index, req.Job)
		}
		if err == nil && req.Eval != nil {
			evals = []*structs.Evaluation{req.Eval}
			err = st.UpsertEvals(l.Index, evals)
		}
	case EvalUpdateRequestType:
		var req EvalUpdateRequest
		decode(&req)
		evals = req.Evals
		err = st.UpsertEvals(l.Index, evals)
	case ApplyPlanResultsRequestType:
		var req state.ApplyPlanResultsRequest
		decode(&req)
		err = st.UpsertPlanResults(l.Index, &req)
		evals = req.EvalUpdates
		capacity = len(req.AllocStops) > 0 || len(req.AllocsStopped) > 0
		for _, a := range req.AllocStops {
			capAllocs = append(capAllocs, a.ID)
		}
		for _, a := range req.AllocsStopped {
			capAllocs = append(capAllocs, a.ID)
		}
	case NodeRegisterRequestType:
		var req NodeRegisterRequest
		decode(&req)
		if err = st.UpsertNode(l.Index, req.Node); err == nil && len(req.Evals) > 0 {
			err = st.UpsertEvals(l.Index, req.Evals)
		}
		evals, capacity = req.Evals, req.Node.Status == structs.NodeStatusReady
		capNodes = []string{req.Node.ID}
	case NodeStatusUpdateRequestType:
		var req NodeStatusUpdateRequest
		decode(&req)
		if err = st.UpdateNodeStatus(l.Index, req.NodeID, req.Status, req.UpdatedAt, req.Event); err == nil && len(req.Evals) > 0 {
			err = st.UpsertEvals(l.Index, req.Evals)
		}
		evals, capacity = req.Evals, req.Status == structs.NodeStatusReady
		capNodes = []string{req.NodeID}
	case NodeDrainUpdateRequestType:
		var req NodeDrainUpdateRequest
		decode(&req)
		if err = st.UpdateNodeDrain(l.Index, req.NodeID, req.Drain, req.MarkEligible, req.UpdatedAt, req.Event); err == nil && len(req.Evals) > 0 {
			err = st.UpsertEvals(l.Index, req.Evals)
		}
		evals, capacity = req.Evals, req.MarkEligible
		capNodes = []string{req.NodeID}
	case NodeEligibilityUpdateRequestType:
		var req NodeEligibilityUpdateRequest
		decode(&req)
		if err = st.UpdateNodeEligibility(l.Index, req.NodeID, req.Eligibility, req.UpdatedAt, req.Event); err == nil && len(req.Evals) > 0 {
			err = st.UpsertEvals(l.Index, req.Evals)
		}
		evals, capacity = req.Evals, req.Eligibility == structs.NodeSchedulingEligible
		capNodes = []string{req.NodeID}
	case NodeDeregisterRequestType:
		var req NodeDeregisterRequest
		decode(&req)
		err = st.DeleteNode(l.Index, req.NodeIDs)
	case AllocClientUpdateRequestType:
		var req AllocClientUpdateRequest
		decode(&req)
		if err = st.UpdateAllocsFromClient(l.Index, req.Allocs); err == nil && len(req.Evals) > 0 {
			err = st.UpsertEvals(l.Index, req.Evals)
		}
		evals = req.Evals
		for _, a := range req.Allocs {
			if a.ClientTerminalStatus() {
				capacity = true
				capAllocs = append(capAllocs, a.ID)
			}
		}
	case AllocDesiredTransitionRequestType:
		var req AllocDesiredTransitionRequest
		decode(&req)
		err = st.UpdateAllocsDesiredTransitions(l.Index, req.Transitions, req.Evals)
		evals = req.Evals
	case DeploymentStatusUpdateRequestType:
		var req DeploymentStatusUpdateRequest
		decode(&req)
		err = st.UpdateDeploymentStatus(l.Index, req.Update, req.Job, req.Eval)
		if err == nil && req.Stable != nil {
			err = st.UpdateJobStability(l.Index, req.Stable.Namespace, req.Stable.JobID, req.Stable.Version, req.Stable.Stable)
		}
		if req.Eval != nil {
			evals = []*structs.Evaluation{req.Eval}
		}
	case DeploymentPromoteRequestType:
		var req DeploymentPromoteRequest
		decode(&req)
		err = st.UpdateDeploymentPromotion(l.Index, req.DeploymentID, req.Groups, req.Eval)
		if req.Eval != nil {
			evals = []*structs.Evaluation{req.Eval}
		}
	case GCRequestType:
		var req GCRequest
		decode(&req)
		if g := req.Garbage; g != nil {
			err = st.DeleteEvals(l.Index, g.Evals, g.Allocs)
			for _, j := range g.Jobs {
				if err == nil {
					if derr := st.DeleteJob(l.Index, j.Namespace, j.ID); derr != nil && !errors.Is(derr, state.ErrJobNotFound) {
						err = derr
					}
				}
			}
			if err == nil {
				err = st.DeleteDeployments(l.Index, g.Deployments)
			}
			if err == nil && len(g.Nodes) > 0 {
				err = st.DeleteNode(l.Index, g.Nodes)
			}
		}
	case JobStabilityRequestType:
		var req JobStabilityRequest
		decode(&req)
		err = st.UpdateJobStability(l.Index, req.Namespace, req.JobID, req.Version, req.Stable)
	case ACLPolicyUpsertRequestType, ACLPolicyDeleteRequestType, ACLTokenUpsertRequestType,
		ACLTokenDeleteRequestType, ACLTokenBootstrapRequestType:
		err = applyACL(t, st, l.Index, decode)
	case VariableApplyRequestType:
		err = applyVariable(st, l.Index, decode)
	default:
		panic(fmt.Sprintf("fsm: unknown log entry type %d at index %d", t, l.Index))
	}
	if err != nil {
		// A request that the state refuses (e.g. purging a missing job)
		// changes nothing; the error goes back to the caller.
		return err
	}
	if f.hooks.evals != nil && len(evals) > 0 {
		f.hooks.evals(evals)
	}
	if f.hooks.capacity != nil && capacity {
		f.hooks.capacity(l.Index, capNodes, capAllocs)
	}
	return nil
}

// Snapshot captures the state as of the last applied entry.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.State().Snapshot()}, nil
}

// Restore replaces the state with a snapshot's. Blocking queries on the
// old store are woken by abandoning it.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := state.Restore(rc)
	if err != nil {
		err = fmt.Errorf("restore state: %w", err)
		f.mu.Lock()
		f.restoreErr = err
		f.mu.Unlock()
		return err
	}
	f.mu.Lock()
	old := f.state
	f.state = st
	f.mu.Unlock()
	old.Abandon()
	return nil
}

type fsmSnapshot struct {
	snap *state.StateSnapshot
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.snap.Persist(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// now is the leader's clock, used to stamp requests before replication.
func now() time.Time { return time.Now() }
