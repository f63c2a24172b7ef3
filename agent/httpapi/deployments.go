package httpapi

import (
	"net/http"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// deploymentPromoteRequest is the body of PUT /v1/deployment/promote/<id>.
type deploymentPromoteRequest struct {
	DeploymentID string
	All          bool
	Groups       []string
}

// deploymentUpdateResponse answers promote and fail.
type deploymentUpdateResponse struct {
	EvalID                string
	EvalCreateIndex       uint64
	DeploymentModifyIndex uint64
	Index                 uint64
}

func (h *handler) deploymentsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns := namespace(r)
	prefix := r.URL.Query().Get("prefix")
	var out []*structs.Deployment
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		var ds []*structs.Deployment
		var err error
		if prefix != "" {
			ds, err = snap.DeploymentsByIDPrefix(ws, prefix)
		} else {
			ds, err = snap.Deployments(ws)
		}
		if err != nil {
			return 0, err
		}
		out = make([]*structs.Deployment, 0, len(ds))
		for _, d := range ds {
			if inNamespace(ns, d.Namespace) && visible(r, d.Namespace, acl.CapReadJob) {
				out = append(out, d)
			}
		}
		return snap.Index(state.TableDeployments)
	})
	return out, err
}

func (h *handler) deploymentInfo(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	return readObject(h, w, r, state.TableDeployments, "deployment not found", func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Deployment, error) {
		return lookup(ws, id, "deployment", snap.DeploymentByID, snap.DeploymentsByIDPrefix)
	})
}

func (h *handler) deploymentAllocations(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	id := r.PathValue("id")
	var out []*structs.AllocListStub
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		allocs, err := snap.AllocsByDeployment(ws, id)
		if err != nil {
			return 0, err
		}
		out = stubs(allocs)
		return snap.Index(state.TableAllocs)
	})
	return out, err
}

func (h *handler) deploymentPromote(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	var req deploymentPromoteRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if !req.All && len(req.Groups) == 0 {
		return nil, badRequest("Must specify All or Groups to promote")
	}
	groups := req.Groups
	if req.All {
		groups = nil // the server promotes every group
	}
	evalID, index, err := h.srv.PromoteDeploymentWith(&server.DeploymentArgs{DeploymentID: r.PathValue("id"),
		Groups: groups, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, index)
	return &deploymentUpdateResponse{EvalID: evalID, EvalCreateIndex: index, DeploymentModifyIndex: index, Index: index}, nil
}

func (h *handler) deploymentFail(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	// The body, {"DeploymentID": ...}, repeats the path; decoding it only
	// reports a malformed one.
	var req struct{ DeploymentID string }
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	evalID, index, err := h.srv.FailDeploymentWith(&server.DeploymentArgs{DeploymentID: r.PathValue("id"),
		AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, index)
	return &deploymentUpdateResponse{EvalID: evalID, EvalCreateIndex: index, DeploymentModifyIndex: index, Index: index}, nil
}
