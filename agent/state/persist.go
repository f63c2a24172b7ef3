package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
)

// record is one line of the snapshot stream.
type record struct {
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
	{TableIndex, recordIndex},
}

// Persist writes the whole state to w as JSON lines of {"Type", "Data"},
// from one consistent snapshot, table by table, each in index order. It
// is what a raft snapshot stores; Restore reads it back.
func (s *StateStore) Persist(w io.Writer) error {
	return s.Snapshot().Persist(w)
}

// Persist writes the snapshot like StateStore.Persist. Raft takes the
// snapshot while applying (cheap) and persists it later on another
// goroutine while the store moves on; the snapshot does not move.
func (s *StateSnapshot) Persist(w io.Writer) error {
	txn := s.db.Txn(false)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	emit := func(typ string, v interface{}) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return enc.Encode(record{Type: typ, Data: data})
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

// Restore builds a new store from a stream written by Persist. Objects and
// indexes are restored as they were, without the rules of the write
// methods (which would renumber them). An unknown record type is an error:
// a snapshot from a newer server must not be half-understood.
func Restore(r io.Reader) (*StateStore, error) {
	s, err := NewStateStore()
	if err != nil {
		return nil, err
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	dec := json.NewDecoder(bufio.NewReader(r))
	jobs := map[int]*structs.Job{}
	for n := 1; ; n++ {
		var rec record
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("restore: record %d: %w", n, err)
		}
		table, obj, err := decodeRecord(rec, jobs)
		if err != nil {
			return nil, fmt.Errorf("restore: record %d (%s): %w", n, rec.Type, err)
		}
		if table == "" {
			continue
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

// decodeRecord returns the table and object of a record, or no table for
// a record that only feeds later ones (an allocation's job).
func decodeRecord(rec record, jobs map[int]*structs.Job) (string, interface{}, error) {
	switch rec.Type {
	case recordAllocJob:
		var jr allocJobRecord
		if err := json.Unmarshal(rec.Data, &jr); err != nil {
			return "", nil, fmt.Errorf("alloc job: %w", err)
		}
		jobs[jr.Ref] = jr.Job
		return "", nil, nil
	case recordJob:
		return decodeInto[structs.Job](TableJobs, rec.Data)
	case recordJobVersion:
		return decodeInto[structs.Job](TableJobVersions, rec.Data)
	case recordJobSummary:
		return decodeInto[structs.JobSummary](TableJobSummary, rec.Data)
	case recordEval:
		return decodeInto[structs.Evaluation](TableEvals, rec.Data)
	case recordAlloc:
		var ar allocRecord
		if err := json.Unmarshal(rec.Data, &ar); err != nil {
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
		return decodeInto[structs.Deployment](TableDeployments, rec.Data)
	case recordIndex:
		return decodeInto[IndexEntry](TableIndex, rec.Data)
	case recordNode:
		var nr nodeRecord
		if err := json.Unmarshal(rec.Data, &nr); err != nil {
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
	return "", nil, fmt.Errorf("unknown record type %q", rec.Type)
}

func decodeInto[T any](table string, data json.RawMessage) (string, interface{}, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return "", nil, fmt.Errorf("%s: %w", table, err)
	}
	return table, v, nil
}
