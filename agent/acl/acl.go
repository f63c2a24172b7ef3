package acl

import (
	"sort"
	"strings"
)

// level orders the node, agent and operator policies: deny outranks
// everything, then write includes read.
type level int

const (
	levelNone level = iota
	levelRead
	levelWrite
	levelDeny
)

func parseLevel(s string) level {
	switch s {
	case PolicyRead:
		return levelRead
	case PolicyWrite:
		return levelWrite
	case PolicyDeny:
		return levelDeny
	}
	return levelNone
}

// merge combines the levels two policies give: deny wins, else the
// larger grant.
func merge(a, b level) level {
	if a == levelDeny || b == levelDeny {
		return levelDeny
	}
	return max(a, b)
}

// capSet is the capabilities granted in a namespace (or a glob of them).
type capSet map[string]bool

// globRule is a namespace rule whose name has a "*".
type globRule struct {
	pattern string
	caps    capSet
}

// varRules are a namespace's variable rules: capabilities by path or
// path glob.
type varRules map[string]capSet

// ACL is what a token may do, compiled from its policies. It is
// immutable once built and safe for concurrent use. The zero value
// allows nothing.
type ACL struct {
	management bool
	exact      map[string]capSet
	globs      []globRule
	// vars holds the variable rules of each namespace rule, by the
	// rule's name (or glob).
	vars     map[string]varRules
	node     level
	agent    level
	operator level
}

var management = &ACL{management: true}

// Management returns the ACL of a management token: everything is
// allowed. It is also what every request gets when ACLs are disabled.
func Management() *ACL { return management }

// Deny returns an ACL that allows nothing: the anonymous token's when no
// anonymous policy exists.
func Deny() *ACL { return &ACL{} }

// New compiles policies into one ACL. Capabilities granted for the same
// namespace name by several policies add up, and a deny for it anywhere
// takes them all away; node, agent and operator levels take the largest
// grant unless one policy denies.
func New(policies []*Policy) *ACL {
	a := &ACL{exact: map[string]capSet{}, vars: map[string]varRules{}}
	globs := map[string]capSet{}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for _, ns := range p.Namespaces {
			target := a.exact
			if strings.Contains(ns.Name, "*") {
				target = globs
			}
			caps := target[ns.Name]
			if caps == nil {
				caps = capSet{}
				target[ns.Name] = caps
			}
			for _, c := range expandNamespacePolicy(ns.Policy) {
				caps[c] = true
			}
			for _, c := range ns.Capabilities {
				caps[c] = true
			}
			vars := a.vars[ns.Name]
			if vars == nil {
				vars = varRules{}
				a.vars[ns.Name] = vars
			}
			grant := func(path string, caps []string) {
				if len(caps) == 0 {
					return
				}
				if vars[path] == nil {
					vars[path] = capSet{}
				}
				for _, c := range caps {
					vars[path][c] = true
				}
				// Reading a path's variables implies listing them, as
				// in the compatible policy language, so a policy
				// written for it shows the same variables here.
				if vars[path][VarCapRead] {
					vars[path][VarCapList] = true
				}
			}
			grant("*", expandVariablePolicy(ns.Policy))
			for _, v := range ns.Variables {
				grant(v.Path, v.Capabilities)
			}
		}
		a.node = merge(a.node, parseLevel(p.Node))
		a.agent = merge(a.agent, parseLevel(p.Agent))
		a.operator = merge(a.operator, parseLevel(p.Operator))
	}
	for pattern, caps := range globs {
		a.globs = append(a.globs, globRule{pattern: pattern, caps: caps})
	}
	// Sorted so that ties between equally close globs are broken the
	// same way on every server.
	sort.Slice(a.globs, func(i, j int) bool { return a.globs[i].pattern < a.globs[j].pattern })
	return a
}

// IsManagement reports whether this is a management token's ACL.
func (a *ACL) IsManagement() bool { return a.management }

// namespaceCaps finds the rule that governs namespace ns: a rule naming
// it exactly, else the matching glob closest to it (the one whose
// literal characters cover the most of the name), else none.
func (a *ACL) namespaceCaps(ns string) capSet {
	_, caps := a.namespaceRule(ns)
	return caps
}

// namespaceRule is namespaceCaps with the name (or glob) of the rule.
func (a *ACL) namespaceRule(ns string) (string, capSet) {
	if caps, ok := a.exact[ns]; ok {
		return ns, caps
	}
	var best capSet
	name := ""
	bestDiff := -1
	for _, g := range a.globs {
		if !globMatch(g.pattern, ns) {
			continue
		}
		diff := len(ns) - len(strings.ReplaceAll(g.pattern, "*", ""))
		if bestDiff < 0 || diff < bestDiff {
			best, name, bestDiff = g.caps, g.pattern, diff
		}
	}
	return name, best
}

// AllowVariableOperation reports whether the token has variable
// capability op (VarCapRead, VarCapWrite, VarCapList, VarCapDestroy) on
// the variable at path in namespace ns. The namespace's rule is found as
// for AllowNamespaceOperation (a deny there refuses everything); within
// it, the path rule naming path exactly governs, else the matching glob
// closest to it. A deny in the governing path rule refuses everything.
func (a *ACL) AllowVariableOperation(ns, path, op string) bool {
	if a.management {
		return true
	}
	name, nsCaps := a.namespaceRule(ns)
	if nsCaps == nil || nsCaps[CapDeny] {
		return false
	}
	rules := a.vars[name]
	caps, ok := rules[path]
	if !ok {
		bestDiff := -1
		// Walk the globs in sorted order, so that ties are broken the
		// same way on every server.
		patterns := make([]string, 0, len(rules))
		for p := range rules {
			patterns = append(patterns, p)
		}
		sort.Strings(patterns)
		for _, p := range patterns {
			if !strings.Contains(p, "*") || !globMatch(p, path) {
				continue
			}
			diff := len(path) - len(strings.ReplaceAll(p, "*", ""))
			if bestDiff < 0 || diff < bestDiff {
				caps, bestDiff = rules[p], diff
			}
		}
	}
	if caps == nil || caps[VarCapDeny] {
		return false
	}
	return caps[op]
}

// AllowNamespaceOperation reports whether the token has capability op in
// namespace ns. A deny in the governing rule refuses everything.
func (a *ACL) AllowNamespaceOperation(ns, op string) bool {
	if a.management {
		return true
	}
	caps := a.namespaceCaps(ns)
	if caps == nil || caps[CapDeny] {
		return false
	}
	return caps[op]
}

// AllowNamespace reports whether the token has any capability in ns:
// whether the namespace exists for it at all.
func (a *ACL) AllowNamespace(ns string) bool {
	if a.management {
		return true
	}
	caps := a.namespaceCaps(ns)
	if caps == nil || caps[CapDeny] {
		return false
	}
	return len(caps) > 0
}

// AllowNodeRead and the methods after it check the node, agent and
// operator levels: read allows reads, write allows both.
func (a *ACL) AllowNodeRead() bool { return a.allow(a.node, levelRead) }

// AllowNodeWrite: drain, eligibility.
func (a *ACL) AllowNodeWrite() bool { return a.allow(a.node, levelWrite) }

// AllowAgentRead: agent self, members, monitor.
func (a *ACL) AllowAgentRead() bool { return a.allow(a.agent, levelRead) }

// AllowAgentWrite: join, force-leave.
func (a *ACL) AllowAgentWrite() bool { return a.allow(a.agent, levelWrite) }

// AllowOperatorRead: raft configuration.
func (a *ACL) AllowOperatorRead() bool { return a.allow(a.operator, levelRead) }

// AllowOperatorWrite: operator changes.
func (a *ACL) AllowOperatorWrite() bool { return a.allow(a.operator, levelWrite) }

func (a *ACL) allow(have, want level) bool {
	if a.management {
		return true
	}
	return have != levelDeny && have >= want
}

// globMatch matches name against pattern, where "*" matches any run of
// characters (including none) and everything else matches itself.
func globMatch(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, last)
}
