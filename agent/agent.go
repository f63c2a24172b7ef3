// Package agent runs a Drover agent from its configuration: the server
// (raft, scheduler, leader loops) with the /v1 HTTP API in front of it.
// The client side joins in a later step; until then an agent must have
// the server role.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"drover/agent/config"
	"drover/agent/httpapi"
	"drover/agent/server"
)

// ErrNoClient is returned for a client-only configuration: this build has
// no client yet, and an agent that would do nothing must not pretend.
var ErrNoClient = errors.New("this build of Drover has no client yet: the agent needs server { enabled = true } or -dev")

// Agent is a running agent.
type Agent struct {
	config   *config.Config
	server   *server.Server
	http     *http.Server
	listener net.Listener
	logger   *log.Logger
}

// New starts an agent with a validated configuration. It returns once the
// server leads (a single server elects itself) and the HTTP API listens.
func New(cfg *config.Config, logger *log.Logger) (*Agent, error) {
	if !cfg.Server.Enabled {
		return nil, ErrNoClient
	}
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	name := cfg.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	bind := cfg.BindAddrs()
	adv, err := cfg.AdvertiseAddrs()
	if err != nil {
		return nil, err
	}
	scfg := server.DefaultConfig()
	scfg.NodeName = name
	scfg.Region, scfg.Datacenter = cfg.Region, cfg.Datacenter
	if !cfg.DevMode {
		scfg.DataDir = cfg.DataDir
	}
	scfg.RPCAddr = bind.RPC
	scfg.RPCAdvertise = adv.RPC
	if cfg.Server.NumSchedulers > 0 {
		scfg.NumSchedulers = cfg.Server.NumSchedulers
	}
	if cfg.Server.MinHeartbeatTTL > 0 {
		scfg.MinHeartbeatTTL = cfg.Server.MinHeartbeatTTL
	}
	if cfg.Server.HeartbeatGrace > 0 {
		scfg.HeartbeatGrace = cfg.Server.HeartbeatGrace
	}
	scfg.Logger = logger
	srv, err := server.NewServer(scfg)
	if err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	a := &Agent{config: cfg, server: srv, logger: logger}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.WaitForLeader(ctx); err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("wait for a cluster leader: %w", err)
	}
	l, err := net.Listen("tcp", bind.HTTP)
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("listen for HTTP on %s: %w", bind.HTTP, err)
	}
	a.listener = l
	httpAdv := adv.HTTP
	if strings.HasSuffix(bind.HTTP, ":0") {
		httpAdv = l.Addr().String()
	}
	info := httpapi.AgentInfo{
		NodeName: name, Region: cfg.Region, Datacenter: cfg.Datacenter, Version: Version,
		Server: true, Client: false, HTTPAddr: httpAdv, RPCAddr: srv.RPCAddr(),
	}
	a.http = &http.Server{Handler: httpapi.NewHandler(srv, info, logger), ReadHeaderTimeout: 10 * time.Second}
	go a.http.Serve(l)
	return a, nil
}

// Version is reported by the agent endpoints; the CLI sets it.
var Version = "0.1.0-dev"

// HTTPAddr is the address the HTTP API listens on.
func (a *Agent) HTTPAddr() string { return a.listener.Addr().String() }

// Server is the agent's server.
func (a *Agent) Server() *server.Server { return a.server }

// Shutdown stops the HTTP API, then the server.
func (a *Agent) Shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	herr := a.http.Shutdown(ctx)
	serr := a.server.Shutdown()
	return errors.Join(herr, serr)
}
