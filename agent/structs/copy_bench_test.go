package structs_test

import (
	"os"
	"testing"

	"drover/agent/jobspec"
	"drover/agent/structs"
)

// BenchmarkJobCopy copies the jobspec package's features example (two
// groups, services with checks, templates, artifacts, meta, driver
// config), canonicalized as a registered job is.
//
//	go test ./agent/structs -run '^$' -bench JobCopy
func BenchmarkJobCopy(b *testing.B) {
	src, err := os.ReadFile("../jobspec/testdata/features.nomad")
	if err != nil {
		b.Fatal(err)
	}
	job, err := jobspec.Parse("features.nomad", src, jobspec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	job.Canonicalize()
	b.ReportAllocs()
	b.ResetTimer()
	var c *structs.Job
	for i := 0; i < b.N; i++ {
		c = job.Copy()
	}
	if c.ID != job.ID {
		b.Fatal("copy lost the ID")
	}
}
