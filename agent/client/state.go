package client

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"drover/agent/drivers"
	"drover/agent/structs"
)

// stateDB persists what a restarted client needs to pick up where it left
// off: the allocations it runs and, per task, the driver handle and the
// task state (events, restarts). It is a bbolt file under the client's
// state directory.
//
// Writes go through bbolt's Batch: writers that come together (hundreds of
// allocations starting at once, each task recording its events) share one
// transaction and one fsync instead of queueing for one each, and every
// writer still returns only once its own write is on disk. A batch waits
// at most bbolt's MaxBatchDelay (10ms) for company.
type stateDB struct {
	db *bolt.DB
}

var (
	bucketAllocs = []byte("allocs")
	bucketTasks  = []byte("tasks")
)

// persistedTask is one task's record.
type persistedTask struct {
	Handle *drivers.TaskHandle
	State  *structs.TaskState
}

func openStateDB(dir string) (*stateDB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(dir, "state.db"), 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("open client state: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketAllocs, bucketTasks} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &stateDB{db: db}, nil
}

func (s *stateDB) Close() error { return s.db.Close() }

func (s *stateDB) putAlloc(a *structs.Allocation) error {
	buf, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketAllocs).Put([]byte(a.ID), buf) })
}

func (s *stateDB) putTask(allocID, task string, t *persistedTask) error {
	buf, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.db.Batch(func(tx *bolt.Tx) error { return tx.Bucket(bucketTasks).Put([]byte(allocID+"/"+task), buf) })
}

// deleteAlloc removes an allocation and its tasks. Like every write, it
// may run twice in a batch that is retried: it must stay idempotent.
func (s *stateDB) deleteAlloc(allocID string) error {
	return s.db.Batch(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAllocs).Delete([]byte(allocID)); err != nil {
			return err
		}
		c := tx.Bucket(bucketTasks).Cursor()
		prefix := []byte(allocID + "/")
		for k, _ := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// load returns every persisted allocation with its tasks.
func (s *stateDB) load() (map[string]*structs.Allocation, map[string]map[string]*persistedTask, error) {
	allocs := map[string]*structs.Allocation{}
	tasks := map[string]map[string]*persistedTask{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketAllocs).ForEach(func(k, v []byte) error {
			var a structs.Allocation
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("allocation %s: %w", k, err)
			}
			allocs[a.ID] = &a
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
			var t persistedTask
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("task %s: %w", k, err)
			}
			key := string(k)
			for i := len(key) - 1; i >= 0; i-- {
				if key[i] == '/' {
					allocID, task := key[:i], key[i+1:]
					if tasks[allocID] == nil {
						tasks[allocID] = map[string]*persistedTask{}
					}
					tasks[allocID][task] = &t
					break
				}
			}
			return nil
		})
	})
	return allocs, tasks, err
}
