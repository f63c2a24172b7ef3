package search

import (
	"errors"
	"reflect"
	"testing"

	"drover/agent/state"
	"drover/agent/structs"
)

func job(ns, id, name string) *structs.Job {
	return &structs.Job{
		Region: "global", Namespace: ns, ID: id, Name: name, Type: structs.JobTypeService, Priority: 50,
		Datacenters: []string{"dc1"},
		TaskGroups: []*structs.TaskGroup{{Name: "cache", Count: 1,
			Tasks: []*structs.Task{{Name: "Redis", Driver: "mock"}}}},
	}
}

func snapshot(t *testing.T, jobs ...*structs.Job) *state.StateSnapshot {
	t.Helper()
	st, err := state.NewStateStore()
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs {
		if err := st.UpsertJob(uint64(10+i), j); err != nil {
			t.Fatal(err)
		}
	}
	return st.Snapshot()
}

func TestPrefixAcrossNamespaces(t *testing.T) {
	snap := snapshot(t, job("default", "api", "api"), job("prod", "api", "api"), job("prod", "apex", "apex"))

	// The same job ID in two namespaces is listed once.
	res, err := Prefix(nil, snap, "*", "ap", Jobs)
	if err != nil || !reflect.DeepEqual(res.Matches[Jobs], []string{"apex", "api"}) {
		t.Fatalf("all namespaces: %v %+v", err, res)
	}
	res, err = Prefix(nil, snap, "default", "ap", Jobs)
	if err != nil || !reflect.DeepEqual(res.Matches[Jobs], []string{"api"}) {
		t.Fatalf("default: %v %+v", err, res)
	}
	if res.Index != 12 {
		t.Errorf("index %d, want the jobs table's 12", res.Index)
	}
	res, err = Prefix(nil, snap, "nowhere", "", Namespaces)
	if err != nil || !reflect.DeepEqual(res.Matches[Namespaces], []string{"default", "prod"}) {
		t.Fatalf("namespaces: %v %+v", err, res)
	}
	// An empty store still has the default namespace, and every other
	// context answers an empty, non-nil list.
	res, err = Prefix(nil, snapshot(t), "default", "", All)
	if err != nil || !reflect.DeepEqual(res.Matches[Namespaces], []string{"default"}) {
		t.Fatalf("empty store: %v %+v", err, res)
	}
	for _, c := range prefixContexts {
		if res.Matches[c] == nil {
			t.Errorf("empty store: %s is nil", c)
		}
	}
}

func TestFuzzyScopes(t *testing.T) {
	snap := snapshot(t, job("default", "web-1", "Frontend"), job("prod", "db", "db"))

	// A job matches by name or ID; the match is its name, scoped by
	// namespace and ID. Groups and tasks come with a search of jobs.
	res, err := Fuzzy(nil, snap, "*", "EB-", Jobs)
	if err != nil || !reflect.DeepEqual(res.Matches[Jobs], []FuzzyMatch{{ID: "Frontend", Scope: []string{"default", "web-1"}}}) {
		t.Fatalf("by ID: %v %+v", err, res)
	}
	res, err = Fuzzy(nil, snap, "*", "redis", Jobs)
	want := []FuzzyMatch{
		{ID: "Redis", Scope: []string{"default", "web-1", "cache"}},
		{ID: "Redis", Scope: []string{"prod", "db", "cache"}},
	}
	if err != nil || !reflect.DeepEqual(res.Matches[Tasks], want) || len(res.Matches[Groups]) != 0 {
		t.Fatalf("tasks: %v %+v", err, res)
	}
	res, err = Fuzzy(nil, snap, "prod", "ach", Jobs)
	if err != nil || !reflect.DeepEqual(res.Matches[Groups], []FuzzyMatch{{ID: "cache", Scope: []string{"prod", "db"}}}) {
		t.Fatalf("groups of prod: %v %+v", err, res)
	}
	if _, ok := res.Matches[Nodes]; ok {
		t.Errorf("jobs search answered nodes: %+v", res.Matches)
	}
}

func TestInvalidRequests(t *testing.T) {
	snap := snapshot(t)
	for _, err := range []error{
		func() error { _, err := Prefix(nil, snap, "default", "x", "job"); return err }(),
		func() error { _, err := Prefix(nil, snap, "default", "x", Tasks); return err }(),
		func() error { _, err := Fuzzy(nil, snap, "default", "x", All); return err }(),
		func() error { _, err := Fuzzy(nil, snap, "default", "ab", Deployments); return err }(),
	} {
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%v is not an invalid request", err)
		}
	}
	// Two characters, not two bytes.
	if err := CheckFuzzy("é", All); err == nil {
		t.Errorf("one two-byte character accepted")
	}
	if err := CheckFuzzy("éé", All); err != nil {
		t.Errorf("two characters refused: %v", err)
	}
}
