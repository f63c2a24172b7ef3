package server

import (
	"context"

	"drover/agent/drainer"
	"drover/agent/structs"
)

// runDrainer runs the node drainer (agent/drainer) while this server leads.
func (s *Server) runDrainer(ctx context.Context) {
	drainer.New(s.State, drainerRaft{s}, s.logger, now).Run(ctx)
}

// drainerRaft gives the drainer its writes as raft requests.
type drainerRaft struct{ s *Server }

func (r drainerRaft) UpdateDesiredTransitions(t map[string]*structs.DesiredTransition, evals []*structs.Evaluation) error {
	_, err := r.s.apply(AllocDesiredTransitionRequestType, &AllocDesiredTransitionRequest{Transitions: t, Evals: evals})
	return err
}

func (r drainerRaft) CompleteDrain(nodeID string, updatedAt int64, event *structs.NodeEvent) error {
	_, err := r.s.apply(NodeDrainUpdateRequestType, &NodeDrainUpdateRequest{NodeID: nodeID, UpdatedAt: updatedAt, Event: event})
	return err
}
