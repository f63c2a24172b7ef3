package pack

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ParseSource splits a pack source "url@ref" into its URL and ref. The ref is
// empty when the source names none.
//
// The rule: the ref separator is the last "@" in the path part of the source,
// and only if no "/" follows it. The path part is what comes after the host:
//
//   - "scheme://[user@]host[:port]/path": from the first "/" after "://", so
//     "ssh://git@host/x" has no ref (and neither has "ssh://git@host");
//   - scp-like "[user@]host:path" (a ":" before any "/"): after that ":", so
//     "git@host:org/repo.git" has no ref while "git@host:org/repo.git@v1"
//     has ref "v1";
//   - anything else is a local path, all of it the path part, so
//     "/home/me@work/repo" has no ref and "/srv/packs/demo@main" has ref
//     "main".
//
// A ref therefore cannot contain "/" (a branch "feature/x" cannot be named);
// tags, plain branch names and commit hashes can. A trailing "@" is dropped
// and gives an empty ref.
func ParseSource(s string) (url, ref string) {
	start, ok := pathStart(s)
	if !ok {
		return s, ""
	}
	at := strings.LastIndexByte(s[start:], '@')
	if at < 0 {
		return s, ""
	}
	at += start
	if strings.ContainsRune(s[at+1:], '/') {
		return s, ""
	}
	return s[:at], s[at+1:]
}

// pathStart returns the index where the path part of a source begins, and
// false if the source has no path part (a URL with only a host).
func pathStart(s string) (int, bool) {
	if i := strings.Index(s, "://"); i >= 0 {
		j := strings.IndexByte(s[i+3:], '/')
		if j < 0 {
			return 0, false
		}
		return i + 3 + j, true
	}
	if i, ok := scpColon(s); ok {
		return i + 1, true
	}
	return 0, true
}

// scpColon reports whether s is an scp-like address "[user@]host:path" (not
// a URL, with a ":" before any "/") and returns the index of that ":".
func scpColon(s string) (int, bool) {
	if strings.Contains(s, "://") {
		return 0, false
	}
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return 0, false
	}
	if slash := strings.IndexByte(s, '/'); slash >= 0 && slash < colon {
		return 0, false
	}
	return colon, true
}

// isLocal reports whether url is a local path rather than a URL or an
// scp-like address.
func isLocal(url string) bool {
	if strings.Contains(url, "://") {
		return false
	}
	_, scp := scpColon(url)
	return !scp
}

// normaliseURL makes a local path absolute, so that the metadata records a
// path that still works from another directory. URLs are left alone.
func normaliseURL(url string) (string, error) {
	if !isLocal(url) {
		return url, nil
	}
	abs, err := filepath.Abs(url)
	if err != nil {
		return "", fmt.Errorf("pack: %w", err)
	}
	return abs, nil
}

// Name derives a pack's name from its URL (without "@ref"): the last element
// of the URL's path without a ".git" suffix ("https://host/org/demo.git" and
// "/srv/demo/.git" are both "demo"). Characters other than ASCII letters,
// digits, ".", "_" and "-" become "-", and leading dots and dashes are
// dropped, so a name is always a plain, visible directory name. It is an
// error if nothing is left.
func Name(url string) (string, error) {
	start, ok := pathStart(url)
	if !ok {
		return "", fmt.Errorf("pack: cannot derive a pack name from %q: it has no path", url)
	}
	path := url[start:]
	if isLocal(url) {
		path = filepath.ToSlash(path)
	}
	var elems []string
	for _, e := range strings.Split(path, "/") {
		if e != "" {
			elems = append(elems, e)
		}
	}
	for i := len(elems) - 1; i >= 0; i-- {
		if n := sanitise(strings.TrimSuffix(elems[i], ".git")); n != "" {
			return n, nil
		}
		if elems[i] != ".git" {
			break
		}
	}
	return "", fmt.Errorf("pack: cannot derive a pack name from %q", url)
}

func sanitise(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	return strings.TrimLeft(string(b), ".-")
}
