package httpapi

import (
	"net/http"

	"github.com/hashicorp/go-memdb"

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
			if inNamespace(ns, a.Namespace) {
				out = append(out, a.Stub())
			}
		}
		return snap.Index(state.TableAllocs)
	})
	return out, err
}

func (h *handler) allocInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	var alloc *structs.Allocation
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if alloc, err = lookup(ws, id, "alloc", snap.AllocByID, snap.AllocsByIDPrefix); err != nil {
			return 0, err
		}
		return snap.Index(state.TableAllocs)
	})
	if err != nil {
		return nil, err
	}
	if alloc == nil {
		return nil, notFound("alloc not found")
	}
	return alloc, nil
}

func (h *handler) evalsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns := namespace(r)
	q := r.URL.Query()
	prefix, jobID, status := q.Get("prefix"), q.Get("job"), q.Get("status")
	var out []*structs.Evaluation
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
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
		out = make([]*structs.Evaluation, 0, len(evals))
		for _, e := range evals {
			if !inNamespace(ns, e.Namespace) || (jobID != "" && e.JobID != jobID) ||
				(status != "" && e.Status != status) {
				continue
			}
			out = append(out, e)
		}
		return snap.Index(state.TableEvals)
	})
	return out, err
}

func (h *handler) evalInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	var eval *structs.Evaluation
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if eval, err = lookup(ws, id, "eval", snap.EvalByID, snap.EvalsByIDPrefix); err != nil {
			return 0, err
		}
		return snap.Index(state.TableEvals)
	})
	if err != nil {
		return nil, err
	}
	if eval == nil {
		return nil, notFound("eval not found")
	}
	return eval, nil
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
