// Package acl is Drover's access control language and checker: Parse
// turns the rules of a policy, written in the HCL policy language of the
// compatible API, into a Policy; New compiles the policies of a token
// into an ACL, which answers "may this token do that?". It is pure: no
// state, no I/O, no clock. See DESIGN.md.
package acl

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"drover/agent/hclerr"
)

// Policy levels, the values of `policy = "..."`.
const (
	PolicyDeny  = "deny"
	PolicyList  = "list"
	PolicyRead  = "read"
	PolicyWrite = "write"
	PolicyScale = "scale"
)

// Namespace capabilities: what `capabilities = [...]` may name, and what
// the endpoints ask for.
const (
	CapDeny                = "deny"
	CapListJobs            = "list-jobs"
	CapParseJob            = "parse-job"
	CapReadJob             = "read-job"
	CapSubmitJob           = "submit-job"
	CapDispatchJob         = "dispatch-job"
	CapReadLogs            = "read-logs"
	CapReadFS              = "read-fs"
	CapAllocExec           = "alloc-exec"
	CapAllocNodeExec       = "alloc-node-exec"
	CapAllocLifecycle      = "alloc-lifecycle"
	CapReadJobScaling      = "read-job-scaling"
	CapScaleJob            = "scale-job"
	CapListScalingPolicies = "list-scaling-policies"
	CapReadScalingPolicy   = "read-scaling-policy"
	CapSubmitRecommend     = "submit-recommendation"
	CapSentinelOverride    = "sentinel-override"
	CapCSIRegisterPlugin   = "csi-register-plugin"
	CapCSIWriteVolume      = "csi-write-volume"
	CapCSIReadVolume       = "csi-read-volume"
	CapCSIListVolume       = "csi-list-volume"
	CapCSIMountVolume      = "csi-mount-volume"
	CapHostVolumeCreate    = "host-volume-create"
	CapHostVolumeRegister  = "host-volume-register"
	CapHostVolumeRead      = "host-volume-read"
	CapHostVolumeWrite     = "host-volume-write"
	CapHostVolumeDelete    = "host-volume-delete"
)

// knownCapabilities are the capability names a policy may use. Some
// guard features Drover does not have (CSI, host volumes, Sentinel); they
// are accepted so that a policy written for the compatible system
// applies unchanged, and grant nothing here.
var knownCapabilities = map[string]bool{}

func init() {
	for _, c := range []string{CapDeny, CapListJobs, CapParseJob, CapReadJob, CapSubmitJob, CapDispatchJob,
		CapReadLogs, CapReadFS, CapAllocExec, CapAllocNodeExec, CapAllocLifecycle, CapReadJobScaling,
		CapScaleJob, CapListScalingPolicies, CapReadScalingPolicy, CapSubmitRecommend, CapSentinelOverride,
		CapCSIRegisterPlugin, CapCSIWriteVolume, CapCSIReadVolume, CapCSIListVolume, CapCSIMountVolume,
		CapHostVolumeCreate, CapHostVolumeRegister, CapHostVolumeRead, CapHostVolumeWrite, CapHostVolumeDelete} {
		knownCapabilities[c] = true
	}
}

// Variable capabilities: what a namespace's `variables { path "..." {
// capabilities = [...] } }` may name.
const (
	VarCapWrite   = "write"
	VarCapRead    = "read"
	VarCapList    = "list"
	VarCapDestroy = "destroy"
	VarCapDeny    = "deny"
)

var knownVariableCapabilities = map[string]bool{
	VarCapWrite: true, VarCapRead: true, VarCapList: true, VarCapDestroy: true, VarCapDeny: true,
}

// expandVariablePolicy is what a namespace's `policy` grants on its
// variables, on every path: read lists and reads them, write does
// everything.
func expandVariablePolicy(policy string) []string {
	switch policy {
	case PolicyRead:
		return []string{VarCapRead, VarCapList}
	case PolicyWrite:
		return []string{VarCapWrite, VarCapRead, VarCapList, VarCapDestroy}
	}
	return nil
}

// expandNamespacePolicy is what a namespace's `policy` grants: each
// level is a shorthand for a set of capabilities.
func expandNamespacePolicy(policy string) []string {
	read := []string{CapListJobs, CapParseJob, CapReadJob, CapCSIListVolume, CapCSIReadVolume,
		CapReadJobScaling, CapListScalingPolicies, CapReadScalingPolicy, CapHostVolumeRead}
	switch policy {
	case PolicyDeny:
		return []string{CapDeny}
	case PolicyList:
		return []string{CapListJobs, CapParseJob}
	case PolicyRead:
		return read
	case PolicyWrite:
		return append(read, CapScaleJob, CapSubmitJob, CapDispatchJob, CapReadLogs, CapReadFS,
			CapAllocExec, CapAllocLifecycle, CapCSIMountVolume, CapCSIWriteVolume, CapSubmitRecommend,
			CapHostVolumeCreate, CapHostVolumeWrite)
	case PolicyScale:
		return []string{CapListScalingPolicies, CapReadScalingPolicy, CapReadJobScaling, CapScaleJob}
	}
	return nil
}

// Policy is a parsed policy: its namespace rules and its levels for the
// node, agent and operator APIs ("" when the policy says nothing).
type Policy struct {
	Namespaces []*NamespaceRule
	Node       string
	Agent      string
	Operator   string
}

// NamespaceRule grants capabilities in the namespaces its name matches:
// a name, or a glob where "*" stands for any run of characters.
type NamespaceRule struct {
	Name         string
	Policy       string
	Capabilities []string
	// Variables grants capabilities on the namespace's variables whose
	// path a rule's path (or glob) matches.
	Variables []*VariableRule
}

// VariableRule grants capabilities on the variables whose path matches
// Path: a path, or a glob where "*" stands for any run of characters.
type VariableRule struct {
	Path         string
	Capabilities []string
}

// The HCL shape of a policy. Blocks for features Drover does not have
// (quota, plugin, host_volume) are accepted and ignored, so that a policy written for the compatible system applies.
type policyFile struct {
	Namespaces  []*namespaceBlock `hcl:"namespace,block"`
	Node        *levelBlock       `hcl:"node,block"`
	Agent       *levelBlock       `hcl:"agent,block"`
	Operator    *levelBlock       `hcl:"operator,block"`
	Quota       *levelBlock       `hcl:"quota,block"`
	Plugin      *levelBlock       `hcl:"plugin,block"`
	HostVolumes []*namespaceBlock `hcl:"host_volume,block"`
	Remain      hcl.Body          `hcl:",remain"`
}

type namespaceBlock struct {
	Name         string          `hcl:"name,label"`
	Policy       string          `hcl:"policy,optional"`
	Capabilities []string        `hcl:"capabilities,optional"`
	Variables    *variablesBlock `hcl:"variables,block"`
	Remain       hcl.Body        `hcl:",remain"`
}

type variablesBlock struct {
	Paths  []*variablePathBlock `hcl:"path,block"`
	Remain hcl.Body             `hcl:",remain"`
}

type variablePathBlock struct {
	Path         string   `hcl:"path,label"`
	Capabilities []string `hcl:"capabilities"`
}

type levelBlock struct {
	Policy string   `hcl:"policy"`
	Remain hcl.Body `hcl:",remain"`
}

// Parse parses the rules of a policy. filename names the source in
// diagnostics, which say file:line,col where each problem is (as
// agent/hclerr renders them). Empty rules are refused: a policy that
// grants nothing is a mistake.
func Parse(filename string, src []byte) (*Policy, error) {
	if strings.TrimSpace(string(src)) == "" {
		return nil, fmt.Errorf("%s: the policy has no rules", filename)
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return nil, hclerr.Error(diags)
	}
	body := file.Body.(*hclsyntax.Body)
	diags = append(diags, checkShape(body)...)
	if diags.HasErrors() {
		return nil, hclerr.Error(diags)
	}
	var pf policyFile
	if d := gohcl.DecodeBody(file.Body, nil, &pf); d.HasErrors() {
		return nil, hclerr.Error(d)
	}
	p := &Policy{}
	for _, ns := range pf.Namespaces {
		block := findBlock(body, "namespace", ns.Name)
		if ns.Policy == "" && len(ns.Capabilities) == 0 && ns.Variables == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid namespace rule",
				Detail:  fmt.Sprintf("namespace %q sets neither policy, capabilities nor variables", ns.Name),
				Subject: block.DefRange().Ptr()})
			continue
		}
		if ns.Policy != "" && expandNamespacePolicy(ns.Policy) == nil {
			diags = append(diags, badValue(block, "policy",
				fmt.Sprintf("invalid namespace policy %q: want one of deny, list, read, scale, write", ns.Policy)))
		}
		for _, c := range ns.Capabilities {
			if !knownCapabilities[c] {
				diags = append(diags, badValue(block, "capabilities", fmt.Sprintf("unknown namespace capability %q", c)))
			}
		}
		rule := &NamespaceRule{Name: ns.Name, Policy: ns.Policy, Capabilities: append([]string(nil), ns.Capabilities...)}
		if ns.Variables != nil {
			vb := findBlock(block.Body, "variables", "")
			for _, pb := range ns.Variables.Paths {
				pblock := findBlock(vb.Body, "path", pb.Path)
				for _, c := range pb.Capabilities {
					if !knownVariableCapabilities[c] {
						diags = append(diags, badValue(pblock, "capabilities",
							fmt.Sprintf("unknown variable capability %q: want write, read, list, destroy or deny", c)))
					}
				}
				rule.Variables = append(rule.Variables, &VariableRule{Path: pb.Path,
					Capabilities: append([]string(nil), pb.Capabilities...)})
			}
		}
		p.Namespaces = append(p.Namespaces, rule)
	}
	for _, lv := range []struct {
		name  string
		block *levelBlock
		to    *string
		allow []string
	}{
		{"node", pf.Node, &p.Node, []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{"agent", pf.Agent, &p.Agent, []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{"operator", pf.Operator, &p.Operator, []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{"quota", pf.Quota, new(string), []string{PolicyDeny, PolicyRead, PolicyWrite}},
		{"plugin", pf.Plugin, new(string), []string{PolicyDeny, PolicyList, PolicyRead}},
	} {
		if lv.block == nil {
			continue
		}
		if !contains(lv.allow, lv.block.Policy) {
			diags = append(diags, badValue(findBlock(body, lv.name, ""), "policy",
				fmt.Sprintf("invalid %s policy %q: want one of %s", lv.name, lv.block.Policy, strings.Join(lv.allow, ", "))))
		}
		*lv.to = lv.block.Policy
	}
	if diags.HasErrors() {
		return nil, hclerr.Error(diags)
	}
	return p, nil
}

// checkShape refuses what the policy language does not have (unknown
// blocks and attributes, a block given twice where one is allowed), each
// with its position, before decoding, whose messages are vaguer.
func checkShape(body *hclsyntax.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, attr := range body.Attributes {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
			Detail: fmt.Sprintf("a policy has blocks (namespace, node, agent, operator), not a %q argument", name), Subject: attr.NameRange.Ptr()})
	}
	seen := map[string]bool{}
	for _, b := range body.Blocks {
		switch b.Type {
		case "namespace", "host_volume":
			if len(b.Labels) != 1 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid block",
					Detail: fmt.Sprintf("a %s block takes one label, its name: %s \"default\" { ... }", b.Type, b.Type), Subject: b.TypeRange.Ptr()})
				continue
			}
			key := b.Type + "\x00" + b.Labels[0]
			if seen[key] {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate block",
					Detail: fmt.Sprintf("%s %q is given twice", b.Type, b.Labels[0]), Subject: b.TypeRange.Ptr()})
			}
			seen[key] = true
			diags = append(diags, checkAttrs(b, []string{"policy", "capabilities"}, []string{"variables"})...)
			diags = append(diags, checkVariables(b)...)
		case "node", "agent", "operator", "quota", "plugin":
			if len(b.Labels) != 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid block",
					Detail: fmt.Sprintf("a %s block takes no label", b.Type), Subject: b.LabelRanges[0].Ptr()})
				continue
			}
			if seen[b.Type] {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate block",
					Detail: fmt.Sprintf("%s is given twice", b.Type), Subject: b.TypeRange.Ptr()})
			}
			seen[b.Type] = true
			diags = append(diags, checkAttrs(b, []string{"policy"}, nil)...)
			if _, ok := b.Body.Attributes["policy"]; !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
					Detail: fmt.Sprintf("a %s block needs policy = \"read\" (or deny, write)", b.Type), Subject: b.TypeRange.Ptr()})
			}
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type",
				Detail:  fmt.Sprintf("blocks of type %q are not expected here; a policy has namespace, node, agent and operator blocks", b.Type),
				Subject: b.TypeRange.Ptr()})
		}
	}
	sort.SliceStable(diags, func(i, j int) bool {
		return diags[i].Subject.Start.Byte < diags[j].Subject.Start.Byte
	})
	return diags
}

// checkVariables checks the shape of a namespace's variables blocks:
// path blocks, each with one label and its capabilities.
func checkVariables(ns *hclsyntax.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	n := 0
	for _, vb := range ns.Body.Blocks {
		if vb.Type != "variables" {
			continue
		}
		if n++; n > 1 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate block",
				Detail: "variables is given twice in a namespace", Subject: vb.TypeRange.Ptr()})
		}
		if len(vb.Labels) != 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid block",
				Detail: "a variables block takes no label", Subject: vb.LabelRanges[0].Ptr()})
			continue
		}
		diags = append(diags, checkAttrs(vb, nil, []string{"path"})...)
		for _, pb := range vb.Body.Blocks {
			if pb.Type != "path" {
				continue
			}
			if len(pb.Labels) != 1 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid block",
					Detail: "a path block takes one label, the path or a glob: path \"app/*\" { ... }", Subject: pb.TypeRange.Ptr()})
				continue
			}
			diags = append(diags, checkAttrs(pb, []string{"capabilities"}, nil)...)
			if _, ok := pb.Body.Attributes["capabilities"]; !ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required argument",
					Detail: "a path block needs capabilities = [...] (write, read, list, destroy, deny)", Subject: pb.TypeRange.Ptr()})
			}
		}
	}
	return diags
}

// checkAttrs refuses attributes and nested blocks a block does not have;
// ignored names nested blocks accepted for compatibility and ignored.
func checkAttrs(b *hclsyntax.Block, attrs, ignored []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for name, a := range b.Body.Attributes {
		if !contains(attrs, name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported argument",
				Detail: fmt.Sprintf("a %s block has no %q argument (it has %s)", b.Type, name, strings.Join(attrs, ", ")), Subject: a.NameRange.Ptr()})
		}
	}
	for _, nb := range b.Body.Blocks {
		if !contains(ignored, nb.Type) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported block type",
				Detail: fmt.Sprintf("a %s block has no %q block", b.Type, nb.Type), Subject: nb.TypeRange.Ptr()})
		}
	}
	return diags
}

// findBlock returns the first block of that type (and label, when given).
func findBlock(body *hclsyntax.Body, typ, label string) *hclsyntax.Block {
	for _, b := range body.Blocks {
		if b.Type == typ && (label == "" || len(b.Labels) == 1 && b.Labels[0] == label) {
			return b
		}
	}
	return nil
}

// badValue reports a bad value of a block's attribute at the value.
func badValue(b *hclsyntax.Block, attr, detail string) *hcl.Diagnostic {
	subject := b.DefRange()
	if a, ok := b.Body.Attributes[attr]; ok {
		subject = a.Expr.Range()
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid policy", Detail: detail, Subject: subject.Ptr()}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
