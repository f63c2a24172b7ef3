package structs

import (
	"reflect"
	"testing"
)

// TestFailureReasons: every reason, in eval status's order and words,
// map entries sorted.
func TestFailureReasons(t *testing.T) {
	m := &AllocMetric{NodesEvaluated: 0, NodesAvailable: map[string]int{"dc2": 0, "dc1": 0, "dc3": 1},
		ClassFiltered: map[string]int{"gpu": 1}, ConstraintFiltered: map[string]int{"missing drivers": 2, "${attr.kernel.name} = windows": 1},
		NodesExhausted: 3, ClassExhausted: map[string]int{"small": 3}, DimensionExhausted: map[string]int{"memory": 2, "cpu": 1},
		QuotaExhausted: []string{"q1"}}
	want := []string{
		"No nodes were eligible for evaluation",
		`No nodes are available in datacenter "dc1"`,
		`No nodes are available in datacenter "dc2"`,
		`Class "gpu": 1 nodes excluded by filter`,
		`Constraint "${attr.kernel.name} = windows": 1 nodes excluded by filter`,
		`Constraint "missing drivers": 2 nodes excluded by filter`,
		"Resources exhausted on 3 nodes",
		`Class "small" exhausted on 3 nodes`,
		`Dimension "cpu" exhausted on 1 nodes`,
		`Dimension "memory" exhausted on 2 nodes`,
		`Quota limit hit "q1"`,
	}
	if got := m.FailureReasons(); !reflect.DeepEqual(got, want) {
		t.Errorf("FailureReasons:\n%q\nwant\n%q", got, want)
	}
	if (*AllocMetric)(nil).FailureReasons() != nil || len((&AllocMetric{NodesEvaluated: 2}).FailureReasons()) != 0 {
		t.Error("a nil metric or one without failures has reasons")
	}
}
