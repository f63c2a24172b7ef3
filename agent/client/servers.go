package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	droverrpc "drover/agent/rpc"
	"drover/agent/wire"
)

// serverList is the servers a client talks to: the ones it was configured
// with, never dropped, and the ones the servers name in their replies
// (which may be more, after servers were added). The server that answered
// last is tried first, so a client stays with a live server and only
// fails over when it stops answering.
type serverList struct {
	mu    sync.Mutex
	addrs []string
}

func newServerList(configured []string) *serverList {
	return &serverList{addrs: append([]string(nil), configured...)}
}

// all returns the servers in the order to try them.
func (l *serverList) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.addrs...)
}

// prefer moves addr to the front.
func (l *serverList) prefer(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, a := range l.addrs {
		if a == addr {
			copy(l.addrs[1:i+1], l.addrs[:i])
			l.addrs[0] = addr
			return
		}
	}
}

// learn adds the servers a reply named that the list lacks.
func (l *serverList) learn(addrs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range addrs {
		known := false
		for _, b := range l.addrs {
			known = known || a == b
		}
		if !known && a != "" {
			l.addrs = append(l.addrs, a)
		}
	}
}

// callServers tries each server in turn until one answers. A transport
// error, or an answer that there is no leader right now, moves on to the
// next; any other answer (success or a real error) ends the call, with
// the error's kind restored.
func (c *Client) callServers(ctx context.Context, method string, args, reply interface{}) error {
	var errs []error
	for _, addr := range c.servers.all() {
		err := c.pool.Call(ctx, addr, method, args, reply)
		if err == nil {
			c.servers.prefer(addr)
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		if droverrpc.IsServerError(err) {
			remote := wire.Decode(err)
			if !errors.Is(remote, wire.ErrNotLeader) && !errors.Is(remote, wire.ErrNoLeader) {
				c.servers.prefer(addr)
				return remote
			}
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return droverrpc.ErrNoServers
	}
	return fmt.Errorf("%w reachable: %w", droverrpc.ErrNoServers, errors.Join(errs...))
}
