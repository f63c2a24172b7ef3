// Package search answers the search endpoints of the compatible API: the
// prefix search (/v1/search), which finds the objects whose ID starts with
// a prefix, and the fuzzy search (/v1/search/fuzzy), which finds objects
// whose name contains a term.
//
// Both are pure functions over a read view of the cluster state (a
// state.StateSnapshot satisfies Reader); the HTTP layer decodes the
// request, calls them and encodes what they return.
package search

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/go-memdb"

	"drover/agent/state"
	"drover/agent/structs"
)

// Context names a kind of object to search, spelt as the compatible API
// spells it on the wire ("deployment" is singular there).
type Context string

// The contexts a request may name, and those a fuzzy search answers with
// (groups and tasks are found inside jobs).
const (
	All         Context = "all"
	Jobs        Context = "jobs"
	Allocs      Context = "allocs"
	Nodes       Context = "nodes"
	Evals       Context = "evals"
	Deployments Context = "deployment"
	Namespaces  Context = "namespaces"
	Groups      Context = "groups"
	Tasks       Context = "tasks"
)

// Limits. A prefix search answers at most PrefixLimit IDs per context and a
// fuzzy search at most FuzzyLimit matches per context (the compatible
// API's defaults); Truncations tells when there were more. A fuzzy term
// must have at least MinTermLength characters.
const (
	PrefixLimit   = 20
	FuzzyLimit    = 100
	MinTermLength = 2
)

// prefixContexts are the contexts "all" stands for in a prefix search, in
// the order they are searched.
var prefixContexts = []Context{Jobs, Allocs, Nodes, Evals, Deployments, Namespaces}

// fuzzyRequestContexts are the contexts a fuzzy search may be asked for;
// fuzzyContexts are those its answer can hold.
var (
	fuzzyRequestContexts = []Context{Jobs, Allocs, Nodes, Namespaces}
	fuzzyContexts        = []Context{Jobs, Groups, Tasks, Allocs, Nodes, Namespaces}
)

// ErrInvalidRequest marks an error in what the caller asked (an unknown
// context, a term too short): the HTTP layer answers it with a 400.
var ErrInvalidRequest = errors.New("invalid search request")

// invalid is an ErrInvalidRequest whose text is msg alone.
type invalid struct{ msg string }

func (e *invalid) Error() string        { return e.msg }
func (e *invalid) Is(target error) bool { return target == ErrInvalidRequest }

func invalidf(format string, args ...interface{}) error {
	return &invalid{msg: fmt.Sprintf(format, args...)}
}

// Reader is the part of the state store a search reads.
type Reader interface {
	Jobs(ws memdb.WatchSet) ([]*structs.Job, error)
	JobsByIDPrefix(ws memdb.WatchSet, namespace, prefix string) ([]*structs.Job, error)
	Allocs(ws memdb.WatchSet) ([]*structs.Allocation, error)
	AllocsByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Allocation, error)
	Nodes(ws memdb.WatchSet) ([]*structs.Node, error)
	NodesByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Node, error)
	EvalsByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Evaluation, error)
	DeploymentsByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Deployment, error)
	Index(table string) (uint64, error)
}

var _ Reader = (*state.StateSnapshot)(nil)

// tables are the state tables each context reads, for the index a search
// answers with. Namespaces are not objects of their own in Drover: they
// are the default one and those the jobs name.
var tables = map[Context][]string{
	Jobs:        {state.TableJobs},
	Allocs:      {state.TableAllocs},
	Nodes:       {state.TableNodes},
	Evals:       {state.TableEvals},
	Deployments: {state.TableDeployments},
	Namespaces:  {state.TableJobs},
}

// PrefixResult is the answer of a prefix search: per context the matching
// IDs, sorted, and whether there were more than PrefixLimit of them.
// Index is the highest index of the tables read.
type PrefixResult struct {
	Matches     map[Context][]string
	Truncations map[Context]bool
	Index       uint64
}

// CheckPrefix reports whether ctx may be asked of a prefix search.
func CheckPrefix(ctx Context) error {
	if ctx == All {
		return nil
	}
	for _, c := range prefixContexts {
		if c == ctx {
			return nil
		}
	}
	return invalidf("Invalid Context %q: must be one of %s", ctx, contextList(All, prefixContexts))
}

// Prefix finds the objects of ctx ("all": of every context) whose ID
// starts with prefix. namespace restricts jobs, allocations, evaluations
// and deployments to one namespace ("*": every one); nodes and namespaces
// belong to none. A prefix that no UUID can start with simply matches
// nothing in the UUID contexts.
func Prefix(ws memdb.WatchSet, snap Reader, namespace, prefix string, ctx Context) (*PrefixResult, error) {
	if err := CheckPrefix(ctx); err != nil {
		return nil, err
	}
	ctxs := []Context{ctx}
	if ctx == All {
		ctxs = prefixContexts
	}
	res := &PrefixResult{Matches: map[Context][]string{}, Truncations: map[Context]bool{}}
	for _, c := range ctxs {
		ids, err := prefixIDs(ws, snap, namespace, prefix, c)
		if err != nil {
			return nil, err
		}
		ids = uniqueSorted(ids)
		res.Truncations[c] = len(ids) > PrefixLimit
		if len(ids) > PrefixLimit {
			ids = ids[:PrefixLimit]
		}
		res.Matches[c] = ids
		index, err := maxIndex(snap, tables[c])
		if err != nil {
			return nil, err
		}
		res.Index = max(res.Index, index)
	}
	return res, nil
}

// prefixIDs lists the IDs of one context that start with prefix, in any
// order and possibly repeated (a job ID in several namespaces).
func prefixIDs(ws memdb.WatchSet, snap Reader, namespace, prefix string, ctx Context) ([]string, error) {
	var ids []string
	switch ctx {
	case Jobs:
		jobs, err := jobsIn(ws, snap, namespace, prefix)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			ids = append(ids, j.ID)
		}
	case Allocs:
		allocs, err := snap.AllocsByIDPrefix(ws, prefix)
		if err != nil {
			return nil, err
		}
		for _, a := range allocs {
			if inNamespace(namespace, a.Namespace) {
				ids = append(ids, a.ID)
			}
		}
	case Nodes:
		nodes, err := snap.NodesByIDPrefix(ws, prefix)
		if err != nil {
			return nil, err
		}
		for _, n := range nodes {
			ids = append(ids, n.ID)
		}
	case Evals:
		evals, err := snap.EvalsByIDPrefix(ws, prefix)
		if err != nil {
			return nil, err
		}
		for _, e := range evals {
			if inNamespace(namespace, e.Namespace) {
				ids = append(ids, e.ID)
			}
		}
	case Deployments:
		ds, err := snap.DeploymentsByIDPrefix(ws, prefix)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if inNamespace(namespace, d.Namespace) {
				ids = append(ids, d.ID)
			}
		}
	case Namespaces:
		all, err := namespaces(ws, snap)
		if err != nil {
			return nil, err
		}
		for _, ns := range all {
			if strings.HasPrefix(ns, prefix) {
				ids = append(ids, ns)
			}
		}
	}
	return ids, nil
}

// FuzzyMatch is one object a fuzzy search found: its name, and the IDs of
// what it belongs to (for a task: namespace, job, group).
type FuzzyMatch struct {
	ID    string
	Scope []string `json:",omitempty"`
}

// FuzzyResult is the answer of a fuzzy search: per context the matches,
// sorted, and whether there were more than FuzzyLimit of them.
type FuzzyResult struct {
	Matches     map[Context][]FuzzyMatch
	Truncations map[Context]bool
	Index       uint64
}

// CheckFuzzy reports whether a fuzzy search may be asked for text in ctx.
func CheckFuzzy(text string, ctx Context) error {
	ok := ctx == All
	for _, c := range fuzzyRequestContexts {
		ok = ok || c == ctx
	}
	if !ok {
		return invalidf("Invalid Context %q for a fuzzy search: must be one of %s", ctx, contextList(All, fuzzyRequestContexts))
	}
	if utf8.RuneCountInString(text) < MinTermLength {
		return invalidf("Text %q is too short: a fuzzy search term must have at least %d characters", text, MinTermLength)
	}
	return nil
}

// Fuzzy finds the objects of ctx whose name contains text, ignoring case:
// jobs by name or ID (ID: the name; Scope: namespace and job ID), and
// within them groups (Scope: namespace, job) and tasks (Scope: namespace,
// job, group); allocations by name (Scope: namespace, allocation ID);
// nodes by name (Scope: node ID); namespaces by name. A search of "jobs"
// answers with groups and tasks too. namespace restricts jobs and
// allocations as in Prefix.
func Fuzzy(ws memdb.WatchSet, snap Reader, namespace, text string, ctx Context) (*FuzzyResult, error) {
	if err := CheckFuzzy(text, ctx); err != nil {
		return nil, err
	}
	want := map[Context]bool{}
	switch ctx {
	case All:
		for _, c := range fuzzyContexts {
			want[c] = true
		}
	case Jobs:
		want[Jobs], want[Groups], want[Tasks] = true, true, true
	default:
		want[ctx] = true
	}
	term := strings.ToLower(text)
	has := func(s string) bool { return strings.Contains(strings.ToLower(s), term) }
	found := map[Context][]FuzzyMatch{}
	var read []string

	if want[Jobs] || want[Groups] || want[Tasks] {
		jobs, err := jobsIn(ws, snap, namespace, "")
		if err != nil {
			return nil, err
		}
		read = append(read, state.TableJobs)
		for _, j := range jobs {
			if want[Jobs] && (has(j.Name) || has(j.ID)) {
				found[Jobs] = append(found[Jobs], FuzzyMatch{ID: j.Name, Scope: []string{j.Namespace, j.ID}})
			}
			for _, tg := range j.TaskGroups {
				if want[Groups] && has(tg.Name) {
					found[Groups] = append(found[Groups], FuzzyMatch{ID: tg.Name, Scope: []string{j.Namespace, j.ID}})
				}
				for _, t := range tg.Tasks {
					if want[Tasks] && has(t.Name) {
						found[Tasks] = append(found[Tasks], FuzzyMatch{ID: t.Name, Scope: []string{j.Namespace, j.ID, tg.Name}})
					}
				}
			}
		}
	}
	if want[Allocs] {
		allocs, err := snap.Allocs(ws)
		if err != nil {
			return nil, err
		}
		read = append(read, state.TableAllocs)
		for _, a := range allocs {
			if inNamespace(namespace, a.Namespace) && has(a.Name) {
				found[Allocs] = append(found[Allocs], FuzzyMatch{ID: a.Name, Scope: []string{a.Namespace, a.ID}})
			}
		}
	}
	if want[Nodes] {
		nodes, err := snap.Nodes(ws)
		if err != nil {
			return nil, err
		}
		read = append(read, state.TableNodes)
		for _, n := range nodes {
			if has(n.Name) {
				found[Nodes] = append(found[Nodes], FuzzyMatch{ID: n.Name, Scope: []string{n.ID}})
			}
		}
	}
	if want[Namespaces] {
		all, err := namespaces(ws, snap)
		if err != nil {
			return nil, err
		}
		read = append(read, state.TableJobs)
		for _, ns := range all {
			if has(ns) {
				found[Namespaces] = append(found[Namespaces], FuzzyMatch{ID: ns})
			}
		}
	}

	res := &FuzzyResult{Matches: map[Context][]FuzzyMatch{}, Truncations: map[Context]bool{}}
	for _, c := range fuzzyContexts {
		if !want[c] {
			continue
		}
		ms := found[c]
		sort.SliceStable(ms, func(i, k int) bool { return fuzzyLess(ms[i], ms[k]) })
		res.Truncations[c] = len(ms) > FuzzyLimit
		if len(ms) > FuzzyLimit {
			ms = ms[:FuzzyLimit]
		}
		if ms == nil {
			ms = []FuzzyMatch{}
		}
		res.Matches[c] = ms
	}
	index, err := maxIndex(snap, read)
	if err != nil {
		return nil, err
	}
	res.Index = index
	return res, nil
}

// fuzzyLess orders matches by name, then by scope.
func fuzzyLess(a, b FuzzyMatch) bool {
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	return strings.Join(a.Scope, "\x00") < strings.Join(b.Scope, "\x00")
}

// jobsIn lists the jobs of a namespace ("*": of all) whose ID starts with
// prefix.
func jobsIn(ws memdb.WatchSet, snap Reader, namespace, prefix string) ([]*structs.Job, error) {
	if namespace != "*" {
		return snap.JobsByIDPrefix(ws, namespace, prefix)
	}
	all, err := snap.Jobs(ws)
	if err != nil {
		return nil, err
	}
	var out []*structs.Job
	for _, j := range all {
		if strings.HasPrefix(j.ID, prefix) {
			out = append(out, j)
		}
	}
	return out, nil
}

// namespaces lists the namespaces there are: the default one and every
// one a job is registered in, sorted.
func namespaces(ws memdb.WatchSet, snap Reader) ([]string, error) {
	jobs, err := snap.Jobs(ws)
	if err != nil {
		return nil, err
	}
	names := []string{structs.DefaultNamespace}
	for _, j := range jobs {
		names = append(names, j.Namespace)
	}
	return uniqueSorted(names), nil
}

func inNamespace(want, ns string) bool { return want == "*" || want == ns }

// uniqueSorted sorts ids and drops repeats; the result is never nil, so
// that it encodes as [] rather than null.
func uniqueSorted(ids []string) []string {
	sort.Strings(ids)
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		if i == 0 || id != ids[i-1] {
			out = append(out, id)
		}
	}
	return out
}

func maxIndex(snap Reader, tables []string) (uint64, error) {
	var out uint64
	for _, t := range tables {
		i, err := snap.Index(t)
		if err != nil {
			return 0, err
		}
		out = max(out, i)
	}
	return out, nil
}

func contextList(first Context, rest []Context) string {
	names := []string{string(first)}
	for _, c := range rest {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}
