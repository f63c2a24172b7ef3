package dockerimg

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// ProbeImage is the image BuildProbe tags: testutil/execprobe alone in a
// FROM-scratch image, for the tests of docker exec and signals.
const ProbeImage = "drover-test/execprobe:latest"

const probeDockerfile = `FROM scratch
COPY execprobe /execprobe
ENTRYPOINT ["/execprobe"]
`

var (
	probeOnce sync.Once
	probeErr  error
)

// BuildProbe makes sure ProbeImage exists and returns it. Like Build, it
// skips the test without Docker (fails it with DROVER_REQUIRE_DOCKER=1),
// and reuses an image of the same content.
func BuildProbe(t testing.TB) string {
	t.Helper()
	Require(t)
	if err := ping(); err != nil {
		t.Skipf("Docker is unreachable: %v", err)
	}
	probeOnce.Do(func() { probeErr = ensureProbe() })
	if probeErr != nil {
		t.Fatalf("build %s: %v", ProbeImage, probeErr)
	}
	return ProbeImage
}

func ensureProbe() error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	goarch, err := engineArch()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "execprobe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "execprobe")
	cmd := exec.Command(goBinary(), "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testutil/execprobe")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build execprobe: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	h := sha256.New()
	h.Write([]byte(probeDockerfile))
	h.Write(data)
	sum := hex.EncodeToString(h.Sum(nil))[:32]

	cli, err := Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	existing, err := cli.ImageList(ctx, image.ListOptions{
		Filters: filters.NewArgs(filters.Arg("label", ContentLabel+"="+sum), filters.Arg("reference", ProbeImage)),
	})
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	if len(existing) > 0 {
		return nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(probeDockerfile)}, {"execprobe", 0o755, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags: []string{ProbeImage}, Labels: map[string]string{ContentLabel: sum},
		Remove: true, ForceRemove: true, Version: build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	defer resp.Body.Close()
	return readStream(resp.Body)
}
