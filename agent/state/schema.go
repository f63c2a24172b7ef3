package state

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"drover/agent/structs"
)

// Table names. They double as the keys of the index table, so they are
// part of the snapshot format and must not be renamed.
const (
	TableJobs        = "jobs"
	TableJobVersions = "job_versions"
	TableJobSummary  = "job_summary"
	TableEvals       = "evals"
	TableAllocs      = "allocs"
	TableNodes       = "nodes"
	TableDeployments = "deployments"
	TableIndex       = "index"
	TableACLPolicies = "acl_policies"
	TableACLTokens   = "acl_tokens"
	TableVariables   = "variables"
)

// Index names used inside the tables.
const (
	indexID         = "id"
	indexJob        = "job"
	indexNode       = "node"
	indexDeployment = "deployment"
	// indexActive (deployments) and indexDraining (nodes) split a table
	// in two by a condition, so the leader's watchers list and watch only
	// the running deployments and the draining nodes.
	indexActive   = "active"
	indexDraining = "draining"
	// indexSecret finds a token by the secret a request presents.
	indexSecret = "secret"
)

// IndexEntry is a row of the index table: the raft index of the last write
// to a table. Blocking queries compare against it.
type IndexEntry struct {
	Key   string
	Value uint64
}

// allTables lists the data tables in a fixed order, so that walking them
// (to record indexes at commit) never depends on map order.
var allTables = []string{
	TableJobs, TableJobVersions, TableJobSummary, TableEvals,
	TableAllocs, TableNodes, TableDeployments,
	TableACLPolicies, TableACLTokens, TableVariables,
}

// strIndex indexes a string taken from the object by an accessor, which is
// both faster than memdb's reflection-based field indexes and lets an empty
// string be a real key where that is meaningful (an empty namespace), or
// no key at all where it is not (an alloc without a deployment).
type strIndex struct {
	get func(obj interface{}) string
	// optional makes an empty value "not indexed" (the table schema must
	// then set AllowMissing), so looking up "" finds nothing.
	optional bool
}

func (s *strIndex) FromObject(obj interface{}) (bool, []byte, error) {
	v := s.get(obj)
	if v == "" && s.optional {
		return false, nil, nil
	}
	return true, append([]byte(v), 0), nil
}

func (s *strIndex) FromArgs(args ...interface{}) ([]byte, error) {
	v, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return append([]byte(v), 0), nil
}

// PrefixFromArgs leaves out the terminator so the key matches every value
// that starts with the argument: that is how short IDs are resolved.
func (s *strIndex) PrefixFromArgs(args ...interface{}) ([]byte, error) {
	v, err := oneString(args)
	if err != nil {
		return nil, err
	}
	return []byte(v), nil
}

func oneString(args []interface{}) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("expected one argument, got %d", len(args))
	}
	v, ok := args[0].(string)
	if !ok {
		return "", fmt.Errorf("argument must be a string: %#v", args[0])
	}
	return v, nil
}

// uintIndex indexes a uint64 as 8 big-endian bytes, so that byte order is
// numeric order.
type uintIndex struct {
	get func(obj interface{}) uint64
}

func (u *uintIndex) FromObject(obj interface{}) (bool, []byte, error) {
	return true, binary.BigEndian.AppendUint64(nil, u.get(obj)), nil
}

func (u *uintIndex) FromArgs(args ...interface{}) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("expected one argument, got %d", len(args))
	}
	v, ok := args[0].(uint64)
	if !ok {
		return nil, fmt.Errorf("argument must be a uint64: %#v", args[0])
	}
	return binary.BigEndian.AppendUint64(nil, v), nil
}

func compound(parts ...memdb.Indexer) memdb.Indexer {
	return &memdb.CompoundIndex{Indexes: parts}
}

func field(get func(obj interface{}) string) memdb.Indexer { return &strIndex{get: get} }

func optField(get func(obj interface{}) string) memdb.Indexer {
	return &strIndex{get: get, optional: true}
}

// Accessors for the indexes. A wrong type in a table is a programming
// error and panics, as a type assertion should.
var (
	jobNS      = field(func(o interface{}) string { return o.(*structs.Job).Namespace })
	jobID      = field(func(o interface{}) string { return o.(*structs.Job).ID })
	jobVersion = &uintIndex{get: func(o interface{}) uint64 { return o.(*structs.Job).Version }}
	sumNS      = field(func(o interface{}) string { return o.(*structs.JobSummary).Namespace })
	sumJob     = field(func(o interface{}) string { return o.(*structs.JobSummary).JobID })
	evalID     = field(func(o interface{}) string { return o.(*structs.Evaluation).ID })
	evalNS     = field(func(o interface{}) string { return o.(*structs.Evaluation).Namespace })
	evalJob    = field(func(o interface{}) string { return o.(*structs.Evaluation).JobID })
	allocID    = field(func(o interface{}) string { return o.(*structs.Allocation).ID })
	allocNS    = field(func(o interface{}) string { return o.(*structs.Allocation).Namespace })
	allocJob   = field(func(o interface{}) string { return o.(*structs.Allocation).JobID })
	allocNode  = optField(func(o interface{}) string { return o.(*structs.Allocation).NodeID })
	allocDep   = optField(func(o interface{}) string { return o.(*structs.Allocation).DeploymentID })
	nodeID     = field(func(o interface{}) string { return o.(*structs.Node).ID })
	depID      = field(func(o interface{}) string { return o.(*structs.Deployment).ID })
	depNS      = field(func(o interface{}) string { return o.(*structs.Deployment).Namespace })
	depJob     = field(func(o interface{}) string { return o.(*structs.Deployment).JobID })
	indexKey   = field(func(o interface{}) string { return o.(*IndexEntry).Key })
	// A node drains while it has a drain strategy; the drainer ends the
	// drain by clearing it.
	nodeDraining = &memdb.ConditionalIndex{Conditional: func(o interface{}) (bool, error) {
		return o.(*structs.Node).DrainStrategy != nil, nil
	}}
	depActive = &memdb.ConditionalIndex{Conditional: func(o interface{}) (bool, error) {
		return o.(*structs.Deployment).Active(), nil
	}}
	aclPolicyName    = field(func(o interface{}) string { return o.(*structs.ACLPolicy).Name })
	aclTokenAccessor = field(func(o interface{}) string { return o.(*structs.ACLToken).AccessorID })
	aclTokenSecret   = field(func(o interface{}) string { return o.(*structs.ACLToken).SecretID })
	varNS            = field(func(o interface{}) string { return o.(*structs.Variable).Namespace })
	varPath          = field(func(o interface{}) string { return o.(*structs.Variable).Path })
	countsNS         = field(func(o interface{}) string { return o.(*jobCounts).Namespace })
	countsJob        = field(func(o interface{}) string { return o.(*jobCounts).JobID })
)

// schema returns the memdb schema of the store.
func schema() *memdb.DBSchema {
	tables := []*memdb.TableSchema{
		{Name: TableJobs, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: compound(jobNS, jobID)},
		}},
		{Name: TableJobVersions, Indexes: map[string]*memdb.IndexSchema{
			indexID:  {Name: indexID, Unique: true, Indexer: compound(jobNS, jobID, jobVersion)},
			indexJob: {Name: indexJob, Indexer: compound(jobNS, jobID)},
		}},
		{Name: TableJobSummary, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: compound(sumNS, sumJob)},
		}},
		{Name: TableEvals, Indexes: map[string]*memdb.IndexSchema{
			indexID:  {Name: indexID, Unique: true, Indexer: evalID},
			indexJob: {Name: indexJob, Indexer: compound(evalNS, evalJob)},
		}},
		{Name: TableAllocs, Indexes: map[string]*memdb.IndexSchema{
			indexID:         {Name: indexID, Unique: true, Indexer: allocID},
			indexJob:        {Name: indexJob, Indexer: compound(allocNS, allocJob)},
			indexNode:       {Name: indexNode, AllowMissing: true, Indexer: allocNode},
			indexDeployment: {Name: indexDeployment, AllowMissing: true, Indexer: allocDep},
		}},
		{Name: TableNodes, Indexes: map[string]*memdb.IndexSchema{
			indexID:       {Name: indexID, Unique: true, Indexer: nodeID},
			indexDraining: {Name: indexDraining, Indexer: nodeDraining},
		}},
		{Name: TableDeployments, Indexes: map[string]*memdb.IndexSchema{
			indexID:     {Name: indexID, Unique: true, Indexer: depID},
			indexJob:    {Name: indexJob, Indexer: compound(depNS, depJob)},
			indexActive: {Name: indexActive, Indexer: depActive},
		}},
		{Name: TableIndex, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: indexKey},
		}},
		{Name: TableACLPolicies, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: aclPolicyName},
		}},
		{Name: TableACLTokens, Indexes: map[string]*memdb.IndexSchema{
			indexID:     {Name: indexID, Unique: true, Indexer: aclTokenAccessor},
			indexSecret: {Name: indexSecret, Unique: true, Indexer: aclTokenSecret},
		}},
		{Name: TableVariables, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: compound(varNS, varPath)},
		}},
		{Name: tableJobCounts, Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: compound(countsNS, countsJob)},
		}},
	}
	s := &memdb.DBSchema{Tables: make(map[string]*memdb.TableSchema, len(tables))}
	for _, t := range tables {
		s.Tables[t.Name] = t
	}
	return s
}
