package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"drover/agent/hclerr"
)

// LogLevels are the accepted values of log_level, in increasing severity.
var LogLevels = []string{"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}

// ValidationError is one problem found by Validate.
type ValidationError struct {
	// Subject is where the offending setting was made, when it came from
	// a file.
	Subject *hcl.Range
	// Message describes the problem.
	Message string
}

// Error returns the message, prefixed with "<file>:<line>,<col>-<endcol>: "
// when the location is known.
func (e *ValidationError) Error() string {
	if e.Subject == nil {
		return e.Message
	}
	return hclerr.Range(*e.Subject) + ": " + e.Message
}

// Validate checks an effective configuration (Default() or DevConfig()
// with files merged over it) and returns every problem at once, joined
// with errors.Join so that the text lists one problem per line. Each
// problem is a *ValidationError; it carries the file position of the
// setting involved when the setting came from a file. Validate returns nil
// when the configuration is usable.
func (c *Config) Validate() error {
	var errs []error
	// add records a problem, located at the first of paths that was set
	// in a file.
	add := func(paths []string, format string, args ...interface{}) {
		e := &ValidationError{Message: fmt.Sprintf(format, args...)}
		for _, p := range paths {
			if r, ok := c.rangeOf(p); ok {
				e.Subject = &r
				break
			}
		}
		errs = append(errs, e)
	}
	at := func(paths ...string) []string { return paths }

	if !c.Server.Enabled && !c.Client.Enabled && !c.DevMode {
		add(at("server.enabled", "client.enabled", "server", "client", ""),
			"Must specify either server, client or dev mode for the agent.")
	}
	if c.Server.Enabled && !c.DevMode && c.DataDir == "" && c.Server.DataDir == "" {
		add(at("server", "server.enabled", ""),
			`Must specify "data_dir" config option or "data-dir" CLI flag`)
	}
	if c.Client.Enabled && !c.DevMode && c.DataDir == "" &&
		(c.Client.StateDir == "" || c.Client.AllocDir == "") {
		add(at("client", "client.enabled", ""),
			"Must specify the state, alloc-dir, alloc-mounts-dir and plugin-dir if data-dir is omitted.")
	}
	if c.Server.BootstrapExpect < 0 {
		add(at("server.bootstrap_expect"), "bootstrap_expect must be >= 0, got %d", c.Server.BootstrapExpect)
	}
	if msg := checkLogLevel(c.LogLevel); msg != "" {
		add(at("log_level"), "%s", msg)
	}

	ports := []struct {
		path string
		port int
	}{
		{"ports.http", c.Ports.HTTP},
		{"ports.rpc", c.Ports.RPC},
		{"ports.serf", c.Ports.Serf},
	}
	for i, p := range ports {
		if msg := checkPort(p.port); msg != "" {
			add(at(p.path, "ports"), "Invalid %s: %s", p.path, msg)
			continue
		}
		for _, q := range ports[:i] {
			if q.port == p.port {
				add(at(p.path, q.path, "ports"), "%s and %s must be different, both are %d", q.path, p.path, p.port)
			}
		}
	}

	minOK, maxOK := true, true
	if msg := checkPort(c.Client.MinDynamicPort); msg != "" {
		add(at("client.min_dynamic_port"), "Invalid client.min_dynamic_port: %s", msg)
		minOK = false
	}
	if msg := checkPort(c.Client.MaxDynamicPort); msg != "" {
		add(at("client.max_dynamic_port"), "Invalid client.max_dynamic_port: %s", msg)
		maxOK = false
	}
	if minOK && maxOK && c.Client.MinDynamicPort >= c.Client.MaxDynamicPort {
		add(at("client.min_dynamic_port", "client.max_dynamic_port"),
			"client.min_dynamic_port (%d) must be less than client.max_dynamic_port (%d)",
			c.Client.MinDynamicPort, c.Client.MaxDynamicPort)
	}

	for _, a := range []struct {
		path, addr string
	}{
		{"advertise.http", c.Advertise.HTTP},
		{"advertise.rpc", c.Advertise.RPC},
		{"advertise.serf", c.Advertise.Serf},
	} {
		if a.addr == "" {
			continue
		}
		if _, _, err := SplitHostPort(a.addr, 0); err != nil {
			add(at(a.path), "Invalid %s address %q: %v", a.path, a.addr, err)
		}
	}
	for _, s := range c.Client.Servers {
		if _, _, err := SplitHostPort(s, DefaultRPCPort); err != nil {
			add(at("client.servers"), "Invalid client.servers entry %q: %v", s, err)
		}
	}

	// Counts and durations must not be negative. Ports and
	// bootstrap_expect have their own messages above.
	walkNumbers(reflect.ValueOf(c).Elem(), "", func(path string, n int64, isDur bool) {
		if n >= 0 || strings.HasPrefix(path, "ports.") || strings.HasSuffix(path, "_dynamic_port") ||
			path == "server.bootstrap_expect" {
			return
		}
		if isDur {
			add(at(path), "%s must not be negative, got %s", path, time.Duration(n))
		} else {
			add(at(path), "%s must not be negative, got %d", path, n)
		}
	})

	for _, p := range c.tlsProblems() {
		add(p.paths, "%s", p.msg)
	}

	return errors.Join(errs...)
}

// walkNumbers calls fn for every int and duration setting of v.
func walkNumbers(v reflect.Value, prefix string, fn func(path string, n int64, isDur bool)) {
	for _, f := range fieldsOf(v.Type()) {
		path := joinPath(prefix, f.name)
		fv := v.Field(f.index)
		switch {
		case f.kind == kindBlock:
			walkNumbers(fv, path, fn)
		case f.kind == kindAttr && fv.Kind() == reflect.Int:
			fn(path, fv.Int(), false)
		case f.kind == kindAttr && fv.Type() == durationType:
			fn(path, fv.Int(), true)
		}
	}
}

// Warnings returns advice about risky but valid settings of an effective
// configuration.
func (c *Config) Warnings() []string {
	var w []string
	if !c.Server.Enabled {
		return nil
	}
	n := c.Server.BootstrapExpect
	if n == 1 && !c.DevMode {
		w = append(w, "WARNING: Bootstrap mode enabled! Potentially unsafe operation.")
	}
	if n > 0 && n%2 == 0 {
		w = append(w, "WARNING: Number of bootstrap servers should ideally be set to an odd number.")
	}
	if n == 2 {
		// Two servers need both for a quorum: losing either one stops all
		// writes, so two are less available than one.
		w = append(w, "WARNING: bootstrap_expect = 2: the cluster stops when either server fails (a quorum of 2 needs both); use 3.")
	}
	return w
}

// checkLogLevel returns "" if level is an accepted log level (any case),
// or a description of the problem.
func checkLogLevel(level string) string {
	if slices.Contains(LogLevels, strings.ToUpper(level)) {
		return ""
	}
	return fmt.Sprintf("invalid log level %q, must be one of %s", level, strings.Join(LogLevels, ", "))
}

// checkPort returns "" if port is a usable TCP port, or a description of
// the problem.
func checkPort(port int) string {
	if port >= 1 && port <= 65535 {
		return ""
	}
	return fmt.Sprintf("port %d is not between 1 and 65535", port)
}
