// Package configs holds the templates of the lab machines' agent
// configuration (templates/*.hcl.tmpl), embedded in the drover binary so
// that a VM and a container render the same files. The rendered/ folder
// shows what they give for the shipped cluster.yaml.
package configs

import "embed"

// Templates holds templates/server.hcl.tmpl and templates/client.hcl.tmpl.
//
//go:embed templates/*.hcl.tmpl
var Templates embed.FS
