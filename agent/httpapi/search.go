package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/hashicorp/go-memdb"

	"drover/agent/search"
	"drover/agent/state"
)

// searchRequest is the body of PUT /v1/search; the official client sends
// its query options along, which are ignored.
type searchRequest struct {
	Prefix  string
	Context search.Context
}

// fuzzySearchRequest is the body of PUT /v1/search/fuzzy.
type fuzzySearchRequest struct {
	Text    string
	Context search.Context
}

// searchResponse answers /v1/search. The query metadata is in the body
// as well as in the headers, as in the compatible API.
type searchResponse struct {
	Matches     map[search.Context][]string
	Truncations map[search.Context]bool
	searchMeta
}

// fuzzySearchResponse answers /v1/search/fuzzy.
type fuzzySearchResponse struct {
	Matches     map[search.Context][]search.FuzzyMatch
	Truncations map[search.Context]bool
	searchMeta
}

type searchMeta struct {
	Index       uint64
	KnownLeader bool
	// LastContact is in nanoseconds, as the client decodes the body's
	// field (the X-Nomad-LastContact header is in milliseconds).
	LastContact int64
	// NextToken is part of every query answer's metadata; search has no
	// pages.
	NextToken string
}

// search is the prefix search: the IDs of each context that start with
// the prefix (agent/search does the searching).
func (h *handler) search(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req searchRequest
	if err := decodeRequiredBody(r, &req); err != nil {
		return nil, err
	}
	if err := search.CheckPrefix(req.Context); err != nil {
		return nil, badRequest("%v", err)
	}
	ns := namespace(r)
	var res *search.PrefixResult
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if res, err = search.Prefix(ws, snap, ns, req.Prefix, req.Context); err != nil {
			return 0, err
		}
		return res.Index, nil
	})
	if err != nil {
		return nil, searchError(err)
	}
	if !requestACL(r).acl.AllowNodeRead() {
		// Nodes are not in a namespace: a token without node read
		// does not learn their IDs from a search.
		delete(res.Matches, search.Nodes)
		delete(res.Truncations, search.Nodes)
	}
	return &searchResponse{Matches: res.Matches, Truncations: res.Truncations, searchMeta: h.searchMeta(res.Index)}, nil
}

// fuzzySearch finds jobs, groups, tasks, allocations, nodes and
// namespaces by a part of their name.
func (h *handler) fuzzySearch(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req fuzzySearchRequest
	if err := decodeRequiredBody(r, &req); err != nil {
		return nil, err
	}
	if err := search.CheckFuzzy(req.Text, req.Context); err != nil {
		return nil, badRequest("%v", err)
	}
	ns := namespace(r)
	var res *search.FuzzyResult
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if res, err = search.Fuzzy(ws, snap, ns, req.Text, req.Context); err != nil {
			return 0, err
		}
		return res.Index, nil
	})
	if err != nil {
		return nil, searchError(err)
	}
	if !requestACL(r).acl.AllowNodeRead() {
		delete(res.Matches, search.Nodes)
		delete(res.Truncations, search.Nodes)
	}
	return &fuzzySearchResponse{Matches: res.Matches, Truncations: res.Truncations, searchMeta: h.searchMeta(res.Index)}, nil
}

func (h *handler) searchMeta(index uint64) searchMeta {
	return searchMeta{Index: max(index, 1), KnownLeader: h.srv.Leader() != "",
		LastContact: int64(h.srv.LastContact())}
}

// searchError answers the caller's mistakes with a 400.
func searchError(err error) error {
	if errors.Is(err, search.ErrInvalidRequest) {
		return badRequest("%v", err)
	}
	return err
}

// decodeRequiredBody is decodeBody for an endpoint that cannot do without
// its body: an absent or empty one is a 400.
func decodeRequiredBody(r *http.Request, out interface{}) error {
	if r.Body == nil {
		return badRequest("Missing request body")
	}
	err := json.NewDecoder(r.Body).Decode(out)
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return badRequest("Missing request body")
	case errors.As(err, &mbe):
		return err
	}
	return badRequest("failed to decode request body: %v", err)
}
