package server

import (
	"context"
	"time"

	"drover/agent/gc"
)

// GCRequest deletes what a garbage collection found (agent/gc).
type GCRequest struct {
	Garbage *gc.Garbage
}

// collectGarbage is a leader loop: every GCInterval it deletes what has
// been finished for longer than the thresholds, through raft.
func (s *Server) collectGarbage(ctx context.Context) {
	every := s.config.GCInterval
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.gcOnce(s.config.GCThresholds); err != nil {
				s.logger.Printf("[ERROR] gc: %v", err)
			}
		}
	}
}

// gcOnce collects once with the given thresholds and reports what it
// deleted.
func (s *Server) gcOnce(th gc.Thresholds) (*gc.Garbage, error) {
	g, err := gc.Collect(s.State().Snapshot(), now(), th)
	if err != nil || g.Empty() {
		return g, err
	}
	if _, err := s.apply(GCRequestType, &GCRequest{Garbage: g}); err != nil {
		return nil, err
	}
	s.logger.Printf("[INFO] gc: deleted %d evaluations, %d allocations, %d jobs, %d deployments, %d nodes",
		len(g.Evals), len(g.Allocs), len(g.Jobs), len(g.Deployments), len(g.Nodes))
	return g, nil
}

// ForceGC collects everything finished, whatever its age, as
// `system gc` asks; a follower forwards it to the leader.
func (s *Server) ForceGC() error {
	return s.ForceGCWith(&GCArgs{})
}

// GCArgs asks for a garbage collection (System.GarbageCollect).
type GCArgs struct {
	// AuthToken is the caller's ACL secret; collecting needs a
	// management token.
	AuthToken string
}

// ForceGCWith is ForceGC with the whole request, token included.
func (s *Server) ForceGCWith(args *GCArgs) error {
	var fwd GenericResponse
	if done, err := s.forward("System.GarbageCollect", args, &fwd); done {
		return err
	}
	_, err := s.gcOnce(gc.Thresholds{})
	return err
}

// systemEndpoint answers System.* RPCs.
type systemEndpoint struct{ srv *Server }

func (e *systemEndpoint) GarbageCollect(args *GCArgs, reply *GenericResponse) error {
	if err := e.srv.authorizeManagement(args.AuthToken); err != nil {
		return wireError(err)
	}
	return wireError(e.srv.ForceGCWith(args))
}
