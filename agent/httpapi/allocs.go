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
	return readObject(h, w, r, state.TableAllocs, "alloc not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Allocation, error) {
		return lookup(ws, id, "alloc", snap.AllocByID, snap.AllocsByIDPrefix)
	})
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
	return readObject(h, w, r, state.TableEvals, "eval not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Evaluation, error) {
		return lookup(ws, id, "eval", snap.EvalByID, snap.EvalsByIDPrefix)
	})
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
