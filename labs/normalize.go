package labs

import (
	"fmt"
	"regexp"
	"strings"
)

// Normalizer replaces what changes from run to run in a transcript (IDs,
// times, ports, raft indexes) with placeholders, so transcripts of two
// runs compare equal. The same ID always gets the same placeholder, so a
// transcript still shows that "the allocation created" is "the one whose
// logs were read".
type Normalizer struct {
	ids map[string]string // first 8 hex digits → placeholder
}

var (
	// A full UUID, or the 8-digit short form the CLI prints.
	idRe = regexp.MustCompile(`\b[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?\b`)
	// Resource usage: "7.5 MiB/256 MiB", "12/500 MHz".
	usageRe = regexp.MustCompile(`\b\d+(\.\d+)?( [KMG]iB| B)?/(\d+ (MiB|MHz))`)
	// Times as the CLI prints them: RFC 3339, and "2006-01-02 15:04:05" forms.
	timeRe = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?( [A-Z]{3,4})?`)
	agoRe  = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?(s|ms|µs) ago\b`)
	portRe = regexp.MustCompile(`\b(127\.0\.0\.1|localhost|\d+\.\d+\.\d+\.\d+):\d{2,5}\b`)
	// Raft indexes: "Job Modify Index: 42", "-check-index 42", "Index = 42".
	indexRe = regexp.MustCompile(`((?i:index)[:= ]+|-check-index )\d+`)
	gapRe   = regexp.MustCompile(`  +`)
)

// NewNormalizer returns a normalizer with no IDs seen yet.
func NewNormalizer() *Normalizer { return &Normalizer{ids: map[string]string{}} }

// Normalize rewrites one transcript.
func (n *Normalizer) Normalize(text string) string {
	// Times first: their digits are not IDs.
	text = timeRe.ReplaceAllString(text, "<time>")
	// One pass in reading order, so placeholders number IDs as a reader
	// meets them.
	text = idRe.ReplaceAllStringFunc(text, func(id string) string { return n.id(id[:8], len(id) > 8) })
	text = usageRe.ReplaceAllString(text, "<used>/$3")
	text = agoRe.ReplaceAllString(text, "<ago>")
	text = portRe.ReplaceAllString(text, "$1:<port>")
	text = indexRe.ReplaceAllString(text, "${1}<index>")
	// A placeholder is not as wide as what it replaced, and "9s ago" not
	// as wide as "10s ago": table columns after one are aligned by a
	// gap of two spaces, whatever the widths were.
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.Contains(l, "<") {
			lines[i] = gapRe.ReplaceAllString(l, "  ")
		}
	}
	return strings.Join(lines, "\n")
}

func (n *Normalizer) id(short string, full bool) string {
	p, ok := n.ids[short]
	if !ok {
		p = fmt.Sprintf("<id-%d>", len(n.ids)+1)
		n.ids[short] = p
	}
	if full {
		return p[:len(p)-1] + "-full>"
	}
	return p
}
