package jobspec

import (
	"strings"
	"testing"
)

// A for expression over for expressions over range() asks for 10^9
// values; it is refused before evaluation, at its position. Two levels
// still work.
func TestNestedForsFailFast(t *testing.T) {
	job := func(expr string) string {
		return "job \"bomb\" {\n  datacenters = [\"dc1\"]\n  meta = {\n    x = jsonencode(" + expr + ")\n  }\n" +
			"  group \"g\" {\n    task \"t\" {\n      driver = \"docker\"\n      config { image = \"redis\" }\n    }\n  }\n}\n"
	}
	_, err := Parse("bomb.nomad", []byte(job(`[for a in range(1000) : [for b in range(1000) : [for c in range(1000) : c]]]`)), Options{})
	if err == nil || !strings.Contains(err.Error(), "bomb.nomad:4,68-94: Expression too large; for expressions are nested 3 deep") {
		t.Fatalf("three nested fors: %v", err)
	}
	if _, err := Parse("ok.nomad", []byte(job(`[for a in range(3) : [for b in range(3) : a * b]]`)), Options{}); err != nil {
		t.Fatalf("two nested fors: %v", err)
	}
	deep := strings.Repeat("(", 200) + "1" + strings.Repeat(")", 200)
	if _, err := Parse("deep.nomad", []byte(job(deep)), Options{}); err == nil || !strings.Contains(err.Error(), "Expression too deep") {
		t.Fatalf("an expression 200 deep: %v", err)
	}
}
