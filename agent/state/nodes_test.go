package state

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"drover/agent/structs"
)

func event(msg string) *structs.NodeEvent {
	return &structs.NodeEvent{Message: msg, Subsystem: "Cluster", Timestamp: time.Unix(1700000000, 0).UTC()}
}

func TestUpsertNode_RegisterAndReregister(t *testing.T) {
	s := mustStore(t)
	n := mockNode(1)
	n.SchedulingEligibility = ""
	must(t, s.UpsertNode(10, n))
	got := getNode(t, s, id("n", 1))
	if got.CreateIndex != 10 || got.ModifyIndex != 10 || got.SchedulingEligibility != structs.NodeSchedulingEligible {
		t.Fatalf("new node: %+v", got)
	}
	if len(got.Events) != 1 || got.Events[0].CreateIndex != 10 {
		t.Fatalf("events %+v", got.Events)
	}

	drain := &structs.DrainStrategy{DrainSpec: structs.DrainSpec{Deadline: time.Hour}, StartedAt: time.Unix(1700000100, 0).UTC()}
	must(t, s.UpdateNodeDrain(11, n.ID, drain, false, 1700000100, event(structs.NodeEventDrainSet)))

	// The node comes back describing itself as eligible and undrained.
	again := mockNode(1)
	again.Name = "renamed"
	again.SchedulingEligibility = structs.NodeSchedulingEligible
	again.Events = []*structs.NodeEvent{event(structs.NodeEventReregistered)}
	must(t, s.UpsertNode(12, again))
	got = getNode(t, s, id("n", 1))
	if got.CreateIndex != 10 || got.ModifyIndex != 12 || got.Name != "renamed" {
		t.Fatalf("re-registered: create=%d modify=%d name=%q", got.CreateIndex, got.ModifyIndex, got.Name)
	}
	if !got.Drain || got.DrainStrategy == nil || got.SchedulingEligibility != structs.NodeSchedulingIneligible {
		t.Fatalf("re-registration undid the drain: drain=%v strategy=%v elig=%q", got.Drain, got.DrainStrategy, got.SchedulingEligibility)
	}
	var msgs []string
	for _, e := range got.Events {
		msgs = append(msgs, e.Message)
	}
	want := []string{structs.NodeEventRegistered, structs.NodeEventDrainSet, structs.NodeEventReregistered}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", msgs, want)
	}
	if got.Events[2].CreateIndex != 12 || got.Events[0].CreateIndex != 10 {
		t.Fatal("event indexes wrong")
	}

	// Events are capped, oldest dropped.
	for i := 0; i < 15; i++ {
		must(t, s.UpdateNodeStatus(uint64(20+i), n.ID, structs.NodeStatusReady, 1700000200, event(fmt.Sprintf("e%d", i))))
	}
	got = getNode(t, s, id("n", 1))
	if len(got.Events) != MaxNodeEvents || got.Events[MaxNodeEvents-1].Message != "e14" || got.Events[0].Message != "e5" {
		t.Fatalf("events not capped: %d, last %q", len(got.Events), got.Events[len(got.Events)-1].Message)
	}
}

func TestNodeStatusAndDelete(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertNode(10, mockNode(1)))
	must(t, s.UpdateNodeStatus(11, id("n", 1), structs.NodeStatusDown, 1700000300, event(structs.NodeEventHeartbeatMissed)))
	got := getNode(t, s, id("n", 1))
	if got.Status != structs.NodeStatusDown || got.StatusUpdatedAt != 1700000300 || got.ModifyIndex != 11 {
		t.Fatalf("status not updated: %+v", got)
	}
	if err := s.UpdateNodeStatus(12, id("n", 2), structs.NodeStatusDown, 0, nil); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("err = %v", err)
	}
	if err := s.DeleteNode(13, []string{id("n", 1), id("n", 2)}); !errors.Is(err, ErrNodeNotFound) {
		t.Fatalf("err = %v", err)
	}
	if n, _ := s.NodeByID(nil, id("n", 1)); n == nil {
		t.Fatal("failed delete removed a node")
	}
	must(t, s.DeleteNode(14, []string{id("n", 1)}))
	if n, _ := s.NodeByID(nil, id("n", 1)); n != nil {
		t.Fatal("node not deleted")
	}
	if got := tableIndexOf(t, s, TableNodes); got != 14 {
		t.Fatalf("nodes index %d", got)
	}
}

func TestNodeDrainAndEligibility(t *testing.T) {
	drain := func() *structs.DrainStrategy {
		return &structs.DrainStrategy{DrainSpec: structs.DrainSpec{Deadline: time.Hour}, StartedAt: time.Unix(1700000000, 0).UTC()}
	}
	type step struct {
		name    string
		apply   func(s *StateStore, idx uint64) error
		wantErr error
		drain   bool
		elig    string
		last    string // LastDrain.Status, "" if none
	}
	setDrain := func(d *structs.DrainStrategy, markEligible bool, msg string) func(s *StateStore, idx uint64) error {
		return func(s *StateStore, idx uint64) error {
			return s.UpdateNodeDrain(idx, id("n", 1), d, markEligible, 1700000000+int64(idx), event(msg))
		}
	}
	setElig := func(e string) func(s *StateStore, idx uint64) error {
		return func(s *StateStore, idx uint64) error {
			return s.UpdateNodeEligibility(idx, id("n", 1), e, 1700000000, event("elig"))
		}
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"drain completes, node stays ineligible", []step{
			{"drain", setDrain(drain(), false, structs.NodeEventDrainSet), nil, true, structs.NodeSchedulingIneligible, DrainStatusDraining},
			{"cannot make eligible", setElig(structs.NodeSchedulingEligible), ErrEligibleWhileDraining, true, structs.NodeSchedulingIneligible, DrainStatusDraining},
			{"ineligible is fine", setElig(structs.NodeSchedulingIneligible), nil, true, structs.NodeSchedulingIneligible, DrainStatusDraining},
			{"complete", setDrain(nil, false, structs.NodeEventDrainComplete), nil, false, structs.NodeSchedulingIneligible, DrainStatusComplete},
			{"eligible again", setElig(structs.NodeSchedulingEligible), nil, false, structs.NodeSchedulingEligible, DrainStatusComplete},
		}},
		{"drain disabled marks eligible", []step{
			{"drain", setDrain(drain(), false, structs.NodeEventDrainSet), nil, true, structs.NodeSchedulingIneligible, DrainStatusDraining},
			{"updated", setDrain(drain(), false, structs.NodeEventDrainUpdated), nil, true, structs.NodeSchedulingIneligible, DrainStatusDraining},
			{"disable", setDrain(nil, true, structs.NodeEventDrainDisabled), nil, false, structs.NodeSchedulingEligible, DrainStatusCanceled},
		}},
		{"disable keeping ineligible", []step{
			{"drain", setDrain(drain(), false, structs.NodeEventDrainSet), nil, true, structs.NodeSchedulingIneligible, DrainStatusDraining},
			{"disable", setDrain(nil, false, structs.NodeEventDrainDisabled), nil, false, structs.NodeSchedulingIneligible, DrainStatusCanceled},
		}},
		{"eligibility without drain", []step{
			{"ineligible", setElig(structs.NodeSchedulingIneligible), nil, false, structs.NodeSchedulingIneligible, ""},
			{"eligible", setElig(structs.NodeSchedulingEligible), nil, false, structs.NodeSchedulingEligible, ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustStore(t)
			must(t, s.UpsertNode(10, mockNode(1)))
			idx := uint64(10)
			for _, st := range tc.steps {
				idx++
				before := getNode(t, s, id("n", 1))
				err := st.apply(s, idx)
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
				}
				n := getNode(t, s, id("n", 1))
				if err != nil && n != before {
					t.Fatalf("%s: refused change was stored", st.name)
				}
				if err == nil && n.ModifyIndex != idx {
					t.Fatalf("%s: ModifyIndex %d", st.name, n.ModifyIndex)
				}
				if n.Drain != st.drain || (n.DrainStrategy != nil) != st.drain || n.SchedulingEligibility != st.elig {
					t.Fatalf("%s: drain=%v strategy=%v elig=%q", st.name, n.Drain, n.DrainStrategy, n.SchedulingEligibility)
				}
				last := ""
				if n.LastDrain != nil {
					last = n.LastDrain.Status
				}
				if last != st.last {
					t.Fatalf("%s: LastDrain %q, want %q", st.name, last, st.last)
				}
			}
		})
	}
	s := mustStore(t)
	must(t, s.UpsertNode(10, mockNode(1)))
	err := s.UpdateNodeDrain(11, id("n", 1), drain(), false, 0, nil)
	must(t, err)
	err = s.UpdateNodeEligibility(12, id("n", 1), structs.NodeSchedulingEligible, 0, nil)
	if err == nil || err.Error() != "can not set node's scheduling eligibility to eligible while it is draining" {
		t.Fatalf("message %v", err)
	}
}
