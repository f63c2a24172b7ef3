package jobspec

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// HCL evaluation has no budget of its own, so one short expression can
// ask for billions of values: range() yields at most 1,024, but for
// expressions over for expressions multiply. These limits are checked on
// the syntax tree, before anything is evaluated, so such a job fails fast
// with a diagnostic instead of exhausting the agent's memory.
const (
	// maxForNesting is how deeply for expressions may nest: two give at
	// most 1,024 × 1,024 values.
	maxForNesting = 2
	// maxExprDepth bounds nesting of expressions of any kind.
	maxExprDepth = 64
)

// checkBudget reports expressions that nest too deeply.
func checkBudget(body hcl.Body) hcl.Diagnostics {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	w := &budgetWalker{}
	hclsyntax.Walk(sb, w)
	return w.diags
}

type budgetWalker struct {
	stack []hclsyntax.Node
	fors  int
	exprs int
	diags hcl.Diagnostics
	// reported keeps one diagnostic per offending subtree.
	reported bool
}

func (w *budgetWalker) Enter(n hclsyntax.Node) hcl.Diagnostics {
	w.stack = append(w.stack, n)
	if _, ok := n.(hclsyntax.Expression); ok {
		w.exprs++
	}
	if _, ok := n.(*hclsyntax.ForExpr); ok {
		w.fors++
	}
	if w.reported {
		return nil
	}
	rng := n.Range()
	switch {
	case w.fors > maxForNesting:
		w.reported = true
		w.diags = append(w.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &rng,
			Summary: "Expression too large",
			Detail: fmt.Sprintf("for expressions are nested %d deep here; at most %d may nest, since each can produce 1,024 values or more",
				w.fors, maxForNesting)})
	case w.exprs > maxExprDepth:
		w.reported = true
		w.diags = append(w.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Subject: &rng,
			Summary: "Expression too deep",
			Detail:  fmt.Sprintf("expressions are nested more than %d deep here", maxExprDepth)})
	}
	return nil
}

func (w *budgetWalker) Exit(n hclsyntax.Node) hcl.Diagnostics {
	w.stack = w.stack[:len(w.stack)-1]
	if _, ok := n.(hclsyntax.Expression); ok {
		w.exprs--
	}
	if _, ok := n.(*hclsyntax.ForExpr); ok {
		w.fors--
	}
	if len(w.stack) == 0 {
		w.reported = false
	}
	return nil
}
