// Package pack fetches lab packs from git repositories into a local cache.
//
// A pack is a git repository holding lab files. Pull clones it into a
// temporary directory inside the cache, checks out the requested ref, runs an
// injected validator on the work tree and only then swaps the result in place
// of the previous copy, so a failed pull never changes the cache. The package
// uses go-git for everything and never runs a git binary, not even for local
// repositories (see transport.go).
//
// The package knows nothing about the lab format: the caller passes a
// Validate func that does the checking.
package pack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Validate checks a checked-out pack directory; it returns an error naming
// file:line:col for a bad lab.
//
// dir is a temporary directory that is removed when Pull returns, so a
// Validate should name files relative to dir. dir also holds the
// repository's ".git" directory, which a Validate should skip.
type Validate func(dir string) error

// Pack is a lab pack in the cache.
type Pack struct {
	// Name is the pack's directory name in the cache, derived from the
	// source's last path element.
	Name string `json:"name"`
	// URL is where the pack was cloned from: the URL as given, or the
	// absolute path of a local repository.
	URL string `json:"url"`
	// Ref is the ref that was asked for (a tag, branch or commit hash) or,
	// when none was, the branch the remote's HEAD pointed to.
	Ref string `json:"ref"`
	// Commit is the full hash of the commit that is checked out.
	Commit string `json:"commit"`
	// Dir is the pack's work tree: cacheDir/Name. It is not stored.
	Dir string `json:"-"`
	// Pulled is when the pack was pulled (UTC).
	Pulled time.Time `json:"pulled"`
}

// metaFile is where a pack's metadata lives, relative to its directory. It is
// inside the .git directory, so it is not part of the work tree that labs are
// read from, and it is swapped in and out together with the work tree.
const metaFile = ".git/drover-pack.json"

// Prefixes of the directories Pull creates in the cache while it works.
// Pack names never start with a dot, so these cannot clash with a pack.
const (
	tmpPrefix   = ".tmp-"
	asidePrefix = ".old-"
)

// swapMu serialises the swap step of concurrent Pulls in this process.
var swapMu sync.Mutex

// Pull clones source into cacheDir/<name> and returns the pack.
//
// source is a URL or a local path to a repository, optionally followed by
// "@ref" where ref is a tag, a branch or a commit hash (see ParseSource);
// without a ref the remote's HEAD is checked out. name is the source's last
// path element without ".git" (see Name).
//
// Pull clones into a temporary directory inside cacheDir, checks out the ref
// and runs validate (if not nil) on the work tree. Only if all of that
// succeeds does it replace cacheDir/<name>: the old directory is renamed
// aside, the new one renamed in and the old one removed. On any error the
// cache is left as it was, with no temporary directory left behind.
func Pull(ctx context.Context, cacheDir, source string, validate Validate) (p *Pack, err error) {
	url, ref := ParseSource(source)
	if url == "" {
		return nil, fmt.Errorf("pack: empty source %q", source)
	}
	url, err = normaliseURL(url)
	if err != nil {
		return nil, err
	}
	name, err := Name(url)
	if err != nil {
		return nil, err
	}
	if cacheDir == "" {
		return nil, errors.New("pack: empty cache directory")
	}

	// Create the cache if need be, and remove it again if this pull fails,
	// so that a failure leaves no trace.
	if _, statErr := os.Stat(cacheDir); errors.Is(statErr, os.ErrNotExist) {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		defer func() {
			if err != nil {
				_ = os.Remove(cacheDir)
			}
		}()
	}

	tmp, err := os.MkdirTemp(cacheDir, tmpPrefix+name+"-")
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()

	repo, err := git.PlainCloneContext(ctx, tmp, false, &git.CloneOptions{
		URL:        url,
		NoCheckout: true,
		Tags:       git.AllTags,
	})
	if err != nil {
		return nil, fmt.Errorf("pack %s: clone %s: %w", name, url, err)
	}

	hash, resolvedRef, err := resolve(repo, ref)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %s: %w", name, url, err)
	}

	wt, err := repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: hash, Force: true}); err != nil {
		return nil, fmt.Errorf("pack %s: check out %s (%s): %w", name, resolvedRef, hash, err)
	}

	if validate != nil {
		if err := validate(tmp); err != nil {
			return nil, fmt.Errorf("pack %s: %s@%s (commit %s) is not valid: %w",
				name, url, resolvedRef, short(hash), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}

	p = &Pack{
		Name:   name,
		URL:    url,
		Ref:    resolvedRef,
		Commit: hash.String(),
		Pulled: time.Now().UTC(),
	}
	if err := writeMeta(tmp, p); err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	// MkdirTemp makes the directory private; a pack is ordinary content.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}

	dest := filepath.Join(cacheDir, name)
	if err := swap(cacheDir, name, tmp, dest); err != nil {
		return nil, fmt.Errorf("pack %s: %w", name, err)
	}
	p.Dir = dest
	return p, nil
}

// swap puts the directory tmp in place of dest. An existing dest is first
// renamed into a fresh aside directory, so that it can be put back should the
// second rename fail, and removed once the new directory is in place.
func swap(cacheDir, name, tmp, dest string) error {
	swapMu.Lock()
	defer swapMu.Unlock()

	if _, err := os.Lstat(dest); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, dest)
	} else if err != nil {
		return err
	}

	aside, err := os.MkdirTemp(cacheDir, asidePrefix+name+"-")
	if err != nil {
		return err
	}
	old := filepath.Join(aside, name)
	if err := os.Rename(dest, old); err != nil {
		_ = os.Remove(aside)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		if rerr := os.Rename(old, dest); rerr != nil {
			return fmt.Errorf("%w (and putting the old pack back failed: %v; it is in %s)", err, rerr, old)
		}
		_ = os.Remove(aside)
		return err
	}
	// The new pack is in place; failing to remove the old one is not an
	// error of the pull, and List skips the aside directory.
	_ = os.RemoveAll(aside)
	return nil
}

// resolve finds the commit that ref names in a fresh clone. An empty ref is
// the remote's HEAD; otherwise ref is tried as a tag, then as a branch of the
// remote, then as a (possibly abbreviated) commit hash. It returns the commit
// and the ref to record.
func resolve(repo *git.Repository, ref string) (plumbing.Hash, string, error) {
	if ref == "" {
		head, err := repo.Head()
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("the remote's HEAD: %w", err)
		}
		h, err := repo.ResolveRevision(plumbing.Revision(head.Name()))
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("the remote's HEAD (%s): %w", head.Name(), err)
		}
		return *h, head.Name().Short(), nil
	}

	candidates := []plumbing.ReferenceName{
		plumbing.NewTagReferenceName(ref),
		plumbing.NewRemoteReferenceName(git.DefaultRemoteName, ref),
		plumbing.NewBranchReferenceName(ref),
	}
	for _, name := range candidates {
		if _, err := repo.Reference(name, false); err != nil {
			continue
		}
		h, err := repo.ResolveRevision(plumbing.Revision(name))
		if err != nil {
			return plumbing.ZeroHash, "", fmt.Errorf("ref %q (%s) does not lead to a commit: %w", ref, name, err)
		}
		return *h, ref, nil
	}
	if isHexPrefix(ref) {
		if h, err := repo.ResolveRevision(plumbing.Revision(ref)); err == nil {
			return *h, ref, nil
		}
	}
	return plumbing.ZeroHash, "", fmt.Errorf("ref %q not found: it is not a tag, a branch or a commit hash of the repository", ref)
}

func isHexPrefix(s string) bool {
	if len(s) < 4 || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func short(h plumbing.Hash) string { return h.String()[:12] }

func writeMeta(dir string, p *Pack) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, metaFile), append(b, '\n'), 0o644)
}

func readMeta(dir string) (*Pack, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	var p Pack
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, metaFile), err)
	}
	return &p, nil
}

// List returns the packs in cacheDir, sorted by name. A cache that does not
// exist holds no packs. Directories without pack metadata and the temporary
// directories of a pull in progress are skipped.
func List(cacheDir string) ([]*Pack, error) {
	entries, err := os.ReadDir(cacheDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	var packs []*Pack
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(cacheDir, e.Name())
		p, err := readMeta(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", e.Name(), err)
		}
		p.Name = e.Name()
		p.Dir = dir
		packs = append(packs, p)
	}
	sort.Slice(packs, func(i, j int) bool { return packs[i].Name < packs[j].Name })
	return packs, nil
}
