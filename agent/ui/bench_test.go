package ui

import (
	"net/http"
	"testing"
	"time"
)

// pageTarget is the bound: every page answers in under 100 ms
// with 1,000 jobs and 10,000 allocations in state.
const pageTarget = 100 * time.Millisecond

// BenchmarkPages renders every page over 1,000 jobs of 10 allocations on
// 100 clients, in process (no network), and fails a page whose mean is
// over pageTarget. Run: go test -run '^$' -bench Pages ./agent/ui
func BenchmarkPages(b *testing.B) {
	c, h := newFilled(b, 100, 1000, 10)
	putLabReport(b, c.store, 1_000_000, sampleReport())
	for _, p := range []struct{ name, path string }{
		{"jobs", "/ui/jobs"},
		{"jobs-last-page", "/ui/jobs?page=20"},
		{"job", "/ui/jobs/job-0500@default"},
		{"allocation", "/ui/allocations/" + fixedID("a", 5000)},
		{"cluster", "/ui/clients"},
		{"client", "/ui/clients/" + fixedID("n", 50)},
		{"topology", "/ui/topology"},
		{"evaluations", "/ui/evaluations"},
		{"evaluation", "/ui/evaluations/" + fixedID("e", 500)},
		{"lab", "/ui/lab"},
		{"token", "/ui/settings/tokens"},
	} {
		b.Run(p.name, func(b *testing.B) {
			var size int
			for i := 0; i < b.N; i++ {
				w := get(h, p.path)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", p.path, w.Code, w.Body.String())
				}
				size = w.Body.Len()
			}
			per := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "ms/page")
			b.ReportMetric(float64(size)/1024, "KiB")
			if per > pageTarget {
				b.Errorf("%s takes %v a page, over the %v target", p.path, per, pageTarget)
			}
		})
	}
}
