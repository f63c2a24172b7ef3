package httpapi

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"

	"drover/agent/structs"
)

// TestAPI_ConcurrentRegisterAndUpdate: 50 goroutines register and then
// update their own job through the official client, all at once. No
// update is lost, each goroutine sees its JobModifyIndex strictly grow,
// no index is handed out twice, and no node is committed beyond its
// resources once scheduling settles.
func TestAPI_ConcurrentRegisterAndUpdate(t *testing.T) {
	a := newTestAgent(t)
	nodes := []*structs.Node{a.addNode(t, "", "one"), a.addNode(t, "", "two")}
	const workers, updates = 50, 3
	indexes := make([][]uint64, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			id := fmt.Sprintf("job-%02d", w)
			for u := 0; u <= updates; u++ {
				// Each version asks for more memory: 40 MB ... 43 MB, with
				// 8 allocations of it per job, so two 8 GB nodes cannot
				// hold everything and the plan applier must refuse some.
				job := smallJob(id, 8)
				job.TaskGroups[0].Tasks[0].Resources.MemoryMB = ptr(40 + u)
				job.TaskGroups[0].Tasks[0].Resources.CPU = ptr(40)
				resp, _, err := a.client.Jobs().Register(job, nil)
				if err != nil {
					errs <- fmt.Errorf("%s update %d: %w", id, u, err)
					return
				}
				indexes[w] = append(indexes[w], resp.JobModifyIndex)
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for w, list := range indexes {
		for i := 1; i < len(list); i++ {
			if list[i] <= list[i-1] {
				t.Fatalf("job-%02d: JobModifyIndex not increasing: %v", w, list)
			}
		}
		for _, idx := range list {
			if seen[idx] {
				t.Fatalf("JobModifyIndex %d handed out twice", idx)
			}
			seen[idx] = true
		}
	}
	for w := 0; w < workers; w++ {
		job, _, err := a.client.Jobs().Info(fmt.Sprintf("job-%02d", w), nil)
		if err != nil {
			t.Fatal(err)
		}
		if *job.Version != updates || *job.TaskGroups[0].Tasks[0].Resources.MemoryMB != 40+updates {
			t.Fatalf("job-%02d: version %d memory %d, want the last update", w, *job.Version,
				*job.TaskGroups[0].Tasks[0].Resources.MemoryMB)
		}
	}
	waitFor(t, 60*time.Second, func() (bool, string) {
		evals, _, err := a.client.Evaluations().List(nil)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evals {
			if e.Status == api.EvalStatusPending {
				return false, "evaluation " + e.ID + " pending"
			}
		}
		return true, ""
	})
	for _, n := range nodes {
		allocs, _, err := a.client.Nodes().Allocations(n.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		cpu, mem := 0, 0
		for _, alloc := range allocs {
			if alloc.DesiredStatus != "run" || alloc.ClientStatus == "complete" || alloc.ClientStatus == "failed" || alloc.ClientStatus == "lost" {
				continue
			}
			for _, tr := range alloc.AllocatedResources.Tasks {
				cpu += int(tr.Cpu.CpuShares)
				mem += int(tr.Memory.MemoryMB)
			}
		}
		if cpu > 4000 || mem > 8192 {
			t.Fatalf("node %s committed %d MHz / %d MB of 4000 / 8192", n.Name, cpu, mem)
		}
	}
}
