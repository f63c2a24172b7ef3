package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"drover/kit/staticbin"
)

// standInFormat is part of the content hash: bump it when the way the
// image is made changes, so that images made the old way are not reused.
const standInFormat = "drover-standin/1"

// BuildOption changes how BuildStandIn builds.
type BuildOption func(*buildConfig)

type buildConfig struct {
	entrypoint []string
	tag        string
	labels     map[string]string
}

// WithEntrypoint replaces the image's entrypoint, StandInEntrypoint()
// by default. The binary is /drover in the image whatever it is; tests
// use it to run a test binary that is not drover.
func WithEntrypoint(entrypoint ...string) BuildOption {
	return func(c *buildConfig) { c.entrypoint = slices.Clone(entrypoint) }
}

// WithTag tags the image with ref instead of StandInRef of the image it
// stands in for; tests use it to keep clear of the real stand-in names.
func WithTag(ref string) BuildOption {
	return func(c *buildConfig) { c.tag = ref }
}

// WithLabels adds labels to the image (the stand-in's own labels win);
// tests use it to find and remove what they made.
func WithLabels(labels map[string]string) BuildOption {
	return func(c *buildConfig) {
		if c.labels == nil {
			c.labels = map[string]string{}
		}
		for k, v := range labels {
			c.labels[k] = v
		}
	}
}

// BuildStandIn makes sure the stand-in of ref (StandInRef(ref), e.g.
// drover-lab/redis:3.2 for redis:3.2) exists and returns its name. The
// image is FROM scratch and holds only exe, a statically linked drover
// binary for the engine's architecture (the running executable when exe
// is ""), as /drover, run as "/drover lab standin-redis" and exposing
// 6379/tcp; it carries LabelStandIn, LabelStandInFor and
// LabelStandInDescription. An image already built from the same binary
// (same LabelContent) is reused, so repeating a build is cheap.
//
// It never tags anything under ref itself.
func BuildStandIn(ctx context.Context, cli client.APIClient, ref string, exe string, opts ...BuildOption) (string, error) {
	target := StandInRef(ref)
	if target == "" {
		return "", fmt.Errorf("there is no stand-in for %s: only the redis image has one", ref)
	}
	cfg := buildConfig{entrypoint: StandInEntrypoint(), tag: target}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.entrypoint) == 0 {
		return "", fmt.Errorf("stand-in for %s: empty entrypoint", ref)
	}
	if cfg.tag == "" || Familiar(cfg.tag) == Familiar(ref) || StandInRef(cfg.tag) != "" {
		return "", fmt.Errorf("stand-in for %s: %q: a stand-in is never tagged under a real image's name", ref, cfg.tag)
	}
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", fmt.Errorf("stand-in for %s: find the drover binary: %w", ref, err)
		}
	}
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("docker version: %w", err)
	}
	if err := staticbin.Check(exe, v.Arch); err != nil {
		return "", fmt.Errorf("stand-in for %s: %w", ref, err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		return "", fmt.Errorf("stand-in for %s: %w", ref, err)
	}

	labels := map[string]string{}
	for k, v := range cfg.labels {
		labels[k] = v
	}
	labels[LabelStandIn] = "true"
	labels[LabelStandInFor] = Familiar(ref)
	labels[LabelStandInDescription] = StandInDescription
	entrypoint, err := json.Marshal(cfg.entrypoint)
	if err != nil {
		return "", err
	}
	changes := []string{"ENTRYPOINT " + string(entrypoint), fmt.Sprintf("EXPOSE %d/tcp", StandInPort)}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", standInFormat)
	for _, c := range changes {
		fmt.Fprintf(h, "%s\x00", c)
	}
	for _, k := range keys {
		if strings.ContainsAny(k, " \t\r\n=\"'\\") || strings.ContainsAny(labels[k], "\r\n") {
			return "", fmt.Errorf("stand-in for %s: label %q=%q cannot be set", ref, k, labels[k])
		}
		fmt.Fprintf(h, "%s=%s\x00", k, labels[k])
		changes = append(changes, "LABEL "+k+"="+quoteLabel(labels[k]))
	}
	h.Write(data)
	sum := hex.EncodeToString(h.Sum(nil))
	changes = append(changes, "LABEL "+LabelContent+"="+sum)

	prev, hadPrev, err := inspect(ctx, cli, cfg.tag)
	if err != nil {
		return "", err
	}
	existing, err := cli.ImageList(ctx, image.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", LabelContent+"="+sum)),
	})
	if err != nil {
		return "", fmt.Errorf("list images: %w", err)
	}
	if len(existing) > 0 {
		img := existing[0]
		if !slices.Contains(img.RepoTags, cfg.tag) {
			if err := cli.ImageTag(ctx, img.ID, cfg.tag); err != nil {
				return "", fmt.Errorf("tag %s: %w", cfg.tag, err)
			}
		}
	} else {
		tarball, err := rootfs(data)
		if err != nil {
			return "", err
		}
		rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(tarball), SourceName: "-"}, cfg.tag, image.ImportOptions{
			Changes: changes,
			Message: "drover lab stand-in for " + Familiar(ref) + ": the drover binary, FROM scratch; not the real image",
		})
		if err != nil {
			return "", fmt.Errorf("import image %s: %w", cfg.tag, err)
		}
		err = readStream(rc, nil)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("import image %s: %w", cfg.tag, err)
		}
	}

	info, ok, err := inspect(ctx, cli, cfg.tag)
	if err != nil {
		return "", err
	}
	if !ok || info.Config == nil || info.Config.Labels[LabelContent] != sum {
		return "", fmt.Errorf("import image %s: the engine does not list the image just made", cfg.tag)
	}
	if hadPrev && prev.ID != info.ID {
		removeUntaggedStandIn(ctx, cli, prev.ID)
	}
	return cfg.tag, nil
}

// removeUntaggedStandIn removes an earlier stand-in that a rebuild left
// without a name; anything else (or one still used) is left alone.
func removeUntaggedStandIn(ctx context.Context, cli client.APIClient, id string) {
	info, ok, err := inspect(ctx, cli, id)
	if err != nil || !ok || info.Config == nil || info.Config.Labels[LabelStandIn] == "" || len(info.RepoTags) > 0 {
		return
	}
	_, _ = cli.ImageRemove(ctx, id, image.RemoveOptions{})
}

// quoteLabel quotes a LABEL value in Dockerfile syntax.
func quoteLabel(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`
}

// rootfs is the image's file system: the binary as /drover and an empty
// /tmp.
func rootfs(binary []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "drover", Mode: 0o755, Size: int64(len(binary))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
