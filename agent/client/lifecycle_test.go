package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"drover/agent/jobspec"
	"drover/agent/structs"
)

// taskState is a task's state on the client, nil while the client does not
// run it yet.
func taskState(t *testing.T, c *Client, allocID, task string) *structs.TaskState {
	t.Helper()
	ar, err := c.runner(allocID)
	if err != nil {
		return nil
	}
	tr := ar.taskRunner(task)
	if tr == nil {
		return nil
	}
	return tr.snapshot()
}

func waitState(t *testing.T, c *Client, allocID, task, state string, restarts uint64) *structs.TaskState {
	t.Helper()
	var ts *structs.TaskState
	waitFor(t, 10*time.Second, task+" "+state, func() (bool, string) {
		if ts = taskState(t, c, allocID, task); ts == nil {
			return false, "not on the client yet"
		}
		return ts.State == state && ts.Restarts == restarts, ts.State + " " + strings.Join(eventTypes(ts), ",")
	})
	return ts
}

// waitAllocStatus waits for the client status of a local allocation.
func waitAllocStatus(t *testing.T, c *Client, allocID, status string) {
	t.Helper()
	waitFor(t, 10*time.Second, "allocation "+status, func() (bool, string) {
		ar, err := c.runner(allocID)
		if err != nil {
			return false, err.Error()
		}
		ar.mu.Lock()
		defer ar.mu.Unlock()
		return ar.status == status, ar.status
	})
}

// A user's restart restarts the task in place, at once, and does not use
// up the restart policy's attempts: after three user restarts, a task
// allowed one failure is still restarted after it fails once, and only
// the second failure ends it.
func TestRestart_NotCountedAgainstPolicy(t *testing.T) {
	srv := testServer(t)
	c := testClient(t, srv, "restarter")
	job := mockJob(t, "service", `    restart {
      attempts = 1
      interval = "1h"
      delay    = "50ms"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }`, `run_for = "0s"`)
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	var allocID string
	waitFor(t, 10*time.Second, "a running allocation", func() (bool, string) {
		for _, a := range allocsOf(t, srv, "work") {
			if a.ClientStatus == structs.AllocClientStatusRunning {
				allocID = a.ID
				return true, ""
			}
		}
		return false, ""
	})
	ctx := context.Background()
	for i := uint64(1); i <= 3; i++ {
		if err := c.RestartAlloc(ctx, allocID, "t", false); err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		waitState(t, c, allocID, "t", structs.TaskStateRunning, i)
	}
	ts := taskState(t, c, allocID, "t")
	if got := strings.Join(eventTypes(ts), ","); !strings.HasSuffix(got, "Restart Signaled,Terminated,Restarting,Started") {
		t.Fatalf("events: %s", got)
	}
	for _, e := range ts.Events {
		if e.Type == EventRestartSignal && (e.RestartReason != "User requested task to restart" || e.DisplayMessage != e.RestartReason) {
			t.Fatalf("restart event: %+v", e)
		}
		if e.Type == EventRestarting && e.DisplayMessage != "Task restarting in 0s" {
			t.Fatalf("restarting event: %+v", e)
		}
	}
	// The first failure: the policy's one attempt is still there.
	if err := c.SignalAlloc(allocID, "t", "SIGKILL"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, allocID, "t", structs.TaskStateRunning, 4)
	// The second: no attempt left.
	if err := c.SignalAlloc(allocID, "t", ""); err != nil { // SIGKILL by default
		t.Fatal(err)
	}
	ts = waitState(t, c, allocID, "t", structs.TaskStateDead, 4)
	if !ts.Failed || ts.Events[len(ts.Events)-1].Type != EventNotRestarting {
		t.Fatalf("after the second failure: failed=%v events %v", ts.Failed, eventTypes(ts))
	}
	sig := 0
	for _, e := range ts.Events {
		if e.Type == EventSignaling && e.TaskSignal == "SIGKILL" && e.DisplayMessage == "Task being sent signal SIGKILL" {
			sig++
		}
	}
	if sig != 2 {
		t.Fatalf("%d Signaling events, want 2: %v", sig, eventTypes(ts))
	}
	// A dead task can be neither restarted nor signalled.
	waitAllocStatus(t, c, allocID, structs.AllocClientStatusFailed)
	if err := c.RestartAlloc(ctx, allocID, "t", false); !errors.Is(err, ErrTaskNotRunning) {
		t.Fatalf("restart of a dead task: %v", err)
	}
	if err := c.RestartAlloc(ctx, allocID, "", false); !errors.Is(err, ErrAllocNotRunning) {
		t.Fatalf("restart of a failed allocation: %v", err)
	}
	if err := c.SignalAlloc(allocID, "t", "SIGHUP"); !errors.Is(err, ErrTaskNotRunning) {
		t.Fatalf("signal to a dead task: %v", err)
	}
	if err := c.SignalAlloc(allocID, "", "SIGHUP"); err == nil ||
		err.Error() != "1 error occurred:\n\t* Failed to signal task: t, err: Task not running\n\n" {
		t.Fatalf("signal to every task of a failed allocation: %q", err)
	}
}

// -all-tasks starts a finished task again while its allocation still runs
// another; restarting only the running tasks leaves it finished.
func TestRestart_AllTasksRevivesFinished(t *testing.T) {
	srv := testServer(t)
	c := testClient(t, srv, "reviver")
	job, err := jobspec.Parse("two.nomad", []byte(`job "two" {
  type = "batch"
  group "g" {
    task "short" {
      driver = "mock"
      config {
        run_for = "50ms"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
    task "long" {
      driver = "mock"
      config {
        run_for = "1h"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}`), jobspec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.RegisterJob(job, false, 0); err != nil {
		t.Fatal(err)
	}
	var allocID string
	waitFor(t, 10*time.Second, "the allocation", func() (bool, string) {
		for _, a := range allocsOf(t, srv, "two") {
			allocID = a.ID
			return true, ""
		}
		return false, ""
	})
	waitState(t, c, allocID, "short", structs.TaskStateDead, 0)
	waitState(t, c, allocID, "long", structs.TaskStateRunning, 0)

	ctx := context.Background()
	if err := c.RestartAlloc(ctx, allocID, "", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, allocID, "long", structs.TaskStateRunning, 1)
	if ts := taskState(t, c, allocID, "short"); ts.State != structs.TaskStateDead || ts.Restarts != 0 {
		t.Fatalf("restarting the running tasks touched the finished one: %s %d", ts.State, ts.Restarts)
	}
	for _, e := range taskState(t, c, allocID, "long").Events {
		if e.Type == EventRestartSignal && e.DisplayMessage != "User requested running tasks to restart" {
			t.Fatalf("reason: %q", e.DisplayMessage)
		}
	}

	if err := c.RestartAlloc(ctx, allocID, "", true); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, allocID, "long", structs.TaskStateRunning, 2)
	// The finished task ran again, and finished again.
	ts := waitState(t, c, allocID, "short", structs.TaskStateDead, 1)
	got := strings.Join(eventTypes(ts), ",")
	if !strings.HasSuffix(got, "Terminated,Restart Signaled,Restarting,Started,Terminated") {
		t.Fatalf("short's events: %s", got)
	}
	for _, e := range ts.Events {
		if e.Type == EventRestartSignal && e.DisplayMessage != "User requested all tasks to restart" {
			t.Fatalf("reason: %q", e.DisplayMessage)
		}
	}
	if ts.Failed {
		t.Fatal("the revived task is failed")
	}
	if err := c.RestartAlloc(ctx, allocID, "short", true); err == nil ||
		err.Error() != "task name cannot be set when restarting all tasks" {
		t.Fatalf("task and all tasks: %v", err)
	}
	if err := c.RestartAlloc(ctx, allocID, "nope", false); err == nil || err.Error() != "Could not find task runner for task: nope" {
		t.Fatalf("unknown task: %v", err)
	}
	if err := c.RestartAlloc(ctx, "nope", "", false); !errors.Is(err, ErrUnknownAlloc) {
		t.Fatalf("unknown allocation: %v", err)
	}
}
