package docker

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// pullProgressEvery is how often, at most, a pull in progress is reported
// as a task event: often enough for a student watching "job run" to see
// it move, rarely enough not to flood the servers with task updates. A
// variable so tests can report every change.
var pullProgressEvery = 2 * time.Second

// pullMessage is one message of the engine's pull stream (a JSON object
// per line): a layer's status and, while it downloads, its bytes; or an
// error, which ends the pull.
type pullMessage struct {
	Status         string `json:"status"`
	ID             string `json:"id"`
	ProgressDetail struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error       string `json:"error"`
	ErrorDetail struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// layerPhase is where a layer is in a pull, in the order layers go through
// them.
type layerPhase int

const (
	layerWaiting     layerPhase = iota // "Pulling fs layer", "Waiting"
	layerDownloading                   // "Downloading", "Verifying Checksum"
	layerPulled                        // "Download complete", "Extracting", "Pull complete", "Already exists"
)

// layerPhases maps the engine's layer statuses to phases; other statuses
// ("Pulling from library/redis", "Digest: ...") are not about a layer.
var layerPhases = map[string]layerPhase{
	"Pulling fs layer":   layerWaiting,
	"Waiting":            layerWaiting,
	"Downloading":        layerDownloading,
	"Verifying Checksum": layerDownloading,
	"Download complete":  layerPulled,
	"Extracting":         layerPulled,
	"Pull complete":      layerPulled,
	"Already exists":     layerPulled,
}

type layer struct {
	phase          layerPhase
	current, total int64
}

// pullProgress is the state of one image pull, built from its messages.
type pullProgress struct {
	layers map[string]*layer
}

// update takes one message into account and reports whether it changed
// the pull's state.
func (p *pullProgress) update(m pullMessage) bool {
	phase, ok := layerPhases[m.Status]
	if !ok || m.ID == "" {
		return false
	}
	if p.layers == nil {
		p.layers = map[string]*layer{}
	}
	l, known := p.layers[m.ID]
	if !known {
		l = &layer{}
		p.layers[m.ID] = l
	}
	before := *l
	l.phase = phase
	switch {
	case m.Status == "Downloading" && m.ProgressDetail.Total > 0:
		l.current, l.total = m.ProgressDetail.Current, m.ProgressDetail.Total
	case phase == layerPulled:
		// The download of a layer is done, whatever its last report said.
		l.current = l.total
	}
	return !known || *l != before
}

// summary says how far the pull is, in the compatible driver's words:
// "Pulled 1/3 (12.5MiB/40.1MiB) layers: 1 waiting/1 pulling - est 3.2s
// remaining". Sizes count the layers whose size the engine has told; the
// estimate, from the time elapsed since the pull began, appears once
// bytes have arrived.
func (p *pullProgress) summary(elapsed time.Duration) string {
	var pulled, pulling, waiting int
	var current, total int64
	for _, l := range p.layers {
		switch l.phase {
		case layerWaiting:
			waiting++
		case layerDownloading:
			pulling++
		case layerPulled:
			pulled++
		}
		current += l.current
		total += l.total
	}
	s := fmt.Sprintf("Pulled %d/%d (%s/%s) layers: %d waiting/%d pulling",
		pulled, len(p.layers), formatBytes(current), formatBytes(total), waiting, pulling)
	if current > 0 && current < total && elapsed > 0 {
		remaining := time.Duration(float64(elapsed) * float64(total-current) / float64(current))
		s += fmt.Sprintf(" - est %.1fs remaining", remaining.Seconds())
	}
	return s
}

// formatBytes prints a size in binary units with up to four significant
// digits ("512B", "12.5MiB", "1.203GiB").
func formatBytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", v, units[i])
}

// readPullStream reads a pull's progress to the end, which is when the
// pull is finished, and returns the error reported in it: once the pull
// has started, failures arrive in the stream, not as an HTTP status.
// While it reads, it calls report with the pull's summary (see
// pullProgress.summary) when it changed, at most once per every (and not
// before every has passed, so a quick pull reports nothing); now is the
// clock, a parameter so tests need not sleep.
func readPullStream(r io.Reader, every time.Duration, now func() time.Time, report func(string)) error {
	dec := json.NewDecoder(r)
	var p pullProgress
	start := now()
	last := start
	changed := false
	for {
		var msg pullMessage
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read pull progress: %w", err)
		}
		if msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
		if p.update(msg) {
			changed = true
		}
		if t := now(); changed && report != nil && t.Sub(last) >= every {
			report(p.summary(t.Sub(start)))
			last, changed = t, false
		}
	}
}
