package topology

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func repoFile(t *testing.T, name string) string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", name)
}

func TestShippedClusterYAML(t *testing.T) {
	c, err := Load(repoFile(t, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Provider != "virtualbox" || c.Network != netip.MustParsePrefix("192.168.56.0/24") {
		t.Errorf("provider %q network %s", c.Provider, c.Network)
	}
	var got []string
	for _, m := range c.Machines {
		got = append(got, strings.Join([]string{m.Name, m.Hostname, string(m.Role), m.IP.String()}, " "))
		if m.RAM != 1024 || m.CPUs != 1 || m.Box != "bento/ubuntu-22.04" {
			t.Errorf("%s: ram %d cpus %d box %q", m.Name, m.RAM, m.CPUs, m.Box)
		}
	}
	want := []string{
		"drover-server drover-server server 192.168.56.101",
		"drover-client01 client-one client 192.168.56.102",
		"drover-client02 client-two client 192.168.56.103",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("machines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// security is none unless set; acl turns ACLs on, acl+tls TLS as well.
func TestSecurity(t *testing.T) {
	for _, tc := range []struct {
		line     string
		want     string
		acl, tls bool
	}{
		{"", SecurityNone, false, false},
		{"security: none\n", SecurityNone, false, false},
		{"security: acl\n", SecurityACL, true, false},
		{"security: acl+tls\n", SecurityACLTLS, true, true},
	} {
		c, err := Parse("f.yaml", []byte(tc.line+"machines:\n  - {name: drover-server, hostname: s, box: b, ip: 10.1.0.5}\n"))
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if c.Security != tc.want || c.ACL() != tc.acl || c.TLS() != tc.tls {
			t.Errorf("%q: security %q acl %v tls %v", tc.line, c.Security, c.ACL(), c.TLS())
		}
	}
}

// The tutorial's own file (seed 004, its network moved off Docker's
// bridge) is a bare list with no roles: it must still be read.
func TestTutorialBareList(t *testing.T) {
	src := `- name: nomad-server
  hostname: nomad-server
  box: bento/ubuntu-18.04
  ram: 1024
  ip: 192.168.56.101
- name: nomad-client01
  hostname: client-one
  box: bento/ubuntu-18.04
  ram: 1024
  ip: 192.168.56.102
`
	c, err := Parse("cluster.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers()) != 1 || len(c.Clients()) != 1 || c.Network.String() != "192.168.56.0/24" || c.Provider != "virtualbox" {
		t.Errorf("got %+v", c)
	}
}

func TestServersComeFirst(t *testing.T) {
	src := `machines:
  - {name: c1, hostname: c1, box: b, ip: 10.9.0.11, role: client}
  - {name: s1, hostname: s1, box: b, ip: 10.9.0.10, role: server, cpus: 2, box_version: "1.2"}
`
	c, err := Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Machines[0].Name != "s1" || c.Machines[0].CPUs != 2 || c.Machines[0].BoxVersion != "1.2" {
		t.Errorf("order/fields: %+v", c.Machines)
	}
}

func TestValidateErrorsWithLines(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "duplicates",
			src: `machines:
  - name: drover-server
    hostname: a
    box: b
    ip: 192.168.56.101
  - name: drover-server
    hostname: a
    box: b
    ip: 192.168.56.101
`,
			want: []string{
				`f.yaml:6:11: name "drover-server" is used twice (also at line 2)`,
				`f.yaml:7:15: hostname "a" is used twice (also at line 2)`,
				`f.yaml:9:9: ip 192.168.56.101 is used twice (also at line 2)`,
			},
		},
		{
			name: "outside network and docker bridge",
			src: `network:
  cidr: 192.168.56.0/24
machines:
  - {name: drover-server, hostname: s, box: b, ip: 192.168.57.10}
  - {name: drover-client01, hostname: c, box: b, ip: 172.17.8.102}
`,
			want: []string{
				`f.yaml:4:52: ip 192.168.57.10 is outside the network 192.168.56.0/24`,
				`f.yaml:5:54: ip 172.17.8.102 is inside 172.17.0.0/16, Docker's default bridge`,
			},
		},
		{
			name: "tutorial network on the bridge",
			src: `- {name: nomad-server, hostname: s, box: b, ram: 1024, ip: 172.17.8.101}
`,
			want: []string{`f.yaml:1:60: ip 172.17.8.101 is inside 172.17.0.0/16, Docker's default bridge`},
		},
		{
			name: "no server",
			src: `- {name: client-a, hostname: a, box: b, ip: 10.1.0.5}
- {name: client-b, hostname: b, box: b, ip: 10.1.0.6}
`,
			want: []string{`f.yaml:1:1: no server: one machine needs role: server`},
		},
		{
			name: "bad fields",
			src: `provider: vmware
network:
  cidr: 10.1.0.1/24
machines:
  - name: worker
    hostname: under_score
    box: b
    ram: lots
    ip: 10.1.0.300
    colour: blue
    role: boss
  - just a string
`,
			want: []string{
				`f.yaml:1:11: provider "vmware" is not one of virtualbox, libvirt, docker`,
				`f.yaml:3:9: network cidr 10.1.0.1/24 has host bits set; did you mean 10.1.0.0/24?`,
				`f.yaml:8:10: ram "lots" must be a whole number of at least 256`,
				`f.yaml:9:9: ip "10.1.0.300" is not an IPv4 address`,
				`f.yaml:10:5: unknown machine key "colour"`,
				`f.yaml:11:11: role "boss" must be server or client`,
				`f.yaml:6:15: hostname "under_score" may hold only letters, digits and '-'`,
				`f.yaml:5:11: machine "worker" has no role and its name says neither server nor client`,
				`f.yaml:12:5: a machine must be a mapping`,
			},
		},
		{
			name: "missing fields",
			src: `- name: drover-server
  ram: 512
`,
			want: []string{`f.yaml:1:3: machine is missing hostname`, `f.yaml:1:3: machine is missing box`, `f.yaml:1:3: machine is missing ip`},
		},
		{
			name: "host address",
			src:  "- {name: drover-server, hostname: s, box: b, ip: 192.168.56.1}\n",
			want: []string{`f.yaml:1:50: ip 192.168.56.1 is the host's address on the lab network`},
		},
		{
			name: "not yaml",
			src:  "machines: [\n  - a\n",
			want: []string{`f.yaml:`},
		},
		{name: "empty", src: "", want: []string{"f.yaml: no machines"}},
		{
			name: "bad security",
			src:  "security: tls\nmachines:\n  - {name: drover-server, hostname: s, box: b, ip: 10.1.0.5}\n",
			want: []string{`f.yaml:1:11: security "tls" is not one of none, acl, acl+tls`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error; got %+v", c)
			}
			if c != nil {
				t.Errorf("a cluster came back with the error")
			}
			got := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
			if n := len(strings.Split(got, "\n")); n != len(tc.want) && tc.name != "not yaml" {
				t.Errorf("%d problems, want %d:\n%s", n, len(tc.want), got)
			}
		})
	}
}

func TestRemapKeepsHostNumbers(t *testing.T) {
	c, err := Load(repoFile(t, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Remap(netip.MustParsePrefix("10.201.7.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Machines[1].IP.String() != "10.201.7.102" || r.Network.String() != "10.201.7.0/24" {
		t.Errorf("remapped %v on %s", r.Machines[1].IP, r.Network)
	}
	if c.Machines[1].IP.String() != "192.168.56.102" {
		t.Errorf("the original changed: %v", c.Machines[1].IP)
	}
	if _, err := c.Remap(netip.MustParsePrefix("10.0.0.0/28")); err == nil {
		t.Error("a /28 cannot hold host numbers of a /24")
	}
}
