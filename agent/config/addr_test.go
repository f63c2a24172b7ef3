package config

import (
	"net"
	"reflect"
	"testing"
)

// fakeAddrs returns an interfaceAddrs replacement reporting the given
// CIDRs.
func fakeAddrs(cidrs ...string) func() ([]net.Addr, error) {
	return func() ([]net.Addr, error) {
		var out []net.Addr
		for _, c := range cidrs {
			ip, n, err := net.ParseCIDR(c)
			if err != nil {
				return nil, err
			}
			n.IP = ip
			out = append(out, n)
		}
		return out, nil
	}
}

func TestSplitHostPort(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		host    string
		port    int
		wantErr bool
	}{
		{name: "host only", in: "10.0.0.1", host: "10.0.0.1", port: 4647},
		{name: "host and port", in: "10.0.0.1:5000", host: "10.0.0.1", port: 5000},
		{name: "dns name", in: "server.example.com", host: "server.example.com", port: 4647},
		{name: "dns name and port", in: "server.example.com:1", host: "server.example.com", port: 1},
		{name: "bare ipv6", in: "::1", host: "::1", port: 4647},
		{name: "bracketed ipv6", in: "[fe80::1]", host: "fe80::1", port: 4647},
		{name: "ipv6 and port", in: "[::1]:80", host: "::1", port: 80},
		{name: "empty", in: "", wantErr: true},
		{name: "port out of range", in: "h:65536", wantErr: true},
		{name: "port not a number", in: "h:http", wantErr: true},
		{name: "space in host", in: "a b", wantErr: true},
		{name: "too many colons", in: "a:b:c", wantErr: true},
		{name: "empty host", in: ":4647", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host, port, err := SplitHostPort(tc.in, 4647)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("SplitHostPort(%q) = %q, %d; want error", tc.in, host, port)
				}
				return
			}
			if err != nil || host != tc.host || port != tc.port {
				t.Errorf("SplitHostPort(%q) = %q, %d, %v; want %q, %d", tc.in, host, port, err, tc.host, tc.port)
			}
		})
	}
}

func TestDefaultAdvertiseIP(t *testing.T) {
	defer func(f func() ([]net.Addr, error)) { interfaceAddrs = f }(interfaceAddrs)
	cases := []struct {
		name  string
		cidrs []string
		want  string
	}{
		{name: "first non-loopback ipv4", cidrs: []string{"127.0.0.1/8", "fe80::1/64", "192.168.1.5/24", "10.0.0.1/8"}, want: "192.168.1.5"},
		{name: "only loopback", cidrs: []string{"127.0.0.1/8", "::1/128"}, want: "127.0.0.1"},
		{name: "none", want: "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			interfaceAddrs = fakeAddrs(tc.cidrs...)
			if got := defaultAdvertiseIP(); got != tc.want {
				t.Errorf("defaultAdvertiseIP() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAdvertiseAddrs(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
		want AddressConfig
	}{
		{
			name: "any address uses detected ip",
			want: AddressConfig{HTTP: "10.1.2.3:4646", RPC: "10.1.2.3:4647", Serf: "10.1.2.3:4648"},
		},
		{
			name: "specific bind address",
			edit: func(c *Config) { c.BindAddr = "192.168.0.9" },
			want: AddressConfig{HTTP: "192.168.0.9:4646", RPC: "192.168.0.9:4647", Serf: "192.168.0.9:4648"},
		},
		{
			name: "per service address and configured ports",
			edit: func(c *Config) {
				c.Addresses.RPC = "10.9.9.9"
				c.Ports.HTTP = 8080
			},
			want: AddressConfig{HTTP: "10.1.2.3:8080", RPC: "10.9.9.9:4647", Serf: "10.1.2.3:4648"},
		},
		{
			name: "advertise without port gets the service port",
			edit: func(c *Config) {
				c.Advertise = AddressConfig{HTTP: "172.17.8.101", RPC: "172.17.8.101:9999", Serf: "::1"}
				c.Ports.Serf = 5000
			},
			want: AddressConfig{HTTP: "172.17.8.101:4646", RPC: "172.17.8.101:9999", Serf: "[::1]:5000"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			if tc.edit != nil {
				tc.edit(c)
			}
			got, err := c.AdvertiseAddrs()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("AdvertiseAddrs() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	c := Default()
	c.LogLevel = "trace"
	c.Ports.RPC = 6000
	c.Advertise = AddressConfig{HTTP: "h1", RPC: "h2", Serf: "h3:1"}
	c.Client.Servers = []string{"s1", "s2:10", "bad host"}
	c.Normalize()
	if c.LogLevel != "TRACE" {
		t.Errorf("LogLevel = %q", c.LogLevel)
	}
	if want := (AddressConfig{HTTP: "h1:4646", RPC: "h2:6000", Serf: "h3:1"}); c.Advertise != want {
		t.Errorf("Advertise = %+v, want %+v", c.Advertise, want)
	}
	if want := []string{"s1:4647", "s2:10", "bad host"}; !reflect.DeepEqual(c.Client.Servers, want) {
		t.Errorf("Servers = %q, want %q", c.Client.Servers, want)
	}
}

func TestBanner(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		version string
		want    []string
	}{
		{
			name:    "tutorial server",
			src:     tutorialServer,
			version: "v0.1.0",
			want: []string{
				"       Advertise Addrs: HTTP: 172.17.8.101:4646; RPC: 172.17.8.101:4647; Serf: 172.17.8.101:4648",
				"            Bind Addrs: HTTP: [0.0.0.0:4646]; RPC: 0.0.0.0:4647; Serf: 0.0.0.0:4648",
				"                Client: false",
				"             Log Level: DEBUG",
				"                Region: global (DC: dc1)",
				"                Server: true",
				"               Version: v0.1.0",
			},
		},
		{
			name:    "client on any address",
			src:     tutorialClient,
			version: "1.2.3",
			want: []string{
				"       Advertise Addrs: HTTP: 10.1.2.3:5656",
				"            Bind Addrs: HTTP: [0.0.0.0:5656]",
				"                Client: true",
				"             Log Level: DEBUG",
				"                Region: global (DC: dc1)",
				"                Server: false",
				"               Version: 1.2.3",
			},
		},
		{
			name:    "specific bind address",
			src:     "bind_addr = \"192.168.5.5\"\nregion = \"eu\"\ndatacenter = \"fra\"\nclient {\n  enabled = true\n}\n",
			version: "dev",
			want: []string{
				"       Advertise Addrs: HTTP: 192.168.5.5:4646",
				"            Bind Addrs: HTTP: [192.168.5.5:4646]",
				"                Client: true",
				"             Log Level: INFO",
				"                Region: eu (DC: fra)",
				"                Server: false",
				"               Version: dev",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Merge(Default(), mustParse(t, tc.src, "b.hcl"))
			if got := c.Banner(tc.version); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Banner() =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
