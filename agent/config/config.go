package config

import (
	"os"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Default ports of the three agent services.
const (
	DefaultHTTPPort = 4646
	DefaultRPCPort  = 4647
	DefaultSerfPort = 4648
)

// Config is the agent configuration. A Config returned by Parse, ParseFile
// or LoadPaths holds only what the files set; Default and DevConfig return
// complete configurations, and Merge layers one Config over another.
//
// The hcl struct tags name the configuration keys; they drive decoding,
// merging and the paths accepted by IsSet and MarkSet.
type Config struct {
	// Name is the node name; empty means the agent uses the host name.
	Name string `hcl:"name"`

	// Region is the region the agent belongs to. Default "global".
	Region string `hcl:"region"`

	// Datacenter is the datacenter the agent belongs to. Default "dc1".
	Datacenter string `hcl:"datacenter"`

	// DataDir is the base directory for all agent state.
	DataDir string `hcl:"data_dir"`

	// LogLevel is one of TRACE, DEBUG, INFO, WARN or ERROR. It is accepted
	// in any case and stored in upper case. Default "INFO".
	LogLevel string `hcl:"log_level"`

	// BindAddr is the address every service listens on unless Addresses
	// overrides it. Default "0.0.0.0".
	BindAddr string `hcl:"bind_addr"`

	// LeaveOnInterrupt makes the agent leave the cluster gracefully on
	// SIGINT.
	LeaveOnInterrupt bool `hcl:"leave_on_interrupt"`

	// LeaveOnTerminate makes the agent leave the cluster gracefully on
	// SIGTERM.
	LeaveOnTerminate bool `hcl:"leave_on_terminate"`

	// EnableDebug turns on the debugging HTTP endpoints.
	EnableDebug bool `hcl:"enable_debug"`

	// DisableUpdateCheck turns off the check for newer releases.
	DisableUpdateCheck bool `hcl:"disable_update_check"`

	// Ports holds the listening ports of the services (block "ports").
	Ports Ports `hcl:"ports"`

	// Addresses holds per-service bind address overrides (block
	// "addresses"). An empty entry means BindAddr.
	Addresses AddressConfig `hcl:"addresses"`

	// Advertise holds the addresses other agents should use to reach this
	// one (block "advertise"). Each entry is "host" or "host:port"; a
	// missing port is taken from Ports.
	Advertise AddressConfig `hcl:"advertise"`

	// Server configures the server role (block "server").
	Server ServerConfig `hcl:"server"`

	// Client configures the client role (block "client").
	Client ClientConfig `hcl:"client"`

	// UI configures the web UI (block "ui").
	UI UIConfig `hcl:"ui"`

	// TLS configures mutual TLS between agents and HTTPS (block "tls");
	// off when absent.
	TLS TLSConfig `hcl:"tls"`
	// ACL turns access control on (block "acl"). Off by default.
	ACL ACLConfig `hcl:"acl"`

	// Plugins holds the task driver and device plugin settings, keyed by
	// plugin name (blocks `plugin "<name>" { ... }`).
	Plugins map[string]*PluginConfig `hcl:"plugin,plugins"`

	// DevMode marks the in-memory development configuration. It is never
	// read from a file.
	DevMode bool

	// set records which configuration paths were explicitly set, and
	// where. It lets a later file set a zero value (enabled = false) over
	// an earlier non-zero one. Configs built in Go code have a nil set.
	set map[string]hcl.Range
}

// Ports holds the listening ports of the agent services.
type Ports struct {
	// HTTP is the HTTP API port. Default 4646.
	HTTP int `hcl:"http"`
	// RPC is the internal RPC port. Default 4647.
	RPC int `hcl:"rpc"`
	// Serf is the gossip port used between servers. Default 4648.
	Serf int `hcl:"serf"`
}

// AddressConfig holds one address per agent service. It is used both for
// bind overrides (Config.Addresses) and advertised addresses
// (Config.Advertise).
type AddressConfig struct {
	// HTTP is the address of the HTTP API.
	HTTP string `hcl:"http"`
	// RPC is the address of the internal RPC endpoint.
	RPC string `hcl:"rpc"`
	// Serf is the address of the gossip endpoint.
	Serf string `hcl:"serf"`
}

// ServerConfig configures the server role.
type ServerConfig struct {
	// Enabled runs the agent as a server.
	Enabled bool `hcl:"enabled"`

	// BootstrapExpect is the number of servers to wait for before the
	// cluster elects a leader. 0 disables bootstrapping.
	BootstrapExpect int `hcl:"bootstrap_expect"`

	// DataDir overrides the top-level DataDir for server state.
	DataDir string `hcl:"data_dir"`

	// JobGCThreshold, EvalGCThreshold, DeploymentGCThreshold and
	// NodeGCThreshold are how long a dead job, a finished evaluation, a
	// finished deployment and a down node are kept before garbage
	// collection; 0 keeps the defaults (4h, 1h, 1h, 24h).
	JobGCThreshold time.Duration `hcl:"job_gc_threshold"`
	// JobGCInterval is how often the leader collects garbage; 0 keeps
	// the default of 5 minutes.
	JobGCInterval         time.Duration `hcl:"job_gc_interval"`
	EvalGCThreshold       time.Duration `hcl:"eval_gc_threshold"`
	DeploymentGCThreshold time.Duration `hcl:"deployment_gc_threshold"`
	NodeGCThreshold       time.Duration `hcl:"node_gc_threshold"`

	// MaxGroupCount raises (or lowers) the largest count a task group may
	// ask for; 0 keeps the default of 10,000 (see structs.Limits).
	MaxGroupCount int `hcl:"max_group_count"`

	// NumSchedulers is the number of scheduler workers; 0 means one per
	// CPU core.
	NumSchedulers int `hcl:"num_schedulers"`

	// HeartbeatGrace is the extra time allowed on top of a client's TTL
	// before it is marked down. Default 10s.
	HeartbeatGrace time.Duration `hcl:"heartbeat_grace"`

	// MinHeartbeatTTL is the smallest TTL handed to a client. Default 10s.
	MinHeartbeatTTL time.Duration `hcl:"min_heartbeat_ttl"`

	// ServerJoin controls how the server finds its peers (block
	// "server_join").
	ServerJoin ServerJoin `hcl:"server_join"`

	// Encrypt is the gossip encryption key, base64 of 16, 24 or 32 bytes;
	// every server of the region must use the same one. Empty gossips in
	// the clear.
	Encrypt string `hcl:"encrypt"`
}

// ServerJoin controls how an agent joins the servers of its region.
type ServerJoin struct {
	// RetryJoin lists addresses to join, retrying until one succeeds.
	RetryJoin []string `hcl:"retry_join"`

	// RetryMaxAttempts caps the join attempts (hcl "retry_max"); 0 means
	// retry forever.
	RetryMaxAttempts int `hcl:"retry_max"`

	// RetryInterval is the pause between join attempts. Default 30s.
	RetryInterval time.Duration `hcl:"retry_interval"`

	// StartJoin lists addresses to join once at start-up.
	StartJoin []string `hcl:"start_join"`
}

// ClientConfig configures the client role.
type ClientConfig struct {
	// Enabled runs the agent as a client.
	Enabled bool `hcl:"enabled"`

	// Servers lists the servers to register with, each "host" or
	// "host:port" (port default 4647).
	Servers []string `hcl:"servers"`

	// ServerJoin controls how the client finds servers (block
	// "server_join").
	ServerJoin ServerJoin `hcl:"server_join"`

	// StateDir overrides where client state is kept.
	StateDir string `hcl:"state_dir"`

	// AllocDir overrides where allocation directories are created.
	AllocDir string `hcl:"alloc_dir"`

	// NodeClass is an arbitrary class used in constraints.
	NodeClass string `hcl:"node_class"`

	// NetworkInterface forces the network interface used for
	// fingerprinting and allocation addresses.
	NetworkInterface string `hcl:"network_interface"`

	// NetworkSpeed overrides the fingerprinted link speed in MBits.
	NetworkSpeed int `hcl:"network_speed"`

	// CPUTotalCompute overrides the fingerprinted CPU capacity in MHz.
	CPUTotalCompute int `hcl:"cpu_total_compute"`

	// MemoryTotalMB overrides the fingerprinted memory in MB.
	MemoryTotalMB int `hcl:"memory_total_mb"`

	// DiskTotalMB overrides the fingerprinted disk space in MB.
	DiskTotalMB int `hcl:"disk_total_mb"`

	// Options are free-form key/value settings for drivers and
	// fingerprinters. They may be written as a block with quoted keys,
	// options { "driver.raw_exec.enable" = "1" }, or as a map attribute.
	Options map[string]string `hcl:"options"`

	// Meta is free-form node metadata; block or map attribute like Options.
	Meta map[string]string `hcl:"meta"`

	// Reserved is the capacity withheld from scheduling (block
	// "reserved").
	Reserved ReservedResources `hcl:"reserved"`

	// MinDynamicPort is the lowest dynamically assigned port. Default
	// 20000.
	MinDynamicPort int `hcl:"min_dynamic_port"`

	// MaxDynamicPort is the highest dynamically assigned port. Default
	// 32000.
	MaxDynamicPort int `hcl:"max_dynamic_port"`

	// MaxKillTimeout caps the kill timeout a task may ask for. Default 30s.
	MaxKillTimeout time.Duration `hcl:"max_kill_timeout"`

	// GCInterval is how often terminal allocations are collected. Default
	// 1m.
	GCInterval time.Duration `hcl:"gc_interval"`

	// GCMaxAllocs is the number of allocations kept before garbage
	// collection is forced. Default 50.
	GCMaxAllocs int `hcl:"gc_max_allocs"`
}

// ReservedResources is the node capacity withheld from scheduling.
type ReservedResources struct {
	// CPU is reserved CPU in MHz.
	CPU int `hcl:"cpu"`
	// MemoryMB is reserved memory in MB (hcl "memory").
	MemoryMB int `hcl:"memory"`
	// DiskMB is reserved disk in MB (hcl "disk").
	DiskMB int `hcl:"disk"`
	// ReservedPorts is a port specification such as "22,80,8000-8100".
	ReservedPorts string `hcl:"reserved_ports"`
}

// UIConfig configures the web UI.
type UIConfig struct {
	// Enabled serves the web UI. Default true.
	Enabled bool `hcl:"enabled"`
	// ShowCLIHints lets CLI commands print a link to the matching web UI
	// page (on stderr). Default true.
	ShowCLIHints bool `hcl:"show_cli_hints"`
}

// ACLConfig configures access control.
type ACLConfig struct {
	// Enabled checks the token of every HTTP request and RPC. All
	// servers of a cluster, and its clients, must agree on it.
	Enabled bool `hcl:"enabled"`
	// TokenTTL and PolicyTTL are accepted for compatibility and unused:
	// they bound how long the compatible agent caches resolved tokens and
	// policies, and Drover caches none (every request is checked against
	// the current state).
	TokenTTL  time.Duration `hcl:"token_ttl"`
	PolicyTTL time.Duration `hcl:"policy_ttl"`
}

// PluginConfig is the configuration of one plugin.
type PluginConfig struct {
	// Name is the plugin name, taken from the block label.
	Name string

	// Args are extra command-line arguments for external plugins.
	Args []string `hcl:"args"`

	// Config is the opaque plugin configuration from the "config" block.
	// Values are string, int64 (whole numbers), float64, bool,
	// []interface{} and map[string]interface{}; a nested block becomes a
	// []map[string]interface{} entry under the block name.
	Config map[string]interface{} `hcl:"config"`
}

// Default returns the default agent configuration.
func Default() *Config {
	return &Config{
		Region:     "global",
		Datacenter: "dc1",
		LogLevel:   "INFO",
		BindAddr:   "0.0.0.0",
		Ports: Ports{
			HTTP: DefaultHTTPPort,
			RPC:  DefaultRPCPort,
			Serf: DefaultSerfPort,
		},
		Server: ServerConfig{
			HeartbeatGrace:  10 * time.Second,
			MinHeartbeatTTL: 10 * time.Second,
			ServerJoin:      ServerJoin{RetryInterval: 30 * time.Second},
		},
		Client: ClientConfig{
			ServerJoin:     ServerJoin{RetryInterval: 30 * time.Second},
			MinDynamicPort: 20000,
			MaxDynamicPort: 32000,
			MaxKillTimeout: 30 * time.Second,
			GCInterval:     time.Minute,
			GCMaxAllocs:    50,
		},
		UI: UIConfig{
			Enabled:      true,
			ShowCLIHints: true,
		},
	}
}

// DevConfig returns the in-memory configuration used by "-dev": a single
// agent that is both a bootstrapping server and a client, listening on the
// loopback interface and needing no data directory. Config files given
// together with -dev are merged over it.
func DevConfig() *Config {
	name, err := os.Hostname()
	if err != nil {
		name = "dev"
	}
	dev := &Config{
		Name:     name,
		LogLevel: "DEBUG",
		BindAddr: "127.0.0.1",
		Server: ServerConfig{
			Enabled:         true,
			BootstrapExpect: 1,
		},
		Client: ClientConfig{
			Enabled:          true,
			NetworkInterface: "lo",
			Options:          map[string]string{"driver.raw_exec.enable": "1"},
			GCInterval:       10 * time.Minute,
			GCMaxAllocs:      50,
		},
		Plugins: map[string]*PluginConfig{
			"raw_exec": {
				Name:   "raw_exec",
				Config: map[string]interface{}{"enabled": true},
			},
		},
		DevMode: true,
	}
	return Merge(Default(), dev)
}

// IsSet reports whether the configuration path (hcl key names joined by
// dots, e.g. "server.enabled", "client.options", "plugin.docker") was set
// explicitly by a file or by MarkSet.
func (c *Config) IsSet(path string) bool {
	if c == nil {
		return false
	}
	_, ok := c.set[path]
	return ok
}

// MarkSet records paths as explicitly set, so that Merge copies their
// values even when they are zero. Command-line flag handling uses it to
// let, for example, -server=false override a file.
func (c *Config) MarkSet(paths ...string) {
	if c.set == nil {
		c.set = make(map[string]hcl.Range, len(paths))
	}
	for _, p := range paths {
		if _, ok := c.set[p]; !ok {
			c.set[p] = hcl.Range{}
		}
	}
}

// rangeOf returns where path was set, if it came from a file.
func (c *Config) rangeOf(path string) (hcl.Range, bool) {
	r, ok := c.set[path]
	if !ok || r.Filename == "" {
		return hcl.Range{}, false
	}
	return r, true
}
