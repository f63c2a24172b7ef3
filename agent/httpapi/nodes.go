package httpapi

import (
	"net/http"

	"github.com/hashicorp/go-memdb"

	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// nodeDrainRequest is the body of PUT /v1/node/<id>/drain. A null
// DrainSpec ends the drain. Meta is accepted and not kept.
type nodeDrainRequest struct {
	NodeID       string
	DrainSpec    *structs.DrainSpec
	MarkEligible bool
	Meta         map[string]string
}

// nodeEligibilityRequest is the body of PUT /v1/node/<id>/eligibility.
type nodeEligibilityRequest struct {
	NodeID      string
	Eligibility string
}

func (h *handler) nodesList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	prefix := r.URL.Query().Get("prefix")
	lq, err := parseListQuery(r)
	if err != nil {
		return nil, err
	}
	withOS, err := boolParam(r, "os")
	if err != nil {
		return nil, err
	}
	var out []*structs.NodeListStub
	err = h.readList(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var nodes []*structs.Node
		var err error
		if prefix != "" {
			nodes, err = snap.NodesByIDPrefix(ws, prefix)
		} else {
			nodes, err = snap.Nodes(ws)
		}
		if err != nil {
			return 0, err
		}
		out = make([]*structs.NodeListStub, 0, len(nodes))
		for _, n := range nodes {
			stub := n.Stub()
			if withOS {
				stub.Attributes = map[string]string{"os.name": n.Attributes["os.name"], "os.version": n.Attributes["os.version"]}
			}
			out = append(out, stub)
		}
		return snap.Index(state.TableNodes)
	})
	if err != nil {
		return nil, err
	}
	return listPage(w, lq, out, func(n *structs.NodeListStub) pageKey { return pageKey{id: n.ID} }, false)
}

func (h *handler) nodeInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	var node *structs.Node
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if node, err = lookup(ws, id, "node", snap.NodeByID, snap.NodesByIDPrefix); err != nil {
			return 0, err
		}
		return snap.Index(state.TableNodes)
	})
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, notFound("node not found")
	}
	// The secret authenticates the node's client; it never leaves the
	// server. The stored node is shared, so blank a copy.
	out := *node
	out.SecretID = ""
	return &out, nil
}

func (h *handler) nodeAllocations(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	var out []*structs.Allocation
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var err error
		if out, err = snap.AllocsByNode(ws, id); err != nil {
			return 0, err
		}
		return snap.Index(state.TableAllocs)
	})
	return nonNil(out), err
}

func (h *handler) nodeDrain(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req nodeDrainRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	resp, err := h.srv.UpdateDrainWith(&server.NodeDrainArgs{NodeID: r.PathValue("id"), DrainSpec: req.DrainSpec,
		MarkEligible: req.MarkEligible, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return resp, nil
}

func (h *handler) nodeEligibility(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req nodeEligibilityRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Eligibility == "" {
		return nil, badRequest("Eligibility must be specified")
	}
	resp, err := h.srv.UpdateEligibilityWith(&server.NodeEligibilityArgs{NodeID: r.PathValue("id"),
		Eligibility: req.Eligibility, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	return resp, nil
}
