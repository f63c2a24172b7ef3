package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ryanuber/columnize"
)

// Output conventions of the tutorials' CLI: "key = value" blocks, tables
// with two-space glue and <none> for empty cells, 8-character IDs.

const (
	shortID = 8
	fullID  = 36
)

// limit cuts s to n characters (IDs are shown as their first 8).
func limit(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// formatKV aligns "Key|Value" rows as "Key   = Value".
func formatKV(rows []string) string {
	cfg := columnize.DefaultConfig()
	cfg.Glue = " = "
	cfg.Empty = "<none>"
	return columnize.Format(rows, cfg)
}

// formatList aligns "A|B|C" rows as a table.
func formatList(rows []string) string {
	cfg := columnize.DefaultConfig()
	cfg.Empty = "<none>"
	return columnize.Format(rows, cfg)
}

// formatListWithSpaces is formatList keeping empty cells empty.
func formatListWithSpaces(rows []string) string {
	cfg := columnize.DefaultConfig()
	return columnize.Format(rows, cfg)
}

// formatTime prints a time as RFC3339 without fractions; the zero time
// prints as nothing.
func formatTime(t time.Time) string {
	if t.Unix() < 1 {
		return ""
	}
	return t.Format("2006-01-02T15:04:05Z07:00")
}

// formatUnixNano prints a unix-nanosecond time in the local zone.
func formatUnixNano(n int64) string {
	return formatTime(time.Unix(0, n))
}

// prettyTimeDiff prints how long ago (or from now) t is, with the two
// largest non-zero units: "3m55s ago", "1h2m ago", "0s ago".
func prettyTimeDiff(t, now time.Time) string {
	if t.IsZero() || t.Unix() < 1 {
		return ""
	}
	t, now = t.Round(time.Second), now.Round(time.Second)
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	if d < time.Second {
		return "0s " + suffix
	}
	units := []struct {
		name string
		size time.Duration
	}{
		{"y", 365 * 24 * time.Hour}, {"mo", 30 * 24 * time.Hour}, {"d", 24 * time.Hour},
		{"h", time.Hour}, {"m", time.Minute}, {"s", time.Second},
	}
	var parts []string
	for _, u := range units {
		if n := d / u.size; n > 0 {
			parts = append(parts, fmt.Sprintf("%d%s", n, u.name))
			d -= n * u.size
		}
		if len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, "") + " " + suffix
}

// getenv reads the injected environment (the process's when none was
// injected).
func (s *streams) getenv(key string) string {
	if s.Env == nil {
		return os.Getenv(key)
	}
	prefix := key + "="
	for _, kv := range s.Env {
		if strings.HasPrefix(kv, prefix) {
			return kv[len(prefix):]
		}
	}
	return ""
}
