package pack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// noGit makes sure that no git binary can be found for the rest of the test,
// so that any attempt to run one fails.
func noGit(t *testing.T) {
	t.Helper()
	t.Setenv("PATH", t.TempDir())
	if p, err := exec.LookPath("git"); err == nil {
		t.Fatalf("git is still found at %s", p)
	}
	if p, err := exec.LookPath("git-upload-pack"); err == nil {
		t.Fatalf("git-upload-pack is still found at %s", p)
	}
}

// testRepo is a repository made with go-git in a temporary directory.
type testRepo struct {
	t    *testing.T
	dir  string
	repo *git.Repository
	when time.Time
}

func newRepo(t *testing.T, name string) *testRepo {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{t: t, dir: dir, repo: r, when: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// commit writes files (a nil content removes the file) and commits them on
// the current branch.
func (r *testRepo) commit(msg string, files map[string]*string) plumbing.Hash {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	for name, content := range files {
		path := filepath.Join(r.dir, filepath.FromSlash(name))
		if content == nil {
			if _, err := wt.Remove(name); err != nil {
				r.t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(*content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			r.t.Fatal(err)
		}
	}
	r.when = r.when.Add(time.Minute)
	sig := &object.Signature{Name: "Lab Author", Email: "author@example.org", When: r.when}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		r.t.Fatal(err)
	}
	return h
}

func (r *testRepo) tag(name string, h plumbing.Hash, annotated bool) {
	r.t.Helper()
	var opts *git.CreateTagOptions
	if annotated {
		opts = &git.CreateTagOptions{
			Tagger:  &object.Signature{Name: "Lab Author", Email: "author@example.org", When: r.when},
			Message: "release " + name,
		}
	}
	if _, err := r.repo.CreateTag(name, h, opts); err != nil {
		r.t.Fatal(err)
	}
}

func (r *testRepo) branch(name string, h plumbing.Hash) {
	r.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), h)
	if err := r.repo.Storer.SetReference(ref); err != nil {
		r.t.Fatal(err)
	}
}

func str(s string) *string { return &s }

// tree returns the files below dir, without .git, as path → content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// snapshot records everything below dir, .git included: for each path its
// mode and its content (a symlink's target for a link).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			entry += " -> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		snap[filepath.ToSlash(rel)] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if reflect.DeepEqual(before, after) {
		return
	}
	var diffs []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diffs = append(diffs, "gone: "+k)
		} else if v != w {
			diffs = append(diffs, "changed: "+k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, "new: "+k)
		}
	}
	sort.Strings(diffs)
	t.Fatalf("the cache changed:\n%s", strings.Join(diffs, "\n"))
}

// noTemp fails if cacheDir holds anything but pack directories.
func noTemp(t *testing.T, cacheDir string) {
	t.Helper()
	entries, err := os.ReadDir(cacheDir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind in the cache: %s", e.Name())
		}
	}
}

// refuseBroken is a Validate that refuses a pack with a file containing
// BROKEN, the way a lab validator names the position of an error.
func refuseBroken(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "BROKEN") {
			rel, _ := filepath.Rel(dir, path)
			return fmt.Errorf("%s:3:5: unexpected token BROKEN", filepath.ToSlash(rel))
		}
		return nil
	})
}

func TestPullTagUpdateAndRefusedPack(t *testing.T) {
	noGit(t)
	ctx := context.Background()
	src := newRepo(t, "demo-labs.git")
	c1 := src.commit("first", map[string]*string{
		"demo.lab.hcl":       str("lab \"demo\" { version = 1 }\n"),
		"README.md":          str("v1 readme\n"),
		"sub/other.lab.hcl":  str("lab \"other\" {}\n"),
		"sub/deeper/data.md": str("data\n"),
	})
	src.tag("v1", c1, false)
	c2 := src.commit("second", map[string]*string{
		"demo.lab.hcl": str("lab \"demo\" { version = 2 }\n"),
		"README.md":    nil,
		"new.lab.hcl":  str("lab \"new\" {}\n"),
	})
	cache := filepath.Join(t.TempDir(), "cache")

	// A tag: the tagged commit, not the newer head of the branch.
	var validated []string
	validate := func(dir string) error {
		validated = append(validated, dir)
		if filepath.Dir(dir) != cache {
			t.Errorf("validate ran on %s, not on a directory inside the cache", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "demo.lab.hcl")); err != nil {
			t.Errorf("validate ran before the checkout: %v", err)
		}
		return refuseBroken(dir)
	}
	p, err := Pull(ctx, cache, src.dir+"@v1", validate)
	if err != nil {
		t.Fatal(err)
	}
	if len(validated) != 1 {
		t.Fatalf("validate ran %d times, want 1", len(validated))
	}
	if _, err := os.Stat(validated[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the directory validate ran on is still there (%v)", err)
	}
	want := &Pack{Name: "demo-labs", URL: src.dir, Ref: "v1", Commit: c1.String(), Dir: filepath.Join(cache, "demo-labs"), Pulled: p.Pulled}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("Pull = %+v, want %+v", p, want)
	}
	if p.Pulled.IsZero() || time.Since(p.Pulled) > time.Minute {
		t.Errorf("Pulled = %v", p.Pulled)
	}
	wantV1 := map[string]string{
		"demo.lab.hcl":       "lab \"demo\" { version = 1 }\n",
		"README.md":          "v1 readme\n",
		"sub/other.lab.hcl":  "lab \"other\" {}\n",
		"sub/deeper/data.md": "data\n",
	}
	if got := tree(t, p.Dir); !reflect.DeepEqual(got, wantV1) {
		t.Fatalf("files after pulling v1 = %v, want %v", got, wantV1)
	}
	noTemp(t, cache)
	if fi, err := os.Stat(p.Dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("pack directory: %v, %v", fi.Mode(), err)
	}

	// The default ref: the remote's HEAD, the newer commit. This is an
	// update of the pack pulled above.
	p, err = Pull(ctx, cache, src.dir, validate)
	if err != nil {
		t.Fatal(err)
	}
	if p.Commit != c2.String() || p.Ref != "master" {
		t.Fatalf("Pull of HEAD: commit %s ref %q, want %s and master", p.Commit, p.Ref, c2)
	}
	wantV2 := map[string]string{
		"demo.lab.hcl":       "lab \"demo\" { version = 2 }\n",
		"new.lab.hcl":        "lab \"new\" {}\n",
		"sub/other.lab.hcl":  "lab \"other\" {}\n",
		"sub/deeper/data.md": "data\n",
	}
	if got := tree(t, p.Dir); !reflect.DeepEqual(got, wantV2) {
		t.Fatalf("files after the update = %v, want %v", got, wantV2)
	}
	noTemp(t, cache)

	// The branch by name, with a commit made after the last pull.
	c3 := src.commit("third", map[string]*string{"new.lab.hcl": str("lab \"new\" { v = 3 }\n")})
	p, err = Pull(ctx, cache, src.dir+"@master", validate)
	if err != nil {
		t.Fatal(err)
	}
	if p.Commit != c3.String() || p.Ref != "master" {
		t.Fatalf("Pull @master: commit %s ref %q, want %s and master", p.Commit, p.Ref, c3)
	}
	wantV3 := wantV2
	wantV3["new.lab.hcl"] = "lab \"new\" { v = 3 }\n"
	if got := tree(t, p.Dir); !reflect.DeepEqual(got, wantV3) {
		t.Fatalf("files after pulling master = %v, want %v", got, wantV3)
	}

	// A commit that validate refuses: the error names the place, and the
	// cache is exactly as it was.
	before := snapshot(t, cache)
	c4 := src.commit("broken", map[string]*string{
		"broken.lab.hcl": str("lab \"broken\" {\n  x = 1\n    BROKEN\n}\n"),
		"demo.lab.hcl":   str("changed\n"),
	})
	validated = nil
	_, err = Pull(ctx, cache, src.dir, validate)
	if err == nil {
		t.Fatal("Pull of a pack that validate refuses succeeded")
	}
	if !strings.Contains(err.Error(), "broken.lab.hcl:3:5: unexpected token BROKEN") {
		t.Errorf("error %q does not name broken.lab.hcl:3:5", err)
	}
	if !strings.Contains(err.Error(), c4.String()[:12]) {
		t.Errorf("error %q does not name the refused commit %s", err, c4)
	}
	if len(validated) != 1 {
		t.Fatalf("validate ran %d times, want 1", len(validated))
	}
	sameSnapshot(t, before, snapshot(t, cache))
	noTemp(t, cache)

	packs, err := List(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) != 1 || packs[0].Commit != c3.String() || packs[0].Ref != "master" || packs[0].URL != src.dir {
		t.Fatalf("List after the refused pull = %+v", packs)
	}
}

func TestPullBadRef(t *testing.T) {
	noGit(t)
	ctx := context.Background()
	src := newRepo(t, "labs")
	c1 := src.commit("first", map[string]*string{"a.lab.hcl": str("a\n")})

	// Into a cache that does not exist yet: it must not exist afterwards.
	cache := filepath.Join(t.TempDir(), "cache")
	_, err := Pull(ctx, cache, src.dir+"@nope", nil)
	if err == nil {
		t.Fatal("Pull of a missing ref succeeded")
	}
	if !strings.Contains(err.Error(), `ref "nope" not found`) {
		t.Errorf("error %q does not say the ref was not found", err)
	}
	if _, err := os.Stat(cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed pull left the cache directory behind (%v)", err)
	}

	// Over an existing pack: the pack is untouched.
	if _, err := Pull(ctx, cache, src.dir, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, cache)
	for _, ref := range []string{"nope", "v9", "deadbeef", strings.Repeat("0", 40)} {
		_, err := Pull(ctx, cache, src.dir+"@"+ref, nil)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ref %q not found", ref)) {
			t.Errorf("Pull @%s: error %v, want ref not found", ref, err)
		}
	}
	sameSnapshot(t, before, snapshot(t, cache))
	noTemp(t, cache)
	packs, err := List(cache)
	if err != nil || len(packs) != 1 || packs[0].Commit != c1.String() {
		t.Fatalf("List = %+v, %v", packs, err)
	}
}

func TestPullHashesAnnotatedTagsAndBranches(t *testing.T) {
	noGit(t)
	ctx := context.Background()
	src := newRepo(t, "labs")
	c1 := src.commit("first", map[string]*string{"a.lab.hcl": str("one\n")})
	src.tag("v1.0.0", c1, true)
	c2 := src.commit("second", map[string]*string{"a.lab.hcl": str("two\n")})
	src.branch("stable", c1)
	c3 := src.commit("third", map[string]*string{"a.lab.hcl": str("three\n")})
	cache := t.TempDir()

	for _, tc := range []struct {
		ref     string
		commit  plumbing.Hash
		content string
	}{
		{"v1.0.0", c1, "one\n"},         // an annotated tag, peeled to its commit
		{c2.String(), c2, "two\n"},      // a full hash
		{c2.String()[:7], c2, "two\n"},  // an abbreviated hash
		{"stable", c1, "one\n"},         // a branch that is not the remote's HEAD
		{"", c3, "three\n"},             // the remote's HEAD
		{"master", c3, "three\n"},       // its branch by name
		{c1.String()[:10], c1, "one\n"}, // and back again
	} {
		source := src.dir
		if tc.ref != "" {
			source += "@" + tc.ref
		}
		p, err := Pull(ctx, cache, source, nil)
		if err != nil {
			t.Fatalf("Pull %s: %v", source, err)
		}
		if p.Commit != tc.commit.String() {
			t.Errorf("Pull @%s: commit %s, want %s", tc.ref, p.Commit, tc.commit)
		}
		if tc.ref != "" && p.Ref != tc.ref {
			t.Errorf("Pull @%s: ref %q", tc.ref, p.Ref)
		}
		if got := tree(t, p.Dir); !reflect.DeepEqual(got, map[string]string{"a.lab.hcl": tc.content}) {
			t.Errorf("Pull @%s: files %v", tc.ref, got)
		}
		noTemp(t, cache)
	}
}

func TestPullFileURLAndRelativePath(t *testing.T) {
	noGit(t)
	ctx := context.Background()
	src := newRepo(t, "url-labs")
	c1 := src.commit("first", map[string]*string{"a.lab.hcl": str("a\n")})
	cache := t.TempDir()

	p, err := Pull(ctx, cache, "file://"+filepath.ToSlash(src.dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "url-labs" || p.Commit != c1.String() || p.URL != "file://"+filepath.ToSlash(src.dir) {
		t.Fatalf("Pull of a file:// URL = %+v", p)
	}

	// A relative path is recorded as an absolute one.
	t.Chdir(filepath.Dir(src.dir))
	p, err = Pull(ctx, cache, "./url-labs@"+c1.String()[:8], nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.URL != src.dir || p.Commit != c1.String() {
		t.Fatalf("Pull of a relative path = %+v, want URL %s", p, src.dir)
	}

	// A bare repository, itself cloned with go-git over the same transport.
	bare := filepath.Join(t.TempDir(), "bare-labs.git")
	if _, err := git.PlainClone(bare, true, &git.CloneOptions{URL: src.dir}); err != nil {
		t.Fatal(err)
	}
	p, err = Pull(ctx, cache, bare, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "bare-labs" || p.Commit != c1.String() || p.Ref != "master" {
		t.Fatalf("Pull of a bare repository = %+v", p)
	}
	if got := tree(t, p.Dir); !reflect.DeepEqual(got, map[string]string{"a.lab.hcl": "a\n"}) {
		t.Errorf("files of the bare repository's pack = %v", got)
	}
}

func TestPullFailures(t *testing.T) {
	noGit(t)
	src := newRepo(t, "labs")
	src.commit("first", map[string]*string{"a.lab.hcl": str("a\n")})
	cache := t.TempDir()
	if _, err := Pull(context.Background(), cache, src.dir, nil); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, cache)

	missing := filepath.Join(t.TempDir(), "labs")
	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	empty := newRepo(t, "labs")

	for _, tc := range []struct {
		what, source string
		ctx          context.Context
		want         string
	}{
		{"a directory that is no repository", missing, context.Background(), "repository not found"},
		{"a path that does not exist", filepath.Join(t.TempDir(), "labs"), context.Background(), "repository not found"},
		{"a repository with no commits", empty.dir, context.Background(), "remote repository is empty"},
		{"a cancelled context", src.dir, cancelled, "context canceled"},
		{"a source without a name", "https://example.org", context.Background(), "no path"},
	} {
		_, err := Pull(tc.ctx, cache, tc.source, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Pull of %s: error %v, want one containing %q", tc.what, err, tc.want)
		}
	}
	sameSnapshot(t, before, snapshot(t, cache))
	noTemp(t, cache)

	// A refused first pull leaves no pack and no new cache directory.
	broken := newRepo(t, "broken")
	broken.commit("broken", map[string]*string{"x/broken.lab.hcl": str("a\nb\n  BROKEN\n")})
	fresh := filepath.Join(t.TempDir(), "fresh")
	_, err := Pull(context.Background(), fresh, broken.dir, refuseBroken)
	if err == nil || !strings.Contains(err.Error(), "x/broken.lab.hcl:3:5:") {
		t.Errorf("refused first pull: error %v", err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused first pull left the cache directory behind (%v)", err)
	}
	_, err = Pull(context.Background(), cache, broken.dir, refuseBroken)
	if err == nil {
		t.Error("refused pull into an existing cache succeeded")
	}
	sameSnapshot(t, before, snapshot(t, cache))
	noTemp(t, cache)
}

func TestList(t *testing.T) {
	noGit(t)
	ctx := context.Background()

	packs, err := List(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(packs) != 0 {
		t.Fatalf("List of a missing cache = %v, %v", packs, err)
	}

	cache := t.TempDir()
	beta := newRepo(t, "beta")
	cb := beta.commit("b", map[string]*string{"b.lab.hcl": str("b\n")})
	alpha := newRepo(t, "alpha.git")
	ca := alpha.commit("a", map[string]*string{"a.lab.hcl": str("a\n")})
	alpha.tag("v1", ca, false)
	if _, err := Pull(ctx, cache, beta.dir, nil); err != nil {
		t.Fatal(err)
	}
	pa, err := Pull(ctx, cache, alpha.dir+"@v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Things that are not packs.
	for _, dir := range []string{"not-a-pack", ".tmp-alpha-123", ".old-beta-456/beta/.git"} {
		if err := os.MkdirAll(filepath.Join(cache, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cache, "file.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}

	packs, err = List(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) != 2 {
		t.Fatalf("List = %d packs, want 2: %+v", len(packs), packs)
	}
	if !reflect.DeepEqual(packs[0], pa) {
		t.Errorf("List[0] = %+v, want what Pull returned: %+v", packs[0], pa)
	}
	if packs[1].Name != "beta" || packs[1].Commit != cb.String() || packs[1].Dir != filepath.Join(cache, "beta") || packs[1].URL != beta.dir {
		t.Errorf("List[1] = %+v", packs[1])
	}
	if !packs[0].Pulled.Equal(pa.Pulled) {
		t.Errorf("Pulled time did not survive: %v vs %v", packs[0].Pulled, pa.Pulled)
	}

	// The metadata lives inside the pack's .git directory, not in its
	// work tree.
	if _, err := os.Stat(filepath.Join(cache, "alpha", metaFile)); err != nil {
		t.Error(err)
	}
	if got := tree(t, filepath.Join(cache, "alpha")); !reflect.DeepEqual(got, map[string]string{"a.lab.hcl": "a\n"}) {
		t.Errorf("work tree = %v", got)
	}

	// Corrupt metadata is an error, naming the pack.
	if err := os.WriteFile(filepath.Join(cache, "beta", metaFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := List(cache); err == nil || !strings.Contains(err.Error(), "pack beta") {
		t.Errorf("List with corrupt metadata: %v", err)
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct{ in, url, ref string }{
		{"/srv/packs/demo", "/srv/packs/demo", ""},
		{"/srv/packs/demo@v1", "/srv/packs/demo", "v1"},
		{"/srv/packs/demo.git@main", "/srv/packs/demo.git", "main"},
		{"demo@v1.2.3", "demo", "v1.2.3"},
		{"../demo@0123abc", "../demo", "0123abc"},
		{"/home/me@work/demo", "/home/me@work/demo", ""},
		{"/home/me@work/demo@v2", "/home/me@work/demo", "v2"},
		{"/srv/a@b@c", "/srv/a@b", "c"},
		{"/srv/demo@", "/srv/demo", ""},
		{"https://example.org/org/demo.git", "https://example.org/org/demo.git", ""},
		{"https://example.org/org/demo.git@v1", "https://example.org/org/demo.git", "v1"},
		{"https://user@example.org/org/demo", "https://user@example.org/org/demo", ""},
		{"https://user@example.org/org/demo@main", "https://user@example.org/org/demo", "main"},
		{"ssh://git@example.org/x", "ssh://git@example.org/x", ""},
		{"ssh://git@example.org", "ssh://git@example.org", ""},
		{"ssh://git@example.org:2222/org/x.git@v1", "ssh://git@example.org:2222/org/x.git", "v1"},
		{"file:///srv/demo@v1", "file:///srv/demo", "v1"},
		{"git@example.org:org/repo.git", "git@example.org:org/repo.git", ""},
		{"git@example.org:org/repo.git@v1", "git@example.org:org/repo.git", "v1"},
		{"git@example.org:repo.git", "git@example.org:repo.git", ""},
		{"git@example.org:repo.git@main", "git@example.org:repo.git", "main"},
		{"example.org:org/repo@v1", "example.org:org/repo", "v1"},
		{"", "", ""},
	} {
		url, ref := ParseSource(tc.in)
		if url != tc.url || ref != tc.ref {
			t.Errorf("ParseSource(%q) = %q, %q; want %q, %q", tc.in, url, ref, tc.url, tc.ref)
		}
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/srv/packs/demo", "demo"},
		{"/srv/packs/demo.git", "demo"},
		{"/srv/packs/demo/", "demo"},
		{"/srv/packs/demo/.git", "demo"},
		{"/srv/packs/demo/.git/", "demo"},
		{"https://example.org/org/intro-labs.git", "intro-labs"},
		{"ssh://git@example.org:2222/org/x.git", "x"},
		{"git@example.org:org/repo.git", "repo"},
		{"git@example.org:repo.git", "repo"},
		{"file:///srv/my labs", "my-labs"},
		{"/srv/.hidden", "hidden"},
		{"/srv/..", ""},
		{"/srv/caf\u00e9_1.0", "caf--_1.0"},
		{"https://example.org", ""},
		{"https://example.org/", ""},
		{"/", ""},
	} {
		got, err := Name(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("Name(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Name(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
