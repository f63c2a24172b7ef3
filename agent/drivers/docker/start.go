package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"

	"drover/agent/drivers"
	"drover/agent/drivers/logrotate"
	"drover/agent/structs"
)

// StartTask validates the config, makes sure the image is present (pulling
// it if not, or running its stand-in, see Options.StandIns), then creates
// and starts the container and begins collecting its output.
func (d *Driver) StartTask(ctx context.Context, cfg *drivers.TaskConfig, events drivers.EventFunc) (*drivers.TaskHandle, error) {
	if events == nil {
		events = func(string, string) {}
	}
	tc, err := parseConfig(cfg.Config)
	if err != nil {
		return nil, err
	}
	if old, err := d.get(cfg.ID); err == nil {
		// A restart of an exited task may come without DestroyTask: the
		// old container is replaced (below, by name). A running one is not.
		select {
		case <-old.exited:
			d.forget(old)
		default:
			return nil, fmt.Errorf("docker: task %s is already running", cfg.ID)
		}
	}
	runImage, imageID, err := d.ensureImage(ctx, tc.Image, events)
	if err != nil {
		return nil, err
	}
	if err := makeTaskDirs(cfg); err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	conf, hostConf, err := containerConfig(cfg, tc)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	// A stand-in runs under its own name; the task config keeps the
	// job's image.
	conf.Image = runImage
	if d.opts.TaskNetwork != "" {
		// The driver forwards the ports itself (see Options).
		hostConf.NetworkMode = container.NetworkMode(d.opts.TaskNetwork)
		hostConf.PortBindings = nil
	}

	name := containerName(cfg)
	created, err := d.cli.ContainerCreate(ctx, conf, hostConf, nil, nil, name)
	if cerrdefs.IsConflict(err) {
		// A container of that name is left over from an earlier attempt
		// the client no longer tracks (it crashed before persisting the
		// handle, or the task is being restarted): replace it.
		if rerr := d.removeStale(ctx, name, cfg); rerr != nil {
			return nil, rerr
		}
		created, err = d.cli.ContainerCreate(ctx, conf, hostConf, nil, nil, name)
	}
	if err != nil {
		return nil, fmt.Errorf("docker: create container %s: %w", name, err)
	}
	for _, w := range created.Warnings {
		d.logger.Printf("docker: task %s: %s", cfg.ID, w)
	}
	// From here on, a failure must not leave the container behind.
	cleanup := func() {
		rctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
		defer cancel()
		_ = d.cli.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		cleanup()
		return nil, fmt.Errorf("docker: start container %s: %w", name, err)
	}
	started := time.Now()
	t := &task{cfg: cfg, containerID: created.ID, imageID: imageID}
	if t.fwd, err = d.forwardPorts(ctx, t); err != nil {
		cleanup()
		return nil, fmt.Errorf("docker: %w", err)
	}
	if err := d.attach(t); err != nil {
		t.fwd.close()
		cleanup()
		return nil, fmt.Errorf("docker: %w", err)
	}
	state, err := json.Marshal(handleState{ContainerID: created.ID, ImageID: imageID})
	if err != nil {
		return nil, err
	}
	if runImage != tc.Image {
		d.logger.Printf("docker: task %s: started container %s (%s, stand-in for %s)", cfg.ID, shortID(created.ID), runImage, tc.Image)
	} else {
		d.logger.Printf("docker: task %s: started container %s (%s)", cfg.ID, shortID(created.ID), tc.Image)
	}
	return &drivers.TaskHandle{Driver: Name, Config: cfg, StartedAt: started, State: state}, nil
}

func containerName(cfg *drivers.TaskConfig) string {
	return cfg.TaskName + "-" + cfg.AllocID
}

// removeStale removes a same-named container, but only one carrying this
// task's labels: a foreign container is reported rather than destroyed.
func (d *Driver) removeStale(ctx context.Context, name string, cfg *drivers.TaskConfig) error {
	info, err := d.cli.ContainerInspect(ctx, name)
	if err != nil {
		return fmt.Errorf("docker: inspect conflicting container %s: %w", name, err)
	}
	if info.Config == nil || info.Config.Labels[LabelAllocID] != cfg.AllocID || info.Config.Labels[LabelTaskName] != cfg.TaskName {
		return fmt.Errorf("docker: a container named %s exists and does not belong to this task", name)
	}
	d.logger.Printf("docker: task %s: removing stale container %s", cfg.ID, shortID(info.ID))
	if err := d.cli.ContainerRemove(ctx, info.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: remove stale container %s: %w", name, err)
	}
	return nil
}

// ensureImage returns the image to run for ref and its ID: ref itself,
// pulled first when it is not present locally, or, when ref is absent and
// has a stand-in (Options.StandIns) that is present, the stand-in, with a
// task event saying so.
func (d *Driver) ensureImage(ctx context.Context, ref string, events drivers.EventFunc) (string, string, error) {
	info, err := d.cli.ImageInspect(ctx, ref)
	if err == nil {
		return ref, info.ID, nil
	}
	if !cerrdefs.IsNotFound(err) {
		return "", "", fmt.Errorf("docker: inspect image %s: %w", ref, err)
	}
	standIn := d.opts.StandIns[familiarImage(ref)]
	if standIn != "" {
		sinfo, err := d.cli.ImageInspect(ctx, standIn)
		if err == nil {
			msg := fmt.Sprintf("Using stand-in %s for %s (not the real image)", standIn, ref)
			events("Driver", msg)
			d.logger.Printf("docker: %s: %s is not present", msg, ref)
			return standIn, sinfo.ID, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return "", "", fmt.Errorf("docker: inspect image %s (stand-in for %s): %w", standIn, ref, err)
		}
		d.logger.Printf("docker: neither %s nor its stand-in %s is present", ref, standIn)
	}
	events("Driver", "Downloading image "+ref)
	d.logger.Printf("docker: pulling image %s", ref)
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err == nil {
		// Progress comes as a "Driver" task event that replaces the
		// previous one (see drivers.EventProgress).
		err = readPullStream(rc, pullProgressEvery, time.Now, func(summary string) {
			events(drivers.EventProgress, "Docker image pull progress: "+summary)
		})
		rc.Close()
	}
	if err != nil {
		if standIn != "" {
			return "", "", fmt.Errorf("Failed to pull %q: %w (its stand-in %s is not present either: build it with drover lab images -standin)", ref, err, standIn)
		}
		// Worded as the compatible driver words it: this is the message a
		// student sees when the image does not exist.
		return "", "", fmt.Errorf("Failed to pull %q: %w", ref, err)
	}
	info, err = d.cli.ImageInspect(ctx, ref)
	if err != nil {
		return "", "", fmt.Errorf("docker: inspect image %s after pull: %w", ref, err)
	}
	return ref, info.ID, nil
}

// familiarImage is an image reference in its short form, the one the
// engine lists: without docker.io/library/, and with tag "latest" when it
// has neither tag nor digest.
func familiarImage(ref string) string {
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if rest, ok := strings.CutPrefix(ref, p); ok {
			ref = rest
			break
		}
	}
	if ref == "" || strings.Contains(ref, "@") {
		return ref
	}
	if i := strings.LastIndex(ref, ":"); i < 0 || strings.Contains(ref[i:], "/") {
		ref += ":latest"
	}
	return ref
}

// makeTaskDirs creates what the container mounts and the log directory;
// bind mounts of missing directories fail.
func makeTaskDirs(cfg *drivers.TaskConfig) error {
	var dirs []string
	if cfg.LogDir != "" {
		dirs = append(dirs, cfg.LogDir)
	}
	if cfg.AllocDir != "" {
		dirs = append(dirs, filepath.Join(cfg.AllocDir, "alloc"))
	}
	if cfg.TaskDir != "" {
		dirs = append(dirs, filepath.Join(cfg.TaskDir, "local"), filepath.Join(cfg.TaskDir, "secrets"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create task directory: %w", err)
		}
	}
	return nil
}

// containerConfig translates the task into the engine's container and
// host configuration.
func containerConfig(cfg *drivers.TaskConfig, tc *taskConfig) (*container.Config, *container.HostConfig, error) {
	env := make([]string, 0, len(cfg.Env))
	for k, v := range cfg.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)

	labels := map[string]string{}
	for k, v := range tc.Labels {
		labels[k] = v
	}
	// Ours last, so a job cannot hide a container from the driver.
	labels[LabelAllocID] = cfg.AllocID
	labels[LabelAllocName] = cfg.AllocName
	labels[LabelJobID] = cfg.JobID
	labels[LabelTaskName] = cfg.TaskName

	// command and args form the container's Cmd, after the image's (or
	// the config's) entrypoint; args alone are arguments to the entrypoint.
	var cmd []string
	if tc.Command != "" {
		cmd = append(cmd, tc.Command)
	}
	cmd = append(cmd, tc.Args...)

	exposed, bindings, err := portBindings(cfg, tc)
	if err != nil {
		return nil, nil, err
	}

	conf := &container.Config{
		Image:        tc.Image,
		Cmd:          cmd,
		Entrypoint:   tc.Entrypoint,
		Env:          env,
		Labels:       labels,
		WorkingDir:   tc.WorkDir,
		Hostname:     tc.Hostname,
		User:         cfg.User,
		ExposedPorts: exposed,
	}

	hostConf := &container.HostConfig{
		PortBindings: bindings,
		// The client applies the task's restart policy; an engine restart
		// policy would restart containers behind its back.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		// The engine keeps the output until we have copied it; json-file
		// can be read back (needed to resume after a client restart) and
		// is bounded by the task's own log budget.
		LogConfig: container.LogConfig{Type: "json-file", Config: dockerLogOptions(cfg)},
		Mounts:    mounts(cfg),
	}
	if cfg.CPU > 0 {
		// Shares are relative weights; like the compatible client we use
		// the MHz allocation, which keeps tasks' weights proportional to
		// what they were given. The engine's minimum is 2.
		hostConf.CPUShares = max(cfg.CPU, 2)
	}
	if cfg.MemoryMB > 0 {
		// memory_max above memory makes memory a soft limit (reservation)
		// and memory_max the hard one. Swap is not given: a task that
		// outgrows its limit is OOM-killed rather than slowed down.
		hard := cfg.MemoryMB
		if cfg.MemoryMaxMB > cfg.MemoryMB {
			hard = cfg.MemoryMaxMB
			hostConf.MemoryReservation = cfg.MemoryMB << 20
		}
		hostConf.Memory = hard << 20
		hostConf.MemorySwap = hard << 20
	}
	return conf, hostConf, nil
}

// dockerLogOptions bounds the engine's copy of the output. Each engine log
// file holds the task's whole log budget, and there are two, so that after
// a client outage the engine still has the output the task's own files
// could hold. Few large files also matter for correctness: some engines
// (seen with 20.10) lose and repeat lines in a followed stream when they
// rotate their files (the cursor drops the repeats; lost lines cannot be recovered), so
// the rarer the rotations, the better.
func dockerLogOptions(cfg *drivers.TaskConfig) map[string]string {
	files, size := cfg.LogMaxFiles, cfg.LogMaxFileSizeMB
	if files <= 0 {
		files = logrotate.DefaultMaxFiles
	}
	if size <= 0 {
		size = int(logrotate.DefaultMaxBytes >> 20)
	}
	return map[string]string{"max-file": "2", "max-size": strconv.Itoa(max(files*size, minEngineLogMB)) + "m"}
}

// minEngineLogMB is the smallest engine log file, so that tasks with tiny
// log budgets do not make the engine rotate (see dockerLogOptions) often.
const minEngineLogMB = 20

func mounts(cfg *drivers.TaskConfig) []mount.Mount {
	var ms []mount.Mount
	bind := func(src, dst string) {
		ms = append(ms, mount.Mount{Type: mount.TypeBind, Source: src, Target: dst})
	}
	if cfg.AllocDir != "" {
		bind(filepath.Join(cfg.AllocDir, "alloc"), "/alloc")
	}
	if cfg.TaskDir != "" {
		bind(filepath.Join(cfg.TaskDir, "local"), "/local")
		bind(filepath.Join(cfg.TaskDir, "secrets"), "/secrets")
	}
	return ms
}

// portBindings publishes the group ports named in config "ports" and, for
// old-style task networks, every reserved and dynamic port, mapped into
// the container with port_map. Both TCP and UDP are bound, since the job
// does not say which protocol a port speaks.
func portBindings(cfg *drivers.TaskConfig, tc *taskConfig) (nat.PortSet, nat.PortMap, error) {
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	add := func(hostIP string, hostPort, containerPort int) {
		for _, proto := range []string{"tcp", "udp"} {
			p := nat.Port(fmt.Sprintf("%d/%s", containerPort, proto))
			exposed[p] = struct{}{}
			bindings[p] = append(bindings[p], nat.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(hostPort)})
		}
	}

	for _, label := range tc.Ports {
		found := false
		for _, p := range cfg.Ports {
			if p.Label != label {
				continue
			}
			to := p.To
			if to <= 0 {
				to = p.Value
			}
			add(p.HostIP, p.Value, to)
			found = true
			break
		}
		if !found {
			return nil, nil, fmt.Errorf("config ports: %q is not a port of the group network", label)
		}
	}

	mapped := map[string]bool{}
	for _, n := range cfg.TaskNetworks {
		if n == nil {
			continue
		}
		for _, p := range append(append([]structs.Port(nil), n.ReservedPorts...), n.DynamicPorts...) {
			to, ok := tc.PortMap[p.Label]
			switch {
			case ok:
				mapped[p.Label] = true
			case p.To > 0:
				to = p.To
			default:
				to = p.Value
			}
			add(n.IP, p.Value, to)
		}
	}
	var unknown []string
	for label := range tc.PortMap {
		if !mapped[label] {
			unknown = append(unknown, label)
		}
	}
	if len(unknown) > 0 {
		// A port_map entry without a port would publish nothing, which is
		// surely not what the job meant: say so rather than run the task
		// unreachable.
		sort.Strings(unknown)
		return nil, nil, fmt.Errorf("config port_map: no task network port labelled %s (port_map applies to task-level network ports; use \"ports\" for group network ports)", strings.Join(unknown, ", "))
	}
	return exposed, bindings, nil
}
