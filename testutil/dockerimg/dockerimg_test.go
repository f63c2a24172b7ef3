package dockerimg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestBuild(t *testing.T) {
	Require(t)
	ref := Build(t, "drover-test/tinyredis:dockerimg-test")
	if ref != Image {
		t.Fatalf("Build returned %q, want %q", ref, Image)
	}

	cli, err := Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	img, err := cli.ImageInspect(ctx, Image)
	if err != nil {
		t.Fatalf("inspect %s: %v", Image, err)
	}
	if img.Config == nil || img.Config.Labels[ContentLabel] == "" {
		t.Errorf("image lacks the %s label", ContentLabel)
	}
	if !slices.Contains(img.RepoTags, "drover-test/tinyredis:dockerimg-test") {
		t.Errorf("extra tag missing: %v", img.RepoTags)
	}
	if len(img.Config.Entrypoint) != 1 || img.Config.Entrypoint[0] != "/tinyredis" {
		t.Errorf("entrypoint %v, want [/tinyredis]", img.Config.Entrypoint)
	}

	// A second call in the same binary must not build again. (The extra
	// tag is left in place: with -count=N the next run's Build is cached.)
	start := time.Now()
	Build(t, "drover-test/tinyredis:dockerimg-test")
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("second Build took %s; want it cached", d)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(root, "testutil", "dockerimg"); wd != want {
		t.Errorf("module root %s: working directory %s, want %s", root, wd, want)
	}
}

// fakeTB records a failure instead of ending the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestRequire(t *testing.T) {
	unreachable := errors.New("connection refused")
	for _, tc := range []struct {
		name    string
		env     string
		pingErr error
		fail    bool
	}{
		{"required and unreachable", "1", unreachable, true},
		{"not required", "", unreachable, false},
		{"required and reachable", "1", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(RequireEnv, tc.env)
			f := &fakeTB{TB: t}
			require(f, tc.pingErr)
			if f.failed != tc.fail {
				t.Errorf("failed = %v, want %v", f.failed, tc.fail)
			}
		})
	}
}
