package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"drover/agent/wire"
)

// ErrPathEscapes refuses a path that leads out of the allocation
// directory, by ".." or through a link.
var ErrPathEscapes = wire.Errorf(wire.ErrInvalidRequest, "Path escapes the alloc directory")

// File events of the fs stream, as the compatible API names them.
const (
	FileEventDeleted   = "file deleted"
	FileEventTruncated = "file truncated"
)

// AllocFileInfo describes a file of an allocation directory, in the shape
// of the fs API. ContentType is only set by Stat.
type AllocFileInfo struct {
	Name        string
	IsDir       bool
	Size        int64
	FileMode    string
	ModTime     time.Time
	ContentType string
}

// AllocFS reads one allocation's directory ("alloc fs"). Every path is
// resolved inside the directory through an os.Root: "..", absolute links
// and links that lead out are refused and never followed, whatever the
// task put there. A leading "/" means the allocation directory itself.
type AllocFS struct {
	c       *Client
	allocID string
	dir     string
}

// AllocFS returns the filesystem of a local allocation.
func (c *Client) AllocFS(allocID string) (*AllocFS, error) {
	if !c.AllocRunning(allocID) {
		return nil, ErrUnknownAlloc
	}
	return &AllocFS{c: c, allocID: allocID, dir: c.AllocDir(allocID)}, nil
}

// cleanPath turns an API path into one relative to the allocation
// directory ("." for the directory itself). A ".." that climbs above it
// is refused: the path is never clamped into something else.
func cleanPath(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", wire.Errorf(wire.ErrInvalidRequest, "path contains a NUL byte")
	}
	var parts []string
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", ErrPathEscapes
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}

// open resolves p and opens the allocation directory's root.
func (a *AllocFS) open(p string) (*os.Root, string, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return nil, "", err
	}
	root, err := os.OpenRoot(a.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", ErrUnknownAlloc
		}
		return nil, "", err
	}
	return root, rel, nil
}

// fsError words an error of the root for the API user: with the path as
// they gave it, never the host's path, and with a kind for the status.
func fsError(op, p string, err error) error {
	var pe *os.PathError
	switch {
	case errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent":
		return ErrPathEscapes
	case errors.Is(err, fs.ErrNotExist):
		return wire.Errorf(wire.ErrNotFound, "%s %s: no such file or directory", op, p)
	case errors.Is(err, fs.ErrPermission):
		return wire.Errorf(wire.ErrInvalidRequest, "%s %s: permission denied", op, p)
	case errors.As(err, &pe):
		return fmt.Errorf("%s %s: %v", op, p, pe.Err)
	}
	return fmt.Errorf("%s %s: %v", op, p, err)
}

func fileInfo(fi fs.FileInfo) *AllocFileInfo {
	return &AllocFileInfo{Name: fi.Name(), IsDir: fi.IsDir(), Size: fi.Size(), FileMode: fi.Mode().String(), ModTime: fi.ModTime()}
}

// List lists a directory, sorted by name. Entries are described as they
// are: a link is shown as a link, not as what it points at.
func (a *AllocFS) List(p string) ([]*AllocFileInfo, error) {
	root, rel, err := a.open(p)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, fsError("open", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fsError("stat", p, err)
	}
	if !fi.IsDir() {
		return []*AllocFileInfo{fileInfo(fi)}, nil
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fsError("list", p, err)
	}
	out := make([]*AllocFileInfo, 0, len(entries))
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, fileInfo(info))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stat describes one path, following links that stay inside, with the
// content type of a file guessed from its first 512 bytes (a ".json" name
// is application/json), as the compatible API does.
func (a *AllocFS) Stat(p string) (*AllocFileInfo, error) {
	root, rel, err := a.open(p)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fi, err := root.Stat(rel)
	if err != nil {
		return nil, fsError("stat", p, err)
	}
	info := fileInfo(fi)
	info.ContentType = "application/octet-stream"
	if !fi.IsDir() {
		if f, err := root.Open(rel); err == nil {
			buf := make([]byte, 512)
			if n, err := f.Read(buf); err == nil && n > 0 {
				info.ContentType = http.DetectContentType(buf[:n])
			}
			f.Close()
		}
	}
	if strings.HasSuffix(rel, ".json") {
		info.ContentType = "application/json"
	}
	return info, nil
}

// Open opens a file for reading; a directory is refused.
func (a *AllocFS) Open(p string) (*os.File, error) {
	root, rel, err := a.open(p)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return openFile(root, rel, p)
}

// openFile opens rel under root for reading (p is the path as the user
// gave it); a directory is refused.
func openFile(root *os.Root, rel, p string) (*os.File, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, fsError("open", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fsError("stat", p, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, wire.Errorf(wire.ErrInvalidRequest, "file %q is a directory", p)
	}
	return f, nil
}

// Stream sends a file's content to emit, from offset bytes after its start
// (origin "start") or before its end ("end"), and with follow keeps sending
// what is appended until ctx ends or the allocation is gone. A file that is
// removed ends the stream with a "file deleted" event; one that shrinks is
// read again from its start after a "file truncated" event. Chunk offsets
// are positions in the file.
func (a *AllocFS) Stream(ctx context.Context, p, origin string, offset int64, follow bool, emit func(LogChunk) error) error {
	if origin != "start" && origin != "end" {
		return wire.Errorf(wire.ErrInvalidRequest, "origin must be start or end")
	}
	if offset < 0 {
		return wire.Errorf(wire.ErrInvalidRequest, "offset must not be negative")
	}
	// One root for the stream's life: following re-checks the path
	// through it at every poll, without opening the directory again.
	root, rel, err := a.open(p)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := openFile(root, rel, p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fsError("stat", p, err)
	}
	pos := offset
	if origin == "end" {
		pos = fi.Size() - offset
	}
	pos = max(0, min(pos, fi.Size()))
	buf := make([]byte, 64<<10)
	for {
		n, err := f.ReadAt(buf, pos)
		if n > 0 {
			if err := emit(LogChunk{File: rel, Offset: pos, Data: append([]byte(nil), buf[:n]...)}); err != nil {
				return err
			}
			pos += int64(n)
			continue
		}
		if err != nil && err != io.EOF {
			return fsError("read", p, err)
		}
		if !follow || !a.c.followPause(ctx, a.allocID) {
			return nil
		}
		// The open file may have been removed, or replaced: what the path
		// names now decides, looked up through the root again (a link out
		// is an error there, so a file replaced by one counts as deleted).
		if _, err := root.Stat(rel); err != nil {
			return emit(LogChunk{File: rel, Offset: pos, Event: FileEventDeleted})
		}
		if st, err := f.Stat(); err == nil && st.Size() < pos {
			pos = 0
			if err := emit(LogChunk{File: rel, Offset: pos, Event: FileEventTruncated}); err != nil {
				return err
			}
		}
	}
}
