package cli

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const packLab = `title = "%s"
step "one" {
  title        = "Write a job"
  instructions = "Run job init."
  hints        = ["drover job init"]
  why          = "job init writes example.nomad."
  solution {
    run "job init" {}
  }
  check "file" {
    path = "example.nomad"
  }
}
`

// commitFile writes one file in the repository's work tree and commits it.
func commitFile(t *testing.T, repo *git.Repository, dir, name, content string) plumbing.Hash {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(name); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit("change "+name, &git.CommitOptions{Author: &object.Signature{Name: "Instructor", Email: "i@example.com", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// cacheTree is every file under the cache, with its content.
func cacheTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[rel] = string(b)
		return nil
	})
	return out
}

// TestLabPull pulls a pack made in the test: at a tag, then at a newer
// commit; then a commit with a broken lab is refused with file:line:col
// and the cache stays as it was. No git binary is used.
func TestLabPull(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	src := filepath.Join(t.TempDir(), "course-labs")
	repo, err := git.PlainInit(src, false)
	if err != nil {
		t.Fatal(err)
	}
	v1 := commitFile(t, repo, src, "labs/first.lab.hcl", strings.Replace(packLab, "%s", "First, version one", 1))
	if _, err := repo.CreateTag("v1", v1, nil); err != nil {
		t.Fatal(err)
	}
	v2 := commitFile(t, repo, src, "labs/first.lab.hcl", strings.Replace(packLab, "%s", "First, version two", 1))

	l := newLearner(t)
	cache := filepath.Join(l.dir, "..", "cache")
	l.env = append(l.env, "DROVER_LAB_CACHE="+cache)

	l.must(`Pack "course-labs" at `+v1.String()[:12]+" (v1): 1 lab(s): course-labs/first", "lab", "pull", src+"@v1")
	out := l.must("course-labs/first", "lab", "list")
	if !containsFolded(out, "course-labs  "+v1.String()[:12]+"  v1") || !strings.Contains(out, "First, version one") {
		t.Fatalf("lab list does not show the pack at v1:\n%s", out)
	}

	// An update, to the newer commit on the default branch.
	l.must(`Pack "course-labs" at `+v2.String()[:12], "lab", "pull", src)
	if out := l.must("First, version two", "lab", "list"); strings.Contains(out, "version one") {
		t.Fatalf("lab list still shows v1:\n%s", out)
	}

	// A broken lab: refused, file:line:col, the cache untouched.
	before := cacheTree(t, cache)
	commitFile(t, repo, src, "labs/broken.lab.hcl", "title = \"Broken\"\nstep \"a\" {\n  title = \"t\"\n  check \"bogus\" {}\n}\n")
	l.fails([]string{"labs/broken.lab.hcl:4:3: Invalid check"}, "lab", "pull", src)
	after := cacheTree(t, cache)
	if len(before) != len(after) {
		t.Fatalf("the cache changed: %d files before, %d after", len(before), len(after))
	}
	for name, content := range before {
		if after[name] != content {
			t.Fatalf("the cache changed: %s", name)
		}
	}
	l.must("First, version two", "lab", "list")

	// A pack's lab starts like a built-in one (without a cluster here: it
	// needs only the file it checks).
	l.fails([]string{"no lab named \"nope\""}, "lab", "start", "nope")
}
