package bench

import (
	"fmt"
	"time"

	"drover/agent/structs"
)

// What each simulated allocation asks for: small, so that the cluster's
// size, not its capacity, is what a preset measures.
const (
	taskCPU      = 100 // MHz
	taskMemoryMB = 64
	groupDiskMB  = structs.DefaultDiskMB
)

// benchTask is the one task of every group: the mock driver under the
// name Nomad-compatible servers give it, running until stopped.
func benchTask() *structs.Task {
	return &structs.Task{
		Name:        "t",
		Driver:      "mock_driver",
		Config:      map[string]interface{}{"run_for": "0s"},
		Resources:   &structs.Resources{CPU: taskCPU, MemoryMB: taskMemoryMB},
		KillTimeout: structs.DefaultKillTimeout,
		LogConfig:   structs.DefaultLogConfig(),
	}
}

// serviceJob is job i of a run: one group of count allocations. Without
// deploy it has no deployments (max_parallel = 0, as Nomad reads it), so a
// run measures placement and client updates; with deploy it keeps the
// default update block and the nodes report each allocation healthy when
// it runs. A failed allocation is rescheduled at once, without limit.
func serviceJob(i, count int, deploy bool) *structs.Job {
	id := fmt.Sprintf("bench-%03d", i)
	job := &structs.Job{
		ID: id, Name: id, Type: structs.JobTypeService, Datacenters: []string{"dc1"},
		TaskGroups: []*structs.TaskGroup{{
			Name: "g", Count: count,
			ReschedulePolicy: &structs.ReschedulePolicy{Unlimited: true, DelayFunction: "constant"},
			Tasks:            []*structs.Task{benchTask()},
		}},
	}
	if !deploy {
		job.Update = &structs.UpdateStrategy{MaxParallel: 0}
	}
	return job
}

// systemJob is boot's job: one allocation on every node.
func systemJob() *structs.Job {
	return &structs.Job{
		ID: "bench-system", Name: "bench-system", Type: structs.JobTypeSystem, Datacenters: []string{"dc1"},
		TaskGroups: []*structs.TaskGroup{{Name: "g", Count: 1, Tasks: []*structs.Task{benchTask()}}},
	}
}

// jobCounts spreads total allocations over n jobs, the first ones taking
// the remainder.
func jobCounts(total, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = total / n
		if i < total%n {
			out[i]++
		}
	}
	return out
}

// simNodeSpec is a simulated node as a client would fingerprint it,
// sized to hold perNode allocations.
func simNodeSpec(i, perNode int) *structs.Node {
	id := structs.GenerateUUID()
	name := fmt.Sprintf("sim-%05d", i)
	ip := fmt.Sprintf("10.%d.%d.%d", 1+i/65536, (i/256)%256, i%256)
	now := time.Now()
	driver := func() *structs.DriverInfo {
		return &structs.DriverInfo{Detected: true, Healthy: true, HealthDescription: "Healthy", UpdateTime: now,
			Attributes: map[string]string{"driver.mock": "true"}}
	}
	cpu := int64(perNode * taskCPU)
	mem := int64(perNode * taskMemoryMB)
	return &structs.Node{
		ID: id, SecretID: structs.GenerateUUID(), Name: name, Datacenter: "dc1",
		NodePool: structs.DefaultNodePool, Status: structs.NodeStatusInit,
		HTTPAddr: ip + ":4646",
		Attributes: map[string]string{
			"unique.network.ip-address": ip,
			"unique.hostname":           name,
			"kernel.name":               "linux",
			"os.name":                   "simulated",
			"cpu.arch":                  "amd64",
			"cpu.numcores":              "4",
			"cpu.totalcompute":          fmt.Sprint(cpu),
			"memory.totalbytes":         fmt.Sprint(mem << 20),
		},
		NodeResources: &structs.NodeResources{
			Cpu:            structs.NodeCpuResources{CpuShares: cpu, TotalCpuCores: 4},
			Memory:         structs.NodeMemoryResources{MemoryMB: mem},
			Disk:           structs.NodeDiskResources{DiskMB: int64(perNode * groupDiskMB)},
			Networks:       []*structs.NetworkResource{{Mode: "host", Device: "eth0", IP: ip, MBits: 1000}},
			MinDynamicPort: 20000, MaxDynamicPort: 32000,
		},
		ReservedResources: &structs.NodeReservedResources{},
		Drivers:           map[string]*structs.DriverInfo{"mock_driver": driver(), "mock": driver()},
	}
}

// report is the update a client sends about alloc a reaching status:
// its task states, and for an allocation of a deployment, its health.
func report(a *structs.Allocation, status string, now time.Time) *structs.Allocation {
	u := &structs.Allocation{ID: a.ID, ClientStatus: status, ModifyTime: now.UnixNano(),
		TaskStates: map[string]*structs.TaskState{}}
	var tasks []*structs.Task
	if a.Job != nil {
		if tg := a.Job.LookupTaskGroup(a.TaskGroup); tg != nil {
			tasks = tg.Tasks
		}
	}
	for _, t := range tasks {
		ts := &structs.TaskState{StartedAt: now}
		switch status {
		case structs.AllocClientStatusRunning:
			ts.State = "running"
			ts.Events = []*structs.TaskEvent{{Type: "Started", Time: now.UnixNano(), DisplayMessage: "Task started by client"}}
		case structs.AllocClientStatusFailed:
			ts.State, ts.Failed, ts.FinishedAt = "dead", true, now
			ts.Events = []*structs.TaskEvent{{Type: "Terminated", Time: now.UnixNano(), ExitCode: 1, FailsTask: true,
				DisplayMessage: "Exit Code: 1"}}
		default:
			ts.State, ts.FinishedAt = "dead", now
			ts.Events = []*structs.TaskEvent{{Type: "Killed", Time: now.UnixNano(), DisplayMessage: "Task successfully killed"}}
		}
		u.TaskStates[t.Name] = ts
	}
	switch status {
	case structs.AllocClientStatusRunning:
		u.ClientDescription = "Tasks are running"
		if a.DeploymentID != "" {
			healthy := true
			u.DeploymentStatus = &structs.AllocDeploymentStatus{Healthy: &healthy, Timestamp: now}
		}
	case structs.AllocClientStatusFailed:
		u.ClientDescription = "Failed tasks"
	default:
		u.ClientDescription = "All tasks have completed"
	}
	return u
}
