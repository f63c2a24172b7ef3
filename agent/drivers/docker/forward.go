package docker

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Options configure a driver beyond what the engine's environment says.
type Options struct {
	// TaskNetwork, when set, makes every task container join this Docker
	// network instead of the engine's default bridge, and the driver
	// forwards each published port itself: a TCP listener on the port's
	// host address (the node's own address) relays to the container's
	// address on the network. It is for clients that are themselves
	// containers with the host's Docker socket (`drover cluster up`): the
	// engine would publish ports on the host, where the node's address
	// does not exist, so a task would be unreachable at the address its
	// allocation advertises. UDP ports are not forwarded.
	TaskNetwork string

	// StandIns maps images to the stand-in images run in their place
	// when they are not present on the engine, such as "redis:3.2" to
	// "drover-lab/redis:3.2" (built by drover lab images -standin) on a
	// lab machine with no registry. A task whose image is present runs
	// it; one whose image is absent runs its stand-in, and the driver
	// says so in a task event and its log: a stand-in is never
	// substituted silently. Images are compared in their short form
	// ("docker.io/library/redis:3.2" is "redis:3.2", "redis" is
	// "redis:latest"). The task's config keeps the job's image name.
	StandIns map[string]string
}

// forwarder relays a task's published TCP ports to its container.
type forwarder struct {
	listeners []net.Listener
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
}

// forwardPorts opens the listeners of a task whose container runs on the
// task network. It is called after the container is started or found
// again, so a re-attached task is reachable again too.
func (d *Driver) forwardPorts(ctx context.Context, t *task) (*forwarder, error) {
	if d.opts.TaskNetwork == "" {
		return nil, nil
	}
	tc, err := parseConfig(t.cfg.Config)
	if err != nil {
		return nil, err
	}
	_, bindings, err := portBindings(t.cfg, tc)
	if err != nil {
		return nil, err
	}
	if len(bindings) == 0 {
		return nil, nil
	}
	info, err := d.cli.ContainerInspect(ctx, t.containerID)
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", shortID(t.containerID), err)
	}
	var ip string
	if info.NetworkSettings != nil {
		if ep := info.NetworkSettings.Networks[d.opts.TaskNetwork]; ep != nil {
			ip = ep.IPAddress
		}
	}
	if ip == "" {
		return nil, fmt.Errorf("container %s has no address on network %q", shortID(t.containerID), d.opts.TaskNetwork)
	}
	f := &forwarder{conns: map[net.Conn]struct{}{}}
	for port, binds := range bindings {
		if port.Proto() != "tcp" {
			continue
		}
		for _, b := range binds {
			listen := net.JoinHostPort(b.HostIP, b.HostPort)
			l, err := net.Listen("tcp", listen)
			if err != nil {
				f.close()
				return nil, fmt.Errorf("forward %s: %w", listen, err)
			}
			f.listeners = append(f.listeners, l)
			target := net.JoinHostPort(ip, strconv.Itoa(port.Int()))
			f.wg.Add(1)
			go f.serve(l, target)
			d.logger.Printf("docker: task %s: forwarding %s to %s", t.cfg.ID, listen, target)
		}
	}
	return f, nil
}

func (f *forwarder) serve(l net.Listener, target string) {
	defer f.wg.Done()
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.relay(in, target)
		}()
	}
}

func (f *forwarder) relay(in net.Conn, target string) {
	out, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		in.Close()
		return
	}
	if !f.track(in, out) {
		return
	}
	defer f.untrack(in, out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so the other side sees the end of this direction.
		if c, ok := dst.(*net.TCPConn); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// track registers a relayed pair so close can end it; it refuses (and
// closes both) once the forwarder is closed.
func (f *forwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) untrack(conns ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(f.conns, c)
	}
}

// close stops listening and ends the relayed connections.
func (f *forwarder) close() {
	if f == nil {
		return
	}
	for _, l := range f.listeners {
		l.Close()
	}
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}
