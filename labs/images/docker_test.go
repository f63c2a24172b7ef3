package images

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"drover/testutil/dockerimg"
)

// These tests use a real engine. Everything they make is under names of
// their own that include runID (drover-test-fake-<runID>/redis:3.2, ...)
// and carries testLabel, and is removed when the test ends, passed or
// not. They never tag, untag or remove the machine's redis:* images: the
// repository RemoveOldRetags works on is a parameter of removeOldRetags,
// and they check the real redis tags are unchanged.

const testLabel = "io.drover.test.labs-images"

var (
	runID = func() string {
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		return hex.EncodeToString(b)
	}()
	testLabels = map[string]string{testLabel: runID}
	// Repositories the tests name things under.
	fakeRepo    = "drover-test-fake-" + runID
	standInRepo = "drover-test-standin-" + runID

	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// engine returns a client, skipping without Docker (failing instead when
// DROVER_REQUIRE_DOCKER=1), and removes what the test made when it ends.
func engine(t *testing.T) *client.Client {
	t.Helper()
	dockerimg.Require(t)
	if !dockerimg.Available() {
		t.Skip("Docker is unreachable")
	}
	cli, err := dockerimg.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cleanup(t, cli)
		cli.Close()
	})
	return cli
}

// cleanup removes this run's containers, then its tags (some name images
// not made by the test, such as dockerimg's: those are only untagged),
// then its images.
func cleanup(t *testing.T, cli *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	byLabel := filters.NewArgs(filters.Arg("label", testLabel+"="+runID))
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: byLabel})
	if err != nil {
		t.Errorf("cleanup: list containers: %v", err)
	}
	for _, c := range cs {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("cleanup: remove container %s: %v", c.ID, err)
		}
	}
	imgs, err := cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		t.Errorf("cleanup: list images: %v", err)
	}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if strings.HasPrefix(tag, fakeRepo+"/") || strings.HasPrefix(tag, standInRepo+"/") {
				if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
					t.Errorf("cleanup: untag %s: %v", tag, err)
				}
			}
		}
	}
	imgs, err = cli.ImageList(ctx, image.ListOptions{All: true, Filters: byLabel})
	if err != nil {
		t.Errorf("cleanup: list images: %v", err)
	}
	for _, img := range imgs {
		if _, err := cli.ImageRemove(ctx, img.ID, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("cleanup: remove image %s: %v", img.ID, err)
		}
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// staticBinary is testutil/tinyredis, statically linked for the engine's
// architecture: like the drover binary, it runs the redisd stand-in (it
// takes "lab standin-redis" as extra arguments and ignores them).
func staticBinary(t *testing.T, cli *client.Client) string {
	t.Helper()
	binOnce.Do(func() {
		v, err := cli.ServerVersion(context.Background())
		if err != nil {
			binErr = err
			return
		}
		root, err := dockerimg.ModuleRoot()
		if err != nil {
			binErr = err
			return
		}
		if binDir, binErr = os.MkdirTemp("", "labs-images-test"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "drover")
		cmd := exec.Command(goBinary(), "build", "-trimpath", "-ldflags=-s -w", "-o", binPath, "./testutil/tinyredis")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+v.Arch)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func goBinary() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// redisTags are the machine's real redis:* tags and their images, which
// the tests must leave as they found them.
func redisTags(t *testing.T, cli *client.Client) map[string]string {
	t.Helper()
	imgs, err := cli.ImageList(testContext(t), image.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, img := range imgs {
		for _, tag := range img.RepoTags {
			if repo, _ := splitRef(Familiar(tag)); repo == "redis" || strings.HasPrefix(repo, StandInRepoPrefix) {
				tags[tag] = img.ID
			}
		}
	}
	return tags
}

func checkRedisTagsUnchanged(t *testing.T, cli *client.Client) {
	t.Helper()
	before := redisTags(t, cli)
	t.Cleanup(func() {
		if after := redisTags(t, cli); !maps.Equal(before, after) {
			t.Errorf("the machine's redis and drover-lab images changed:\nbefore %v\nafter  %v", before, after)
		}
	})
}

// importImage makes a small image that is not a stand-in (unless its
// entrypoint says so), tagged ref.
func importImage(t *testing.T, cli *client.Client, ref string, entrypoint []string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("not a binary, " + ref + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	tw.Close()
	ep, _ := json.Marshal(entrypoint)
	ctx := testContext(t)
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{
		Changes: []string{"ENTRYPOINT " + string(ep), "LABEL " + testLabel + "=" + runID},
	})
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	err = readStream(rc, nil)
	rc.Close()
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	info, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

// runAndPing runs img with its port 6379 published on the loopback and
// waits for it to answer PING.
func runAndPing(t *testing.T, cli *client.Client, img string) {
	t.Helper()
	ctx := testContext(t)
	created, err := cli.ContainerCreate(ctx,
		&container.Config{Image: img, Labels: testLabels, ExposedPorts: nat.PortSet{"6379/tcp": {}}},
		&container.HostConfig{PortBindings: nat.PortMap{"6379/tcp": {{HostIP: "127.0.0.1"}}}},
		nil, nil, "")
	if err != nil {
		t.Fatalf("create a container of %s: %v", img, err)
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start a container of %s: %v", img, err)
	}
	info, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	bindings := info.NetworkSettings.Ports["6379/tcp"]
	if len(bindings) == 0 {
		t.Fatalf("port 6379 of %s is not published: %v", img, info.NetworkSettings.Ports)
	}
	addr := net.JoinHostPort("127.0.0.1", bindings[0].HostPort)
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := ping(addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			logs := ""
			if rc, lerr := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true}); lerr == nil {
				b, _ := io.ReadAll(rc)
				rc.Close()
				logs = string(b)
			}
			t.Fatalf("no PONG from %s at %s: %v\nlogs:\n%s", img, addr, err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("got %q", line)
	}
	return nil
}

// BuildStandIn makes a labelled FROM-scratch image that answers PING,
// reuses it when built again, and never touches redis:3.2 itself.
func TestBuildStandIn(t *testing.T) {
	cli := engine(t)
	checkRedisTagsUnchanged(t, cli)
	bin := staticBinary(t, cli)
	ctx := testContext(t)

	// The production entrypoint, /drover lab standin-redis (the test
	// binary ignores the extra arguments).
	tag := standInRepo + "/redis:3.2"
	ref, err := BuildStandIn(ctx, cli, "redis:3.2", bin, WithTag(tag), WithLabels(testLabels))
	if err != nil {
		t.Fatalf("BuildStandIn: %v", err)
	}
	if ref != tag {
		t.Fatalf("BuildStandIn returned %q, want %q", ref, tag)
	}
	info, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	labels := info.Config.Labels
	for k, want := range map[string]string{
		LabelStandIn:            "true",
		LabelStandInFor:         "redis:3.2",
		LabelStandInDescription: "a small Redis-compatible stand-in built by drover lab images -standin; not the real image",
		testLabel:               runID,
	} {
		if labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, labels[k], want)
		}
	}
	if labels[LabelContent] == "" {
		t.Errorf("no %s label", LabelContent)
	}
	if !slices.Equal(info.Config.Entrypoint, []string{"/drover", "lab", "standin-redis"}) {
		t.Errorf("entrypoint %q", info.Config.Entrypoint)
	}
	if len(info.Config.Cmd) != 0 {
		t.Errorf("cmd %q, want none", info.Config.Cmd)
	}
	if _, ok := info.Config.ExposedPorts["6379/tcp"]; !ok || len(info.Config.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 6379/tcp", info.Config.ExposedPorts)
	}
	if !slices.Equal(info.RepoTags, []string{tag}) {
		t.Errorf("tags %v, want only %s", info.RepoTags, tag)
	}
	runAndPing(t, cli, ref)

	// Built again: the same image, not a new one.
	start := time.Now()
	again, err := BuildStandIn(ctx, cli, "redis:3.2", bin, WithTag(tag), WithLabels(testLabels))
	if err != nil {
		t.Fatal(err)
	}
	if info2, err := cli.ImageInspect(ctx, again); err != nil || info2.ID != info.ID {
		t.Errorf("rebuild gave image %s (%v), want the same %s", info2.ID, err, info.ID)
	}
	t.Logf("rebuild took %s", time.Since(start))
	same, err := cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelContent+"="+labels[LabelContent]))})
	if err != nil || len(same) != 1 {
		t.Errorf("images with the content hash: %d (%v), want 1", len(same), err)
	}

	// Reused under another name: tagged, not rebuilt.
	other := standInRepo + "/redis:3.2-other"
	if _, err := BuildStandIn(ctx, cli, "redis:3.2", bin, WithTag(other), WithLabels(testLabels)); err != nil {
		t.Fatal(err)
	}
	if info3, err := cli.ImageInspect(ctx, other); err != nil || info3.ID != info.ID {
		t.Errorf("%s is image %s (%v), want %s", other, info3.ID, err, info.ID)
	}

	// Another entrypoint is another image; it runs too.
	plain := standInRepo + "/redis:4.0"
	ref2, err := BuildStandIn(ctx, cli, "redis:4.0", bin, WithEntrypoint("/drover"), WithTag(plain), WithLabels(testLabels))
	if err != nil {
		t.Fatal(err)
	}
	info4, err := cli.ImageInspect(ctx, ref2)
	if err != nil {
		t.Fatal(err)
	}
	if info4.ID == info.ID || !slices.Equal(info4.Config.Entrypoint, []string{"/drover"}) || info4.Config.Labels[LabelStandInFor] != "redis:4.0" {
		t.Errorf("with entrypoint /drover: image %s, entrypoint %q, for %q", info4.ID, info4.Config.Entrypoint, info4.Config.Labels[LabelStandInFor])
	}
	runAndPing(t, cli, ref2)

	// Rebuilt differently under the same name: the name moves to the new
	// image and the old one, a stand-in left without a name and used by
	// no container, is removed.
	moved := standInRepo + "/redis:moved"
	first, err := BuildStandIn(ctx, cli, "redis:4.0", bin, WithTag(moved), WithLabels(testLabels), WithLabels(map[string]string{"io.drover.test.build": "1"}))
	if err != nil {
		t.Fatal(err)
	}
	firstInfo, err := cli.ImageInspect(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildStandIn(ctx, cli, "redis:4.0", bin, WithTag(moved), WithLabels(testLabels), WithLabels(map[string]string{"io.drover.test.build": "2"})); err != nil {
		t.Fatal(err)
	}
	if info5, err := cli.ImageInspect(ctx, moved); err != nil || info5.ID == firstInfo.ID || info5.Config.Labels["io.drover.test.build"] != "2" {
		t.Errorf("rebuilt %s: %s, %v", moved, info5.ID, err)
	}
	if _, err := cli.ImageInspect(ctx, firstInfo.ID); !cerrdefs.IsNotFound(err) {
		t.Errorf("the replaced stand-in %s is still there (%v)", firstInfo.ID, err)
	}
}

// A binary that cannot run FROM scratch is refused, saying why.
func TestBuildStandInRefusesDynamicBinary(t *testing.T) {
	cli := engine(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to try")
	}
	sh, _ = filepath.EvalSymlinks(sh)
	_, err = BuildStandIn(testContext(t), cli, "redis:3.2", sh, WithTag(standInRepo+"/redis:3.2"), WithLabels(testLabels))
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Errorf("BuildStandIn with %s: %v", sh, err)
	}
	text := filepath.Join(t.TempDir(), "drover")
	os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755)
	_, err = BuildStandIn(testContext(t), cli, "redis:3.2", text, WithTag(standInRepo+"/redis:3.2"), WithLabels(testLabels))
	if err == nil || !strings.Contains(err.Error(), "not a Linux binary") {
		t.Errorf("BuildStandIn with a script: %v", err)
	}
}

// removeOldRetags removes the tags of the repository that name stand-ins,
// by each of the three signs, and leaves other images and repositories
// alone.
func TestRemoveOldRetags(t *testing.T) {
	cli := engine(t)
	checkRedisTagsUnchanged(t, cli)
	ctx := testContext(t)
	old := dockerimg.Build(t) // drover-test/tinyredis:latest, an old stand-in name
	oldInfo, err := cli.ImageInspect(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	repo := fakeRepo + "/redis"

	// The same image as drover-test/tinyredis:latest.
	if err := cli.ImageTag(ctx, old, repo+":3.2"); err != nil {
		t.Fatal(err)
	}
	// Not labelled, but runs /tinyredis.
	importImage(t, cli, repo+":4.0", []string{"/tinyredis"})
	// Labelled as a stand-in.
	if _, err := BuildStandIn(ctx, cli, "redis:5.0", staticBinary(t, cli), WithTag(repo+":5.0"), WithLabels(testLabels)); err != nil {
		t.Fatal(err)
	}
	// A real image (as far as the test is concerned).
	realID := importImage(t, cli, repo+":latest", []string{"docker-entrypoint.sh"})
	// A stand-in in a repository that is not checked.
	if err := cli.ImageTag(ctx, old, fakeRepo+"/other:3.2"); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	removed, err := removeOldRetags(ctx, cli, &out, []string{repo})
	if err != nil {
		t.Fatalf("removeOldRetags: %v", err)
	}
	want := []string{repo + ":3.2", repo + ":4.0", repo + ":5.0"}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	var lines []string
	for _, r := range want {
		lines = append(lines, "Removed "+r+": it was a stand-in, not the real image\n")
	}
	if got := out.String(); got != strings.Join(lines, "") {
		t.Errorf("output:\n%s\nwant:\n%s", got, strings.Join(lines, ""))
	}
	for _, r := range want {
		if _, err := cli.ImageInspect(ctx, r); !cerrdefs.IsNotFound(err) {
			t.Errorf("%s still there (%v)", r, err)
		}
	}
	if info, err := cli.ImageInspect(ctx, repo+":latest"); err != nil || info.ID != realID {
		t.Errorf("the non-stand-in %s:latest was touched: %s, %v", repo, info.ID, err)
	}
	for _, r := range []string{fakeRepo + "/other:3.2", old} {
		if info, err := cli.ImageInspect(ctx, r); err != nil || info.ID != oldInfo.ID {
			t.Errorf("%s was touched: %s, %v", r, info.ID, err)
		}
	}

	// Nothing left to remove: silent, and no error.
	out.Reset()
	removed, err = removeOldRetags(ctx, cli, &out, []string{repo})
	if err != nil || len(removed) != 0 || out.Len() != 0 {
		t.Errorf("second run: removed %v, output %q, %v", removed, out.String(), err)
	}
}

func TestStatus(t *testing.T) {
	cli := engine(t)
	ctx := testContext(t)
	old := dockerimg.Build(t)
	retag := fakeRepo + "/redis:3.2"
	if err := cli.ImageTag(ctx, old, retag); err != nil {
		t.Fatal(err)
	}
	realImg := fakeRepo + "/real:1"
	importImage(t, cli, realImg, []string{"docker-entrypoint.sh"})
	absent := fakeRepo + "/absent:1"

	// redis:3.2 and its stand-in are only looked at: whatever the machine
	// has, Status must agree with the engine.
	_, redisErr := cli.ImageInspect(ctx, "redis:3.2")
	_, standInErr := cli.ImageInspect(ctx, "drover-lab/redis:3.2")

	got, err := Status(ctx, cli, []string{retag, realImg, absent, "redis:3.2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []State{
		{Ref: retag, Present: true, RetaggedStandIn: true},
		{Ref: realImg, Present: true},
		{Ref: absent},
		{Ref: "redis:3.2", Present: redisErr == nil, StandIn: "drover-lab/redis:3.2", StandInPresent: standInErr == nil},
	}
	if len(got) != len(want) {
		t.Fatalf("Status = %+v", got)
	}
	for i := range want {
		w := want[i]
		if i == 3 {
			// Whether the machine's redis:3.2 is a retagged stand-in is
			// its business.
			w.RetaggedStandIn = got[i].RetaggedStandIn
		}
		if got[i] != w {
			t.Errorf("Status[%d] = %+v, want %+v", i, got[i], w)
		}
	}
}

// Load loads a `docker save` tarball and says what it loaded, warning
// about a stand-in.
func TestLoad(t *testing.T) {
	cli := engine(t)
	ctx := testContext(t)
	plain := fakeRepo + "/saved:1"
	importImage(t, cli, plain, []string{"docker-entrypoint.sh"})
	standIn := fakeRepo + "/redis:6.0"
	if err := cli.ImageTag(ctx, plain, fakeRepo+"/keep:1"); err != nil {
		t.Fatal(err)
	}
	importImage(t, cli, standIn, []string{"/tinyredis"})

	dir := t.TempDir()
	save := func(name string, refs ...string) string {
		rc, err := cli.ImageSave(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(f, rc); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tarball := save("images.tar", plain, standIn)
	for _, r := range []string{plain, standIn} {
		if _, err := cli.ImageRemove(ctx, r, image.RemoveOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	var out bytes.Buffer
	if err := Load(ctx, cli, tarball, &out); err != nil {
		t.Fatalf("Load: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"Loaded image: " + plain + "\n",
		"Loaded image: " + standIn + "\n",
		"Warning: " + standIn + " from " + tarball + " is a stand-in, not the real image\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Warning: "+plain) {
		t.Errorf("warning about %s, which is no stand-in:\n%s", plain, out.String())
	}
	for _, r := range []string{plain, standIn} {
		if _, err := cli.ImageInspect(ctx, r); err != nil {
			t.Errorf("%s not loaded: %v", r, err)
		}
	}

	notTar := filepath.Join(dir, "not.tar")
	os.WriteFile(notTar, []byte("hello"), 0o644)
	if err := Load(ctx, cli, notTar, io.Discard); err == nil {
		t.Error("Load of a text file succeeded")
	}
	if err := Load(ctx, cli, filepath.Join(dir, "missing.tar"), io.Discard); err == nil || !strings.Contains(err.Error(), "missing.tar") {
		t.Errorf("Load of a missing file: %v", err)
	}
}
