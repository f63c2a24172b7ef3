package config

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// SplitHostPort splits "host" or "host:port" into its parts, returning
// defaultPort when no port is given. IPv6 addresses are accepted bare
// ("::1"), bracketed ("[::1]") or with a port ("[::1]:4647"). The host must
// be an IP address or a DNS name.
func SplitHostPort(addr string, defaultPort int) (host string, port int, err error) {
	addr = strings.TrimSpace(addr)
	switch {
	case addr == "":
		return "", 0, errors.New("address is empty")
	case net.ParseIP(addr) != nil:
		return addr, defaultPort, nil
	case strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]"):
		host = addr[1 : len(addr)-1]
		if net.ParseIP(host) == nil {
			return "", 0, fmt.Errorf("%q is not an IP address", host)
		}
		return host, defaultPort, nil
	case !strings.Contains(addr, ":"):
		host, port = addr, defaultPort
	default:
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return "", 0, err
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", 0, fmt.Errorf("port %q is not a number", p)
		}
		if msg := checkPort(n); msg != "" {
			return "", 0, errors.New(msg)
		}
		host, port = h, n
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		return "", 0, fmt.Errorf("%q is not a valid host name or IP address", host)
	}
	return host, port, nil
}

// validHostname reports whether s looks like a DNS name.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// NormalizeAddr returns addr as "host:port", adding defaultPort when addr
// has no port.
func NormalizeAddr(addr string, defaultPort int) (string, error) {
	host, port, err := SplitHostPort(addr, defaultPort)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// Normalize puts an effective configuration into canonical form: the log
// level in upper case, advertise addresses with the configured service
// port added where they have none, and client.servers entries with port
// 4647 added where they have none. Entries that do not parse are left
// alone for Validate to report.
func (c *Config) Normalize() {
	c.LogLevel = strings.ToUpper(c.LogLevel)
	for _, a := range []struct {
		addr *string
		port int
	}{
		{&c.Advertise.HTTP, c.Ports.HTTP},
		{&c.Advertise.RPC, c.Ports.RPC},
		{&c.Advertise.Serf, c.Ports.Serf},
	} {
		if *a.addr == "" {
			continue
		}
		if n, err := NormalizeAddr(*a.addr, a.port); err == nil {
			*a.addr = n
		}
	}
	for i, s := range c.Client.Servers {
		if n, err := NormalizeAddr(s, DefaultRPCPort); err == nil {
			c.Client.Servers[i] = n
		}
	}
}

// interfaceAddrs lists the machine's addresses; tests replace it.
var interfaceAddrs = net.InterfaceAddrs

// defaultAdvertiseIP returns the first non-loopback IPv4 address of the
// machine, or 127.0.0.1 when there is none.
func defaultAdvertiseIP() string {
	addrs, err := interfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			var ip net.IP
			switch v := a.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			}
			if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsUnspecified() {
				return ip4.String()
			}
		}
	}
	return "127.0.0.1"
}

// isAnyAddr reports whether host means "all interfaces".
func isAnyAddr(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::" || host == "[::]"
}

// AdvertiseAddrs returns the "host:port" address advertised for each
// service. A configured advertise address gets the service port added if
// it has none. Otherwise the service's bind address (Addresses entry, else
// BindAddr) is used, unless it means "all interfaces", in which case the
// machine's first non-loopback IPv4 address is used (127.0.0.1 if none).
func (c *Config) AdvertiseAddrs() (AddressConfig, error) {
	resolve := func(adv, bind string, port int) (string, error) {
		if adv != "" {
			return NormalizeAddr(adv, port)
		}
		if bind == "" {
			bind = c.BindAddr
		}
		if isAnyAddr(bind) {
			bind = defaultAdvertiseIP()
		}
		return net.JoinHostPort(strings.Trim(bind, "[]"), strconv.Itoa(port)), nil
	}
	var out AddressConfig
	var errs []error
	var err error
	if out.HTTP, err = resolve(c.Advertise.HTTP, c.Addresses.HTTP, c.Ports.HTTP); err != nil {
		errs = append(errs, fmt.Errorf("advertise.http: %w", err))
	}
	if out.RPC, err = resolve(c.Advertise.RPC, c.Addresses.RPC, c.Ports.RPC); err != nil {
		errs = append(errs, fmt.Errorf("advertise.rpc: %w", err))
	}
	if out.Serf, err = resolve(c.Advertise.Serf, c.Addresses.Serf, c.Ports.Serf); err != nil {
		errs = append(errs, fmt.Errorf("advertise.serf: %w", err))
	}
	return out, errors.Join(errs...)
}

// BindAddrs returns the "host:port" address each service listens on: its
// Addresses entry, or BindAddr, with the service port.
func (c *Config) BindAddrs() AddressConfig {
	bind := func(override string, port int) string {
		if override == "" {
			override = c.BindAddr
		}
		return net.JoinHostPort(strings.Trim(override, "[]"), strconv.Itoa(port))
	}
	return AddressConfig{
		HTTP: bind(c.Addresses.HTTP, c.Ports.HTTP),
		RPC:  bind(c.Addresses.RPC, c.Ports.RPC),
		Serf: bind(c.Addresses.Serf, c.Ports.Serf),
	}
}

// Banner returns the key/value lines printed when the agent starts, sorted
// by key, each formatted as four spaces and the key right-aligned to 18
// columns, then ": " and the value. RPC and Serf addresses are shown only
// for servers. version is shown as the "Version" line.
func (c *Config) Banner(version string) []string {
	adv, err := c.AdvertiseAddrs()
	if err != nil {
		// Show what was configured rather than nothing.
		raw := func(s string) string {
			if s == "" {
				return "<unset>"
			}
			return s
		}
		adv = AddressConfig{HTTP: raw(c.Advertise.HTTP), RPC: raw(c.Advertise.RPC), Serf: raw(c.Advertise.Serf)}
	}
	bind := c.BindAddrs()

	advertise := "HTTP: " + adv.HTTP
	binds := "HTTP: [" + bind.HTTP + "]"
	if c.Server.Enabled {
		advertise += "; RPC: " + adv.RPC + "; Serf: " + adv.Serf
		binds += "; RPC: " + bind.RPC + "; Serf: " + bind.Serf
	}
	info := map[string]string{
		"Advertise Addrs": advertise,
		"Bind Addrs":      binds,
		"Client":          strconv.FormatBool(c.Client.Enabled),
		"Log Level":       c.LogLevel,
		"Region":          fmt.Sprintf("%s (DC: %s)", c.Region, c.Datacenter),
		"Server":          strconv.FormatBool(c.Server.Enabled),
		"Version":         version,
	}
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("    %s%s: %s", strings.Repeat(" ", 18-len(k)), k, info[k]))
	}
	return lines
}
