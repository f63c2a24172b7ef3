package scheduler

import (
	"testing"

	"drover/agent/structs"
)

// TestAllocStopMigratesOnAReadyNode states the documented behaviour of
// "alloc stop": the server marks the allocation to migrate
// (DesiredTransition.Migrate) with an alloc-stop evaluation, and the
// scheduler stops it ("alloc is being migrated") and places a replacement
// under the same name, also when its node is ready and not draining; the
// replacement may land on the same node. Finished work is not run again,
// and unmarked allocations are left alone.
func TestAllocStopMigratesOnAReadyNode(t *testing.T) {
	yes := true
	cases := []struct {
		name string
		// nodes is how many ready nodes the cluster has.
		nodes int
		job   func(h *harness) *structs.Job
		// finish marks the stopped allocation complete first (finished
		// batch work).
		finish bool
		want   structs.DesiredUpdates
		// replaced says whether a replacement is placed.
		replaced bool
	}{
		{
			name: "service, one node: replaced on the same node", nodes: 1,
			job: func(h *harness) *structs.Job {
				return h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 2")
			},
			want: structs.DesiredUpdates{Migrate: 1, Ignore: 1}, replaced: true,
		},
		{
			name: "service, two nodes: replaced under its name", nodes: 2,
			job: func(h *harness) *structs.Job {
				return h.parse("seed004.nomad", "group \"cache\" {", "group \"cache\" {\n    count = 3")
			},
			want: structs.DesiredUpdates{Migrate: 1, Ignore: 2}, replaced: true,
		},
		{
			name: "batch, still running: replaced", nodes: 1,
			job: func(h *harness) *structs.Job {
				return h.parse("batch.nomad", "periodic {", "meta {", "cron             = \"*/15 * * * *\"", "a = \"b\"",
					"prohibit_overlap = true", "")
			},
			want: structs.DesiredUpdates{Migrate: 1}, replaced: true,
		},
		{
			name: "batch, already complete: not run again", nodes: 1,
			job: func(h *harness) *structs.Job {
				return h.parse("batch.nomad", "periodic {", "meta {", "cron             = \"*/15 * * * *\"", "a = \"b\"",
					"prohibit_overlap = true", "")
			},
			finish: true, want: structs.DesiredUpdates{}, replaced: false,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			var nodes []*structs.Node
			for i := 0; i < tc.nodes; i++ {
				nodes = append(nodes, h.node(string(rune('a'+i)), 4000, 8192))
			}
			job := h.register(tc.job(h))
			h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
			h.run(job, all)
			before := h.live(job)
			target := before[0]
			if tc.finish {
				h.must(h.st.UpdateAllocsFromClient(h.next(), []*structs.Allocation{{ID: target.ID,
					ClientStatus: structs.AllocClientStatusComplete}}))
			}
			// What the server's alloc stop endpoint writes.
			h.must(h.st.UpdateAllocsDesiredTransitions(h.next(),
				map[string]*structs.DesiredTransition{target.ID: {Migrate: &yes}}, nil))

			res := h.schedule(h.eval(job, structs.EvalTriggerAllocStop))
			wantUpdates(t, res, job.TaskGroups[0].Name, tc.want)
			stops := res.Plan.NodeUpdate[target.NodeID]
			placed := countAllocs(res.Plan.NodeAllocation)
			if !tc.replaced {
				if len(stops) != 0 || placed != 0 {
					t.Fatalf("finished work touched: stops %+v, placements %d\n%s", stops, placed, decisions(res))
				}
				return
			}
			if len(stops) != 1 || stops[0].ID != target.ID || stops[0].DesiredDescription != structs.AllocMigrating {
				t.Fatalf("stops: %+v\n%s", stops, decisions(res))
			}
			if placed != 1 {
				t.Fatalf("%d placements, want 1\n%s", placed, decisions(res))
			}
			var repl *structs.Allocation
			for _, allocs := range res.Plan.NodeAllocation {
				for _, a := range allocs {
					if a.CreateIndex == 0 {
						repl = a
					}
				}
			}
			if repl == nil || repl.Name != target.Name || repl.PreviousAllocation != target.ID || repl.ID == target.ID {
				t.Fatalf("replacement: %+v", repl)
			}
			if repl.DesiredTransition.ShouldMigrate() {
				t.Fatalf("the replacement inherited the migrate mark")
			}
			if tc.nodes == 1 && repl.NodeID != nodes[0].ID {
				t.Fatalf("replacement on %s, want the only node", repl.NodeID)
			}
			h.apply(res)
			after := h.live(job)
			if len(after) != len(before) {
				t.Fatalf("%d live allocations after, %d before", len(after), len(before))
			}
			for _, a := range after {
				if a.ID == target.ID {
					t.Fatalf("the stopped allocation is still live")
				}
			}
			// The next evaluation leaves everything as it is.
			h.run(job, all)
			res = h.schedule(h.eval(job, structs.EvalTriggerNodeUpdate))
			if countAllocs(res.Plan.NodeAllocation) != 0 || countAllocs(res.Plan.NodeUpdate) != 0 {
				t.Fatalf("a second evaluation changed something:\n%s", decisions(res))
			}
		})
	}
}

// TestAllocStopSystemJob: a system allocation stopped by "alloc stop" is
// stopped and not replaced by that evaluation ("System allocs will not
// [be rescheduled] and will show up as completed"); the job's next
// evaluation places one on the node again, as Nomad's does.
func TestAllocStopSystemJob(t *testing.T) {
	yes := true
	h := newHarness(t)
	a := h.node("a", 2000, 2048)
	h.node("b", 2000, 2048)
	job := h.register(h.parse("system.nomad", "raw_exec", "mock"))
	h.apply(h.schedule(h.eval(job, structs.EvalTriggerJobRegister)))
	h.run(job, nil)
	var target *structs.Allocation
	for _, al := range h.live(job) {
		if al.NodeID == a.ID {
			target = al
		}
	}
	h.must(h.st.UpdateAllocsDesiredTransitions(h.next(),
		map[string]*structs.DesiredTransition{target.ID: {Migrate: &yes}}, nil))

	res := h.schedule(h.eval(job, structs.EvalTriggerAllocStop))
	wantUpdates(t, res, "agent", structs.DesiredUpdates{Migrate: 1, Ignore: 1})
	if stops := res.Plan.NodeUpdate[a.ID]; len(stops) != 1 || stops[0].ID != target.ID {
		t.Fatalf("stops: %+v\n%s", stops, decisions(res))
	}
	if n := countAllocs(res.Plan.NodeAllocation); n != 0 {
		t.Fatalf("%d placements by the alloc-stop evaluation, want none\n%s", n, decisions(res))
	}
	h.apply(res)
	if live := h.live(job); len(live) != 1 {
		t.Fatalf("%d live allocations after the stop, want 1", len(live))
	}
	res = h.schedule(h.eval(job, structs.EvalTriggerNodeUpdate))
	wantUpdates(t, res, "agent", structs.DesiredUpdates{Place: 1, Ignore: 1})
	if placed := res.Plan.NodeAllocation[a.ID]; len(placed) != 1 {
		t.Fatalf("the next evaluation does not place on the node again:\n%s", decisions(res))
	}
}
