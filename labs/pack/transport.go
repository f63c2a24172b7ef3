package pack

import (
	"errors"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
)

// go-git's own transport for local repositories (file:// URLs and plain
// paths) runs the git-upload-pack binary. Packs must be pullable on machines
// without git, so the file transport is replaced, once for the process, by
// go-git's in-process server, reading the repository with go-git itself.
//
// This is done in init, before any goroutine can be cloning, because go-git
// keeps its transports in a plain package-level map. It changes file://
// for every go-git user in the process, which only removes the need for a
// git binary.
func init() {
	client.InstallProtocol("file", server.NewClient(repoLoader{}))
}

// repoLoader opens the repository at an endpoint's path with go-git: a work
// tree with a .git directory (or a .git file), or a bare repository.
//
// go-git's server.DefaultLoader is not used, because it reads the objects of
// a non-bare repository from the work tree rather than from its .git
// directory.
type repoLoader struct{}

func (repoLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	r, err := git.PlainOpen(ep.Path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, transport.ErrRepositoryNotFound
	}
	if err != nil {
		return nil, err
	}
	return r.Storer, nil
}
