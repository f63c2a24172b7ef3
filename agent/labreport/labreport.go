// Package labreport is the shape in which a lab publishes its progress to
// the cluster it runs against, so that the web UI served by any agent of
// that cluster can show it.
//
// A report travels as a Nomad-compatible variable at PathPrefix+<lab ID> in
// the "default" namespace: flat string items, as variables require, with
// the steps encoded as one JSON item. The lab engine writes it after each
// start, check, next, solve and reset; the UI only reads it.
package labreport

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// PathPrefix is where lab reports live among the cluster's variables,
// in Namespace.
const (
	PathPrefix = "drover/labs/"
	Namespace  = "default"
)

// Report is one lab's progress.
type Report struct {
	Lab   string `json:"lab"`   // the lab's ID, e.g. "getting-started"
	Title string `json:"title"` // the lab's title
	// Current is the 0-based index of the step the learner is on.
	Current int       `json:"current"`
	Steps   []Step    `json:"steps"`
	Updated time.Time `json:"updated"`
}

// Step is one step of the lab and the result of its latest check.
type Step struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Done  bool   `json:"done"`
	// Checks are the step's conditions as last checked; a step never
	// checked has them with Checked false.
	Checks []Check `json:"checks"`
}

// Check is one condition of a step.
type Check struct {
	Want     string `json:"want"`
	Checked  bool   `json:"checked"`
	OK       bool   `json:"ok"`
	Observed string `json:"observed,omitempty"`
}

// Items encodes the report as a variable's items.
func (r *Report) Items() (map[string]string, error) {
	steps, err := json.Marshal(r.Steps)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"lab":     r.Lab,
		"title":   r.Title,
		"current": strconv.Itoa(r.Current),
		"steps":   string(steps),
		"updated": r.Updated.UTC().Format(time.RFC3339),
	}, nil
}

// FromItems decodes what Items encoded.
func FromItems(items map[string]string) (*Report, error) {
	r := &Report{Lab: items["lab"], Title: items["title"]}
	if r.Lab == "" {
		return nil, fmt.Errorf("lab report: no \"lab\" item")
	}
	cur, err := strconv.Atoi(items["current"])
	if err != nil {
		return nil, fmt.Errorf("lab report %s: item \"current\": %v", r.Lab, err)
	}
	r.Current = cur
	if err := json.Unmarshal([]byte(items["steps"]), &r.Steps); err != nil {
		return nil, fmt.Errorf("lab report %s: item \"steps\": %v", r.Lab, err)
	}
	if t, err := time.Parse(time.RFC3339, items["updated"]); err == nil {
		r.Updated = t
	}
	return r, nil
}
