// Package gc decides what the cluster may forget, as Nomad's garbage
// collector does: evaluations that finished long ago with all their
// allocations terminal (and those allocations), jobs that are dead or
// stopped with nothing left running, finished deployments nothing refers
// to, and nodes that have been down long enough with nothing on them.
//
// It is pure: Collect reads a snapshot and returns what to delete; the
// leader replicates the deletion through raft.
package gc

import (
	"time"

	"drover/agent/state"
	"drover/agent/structs"
)

// Thresholds are how long something must have been finished before it is
// collected. Zero collects at once (a forced collection).
type Thresholds struct {
	Job        time.Duration
	Eval       time.Duration
	Deployment time.Duration
	Node       time.Duration
}

// DefaultThresholds are the compatible agent's defaults: job_gc_threshold
// 4h, eval_gc_threshold 1h, deployment_gc_threshold 1h, node_gc_threshold
// 24h.
var DefaultThresholds = Thresholds{Job: 4 * time.Hour, Eval: time.Hour, Deployment: time.Hour, Node: 24 * time.Hour}

// JobRef names a job to purge.
type JobRef struct {
	Namespace string
	ID        string
}

// Garbage is what one collection deletes.
type Garbage struct {
	Evals       []string
	Allocs      []string
	Jobs        []JobRef
	Deployments []string
	Nodes       []string
}

// Empty reports whether there is nothing to delete.
func (g *Garbage) Empty() bool {
	return len(g.Evals)+len(g.Allocs)+len(g.Jobs)+len(g.Deployments)+len(g.Nodes) == 0
}

// Collect finds the garbage in snap at time now.
func Collect(snap *state.StateSnapshot, now time.Time, th Thresholds) (*Garbage, error) {
	g := &Garbage{}
	old := func(unixNano int64, threshold time.Duration) bool {
		return now.Sub(time.Unix(0, unixNano)) >= threshold
	}
	jobs, err := snap.Jobs(nil)
	if err != nil {
		return nil, err
	}
	live := map[JobRef]*structs.Job{}
	for _, j := range jobs {
		live[JobRef{j.Namespace, j.ID}] = j
	}
	evals, err := snap.Evals(nil)
	if err != nil {
		return nil, err
	}
	allocsOfEval := map[string][]*structs.Allocation{}
	allocs, err := snap.Allocs(nil)
	if err != nil {
		return nil, err
	}
	liveAllocsOfJob := map[JobRef]int{}
	liveAllocsOfNode := map[string]int{}
	liveAllocsOfDeployment := map[string]int{}
	for _, a := range allocs {
		allocsOfEval[a.EvalID] = append(allocsOfEval[a.EvalID], a)
		if !allocDone(a) {
			liveAllocsOfJob[JobRef{a.Namespace, a.JobID}]++
			liveAllocsOfNode[a.NodeID]++
			if a.DeploymentID != "" {
				liveAllocsOfDeployment[a.DeploymentID]++
			}
		}
	}
	pendingEvalsOfJob := map[JobRef]int{}
	for _, e := range evals {
		if !e.TerminalStatus() {
			pendingEvalsOfJob[JobRef{e.Namespace, e.JobID}]++
		}
	}

	// Jobs that are dead or stopped, with nothing running or pending.
	gcJob := map[JobRef]bool{}
	for ref, j := range live {
		if (j.Status == structs.JobStatusDead || j.Stop) && liveAllocsOfJob[ref] == 0 && pendingEvalsOfJob[ref] == 0 &&
			old(j.SubmitTime, th.Job) {
			gcJob[ref] = true
			g.Jobs = append(g.Jobs, ref)
		}
	}
	// Evaluations long finished whose allocations are all terminal; a
	// live batch job keeps its finished allocations (they are its work).
	for _, e := range evals {
		ref := JobRef{e.Namespace, e.JobID}
		if !e.TerminalStatus() {
			continue
		}
		if !gcJob[ref] && !old(evalTime(e), th.Eval) {
			continue
		}
		mine := allocsOfEval[e.ID]
		collectible := true
		for _, a := range mine {
			if !allocDone(a) {
				collectible = false
			}
		}
		if j := live[ref]; collectible && j != nil && !gcJob[ref] && j.Type == structs.JobTypeBatch && len(mine) > 0 {
			collectible = false
		}
		if !collectible {
			continue
		}
		g.Evals = append(g.Evals, e.ID)
		for _, a := range mine {
			g.Allocs = append(g.Allocs, a.ID)
		}
	}
	// Finished deployments nothing live refers to.
	deployments, err := snap.Deployments(nil)
	if err != nil {
		return nil, err
	}
	for _, d := range deployments {
		if d.Active() || liveAllocsOfDeployment[d.ID] > 0 {
			continue
		}
		if gcJob[JobRef{d.Namespace, d.JobID}] || old(d.ModifyTime, th.Deployment) {
			g.Deployments = append(g.Deployments, d.ID)
		}
	}
	// Nodes down long enough with nothing on them.
	nodes, err := snap.Nodes(nil)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.Status == structs.NodeStatusDown && liveAllocsOfNode[n.ID] == 0 && now.Sub(time.Unix(n.StatusUpdatedAt, 0)) >= th.Node {
			g.Nodes = append(g.Nodes, n.ID)
		}
	}
	return g, nil
}

// allocDone: the client says it ended, or the server stopped it before it
// ever started. An allocation the server is still stopping stays, so the
// client is never told its running task no longer exists.
func allocDone(a *structs.Allocation) bool {
	return a.ClientTerminalStatus() || (a.TerminalStatus() && a.ClientStatus == structs.AllocClientStatusPending)
}

func evalTime(e *structs.Evaluation) int64 {
	if e.ModifyTime != 0 {
		return e.ModifyTime
	}
	return e.CreateTime
}
