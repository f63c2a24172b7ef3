package httpapi

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/hashicorp/go-bexpr"
)

// listQuery holds the parameters every list endpoint of the compatible API
// takes: ?filter= (a boolean expression over the listed objects' fields,
// e.g. `Status == "ready"`), ?per_page= and ?next_token=.
type listQuery struct {
	filter    *bexpr.Evaluator
	perPage   int
	nextToken string
}

func parseListQuery(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	var lq listQuery
	if expr := q.Get("filter"); expr != "" {
		eval, err := bexpr.CreateEvaluator(expr)
		if err != nil {
			return lq, badRequest("Invalid filter expression %q: %v", expr, err)
		}
		lq.filter = eval
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, badRequest("per_page must be a non-negative integer, got %q", v)
		}
		lq.perPage = n
	}
	lq.nextToken = q.Get("next_token")
	return lq, nil
}

// nextTokenHeader carries the token of the next page, when there is one.
const nextTokenHeader = "X-Nomad-NextToken"

// listPage filters items, orders them by key and cuts the page that
// starts at the next token. It sets the next page's token on w. An
// expression that names a field the objects do not have is a 400.
func listPage[T any](w http.ResponseWriter, lq listQuery, items []T, key func(T) string) ([]T, error) {
	out := make([]T, 0, len(items))
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
		out = append(out, it)
	}
	sort.SliceStable(out, func(i, j int) bool { return key(out[i]) < key(out[j]) })
	if lq.nextToken != "" {
		start := sort.Search(len(out), func(i int) bool { return key(out[i]) >= lq.nextToken })
		out = out[start:]
	}
	if lq.perPage > 0 && len(out) > lq.perPage {
		w.Header().Set(nextTokenHeader, key(out[lq.perPage]))
		out = out[:lq.perPage]
	}
	return out, nil
}
