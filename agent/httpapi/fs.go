package httpapi

import (
	"io"
	"net/http"

	"drover/agent/client"
)

// fsRoutes registers the allocation filesystem endpoints ("alloc fs"),
// answered by the node that runs the allocation. Paths are relative to the
// allocation directory; the client refuses any that leads out of it.
func (h *handler) fsRoutes() {
	h.handle("/v1/client/fs/ls/{alloc}", h.fsList)
	h.handle("/v1/client/fs/stat/{alloc}", h.fsStat)
	h.handle("/v1/client/fs/cat/{alloc}", h.fsCat)
	h.handle("/v1/client/fs/readat/{alloc}", h.fsReadAt)
	h.handle("/v1/client/fs/stream/{alloc}", h.fsStream)
}

// allocFS opens the filesystem of the allocation the request names, or
// answers the request (forwarded, or refused) and returns nil.
func (h *handler) allocFS(w http.ResponseWriter, r *http.Request) *client.AllocFS {
	id, ok := h.localAlloc(w, r, http.MethodGet)
	if !ok {
		return nil
	}
	fs, err := h.local.AllocFS(id)
	if err != nil {
		h.writeError(w, r, clientError(err))
		return nil
	}
	return fs
}

// filePath is the required ?path= of the file endpoints.
func filePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", badRequest("must provide a file name")
	}
	return p, nil
}

// fsList serves /v1/client/fs/ls/{alloc}?path= (default "/").
func (h *handler) fsList(w http.ResponseWriter, r *http.Request) {
	fs := h.allocFS(w, r)
	if fs == nil {
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		p := r.URL.Query().Get("path")
		if p == "" {
			p = "/"
		}
		return fs.List(p)
	})
}

// fsStat serves /v1/client/fs/stat/{alloc}?path=.
func (h *handler) fsStat(w http.ResponseWriter, r *http.Request) {
	fs := h.allocFS(w, r)
	if fs == nil {
		return
	}
	h.serve(w, r, func(w http.ResponseWriter, r *http.Request) (interface{}, error) {
		p, err := filePath(r)
		if err != nil {
			return nil, err
		}
		return fs.Stat(p)
	})
}

// fsCat serves /v1/client/fs/cat/{alloc}?path=: the whole file.
func (h *handler) fsCat(w http.ResponseWriter, r *http.Request) {
	h.fsRead(w, r, false)
}

// fsReadAt serves /v1/client/fs/readat/{alloc}?path=&offset=&limit=:
// limit bytes (all when it is 0 or less) from offset on.
func (h *handler) fsReadAt(w http.ResponseWriter, r *http.Request) {
	h.fsRead(w, r, true)
}

func (h *handler) fsRead(w http.ResponseWriter, r *http.Request, ranged bool) {
	fs := h.allocFS(w, r)
	if fs == nil {
		return
	}
	p, err := filePath(r)
	var offset, limit int64
	if err == nil && ranged {
		offset, err = int64Param(r, "offset")
		if err == nil {
			limit, err = int64Param(r, "limit")
		}
		if err == nil && offset < 0 {
			err = badRequest("offset must not be negative")
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f, err := fs.Open(p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer f.Close()
	var body io.Reader = f
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	if limit > 0 {
		body = io.LimitReader(f, limit)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	io.Copy(w, body)
}

// fsStream serves /v1/client/fs/stream/{alloc}?path=&offset=&origin=
// &follow=&plain=: the file's content in the frames of the logs stream
// (plain=true: as is), following what is appended unless follow=false.
func (h *handler) fsStream(w http.ResponseWriter, r *http.Request) {
	fs := h.allocFS(w, r)
	if fs == nil {
		return
	}
	p, err := filePath(r)
	var offset int64
	if err == nil {
		offset, err = int64Param(r, "offset")
	}
	follow, plain := true, false
	if err == nil && r.URL.Query().Get("follow") != "" {
		follow, err = boolParam(r, "follow")
	}
	if err == nil {
		plain, err = boolParam(r, "plain")
	}
	origin := r.URL.Query().Get("origin")
	if origin == "" {
		origin = "start"
	}
	if err == nil && origin != "start" && origin != "end" {
		err = badRequest("origin must be start or end")
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// Refuse what cannot be streamed (a directory, a path out of the
	// allocation) with a status, before the stream starts.
	f, err := fs.Open(p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	f.Close()
	h.streamChunks(w, r, plain, func(send func(client.LogChunk) error) error {
		return fs.Stream(r.Context(), p, origin, offset, follow, send)
	})
}
