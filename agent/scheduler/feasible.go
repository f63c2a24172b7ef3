package scheduler

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-version"

	"drover/agent/structs"
)

// Reasons a node is filtered out, as reported in placement failures.
const (
	reasonMissingDrivers = "missing drivers"
	reasonDistinctHosts  = "distinct_hosts"
	dimensionPorts       = "network: port collision"
	dimensionDynamic     = "network: dynamic port selection failed"
)

// inDatacenters reports whether dc matches one of the job's datacenter
// patterns ("*" and other globs are allowed).
func inDatacenters(dc string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, dc); ok {
			return true
		}
	}
	return false
}

// groupFilter returns "" when node can run every task of tg as far as
// drivers and constraints go, or the reason it cannot. It does not look
// at resources, which change as placements are made.
func groupFilter(job *structs.Job, tg *structs.TaskGroup, node *structs.Node) string {
	for _, t := range tg.Tasks {
		d := node.Drivers[t.Driver]
		if d == nil || !d.Detected || !d.Healthy {
			return reasonMissingDrivers
		}
	}
	lists := [][]*structs.Constraint{job.Constraints, tg.Constraints}
	for _, t := range tg.Tasks {
		lists = append(lists, t.Constraints)
	}
	for _, list := range lists {
		for _, c := range list {
			if c.Operand == "distinct_hosts" {
				continue // depends on placements; checked by the placer
			}
			if !constraintHolds(c, node) {
				return fmt.Sprintf("%s %s %s", c.LTarget, c.Operand, c.RTarget)
			}
		}
	}
	return ""
}

// hasDistinctHosts reports whether the job or group asks for one
// allocation per node.
func hasDistinctHosts(job *structs.Job, tg *structs.TaskGroup) bool {
	for _, list := range [][]*structs.Constraint{job.Constraints, tg.Constraints} {
		for _, c := range list {
			if c.Operand == "distinct_hosts" && (c.RTarget == "" || c.RTarget == "true") {
				return true
			}
		}
	}
	return false
}

// resolveTarget turns a constraint operand into a value: literals stand
// for themselves, ${...} names a node property.
func resolveTarget(target string, node *structs.Node) (string, bool) {
	if !strings.HasPrefix(target, "${") || !strings.HasSuffix(target, "}") {
		return target, true
	}
	return node.Property(target[2 : len(target)-1])
}

// regexpCache is shared by concurrent scheduler workers.
var regexpCache sync.Map // string -> *regexp.Regexp

func constraintHolds(c *structs.Constraint, node *structs.Node) bool {
	l, lok := resolveTarget(c.LTarget, node)
	r, rok := resolveTarget(c.RTarget, node)
	switch c.Operand {
	case "=", "==", "is":
		return lok && rok && l == r
	case "!=", "not":
		return l != r || lok != rok
	case "<", "<=", ">", ">=":
		return lok && rok && compareOrdered(c.Operand, l, r)
	case "regexp":
		if !lok || !rok {
			return false
		}
		cached, ok := regexpCache.Load(r)
		if !ok {
			re, err := regexp.Compile(r)
			if err != nil {
				return false
			}
			cached, _ = regexpCache.LoadOrStore(r, re)
		}
		return cached.(*regexp.Regexp).MatchString(l)
	case "version", "semver":
		if !lok || !rok {
			return false
		}
		v, err := version.NewVersion(l)
		if err != nil {
			return false
		}
		cons, err := version.NewConstraint(r)
		return err == nil && cons.Check(v)
	case "set_contains", "set_contains_all":
		return lok && rok && setContains(l, r, true)
	case "set_contains_any":
		return lok && rok && setContains(l, r, false)
	case "is_set":
		return lok
	case "is_not_set":
		return !lok
	}
	// distinct_property and unknown operands: refuse rather than guess.
	return false
}

func compareOrdered(op, l, r string) bool {
	var cmp int
	lf, lerr := strconv.ParseFloat(l, 64)
	rf, rerr := strconv.ParseFloat(r, 64)
	switch {
	case lerr == nil && rerr == nil:
		switch {
		case lf < rf:
			cmp = -1
		case lf > rf:
			cmp = 1
		}
	default:
		cmp = strings.Compare(l, r)
	}
	switch op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	}
	return cmp >= 0
}

func setContains(have, want string, all bool) bool {
	set := map[string]bool{}
	for _, s := range strings.Split(have, ",") {
		set[strings.TrimSpace(s)] = true
	}
	for _, w := range strings.Split(want, ",") {
		ok := set[strings.TrimSpace(w)]
		if all && !ok {
			return false
		}
		if !all && ok {
			return true
		}
	}
	return all
}
