// Package agent runs a Drover agent from its configuration: the server
// role (raft, scheduler, leader loops), the client role (runs tasks), or
// both, with the /v1 HTTP API in front.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"drover/agent/client"
	"drover/agent/config"
	"drover/agent/drivers"
	"drover/agent/drivers/docker"
	"drover/agent/drivers/mock"
	"drover/agent/drivers/rawexec"
	"drover/agent/httpapi"
	droverrpc "drover/agent/rpc"
	"drover/agent/server"
)

// Agent is a running agent.
type Agent struct {
	config   *config.Config
	server   *server.Server
	client   *client.Client
	http     *http.Server
	listener net.Listener
	logger   *log.Logger
	tempDir  string

	mu         sync.Mutex
	serverHTTP string
}

// Version is reported by the agent endpoints; the CLI sets it.
var Version = "0.1.0-dev"

// New starts an agent with a validated configuration. It returns once the
// HTTP API listens (and, for a server, once a leader is known).
func New(cfg *config.Config, logger *log.Logger) (*Agent, error) {
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	a := &Agent{config: cfg, logger: logger}
	name := cfg.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	bind := cfg.BindAddrs()
	adv, err := cfg.AdvertiseAddrs()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", bind.HTTP)
	if err != nil {
		return nil, fmt.Errorf("listen for HTTP on %s: %w", bind.HTTP, err)
	}
	a.listener = l
	httpAdv := adv.HTTP
	if strings.HasSuffix(bind.HTTP, ":0") {
		httpAdv = l.Addr().String()
	}
	fail := func(err error) (*Agent, error) {
		a.Shutdown()
		return nil, err
	}
	if cfg.Server.Enabled {
		scfg := server.DefaultConfig()
		scfg.NodeName = name
		scfg.Region, scfg.Datacenter = cfg.Region, cfg.Datacenter
		if !cfg.DevMode {
			scfg.DataDir = cfg.DataDir
		}
		scfg.RPCAddr, scfg.RPCAdvertise, scfg.HTTPAddr = bind.RPC, adv.RPC, httpAdv
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
		if a.server, err = server.NewServer(scfg); err != nil {
			return fail(fmt.Errorf("start server: %w", err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := a.server.WaitForLeader(ctx)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("wait for a cluster leader: %w", err))
		}
	}
	if cfg.Client.Enabled {
		if a.client, err = a.startClient(name, httpAdv); err != nil {
			return fail(fmt.Errorf("start client: %w", err))
		}
	}
	info := httpapi.AgentInfo{
		NodeName: name, Region: cfg.Region, Datacenter: cfg.Datacenter, Version: Version,
		Server: a.server != nil, Client: a.client != nil, HTTPAddr: httpAdv,
	}
	if a.client != nil {
		info.NodeID = a.client.NodeID()
	}
	var handler http.Handler
	if a.server != nil {
		info.RPCAddr = a.server.RPCAddr()
		var opts []httpapi.Option
		if a.client != nil {
			opts = append(opts, httpapi.WithClient(a.client))
		}
		handler = httpapi.NewHandler(a.server, info, logger, opts...)
	} else {
		handler = httpapi.NewClientHandler(a.client, a.findServerHTTP, info, logger)
	}
	a.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go a.http.Serve(l)
	return a, nil
}

// startClient builds the client role: its directories, its drivers and
// the servers it registers with.
func (a *Agent) startClient(name, httpAdv string) (*client.Client, error) {
	cfg := a.config
	dataDir := cfg.DataDir
	if cfg.DevMode || dataDir == "" {
		dir, err := os.MkdirTemp("", "drover-dev-")
		if err != nil {
			return nil, err
		}
		a.tempDir, dataDir = dir, dir
	}
	stateDir, allocDir := cfg.Client.StateDir, cfg.Client.AllocDir
	if stateDir == "" {
		stateDir = filepath.Join(dataDir, "client")
	}
	if allocDir == "" {
		allocDir = filepath.Join(dataDir, "alloc")
	}
	var servers []string
	if a.server != nil {
		servers = append(servers, a.server.RPCAddr())
	}
	for _, s := range cfg.Client.Servers {
		addr, err := config.NormalizeAddr(s, config.DefaultRPCPort)
		if err != nil {
			return nil, err
		}
		servers = append(servers, addr)
	}
	ccfg := &client.Config{
		NodeName: name, Datacenter: cfg.Datacenter, NodeClass: cfg.Client.NodeClass, Meta: cfg.Client.Meta,
		Servers: servers, StateDir: stateDir, AllocDir: allocDir, NetworkInterface: cfg.Client.NetworkInterface,
		HTTPAddr: httpAdv, CPUTotalCompute: cfg.Client.CPUTotalCompute, MemoryTotalMB: cfg.Client.MemoryTotalMB,
		DiskTotalMB: cfg.Client.DiskTotalMB, ReservedCPU: cfg.Client.Reserved.CPU, ReservedMemoryMB: cfg.Client.Reserved.MemoryMB,
		MinDynamicPort: cfg.Client.MinDynamicPort, MaxDynamicPort: cfg.Client.MaxDynamicPort,
		MaxKillTimeout: cfg.Client.MaxKillTimeout, Version: Version, Logger: a.logger,
	}
	return client.New(ccfg, a.drivers())
}

// drivers builds the client's driver registry. raw_exec runs commands
// without isolation, so it is off unless enabled (plugin config or client
// option), except in dev mode.
func (a *Agent) drivers() *drivers.Registry {
	cfg := a.config
	rawExec := cfg.DevMode
	if p := cfg.Plugins["raw_exec"]; p != nil {
		if v, ok := p.Config["enabled"].(bool); ok {
			rawExec = rawExec || v
		}
	}
	if v, ok := cfg.Client.Options["driver.raw_exec.enable"]; ok {
		if b, err := strconv.ParseBool(v); err == nil {
			rawExec = rawExec || b
		}
	}
	list := []drivers.Driver{rawexec.New(rawExec)}
	var dockerOpts docker.Options
	if p := cfg.Plugins["docker"]; p != nil {
		// Drover's own option (see docker.Options): tasks join this
		// network and the client forwards their ports.
		if v, ok := p.Config["task_network"].(string); ok {
			dockerOpts.TaskNetwork = v
		}
	}
	if d, err := docker.New(a.logger, dockerOpts); err == nil {
		list = append(list, d)
	} else {
		a.logger.Printf("[WARN] agent: docker driver unavailable: %v", err)
	}
	// The mock driver is for tests and simulated clusters: dev mode, or
	// client option "driver.mock.enable".
	mockEnabled := cfg.DevMode
	if v, ok := cfg.Client.Options["driver.mock.enable"]; ok {
		if b, err := strconv.ParseBool(v); err == nil {
			mockEnabled = b
		}
	}
	if mockEnabled {
		list = append(list, mock.New())
	}
	return drivers.NewRegistry(list...)
}

// findServerHTTP finds a server's HTTP API address for a client-only
// agent, asking its servers over RPC and remembering the answer.
func (a *Agent) findServerHTTP() (string, error) {
	a.mu.Lock()
	cached := a.serverHTTP
	a.mu.Unlock()
	if cached != "" {
		return cached, nil
	}
	var servers []string
	for _, s := range a.config.Client.Servers {
		if addr, err := config.NormalizeAddr(s, config.DefaultRPCPort); err == nil {
			servers = append(servers, addr)
		}
	}
	pool := droverrpc.NewPool(5 * time.Second)
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var addr string
	if err := pool.CallAny(ctx, servers, "Status.HTTPAddr", &struct{}{}, &addr); err != nil {
		return "", err
	}
	if addr == "" {
		return "", errors.New("the server did not report its HTTP address")
	}
	a.mu.Lock()
	a.serverHTTP = addr
	a.mu.Unlock()
	return addr, nil
}

// HTTPAddr is the address the HTTP API listens on.
func (a *Agent) HTTPAddr() string { return a.listener.Addr().String() }

// Server is the agent's server role, or nil.
func (a *Agent) Server() *server.Server { return a.server }

// Client is the agent's client role, or nil.
func (a *Agent) Client() *client.Client { return a.client }

// Shutdown stops the HTTP API, the client (a dev agent also stops its
// tasks; otherwise they keep running for the next start) and the server.
func (a *Agent) Shutdown() error {
	var errs []error
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, a.http.Shutdown(ctx))
		cancel()
	} else if a.listener != nil {
		a.listener.Close()
	}
	if a.client != nil {
		if a.config.DevMode {
			errs = append(errs, a.client.Stop())
		} else {
			errs = append(errs, a.client.Shutdown())
		}
	}
	if a.server != nil {
		errs = append(errs, a.server.Shutdown())
	}
	if a.tempDir != "" {
		os.RemoveAll(a.tempDir)
	}
	return errors.Join(errs...)
}
