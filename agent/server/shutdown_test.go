package server

import (
	"sync"
	"testing"
	"time"

	"drover/agent/structs"
)

// TestServer_ShutdownWhileApplying: writes under way when the server
// shuts down end (with an error or applied), and Shutdown returns. A
// write that reached raft's queue as raft stopped used to wait forever,
// and Shutdown with it, since the leader's loops wait for their writes.
func TestServer_ShutdownWhileApplying(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := testServer(t, "")
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					eval := &structs.Evaluation{ID: structs.GenerateUUID(), Namespace: "default", JobID: "x",
						Status: structs.EvalStatusComplete, Type: structs.JobTypeService}
					if _, err := s.apply(EvalUpdateRequestType, &EvalUpdateRequest{Evals: []*structs.Evaluation{eval}}); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(round) * 7 * time.Millisecond)
		done := make(chan error, 1)
		go func() { done <- s.Shutdown() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: Shutdown did not return while writes were under way", round)
		}
		close(stop)
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: a write never ended after Shutdown", round)
		}
	}
}
