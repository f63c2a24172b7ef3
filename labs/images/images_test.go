package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
)

// Tests that need no Docker engine.

func TestStandInRef(t *testing.T) {
	for in, want := range map[string]string{
		"redis:3.2":                   "drover-lab/redis:3.2",
		"redis:4.0":                   "drover-lab/redis:4.0",
		"redis":                       "drover-lab/redis:latest",
		"docker.io/library/redis:3.2": "drover-lab/redis:3.2",
		"docker.io/redis:4.0":         "drover-lab/redis:4.0",
		"redis@sha256:0123abcd":       "",
		"bitnami/redis:7":             "",
		"localhost:5000/redis:3.2":    "",
		"drover-lab/redis:3.2":        "",
		"nginx:1":                     "",
		"":                            "",
	} {
		if got := StandInRef(in); got != want {
			t.Errorf("StandInRef(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFamiliar(t *testing.T) {
	for in, want := range map[string]string{
		"redis:3.2":                 "redis:3.2",
		"redis":                     "redis:latest",
		"docker.io/library/redis":   "redis:latest",
		"index.docker.io/library/x": "x:latest",
		"localhost:5000/redis":      "localhost:5000/redis:latest",
		"localhost:5000/redis:1":    "localhost:5000/redis:1",
		"redis@sha256:0123abcd":     "redis@sha256:0123abcd",
	} {
		if got := Familiar(in); got != want {
			t.Errorf("Familiar(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabImagesAndEntrypoint(t *testing.T) {
	for _, img := range LabImages() {
		if StandInRef(img) == "" {
			t.Errorf("lab image %s has no stand-in", img)
		}
	}
	if got := StandInEntrypoint(); !slices.Equal(got, []string{"/drover", "lab", "standin-redis"}) {
		t.Errorf("StandInEntrypoint() = %v", got)
	}
	// The production repository list is redis and nothing else.
	if !slices.Equal(retagRepos, []string{"redis"}) {
		t.Errorf("retagRepos = %v", retagRepos)
	}
}

func TestIsStandIn(t *testing.T) {
	// As the engine answers an inspect.
	img := func(js string) image.InspectResponse {
		var info image.InspectResponse
		if err := json.Unmarshal([]byte(js), &info); err != nil {
			t.Fatal(err)
		}
		return info
	}
	old := map[string]bool{"sha256:old": true}
	for _, tc := range []struct {
		name string
		info image.InspectResponse
		want bool
	}{
		{"same image as an old stand-in", img(`{"Id": "sha256:old", "Config": {"Entrypoint": ["docker-entrypoint.sh"]}}`), true},
		{"tinyredis entrypoint", img(`{"Id": "sha256:a", "Config": {"Entrypoint": ["/tinyredis"]}}`), true},
		{"labelled", img(`{"Id": "sha256:b", "Config": {"Entrypoint": ["/drover", "lab", "standin-redis"], "Labels": {"io.drover.standin": "true"}}}`), true},
		{"real redis", img(`{"Id": "sha256:c", "Config": {"Entrypoint": ["docker-entrypoint.sh"], "Cmd": ["redis-server"]}}`), false},
		{"tinyredis with arguments", img(`{"Id": "sha256:d", "Config": {"Entrypoint": ["/tinyredis", "-port", "1"]}}`), false},
		{"no config", img(`{"Id": "sha256:e"}`), false},
	} {
		if got := isStandIn(tc.info, old); got != tc.want {
			t.Errorf("%s: isStandIn = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRootfs(t *testing.T) {
	data, err := rootfs([]byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "drover" {
			b, _ := io.ReadAll(tr)
			if string(b) != "binary" || h.Mode != 0o755 {
				t.Errorf("drover: %q mode %o", b, h.Mode)
			}
		}
	}
	if !slices.Equal(names, []string{"drover", "tmp/"}) {
		t.Errorf("rootfs holds %v", names)
	}
	if got := quoteLabel(`a "b" \c`); got != `"a \"b\" \\c"` {
		t.Errorf("quoteLabel = %s", got)
	}
}

// Refusals that come before any engine call (cli is nil).
func TestBuildStandInRefusals(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		ref  string
		opts []BuildOption
		want string
	}{
		{"no stand-in", "nginx:1", nil, "there is no stand-in for nginx:1"},
		{"tagged as the real image", "redis:3.2", []BuildOption{WithTag("redis:3.2")}, "never tagged under a real image's name"},
		{"tagged as another real redis", "redis:3.2", []BuildOption{WithTag("docker.io/library/redis:4.0")}, "never tagged under a real image's name"},
		{"empty entrypoint", "redis:3.2", []BuildOption{WithEntrypoint()}, "empty entrypoint"},
	} {
		_, err := BuildStandIn(ctx, nil, tc.ref, "/nonexistent", tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
