package server

import (
	"context"

	"drover/agent/deploymentwatcher"
	"drover/agent/structs"
)

// watchDeployments runs the deployment watcher (agent/deploymentwatcher)
// while this server leads.
func (s *Server) watchDeployments(ctx context.Context) {
	deploymentwatcher.New(s.State, watcherRaft{s}, s.logger, now).Run(ctx)
}

// watcherRaft gives the deployment watcher its writes as raft requests.
type watcherRaft struct{ s *Server }

func (r watcherRaft) UpsertEvals(evals []*structs.Evaluation) error {
	_, err := r.s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: evals})
	return err
}

func (r watcherRaft) UpdateDeploymentStatus(u *structs.DeploymentStatusUpdate, revert *structs.Job,
	stable *deploymentwatcher.Stability, eval *structs.Evaluation) error {
	req := &DeploymentStatusUpdateRequest{Update: u, Job: revert, Eval: eval}
	if stable != nil {
		req.Stable = &JobStabilityRequest{Namespace: stable.Namespace, JobID: stable.JobID, Version: stable.Version, Stable: stable.Stable}
	}
	_, err := r.s.apply(DeploymentStatusUpdateRequestType, req)
	return err
}

func (r watcherRaft) PromoteDeployment(id string, groups []string, eval *structs.Evaluation) error {
	_, err := r.s.apply(DeploymentPromoteRequestType, &DeploymentPromoteRequest{DeploymentID: id, Groups: groups, Eval: eval})
	return err
}

func (r watcherRaft) UpdateDesiredTransitions(t map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error {
	_, err := r.s.apply(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{Transitions: t, Evals: evals})
	return err
}

// PromoteDeployment promotes the canaries of a deployment (all groups when
// groups is empty) so the rolling update continues.
func (s *Server) PromoteDeployment(deploymentID string, groups []string) (string, uint64, error) {
	return s.PromoteDeploymentWith(&DeploymentArgs{DeploymentID: deploymentID, Groups: groups})
}

// PromoteDeploymentWith is PromoteDeployment with the whole request,
// token included.
func (s *Server) PromoteDeploymentWith(args *DeploymentArgs) (string, uint64, error) {
	deploymentID, groups := args.DeploymentID, args.Groups
	var fwd DeploymentUpdateResponse
	if done, err := s.forward("Deployment.Promote", args, &fwd); done {
		return fwd.EvalID, fwd.Index, err
	}
	d, job, err := s.activeDeployment(deploymentID)
	if err != nil {
		return "", 0, err
	}
	eval := deploymentwatcher.NewEval(job, d, now())
	index, err := s.apply(DeploymentPromoteRequestType, &DeploymentPromoteRequest{DeploymentID: d.ID, Groups: groups, Eval: eval})
	if err != nil {
		return "", 0, err
	}
	return eval.ID, index, nil
}

// FailDeployment marks a running deployment failed at a user's request.
func (s *Server) FailDeployment(deploymentID string) (string, uint64, error) {
	return s.FailDeploymentWith(&DeploymentArgs{DeploymentID: deploymentID})
}

// FailDeploymentWith is FailDeployment with the whole request, token
// included.
func (s *Server) FailDeploymentWith(args *DeploymentArgs) (string, uint64, error) {
	deploymentID := args.DeploymentID
	var fwd DeploymentUpdateResponse
	if done, err := s.forward("Deployment.Fail", args, &fwd); done {
		return fwd.EvalID, fwd.Index, err
	}
	d, job, err := s.activeDeployment(deploymentID)
	if err != nil {
		return "", 0, err
	}
	eval := deploymentwatcher.NewEval(job, d, now())
	index, err := s.apply(DeploymentStatusUpdateRequestType, &DeploymentStatusUpdateRequest{
		Update: &structs.DeploymentStatusUpdate{DeploymentID: d.ID, Status: structs.DeploymentStatusFailed,
			StatusDescription: structs.DeploymentDescFailedByUser},
		Eval: eval,
	})
	if err != nil {
		return "", 0, err
	}
	return eval.ID, index, nil
}

func (s *Server) activeDeployment(id string) (*structs.Deployment, *structs.Job, error) {
	snap := s.State().Snapshot()
	d, err := snap.DeploymentByID(nil, id)
	if err != nil {
		return nil, nil, err
	}
	if d == nil {
		return nil, nil, errorf(ErrNotFound, "deployment not found")
	}
	if !d.Active() {
		return nil, nil, errorf(ErrInvalidRequest, "can't change terminal deployment")
	}
	job, err := snap.JobByID(nil, d.Namespace, d.JobID)
	if err != nil {
		return nil, nil, err
	}
	if job == nil {
		return nil, nil, errorf(ErrNotFound, "job not found")
	}
	return d, job, nil
}
