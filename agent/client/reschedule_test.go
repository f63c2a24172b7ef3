package client

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"drover/agent/structs"
)

// TestRescheduleNeverStrands runs Nomad's reschedule policy end to end: a
// task that always fails is rescheduled after each delay until its
// attempts are used up. No failed allocation may be left without a
// replacement while attempts remain (the follow-up evaluation once found
// its allocation "not yet due" and left it for good). The scenario is
// timing-sensitive by nature; run it many times with
//
//	go test ./agent/client -run TestRescheduleNeverStrands -count=200
func TestRescheduleNeverStrands(t *testing.T) {
	srv := testServer(t)
	testClient(t, srv, "node-1")
	job := mockJob(t, "service", `    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts       = 3
      interval       = "1h"
      delay          = "150ms"
      delay_function = "constant"
      unlimited      = false
    }`, `        run_for   = "30ms"
        exit_code = 1`)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	// 1 + 3 attempts, every one failed, each but the last replaced.
	waitFor(t, 20*time.Second, "four failed allocations, chained", func() (bool, string) {
		allocs := allocsOf(t, srv, "work")
		sort.Slice(allocs, func(i, j int) bool { return allocs[i].CreateIndex < allocs[j].CreateIndex })
		var why []string
		failed, replaced := 0, 0
		for _, a := range allocs {
			why = append(why, fmt.Sprintf("%s %s next=%.8s follow=%.8s", a.ID[:8], a.ClientStatus, a.NextAllocation, a.FollowupEvalID))
			if a.ClientStatus == structs.AllocClientStatusFailed {
				failed++
			}
			if a.NextAllocation != "" {
				replaced++
			}
		}
		return len(allocs) == 4 && failed == 4 && replaced == 3, fmt.Sprint(why)
	})
	// And no fifth: the attempts are used up.
	time.Sleep(500 * time.Millisecond)
	if n := len(allocsOf(t, srv, "work")); n != 4 {
		t.Fatalf("%d allocations after the attempts ran out, want 4", n)
	}
}
