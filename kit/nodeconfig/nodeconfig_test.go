package nodeconfig

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"drover/agent/config"
	"drover/kit/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

func shipped(t *testing.T) *topology.Cluster {
	t.Helper()
	c, err := topology.Load(filepath.Join(repoRoot(), "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./kit/nodeconfig -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (run go test ./kit/nodeconfig -update):\n%s", path, got)
	}
}

// The VM rendering of the shipped cluster.yaml is the example shipped in
// configs/rendered; the container rendering is kept under testdata. Each
// must be a valid agent configuration, agreeing with cluster.yaml.
func TestRenderGolden(t *testing.T) {
	c := shipped(t)
	modes := []struct {
		name string
		dir  string
		opts func(m topology.Machine) Options
	}{
		{"vm", filepath.Join(repoRoot(), "configs", "rendered"), func(topology.Machine) Options { return Options{} }},
		{"container", filepath.Join("testdata", "container"), func(m topology.Machine) Options {
			return Options{DataDir: "/var/lib/drover-cluster/lab/" + m.Name, Interface: "eth0", TaskNetwork: "drover-lab"}
		}},
	}
	for _, mode := range modes {
		for _, m := range c.Machines {
			t.Run(mode.name+"/"+m.Name, func(t *testing.T) {
				n, err := For(c, m.Name, mode.opts(m))
				if err != nil {
					t.Fatal(err)
				}
				out, err := Render(n)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(mode.dir, m.Name+".hcl")
				golden(t, path, out)

				cfg, err := config.Parse(out, path)
				if err != nil {
					t.Fatalf("rendered config does not parse:\n%v", err)
				}
				full := config.Merge(config.Default(), cfg)
				full.Normalize()
				if err := full.Validate(); err != nil {
					t.Errorf("rendered config is not valid: %v", err)
				}
				if cfg.Name != m.Hostname || cfg.BindAddr != m.IP.String() || cfg.Advertise.RPC != m.IP.String()+":4647" {
					t.Errorf("name %q bind %q advertise %q", cfg.Name, cfg.BindAddr, cfg.Advertise.RPC)
				}
				if strings.HasPrefix(cfg.DataDir, "/tmp") {
					t.Errorf("data_dir %q is under /tmp", cfg.DataDir)
				}
				switch m.Role {
				case topology.RoleServer:
					if !cfg.Server.Enabled || cfg.Client.Enabled || cfg.Server.BootstrapExpect != 1 {
						t.Errorf("server: %+v client %v", cfg.Server, cfg.Client.Enabled)
					}
				case topology.RoleClient:
					if !cfg.Client.Enabled || cfg.Server.Enabled || len(cfg.Client.Servers) != 1 || cfg.Client.Servers[0] != "192.168.56.101:4647" {
						t.Errorf("client: %+v", cfg.Client)
					}
					tn, _ := cfg.Plugins["docker"].Config["task_network"].(string)
					if (mode.name == "container") != (tn == "drover-lab") {
						t.Errorf("task_network %q in mode %s", tn, mode.name)
					}
				}
			})
		}
	}
}

// Every server is in every client's list and in bootstrap_expect.
func TestSeveralServers(t *testing.T) {
	src := `machines:
  - {name: s1, hostname: s1, box: b, ip: 10.4.0.11, role: server}
  - {name: s2, hostname: s2, box: b, ip: 10.4.0.12, role: server}
  - {name: c1, hostname: c1, box: b, ip: 10.4.0.21, role: client}
`
	c, err := topology.Parse("many.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	n, err := For(c, "c1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(n)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `servers = ["10.4.0.11:4647", "10.4.0.12:4647"]`) {
		t.Errorf("client servers:\n%s", out)
	}
	n, _ = For(c, "s2", Options{})
	out, _ = Render(n)
	if !strings.Contains(string(out), "bootstrap_expect = 2") ||
		!strings.Contains(string(out), `retry_join = ["10.4.0.11:4648", "10.4.0.12:4648"]`) {
		t.Errorf("server:\n%s", out)
	}
	if _, err := For(c, "nope", Options{}); err == nil || !strings.Contains(err.Error(), "s1, s2, c1") {
		t.Errorf("unknown machine: %v", err)
	}
}

func TestFindInterface(t *testing.T) {
	name, err := FindInterface(netip.MustParseAddr("127.0.0.1"))
	if err != nil || name == "" {
		t.Fatalf("loopback: %q %v", name, err)
	}
	if _, err := FindInterface(netip.MustParseAddr("192.0.2.77")); err == nil {
		t.Error("TEST-NET address found on this machine")
	}
}
