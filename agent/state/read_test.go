package state

import (
	"fmt"
	"testing"

	"drover/agent/structs"
)

func ids[T any](objs []T, get func(T) string) string {
	var out []string
	for _, o := range objs {
		out = append(out, get(o))
	}
	return fmt.Sprint(out)
}

func TestPrefixLookups(t *testing.T) {
	s := mustStore(t)
	for _, name := range []string{"web", "web-api", "worker", "db"} {
		must(t, s.UpsertJob(10, mockJob(name)))
	}
	other := mockJob("web")
	other.Namespace = "prod"
	must(t, s.UpsertJob(11, other))
	job := getJob(t, s, "web")

	mk := func(prefix string, n int) string { return fmt.Sprintf("%s%d-0000-4000-8000-000000000000", prefix, n) }
	evals := []*structs.Evaluation{}
	allocs := []*structs.Allocation{}
	for i, p := range []string{"aa11", "aa12", "ab", "b"} {
		e := mockEval(0, "web", structs.EvalStatusComplete)
		e.ID = mk(p, i)
		evals = append(evals, e)
		a := mockAlloc(i, job, "web", mk(p, i))
		a.ID = mk(p, i)
		allocs = append(allocs, a)
		n := mockNode(i)
		n.ID = mk(p, i)
		must(t, s.UpsertNode(uint64(20+i), n))
		d := mockDeployment(i, job, "web")
		d.ID = mk(p, i)
		must(t, s.UpsertDeployment(uint64(30+i), d))
	}
	// The evaluation that made the allocations (mockAlloc's EvalID).
	evals = append(evals, mockEval(1, "web", structs.EvalStatusComplete))
	must(t, s.UpsertEvals(40, evals))
	must(t, s.UpsertAllocs(41, allocs))

	jobID := func(j *structs.Job) string { return j.Namespace + "/" + j.ID }
	cases := []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"jobs by prefix", func() (string, error) {
			js, err := s.JobsByIDPrefix(nil, "default", "w")
			return ids(js, jobID), err
		}, "[default/web default/web-api default/worker]"},
		{"jobs by prefix in namespace", func() (string, error) {
			js, err := s.JobsByIDPrefix(nil, "prod", "w")
			return ids(js, jobID), err
		}, "[prod/web]"},
		{"all jobs sorted", func() (string, error) {
			js, err := s.Jobs(nil)
			return ids(js, jobID), err
		}, "[default/db default/web default/web-api default/worker prod/web]"},
		{"evals", func() (string, error) {
			es, err := s.EvalsByIDPrefix(nil, "aa1")
			return ids(es, func(e *structs.Evaluation) string { return e.ID[:4] }), err
		}, "[aa11 aa12]"},
		{"allocs", func() (string, error) {
			as, err := s.AllocsByIDPrefix(nil, "a")
			return ids(as, func(a *structs.Allocation) string { return a.ID[:4] }), err
		}, "[aa11 aa12 ab2-]"},
		{"nodes", func() (string, error) {
			ns, err := s.NodesByIDPrefix(nil, "ab")
			return ids(ns, func(n *structs.Node) string { return n.ID[:2] }), err
		}, "[ab]"},
		{"deployments", func() (string, error) {
			ds, err := s.DeploymentsByIDPrefix(nil, "aa")
			return ids(ds, func(d *structs.Deployment) string { return d.ID[:4] }), err
		}, "[aa11 aa12]"},
		{"no match", func() (string, error) {
			as, err := s.AllocsByIDPrefix(nil, "zz")
			return fmt.Sprint(len(as)), err
		}, "0"},
		{"allocs by node", func() (string, error) {
			as, err := s.AllocsByNode(nil, mk("b", 3))
			return ids(as, func(a *structs.Allocation) string { return a.ID[:1] }), err
		}, "[b]"},
		{"allocs by eval", func() (string, error) {
			as, err := s.AllocsByEval(nil, id("e", 1))
			return fmt.Sprint(len(as)), err
		}, "4"},
		{"allocs by another eval of the job", func() (string, error) {
			as, err := s.AllocsByEval(nil, mk("aa11", 0))
			return fmt.Sprint(len(as)), err
		}, "0"},
		{"allocs by an unknown eval", func() (string, error) {
			as, err := s.AllocsByEval(nil, id("e", 9))
			return fmt.Sprint(len(as)), err
		}, "0"},
		{"allocs without deployment", func() (string, error) {
			as, err := s.AllocsByDeployment(nil, "")
			return fmt.Sprint(len(as)), err
		}, "0"},
		{"evals by job", func() (string, error) {
			es, err := s.EvalsByJob(nil, "default", "web")
			return fmt.Sprint(len(es)), err
		}, "5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			must(t, err)
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestEvalsSortedByCreateIndex(t *testing.T) {
	s := mustStore(t)
	must(t, s.UpsertJob(1, mockJob("web")))
	must(t, s.UpsertEvals(10, []*structs.Evaluation{mockEval(9, "web", "pending"), mockEval(3, "web", "pending")}))
	must(t, s.UpsertEvals(11, []*structs.Evaluation{mockEval(1, "web", "pending")}))
	// An update keeps the eval's place.
	must(t, s.UpsertEvals(12, []*structs.Evaluation{mockEval(9, "web", "complete")}))
	es, err := s.Evals(nil)
	must(t, err)
	got := ids(es, func(e *structs.Evaluation) string { return e.ID[:2] })
	if got != "[e0 e0 e0]" || es[0].ID != id("e", 3) || es[1].ID != id("e", 9) || es[2].ID != id("e", 1) {
		t.Fatalf("order %v %v %v", es[0].ID, es[1].ID, es[2].ID)
	}
	if es[1].CreateIndex != 10 || es[1].ModifyIndex != 12 {
		t.Fatalf("indexes %d/%d", es[1].CreateIndex, es[1].ModifyIndex)
	}
}
