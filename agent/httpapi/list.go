package httpapi

import (
	"net/http"

	"github.com/hashicorp/go-bexpr"
)

// listQuery holds the parameters a list endpoint of the compatible API
// takes: ?filter= (a boolean expression over the listed objects' fields,
// e.g. `Status == "ready"`, in hashicorp/go-bexpr's language, as the
// compatible API evaluates it) and the paging ones (see page).
type listQuery struct {
	filter *bexpr.Evaluator
	page
}

func parseListQuery(r *http.Request) (listQuery, error) {
	p, err := pageParams(r)
	if err != nil {
		return listQuery{}, err
	}
	lq := listQuery{page: p}
	if expr := r.URL.Query().Get("filter"); expr != "" {
		eval, err := bexpr.CreateEvaluator(expr)
		if err != nil {
			return lq, badRequest("Invalid filter expression %q: %v", expr, err)
		}
		lq.filter = eval
	}
	return lq, nil
}

// nextTokenHeader carries the token of the next page, when there is one.
const nextTokenHeader = "X-Nomad-NextToken"

// listPage keeps the items the filter selects, then cuts the page the
// query asks for (see paginate) and names the next one on w. An
// expression that names a field the objects do not have is a 400.
func listPage[T any](w http.ResponseWriter, lq listQuery, items []T, key func(T) pageKey, withIndex bool) ([]T, error) {
	kept := make([]T, 0, len(items))
	for _, it := range items {
		if lq.filter != nil {
			ok, err := lq.filter.Evaluate(it)
			if err != nil {
				return nil, badRequest("Invalid filter expression: %v", err)
			}
			if !ok {
				continue
			}
		}
		kept = append(kept, it)
	}
	out, next, err := paginate(kept, key, withIndex, lq.page)
	if err != nil {
		return nil, err
	}
	if next != "" {
		w.Header().Set(nextTokenHeader, next)
	}
	return out, nil
}
