package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"drover/agent/msgpack"
	"drover/agent/structs"
)

// Record types of the snapshot stream. They are part of the on-disk raft
// snapshot format: add new ones, never rename or reuse one.
const (
	recordJob        = "Job"
	recordJobVersion = "JobVersion"
	recordJobSummary = "JobSummary"
	recordEval       = "Eval"
	recordAlloc      = "Alloc"
	recordNode       = "Node"
	recordDeployment = "Deployment"
	recordIndex      = "Index"
	recordAllocJob   = "AllocJob"
	recordACLPolicy  = "ACLPolicy"
	recordACLToken   = "ACLToken"
	recordVariable   = "Variable"
)

// snapshotMagic opens a MessagePack snapshot stream. Streams written
// before it (JSON lines of records) start with '{' instead, which no
// MessagePack string starts with, so Restore reads either.
const snapshotMagic = "drover-state-msgpack-1"

// jsonRecord is one line of a JSON snapshot stream, the format written
// by servers before MessagePack; Restore still reads it.
type jsonRecord struct {
	Type string
	Data json.RawMessage
}

// nodeRecord carries a node with its SecretID, which the node's JSON form
// leaves out (it must never reach API clients) but a snapshot must keep:
// it is how the node authenticates.
type nodeRecord struct {
	Node     *structs.Node
	SecretID string
}

// allocRecord carries an allocation without its denormalized job, which
// is written once as an allocJobRecord and referred to by JobRef: a plan
// of a thousand allocations shares one job object in memory, and must not
// become a thousand copies in the snapshot or after a restore.
type allocRecord struct {
	Alloc  *structs.Allocation
	JobRef int
}

// allocJobRecord is a job referred to by allocations (Ref > 0).
type allocJobRecord struct {
	Ref int
	Job *structs.Job
}

// persistTables maps each table to its record type, in stream order.
var persistTables = []struct{ table, typ string }{
	{TableJobs, recordJob},
	{TableJobVersions, recordJobVersion},
	{TableJobSummary, recordJobSummary},
	{TableEvals, recordEval},
	{TableAllocs, recordAlloc},
	{TableNodes, recordNode},
	{TableDeployments, recordDeployment},
	{TableACLPolicies, recordACLPolicy},
	{TableACLTokens, recordACLToken},
	{TableVariables, recordVariable},
	{TableIndex, recordIndex},
}

// Persist writes the whole state to w in MessagePack (agent/msgpack, the
// codec of RPC and raft entries): snapshotMagic, then each record as its
// type and its value, from one consistent snapshot, table by table, each
// in index order. It is what a raft snapshot stores; Restore reads it
// back.
func (s *StateStore) Persist(w io.Writer) error {
	return s.Snapshot().Persist(w)
}

// Persist writes the snapshot like StateStore.Persist. Raft takes the
// snapshot while applying (cheap) and persists it later on another
// goroutine while the store moves on; the snapshot does not move.
func (s *StateSnapshot) Persist(w io.Writer) error {
	txn := s.db.Txn(false)
	bw := bufio.NewWriter(w)
	enc := msgpack.NewEncoder(bw)
	if err := enc.Encode(snapshotMagic); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	emit := func(typ string, v interface{}) error {
		if err := enc.Encode(typ); err != nil {
			return err
		}
		return enc.Encode(v)
	}
	jobRefs := map[*structs.Job]int{}
	for _, pt := range persistTables {
		it, err := txn.Get(pt.table, indexID)
		if err != nil {
			return fmt.Errorf("persist %s: %w", pt.table, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			var err error
			switch obj := raw.(type) {
			case *structs.Node:
				err = emit(pt.typ, nodeRecord{Node: obj, SecretID: obj.SecretID})
			case *structs.Allocation:
				err = persistAlloc(emit, jobRefs, obj)
			default:
				err = emit(pt.typ, obj)
			}
			if err != nil {
				return fmt.Errorf("persist %s: %w", pt.table, err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("persist: %w", err)
	}
	return nil
}

// persistAlloc writes an allocation, preceded by its job the first time
// that job object is met.
func persistAlloc(emit func(string, interface{}) error, refs map[*structs.Job]int, a *structs.Allocation) error {
	ref := 0
	if a.Job != nil {
		ref = refs[a.Job]
		if ref == 0 {
			ref = len(refs) + 1
			refs[a.Job] = ref
			if err := emit(recordAllocJob, allocJobRecord{Ref: ref, Job: a.Job}); err != nil {
				return err
			}
		}
	}
	c := *a
	c.Job = nil
	return emit(recordAlloc, allocRecord{Alloc: &c, JobRef: ref})
}

// Restore builds a new store from a stream written by Persist, or by the
// JSON Persist of servers before MessagePack. Objects and indexes are
// restored as they were, without the rules of the write methods (which
// would renumber them). An unknown record type is an error: a snapshot
// from a newer server must not be half-understood.
func Restore(r io.Reader) (*StateStore, error) {
	s, err := NewStateStore()
	if err != nil {
		return nil, err
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	br := bufio.NewReaderSize(r, 64<<10)
	var next func(n int) (string, decodeFunc, error)
	switch first, err := br.Peek(1); {
	case errors.Is(err, io.EOF): // an empty store persisted as JSON is nothing
		next = func(int) (string, decodeFunc, error) { return "", nil, io.EOF }
	case err != nil:
		return nil, fmt.Errorf("restore: %w", err)
	case first[0] == '{':
		next = jsonRecords(br)
	default:
		if next, err = msgpackRecords(br); err != nil {
			return nil, err
		}
	}
	jobs := map[int]*structs.Job{}
	for n := 1; ; n++ {
		typ, decode, err := next(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("restore: record %d: %w", n, err)
		}
		table, obj, err := decodeRecord(typ, decode, jobs)
		if err != nil {
			return nil, fmt.Errorf("restore: record %d (%s): %w", n, typ, err)
		}
		if table == "" {
			continue
		}
		if a, ok := obj.(*structs.Allocation); ok {
			a.CacheComparable()
		}
		if err := txn.Insert(table, obj); err != nil {
			return nil, fmt.Errorf("restore: record %d (%s): %w", n, table, err)
		}
	}
	// Job counts are derived, so a snapshot does not carry them (and one
	// from before they existed restores the same way).
	if err := rebuildJobCounts(txn); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	txn.Commit()
	return s, nil
}

// decodeFunc decodes the value of the current record into v.
type decodeFunc func(v interface{}) error

// msgpackRecords reads the stream Persist writes: the magic, then type
// and value of each record until the stream ends.
func msgpackRecords(r *bufio.Reader) (func(n int) (string, decodeFunc, error), error) {
	dec := msgpack.NewDecoder(r)
	var magic string
	if err := dec.Decode(&magic); err != nil || magic != snapshotMagic {
		return nil, fmt.Errorf("restore: not a Drover state snapshot (%q, %v)", magic, err)
	}
	// The decoder reads exactly one value from r at a time (the handle
	// has no read buffer of its own), so r tells whether anything is
	// left: nothing between records is the end, a record cut short is an
	// error.
	unexpected := func(err error) error {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	decode := func(v interface{}) error { return unexpected(dec.Decode(v)) }
	return func(int) (string, decodeFunc, error) {
		if _, err := r.Peek(1); err != nil {
			return "", nil, err
		}
		var typ string
		if err := dec.Decode(&typ); err != nil {
			return "", nil, unexpected(err)
		}
		return typ, decode, nil
	}, nil
}

// jsonRecords reads the JSON lines of {"Type", "Data"} that servers
// before MessagePack wrote.
func jsonRecords(r io.Reader) func(n int) (string, decodeFunc, error) {
	dec := json.NewDecoder(r)
	return func(int) (string, decodeFunc, error) {
		var rec jsonRecord
		if err := dec.Decode(&rec); err != nil {
			return "", nil, err
		}
		return rec.Type, func(v interface{}) error { return json.Unmarshal(rec.Data, v) }, nil
	}
}

// decodeRecord returns the table and object of a record, or no table for
// a record that only feeds later ones (an allocation's job).
func decodeRecord(typ string, decode decodeFunc, jobs map[int]*structs.Job) (string, interface{}, error) {
	switch typ {
	case recordAllocJob:
		var jr allocJobRecord
		if err := decode(&jr); err != nil {
			return "", nil, fmt.Errorf("alloc job: %w", err)
		}
		jobs[jr.Ref] = jr.Job
		return "", nil, nil
	case recordJob:
		return decodeInto[structs.Job](TableJobs, decode)
	case recordJobVersion:
		return decodeInto[structs.Job](TableJobVersions, decode)
	case recordJobSummary:
		return decodeInto[structs.JobSummary](TableJobSummary, decode)
	case recordEval:
		return decodeInto[structs.Evaluation](TableEvals, decode)
	case recordAlloc:
		var ar allocRecord
		if err := decode(&ar); err != nil {
			return "", nil, fmt.Errorf("alloc: %w", err)
		}
		if ar.Alloc == nil {
			return "", nil, errors.New("alloc record without an allocation")
		}
		if ar.JobRef != 0 {
			if ar.Alloc.Job = jobs[ar.JobRef]; ar.Alloc.Job == nil {
				return "", nil, fmt.Errorf("alloc %q: unknown job reference %d", ar.Alloc.ID, ar.JobRef)
			}
		}
		return TableAllocs, ar.Alloc, nil
	case recordDeployment:
		return decodeInto[structs.Deployment](TableDeployments, decode)
	case recordIndex:
		return decodeInto[IndexEntry](TableIndex, decode)
	case recordACLPolicy:
		return decodeInto[structs.ACLPolicy](TableACLPolicies, decode)
	case recordACLToken:
		return decodeInto[structs.ACLToken](TableACLTokens, decode)
	case recordVariable:
		return decodeInto[structs.Variable](TableVariables, decode)
	case recordNode:
		var nr nodeRecord
		if err := decode(&nr); err != nil {
			return "", nil, fmt.Errorf("node: %w", err)
		}
		if nr.Node == nil {
			return "", nil, errors.New("node record without a node")
		}
		nr.Node.SecretID = nr.SecretID
		if nr.Node.ComputedClass == "" {
			// A snapshot from before nodes had a computed class.
			nr.Node.ComputedClass = nr.Node.ComputeClass()
		}
		return TableNodes, nr.Node, nil
	}
	return "", nil, fmt.Errorf("unknown record type %q", typ)
}

func decodeInto[T any](table string, decode decodeFunc) (string, interface{}, error) {
	v := new(T)
	if err := decode(v); err != nil {
		return "", nil, fmt.Errorf("%s: %w", table, err)
	}
	return table, v, nil
}
