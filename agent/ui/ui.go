// Package ui serves Drover's web UI at /ui: server-rendered pages over the
// cluster's state, kept live by blocking queries.
//
// Every page is a pure view builder (views.go: snapshot in, view out) and
// a template. A browser first gets the whole page; the page's script then
// asks for the same URL with ?live=1&index=N, which blocks in the state
// store until something the view read changes and answers with the page's
// main section only. So a rolling update or a drain redraws as it happens,
// with no JavaScript rendering and nothing fetched from outside the agent.
package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"

	"drover/agent/acl"
	"drover/agent/server"
	"drover/agent/state"
	"drover/agent/structs"
)

// Cluster is what the UI needs of a server. *server.Server implements it.
type Cluster interface {
	State() *state.StateStore
	BlockingQuery(ctx context.Context, minIndex uint64, wait time.Duration,
		query func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error)) (uint64, error)
	// Leader is the leader's RPC address; Members the servers gossip knows.
	Leader() string
	Members() []server.Member
}

// TokenResolver finds what a token's secret may do.
type TokenResolver func(secret string) (*acl.ACL, *structs.ACLToken, error)

// Option configures the handler.
type Option func(*Handler)

// WithACL makes the UI resolve the token the browser presents (the cookie
// the token page sets) and show only what that token may read.
func WithACL(resolve TokenResolver) Option { return func(h *Handler) { h.resolve = resolve } }

// TokenCookie carries the token's secret from the token page to every
// request; the page script also sends it as X-Nomad-Token to /v1.
const TokenCookie = "drover-token"

// liveWait bounds one live request; the script asks again at once.
const liveWait = 55 * time.Second

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Handler serves the UI.
type Handler struct {
	c Cluster
	// closed ends the live requests still waiting when the agent stops,
	// so an open browser tab never holds up its shutdown.
	closed    context.Context
	closeLive context.CancelFunc
	resolve   TokenResolver
	mux       *http.ServeMux
	pages     map[string]*template.Template
}

// New returns the handler for /ui and everything under it.
func New(c Cluster, opts ...Option) *Handler {
	h := &Handler{c: c, mux: http.NewServeMux(), pages: parseTemplates()}
	h.closed, h.closeLive = context.WithCancel(context.Background())
	for _, o := range opts {
		o(h)
	}
	h.routes()
	return h
}

// Close answers the live requests waiting now at once, as they stand; the
// pages' script asks again, and finds the agent gone or back.
func (h *Handler) Close() { h.closeLive() }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The pages load nothing from elsewhere; say so to the browser too.
	w.Header().Set("Content-Security-Policy",
		"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	redirect := func(to string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusTemporaryRedirect) }
	}
	h.mux.HandleFunc("GET /ui", redirect("/ui/jobs"))
	h.mux.HandleFunc("GET /ui/{$}", redirect("/ui/jobs"))
	h.mux.HandleFunc("GET /ui/servers", redirect("/ui/clients"))
	h.mux.Handle("GET /ui/jobs", h.page("jobs", "Jobs", jobsPage))
	h.mux.Handle("GET /ui/jobs/{id}", h.page("job", "Job", jobPage))
	h.mux.Handle("GET /ui/jobs/{id}/deployments", h.page("job", "Job", jobPage))
	h.mux.Handle("GET /ui/allocations/{id}", h.page("alloc", "Allocation", allocPage))
	h.mux.Handle("GET /ui/clients", h.page("cluster", "Cluster", h.clusterPage))
	h.mux.Handle("GET /ui/clients/{id}", h.page("client", "Client", clientPage))
	h.mux.Handle("GET /ui/topology", h.page("topology", "Topology", topologyPage))
	h.mux.Handle("GET /ui/evaluations", h.page("evals", "Evaluations", evalsPage))
	h.mux.Handle("GET /ui/evaluations/{id}", h.page("eval", "Evaluation", evalPage))
	h.mux.Handle("GET /ui/lab", h.page("lab", "Lab", labPage))
	h.mux.HandleFunc("GET /ui/settings/tokens", h.tokenPage)
	h.mux.HandleFunc("POST /ui/settings/tokens", h.setToken)
	assets, _ := fs.Sub(assetFS, "assets")
	h.mux.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", assetServer(assets)))
	h.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "error", &layout{Title: "Not found",
			Body: errorView{Message: fmt.Sprintf("Nothing at %s.", r.URL.Path)}})
	})
}

// assetServer serves the embedded stylesheet and script. They change only
// with the binary, so browsers may keep them for a while.
func assetServer(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		files.ServeHTTP(w, r)
	})
}

// request is what a view builder knows of the request.
type request struct {
	// Path values and the query.
	id    string
	query url.Values
	// acl is what the request's token may do.
	acl *acl.ACL
}

// viewFunc builds a page's view from one snapshot. It adds what it reads
// to ws, so a live request wakes when that changes, and returns the index
// of the data it read.
type viewFunc func(ws memdb.WatchSet, snap *state.StateSnapshot, req *request) (view any, index uint64, err error)

// errNotFound makes a page answer 404.
type errNotFound string

func (e errNotFound) Error() string { return string(e) }

// layout is what every page's frame shows around its view.
type layout struct {
	Title string
	// Nav is the section the page belongs to, for the menu's highlight.
	Nav  string
	Body any
	// Live is the index the page was built at; 0 for pages that do not
	// update.
	Live uint64
	// ACL is true when the cluster checks tokens; Signed when the
	// browser presents one.
	ACL, Signed bool
}

func (h *Handler) page(name, title string, build viewFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := h.requestACL(r)
		if err != nil {
			h.render(w, r, http.StatusForbidden, "error", &layout{Title: "Token refused", ACL: true,
				Body: errorView{Message: err.Error(), SignIn: true}})
			return
		}
		req := &request{id: r.PathValue("id"), query: r.URL.Query(), acl: a}
		live := req.query.Get("live") == "1"
		var minIndex uint64
		if live {
			minIndex, _ = strconv.ParseUint(req.query.Get("index"), 10, 64)
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		defer context.AfterFunc(h.closed, cancel)()
		var view any
		idx, err := h.c.BlockingQuery(ctx, minIndex, liveWait,
			func(ws memdb.WatchSet, snap *state.StateSnapshot) (uint64, error) {
				v, i, err := build(ws, snap, req)
				view = v
				// An empty store is at index 0; a first load must not
				// wait for a change.
				return max(i, 1), err
			})
		var nf errNotFound
		switch {
		case errors.As(err, &nf):
			h.render(w, r, http.StatusNotFound, "error", &layout{Title: "Not found", Body: errorView{Message: nf.Error()}})
			return
		case err != nil:
			h.render(w, r, http.StatusInternalServerError, "error", &layout{Title: "Error", Body: errorView{Message: err.Error()}})
			return
		}
		w.Header().Set("X-Nomad-Index", strconv.FormatUint(idx, 10))
		if live {
			h.execute(w, http.StatusOK, name, "content", view)
			return
		}
		_, signed := h.cookieSecret(r)
		h.render(w, r, http.StatusOK, name, &layout{Title: title, Nav: name, Body: view, Live: idx,
			ACL: h.resolve != nil, Signed: signed})
	})
}

// render writes a whole page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, code int, name string, l *layout) {
	if l.Nav == "" {
		l.Nav = name
	}
	h.execute(w, code, name, "layout", l)
}

func (h *Handler) execute(w http.ResponseWriter, code int, page, tmpl string, data any) {
	t := h.pages[page]
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, tmpl, data); err != nil {
		http.Error(w, "template "+page+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

// cookieSecret is the token the browser presents, if any.
func (h *Handler) cookieSecret(r *http.Request) (string, bool) {
	c, err := r.Cookie(TokenCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// requestACL resolves the browser's token; without ACLs everything is
// visible. A token the cluster does not know is an error, so the page can
// say so instead of silently showing the anonymous view.
func (h *Handler) requestACL(r *http.Request) (*acl.ACL, error) {
	if h.resolve == nil {
		return acl.Management(), nil
	}
	secret, _ := h.cookieSecret(r)
	a, _, err := h.resolve(secret)
	if err != nil {
		return nil, fmt.Errorf("the token this browser presents was refused (%v); set another on the token page", err)
	}
	return a, nil
}

// tokenPage shows the token form.
func (h *Handler) tokenPage(w http.ResponseWriter, r *http.Request) {
	_, signed := h.cookieSecret(r)
	view := tokenView{ACL: h.resolve != nil, Signed: signed}
	if signed && h.resolve != nil {
		secret, _ := h.cookieSecret(r)
		if _, tok, err := h.resolve(secret); err != nil {
			view.Error = err.Error()
		} else if tok != nil {
			view.Name, view.Type = tok.Name, tok.Type
			view.Accessor = tok.AccessorID
		}
	}
	h.render(w, r, http.StatusOK, "token", &layout{Title: "Token", Body: view, ACL: h.resolve != nil, Signed: signed})
}

// setToken stores the secret in a cookie, or clears it.
func (h *Handler) setToken(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		// Another site's form must not sign this browser in (or out).
		h.render(w, r, http.StatusForbidden, "error", &layout{Title: "Refused",
			Body: errorView{Message: "The token form may only be sent from this agent's own pages."}})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, "token", &layout{Title: "Token", Body: tokenView{Error: "bad form: " + err.Error()}})
		return
	}
	secret := strings.TrimSpace(r.PostForm.Get("secret"))
	cookie := &http.Cookie{Name: TokenCookie, Value: secret, Path: "/", SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if r.PostForm.Get("clear") != "" || secret == "" {
		cookie.Value, cookie.MaxAge = "", -1
	} else if h.resolve != nil {
		if _, _, err := h.resolve(secret); err != nil {
			h.render(w, r, http.StatusBadRequest, "token", &layout{Title: "Token", ACL: true,
				Body: tokenView{ACL: true, Error: "Token refused: " + err.Error()}})
			return
		}
	}
	http.SetCookie(w, cookie)
	http.Redirect(w, r, "/ui/settings/tokens", http.StatusSeeOther)
}

// sameOrigin reports whether a form post comes from the agent's own
// pages, by the browser's Sec-Fetch-Site, else its Origin header. A client
// that sends neither (curl, a test) is not a browser on another site.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

type errorView struct {
	Message string
	SignIn  bool
}

type tokenView struct {
	ACL, Signed          bool
	Name, Type, Accessor string
	Error                string
}
