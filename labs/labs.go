package labs

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed content/*.lab.hcl
var content embed.FS

// Ext is the extension of a lab file.
const Ext = ".lab.hcl"

// Builtin returns the labs built into drover, sorted by name.
func Builtin() ([]*Lab, error) {
	return parseFS(content, "content", "")
}

// ParseDir parses every lab file under dir (a pack's work tree). Every
// broken lab is reported, each problem at file:line:col.
func ParseDir(dir, pack string) ([]*Lab, error) {
	labs, err := parseFS(os.DirFS(dir), ".", pack)
	if err != nil {
		return nil, err
	}
	if len(labs) == 0 {
		return nil, fmt.Errorf("%s: no %s files", dir, Ext)
	}
	return labs, nil
}

// ValidateDir checks a pack directory; lab pull refuses a pack it fails.
func ValidateDir(dir string) error {
	_, err := ParseDir(dir, filepath.Base(dir))
	return err
}

func parseFS(fsys fs.FS, root, pack string) ([]*Lab, error) {
	var labs []*Lab
	var errs []error
	seen := map[string]string{}
	err := fs.WalkDir(fsys, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != root {
			return fs.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, Ext) {
			return nil
		}
		src, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(d.Name(), Ext)
		if prev, dup := seen[name]; dup {
			errs = append(errs, fmt.Errorf("%s: a lab named %q is already in %s", path, name, prev))
			return nil
		}
		seen[name] = path
		file := path
		if pack == "" {
			file = "labs/" + path
		}
		lab, err := Parse(name, file, src)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		lab.Pack = pack
		labs = append(labs, lab)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(labs, func(i, j int) bool { return labs[i].Name < labs[j].Name })
	return labs, nil
}

// Find returns the lab called name: a built-in lab, or "<pack>/<lab>"
// from the packs in packs (a pack's labs may also be named alone when no
// built-in lab has that name).
func Find(name string, packs []*Lab) (*Lab, error) {
	builtin, err := Builtin()
	if err != nil {
		return nil, err
	}
	for _, l := range builtin {
		if l.Name == name {
			return l, nil
		}
	}
	for _, l := range packs {
		if l.Pack+"/"+l.Name == name || l.Name == name {
			return l, nil
		}
	}
	var names []string
	for _, l := range builtin {
		names = append(names, l.Name)
	}
	for _, l := range packs {
		names = append(names, l.Pack+"/"+l.Name)
	}
	return nil, fmt.Errorf("no lab named %q (labs: %s)", name, strings.Join(names, ", "))
}

// ID is how commands name the lab: its name, or pack/name.
func (l *Lab) ID() string {
	if l.Pack == "" {
		return l.Name
	}
	return l.Pack + "/" + l.Name
}
