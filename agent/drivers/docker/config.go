package docker

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// taskConfig is a task's docker driver config, decoded from the job's
// opaque map. The job parser hands us JSON-ish values (float64 numbers,
// []interface{} lists, blocks as lists of maps), so decoding is by hand
// with errors that name the key.
type taskConfig struct {
	Image      string
	Command    string
	Args       []string
	Entrypoint []string
	// Ports are the labels of group network ports to publish.
	Ports []string
	// PortMap maps task-network port labels to container ports (the old
	// style, before group networks had "to").
	PortMap  map[string]int
	Labels   map[string]string
	WorkDir  string
	Hostname string
}

// configKeys are the keys a task config may hold; anything else is refused
// so that a typo ("port_maps") fails the task instead of being ignored.
var configKeys = []string{"args", "command", "entrypoint", "hostname", "image", "labels", "port_map", "ports", "work_dir"}

// parseConfig validates and decodes a task's driver config.
func parseConfig(raw map[string]interface{}) (*taskConfig, error) {
	// Decode in a fixed order so that, with several bad keys, the error
	// is always about the same one.
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	c := &taskConfig{}
	for _, k := range keys {
		v := raw[k]
		var err error
		switch k {
		case "image":
			c.Image, err = toString(k, v)
		case "command":
			c.Command, err = toString(k, v)
		case "args":
			c.Args, err = toStringList(k, v)
		case "entrypoint":
			c.Entrypoint, err = toStringList(k, v)
		case "ports":
			c.Ports, err = toStringList(k, v)
		case "port_map":
			c.PortMap, err = toPortMap(k, v)
		case "labels":
			c.Labels, err = toStringMap(k, v)
		case "work_dir":
			c.WorkDir, err = toString(k, v)
		case "hostname":
			c.Hostname, err = toString(k, v)
		default:
			err = fmt.Errorf("unknown key %q (valid keys: %s)", k, strings.Join(configKeys, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("docker config: %w", err)
		}
	}
	if c.Image == "" {
		return nil, fmt.Errorf("docker config: %q is required", "image")
	}
	return c, nil
}

func toString(key string, v interface{}) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	return "", fmt.Errorf("%q must be a string, not %T", key, v)
}

// scalarString renders a list element; numbers and booleans are accepted
// because HCL writes args = [6379] as a number.
func scalarString(v interface{}) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	}
	return "", false
}

func toStringList(key string, v interface{}) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return append([]string(nil), x...), nil
	case []interface{}:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("%q[%d] must be a string, not %T", key, i, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%q must be a list of strings, not %T", key, v)
}

// maps returns the maps of a map-valued key, which the job parser gives
// either as a map or, for block syntax, as a list of maps.
func maps(key string, v interface{}) ([]map[string]interface{}, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case map[string]interface{}:
		return []map[string]interface{}{x}, nil
	case map[string]string:
		m := make(map[string]interface{}, len(x))
		for k, e := range x {
			m[k] = e
		}
		return []map[string]interface{}{m}, nil
	case map[string]int:
		m := make(map[string]interface{}, len(x))
		for k, e := range x {
			m[k] = e
		}
		return []map[string]interface{}{m}, nil
	case []map[string]interface{}:
		return x, nil
	case []interface{}:
		var out []map[string]interface{}
		for i, e := range x {
			ms, err := maps(fmt.Sprintf("%s[%d]", key, i), e)
			if err != nil {
				return nil, err
			}
			out = append(out, ms...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%q must be a map, not %T", key, v)
}

func toStringMap(key string, v interface{}) (map[string]string, error) {
	ms, err := maps(key, v)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, m := range ms {
		for k, e := range m {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("%q: value of %q must be a string, not %T", key, k, e)
			}
			out[k] = s
		}
	}
	return out, nil
}

func toPortMap(key string, v interface{}) (map[string]int, error) {
	ms, err := maps(key, v)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range ms {
		for label, e := range m {
			p, ok := toPort(e)
			if !ok {
				return nil, fmt.Errorf("%q: port of %q must be a number from 1 to 65535, not %v", key, label, e)
			}
			out[label] = p
		}
	}
	return out, nil
}

func toPort(v interface{}) (int, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case string:
		n, err := strconv.Atoi(x)
		if err != nil {
			return 0, false
		}
		f = float64(n)
	default:
		return 0, false
	}
	if f != math.Trunc(f) || f < 1 || f > 65535 {
		return 0, false
	}
	return int(f), true
}
