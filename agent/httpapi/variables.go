package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// variableRoutes registers the variables API: /v1/vars lists metadata,
// /v1/var/<path> reads, writes and deletes one variable. Each endpoint
// checks the token's variable capability on the path.
func (h *handler) variableRoutes() {
	h.route("/v1/vars", map[string]endpointFunc{http.MethodGet: h.consistent(h.varsList)})
	h.route("/v1/var/{path...}", map[string]endpointFunc{
		http.MethodGet: h.consistent(h.varRead), http.MethodPut: h.varWrite, http.MethodPost: h.varWrite,
		http.MethodDelete: h.varDelete})
}

func allowVariable(r *http.Request, ns, path, op string) error {
	if !requestACL(r).acl.AllowVariableOperation(ns, path, op) {
		return denied()
	}
	return nil
}

// varsList answers the metadata of the variables under ?prefix= in the
// request's namespace ("*": all), those the token may list.
func (h *handler) varsList(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	ns := namespace(r)
	prefix := r.URL.Query().Get("prefix")
	a := requestACL(r).acl
	var out []*structs.VariableMetadata
	err := h.read(w, r, func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
		vars, err := snap.VariablesByPrefix(ws, ns, prefix)
		if err != nil {
			return 0, err
		}
		out = make([]*structs.VariableMetadata, 0, len(vars))
		for _, v := range vars {
			if a.AllowVariableOperation(v.Namespace, v.Path, acl.VarCapList) {
				out = append(out, v.Metadata())
			}
		}
		return snap.Index(state.TableVariables)
	})
	return out, err
}

// varPath is the variable's path in the URL, checked.
func varPath(r *http.Request) (string, error) {
	path := r.PathValue("path")
	if err := structs.ValidateVariablePath(path); err != nil {
		return "", badRequest("%v", err)
	}
	return path, nil
}

func (h *handler) varRead(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	path, err := varPath(r)
	if err != nil {
		return nil, err
	}
	ns := namespace(r)
	if ns == "*" {
		return nil, badRequest("namespace: a variable is read from one namespace, not %q", ns)
	}
	if err := allowVariable(r, ns, path, acl.VarCapRead); err != nil {
		return nil, err
	}
	return readObject(h, w, r, state.TableVariables, "variable not found",
		func(ws memdb.WatchSet, snap *state.StateSnapshot) (*structs.Variable, error) {
			return snap.VariableByPath(ws, ns, path)
		})
}

// casParam reads ?cas=<index>: whether the write is checked, and against
// which index.
func casParam(r *http.Request) (uint64, bool, error) {
	v, ok := r.URL.Query()["cas"]
	if !ok {
		return 0, false, nil
	}
	if len(v) == 0 || v[0] == "" {
		return 0, false, badRequest("cas: an index is required (0: the variable must not exist)")
	}
	n, err := strconv.ParseUint(v[0], 10, 64)
	if err != nil {
		return 0, false, badRequest("cas: %q is not an index", v[0])
	}
	return n, true, nil
}

// writeNamespace is the namespace of a write: ?namespace= when given,
// else the body's, else the default.
func writeNamespace(r *http.Request, body string) string {
	if ns := r.URL.Query().Get("namespace"); ns != "" {
		return ns
	}
	if body != "" {
		return body
	}
	return structs.DefaultNamespace
}

func (h *handler) varWrite(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	path, err := varPath(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	for _, op := range []string{"lock-acquire", "lock-renew", "lock-release"} {
		if _, ok := q[op]; ok {
			return nil, badRequest("%s: variable locks are not supported", op)
		}
	}
	cas, checked, err := casParam(r)
	if err != nil {
		return nil, err
	}
	var v structs.Variable
	if err := decodeBody(r, &v); err != nil {
		return nil, err
	}
	if v.Path != "" && v.Path != path {
		return nil, badRequest("Path: the body's %q is not the URL's %q", v.Path, path)
	}
	v.Path = path
	v.Namespace = writeNamespace(r, v.Namespace)
	if v.Namespace == "*" {
		return nil, badRequest("namespace: a variable is written to one namespace, not %q", v.Namespace)
	}
	if err := v.Validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	if err := allowVariable(r, v.Namespace, path, acl.VarCapWrite); err != nil {
		return nil, err
	}
	resp, err := h.srv.ApplyVariable(&server.VariableApplyArgs{Op: server.VarOpSet, Var: &v,
		CheckIndex: cas, Checked: checked, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	if resp.Conflict != nil {
		return &statusResult{code: http.StatusConflict, body: resp.Conflict}, nil
	}
	return resp.Output, nil
}

func (h *handler) varDelete(w http.ResponseWriter, r *http.Request) (interface{}, error) {
	path, err := varPath(r)
	if err != nil {
		return nil, err
	}
	cas, checked, err := casParam(r)
	if err != nil {
		return nil, err
	}
	ns := namespace(r)
	if ns == "*" {
		return nil, badRequest("namespace: a variable is deleted from one namespace, not %q", ns)
	}
	if err := allowVariable(r, ns, path, acl.VarCapDestroy); err != nil {
		return nil, err
	}
	resp, err := h.srv.ApplyVariable(&server.VariableApplyArgs{Op: server.VarOpDelete,
		Var: &structs.Variable{Namespace: ns, Path: path}, CheckIndex: cas, Checked: checked, AuthToken: authToken(r)})
	if err != nil {
		return nil, err
	}
	setWriteIndex(w, resp.Index)
	if resp.Conflict != nil {
		return &statusResult{code: http.StatusConflict, body: resp.Conflict}, nil
	}
	return &statusResult{code: http.StatusNoContent}, nil
}
