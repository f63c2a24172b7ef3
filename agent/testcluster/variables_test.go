package testcluster

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// Variable writes on a follower go to the leader, conflicts included,
// and every server reads them.
func TestFollowerForwardsVariableWrites(t *testing.T) {
	c := New(t, 3, 0, Options{})
	c.WaitForLeader(t, 20*time.Second)
	fc := c.Followers()[0].API(t).Variables()

	v, _, err := fc.CheckedCreate(&api.Variable{Path: "drover/labs/fwd", Items: api.VariableItems{"lab": "fwd"}}, nil)
	if err != nil || v.ModifyIndex == 0 {
		t.Fatalf("checked create on a follower: %+v %v", v, err)
	}
	_, _, err = fc.CheckedCreate(&api.Variable{Path: "drover/labs/fwd", Items: api.VariableItems{"lab": "again"}}, nil)
	var conflict api.ErrCASConflict
	if !errors.As(err, &conflict) || conflict.Conflict.ModifyIndex != v.ModifyIndex || conflict.Conflict.Items["lab"] != "fwd" {
		t.Fatalf("conflicting create on a follower: %v", err)
	}
	other := c.Followers()[1].API(t).Variables()
	got, _, err := other.Read("drover/labs/fwd", nil)
	if err != nil || got.ModifyIndex != v.ModifyIndex {
		t.Fatalf("read on the other follower: %+v %v", got, err)
	}
	if _, err := other.Delete("drover/labs/fwd", nil); err != nil {
		t.Fatalf("delete on a follower: %v", err)
	}
}
