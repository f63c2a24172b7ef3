package labs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ProgressFile holds a workspace's progress, in the workspace.
const ProgressFile = ".drover-lab.json"

// Progress is what a learner has done in a workspace: which lab, which
// step, how many hints each step has shown, the values solutions
// captured, and the cluster the lab talks to.
type Progress struct {
	Lab     string            `json:"lab"`
	Step    int               `json:"step"` // 0-based index of the current step
	Done    map[string]bool   `json:"done,omitempty"`
	Hints   map[string]int    `json:"hints,omitempty"`
	Vars    map[string]string `json:"vars,omitempty"`
	Address string            `json:"address"`
	// Embedded is set when drover started the cluster in the background.
	Embedded *ClusterInfo `json:"embedded,omitempty"`
	// StandIns are the stand-in images the cluster runs, by the image they
	// stand in for.
	StandIns map[string]string `json:"stand_ins,omitempty"`
	Started  time.Time         `json:"started"`
	// Checked holds the latest results of each step's checks, by step
	// ID, in the order of the step's checks: what the lab publishes to
	// the cluster for the web UI.
	Checked map[string][]CheckedResult `json:"checked,omitempty"`
}

// CheckedResult is the latest result of one check.
type CheckedResult struct {
	OK       bool   `json:"ok"`
	Want     string `json:"want"`
	Observed string `json:"observed,omitempty"`
}

// RecordChecks keeps the results of a step's checks as its latest.
func (p *Progress) RecordChecks(stepID string, results []CheckedResult) {
	if p.Checked == nil {
		p.Checked = map[string][]CheckedResult{}
	}
	p.Checked[stepID] = results
}

// PKI is the directory of the embedded cluster's lab CA and CLI
// certificate, or "" when its API is plain HTTP.
func (p *Progress) PKI() string {
	if p.Embedded == nil {
		return ""
	}
	return p.Embedded.PKI
}

// ClusterInfo describes a lab cluster drover runs in the background.
type ClusterInfo struct {
	PID     int               `json:"pid"`
	Control string            `json:"control"` // http address of its control endpoint
	Agents  map[string]string `json:"agents"`  // agent name → HTTP address
	// PKI is the directory of the lab CA and the CLI's certificate
	// (cli.pem, cli-key.pem) when the cluster serves HTTPS.
	PKI string `json:"pki,omitempty"`
}

// LoadProgress reads dir's progress file.
func LoadProgress(dir string) (*Progress, error) {
	b, err := os.ReadFile(filepath.Join(dir, ProgressFile))
	if err != nil {
		return nil, err
	}
	var p Progress
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ProgressFile), err)
	}
	return &p, nil
}

// Save writes the progress file atomically: an interrupted save never
// leaves a half-written file behind.
func (p *Progress) Save(dir string) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ProgressFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ProgressFile))
}

// ErrNoWorkspace is returned by FindWorkspace outside a workspace.
var ErrNoWorkspace = errors.New("not in a lab workspace: start one with \"drover lab start <lab>\" and cd into it")

// FindWorkspace returns the workspace holding dir: dir or the nearest
// parent with a progress file.
func FindWorkspace(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, ProgressFile)); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoWorkspace
		}
		dir = parent
	}
}

// Save writes the cluster's description atomically, for lab start to find.
func (c *ClusterInfo) Save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// LoadClusterInfo reads what ClusterInfo.Save wrote.
func LoadClusterInfo(path string) (*ClusterInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c ClusterInfo
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
