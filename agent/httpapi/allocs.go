package httpapi

import (
	"net/http"
	"sort"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/state"
	"drover/agent/structs"
)

func (h *handler) allocsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns := namespace(r)
	prefix := r.URL.Query().Get("prefix")
	var out []*structs.AllocListStub
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var allocs []*structs.Allocation
		var err error
		if prefix != "" {
			allocs, err = snap.AllocsByIDPrefix(ws, prefix)
		} else {
			allocs, err = snap.Allocs(ws)
		}
		if err != nil {
			return 0, err
		}
		out = make([]*structs.AllocListStub, 0, len(allocs))
		for _, a := range allocs {
			if inNamespace(ns, a.Namespace) && visible(r, a.Namespace, acl.CapReadJob) {
				out = append(out, a.Stub())
			}
		}
		return snap.Index(state.TableAllocs)
	})
	return out, err
}

func (h *handler) allocInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	return readObject(h, w, r, state.TableAllocs, "alloc not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Allocation, error) {
		return lookup(ws, id, "alloc", snap.AllocByID, snap.AllocsByIDPrefix)
	})
}

// evalsList lists evaluations, oldest first (by ID with ?prefix=), or
// newest first with ?reverse=true; ?job= and ?status= keep those of one job
// or one status. With ?per_page=N it answers N at most, and names the
// next one in X-Nomad-NextToken, which ?next_token= takes to continue.
func (h *handler) evalsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns := namespace(r)
	q := r.URL.Query()
	prefix, jobID, status := q.Get("prefix"), q.Get("job"), q.Get("status")
	lq, err := parseListQuery(r)
	if err != nil {
		return nil, err
	}
	// Without a prefix, the order (and the token) is the creation order;
	// with one, the ID order, as in the compatible API.
	var key func(e *structs.Evaluation) pageKey
	withIndex := prefix == ""
	if !withIndex {
		key = func(e *structs.Evaluation) pageKey { return pageKey{id: e.ID} }
	} else {
		key = func(e *structs.Evaluation) pageKey { return pageKey{index: e.CreateIndex, id: e.ID, withIndex: true} }
	}
	var matched []*structs.Evaluation
	err = h.readList(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var evals []*structs.Evaluation
		var err error
		if prefix != "" {
			evals, err = snap.EvalsByIDPrefix(ws, prefix)
		} else {
			evals, err = snap.Evals(ws)
		}
		if err != nil {
			return 0, err
		}
		matched = make([]*structs.Evaluation, 0, len(evals))
		for _, e := range evals {
			if !inNamespace(ns, e.Namespace) || !visible(r, e.Namespace, acl.CapReadJob) || (jobID != "" && e.JobID != jobID) ||
				(status != "" && e.Status != status) {
				continue
			}
			matched = append(matched, e)
		}
		return snap.Index(state.TableEvals)
	})
	if err != nil {
		return nil, err
	}
	return listPage(w, lq, matched, key, withIndex)
}

func (h *handler) evalInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	related, err := boolParam(r, "related")
	if err != nil {
		return nil, err
	}
	// RelatedEvals is filled when asked for (?related=true), as in the
	// compatible API, on a copy: state objects are never written to.
	return readObject(h, w, r, state.TableEvals, "eval not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Evaluation, error) {
		eval, err := lookup(ws, id, "eval", snap.EvalByID, snap.EvalsByIDPrefix)
		if err != nil || eval == nil {
			return nil, err
		}
		out := *eval
		if related {
			if out.RelatedEvals, err = relatedEvals(ws, snap, eval); err != nil {
				return nil, err
			}
		}
		return &out, nil
	})
}

// relatedEvals follows an evaluation's links (the evaluation it follows,
// the one that follows it, the one it left blocked) transitively and
// returns the others it reaches, oldest first.
func relatedEvals(ws memdb.WatchSet, snap *state.StateSnapshot, eval *structs.Evaluation) ([]*structs.EvaluationStub, error) {
	seen := map[string]bool{eval.ID: true}
	queue := []*structs.Evaluation{eval}
	out := []*structs.EvaluationStub{}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		for _, next := range []string{e.PreviousEval, e.NextEval, e.BlockedEval} {
			if next == "" || seen[next] {
				continue
			}
			seen[next] = true
			linked, err := snap.EvalByID(ws, next)
			if err != nil {
				return nil, err
			}
			if linked == nil {
				continue // garbage-collected
			}
			out = append(out, linked.Stub())
			queue = append(queue, linked)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreateIndex < out[j].CreateIndex })
	return out, nil
}

func (h *handler) evalAllocations(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	var out []*structs.AllocListStub
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		allocs, err := snap.AllocsByEval(ws, id)
		if err != nil {
			return 0, err
		}
		out = stubs(allocs)
		return snap.Index(state.TableAllocs)
	})
	return out, err
}
