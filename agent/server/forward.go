package server

import (
	"context"
	"errors"
	"time"

	"drover/agent/acl"
	droverrpc "drover/agent/rpc"
	"drover/agent/structs"
)

// forward hands a request to the leader when this server is not it, and
// reports done=false on the leader, which then serves it itself. While
// there is no leader (an election) it waits up to the hold timeout; a
// leader that dies or steps down mid-call is retried at the next one.
// Every write is idempotent for a retry: a re-registered identical job
// only gets a new evaluation, a repeated status or heartbeat changes
// nothing.
func (s *Server) forward(method string, args, reply interface{}) (done bool, err error) {
	hold := s.config.RPCHoldTimeout
	if hold <= 0 {
		hold = 5 * time.Second
	}
	deadline := time.Now().Add(hold)
	var last error
	for {
		if s.IsLeader() && s.leaderReady() {
			return false, nil
		}
		if leader := s.Leader(); leader != "" && leader != s.RPCAddr() {
			ctx, cancel := context.WithTimeout(s.shutdownCtx, 30*time.Second)
			err := s.pool.Call(ctx, leader, method, args, reply)
			cancel()
			if err == nil {
				return true, nil
			}
			remote := RemoteError(err)
			if droverrpc.IsServerError(err) && !errors.Is(remote, ErrNotLeader) && !errors.Is(remote, ErrNoLeader) {
				return true, remote
			}
			last = err
		}
		if s.shutdownCtx.Err() != nil {
			return true, ErrShuttingDown
		}
		if time.Now().After(deadline) {
			if last != nil {
				s.logger.Printf("[WARN] server: forward %s to the leader: %v", method, last)
			}
			return true, ErrNoLeader
		}
		select {
		case <-s.shutdownCtx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Arguments of the job and deployment writes, for forwarding.

// JobRegisterArgs registers a job (Job.Register).
type JobRegisterArgs struct {
	Job            *structs.Job
	EnforceIndex   bool
	JobModifyIndex uint64
	// EvalPriority overrides the job's priority for the evaluation this
	// registration creates (job run -eval-priority); 0 keeps the job's.
	EvalPriority int
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// JobPlanArgs plans a job (Job.Plan).
type JobPlanArgs struct {
	Job  *structs.Job
	Diff bool
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// JobDeregisterArgs stops or purges a job (Job.Deregister).
type JobDeregisterArgs struct {
	Namespace string
	JobID     string
	Purge     bool
	// EvalPriority is as in JobRegisterArgs (job stop -eval-priority).
	EvalPriority int
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// DeploymentArgs promotes (Deployment.Promote) or fails
// (Deployment.Fail) a deployment.
type DeploymentArgs struct {
	DeploymentID string
	Groups       []string
	// AuthToken is the caller's ACL secret, checked by the server that
	// executes the request (see agent/server/acl.go).
	AuthToken string
}

// DeploymentUpdateResponse is the evaluation a deployment change created.
type DeploymentUpdateResponse struct {
	EvalID string
	Index  uint64
}

// jobEndpoint exposes job writes over RPC, so a follower can forward them.
type jobEndpoint struct{ srv *Server }

func (e *jobEndpoint) Register(args *JobRegisterArgs, reply *JobRegisterResponse) error {
	if args.Job != nil {
		if err := e.srv.authorizeNamespace(args.AuthToken, args.Job.Namespace, acl.CapSubmitJob); err != nil {
			return wireError(err)
		}
	}
	r, err := e.srv.RegisterJobWith(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *jobEndpoint) Plan(args *JobPlanArgs, reply *JobPlanResponse) error {
	if args.Job != nil {
		if err := e.srv.authorizeNamespace(args.AuthToken, args.Job.Namespace, acl.CapSubmitJob); err != nil {
			return wireError(err)
		}
	}
	r, err := e.srv.PlanJobWith(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

func (e *jobEndpoint) Deregister(args *JobDeregisterArgs, reply *JobDeregisterResponse) error {
	if err := e.srv.authorizeNamespace(args.AuthToken, args.Namespace, acl.CapSubmitJob); err != nil {
		return wireError(err)
	}
	r, err := e.srv.DeregisterJobWith(args)
	if err != nil {
		return wireError(err)
	}
	*reply = *r
	return nil
}

// deploymentEndpoint exposes deployment writes over RPC.
type deploymentEndpoint struct{ srv *Server }

func (e *deploymentEndpoint) Promote(args *DeploymentArgs, reply *DeploymentUpdateResponse) error {
	if err := e.srv.authorizeDeployment(args.AuthToken, args.DeploymentID); err != nil {
		return wireError(err)
	}
	id, index, err := e.srv.PromoteDeploymentWith(args)
	reply.EvalID, reply.Index = id, index
	return wireError(err)
}

func (e *deploymentEndpoint) Fail(args *DeploymentArgs, reply *DeploymentUpdateResponse) error {
	if err := e.srv.authorizeDeployment(args.AuthToken, args.DeploymentID); err != nil {
		return wireError(err)
	}
	id, index, err := e.srv.FailDeploymentWith(args)
	reply.EvalID, reply.Index = id, index
	return wireError(err)
}

// ConsistentRead makes a read on this server see at least what the leader
// had applied when the read arrived. The leader reads at once; a follower
// asks the leader for its applied index and waits until it has applied as
// much, so a write acknowledged anywhere is visible in the next read
// everywhere. Reads with ?stale skip this and answer from local state.
func (s *Server) ConsistentRead(ctx context.Context) error {
	hold := s.config.RPCHoldTimeout
	if hold <= 0 {
		hold = 5 * time.Second
	}
	deadline := time.Now().Add(hold)
	var target uint64
	for target == 0 {
		if s.IsLeader() && s.leaderReady() {
			return nil
		}
		if leader := s.Leader(); leader != "" && leader != s.RPCAddr() {
			callCtx, cancel := context.WithTimeout(ctx, hold)
			err := s.pool.Call(callCtx, leader, "Status.AppliedIndex", &struct{}{}, &target)
			cancel()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			return ErrNoLeader
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	for s.stateIndex() < target {
		if time.Now().After(deadline) {
			return errorf(ErrNoLeader, "this server is behind the leader (at index %d of %d); retry, or read with ?stale",
				s.stateIndex(), target)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// leaderReady reports whether this server's leadership is established:
// raft elects a leader before its state has caught up with the log, and
// until the barrier of establishLeadership it must answer nothing, or a
// heartbeat would find no node and a -check-index no job.
func (s *Server) leaderReady() bool { return s.broker.Enabled() }

// stateIndex is the newest index in this server's state store.
func (s *Server) stateIndex() uint64 {
	i, _ := s.State().LatestIndex()
	return i
}
