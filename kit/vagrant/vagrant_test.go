package vagrant

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"drover/kit/topology"
)

// RequireEnv makes a missing vagrant or ruby a failure (CI sets it).
const RequireEnv = "DROVER_REQUIRE_VAGRANT"

func repoRoot() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..")
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(RequireEnv) == "1" {
				t.Fatalf("%s=1 but %s is not installed", RequireEnv, tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// run runs a command in the repository root with extra environment.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), append([]string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_NO_COLOR=1"}, env...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestVagrantValidate(t *testing.T) {
	need(t, "vagrant")
	// No VirtualBox here: --ignore-provider checks everything else.
	if out, err := run(t, nil, "vagrant", "validate", "--ignore-provider"); err != nil {
		t.Fatalf("vagrant validate --ignore-provider: %v\n%s", err, out)
	}
	out, err := run(t, []string{"VAGRANT_DEFAULT_PROVIDER=docker"}, "vagrant", "validate")
	if err != nil || !strings.Contains(out, "Vagrantfile validated successfully") {
		t.Fatalf("vagrant validate (docker): %v\n%s", err, out)
	}
}

// Vagrant's own list of machines, in its order, is cluster.yaml's, servers
// first.
func TestVagrantStatusMachinesInOrder(t *testing.T) {
	need(t, "vagrant")
	out, err := run(t, []string{"VAGRANT_DEFAULT_PROVIDER=docker"}, "vagrant", "status", "--machine-readable")
	if err != nil {
		t.Fatalf("vagrant status: %v\n%s", err, out)
	}
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 4 && f[2] == "provider-name" {
			names = append(names, f[1])
		}
	}
	c, err := topology.Load(filepath.Join(repoRoot(), "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range c.Machines {
		want = append(want, m.Name)
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("vagrant status lists %v, cluster.yaml %v", names, want)
	}
}

type planEntry struct {
	Name      string
	Hostname  string
	Providers map[string]struct {
		Box          string
		IPs          []string
		Forwarded    []int
		Memory, CPUs int
		Provisioners []string
		Error        string
	}
}

func plan(t *testing.T, env ...string) []planEntry {
	t.Helper()
	out, err := run(t, env, "ruby", "scripts/vagrant/plan.rb")
	if err != nil {
		t.Fatalf("plan.rb: %v\n%s", err, out)
	}
	var p []planEntry
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &p); err != nil {
		t.Fatalf("plan.rb output: %v\n%s", err, out)
	}
	return p
}

// checkPlan compares what Vagrant would create with the cluster file:
// machines and their order, hostnames, addresses, memory, cpus, the box,
// the provisioner, and 4646 forwarded by the servers alone.
func checkPlan(t *testing.T, c *topology.Cluster, p []planEntry, dockerImage string) {
	t.Helper()
	if len(p) != len(c.Machines) {
		t.Fatalf("Vagrant defines %d machines, the cluster file %d", len(p), len(c.Machines))
	}
	for i, m := range c.Machines {
		e := p[i]
		if e.Name != m.Name || e.Hostname != m.Hostname {
			t.Errorf("machine %d: vagrant %s (%s), file %s (%s)", i, e.Name, e.Hostname, m.Name, m.Hostname)
		}
		for _, provider := range []string{"virtualbox", "libvirt", "docker"} {
			pr, ok := e.Providers[provider]
			if !ok || pr.Error != "" {
				if provider == "libvirt" && ok {
					continue // a plugin, not always installed
				}
				t.Errorf("%s/%s: %q", m.Name, provider, pr.Error)
				continue
			}
			box := m.Box
			if provider == "docker" {
				box = dockerImage
			}
			wantFwd := "[]"
			if m.Role == topology.RoleServer {
				wantFwd = "[4646]"
			}
			got := []string{pr.Box, strings.Join(pr.IPs, ","), jsonString(pr.Forwarded), itoa(pr.Memory), itoa(pr.CPUs), strings.Join(pr.Provisioners, ",")}
			want := []string{box, m.IP.String(), wantFwd, itoa(m.RAM), itoa(m.CPUs), "shell:scripts/provision.sh:" + m.Name}
			if strings.Join(got, " | ") != strings.Join(want, " | ") {
				t.Errorf("%s/%s:\n got  %s\n want %s", m.Name, provider, strings.Join(got, " | "), strings.Join(want, " | "))
			}
		}
	}
}

func jsonString(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestVagrantPlanIsClusterYAML(t *testing.T) {
	need(t, "vagrant", "ruby")
	c, err := topology.Load(filepath.Join(repoRoot(), "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, c, plan(t), "drover-box/debian:bookworm")
}

// Another file (DROVER_CLUSTER), with clients listed first, roles, cpus
// and memory of its own: the Vagrantfile follows it, servers first.
func TestVagrantPlanFollowsAnotherFile(t *testing.T) {
	need(t, "vagrant", "ruby")
	src := `provider: docker
network:
  cidr: 192.168.60.0/24
machines:
  - {name: worker-a, hostname: worker-a, box: debian/bookworm64, ip: 192.168.60.21, role: client, ram: 2048, cpus: 2}
  - {name: control, hostname: control, box: debian/bookworm64, ip: 192.168.60.10, role: server, ram: 512}
  - {name: worker-b, hostname: worker-b, box: debian/bookworm64, ip: 192.168.60.22, role: client}
`
	file := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Machines[0].Name != "control" {
		t.Fatalf("topology order: %v", c.Machines)
	}
	checkPlan(t, c, plan(t, "DROVER_CLUSTER="+file, "DROVER_BOX_IMAGE=my/box:1"), "my/box:1")
}

func TestPreflightRuby(t *testing.T) {
	need(t, "ruby")
	out, err := run(t, nil, "ruby", "scripts/vagrant/preflight_test.rb")
	if err != nil || !strings.Contains(out, " 0 failures, 0 errors") {
		t.Fatalf("preflight tests: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// The tutorial's own addresses (172.17.8.x) stop `vagrant up` before any
// machine is created, with the fix.
func TestPreflightStopsVagrantUp(t *testing.T) {
	need(t, "vagrant")
	src := `- {name: nomad-server, hostname: nomad-server, box: bento/ubuntu-18.04, ram: 1024, ip: 172.17.8.101}
- {name: nomad-client01, hostname: client-one, box: bento/ubuntu-18.04, ram: 1024, ip: 172.17.8.102}
`
	file := filepath.Join(t.TempDir(), "tutorial.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, []string{"DROVER_CLUSTER=" + file}, "vagrant", "up", "--provider=docker")
	if err == nil {
		t.Fatalf("vagrant up went ahead:\n%s", out)
	}
	for _, want := range []string{
		"Drover preflight found 2 problem(s) before starting any machine",
		"nomad-server: 172.17.8.101 is inside 172.17.0.0/16, Docker's default bridge",
		"Fix: give the machines addresses on another network in cluster.yaml",
		"Nothing was started.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Creating the container") || strings.Contains(out, "Bringing machine") {
		t.Errorf("a machine was started:\n%s", out)
	}
}

// With a VirtualBox that restricts host-only ranges (a stand-in
// VBoxManage reporting 7.0.12, and no /etc/vbox/networks.conf), addresses
// outside 192.168.56.0/21 stop `vagrant up` with the networks.conf fix.
func TestPreflightVirtualBoxRange(t *testing.T) {
	need(t, "vagrant")
	if _, err := os.Stat("/etc/vbox/networks.conf"); err == nil {
		t.Skip("this machine has /etc/vbox/networks.conf; the test needs VirtualBox's default ranges")
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "VBoxManage"), []byte("#!/bin/sh\necho 7.0.12r159484\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := `network:
  cidr: 10.20.0.0/24
machines:
  - {name: drover-server, hostname: drover-server, box: bento/ubuntu-22.04, ip: 10.20.0.11}
`
	file := filepath.Join(t.TempDir(), "ten.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, []string{"DROVER_CLUSTER=" + file, "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")},
		"vagrant", "up", "--provider=virtualbox")
	if err == nil {
		t.Fatalf("vagrant up went ahead:\n%s", out)
	}
	for _, want := range []string{
		"VirtualBox 7.0.12 allows host-only networks only in 192.168.56.0/21",
		"drover-server (10.20.0.11)",
		"Fix: sudo mkdir -p /etc/vbox && echo '* 10.20.0.0/24' | sudo tee -a /etc/vbox/networks.conf",
		"Nothing was started.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
