package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		name string
		src  string
		edit func(c *Config) // applied to the effective config, optional
		want []string        // substrings that must all appear
	}{
		{
			name: "server without data_dir",
			src:  "server {\n  enabled = true\n}\n",
			want: []string{`v.hcl:1,1-7: Must specify "data_dir" config option or "data-dir" CLI flag`},
		},
		{
			name: "server data_dir inside server block is enough",
			src:  "server {\n  enabled = true\n  data_dir = \"/srv\"\n}\n",
		},
		{
			name: "neither server nor client, located at the explicit setting",
			src:  "data_dir = \"/tmp\"\nclient {\n  enabled = false\n}\n",
			want: []string{"v.hcl:3,13-18: Must specify either server, client or dev mode for the agent."},
		},
		{
			name: "neither server nor client, located at the file",
			src:  "data_dir = \"/tmp\"\n",
			want: []string{"v.hcl:1,1-1: Must specify either server, client or dev mode for the agent."},
		},
		{
			name: "client without data_dir",
			src:  "client {\n  enabled = true\n  state_dir = \"/s\"\n}\n",
			want: []string{"v.hcl:1,1-7: Must specify the state, alloc-dir, alloc-mounts-dir and plugin-dir if data-dir is omitted."},
		},
		{
			name: "client with state_dir and alloc_dir",
			src:  "client {\n  enabled = true\n  state_dir = \"/s\"\n  alloc_dir = \"/a\"\n}\n",
		},
		{
			name: "duplicate ports",
			src:  "data_dir = \"/d\"\nserver {\n  enabled = true\n}\nports {\n  serf = 4646\n}\n",
			want: []string{"v.hcl:6,10-14: ports.http and ports.serf must be different, both are 4646"},
		},
		{
			name: "invalid port",
			src:  "data_dir = \"/d\"\nclient {\n  enabled = true\n}\n",
			edit: func(c *Config) { c.Ports.RPC = 0 },
			want: []string{"Invalid ports.rpc: port 0 is not between 1 and 65535"},
		},
		{
			name: "dynamic port order",
			src:  "data_dir = \"/d\"\nclient {\n  enabled = true\n  min_dynamic_port = 30000\n  max_dynamic_port = 25000\n}\n",
			want: []string{"v.hcl:4,22-27: client.min_dynamic_port (30000) must be less than client.max_dynamic_port (25000)"},
		},
		{
			name: "bad log level set in code",
			src:  "data_dir = \"/d\"\nclient {\n  enabled = true\n}\n",
			edit: func(c *Config) { c.LogLevel = "chatty" },
			want: []string{`invalid log level "chatty", must be one of TRACE, DEBUG, INFO, WARN, ERROR`},
		},
		{
			name: "negative bootstrap_expect and bad addresses set in code",
			src:  "data_dir = \"/d\"\nserver {\n  enabled = true\n}\n",
			edit: func(c *Config) {
				c.Server.BootstrapExpect = -2
				c.Advertise.Serf = "a:b:c"
				c.Client.Servers = []string{"ok:1", "bad host"}
				c.Client.GCMaxAllocs = -1
			},
			want: []string{
				"bootstrap_expect must be >= 0, got -2",
				`Invalid advertise.serf address "a:b:c"`,
				`Invalid client.servers entry "bad host"`,
				"client.gc_max_allocs must not be negative, got -1",
			},
		},
		{
			name: "all problems reported at once, one per line",
			src:  "ports {\n  http = 4647\n}\n",
			want: []string{
				"v.hcl:1,1-1: Must specify either server, client or dev mode for the agent.\n",
				"v.hcl:2,10-14: ports.http and ports.rpc must be different, both are 4647",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Merge(Default(), mustParse(t, tc.src, "v.hcl"))
			if tc.edit != nil {
				tc.edit(c)
			}
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Errorf("error %T does not wrap *ValidationError", err)
			}
		})
	}
}

func TestValidateLinesMatchProblems(t *testing.T) {
	c := Default() // neither role, no data dir
	c.Ports.Serf = 70000
	err := c.Validate()
	if err == nil {
		t.Fatal("expected errors")
	}
	want := "Must specify either server, client or dev mode for the agent.\n" +
		"Invalid ports.serf: port 70000 is not between 1 and 65535"
	if err.Error() != want {
		t.Errorf("Validate() =\n%s\nwant\n%s", err, want)
	}
}

func TestWarnings(t *testing.T) {
	cases := []struct {
		name      string
		server    bool
		bootstrap int
		dev       bool
		want      []string
	}{
		{name: "bootstrap one", server: true, bootstrap: 1, want: []string{"WARNING: Bootstrap mode enabled! Potentially unsafe operation."}},
		{name: "even", server: true, bootstrap: 2, want: []string{"WARNING: Number of bootstrap servers should ideally be set to an odd number.",
			"WARNING: bootstrap_expect = 2: the cluster stops when either server fails (a quorum of 2 needs both); use 3."}},
		{name: "odd", server: true, bootstrap: 3},
		{name: "zero", server: true, bootstrap: 0},
		{name: "dev", server: true, bootstrap: 1, dev: true},
		{name: "client only", server: false, bootstrap: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Server.Enabled = tc.server
			c.Server.BootstrapExpect = tc.bootstrap
			c.DevMode = tc.dev
			if got := c.Warnings(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Warnings() = %q, want %q", got, tc.want)
			}
		})
	}
}
