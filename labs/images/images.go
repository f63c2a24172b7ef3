// Package images looks after the Docker images the labs use (the
// tutorials' redis:3.2 and redis:4.0) on a machine that may have no
// registry to pull them from.
//
// The rule it enforces: an image is never substituted silently, and a
// stand-in is never tagged under another image's name. The real image is
// either present (pulled earlier, or loaded from a `docker save` tarball
// with Load) or it is not; when it is not, a stand-in can be built under a
// name of its own, drover-lab/redis:<tag> (BuildStandIn), which the docker
// driver runs in the real image's place only when its agent configuration
// says so (plugin "docker" { config { stand_ins = { ... } } }), and with a
// task event saying so. RemoveOldRetags undoes what earlier versions of
// the kit did: tag a stand-in as redis:3.2 machine-wide.
package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// StandInCommand is the drover binary's hidden subcommand, under "lab",
// that runs the Redis stand-in (labs/standin/redisd.Main): stand-in images
// run /drover lab standin-redis.
const StandInCommand = "standin-redis"

// StandInRepoPrefix is the repository namespace of stand-in images.
const StandInRepoPrefix = "drover-lab/"

// Labels of a stand-in image.
const (
	// LabelStandIn ("true") marks an image as a stand-in.
	LabelStandIn = "io.drover.standin"
	// LabelStandInFor is the image it stands in for, e.g. "redis:3.2".
	LabelStandInFor = "io.drover.standin.for"
	// LabelStandInDescription says, for docker inspect, what it is.
	LabelStandInDescription = "io.drover.standin.description"
	// LabelContent is a hash of what the image is built from; a build
	// finding an image with the same hash reuses it.
	LabelContent = "io.drover.standin.content"
)

// StandInDescription is the value of LabelStandInDescription.
const StandInDescription = "a small Redis-compatible stand-in built by drover lab images -standin; not the real image"

// StandInPort is the port a Redis stand-in listens on, exposed by its image.
const StandInPort = 6379

// oldStandIns are the names earlier versions of the kit (scripts/lab.sh)
// and the tests (testutil/dockerimg) built the tinyredis stand-in under,
// before retagging it as redis:3.2 and redis:4.0.
var oldStandIns = []string{"drover-lab/tinyredis:latest", "drover-test/tinyredis:latest"}

// LabImages are the images the labs' jobs use.
func LabImages() []string { return []string{"redis:3.2", "redis:4.0"} }

// StandInEntrypoint is the entrypoint of stand-in images: the drover
// binary's hidden stand-in command.
func StandInEntrypoint() []string { return []string{"/drover", "lab", StandInCommand} }

// Familiar returns an image reference in the short form the engine lists
// it under: without docker.io/library/ and with the tag "latest" when it
// has neither tag nor digest. "docker.io/library/redis" becomes
// "redis:latest".
func Familiar(ref string) string {
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(ref, p); ok {
			ref = rest
			break
		}
	}
	if ref == "" || strings.Contains(ref, "@") {
		return ref
	}
	if _, tag := splitRef(ref); tag == "" {
		ref += ":latest"
	}
	return ref
}

// splitRef splits a reference without digest into repository and tag; a
// colon before the last slash belongs to a registry's port.
func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// StandInRef is the name of image's stand-in: "redis:3.2" gives
// "drover-lab/redis:3.2". Images without a stand-in (anything but the
// official redis image, or a reference pinned by digest) give "".
func StandInRef(img string) string {
	ref := Familiar(img)
	if ref == "" || strings.Contains(ref, "@") {
		return ""
	}
	repo, tag := splitRef(ref)
	if repo != "redis" || tag == "" {
		return ""
	}
	return StandInRepoPrefix + repo + ":" + tag
}

// State is what Status reports about one image.
type State struct {
	// Ref is the image as asked for.
	Ref string
	// Present says an image by that name is on the engine.
	Present bool
	// RetaggedStandIn says the image present under Ref is a stand-in
	// tagged under the real image's name by an earlier kit: Present is
	// true but it is not the real image. RemoveOldRetags removes the tag.
	RetaggedStandIn bool
	// StandIn is the name of Ref's stand-in ("" when it has none).
	StandIn string
	// StandInPresent says the stand-in image is on the engine.
	StandInPresent bool
}

// Status reports, for each of refs, whether the image and its stand-in
// are present on the engine.
func Status(ctx context.Context, cli client.APIClient, refs []string) ([]State, error) {
	old, err := oldStandInIDs(ctx, cli)
	if err != nil {
		return nil, err
	}
	out := make([]State, 0, len(refs))
	for _, ref := range refs {
		st := State{Ref: ref, StandIn: StandInRef(ref)}
		info, ok, err := inspect(ctx, cli, ref)
		if err != nil {
			return nil, err
		}
		st.Present = ok
		st.RetaggedStandIn = ok && isStandIn(info, old)
		if st.StandIn != "" {
			if _, st.StandInPresent, err = inspect(ctx, cli, st.StandIn); err != nil {
				return nil, err
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// inspect looks an image up; a missing image is ok == false, not an error.
func inspect(ctx context.Context, cli client.APIClient, ref string) (image.InspectResponse, bool, error) {
	info, err := cli.ImageInspect(ctx, ref)
	if err == nil {
		return info, true, nil
	}
	if cerrdefs.IsNotFound(err) {
		return info, false, nil
	}
	return info, false, fmt.Errorf("inspect image %s: %w", ref, err)
}

// Load loads the images of a tarball written by `docker save` (plain or
// compressed with gzip, bzip2 or xz) and prints what was loaded, with a
// warning for any image of the tarball that is a stand-in rather than
// what its name says.
func Load(ctx context.Context, cli client.APIClient, tarballPath string, out io.Writer) error {
	f, err := os.Open(tarballPath)
	if err != nil {
		return fmt.Errorf("load images: %w", err)
	}
	defer f.Close()
	resp, err := cli.ImageLoad(ctx, f, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load images from %s: %w", tarballPath, err)
	}
	defer resp.Body.Close()

	var loaded []string
	err = readStream(resp.Body, func(line string) {
		line = strings.TrimSpace(line)
		if line == "" {
			return
		}
		fmt.Fprintln(out, line)
		for _, p := range []string{"Loaded image: ", "Loaded image ID: "} {
			if ref, ok := strings.CutPrefix(line, p); ok {
				loaded = append(loaded, strings.TrimSpace(ref))
			}
		}
	})
	if err != nil {
		return fmt.Errorf("load images from %s: %w", tarballPath, err)
	}
	if len(loaded) == 0 {
		return fmt.Errorf("load images from %s: the engine loaded no image (is it a `docker save` tarball?)", tarballPath)
	}
	old, err := oldStandInIDs(ctx, cli)
	if err != nil {
		return err
	}
	for _, ref := range loaded {
		info, ok, err := inspect(ctx, cli, ref)
		if err != nil {
			return err
		}
		if ok && isStandIn(info, old) && !strings.HasPrefix(Familiar(ref), StandInRepoPrefix) {
			fmt.Fprintf(out, "Warning: %s from %s is a stand-in, not the real image\n", ref, tarballPath)
		}
	}
	return nil
}

// readStream reads a JSON message stream of the engine (load, import),
// passing each message's text to line, and returns the error reported in
// it: once such a request is accepted, failures arrive in the stream.
func readStream(r io.Reader, line func(string)) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Stream      string `json:"stream"`
			Status      string `json:"status"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read the engine's reply: %w", err)
		}
		if msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
		if line != nil {
			if msg.Stream != "" {
				line(msg.Stream)
			}
			if msg.Status != "" {
				line(msg.Status)
			}
		}
	}
}

// oldStandInIDs are the image IDs of oldStandIns present on the engine.
func oldStandInIDs(ctx context.Context, cli client.APIClient) (map[string]bool, error) {
	ids := map[string]bool{}
	for _, ref := range oldStandIns {
		info, ok, err := inspect(ctx, cli, ref)
		if err != nil {
			return nil, err
		}
		if ok {
			ids[info.ID] = true
		}
	}
	return ids, nil
}

// isStandIn says whether an image is a stand-in: one of ours (labelled),
// or an old tinyredis one (the same image as an old stand-in name, or its
// entrypoint).
func isStandIn(info image.InspectResponse, oldIDs map[string]bool) bool {
	if oldIDs[info.ID] {
		return true
	}
	if info.Config == nil {
		return false
	}
	if _, ok := info.Config.Labels[LabelStandIn]; ok {
		return true
	}
	return slices.Equal(info.Config.Entrypoint, []string{"/tinyredis"})
}
