package structs

import "time"

// Deployment statuses.
const (
	DeploymentStatusRunning    = "running"
	DeploymentStatusPaused     = "paused"
	DeploymentStatusFailed     = "failed"
	DeploymentStatusSuccessful = "successful"
	DeploymentStatusCancelled  = "cancelled"
)

// Deployment status descriptions, shown as "Description" in job status.
const (
	DeploymentDescRunning               = "Deployment is running"
	DeploymentDescRunningNeedsPromotion = "Deployment is running but requires manual promotion"
	DeploymentDescRunningAutoPromotion  = "Deployment is running pending automatic promotion"
	DeploymentDescSuccessful            = "Deployment completed successfully"
	DeploymentDescStoppedJob            = "Cancelled because job is stopped"
	DeploymentDescNewerJob              = "Cancelled due to newer version of job"
	DeploymentDescFailedAllocations     = "Failed due to unhealthy allocations"
	DeploymentDescProgressDeadline      = "Failed due to progress deadline"
	DeploymentDescFailedByUser          = "Deployment marked as failed"
	DeploymentDescPromoted              = "Deployment is running"
)

// Deployment tracks the rollout of one job version.
type Deployment struct {
	ID                 string
	Namespace          string
	JobID              string
	JobVersion         uint64
	JobModifyIndex     uint64
	JobSpecModifyIndex uint64
	JobCreateIndex     uint64
	IsMultiregion      bool
	TaskGroups         map[string]*DeploymentState
	Status             string
	StatusDescription  string
	CreateIndex        uint64
	ModifyIndex        uint64
	CreateTime         int64
	ModifyTime         int64
}

// DeploymentState is the rollout progress of one group.
type DeploymentState struct {
	PlacedCanaries    []string
	AutoRevert        bool
	AutoPromote       bool
	ProgressDeadline  time.Duration
	RequireProgressBy time.Time
	Promoted          bool
	DesiredCanaries   int
	DesiredTotal      int
	PlacedAllocs      int
	HealthyAllocs     int
	UnhealthyAllocs   int
}

// Active reports whether the deployment may still make progress.
func (d *Deployment) Active() bool {
	switch d.Status {
	case DeploymentStatusRunning, DeploymentStatusPaused:
		return true
	}
	return false
}

// RequiresPromotion reports whether canaries await promotion.
func (d *Deployment) RequiresPromotion() bool {
	if d == nil || d.Status != DeploymentStatusRunning {
		return false
	}
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 && !s.Promoted {
			return true
		}
	}
	return false
}

// Copy returns a deep copy.
func (d *Deployment) Copy() *Deployment {
	if d == nil {
		return nil
	}
	c := *d
	c.TaskGroups = make(map[string]*DeploymentState, len(d.TaskGroups))
	for k, v := range d.TaskGroups {
		s := *v
		s.PlacedCanaries = append([]string(nil), v.PlacedCanaries...)
		c.TaskGroups[k] = &s
	}
	return &c
}

// DeploymentStatusUpdate changes a deployment's status in a plan.
type DeploymentStatusUpdate struct {
	DeploymentID      string
	Status            string
	StatusDescription string
}
