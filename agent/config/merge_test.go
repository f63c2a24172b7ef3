package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, src string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const mergeFirst = `
region    = "eu"
log_level = "INFO"
data_dir  = "/data"

server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join = ["10.0.0.1", "10.0.0.2"]
  }
}

client {
  enabled = true
  servers = ["10.0.0.1"]
  options = { "a" = "1", "b" = "2" }
  meta {
    rack = "r1"
  }
}

plugin "docker" {
  args = ["-x"]
  config {
    x = 1
    y = 2
  }
}
`

const mergeSecond = `
log_level = "debug"

server {
  enabled = false
  server_join {
    retry_join = ["10.9.9.9"]
  }
}

client {
  servers = ["10.0.0.9:5000"]
  options {
    "b" = "20"
    "c" = "3"
  }
  gc_max_allocs = 0
}

ui {
  show_cli_hints = false
}

plugin "docker" {
  config {
    y = 20
  }
}

plugin "exec" {
  config {
    enabled = true
  }
}
`

func TestMergeTwoFiles(t *testing.T) {
	dir := t.TempDir()
	first := writeFile(t, dir, "first.hcl", mergeFirst)
	second := writeFile(t, dir, "second.hcl", mergeSecond)

	fromFiles, files, err := LoadPaths([]string{first, second})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(files, []string{first, second}) {
		t.Errorf("files = %q", files)
	}
	got := Merge(Default(), fromFiles)

	cases := []struct {
		name      string
		got, want interface{}
	}{
		{"scalar kept from first", got.Region, "eu"},
		{"scalar overridden", got.LogLevel, "DEBUG"},
		{"default kept", got.Datacenter, "dc1"},
		{"enabled=false overrides true", got.Server.Enabled, false},
		{"unset in second keeps first", got.Server.BootstrapExpect, 3},
		{"client enabled kept", got.Client.Enabled, true},
		{"servers replaced", got.Client.Servers, []string{"10.0.0.9:5000"}},
		{"retry_join replaced", got.Server.ServerJoin.RetryJoin, []string{"10.9.9.9"}},
		{"options merged by key", got.Client.Options, map[string]string{"a": "1", "b": "20", "c": "3"}},
		{"meta kept", got.Client.Meta, map[string]string{"rack": "r1"}},
		{"explicit zero overrides default", got.Client.GCMaxAllocs, 0},
		{"default duration kept", got.Client.GCInterval, time.Minute},
		{"bool default overridden", got.UI.ShowCLIHints, false},
		{"bool default kept", got.UI.Enabled, true},
		{"plugin args kept", got.Plugins["docker"].Args, []string{"-x"}},
		{"plugin config merged by key", got.Plugins["docker"].Config, map[string]interface{}{"x": int64(1), "y": int64(20)}},
		{"plugin added", got.Plugins["exec"].Config, map[string]interface{}{"enabled": true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

func TestMergeDoesNotAlias(t *testing.T) {
	a := mustParse(t, mergeFirst, "a.hcl")
	b := mustParse(t, mergeSecond, "b.hcl")
	m := Merge(a, b)
	m.Client.Options["a"] = "changed"
	m.Client.Servers[0] = "changed"
	m.Plugins["docker"].Config["x"] = "changed"
	m.Plugins["docker"].Args[0] = "changed"
	if a.Client.Options["a"] != "1" || b.Client.Servers[0] != "10.0.0.9:5000" ||
		a.Plugins["docker"].Config["x"] != int64(1) || a.Plugins["docker"].Args[0] != "-x" {
		t.Error("Merge result shares data with its inputs")
	}
}

func TestMergeNil(t *testing.T) {
	d := Default()
	if got := Merge(d, nil); !reflect.DeepEqual(got, d) {
		t.Errorf("Merge(d, nil) = %#v", got)
	}
	if got := Merge(nil, d); !reflect.DeepEqual(got, d) {
		t.Errorf("Merge(nil, d) = %#v", got)
	}
}

func TestMarkSet(t *testing.T) {
	// A Go-built override only wins with a zero value when marked.
	flags := &Config{}
	if got := Merge(Default(), flags); !got.UI.Enabled {
		t.Fatal("unmarked zero value overrode the default")
	}
	flags.MarkSet("ui.enabled")
	if got := Merge(Default(), flags); got.UI.Enabled {
		t.Error("marked zero value did not override the default")
	}
	if !flags.IsSet("ui.enabled") || flags.IsSet("ui.show_cli_hints") {
		t.Error("IsSet does not reflect MarkSet")
	}
}

func TestLoadPathsDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.hcl", "region = \"from-b\"\nname = \"b\"\n")
	writeFile(t, dir, "a.hcl", "region = \"from-a\"\ndatacenter = \"dc-a\"\nname = \"a\"\n")
	writeFile(t, dir, "c.json", `{"name": "c", "client": {"meta": {"k": "v"}}}`)
	writeFile(t, dir, ".hidden.hcl", "this is not valid HCL {{{")
	writeFile(t, dir, "notes.txt", "ignored")
	if err := os.Mkdir(filepath.Join(dir, "sub.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.hcl"), "z.hcl", "name = \"nested\"\n")
	extra := writeFile(t, t.TempDir(), "zz-extra.conf", "log_level = \"error\"\n")

	got, files, err := LoadPaths([]string{dir, extra})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{
		filepath.Join(dir, "a.hcl"),
		filepath.Join(dir, "b.hcl"),
		filepath.Join(dir, "c.json"),
		extra,
	}
	if !reflect.DeepEqual(files, wantFiles) {
		t.Errorf("files = %q, want %q", files, wantFiles)
	}
	cases := []struct {
		name      string
		got, want interface{}
	}{
		{"later file wins", got.Region, "from-b"},
		{"earlier value kept", got.Datacenter, "dc-a"},
		{"json file merged last in dir", got.Name, "c"},
		{"json map", got.Client.Meta, map[string]string{"k": "v"}},
		{"explicit file after dir", got.LogLevel, "ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

func TestLoadPathsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.hcl", "bogus = 1\n")
	writeFile(t, dir, "b.hcl", "server {\n  enabled = \"maybe\"\n}\n")

	cases := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"missing path", []string{filepath.Join(dir, "missing")}, []string{"missing"}},
		{"errors from every file", []string{dir}, []string{
			filepath.Join(dir, "a.hcl") + ":1,1-6: Unsupported argument",
			filepath.Join(dir, "b.hcl") + ":2,13-20: Incorrect attribute value type",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := LoadPaths(tc.paths)
			if err == nil {
				t.Fatalf("LoadPaths succeeded: %#v", c)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestDevConfig(t *testing.T) {
	dev := DevConfig()
	host, _ := os.Hostname()
	cases := []struct {
		name      string
		got, want interface{}
	}{
		{"dev mode", dev.DevMode, true},
		{"name", dev.Name, host},
		{"server", dev.Server.Enabled, true},
		{"bootstrap", dev.Server.BootstrapExpect, 1},
		{"client", dev.Client.Enabled, true},
		{"log level", dev.LogLevel, "DEBUG"},
		{"bind", dev.BindAddr, "127.0.0.1"},
		{"interface", dev.Client.NetworkInterface, "lo"},
		{"options", dev.Client.Options, map[string]string{"driver.raw_exec.enable": "1"}},
		{"raw_exec plugin", dev.Plugins["raw_exec"].Config, map[string]interface{}{"enabled": true}},
		{"gc max allocs", dev.Client.GCMaxAllocs, 50},
		{"gc interval", dev.Client.GCInterval, 10 * time.Minute},
		{"no data dir", dev.DataDir, ""},
		{"defaults kept", dev.Ports, Ports{HTTP: 4646, RPC: 4647, Serf: 4648}},
		{"region default", dev.Region, "global"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
	if err := dev.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if w := dev.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q, want none in dev mode", w)
	}
}

func TestLoadDevWithFiles(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "extra.hcl", `
log_level = "info"
client {
  options {
    "driver.docker.enable" = "1"
  }
  servers = ["10.0.0.1"]
}
advertise {
  http = "10.0.0.2"
}
`)
	got, files, err := Load([]string{p}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Errorf("files = %q", files)
	}
	cases := []struct {
		name      string
		got, want interface{}
	}{
		{"file overrides dev", got.LogLevel, "INFO"},
		{"dev kept", got.BindAddr, "127.0.0.1"},
		{"dev mode kept", got.DevMode, true},
		{"options merged", got.Client.Options, map[string]string{"driver.raw_exec.enable": "1", "driver.docker.enable": "1"}},
		{"servers normalised", got.Client.Servers, []string{"10.0.0.1:4647"}},
		{"advertise normalised", got.Advertise.HTTP, "10.0.0.2:4646"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	plain, _, err := Load([]string{p}, false)
	if err != nil {
		t.Fatal(err)
	}
	if plain.DevMode || plain.BindAddr != "0.0.0.0" {
		t.Errorf("non-dev Load used the dev base: %+v", plain)
	}
}
