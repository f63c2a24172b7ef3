package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// keepUpWindow is how old a failure may be, when the injection stops,
// without a replacement before churn says the cluster did not keep up.
const keepUpWindow = 5 * time.Second

// churn fails FailPerMinute of the allocations per minute, spread evenly
// over Duration (a tick every 100 ms, allocations picked at random among
// the running ones, each reported failed by its node), then waits until
// every failed allocation was replaced and the cluster runs its full
// count again.
func (s *sim) churn(ctx context.Context, res *Result) error {
	c := &Churn{KeepUpWindow: seconds(keepUpWindow)}
	res.Churn = c
	if s.opts.Deploy {
		if err := s.waitDeployments(ctx); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 14))
	perSecond := s.opts.FailPerMinute * float64(s.opts.Allocs) / 60
	start := time.Now()
	end := start.Add(s.opts.Duration)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var failing sync.WaitGroup
	defer failing.Wait()
	owed := 0.0
	last, lastSample, lastProgress := start, start, start
	counts := func() (failed, replaced int) {
		s.churnMu.Lock()
		defer s.churnMu.Unlock()
		return len(s.failedAt), len(s.replaced)
	}
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		owed += perSecond * now.Sub(last).Seconds()
		last = now
		k := int(owed)
		owed -= float64(k)
		for n, ids := range s.live.take(k, rng) {
			failing.Add(1)
			go func() {
				defer failing.Done()
				if err := n.failAllocs(ids); err != nil && ctx.Err() == nil {
					s.fail(fmt.Errorf("node %s: report failed allocations: %w", n.node.Name, err))
				}
			}()
		}
		if now.Sub(lastSample) >= time.Second {
			lastSample = now
			failed, replaced := counts()
			c.MaxBacklog = max(c.MaxBacklog, failed-replaced)
			if s.opts.Progress != nil && now.Sub(lastProgress) >= 5*time.Second {
				lastProgress = now
				fmt.Fprintf(s.opts.Progress, "%8.1fs  churning: %d failed, %d replaced, %d running\n",
					s.since().Seconds(), failed, replaced, s.running.Load())
			}
		}
		if err := s.firstErr(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			failed, replaced := counts()
			return outcomeError(ctx, s.opts.Timeout, "churning: %d failed, %d replaced, %d of %d running",
				failed, replaced, s.running.Load(), s.target)
		case <-tick.C:
		}
	}
	failing.Wait()
	stop := time.Now()
	c.Duration = seconds(stop.Sub(start))
	s.churnMu.Lock()
	c.BacklogAtEnd = len(s.failedAt) - len(s.replaced)
	late := 0
	for id, at := range s.failedAt {
		if stop.Sub(at) > keepUpWindow && !s.replaced[id] {
			late++
		}
	}
	s.churnMu.Unlock()
	c.MaxBacklog = max(c.MaxBacklog, c.BacklogAtEnd)
	settled := func() bool {
		failed, replaced := counts()
		return failed == replaced && s.running.Load() == s.target
	}
	err := s.wait(ctx, settled, "the cluster to settle after churn")
	c.Failed, c.Replaced = counts()
	c.Reschedule = s.resched.percentiles()
	if err != nil {
		return err
	}
	c.Settle = seconds(time.Since(stop))
	c.KeptUp = late == 0
	return nil
}

// waitDeployments waits until no job's latest deployment is still
// running: inside an active deployment only what the deployment watcher
// marks is rescheduled, so churn starts once the cluster is steady.
func (s *sim) waitDeployments(ctx context.Context) error {
	for {
		active := 0
		jobs, err := s.srv.State().Jobs(nil)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			d, err := s.srv.State().LatestDeploymentByJobID(nil, j.Namespace, j.ID)
			if err != nil {
				return err
			}
			if d != nil && d.Active() {
				active++
			}
		}
		if active == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return outcomeError(ctx, s.opts.Timeout, "waiting for %d deployments to finish before churn", active)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
