package httpapi

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// page is a list request's paging: at most perPage items (0: all),
// starting at the item whose token is next (or the first after where it
// would be), in reverse order when asked.
type page struct {
	perPage int
	next    string
	reverse bool
}

// pageParams parses ?per_page=, ?next_token= and ?reverse=.
func pageParams(r *http.Request) (page, error) {
	q := r.URL.Query()
	var p page
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, badRequest("Invalid per_page: %q is not a number of results (0 or more)", v)
		}
		p.perPage = n
	}
	p.next = q.Get("next_token")
	reverse, err := boolParam(r, "reverse")
	if err != nil {
		return p, err
	}
	p.reverse = reverse
	return p, nil
}

// pageKey orders a list and names a place in it: by creation index and
// then ID (token "<index>.<id>"), or by ID alone (token "<id>").
type pageKey struct {
	index     uint64
	id        string
	withIndex bool
}

func (k pageKey) token() string {
	if k.withIndex {
		return strconv.FormatUint(k.index, 10) + "." + k.id
	}
	return k.id
}

func (k pageKey) less(o pageKey) bool {
	if k.withIndex && k.index != o.index {
		return k.index < o.index
	}
	return k.id < o.id
}

// parseToken reads a next_token in the form of the list's keys.
func parseToken(tok string, withIndex bool) (pageKey, error) {
	if !withIndex {
		return pageKey{id: tok}, nil
	}
	idx, id, ok := strings.Cut(tok, ".")
	n, err := strconv.ParseUint(idx, 10, 64)
	if !ok || err != nil {
		return pageKey{}, badRequest("Invalid next_token %q: expected <index>.<id> as the X-Nomad-NextToken header gave it", tok)
	}
	return pageKey{index: n, id: id, withIndex: true}, nil
}

// paginate sorts items by key (descending with reverse), skips to the
// page's token and cuts one page; next is the token of the first item of
// the next page, "" on the last page. withIndex tells the form of the
// keys, and so of the tokens.
func paginate[T any](items []T, key func(T) pageKey, withIndex bool, p page) (out []T, next string, err error) {
	sorted := append(make([]T, 0, len(items)), items...)
	sort.Slice(sorted, func(i, j int) bool {
		if p.reverse {
			return key(sorted[j]).less(key(sorted[i]))
		}
		return key(sorted[i]).less(key(sorted[j]))
	})
	if p.next != "" {
		start, err := parseToken(p.next, withIndex)
		if err != nil {
			return nil, "", err
		}
		// The first item at or past the token, in the list's order.
		i := sort.Search(len(sorted), func(i int) bool {
			k := key(sorted[i])
			if p.reverse {
				return !start.less(k)
			}
			return !k.less(start)
		})
		sorted = sorted[i:]
	}
	if p.perPage > 0 && len(sorted) > p.perPage {
		return sorted[:p.perPage], key(sorted[p.perPage]).token(), nil
	}
	return sorted, "", nil
}
