package config

import (
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// repoRoot returns the module root, two directories above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// clearSet drops the record of explicitly set paths so that configs can be
// compared with reflect.DeepEqual.
func clearSet(c *Config) *Config {
	if c != nil {
		c.set = nil
	}
	return c
}

func mustParse(t *testing.T, src, name string) *Config {
	t.Helper()
	c, err := Parse([]byte(src), name)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return c
}

func TestParseShippedConfigs(t *testing.T) {
	dockerAndRawExec := map[string]*PluginConfig{
		"docker": {Name: "docker", Config: map[string]interface{}{
			"volumes": []map[string]interface{}{{"enabled": true}},
		}},
		"raw_exec": {Name: "raw_exec", Config: map[string]interface{}{"enabled": true}},
	}
	cases := []struct {
		name string
		file string
		want *Config
	}{
		{
			name: "server",
			file: "rendered/drover-server.hcl",
			want: &Config{
				Name:      "drover-server",
				LogLevel:  "DEBUG",
				DataDir:   "/opt/drover",
				BindAddr:  "192.168.56.101",
				Addresses: AddressConfig{HTTP: "0.0.0.0"},
				Server:    ServerConfig{Enabled: true, BootstrapExpect: 1},
				Advertise: AddressConfig{HTTP: "192.168.56.101:4646", RPC: "192.168.56.101:4647", Serf: "192.168.56.101:4648"},
			},
		},
		{
			name: "client one",
			file: "rendered/drover-client01.hcl",
			want: &Config{
				Name:     "client-one",
				LogLevel: "DEBUG",
				DataDir:  "/opt/drover",
				BindAddr: "192.168.56.102",
				Client: ClientConfig{
					Enabled:          true,
					Servers:          []string{"192.168.56.101:4647"},
					NetworkInterface: "eth1",
				},
				Advertise: AddressConfig{HTTP: "192.168.56.102:4646", RPC: "192.168.56.102:4647", Serf: "192.168.56.102:4648"},
				Plugins:   dockerAndRawExec,
			},
		},
		{
			name: "client two",
			file: "rendered/drover-client02.hcl",
			want: &Config{
				Name:     "client-two",
				LogLevel: "DEBUG",
				DataDir:  "/opt/drover",
				BindAddr: "192.168.56.103",
				Client: ClientConfig{
					Enabled:          true,
					Servers:          []string{"192.168.56.101:4647"},
					NetworkInterface: "eth1",
				},
				Advertise: AddressConfig{HTTP: "192.168.56.103:4646", RPC: "192.168.56.103:4647", Serf: "192.168.56.103:4648"},
				Plugins:   dockerAndRawExec,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(repoRoot(t), "configs", tc.file)
			got, err := ParseFile(path)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if !reflect.DeepEqual(clearSet(got), tc.want) {
				t.Errorf("ParseFile(%s) =\n%#v\nwant\n%#v", tc.file, got, tc.want)
			}

			eff := Merge(Default(), mustParseFile(t, path))
			eff.Normalize()
			if err := eff.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func mustParseFile(t *testing.T, path string) *Config {
	t.Helper()
	c, err := ParseFile(path)
	if err != nil {
		t.Fatalf("ParseFile(%s): %v", path, err)
	}
	return c
}

const tutorialServer = `# Increase log verbosity
log_level = "DEBUG"

# Setup data dir
data_dir = "/tmp/server1"

# Enable the server
server {
    enabled = true

    # Self-elect, should be 3 or 5 for production
    bootstrap_expect = 1
}

advertise {
  http = "172.17.8.101:4646"
  rpc  = "172.17.8.101:4647"
  serf = "172.17.8.101:4648"
}
`

const tutorialClient = `# Increase log verbosity
log_level = "DEBUG"

# Setup data dir
data_dir = "/tmp/client"

# Enable the client
client {
    enabled = true

    # For the demo we talk to server1 directly. In production this would
    # be a service-discovery name resolving to all servers.
    servers = ["172.17.8.101:4647"]
}

# Modify our port to avoid a collision with server1
ports {
    http = 5656
}
`

func TestParseTutorialFiles(t *testing.T) {
	cases := []struct {
		name  string
		src   string
		want  *Config
		check func(t *testing.T, eff *Config)
	}{
		{
			name: "server",
			src:  tutorialServer,
			want: &Config{
				LogLevel:  "DEBUG",
				DataDir:   "/tmp/server1",
				Server:    ServerConfig{Enabled: true, BootstrapExpect: 1},
				Advertise: AddressConfig{HTTP: "172.17.8.101:4646", RPC: "172.17.8.101:4647", Serf: "172.17.8.101:4648"},
			},
			check: func(t *testing.T, eff *Config) {
				if got := eff.Warnings(); len(got) != 1 || got[0] != "WARNING: Bootstrap mode enabled! Potentially unsafe operation." {
					t.Errorf("Warnings() = %q", got)
				}
			},
		},
		{
			name: "client",
			src:  tutorialClient,
			want: &Config{
				LogLevel: "DEBUG",
				DataDir:  "/tmp/client",
				Client:   ClientConfig{Enabled: true, Servers: []string{"172.17.8.101:4647"}},
				Ports:    Ports{HTTP: 5656},
			},
			check: func(t *testing.T, eff *Config) {
				if eff.Ports != (Ports{HTTP: 5656, RPC: 4647, Serf: 4648}) {
					t.Errorf("effective ports = %+v", eff.Ports)
				}
				if got := eff.Warnings(); len(got) != 0 {
					t.Errorf("Warnings() = %q, want none", got)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.src, tc.name+".hcl")
			eff := Merge(Default(), got)
			if !reflect.DeepEqual(clearSet(got), tc.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, tc.want)
			}
			if err := eff.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			tc.check(t, eff)
		})
	}
}

const allFieldsHCL = `
name                 = "node-a"
region               = "eu"
datacenter           = "dc9"
data_dir             = "/var/lib/drover"
log_level            = "warn"
bind_addr            = "10.0.0.5"
leave_on_interrupt   = true
leave_on_terminate   = true
enable_debug         = true
disable_update_check = true

ports {
  http = 5646
  rpc  = 5647
  serf = 5648
}

addresses {
  http = "127.0.0.1"
  rpc  = "10.0.0.5"
  serf = "10.0.0.6"
}

advertise {
  http = "node-a.example.com"
  rpc  = "10.0.0.5:7000"
  serf = "[::1]:7001"
}

server {
  enabled           = true
  bootstrap_expect  = 3
  data_dir          = "/srv/server"
  num_schedulers    = 4
  heartbeat_grace   = "30s"
  min_heartbeat_ttl = "15s"

  server_join {
    retry_join     = ["10.0.0.1", "10.0.0.2"]
    retry_max      = 5
    retry_interval = "15s"
    start_join     = ["10.0.0.3"]
  }
}

client {
  enabled = true
  servers = ["10.0.0.1", "10.0.0.2:5647"]

  server_join {
    retry_join     = ["provider=aws tag_key=role tag_value=server"]
    retry_max      = 2
    retry_interval = "1m"
    start_join     = []
  }

  state_dir         = "/srv/state"
  alloc_dir         = "/srv/alloc"
  node_class        = "batch"
  network_interface = "eth0"
  network_speed     = 1000
  cpu_total_compute = 8000
  memory_total_mb   = 16384
  disk_total_mb     = 100000

  options {
    "driver.raw_exec.enable" = "1"
    "docker.cleanup.image"   = false
  }

  meta = {
    rack         = "r1"
    "owner.team" = "infra"
  }

  reserved {
    cpu            = 500
    memory         = 512
    disk           = 1024
    reserved_ports = "22,80,8000-8100"
  }

  min_dynamic_port = 21000
  max_dynamic_port = 31000
  max_kill_timeout = "45s"
  gc_interval      = "5m"
  gc_max_allocs    = 75
}

ui {
  enabled        = false
  show_cli_hints = false
}

plugin "docker" {
  args = ["-v"]

  config {
    endpoint         = "unix:///var/run/docker.sock"
    allow_privileged = false
    pull_timeout     = 1.5
    max_retries      = 3
    labels           = ["a", "b"]
    extra            = { x = 1, y = "z" }

    volumes {
      enabled = true
    }

    gc {
      image       = true
      image_delay = "3m"
    }
  }
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}
`

func allFieldsWant() *Config {
	return &Config{
		Name:               "node-a",
		Region:             "eu",
		Datacenter:         "dc9",
		DataDir:            "/var/lib/drover",
		LogLevel:           "WARN",
		BindAddr:           "10.0.0.5",
		LeaveOnInterrupt:   true,
		LeaveOnTerminate:   true,
		EnableDebug:        true,
		DisableUpdateCheck: true,
		Ports:              Ports{HTTP: 5646, RPC: 5647, Serf: 5648},
		Addresses:          AddressConfig{HTTP: "127.0.0.1", RPC: "10.0.0.5", Serf: "10.0.0.6"},
		Advertise:          AddressConfig{HTTP: "node-a.example.com", RPC: "10.0.0.5:7000", Serf: "[::1]:7001"},
		Server: ServerConfig{
			Enabled:         true,
			BootstrapExpect: 3,
			DataDir:         "/srv/server",
			NumSchedulers:   4,
			HeartbeatGrace:  30 * time.Second,
			MinHeartbeatTTL: 15 * time.Second,
			ServerJoin: ServerJoin{
				RetryJoin:        []string{"10.0.0.1", "10.0.0.2"},
				RetryMaxAttempts: 5,
				RetryInterval:    15 * time.Second,
				StartJoin:        []string{"10.0.0.3"},
			},
		},
		Client: ClientConfig{
			Enabled: true,
			Servers: []string{"10.0.0.1", "10.0.0.2:5647"},
			ServerJoin: ServerJoin{
				RetryJoin:        []string{"provider=aws tag_key=role tag_value=server"},
				RetryMaxAttempts: 2,
				RetryInterval:    time.Minute,
				StartJoin:        []string{},
			},
			StateDir:         "/srv/state",
			AllocDir:         "/srv/alloc",
			NodeClass:        "batch",
			NetworkInterface: "eth0",
			NetworkSpeed:     1000,
			CPUTotalCompute:  8000,
			MemoryTotalMB:    16384,
			DiskTotalMB:      100000,
			Options:          map[string]string{"driver.raw_exec.enable": "1", "docker.cleanup.image": "false"},
			Meta:             map[string]string{"rack": "r1", "owner.team": "infra"},
			Reserved:         ReservedResources{CPU: 500, MemoryMB: 512, DiskMB: 1024, ReservedPorts: "22,80,8000-8100"},
			MinDynamicPort:   21000,
			MaxDynamicPort:   31000,
			MaxKillTimeout:   45 * time.Second,
			GCInterval:       5 * time.Minute,
			GCMaxAllocs:      75,
		},
		UI: UIConfig{Enabled: false, ShowCLIHints: false},
		Plugins: map[string]*PluginConfig{
			"docker": {
				Name: "docker",
				Args: []string{"-v"},
				Config: map[string]interface{}{
					"endpoint":         "unix:///var/run/docker.sock",
					"allow_privileged": false,
					"pull_timeout":     1.5,
					"max_retries":      int64(3),
					"labels":           []interface{}{"a", "b"},
					"extra":            map[string]interface{}{"x": int64(1), "y": "z"},
					"volumes":          []map[string]interface{}{{"enabled": true}},
					"gc":               []map[string]interface{}{{"image": true, "image_delay": "3m"}},
				},
			},
			"raw_exec": {Name: "raw_exec", Config: map[string]interface{}{"enabled": true}},
		},
	}
}

const allFieldsJSON = `{
  "name": "node-a",
  "region": "eu",
  "datacenter": "dc9",
  "data_dir": "/var/lib/drover",
  "log_level": "warn",
  "bind_addr": "10.0.0.5",
  "leave_on_interrupt": true,
  "leave_on_terminate": true,
  "enable_debug": true,
  "disable_update_check": true,
  "ports": {"http": 5646, "rpc": 5647, "serf": 5648},
  "addresses": {"http": "127.0.0.1", "rpc": "10.0.0.5", "serf": "10.0.0.6"},
  "advertise": {"http": "node-a.example.com", "rpc": "10.0.0.5:7000", "serf": "[::1]:7001"},
  "server": {
    "enabled": true, "bootstrap_expect": 3, "data_dir": "/srv/server", "num_schedulers": 4,
    "heartbeat_grace": "30s", "min_heartbeat_ttl": "15s",
    "server_join": {"retry_join": ["10.0.0.1", "10.0.0.2"], "retry_max": 5, "retry_interval": "15s", "start_join": ["10.0.0.3"]}
  },
  "client": {
    "enabled": true,
    "servers": ["10.0.0.1", "10.0.0.2:5647"],
    "server_join": {"retry_join": ["provider=aws tag_key=role tag_value=server"], "retry_max": 2, "retry_interval": "1m", "start_join": []},
    "state_dir": "/srv/state", "alloc_dir": "/srv/alloc", "node_class": "batch",
    "network_interface": "eth0", "network_speed": 1000, "cpu_total_compute": 8000,
    "memory_total_mb": 16384, "disk_total_mb": 100000,
    "options": {"driver.raw_exec.enable": "1", "docker.cleanup.image": false},
    "meta": {"rack": "r1", "owner.team": "infra"},
    "reserved": {"cpu": 500, "memory": 512, "disk": 1024, "reserved_ports": "22,80,8000-8100"},
    "min_dynamic_port": 21000, "max_dynamic_port": 31000,
    "max_kill_timeout": "45s", "gc_interval": "5m", "gc_max_allocs": 75
  },
  "ui": {"enabled": false, "show_cli_hints": false},
  "plugin": {
    "docker": {
      "args": ["-v"],
      "config": {
        "endpoint": "unix:///var/run/docker.sock",
        "allow_privileged": false,
        "pull_timeout": 1.5,
        "max_retries": 3,
        "labels": ["a", "b"],
        "extra": {"x": 1, "y": "z"},
        "volumes": [{"enabled": true}],
        "gc": [{"image": true, "image_delay": "3m"}]
      }
    },
    "raw_exec": {"config": {"enabled": true}}
  }
}`

func TestParseAllFields(t *testing.T) {
	jsonWant := allFieldsWant()
	// JSON cannot tell blocks from lists of objects, so nested config
	// blocks come back as plain lists.
	jsonWant.Plugins["docker"].Config["volumes"] = []interface{}{map[string]interface{}{"enabled": true}}
	jsonWant.Plugins["docker"].Config["gc"] = []interface{}{map[string]interface{}{"image": true, "image_delay": "3m"}}

	cases := []struct {
		name     string
		filename string
		src      string
		want     *Config
	}{
		{name: "native syntax", filename: "all.hcl", src: allFieldsHCL, want: allFieldsWant()},
		{name: "json syntax", filename: "all.json", src: allFieldsJSON, want: jsonWant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.src, tc.filename)
			for _, p := range []string{"server.enabled", "ui.enabled", "client.options", "plugin.docker", "client.server_join.start_join"} {
				if !got.IsSet(p) {
					t.Errorf("IsSet(%q) = false", p)
				}
			}
			eff := Merge(Default(), got)
			if err := eff.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if !reflect.DeepEqual(clearSet(got), tc.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestParseMapForms(t *testing.T) {
	want := map[string]string{"driver.raw_exec.enable": "1", "plain": "x"}
	cases := []struct {
		name string
		src  string
	}{
		{"block with quoted keys", "client {\n  options {\n    \"driver.raw_exec.enable\" = \"1\"\n    plain = \"x\"\n  }\n}\n"},
		{"block without space", "client {\n  options{\n    \"driver.raw_exec.enable\" = \"1\"\n    plain = \"x\"\n  }\n}\n"},
		{"block on one line", "client {\n  options { \"driver.raw_exec.enable\" = \"1\", plain = \"x\" }\n}\n"},
		{"attribute", "client {\n  options = {\n    \"driver.raw_exec.enable\" = \"1\"\n    plain = \"x\"\n  }\n}\n"},
		{"with comments", "client { # the client\n  # driver switches\n  options { // quoted keys\n    \"driver.raw_exec.enable\" = \"1\" # on\n    /* block */ plain = \"x\"\n  }\n}\n"},
		{"after attributes with trailing comments", "client {\n  enabled = true # yes\n  servers = [\"a\", # first\n    \"b\"]\n  options {\n    \"driver.raw_exec.enable\" = \"1\"\n    plain = \"x\"\n  }\n}\n"},
		{"single line client", "client { options { \"driver.raw_exec.enable\" = 1, plain = \"x\" } }\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, tc.src, "opts.hcl")
			if !reflect.DeepEqual(got.Client.Options, want) {
				t.Errorf("options = %#v, want %#v", got.Client.Options, want)
			}
		})
	}
}

func TestParseOptionsOutsideClientStayBlocks(t *testing.T) {
	// Only client.options and client.meta are map blocks; a block named
	// options inside a plugin config stays a nested block.
	src := "plugin \"x\" {\n  config {\n    options {\n      a = 1\n    }\n  }\n}\n"
	got := mustParse(t, src, "p.hcl")
	want := map[string]interface{}{"options": []map[string]interface{}{{"a": int64(1)}}}
	if !reflect.DeepEqual(got.Plugins["x"].Config, want) {
		t.Errorf("config = %#v, want %#v", got.Plugins["x"].Config, want)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name     string
		filename string
		src      string
		want     []string // substrings that must all appear
	}{
		{
			name: "unknown attribute",
			src:  "server {\n  enabled = true\n  bogus = 1\n}\n",
			want: []string{`bad.hcl:3,3-8: Unsupported argument; An argument named "bogus" is not expected here.`},
		},
		{
			name: "unknown top-level attribute",
			src:  "data_dir = \"/tmp\"\ndatadir = \"/tmp\"\n",
			want: []string{`bad.hcl:2,1-8: Unsupported argument;`},
		},
		{
			name: "unknown block",
			src:  "client {\n  enabled = true\n  frobnicate {\n  }\n}\n",
			want: []string{`bad.hcl:3,3-13: Unsupported block type; Blocks of type "frobnicate" are not expected here.`},
		},
		{
			name: "wrong type",
			src:  "server {\n  bootstrap_expect = \"x\"\n}\n",
			want: []string{`bad.hcl:2,22-25: Incorrect attribute value type; Inappropriate value for attribute "bootstrap_expect": a number is required.`},
		},
		{
			name: "fractional int",
			src:  "client {\n  gc_max_allocs = 1.5\n}\n",
			want: []string{`bad.hcl:2,19-22: Incorrect attribute value type;`, "whole number"},
		},
		{
			name: "bad duration",
			src:  "server {\n  heartbeat_grace = \"10 parsecs\"\n}\n",
			want: []string{`bad.hcl:2,21-33: Invalid duration; "10 parsecs" for "heartbeat_grace" is not a valid duration`},
		},
		{
			name: "bad log level",
			src:  "log_level = \"LOUD\"\n",
			want: []string{`bad.hcl:1,13-19: Invalid log level; invalid log level "LOUD"`},
		},
		{
			name: "invalid port",
			src:  "ports {\n  http = 70000\n}\n",
			want: []string{`bad.hcl:2,10-15: Invalid port; port 70000 is not between 1 and 65535.`},
		},
		{
			name: "invalid dynamic port",
			src:  "client {\n  min_dynamic_port = 0\n}\n",
			want: []string{`bad.hcl:2,22-23: Invalid port;`},
		},
		{
			name: "bad reserved_ports",
			src:  "client {\n  reserved {\n    reserved_ports = \"22,80-70\"\n  }\n}\n",
			want: []string{`bad.hcl:3,22-32: Invalid reserved_ports; reserved_ports: "80-70": the range ends before it starts.`},
		},
		{
			name: "negative bootstrap_expect",
			src:  "server {\n  bootstrap_expect = -1\n}\n",
			want: []string{`bad.hcl:2,22-24: Invalid bootstrap_expect; bootstrap_expect must be >= 0, got -1.`},
		},
		{
			name: "bad advertise address",
			src:  "advertise {\n  rpc = \"1.2.3.4:99999\"\n}\n",
			want: []string{`bad.hcl:2,9-24: Invalid advertise address;`},
		},
		{
			name: "bad server address",
			src:  "client {\n  servers = [\"a b:4647\"]\n}\n",
			want: []string{`bad.hcl:2,13-25: Invalid server address;`},
		},
		{
			name: "duplicate block",
			src:  "server {\n}\nserver {\n}\n",
			want: []string{`bad.hcl:3,1-7: Duplicate server block; Only one "server" block is allowed in a file; another was defined at bad.hcl:1,1-7.`},
		},
		{
			name: "duplicate plugin",
			src:  "plugin \"a\" {\n}\nplugin \"a\" {\n}\n",
			want: []string{`bad.hcl:3,8-11: Duplicate plugin block;`},
		},
		{
			name: "map block value error keeps positions",
			src:  "client {\n  options {\n    \"a\" = \"1\"\n    \"b\" = [\"x\"]\n  }\n}\n",
			want: []string{`bad.hcl:2,11-5,4: Incorrect attribute value type;`},
		},
		{
			name: "syntax error",
			src:  "server {\n  enabled = \n}\n",
			want: []string{`bad.hcl:2,`},
		},
		{
			name: "several problems reported together, in file order",
			src:  "log_level = \"LOUD\"\nserver {\n  bogus = true\n  heartbeat_grace = \"x\"\n}\n",
			want: []string{
				"bad.hcl:1,13-19: Invalid log level;",
				"\nbad.hcl:3,3-8: Unsupported argument;",
				"\nbad.hcl:4,21-24: Invalid duration;",
			},
		},
		{
			name:     "json unknown attribute",
			filename: "bad.json",
			src:      "{\n  \"server\": {\n    \"bogus\": 1\n  }\n}\n",
			want:     []string{`bad.json:3,5-12: Extraneous JSON object property; No argument or block type is named "bogus".`},
		},
		{
			name:     "json wrong type",
			filename: "bad.json",
			src:      "{\"server\": {\"bootstrap_expect\": \"x\"}}",
			want:     []string{`bad.json:1,33-36: Incorrect attribute value type;`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.filename
			if name == "" {
				name = "bad.hcl"
			}
			c, err := Parse([]byte(tc.src), name)
			if err == nil {
				t.Fatalf("Parse succeeded: %#v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseFileMissing(t *testing.T) {
	if _, err := ParseFile(filepath.Join(t.TempDir(), "nope.hcl")); err == nil {
		t.Fatal("expected an error for a missing file")
	}
}

func TestRewriteKeepsOffsets(t *testing.T) {
	src := "client {\n  meta {\n    \"a\" = \"b\"\n  }\n  options{ x = \"y\" }\n}\n"
	out := string(rewriteMapBlocks([]byte(src), "x.hcl"))
	want := "client {\n  meta={\n    \"a\" = \"b\"\n  }\n  options={ x = \"y\" }\n}\n"
	if out != want {
		t.Errorf("rewrite =\n%s\nwant\n%s", out, want)
	}
}

func TestMain(m *testing.M) {
	// Make defaultAdvertiseIP deterministic for every test.
	interfaceAddrs = fakeAddrs("127.0.0.1/8", "10.1.2.3/24")
	os.Exit(m.Run())
}
