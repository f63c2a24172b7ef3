package scheduler

import (
	"fmt"
	"sort"
	"time"

	"drover/agent/structs"
)

// generic schedules service and batch jobs (and stops any stopped job):
// first reconcile what must change for each group, then place.
func (s *pass) generic(allocs []*structs.Allocation) error {
	s.reconcileDeployment()
	byGroup := map[string][]*structs.Allocation{}
	for _, a := range allocs {
		byGroup[a.TaskGroup] = append(byGroup[a.TaskGroup], a)
	}
	stopped := s.job == nil || s.job.Stop
	var groups []string
	if !stopped {
		for _, tg := range s.job.TaskGroups {
			groups = append(groups, tg.Name)
		}
	}
	for name := range byGroup {
		if stopped || s.job.LookupTaskGroup(name) == nil {
			groups = append(groups, name)
		}
	}
	sort.Strings(groups[len(groupsOf(s.job, stopped)):])
	for _, name := range groups {
		var tg *structs.TaskGroup
		if !stopped {
			tg = s.job.LookupTaskGroup(name)
		}
		if tg == nil {
			s.stopAll(name, byGroup[name], stopped)
			continue
		}
		if err := s.reconcileGroup(tg, byGroup[name]); err != nil {
			return err
		}
	}
	return nil
}

func groupsOf(job *structs.Job, stopped bool) []*structs.TaskGroup {
	if stopped || job == nil {
		return nil
	}
	return job.TaskGroups
}

// reconcileDeployment cancels a deployment the job has moved past and
// finds the deployment of the current job version, if any.
func (s *pass) reconcileDeployment() {
	d, err := s.state.LatestDeploymentByJobID(nil, s.eval.Namespace, s.eval.JobID)
	if err != nil || d == nil {
		return
	}
	stopped := s.job == nil || s.job.Stop
	current := !stopped && d.JobVersion == s.job.Version && d.JobCreateIndex == s.job.CreateIndex
	if d.Active() && !current {
		desc := structs.DeploymentDescNewerJob
		if stopped {
			desc = structs.DeploymentDescStoppedJob
		}
		s.plan.DeploymentUpdates = append(s.plan.DeploymentUpdates, &structs.DeploymentStatusUpdate{
			DeploymentID: d.ID, Status: structs.DeploymentStatusCancelled, StatusDescription: desc})
	}
	// The evaluation reports the job's latest deployment, whatever its
	// status, as "Evaluation within deployment".
	s.deployment = d
	if !current {
		s.deployment = nil
		s.result.DeploymentID = d.ID
	}
}

// stopAll stops every live allocation of a group that should not run: the
// job was stopped or purged, or the group was removed.
func (s *pass) stopAll(group string, allocs []*structs.Allocation, jobStopped bool) {
	reason := fmt.Sprintf("task group %q was removed from the job", group)
	if jobStopped {
		reason = "the job was stopped"
	}
	for _, a := range allocs {
		if a.TerminalStatus() {
			continue
		}
		s.stop(a, structs.AllocNotNeeded, "", reason)
		s.updates(group).Stop++
	}
}

// groupAllocs sorts a group's allocations into what the reconciler must do
// with each.
type groupAllocs struct {
	untainted  []*structs.Allocation // live, on a usable node
	migrate    []*structs.Allocation // marked to leave a draining node
	lost       []*structs.Allocation // on a node that is down or gone
	reschedule []*structs.Allocation // failed, to be replaced now
	done       []*structs.Allocation // finished batch work, or failed work not (yet) rescheduled: keeps its name
}

func (s *pass) classify(tg *structs.TaskGroup, allocs []*structs.Allocation) groupAllocs {
	var g groupAllocs
	batch := s.job.Type == structs.JobTypeBatch
	for _, a := range allocs {
		if a.DesiredStatus != structs.AllocDesiredStatusRun {
			continue
		}
		switch a.ClientStatus {
		case structs.AllocClientStatusComplete:
			if batch && a.Job != nil && a.Job.CreateIndex == s.job.CreateIndex {
				g.done = append(g.done, a)
			}
			continue
		case structs.AllocClientStatusFailed:
			if a.NextAllocation != "" {
				continue // already replaced
			}
			// A failed allocation keeps its name until it is rescheduled:
			// waiting for its reschedule delay, or for good when its
			// policy allows no more attempts.
			if s.rescheduleNow(tg, a) {
				g.reschedule = append(g.reschedule, a)
			} else {
				g.done = append(g.done, a)
			}
			continue
		case structs.AllocClientStatusLost:
			continue
		}
		node := s.nodes[a.NodeID]
		switch {
		case node == nil || node.TerminalStatus():
			g.lost = append(g.lost, a)
		case a.DesiredTransition.ShouldMigrate():
			// Marked by the drainer, or by "alloc stop" on a node that
			// is fine: either way it is replaced, as in Nomad, where a
			// live allocation marked to migrate always migrates.
			g.migrate = append(g.migrate, a)
		default:
			g.untainted = append(g.untainted, a)
		}
	}
	return g
}

// rescheduleWindow is how early a reschedule may run: timers fire a little
// early and clocks differ a little, and Nomad, too, reschedules an
// allocation due within a second as "now".
const rescheduleWindow = time.Second

// rescheduleNow decides whether a failed allocation is replaced now (the
// "reschedule now" set) or later (a follow-up evaluation is created for
// its time, the "reschedule later" set). The delay counts from when the
// allocation's tasks finished, not from its ModifyTime, which every plan
// that touches the allocation moves forward. The follow-up evaluation the
// allocation points at always replaces it.
//
// A forced evaluation ("job eval -force-reschedule") marks failed
// allocations ForceReschedule: they are replaced now, whatever the delay,
// the attempts used and the verdict of a failed deployment, as long as the
// group's policy allows rescheduling at all. Only an active deployment
// still decides for its own allocations, as in the compatible scheduler.
func (s *pass) rescheduleNow(tg *structs.TaskGroup, a *structs.Allocation) bool {
	p := tg.ReschedulePolicy
	failedAt := a.FinishedAt()
	forced := a.DesiredTransition.ShouldForceReschedule() && p.Enabled()
	// Attempts count within the interval before the failure.
	if !forced && !a.RescheduleAttemptsLeft(p, failedAt) {
		return false
	}
	// Inside an active deployment only what the deployment watcher marked
	// is replaced: the deployment's progress deadline decides the rest.
	if d := s.deployment; d != nil && d.Active() && a.DeploymentID == d.ID && !a.DesiredTransition.ShouldReschedule() {
		return false
	}
	if forced {
		return true
	}
	// Nor is a failed deployment's: the deployment judged that version.
	if d := s.deploymentOf(a); d != nil && d.Status == structs.DeploymentStatusFailed {
		return false
	}
	if a.FollowupEvalID != "" && a.FollowupEvalID == s.eval.ID {
		return true
	}
	at := failedAt.Add(rescheduleDelay(p, a))
	if !at.After(s.now.Add(rescheduleWindow)) {
		return true
	}
	if a.FollowupEvalID == "" {
		follow := s.eval.FollowUp(structs.EvalTriggerRetryFailedAlloc, s.now)
		follow.WaitUntil = at
		s.followUps = append(s.followUps, follow)
		c := a.Copy()
		c.FollowupEvalID = follow.ID
		s.plan.AppendAlloc(c)
		s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore,
			fmt.Sprintf("failed; will be rescheduled at %s by evaluation %s", at.UTC().Format(time.RFC3339), shortID(follow.ID)))
	}
	return false
}

// rescheduleDelay is the wait before the next reschedule of a's line.
func rescheduleDelay(p *structs.ReschedulePolicy, a *structs.Allocation) time.Duration {
	n := 0
	if a.RescheduleTracker != nil {
		n = len(a.RescheduleTracker.Events)
	}
	d := p.Delay
	switch p.DelayFunction {
	case "exponential":
		for i := 0; i < n && (p.MaxDelay == 0 || d < p.MaxDelay); i++ {
			d *= 2
		}
	case "fibonacci":
		prev := time.Duration(0)
		for i := 0; i < n; i++ {
			d, prev = d+prev, d
		}
	}
	if p.MaxDelay > 0 && d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d
}

func rescheduleTracker(prev *structs.Allocation, now time.Time) *structs.RescheduleTracker {
	t := &structs.RescheduleTracker{}
	if prev.RescheduleTracker != nil {
		t.Events = append(t.Events, prev.RescheduleTracker.Events...)
	}
	t.Events = append(t.Events, &structs.RescheduleEvent{
		RescheduleTime: now.UnixNano(), PrevAllocID: prev.ID, PrevNodeID: prev.NodeID})
	return t
}

// reconcileGroup decides, for one group, what to stop, update, migrate and
// place, in the order the Nomad reconciler does, and records why.
func (s *pass) reconcileGroup(tg *structs.TaskGroup, allocs []*structs.Allocation) error {
	g := s.classify(tg, allocs)
	u := s.updates(tg.Name)
	names := newNameIndex(tg.Count)

	// Canaries that can no longer be promoted (their deployment failed,
	// or a newer version replaced it) are stopped, as Nomad does: they are
	// extra allocations, and the healthy old ones they were to replace
	// keep running.
	var kept []*structs.Allocation
	for _, a := range g.untainted {
		if why := s.staleCanary(tg.Name, a); why != "" {
			s.stop(a, structs.AllocNotNeeded, "", why)
			u.Stop++
			continue
		}
		kept = append(kept, a)
	}
	g.untainted = kept

	// Canaries of an unpromoted deployment share names with the
	// allocations they may replace, so they stay out of the name count
	// until promotion.
	promoted := s.promoted(tg.Name)
	var canaries []*structs.Allocation
	candidates := append([]*structs.Allocation{}, g.migrate...)
	for _, a := range g.untainted {
		if !promoted && s.isCanary(a) {
			canaries = append(canaries, a)
			continue
		}
		candidates = append(candidates, a)
	}
	// Keep one allocation per name below count; stop the rest, highest
	// index first (scaling 3 → 1 stops [2] and [1]). When two share a
	// name, the one running the current version wins (a promoted canary
	// over the allocation it replaces).
	keep := candidates
	sort.Slice(keep, func(i, j int) bool {
		if ii, jj := keep[i].Index(), keep[j].Index(); ii != jj {
			return ii < jj
		}
		if ci, cj := s.current(keep[i]), s.current(keep[j]); ci != cj {
			return ci
		}
		return keep[i].CreateIndex > keep[j].CreateIndex
	})
	for _, a := range g.done {
		names.use(a.Index())
	}
	var untainted, migrate []*structs.Allocation
	migrating := map[string]bool{}
	for _, a := range g.migrate {
		migrating[a.ID] = true
	}
	for _, a := range keep {
		idx := a.Index()
		if idx < 0 || idx >= tg.Count || names.used(idx) {
			reason := fmt.Sprintf("count is %d, so %s is not needed", tg.Count, a.Name)
			if names.used(idx) && idx < tg.Count {
				reason = fmt.Sprintf("another allocation already runs as %s", a.Name)
				if promoted {
					reason = fmt.Sprintf("the promoted canary now runs as %s", a.Name)
				}
			}
			s.stop(a, structs.AllocNotNeeded, "", reason)
			u.Stop++
			continue
		}
		names.use(idx)
		if migrating[a.ID] {
			migrate = append(migrate, a)
		} else {
			untainted = append(untainted, a)
		}
	}

	var places []placement
	// Lost allocations stop as lost and are replaced under the same name.
	for _, a := range g.lost {
		s.stop(a, structs.AllocLost, structs.AllocClientStatusLost, fmt.Sprintf("node %s is down", shortID(a.NodeID)))
		u.Stop++
		idx := a.Index()
		if idx >= 0 && idx < tg.Count && !names.used(idx) {
			names.use(idx)
			places = append(places, placement{name: a.Name, previous: a, action: structs.DecisionPlace,
				reason: fmt.Sprintf("replaces %s, lost with its node", shortID(a.ID))})
			u.Place++
		}
	}
	// Failed allocations whose reschedule policy allows it are replaced,
	// away from the node they failed on if possible.
	for _, a := range g.reschedule {
		idx := a.Index()
		if idx < 0 || idx >= tg.Count || names.used(idx) {
			continue
		}
		names.use(idx)
		why := "it failed and its reschedule policy allows another attempt"
		if a.DesiredTransition.ShouldForceReschedule() {
			why = "it failed and a forced evaluation asked for it to be rescheduled now"
		}
		s.stop(a, structs.AllocRescheduled, "", why)
		places = append(places, placement{name: a.Name, previous: a, action: structs.DecisionPlace,
			penalty: a.NodeID, reason: fmt.Sprintf("reschedules failed allocation %s", shortID(a.ID))})
		u.Place++
	}
	// Migrations: the drainer marked these to move off their node, or a
	// user stopped them ("alloc stop"); each is replaced under its name,
	// on another node when its own is draining.
	for _, a := range migrate {
		stopWhy := fmt.Sprintf("node %s is draining", shortID(a.NodeID))
		placeWhy := fmt.Sprintf("migrates %s off draining node %s", shortID(a.ID), shortID(a.NodeID))
		if node := s.nodes[a.NodeID]; node != nil && node.DrainStrategy == nil && node.Ready() {
			stopWhy = "stopped by request (alloc stop)"
			placeWhy = fmt.Sprintf("replaces %s, stopped by request", shortID(a.ID))
		}
		s.stop(a, structs.AllocMigrating, "", stopWhy)
		places = append(places, placement{name: a.Name, previous: a, action: structs.DecisionMigrate, reason: placeWhy})
		u.Migrate++
	}

	// Updates: unchanged allocations are ignored, others updated in place
	// or, when what they run changed, destroyed and re-created.
	var inplace, destructive []*structs.Allocation
	reasons := map[string]string{}
	for _, a := range untainted {
		if a.Job == nil || a.Job.JobModifyIndex == s.job.JobModifyIndex {
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, fmt.Sprintf("already runs job version %d", s.job.Version))
			u.Ignore++
			continue
		}
		why := destructiveChange(a.Job, s.job, tg.Name)
		if why == "" {
			ok, err := s.placer.fitsInPlace(tg, a.NodeID)
			if err != nil {
				return err
			}
			if !ok {
				why = fmt.Sprintf("its node %s no longer satisfies the job", shortID(a.NodeID))
			}
		}
		if why == "" {
			inplace = append(inplace, a)
		} else {
			destructive = append(destructive, a)
			reasons[a.ID] = why
		}
	}

	// Canaries first: while the deployment is not promoted, a change that
	// needs new allocations places update.canary of them next to the old
	// ones, which all keep running.
	var canaryPlaces []placement
	canarying := s.wantsCanaries(tg, promoted) && (len(destructive) > 0 || len(canaries) > 0)
	if canarying {
		for _, a := range canaries {
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, "canary waiting for the deployment to be promoted")
			u.Ignore++
		}
		for i := 0; i < tg.Update.Canary-len(canaries) && i < len(destructive); i++ {
			canaryPlaces = append(canaryPlaces, placement{name: destructive[i].Name, canary: true, action: structs.DecisionCanary,
				reason: fmt.Sprintf("canary for %s: %s", shortID(destructive[i].ID), reasons[destructive[i].ID])})
			u.Canary++
		}
		for _, a := range destructive {
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore,
				fmt.Sprintf("needs a new allocation (%s); waiting for the canaries to be promoted", reasons[a.ID]))
			u.Ignore++
		}
		destructive = nil
	}

	// A failed allocation of an older version that was never rescheduled
	// is replaced when what its tasks run changed, like a running one;
	// a change that could apply in place leaves it as it is.
	for _, a := range g.done {
		if a.ClientStatus != structs.AllocClientStatusFailed || s.current(a) || a.Job == nil {
			continue
		}
		if why := destructiveChange(a.Job, s.job, tg.Name); why != "" {
			destructive = append(destructive, a)
			reasons[a.ID] = why
		}
	}

	// New allocations for free names below count.
	existing := len(untainted) + len(g.done) + len(places) // places so far replace lost, failed and migrating allocations
	var fresh []placement
	if missing := tg.Count - existing; missing > 0 {
		for _, idx := range names.next(missing) {
			fresh = append(fresh, placement{name: structs.AllocName(s.job.ID, tg.Name, idx), action: structs.DecisionPlace,
				reason: fmt.Sprintf("count is %d and %d allocation(s) exist", tg.Count, existing)})
		}
	}

	// A new job version starts a deployment when the group has an update
	// strategy and something changes.
	limit := s.destructiveLimit(tg, allocs, len(destructive))
	applied := destructive
	if len(applied) > limit {
		applied = destructive[:limit]
	}
	if canarying {
		// While canaries await promotion, nothing of the new version is
		// placed beyond them (lost and failed allocations are replaced).
		for _, p := range fresh {
			s.decide(tg.Name, p.name, "", structs.DecisionIgnore, "waiting for the canaries to be promoted")
		}
		fresh = nil
	}
	s.ensureDeployment(tg, len(fresh) > 0 || len(inplace) > 0 || len(applied) > 0 || len(canaryPlaces) > 0, canarying)

	deploymentID := ""
	if s.deployment != nil && s.deployment.Active() {
		deploymentID = s.deployment.ID
	}
	for _, a := range inplace {
		c := a.Copy()
		c.Job = s.job
		c.EvalID = s.eval.ID
		c.DeploymentID = deploymentID
		s.plan.AppendAlloc(c)
		s.decide(tg.Name, a.Name, a.ID, structs.DecisionInPlace,
			fmt.Sprintf("job version %d changed nothing its tasks run with, so it is updated in place", s.job.Version))
		u.InPlaceUpdate++
	}
	for i, a := range destructive {
		if i >= limit {
			s.decide(tg.Name, a.Name, a.ID, structs.DecisionIgnore, s.waitReason(tg, reasons[a.ID], allocs, limit))
			u.Ignore++
			continue
		}
		s.stop(a, structs.AllocUpdating, "", reasons[a.ID])
		places = append(places, placement{name: a.Name, previous: a, action: structs.DecisionDestructive,
			reason: fmt.Sprintf("replaces %s: %s", shortID(a.ID), reasons[a.ID])})
		u.DestructiveUpdate++
	}
	if s.deploymentBlocked() {
		// A paused or failed deployment holds new placements too.
		for _, p := range fresh {
			s.decide(tg.Name, p.name, "", structs.DecisionIgnore, "the deployment is "+s.deployment.Status)
		}
		fresh = nil
	}
	u.Place += uint64(len(fresh))
	return s.place(tg, append(append(places, canaryPlaces...), fresh...))
}

// staleCanary tells why a canary can no longer be promoted, or "" when
// it is no canary, or a promoted or promotable one.
func (s *pass) staleCanary(group string, a *structs.Allocation) string {
	if a.DeploymentStatus == nil || !a.DeploymentStatus.Canary || a.DeploymentID == "" {
		return ""
	}
	d := s.deploymentOf(a)
	if d == nil {
		return "" // its deployment is gone: treat it as any allocation
	}
	if st := d.TaskGroups[group]; st != nil && st.Promoted {
		return ""
	}
	switch {
	case d.Status == structs.DeploymentStatusFailed:
		return fmt.Sprintf("canary of deployment %s, which failed", shortID(d.ID))
	case s.deployment == nil || d.ID != s.deployment.ID:
		return fmt.Sprintf("canary of deployment %s, which a newer job version replaced", shortID(d.ID))
	}
	return ""
}

// deploymentOf looks up an allocation's deployment.
func (s *pass) deploymentOf(a *structs.Allocation) *structs.Deployment {
	if a.DeploymentID == "" {
		return nil
	}
	if s.deployment != nil && s.deployment.ID == a.DeploymentID {
		return s.deployment
	}
	d, err := s.state.DeploymentByID(nil, a.DeploymentID)
	if err != nil {
		return nil
	}
	return d
}

// promoted reports whether the group's canaries in the current deployment
// have been promoted (or the group has none to wait for).
func (s *pass) promoted(group string) bool {
	if s.deployment == nil {
		return false
	}
	st := s.deployment.TaskGroups[group]
	return st != nil && st.Promoted
}

func (s *pass) wantsCanaries(tg *structs.TaskGroup, promoted bool) bool {
	return !promoted && s.job.Type == structs.JobTypeService && tg.Update != nil && tg.Update.Canary > 0 &&
		!s.deploymentBlocked()
}

// isCanary reports whether a was placed as a canary of the current
// deployment.
func (s *pass) isCanary(a *structs.Allocation) bool {
	return s.deployment != nil && a.DeploymentID == s.deployment.ID && a.DeploymentStatus != nil && a.DeploymentStatus.Canary
}

// current reports whether a runs the job version being scheduled.
func (s *pass) current(a *structs.Allocation) bool {
	return a.Job != nil && a.Job.JobModifyIndex == s.job.JobModifyIndex
}

// waitReason explains a destructive update held back by the update
// strategy: how many updates of the deployment are still unhealthy,
// counting the ones this pass starts.
func (s *pass) waitReason(tg *structs.TaskGroup, why string, allocs []*structs.Allocation, limit int) string {
	if s.deploymentBlocked() {
		return fmt.Sprintf("needs a new allocation (%s) but the deployment is %s", why, s.deployment.Status)
	}
	max := tg.Update.MaxParallel
	inFlight := limit // started by this pass
	if s.deployment != nil {
		for _, a := range allocs {
			if a.DeploymentID == s.deployment.ID && a.TaskGroup == tg.Name && !a.TerminalStatus() &&
				!a.DeploymentStatus.IsHealthy() && a.Job != nil && a.Job.JobModifyIndex == s.job.JobModifyIndex {
				inFlight++
			}
		}
	}
	noun := "destructive update is"
	if inFlight != 1 {
		noun = "destructive updates are"
	}
	return fmt.Sprintf("needs a new allocation (%s); waiting: update.max_parallel = %d and %d %s already in flight",
		why, max, inFlight, noun)
}

func (s *pass) deploymentBlocked() bool {
	return s.deployment != nil && (s.deployment.Status == structs.DeploymentStatusPaused ||
		s.deployment.Status == structs.DeploymentStatusFailed)
}

// destructiveLimit is how many destructive updates this pass may make:
// all without an update strategy; max_parallel for a new deployment; the
// room left by unhealthy allocations of a running one; none while it is
// paused or failed, or while any of its allocations is unhealthy.
func (s *pass) destructiveLimit(tg *structs.TaskGroup, allocs []*structs.Allocation, destructive int) int {
	if tg.Update == nil || tg.Update.MaxParallel == 0 || s.job.Type != structs.JobTypeService {
		return destructive
	}
	max := tg.Update.MaxParallel
	d := s.deployment
	if d == nil {
		return max
	}
	if s.deploymentBlocked() || !d.Active() {
		if d.Status == structs.DeploymentStatusSuccessful {
			return max
		}
		return 0
	}
	inFlight := 0
	for _, a := range allocs {
		if a.DeploymentID != d.ID || a.TaskGroup != tg.Name || a.TerminalStatus() {
			continue
		}
		if a.DeploymentStatus.IsUnhealthy() {
			return 0
		}
		if !a.DeploymentStatus.IsHealthy() {
			inFlight++
		}
	}
	if inFlight >= max {
		return 0
	}
	return max - inFlight
}

// ensureDeployment creates the deployment of the current job version the
// first time one of its groups changes, and gives the group its state.
func (s *pass) ensureDeployment(tg *structs.TaskGroup, changing, canarying bool) {
	if s.job.Type != structs.JobTypeService || tg.Update == nil || tg.Update.MaxParallel == 0 || !changing {
		return
	}
	if s.deployment == nil {
		s.deployment = &structs.Deployment{
			ID:                 structs.GenerateUUID(),
			Namespace:          s.job.Namespace,
			JobID:              s.job.ID,
			JobVersion:         s.job.Version,
			JobModifyIndex:     s.job.JobModifyIndex,
			JobSpecModifyIndex: s.job.JobModifyIndex,
			JobCreateIndex:     s.job.CreateIndex,
			TaskGroups:         map[string]*structs.DeploymentState{},
			Status:             structs.DeploymentStatusRunning,
			StatusDescription:  structs.DeploymentDescRunning,
		}
		s.plan.Deployment = s.deployment
	}
	if s.plan.Deployment == nil || s.deployment.TaskGroups[tg.Name] != nil {
		return // an existing deployment keeps the state it was created with
	}
	// Desired canaries only when a destructive change needs them: a job's
	// first version has nothing to canary and nothing to promote.
	canaries := 0
	if canarying {
		canaries = tg.Update.Canary
	}
	if canaries > 0 {
		s.deployment.StatusDescription = structs.DeploymentDescRunningNeedsPromotion
		if tg.Update.AutoPromote {
			s.deployment.StatusDescription = structs.DeploymentDescRunningAutoPromotion
		}
	}
	s.deployment.TaskGroups[tg.Name] = &structs.DeploymentState{
		AutoRevert:       tg.Update.AutoRevert,
		AutoPromote:      tg.Update.AutoPromote,
		ProgressDeadline: tg.Update.ProgressDeadline,
		DesiredCanaries:  canaries,
		DesiredTotal:     tg.Count,
	}
}

// nameIndex tracks which allocation indexes [0, count) are taken.
type nameIndex struct {
	count int
	taken map[int]bool
}

func newNameIndex(count int) *nameIndex { return &nameIndex{count: count, taken: map[int]bool{}} }

func (n *nameIndex) use(i int)       { n.taken[i] = true }
func (n *nameIndex) used(i int) bool { return n.taken[i] }

// next hands out the lowest free indexes.
func (n *nameIndex) next(k int) []int {
	var out []int
	for i := 0; len(out) < k; i++ {
		if !n.taken[i] {
			n.taken[i] = true
			out = append(out, i)
		}
	}
	return out
}
