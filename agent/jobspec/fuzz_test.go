package jobspec_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"drover/agent/jobspec"
)

// FuzzParse feeds arbitrary bytes to the HCL parser. It must only ever
// return a job or an error: any panic is a bug. CI runs it briefly with
// -fuzz; plain "go test" runs the seed corpus.
func FuzzParse(f *testing.F) {
	addCorpus(f, "testdata/*.nomad")
	f.Add([]byte(`job "a" { group "g" { count = -1 task "t" {} } }`))
	f.Add([]byte(`locals { a = local.b
b = local.a }`))
	f.Add([]byte(`variable "v" { type = map(number) }
job "x" { meta = var.v }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		defer withinMemory(t, src)()
		job, err := jobspec.Parse("fuzz.nomad", src, jobspec.Options{Vars: []string{"image=x"}, AllowUndeclared: true})
		if err == nil && job == nil {
			t.Fatal("nil job without an error")
		}
		if err == nil {
			// Whatever parses must also validate the same way from JSON.
			if verr := job.Validate(); verr != nil {
				t.Fatalf("parsed job fails validation: %v", verr)
			}
		}
	})
}

// FuzzParseJSON does the same for the API JSON form.
func FuzzParseJSON(f *testing.F) {
	addCorpus(f, "testdata/*.golden")
	f.Add([]byte(`{"Job": {"ID": "a", "TaskGroups": [{"Name": "g", "Count": null}]}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		defer withinMemory(t, src)()
		job, err := jobspec.ParseJSON("fuzz.json", src)
		if err == nil && job == nil {
			t.Fatal("nil job without an error")
		}
	})
}

func addCorpus(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed corpus for %s", pattern)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
}

// maxFuzzAlloc bounds what one input may make the parser allocate: an
// input a few kilobytes long that needs more is a way to exhaust an
// agent's memory, and so a failure.
const maxFuzzAlloc = 256 << 20

// withinMemory fails the case when parsing allocated more than
// maxFuzzAlloc; call the function it returns when parsing is done.
func withinMemory(t *testing.T, src []byte) func() {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	return func() {
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxFuzzAlloc {
			t.Fatalf("parsing %d bytes allocated %d MiB (the bound is %d MiB)", len(src), n>>20, maxFuzzAlloc>>20)
		}
	}
}
