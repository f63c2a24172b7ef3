package state

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// reader holds the read methods shared by StateStore and StateSnapshot.
// For the store, db is the live database and every method call sees the
// latest commit; for a snapshot, db is a frozen clone. Each method runs
// in one read transaction, so its result is consistent in itself.
//
// Every method adds to ws (which may be nil) the watch channels its result
// depends on: a blocking query waits on them and re-runs when one closes.
// Returned objects are shared and must not be modified.
type reader struct {
	db *memdb.MemDB
}

func (r *reader) txn() *memdb.Txn { return r.db.Txn(false) }

// first looks up one object and watches its key (even when it is absent,
// so that its creation wakes the watcher).
func first(ws memdb.WatchSet, txn *memdb.Txn, table, index string, args ...interface{}) (interface{}, error) {
	ch, obj, err := txn.FirstWatch(table, index, args...)
	if err != nil {
		return nil, fmt.Errorf("%s lookup: %w", table, err)
	}
	ws.Add(ch)
	return obj, nil
}

// list collects every object an index lookup yields and watches the
// range it covers.
func list[T any](ws memdb.WatchSet, txn *memdb.Txn, table, index string, args ...interface{}) ([]T, error) {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		return nil, fmt.Errorf("%s lookup: %w", table, err)
	}
	ws.Add(it.WatchCh())
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return out, nil
}

// sortEvals orders evaluations by creation (CreateIndex), then ID: the
// order in which they were submitted, stable across servers.
func sortEvals(evals []*structs.Evaluation) {
	sort.Slice(evals, func(i, j int) bool {
		if evals[i].CreateIndex != evals[j].CreateIndex {
			return evals[i].CreateIndex < evals[j].CreateIndex
		}
		return evals[i].ID < evals[j].ID
	})
}

// sortAllocs orders allocations like evaluations: by creation, then ID.
func sortAllocs(allocs []*structs.Allocation) {
	slices.SortFunc(allocs, func(a, b *structs.Allocation) int {
		if c := cmp.Compare(a.CreateIndex, b.CreateIndex); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// sortDeployments orders deployments by creation, then ID.
func sortDeployments(ds []*structs.Deployment) {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].CreateIndex != ds[j].CreateIndex {
			return ds[i].CreateIndex < ds[j].CreateIndex
		}
		return ds[i].ID < ds[j].ID
	})
}

// ---- jobs ----

// JobByID returns the current version of a job, or nil (and no error) if
// there is none.
func (r *reader) JobByID(ws memdb.WatchSet, namespace, id string) (*structs.Job, error) {
	return jobByID(ws, r.txn(), namespace, id)
}

func jobByID(ws memdb.WatchSet, txn *memdb.Txn, namespace, id string) (*structs.Job, error) {
	obj, err := first(ws, txn, TableJobs, indexID, namespace, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Job), nil
}

// Jobs returns every job, sorted by namespace then ID (the index order).
func (r *reader) Jobs(ws memdb.WatchSet) ([]*structs.Job, error) {
	return list[*structs.Job](ws, r.txn(), TableJobs, indexID)
}

// JobsByIDPrefix returns the jobs of a namespace whose ID starts with
// prefix, sorted by ID.
func (r *reader) JobsByIDPrefix(ws memdb.WatchSet, namespace, prefix string) ([]*structs.Job, error) {
	return list[*structs.Job](ws, r.txn(), TableJobs, indexID+"_prefix", namespace, prefix)
}

// JobVersionsByID returns the tracked versions of a job, newest first.
func (r *reader) JobVersionsByID(ws memdb.WatchSet, namespace, id string) ([]*structs.Job, error) {
	return jobVersions(ws, r.txn(), namespace, id)
}

func jobVersions(ws memdb.WatchSet, txn *memdb.Txn, namespace, id string) ([]*structs.Job, error) {
	vs, err := list[*structs.Job](ws, txn, TableJobVersions, indexJob, namespace, id)
	if err != nil {
		return nil, err
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Version > vs[j].Version })
	return vs, nil
}

// JobByIDAndVersion returns one tracked version of a job, or nil.
func (r *reader) JobByIDAndVersion(ws memdb.WatchSet, namespace, id string, version uint64) (*structs.Job, error) {
	obj, err := first(ws, r.txn(), TableJobVersions, indexID, namespace, id, version)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Job), nil
}

// JobSummaryByID returns the allocation counts of a job, or nil.
func (r *reader) JobSummaryByID(ws memdb.WatchSet, namespace, id string) (*structs.JobSummary, error) {
	return jobSummary(ws, r.txn(), namespace, id)
}

func jobSummary(ws memdb.WatchSet, txn *memdb.Txn, namespace, id string) (*structs.JobSummary, error) {
	obj, err := first(ws, txn, TableJobSummary, indexID, namespace, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.JobSummary), nil
}

// ---- evaluations ----

// EvalByID returns an evaluation, or nil.
func (r *reader) EvalByID(ws memdb.WatchSet, id string) (*structs.Evaluation, error) {
	return evalByID(ws, r.txn(), id)
}

func evalByID(ws memdb.WatchSet, txn *memdb.Txn, id string) (*structs.Evaluation, error) {
	obj, err := first(ws, txn, TableEvals, indexID, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Evaluation), nil
}

// Evals returns every evaluation, by CreateIndex then ID.
func (r *reader) Evals(ws memdb.WatchSet) ([]*structs.Evaluation, error) {
	out, err := list[*structs.Evaluation](ws, r.txn(), TableEvals, indexID)
	sortEvals(out)
	return out, err
}

// EvalsByIDPrefix returns the evaluations whose ID starts with prefix (a
// short ID from the CLI), by CreateIndex then ID.
func (r *reader) EvalsByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Evaluation, error) {
	out, err := list[*structs.Evaluation](ws, r.txn(), TableEvals, indexID+"_prefix", prefix)
	sortEvals(out)
	return out, err
}

// EvalsByJob returns the evaluations of a job, by CreateIndex then ID.
func (r *reader) EvalsByJob(ws memdb.WatchSet, namespace, jobID string) ([]*structs.Evaluation, error) {
	out, err := list[*structs.Evaluation](ws, r.txn(), TableEvals, indexJob, namespace, jobID)
	sortEvals(out)
	return out, err
}

// ---- allocations ----

// AllocByID returns an allocation, or nil.
func (r *reader) AllocByID(ws memdb.WatchSet, id string) (*structs.Allocation, error) {
	return allocByID(ws, r.txn(), id)
}

func allocByID(ws memdb.WatchSet, txn *memdb.Txn, id string) (*structs.Allocation, error) {
	obj, err := first(ws, txn, TableAllocs, indexID, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Allocation), nil
}

// Allocs returns every allocation, by CreateIndex then ID.
func (r *reader) Allocs(ws memdb.WatchSet) ([]*structs.Allocation, error) {
	out, err := list[*structs.Allocation](ws, r.txn(), TableAllocs, indexID)
	sortAllocs(out)
	return out, err
}

// AllocsByIDPrefix returns the allocations whose ID starts with prefix, by
// CreateIndex then ID.
func (r *reader) AllocsByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Allocation, error) {
	out, err := list[*structs.Allocation](ws, r.txn(), TableAllocs, indexID+"_prefix", prefix)
	sortAllocs(out)
	return out, err
}

// AllocsByJob returns the allocations of a job, by CreateIndex then ID.
// Allocations outlive a purge of their job, so a job registered again
// under the same ID would see its predecessor's allocations; unless
// anyCreateIndex is set, only those made for the current job (same job
// CreateIndex) are returned. With no current job, all are returned.
func (r *reader) AllocsByJob(ws memdb.WatchSet, namespace, jobID string, anyCreateIndex bool) ([]*structs.Allocation, error) {
	txn := r.txn()
	out, err := list[*structs.Allocation](ws, txn, TableAllocs, indexJob, namespace, jobID)
	if err != nil || anyCreateIndex {
		sortAllocs(out)
		return out, err
	}
	job, err := jobByID(ws, txn, namespace, jobID)
	if err != nil || job == nil {
		sortAllocs(out)
		return out, err
	}
	out = filterIncarnation(out, job)
	sortAllocs(out)
	return out, nil
}

// filterIncarnation keeps the allocations made for the given incarnation
// of a job (the one created at job.CreateIndex).
func filterIncarnation(allocs []*structs.Allocation, job *structs.Job) []*structs.Allocation {
	kept := allocs[:0:0]
	for _, a := range allocs {
		if belongsTo(a, job) {
			kept = append(kept, a)
		}
	}
	return kept
}

// belongsTo reports whether an allocation was made for this incarnation of
// the job.
func belongsTo(a *structs.Allocation, job *structs.Job) bool {
	return a.Job != nil && job != nil && a.Job.CreateIndex == job.CreateIndex
}

// AllocsByNode returns the allocations placed on a node, by CreateIndex
// then ID.
func (r *reader) AllocsByNode(ws memdb.WatchSet, nodeID string) ([]*structs.Allocation, error) {
	out, err := r.AllocsOnNode(ws, nodeID)
	sortAllocs(out)
	return out, err
}

// AllocsOnNode is AllocsByNode in no particular order, for readers that
// only sum or look up (the scheduler, the plan applier, a client's fetch):
// they visit every node's allocations, and the sort was a fifth of that.
func (r *reader) AllocsOnNode(ws memdb.WatchSet, nodeID string) ([]*structs.Allocation, error) {
	return list[*structs.Allocation](ws, r.txn(), TableAllocs, indexNode, nodeID)
}

// AllocsByEval returns the allocations an evaluation created or last
// updated, by CreateIndex then ID. They are found among the allocations
// of the evaluation's job rather than by an index of their own: every
// allocation write would pay for such an index, and only this rare read
// uses it. An unknown evaluation has none.
func (r *reader) AllocsByEval(ws memdb.WatchSet, evalID string) ([]*structs.Allocation, error) {
	txn := r.txn()
	eval, err := evalByID(ws, txn, evalID)
	if err != nil || eval == nil {
		return nil, err
	}
	all, err := list[*structs.Allocation](ws, txn, TableAllocs, indexJob, eval.Namespace, eval.JobID)
	if err != nil {
		return nil, err
	}
	var out []*structs.Allocation
	for _, a := range all {
		if a.EvalID == evalID {
			out = append(out, a)
		}
	}
	sortAllocs(out)
	return out, nil
}

// AllocsByDeployment returns the allocations of a deployment, by
// CreateIndex then ID.
func (r *reader) AllocsByDeployment(ws memdb.WatchSet, deploymentID string) ([]*structs.Allocation, error) {
	out, err := list[*structs.Allocation](ws, r.txn(), TableAllocs, indexDeployment, deploymentID)
	sortAllocs(out)
	return out, err
}

// ---- nodes ----

// NodeByID returns a node, or nil.
func (r *reader) NodeByID(ws memdb.WatchSet, id string) (*structs.Node, error) {
	return nodeByID(ws, r.txn(), id)
}

func nodeByID(ws memdb.WatchSet, txn *memdb.Txn, id string) (*structs.Node, error) {
	obj, err := first(ws, txn, TableNodes, indexID, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Node), nil
}

// Nodes returns every node, sorted by ID.
func (r *reader) Nodes(ws memdb.WatchSet) ([]*structs.Node, error) {
	return list[*structs.Node](ws, r.txn(), TableNodes, indexID)
}

// DrainingNodes returns the nodes that have a drain strategy, by ID, and
// watches only them (the whole index when there are none).
func (r *reader) DrainingNodes(ws memdb.WatchSet) ([]*structs.Node, error) {
	out, err := list[*structs.Node](ws, r.txn(), TableNodes, indexDraining, true)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// NodesByIDPrefix returns the nodes whose ID starts with prefix, by ID.
func (r *reader) NodesByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Node, error) {
	return list[*structs.Node](ws, r.txn(), TableNodes, indexID+"_prefix", prefix)
}

// ---- deployments ----

// DeploymentByID returns a deployment, or nil.
func (r *reader) DeploymentByID(ws memdb.WatchSet, id string) (*structs.Deployment, error) {
	return deploymentByID(ws, r.txn(), id)
}

func deploymentByID(ws memdb.WatchSet, txn *memdb.Txn, id string) (*structs.Deployment, error) {
	obj, err := first(ws, txn, TableDeployments, indexID, id)
	if err != nil || obj == nil {
		return nil, err
	}
	return obj.(*structs.Deployment), nil
}

// Deployments returns every deployment, by CreateIndex then ID.
func (r *reader) Deployments(ws memdb.WatchSet) ([]*structs.Deployment, error) {
	out, err := list[*structs.Deployment](ws, r.txn(), TableDeployments, indexID)
	sortDeployments(out)
	return out, err
}

// DeploymentsByIDPrefix returns the deployments whose ID starts with
// prefix, by CreateIndex then ID.
func (r *reader) DeploymentsByIDPrefix(ws memdb.WatchSet, prefix string) ([]*structs.Deployment, error) {
	out, err := list[*structs.Deployment](ws, r.txn(), TableDeployments, indexID+"_prefix", prefix)
	sortDeployments(out)
	return out, err
}

// DeploymentsByJobID returns the deployments of a job, by CreateIndex then
// ID (so the last one is the latest).
func (r *reader) DeploymentsByJobID(ws memdb.WatchSet, namespace, jobID string) ([]*structs.Deployment, error) {
	out, err := list[*structs.Deployment](ws, r.txn(), TableDeployments, indexJob, namespace, jobID)
	sortDeployments(out)
	return out, err
}

// LatestDeploymentByJobID returns the job's deployment with the highest
// CreateIndex, whatever its status, or nil.
func (r *reader) LatestDeploymentByJobID(ws memdb.WatchSet, namespace, jobID string) (*structs.Deployment, error) {
	ds, err := r.DeploymentsByJobID(ws, namespace, jobID)
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[len(ds)-1], nil
}

// ActiveDeployments returns the deployments that are running or paused,
// by CreateIndex then ID, and watches only them: a change to a finished
// deployment does not wake the caller (unless none is active, when the
// watch covers the whole index).
func (r *reader) ActiveDeployments(ws memdb.WatchSet) ([]*structs.Deployment, error) {
	out, err := list[*structs.Deployment](ws, r.txn(), TableDeployments, indexActive, true)
	sortDeployments(out)
	return out, err
}

// ---- watches ----

// The Watch… methods add to ws the watch channel that covers a set of
// allocations without reading them, for a watcher that decides from other
// objects and only needs to wake when one of these changes. The channel
// covers the set's index prefix, or a wider one if the set is empty, so a
// wake may be spurious but a change is never missed.

// WatchAllocsByDeployment watches the allocations of a deployment.
func (r *reader) WatchAllocsByDeployment(ws memdb.WatchSet, deploymentID string) error {
	return watchOnly(ws, r.txn(), TableAllocs, indexDeployment, deploymentID)
}

// WatchAllocsByJob watches the allocations of a job ID (every
// incarnation).
func (r *reader) WatchAllocsByJob(ws memdb.WatchSet, namespace, jobID string) error {
	return watchOnly(ws, r.txn(), TableAllocs, indexJob, namespace, jobID)
}

func watchOnly(ws memdb.WatchSet, txn *memdb.Txn, table, index string, args ...interface{}) error {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		return fmt.Errorf("%s lookup: %w", table, err)
	}
	ws.Add(it.WatchCh())
	return nil
}

// ---- indexes ----

// Index returns the raft index of the last write to table, 0 if the table
// was never written.
func (r *reader) Index(table string) (uint64, error) {
	return tableIndex(r.txn(), table)
}

func tableIndex(txn *memdb.Txn, table string) (uint64, error) {
	obj, err := txn.First(TableIndex, indexID, table)
	if err != nil {
		return 0, fmt.Errorf("index lookup: %w", err)
	}
	if obj == nil {
		return 0, nil
	}
	return obj.(*IndexEntry).Value, nil
}

// LatestIndex returns the highest index of any table: the raft index the
// state reflects.
func (r *reader) LatestIndex() (uint64, error) {
	entries, err := list[*IndexEntry](nil, r.txn(), TableIndex, indexID)
	if err != nil {
		return 0, err
	}
	var max uint64
	for _, e := range entries {
		if e.Value > max {
			max = e.Value
		}
	}
	return max, nil
}
