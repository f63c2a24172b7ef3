package server

import (
	"drover/agent/structs"
)

// AllocStopResponse answers "alloc stop": the evaluation that replaces
// the allocation, and the index the stop was applied at.
type AllocStopResponse struct {
	EvalID string
	Index  uint64
}

// AllocStopArgs stops one allocation (Alloc.Stop).
type AllocStopArgs struct {
	AllocID         string
	NoShutdownDelay bool
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// StopAlloc stops an allocation so that the scheduler replaces it, as
// "alloc stop" does in Nomad: the allocation is marked to migrate
// (DesiredTransition.Migrate, which the drainer uses too) together with an
// evaluation triggered by alloc-stop, in one raft entry. The scheduler then
// stops it and places a replacement under the same name (see
// scheduler.classify). allocID is a full ID or a unique prefix.
func (s *Server) StopAlloc(allocID string, noShutdownDelay bool) (*AllocStopResponse, error) {
	return s.StopAllocWith(&AllocStopArgs{AllocID: allocID, NoShutdownDelay: noShutdownDelay})
}

// StopAllocWith is StopAlloc with the whole request, token included.
func (s *Server) StopAllocWith(args *AllocStopArgs) (*AllocStopResponse, error) {
	allocID, noShutdownDelay := args.AllocID, args.NoShutdownDelay
	var fwd AllocStopResponse
	if done, err := s.forward("Alloc.Stop", args, &fwd); done {
		return &fwd, err
	}
	snap := s.State().Snapshot()
	alloc, err := snap.AllocByID(nil, allocID)
	if err != nil {
		return nil, err
	}
	if alloc == nil && len(allocID) >= 2 {
		matches, err := snap.AllocsByIDPrefix(nil, allocID)
		if err != nil {
			return nil, err
		}
		switch len(matches) {
		case 0:
		case 1:
			alloc = matches[0]
		default:
			return nil, errorf(ErrInvalidRequest, "alloc ID prefix %q is ambiguous", allocID)
		}
	}
	if alloc == nil {
		return nil, errorf(ErrNotFound, "allocation not found")
	}
	// The evaluation is for the job as it is now, which is what the
	// scheduler reads; the allocation may run an older version.
	job, err := snap.JobByID(nil, alloc.Namespace, alloc.JobID)
	if err != nil {
		return nil, err
	}
	if job == nil {
		job = alloc.Job
	}
	if job == nil {
		return nil, errorf(ErrNotFound, "job %q of allocation %s not found", alloc.JobID, alloc.ID)
	}
	ts := now()
	eval := structs.NewEval(job, structs.EvalTriggerAllocStop, ts)
	eval.JobModifyIndex = job.JobModifyIndex
	yes, noDelay := true, noShutdownDelay
	index, err := s.apply(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{
		Transitions: map[string]*structs.DesiredTransition{alloc.ID: {Migrate: &yes, NoShutdownDelay: &noDelay}},
		Evals:       []*structs.Evaluation{eval},
	})
	if err != nil {
		return nil, err
	}
	return &AllocStopResponse{EvalID: eval.ID, Index: index}, nil
}

// allocEndpoint exposes allocation writes over RPC, so a follower can
// forward them.
type allocEndpoint struct{ srv *Server }

func (e *allocEndpoint) Stop(args *AllocStopArgs, reply *AllocStopResponse) error {
	if err := e.srv.authorizeAllocLifecycle(args.AuthToken, args.AllocID); err != nil {
		return wireError(err)
	}
	r, err := e.srv.StopAllocWith(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}
