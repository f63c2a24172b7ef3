// Package dockerimg builds, for tests, a Docker image that runs
// testutil/tinyredis. No registry is reachable where our tests run, so every
// image a test needs has to be built locally; tinyredis is a static binary,
// so the image is FROM scratch and building it needs nothing from outside.
//
// Tests call Require first, so that CI (which sets DROVER_REQUIRE_DOCKER=1)
// fails loudly instead of silently skipping when Docker is missing, then
// Build to get the image reference.
package dockerimg

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// Image is the reference every Build tags, whatever extra tags it is given.
const Image = "drover-test/tinyredis:latest"

// ContentLabel is the image label holding a hash of the binary and the
// Dockerfile; an image carrying the same hash is reused instead of rebuilt,
// which makes Build cheap across test binaries and runs.
const ContentLabel = "com.drover.test.content"

// RequireEnv is the environment variable that turns "Docker unreachable"
// from a skip into a failure.
const RequireEnv = "DROVER_REQUIRE_DOCKER"

const dockerfile = `FROM scratch
COPY tinyredis /tinyredis
ENTRYPOINT ["/tinyredis"]
`

var (
	// pingOnce asks the engine once per test binary: the answer does not
	// change during a run, and a dead engine makes each ping slow.
	pingOnce sync.Once
	pingErr  error

	// contextOnce compiles tinyredis once per test binary, for any tag set.
	contextOnce sync.Once
	buildCtx    []byte
	contentHash string
	contextErr  error

	// builds holds one *tagBuild per distinct tag set.
	builds sync.Map
)

type tagBuild struct {
	once sync.Once
	err  error
}

// Client returns a Docker client configured from the environment
// (DOCKER_HOST, ...), negotiating the API version so that older engines work.
func Client() (*client.Client, error) {
	return client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
}

func ping() error {
	pingOnce.Do(func() {
		cli, err := Client()
		if err != nil {
			pingErr = err
			return
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, pingErr = cli.Ping(ctx)
	})
	return pingErr
}

// Available reports whether a Docker engine answers.
func Available() bool { return ping() == nil }

// Require fails the test when DROVER_REQUIRE_DOCKER=1 and no Docker engine
// answers; otherwise it does nothing (Build then skips). CI sets the
// variable because a skipped test there would hide a broken setup.
func Require(t testing.TB) {
	t.Helper()
	require(t, ping())
}

func require(t testing.TB, pingErr error) {
	t.Helper()
	if pingErr != nil && os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s=1 but Docker is unreachable: %v", RequireEnv, pingErr)
	}
}

// Build makes sure the tinyredis image exists, tagged Image plus the extra
// tags, and returns Image. The extra tags must be under drover-test
// repositories ("drover-test/tinyredis:mine", "drover-test-x/redis:3.2"):
// a stand-in is never tagged under a real image's name such as
// redis:3.2, which a later real job would then silently run. It skips the
// test when no Docker engine answers (or fails it, see Require). Calling
// it again in the same test binary with the same tags costs nothing.
func Build(t testing.TB, tags ...string) string {
	t.Helper()
	for _, tag := range tags {
		if !strings.HasPrefix(tag, "drover-test") {
			t.Fatalf("dockerimg.Build: tag %q is not under a drover-test repository: the stand-in must not take a real image's name", tag)
		}
	}
	Require(t)
	if err := ping(); err != nil {
		t.Skipf("Docker is unreachable: %v", err)
	}

	all := append([]string{Image}, tags...)
	slices.Sort(all)
	all = slices.Compact(all)
	v, _ := builds.LoadOrStore(strings.Join(all, ","), &tagBuild{})
	b := v.(*tagBuild)
	b.once.Do(func() { b.err = ensureImage(all) })
	if b.err != nil {
		t.Fatalf("build %s: %v", Image, b.err)
	}
	return Image
}

func ensureImage(tags []string) error {
	contextOnce.Do(func() { buildCtx, contentHash, contextErr = makeContext() })
	if contextErr != nil {
		return contextErr
	}
	cli, err := Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	existing, err := cli.ImageList(ctx, image.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", ContentLabel+"="+contentHash)),
	})
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	if len(existing) > 0 {
		// Same content already built: only add the tags it lacks.
		img := existing[0]
		for _, tag := range tags {
			if slices.Contains(img.RepoTags, tag) {
				continue
			}
			if err := cli.ImageTag(ctx, img.ID, tag); err != nil {
				return fmt.Errorf("tag %s: %w", tag, err)
			}
		}
		return nil
	}

	resp, err := cli.ImageBuild(ctx, bytes.NewReader(buildCtx), build.ImageBuildOptions{
		Tags:        tags,
		Labels:      map[string]string{ContentLabel: contentHash},
		Remove:      true,
		ForceRemove: true,
		// The classic builder needs no BuildKit session and is available
		// on every engine version we meet.
		Version: build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	defer resp.Body.Close()
	return readStream(resp.Body)
}

// readStream drains a build's JSON progress stream and returns the error it
// reports, if any: a failed build still answers 200, the failure is in the
// stream.
func readStream(r io.Reader) error {
	dec := json.NewDecoder(r)
	var log strings.Builder
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read build output: %w", err)
		}
		log.WriteString(msg.Stream)
		if msg.Error != "" {
			return fmt.Errorf("%s\n%s", msg.Error, log.String())
		}
	}
}

// makeContext compiles tinyredis for the engine's platform and returns the
// tar build context and its content hash.
func makeContext() ([]byte, string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, "", err
	}
	goarch, err := engineArch()
	if err != nil {
		return nil, "", err
	}
	dir, err := os.MkdirTemp("", "dockerimg")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(dir)

	bin := filepath.Join(dir, "tinyredis")
	cmd := exec.Command(goBinary(), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testutil/tinyredis")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("go build tinyredis: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, "", err
	}

	h := sha256.New()
	h.Write([]byte(dockerfile))
	h.Write(data)
	sum := hex.EncodeToString(h.Sum(nil))[:32]

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"tinyredis", 0o755, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), sum, nil
}

// engineArch is the engine's GOARCH, which may differ from ours when
// DOCKER_HOST points elsewhere.
func engineArch() (string, error) {
	cli, err := Client()
	if err != nil {
		return "", err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := cli.ServerVersion(ctx)
	if err != nil {
		return "", fmt.Errorf("docker version: %w", err)
	}
	return v.Arch, nil
}

// goBinary is the go command of the toolchain running the tests when that
// is known (GOROOT set), so a test run never mixes two Go versions; else
// the one on PATH.
func goBinary() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// ModuleRoot walks up from the working directory (a package directory
// under go test) to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
