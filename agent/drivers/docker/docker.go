// Package docker is the docker task driver: it runs each task as one
// container through the Docker Engine API.
//
// The design keeps no helper process per task. Docker already keeps a
// container running, and its output, independently of the client, so a
// restarted client only has to find the container again (RecoverTask, from
// the container ID in the persisted handle) and resume copying its output
// into the task's rotating log files from where it stopped. The copy is
// done by one goroutine per task reading the engine's log stream with
// timestamps; the timestamp of the last line written is kept in a small
// file in the task directory, because the handle is only persisted when
// the task starts.
package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"drover/agent/drivers"
	"drover/agent/structs"
)

// Name is the driver's name in job files.
const Name = "docker"

// Labels put on every container, so that operators (and tests) can find
// the containers of an allocation with a label filter.
const (
	LabelAllocID   = "com.drover.alloc_id"
	LabelAllocName = "com.drover.alloc_name"
	LabelJobID     = "com.drover.job_id"
	LabelTaskName  = "com.drover.task_name"
)

const (
	// fingerprintTimeout bounds the engine ping, so a hung daemon makes
	// the node report the driver unhealthy instead of blocking.
	fingerprintTimeout = 5 * time.Second
	// logDrainTimeout is how long an exit is held back while the output
	// written just before it reaches the log files.
	logDrainTimeout = 10 * time.Second
	// apiTimeout bounds the short engine calls made outside a caller's
	// context (stop, destroy, inspect after a wait).
	apiTimeout = 30 * time.Second
)

// Driver runs tasks as Docker containers. It is safe for concurrent use.
type Driver struct {
	logger *log.Logger
	cli    *client.Client
	opts   Options
	// probe pings the engine for the fingerprint through a transport that
	// keeps the engine's Server header (see newProbe); probeBase owns that
	// transport's connections.
	probe     *client.Client
	probeBase *client.Client
	server    *serverHeader

	// ctx lives as long as the driver; the per-task goroutines (exit
	// watcher, log collector) stop when Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	tasks map[string]*task
}

var _ drivers.Driver = (*Driver)(nil)

// task is one container the driver watches.
type task struct {
	cfg         *drivers.TaskConfig
	containerID string
	imageID     string

	// exited is closed once result is set: the container stopped and its
	// last output was collected.
	exited chan struct{}
	result *drivers.ExitResult

	logCancel context.CancelFunc
	logsDone  chan struct{}

	// fwd relays the task's ports when tasks run on a task network; set
	// before the task is attached, closed when the container stops.
	fwd *forwarder

	// statsMu guards the previous CPU sample, kept so that CPU usage can
	// be computed from two one-shot samples without making each TaskStats
	// call wait for the engine to take two.
	statsMu                sync.Mutex
	prevCPU, prevSystemCPU uint64
	havePrevCPU            bool
}

// handleState is what TaskHandle.State holds for this driver.
type handleState struct {
	ContainerID string `json:"container_id"`
	ImageID     string `json:"image_id"`
}

// New returns a docker driver using the engine described by the
// environment (DOCKER_HOST, DOCKER_CERT_PATH, ...), negotiating the API
// version so older engines work. It does not contact the engine: a node
// without Docker still starts, and Fingerprint reports the driver missing.
func New(logger *log.Logger, opts Options) (*Driver, error) {
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	probe, probeBase, server, err := newProbe()
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if len(opts.StandIns) > 0 {
		// A copy, by short name, so a caller's later changes do not race
		// with lookups.
		standIns := make(map[string]string, len(opts.StandIns))
		for img, standIn := range opts.StandIns {
			standIns[familiarImage(img)] = standIn
		}
		opts.StandIns = standIns
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Driver{
		logger:    logger,
		cli:       cli,
		opts:      opts,
		probe:     probe,
		probeBase: probeBase,
		server:    server,
		ctx:       ctx,
		cancel:    cancel,
		tasks:     map[string]*task{},
	}, nil
}

// newProbe builds the client the fingerprint pings the engine with. Its
// transport keeps the Server header of the last answer: the engine names
// its version there ("Docker/28.2.2 (linux)"), so the fingerprint needs no
// /version request, for which the engine asks containerd and runc for
// theirs (some 20 ms of a node's start-up). The driver's own client keeps
// docker's transport untouched: attach and exec dial through it.
func newProbe() (probe, base *client.Client, server *serverHeader, err error) {
	base, err = client.NewClientWithOpts(client.FromEnv)
	if err != nil {
		return nil, nil, nil, err
	}
	hc := base.HTTPClient()
	server = &serverHeader{next: hc.Transport}
	hc.Transport = server
	if probe, err = client.NewClientWithOpts(client.FromEnv, client.WithHTTPClient(hc)); err != nil {
		base.Close()
		return nil, nil, nil, err
	}
	return probe, base, server, nil
}

// serverHeader is a transport that remembers the Server header of the
// last response.
type serverHeader struct {
	next http.RoundTripper
	mu   sync.Mutex
	last string
}

func (s *serverHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err == nil {
		s.mu.Lock()
		s.last = resp.Header.Get("Server")
		s.mu.Unlock()
	}
	return resp, err
}

func (s *serverHeader) get() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// engineVersion reads the engine's version from its Server header
// ("Docker/28.2.2 (linux)"); "" when the header names something else.
func engineVersion(server string) string {
	v, ok := strings.CutPrefix(server, "Docker/")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, " ")
	return v
}

// Name returns "docker".
func (d *Driver) Name() string { return Name }

// Fingerprint pings the engine: the driver is detected and healthy when it
// answers, with the engine version as driver.docker.version (from the
// ping's Server header, or asked for when an engine does not name itself
// Docker there).
func (d *Driver) Fingerprint(ctx context.Context) *structs.DriverInfo {
	ctx, cancel := context.WithTimeout(ctx, fingerprintTimeout)
	defer cancel()
	info := &structs.DriverInfo{Attributes: map[string]string{}, UpdateTime: time.Now()}
	if _, err := d.probe.Ping(ctx); err != nil {
		info.HealthDescription = fmt.Sprintf("Docker is unreachable: %v", err)
		return info
	}
	version := engineVersion(d.server.get())
	if version == "" {
		v, err := d.cli.ServerVersion(ctx)
		if err != nil {
			info.HealthDescription = fmt.Sprintf("Docker version: %v", err)
			return info
		}
		version = v.Version
	}
	info.Detected, info.Healthy = true, true
	info.HealthDescription = "Healthy"
	info.Attributes["driver.docker"] = "1"
	info.Attributes["driver.docker.version"] = version
	return info
}

// Close detaches from all tasks, as a client does when it exits: the
// containers keep running, and their log collectors stop after persisting
// where they are, so that a new driver's RecoverTask resumes without
// duplicating output. Exit channels of detached tasks never fire.
func (d *Driver) Close() error {
	// Cancelling under mu orders Close with attach, which adds to wg
	// under mu only while the context is live.
	d.mu.Lock()
	d.cancel()
	tasks := make([]*task, 0, len(d.tasks))
	for _, t := range d.tasks {
		tasks = append(tasks, t)
	}
	d.mu.Unlock()
	d.wg.Wait()
	// The forwarders live in this process: free their ports for whoever
	// recovers the tasks next.
	for _, t := range tasks {
		t.fwd.close()
	}
	d.probe.Close()
	d.probeBase.Close()
	return d.cli.Close()
}

func (d *Driver) get(taskID string) (*task, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.tasks[taskID]
	if !ok {
		return nil, fmt.Errorf("%w: %s", drivers.ErrTaskNotFound, taskID)
	}
	return t, nil
}

// forget stops watching a task and drops it, once its collector has
// finished copying the output.
func (d *Driver) forget(t *task) {
	t.logCancel()
	select {
	case <-t.logsDone:
	case <-time.After(logDrainTimeout):
	}
	d.mu.Lock()
	if d.tasks[t.cfg.ID] == t {
		delete(d.tasks, t.cfg.ID)
	}
	d.mu.Unlock()
}

// attach registers a task and starts its log collector and exit watcher.
// The log files are opened here rather than in the collector so that an
// unwritable log directory fails StartTask/RecoverTask instead of silently
// losing output.
func (d *Driver) attach(t *task) error {
	col, err := newCollector(d, t)
	if err != nil {
		return err
	}
	// Everything other methods read is set before the task is visible.
	ctx, cancel := context.WithCancel(d.ctx)
	t.logCancel = cancel
	t.logsDone = make(chan struct{})
	t.exited = make(chan struct{})

	d.mu.Lock()
	if d.ctx.Err() != nil {
		d.mu.Unlock()
		cancel()
		col.close()
		return errors.New("docker driver is closed")
	}
	if _, ok := d.tasks[t.cfg.ID]; ok {
		d.mu.Unlock()
		cancel()
		col.close()
		return fmt.Errorf("task %s is already attached", t.cfg.ID)
	}
	d.tasks[t.cfg.ID] = t
	d.wg.Add(2)
	d.mu.Unlock()

	go func() {
		defer d.wg.Done()
		defer close(t.logsDone)
		col.run(ctx)
	}()
	go func() {
		defer d.wg.Done()
		d.watch(t)
	}()
	return nil
}

// watch waits for the container to stop and publishes the exit result,
// after the output written before the exit is in the log files so that
// whoever reacts to the exit sees all of it.
func (d *Driver) watch(t *task) {
	res, ok := d.waitContainer(t.containerID)
	if !ok {
		return
	}
	t.fwd.close()
	select {
	case <-t.logsDone:
	case <-time.After(logDrainTimeout):
		d.logger.Printf("docker: task %s: log collector still running %s after exit", t.cfg.ID, logDrainTimeout)
	case <-d.ctx.Done():
		return
	}
	t.result = res
	close(t.exited)
}

// waitContainer blocks until the container is not running. It survives
// engine hiccups (a restarted daemon drops the wait) by waiting again; it
// returns false only when the driver is closed.
func (d *Driver) waitContainer(id string) (*drivers.ExitResult, bool) {
	for {
		respCh, errCh := d.cli.ContainerWait(d.ctx, id, container.WaitConditionNotRunning)
		var err error
		select {
		case resp := <-respCh:
			res := &drivers.ExitResult{ExitCode: int(resp.StatusCode)}
			if resp.Error != nil && resp.Error.Message != "" {
				res.Err = fmt.Errorf("wait for container %s: %s", shortID(id), resp.Error.Message)
			}
			ctx, cancel := context.WithTimeout(d.ctx, apiTimeout)
			if info, ierr := d.cli.ContainerInspect(ctx, id); ierr == nil && info.ContainerJSONBase != nil && info.State != nil {
				res.OOMKilled = info.State.OOMKilled
			}
			cancel()
			return res, true
		case err = <-errCh:
		}
		if d.ctx.Err() != nil {
			return nil, false
		}
		if cerrdefs.IsNotFound(err) {
			return &drivers.ExitResult{Err: fmt.Errorf("container %s is gone", shortID(id))}, true
		}
		d.logger.Printf("docker: wait for container %s: %v; retrying", shortID(id), err)
		select {
		case <-d.ctx.Done():
			return nil, false
		case <-time.After(time.Second):
		}
	}
}

// WaitTask returns a channel that receives the task's exit once, or
// nothing if ctx ends first.
func (d *Driver) WaitTask(ctx context.Context, taskID string) (<-chan *drivers.ExitResult, error) {
	t, err := d.get(taskID)
	if err != nil {
		return nil, err
	}
	ch := make(chan *drivers.ExitResult, 1)
	go func() {
		select {
		case <-t.exited:
			ch <- t.result
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

// RecoverTask re-attaches to the container of a handle written by an
// earlier client: it looks the container up by ID and only watches it
// again, running or exited; it never creates one. A container that is gone
// is an error wrapping drivers.ErrTaskNotFound.
func (d *Driver) RecoverTask(ctx context.Context, h *drivers.TaskHandle) error {
	if h == nil || h.Config == nil {
		return errors.New("docker: recover: handle has no task config")
	}
	if h.Driver != "" && h.Driver != Name {
		return fmt.Errorf("docker: recover %s: handle belongs to driver %q", h.Config.ID, h.Driver)
	}
	var st handleState
	if err := json.Unmarshal(h.State, &st); err != nil || st.ContainerID == "" {
		return fmt.Errorf("docker: recover %s: bad handle state %q", h.Config.ID, h.State)
	}
	if t, err := d.get(h.Config.ID); err == nil {
		if t.containerID == st.ContainerID {
			return nil
		}
		return fmt.Errorf("docker: recover %s: already attached to container %s", h.Config.ID, shortID(t.containerID))
	}
	info, err := d.cli.ContainerInspect(ctx, st.ContainerID)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("docker: recover %s: container %s is gone: %w", h.Config.ID, shortID(st.ContainerID), drivers.ErrTaskNotFound)
		}
		return fmt.Errorf("docker: recover %s: inspect container %s: %w", h.Config.ID, shortID(st.ContainerID), err)
	}
	t := &task{cfg: h.Config, containerID: info.ID, imageID: st.ImageID}
	running := info.State != nil && info.State.Running
	if running {
		if t.fwd, err = d.forwardPorts(ctx, t); err != nil {
			return fmt.Errorf("docker: recover %s: %w", h.Config.ID, err)
		}
	}
	if err := d.attach(t); err != nil {
		t.fwd.close()
		return fmt.Errorf("docker: recover %s: %w", h.Config.ID, err)
	}
	d.logger.Printf("docker: recovered task %s: container %s (running: %v)", h.Config.ID, shortID(info.ID), running)
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
