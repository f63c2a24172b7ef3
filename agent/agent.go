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

	"drover/agent/acl"
	"drover/agent/client"
	"drover/agent/config"
	"drover/agent/drivers"
	"drover/agent/drivers/docker"
	"drover/agent/drivers/mock"
	"drover/agent/drivers/rawexec"
	"drover/agent/httpapi"
	"drover/agent/logstream"
	droverrpc "drover/agent/rpc"
	"drover/agent/server"
	"drover/agent/structs"
	"drover/agent/ui"
	"drover/agent/wire"
)

// Agent is a running agent.
type Agent struct {
	config   *config.Config
	server   *server.Server
	client   *client.Client
	http     *http.Server
	listener net.Listener
	logger   *log.Logger
	logs     *logstream.Sink
	tempDir  string
	sec      *security
	// closeUI ends the web UI's waiting live requests; nil without it.
	closeUI func()

	mu         sync.Mutex
	serverHTTP string
}

// Version is reported by the agent endpoints; the CLI sets it.
var Version = "0.1.0-dev"

// New starts an agent with a validated configuration. It returns once the
// HTTP API listens (and, for a server, once a leader is known). Everything
// the agent logs goes to logger's output, with logger's prefix and flags,
// through a log fan-out that the monitor API subscribes to (see Logger).
func New(cfg *config.Config, logger *log.Logger) (*Agent, error) {
	if logger == nil {
		logger = log.New(os.Stderr, "", log.LstdFlags)
	}
	logs := logstream.NewSink(logger.Writer())
	logger = log.New(logs, logger.Prefix(), logger.Flags())
	a := &Agent{config: cfg, logger: logger, logs: logs}
	name := cfg.Name
	if name == "" {
		name, _ = os.Hostname()
	}
	bind := cfg.BindAddrs()
	adv, err := cfg.AdvertiseAddrs()
	if err != nil {
		return nil, err
	}
	if a.sec, err = loadSecurity(cfg); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", bind.HTTP)
	if err != nil {
		return nil, fmt.Errorf("listen for HTTP on %s: %w", bind.HTTP, err)
	}
	l = a.sec.httpListener(l)
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
			// server.data_dir overrides the top-level data_dir; raft and
			// gossip state live under <dir>/server either way.
			scfg.DataDir = cfg.DataDir
			if cfg.Server.DataDir != "" {
				scfg.DataDir = cfg.Server.DataDir
			}
		}
		scfg.RPCAddr, scfg.RPCAdvertise, scfg.HTTPAddr = bind.RPC, adv.RPC, httpAdv
		scfg.SerfAddr, scfg.SerfAdvertise = bind.Serf, adv.Serf
		scfg.BootstrapExpect = cfg.Server.BootstrapExpect
		if cfg.DevMode {
			scfg.BootstrapExpect = 1
		}
		join := cfg.Server.ServerJoin
		scfg.StartJoin, scfg.RetryJoin = join.StartJoin, join.RetryJoin
		scfg.RetryInterval, scfg.RetryMaxAttempts = join.RetryInterval, join.RetryMaxAttempts
		scfg.Build = Version
		for _, th := range []struct {
			set time.Duration
			to  *time.Duration
		}{
			{cfg.Server.JobGCThreshold, &scfg.GCThresholds.Job}, {cfg.Server.EvalGCThreshold, &scfg.GCThresholds.Eval},
			{cfg.Server.DeploymentGCThreshold, &scfg.GCThresholds.Deployment}, {cfg.Server.NodeGCThreshold, &scfg.GCThresholds.Node},
		} {
			if th.set > 0 {
				*th.to = th.set
			}
		}
		if cfg.Server.JobGCInterval > 0 {
			scfg.GCInterval = cfg.Server.JobGCInterval
		}
		if cfg.Server.MaxGroupCount > 0 {
			scfg.Limits.MaxGroupCount = cfg.Server.MaxGroupCount
			scfg.Limits.MaxJobAllocs = max(scfg.Limits.MaxJobAllocs, cfg.Server.MaxGroupCount)
		}
		if cfg.Server.NumSchedulers > 0 {
			scfg.NumSchedulers = cfg.Server.NumSchedulers
		}
		if cfg.Server.MinHeartbeatTTL > 0 {
			scfg.MinHeartbeatTTL = cfg.Server.MinHeartbeatTTL
		}
		if cfg.Server.HeartbeatGrace > 0 {
			scfg.HeartbeatGrace = cfg.Server.HeartbeatGrace
		}
		scfg.ACLEnabled = cfg.ACL.Enabled
		scfg.Logger = logger
		scfg.TLS, scfg.EncryptKey = a.sec.rpcLoaded(), a.sec.gossipKey
		if a.server, err = server.NewServer(scfg); err != nil {
			return fail(fmt.Errorf("start server: %w", err))
		}
		// A server that bootstraps alone leads within a second; one of
		// several serves its API at once and elects a leader when its
		// peers arrive, which may take as long as it takes to start them.
		if scfg.BootstrapExpect == 1 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := a.server.WaitForLeader(ctx)
			cancel()
			if err != nil {
				return fail(fmt.Errorf("wait for a cluster leader: %w", err))
			}
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
		// The CLI reads the UI's settings to decide on its web UI hints.
		Config: map[string]interface{}{
			"UI": map[string]interface{}{"Enabled": cfg.UI.Enabled, "ShowCLIHints": cfg.UI.ShowCLIHints},
		},
	}
	if a.client != nil {
		info.NodeID = a.client.NodeID()
	}
	var handler http.Handler
	if a.server != nil {
		info.RPCAddr = a.server.RPCAddr()
		opts := []httpapi.Option{httpapi.WithLogs(logs)}
		if a.client != nil {
			opts = append(opts, httpapi.WithClient(a.client))
		}
		if t := a.sec.forwardHTTP(); t != nil {
			opts = append(opts, httpapi.WithForwardTLS(t))
		}
		if cfg.ACL.Enabled {
			opts = append(opts, httpapi.WithACL(a.server.ResolveTokenFresh))
		}
		handler = httpapi.NewHandler(a.server, info, logger, opts...)
		if cfg.UI.Enabled {
			var uiOpts []ui.Option
			if cfg.ACL.Enabled {
				uiOpts = append(uiOpts, ui.WithACL(a.server.ResolveTokenFresh))
			}
			webUI := ui.New(a.server, uiOpts...)
			a.closeUI = webUI.Close
			handler = withUI(handler, webUI)
		}
	} else {
		opts := []httpapi.Option{httpapi.WithLogs(logs)}
		if t := a.sec.forwardHTTP(); t != nil {
			opts = append(opts, httpapi.WithForwardTLS(t))
		}
		if cfg.ACL.Enabled {
			opts = append(opts, httpapi.WithACL(a.resolveViaServers))
		}
		handler = httpapi.NewClientHandler(a.client, a.findServerHTTP, info, logger, opts...)
	}
	a.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		// net/http's own complaints (refused TLS handshakes, say) go to
		// the agent's log, not to the process's stderr.
		ErrorLog: log.New(logLines{logger, "[WARN] "}, "", 0)}
	// Log monitors stream until told to stop: end them when the agent
	// stops, or the HTTP server's shutdown would wait for them.
	a.http.RegisterOnShutdown(logs.Close)
	if a.closeUI != nil {
		// So do the web UI's live requests, which wait up to a minute.
		a.http.RegisterOnShutdown(a.closeUI)
	}
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
		ReservedDiskMB: cfg.Client.Reserved.DiskMB, ReservedPorts: cfg.Client.Reserved.ReservedPorts,
		MinDynamicPort: cfg.Client.MinDynamicPort, MaxDynamicPort: cfg.Client.MaxDynamicPort,
		MaxKillTimeout: cfg.Client.MaxKillTimeout, Version: Version, Logger: a.logger,
		RPCTLS: a.sec.outgoingRPC(), HTTPTLS: a.sec.http,
	}
	reg, err := a.drivers()
	if err != nil {
		return nil, err
	}
	return client.New(ccfg, reg)
}

// drivers builds the client's driver registry. raw_exec runs commands
// without isolation, so it is off unless enabled (plugin config or client
// option), except in dev mode.
func (a *Agent) drivers() (*drivers.Registry, error) {
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
	dockerOpts, err := dockerOptions(cfg.Plugins["docker"])
	if err != nil {
		return nil, err
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
	reg := drivers.NewRegistry(list...)
	if mockEnabled {
		reg.Alias(mock.CompatibleName, mock.Name)
	}
	return reg, nil
}

// dockerOptions reads Drover's own options of the docker plugin (see
// docker.Options): task_network, the network tasks join (the client then
// forwards their ports), and stand_ins, the images run in the place of
// absent ones:
//
//	plugin "docker" {
//	  config {
//	    task_network = "drover-lab"
//	    stand_ins    = { "redis:3.2" = "drover-lab/redis:3.2" }
//	  }
//	}
func dockerOptions(p *config.PluginConfig) (docker.Options, error) {
	var opts docker.Options
	if p == nil {
		return opts, nil
	}
	if v, ok := p.Config["task_network"].(string); ok {
		opts.TaskNetwork = v
	}
	if v, ok := p.Config["stand_ins"]; ok && v != nil {
		m, err := standIns(v)
		if err != nil {
			return opts, fmt.Errorf(`plugin "docker": config stand_ins: %w; write it as stand_ins = { "redis:3.2" = "drover-lab/redis:3.2" }`, err)
		}
		opts.StandIns = m
	}
	return opts, nil
}

// standIns decodes stand_ins, a map of image names to stand-in image
// names, from the plugin config's opaque value (a map, or a list of maps
// for block syntax).
func standIns(v interface{}) (map[string]string, error) {
	var ms []map[string]interface{}
	switch x := v.(type) {
	case map[string]interface{}:
		ms = []map[string]interface{}{x}
	case []map[string]interface{}:
		ms = x
	default:
		return nil, fmt.Errorf("must be a map of image names to stand-in image names, not %s", typeName(v))
	}
	out := map[string]string{}
	for _, m := range ms {
		for img, e := range m {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("the stand-in of %q must be a string (an image name), not %s", img, typeName(e))
			}
			switch {
			case strings.TrimSpace(img) == "":
				return nil, errors.New("an image name is empty")
			case strings.TrimSpace(s) == "":
				return nil, fmt.Errorf("the stand-in of %q is empty", img)
			case s == img:
				return nil, fmt.Errorf("%q cannot be its own stand-in", img)
			}
			out[img] = s
		}
	}
	return out, nil
}

// typeName names a plugin config value's type for an error message.
func typeName(v interface{}) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a bool"
	case int64, float64:
		return "a number"
	case []interface{}:
		return "a list"
	case map[string]interface{}, []map[string]interface{}:
		return "a map"
	}
	return fmt.Sprintf("%T", v)
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
	if t := a.sec.outgoingRPC(); t != nil {
		pool.SetTLS(t)
	}
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

// Logger is the agent's logger: what it logs reaches the output of the
// logger New was given and the monitor API's subscribers.
func (a *Agent) Logger() *log.Logger { return a.logger }

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

// resolveViaServers resolves a token for a client-only agent, which keeps
// no cluster state: a server answers from its state (ACL.ResolveToken)
// and the agent compiles the rules it returns. Nothing is cached, so a
// token deleted on the servers is refused here at the next request.
func (a *Agent) resolveViaServers(secret string) (*acl.ACL, *structs.ACLToken, error) {
	var res wire.ACLResolveResponse
	if err := a.client.ServerRPC("ACL.ResolveToken", &wire.ACLResolveArgs{SecretID: secret}, &res); err != nil {
		return nil, nil, fmt.Errorf("resolve ACL token: %w", err)
	}
	switch {
	case res.Denied:
		return nil, nil, wire.Errorf(wire.ErrPermissionDenied, "Permission denied")
	case !res.Enabled || res.Management:
		// Servers without ACLs check nothing; this agent's acl block
		// disagrees with theirs, and theirs decides.
		return acl.Management(), nil, nil
	}
	var policies []*acl.Policy
	for i, rules := range res.Rules {
		p, err := acl.Parse(fmt.Sprintf("policy %d", i+1), []byte(rules))
		if err != nil {
			continue
		}
		policies = append(policies, p)
	}
	return acl.New(policies), nil, nil
}

// withUI serves the web UI at /ui beside the API, and sends a browser
// that asks for the agent's root to it, as the compatible agent does.
// A client-only agent has no UI of its own: its API handler forwards /ui
// to a server like any other path.
func withUI(api, webUI http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ui", webUI)
	mux.Handle("/ui/", webUI)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/", http.StatusTemporaryRedirect)
	})
	mux.Handle("/", api)
	return mux
}
