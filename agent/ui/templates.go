package ui

import (
	"html/template"
	"path"
	"strings"
)

// pageNames are the templates beside base.html, one per page.
var pageNames = []string{"jobs", "job", "alloc", "cluster", "client", "topology", "evals", "eval", "lab", "token", "error"}

var funcs = template.FuncMap{
	// add is for 1-based numbering.
	"add":  func(a, b int) int { return a + b },
	"join": strings.Join,
}

// parseTemplates builds one template set per page: the shared layout with
// the page's "content". A template error is a bug in the binary, so it
// panics at start-up rather than on some later request.
func parseTemplates() map[string]*template.Template {
	base := template.Must(template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/partials.html"))
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t := template.Must(base.Clone())
		out[name] = template.Must(t.ParseFS(templateFS, path.Join("templates", name+".html")))
	}
	return out
}
