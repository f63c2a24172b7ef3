package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// clusterDeployment waits for the job's latest deployment of the given
// version to satisfy cond, and returns it.
func clusterDeployment(t *testing.T, client *api.Client, version uint64, what string, cond func(*api.Deployment) bool) *api.Deployment {
	t.Helper()
	var d *api.Deployment
	clusterWait(t, what, func() bool {
		latest, _, err := client.Jobs().LatestDeployment("example", nil)
		if err != nil || latest == nil || latest.JobVersion != version || !cond(latest) {
			return false
		}
		d = latest
		return true
	})
	return d
}

const clusterTimeRE = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[-+]\d\d:\d\d)`

func TestDeployment_ListStatusPromoteFail(t *testing.T) {
	addr, client := devAgent(t)
	clusterNode(t, client)
	if out := clusterRun(t, addr, "deployment", "list"); out != "No deployments found\n" {
		t.Errorf("empty list: %q", out)
	}

	// Version 0: a plain rolling deployment that succeeds.
	clusterRegister(t, client, clusterMockJob("", ""))
	d0 := clusterDeployment(t, client, 0, "a successful deployment", func(d *api.Deployment) bool {
		return d.Status == "successful"
	})
	list := "ID        Job ID   Job Version  Status      Description\n" +
		d0.ID[:8] + "  example  0            successful  Deployment completed successfully\n"
	if out := clusterRun(t, addr, "deployment", "list"); out != list {
		t.Errorf("deployment list:\n%s\nwant:\n%s", out, list)
	}
	if out := clusterRun(t, addr, "deployment", "status"); out != list {
		t.Errorf("deployment status without an ID:\n%s\nwant:\n%s", out, list)
	}
	if out := clusterRun(t, addr, "deployment", "list", "-verbose"); !strings.Contains(out, d0.ID+"  example") {
		t.Errorf("deployment list -verbose:\n%s", out)
	}
	status := regexp.MustCompile(`^ID          = ` + d0.ID[:8] + `
Job ID      = example
Job Version = 0
Status      = successful
Description = Deployment completed successfully

Deployed
Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline
cache       1        1       1        0          ` + clusterTimeRE + `
$`)
	for _, id := range []string{d0.ID[:8], d0.ID[:4], d0.ID} {
		if out := clusterRun(t, addr, "deployment", "status", id); !status.MatchString(out) {
			t.Errorf("deployment status %s:\n%s", id, out)
		}
	}
	out := clusterRun(t, addr, "deployment", "status", "-verbose", d0.ID[:8])
	if !strings.HasPrefix(out, "ID          = "+d0.ID+"\n") {
		t.Errorf("deployment status -verbose:\n%s", out)
	}
	var got api.Deployment
	if err := json.Unmarshal([]byte(clusterRun(t, addr, "deployment", "status", "-json", d0.ID[:8])), &got); err != nil || got.ID != d0.ID {
		t.Errorf("deployment status -json: %v %+v", err, got)
	}
	// -monitor on a finished deployment prints it once, under the time.
	out = clusterRun(t, addr, "deployment", "status", "-monitor", d0.ID[:8])
	if !regexp.MustCompile(`^\n`+clusterTimeRE+`\nID          = `+d0.ID[:8]+`\n`).MatchString(out) ||
		!strings.HasSuffix(out, "\n") || strings.Count(out, "Deployed") != 1 {
		t.Errorf("deployment status -monitor:\n%q", out)
	}

	// Version 1: one canary, which waits for promotion.
	clusterRegister(t, client, clusterMockJob(`min_healthy_time = "100ms"
      canary = 1`, `stdout_string = "v1"`))
	d1 := clusterDeployment(t, client, 1, "a healthy canary", func(d *api.Deployment) bool {
		tg := d.TaskGroups["cache"]
		return tg != nil && tg.DesiredCanaries == 1 && tg.HealthyAllocs == 1
	})
	if d1.Status != "running" || d1.StatusDescription != "Deployment is running but requires manual promotion" {
		t.Errorf("canary deployment: %s %q", d1.Status, d1.StatusDescription)
	}
	canary := regexp.MustCompile(`(?m)^Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline
cache       false     1        1         1       1        0          ` + clusterTimeRE + `$`)
	out = clusterRun(t, addr, "deployment", "status", d1.ID[:8])
	if !canary.MatchString(out) || !strings.Contains(out, "Description = Deployment is running but requires manual promotion\n") {
		t.Errorf("canary deployment status:\n%s", out)
	}
	out = clusterRun(t, addr, "deployment", "promote", d1.ID[:8])
	if !regexp.MustCompile(`^Deployment "` + d1.ID + `" promoted\nEvaluation ID: [0-9a-f-]{36}\n$`).MatchString(out) {
		t.Errorf("deployment promote:\n%s", out)
	}
	clusterDeployment(t, client, 1, "the promoted deployment to succeed", func(d *api.Deployment) bool {
		return d.Status == "successful"
	})
	out = clusterRun(t, addr, "deployment", "status", d1.ID[:8])
	if !regexp.MustCompile(`(?m)^cache       true      1        1         1       1        0          ` + clusterTimeRE + `$`).MatchString(out) {
		t.Errorf("promoted deployment status:\n%s", out)
	}

	// Version 2: a deployment that would wait half an hour, failed by hand.
	clusterRegister(t, client, clusterMockJob(`min_healthy_time = "30m"
      healthy_deadline = "1h"
      progress_deadline = "2h"`, `stdout_string = "v2"`))
	d2 := clusterDeployment(t, client, 2, "a running deployment", func(d *api.Deployment) bool {
		return d.Status == "running" && d.TaskGroups["cache"] != nil && d.TaskGroups["cache"].PlacedAllocs == 1
	})
	out = clusterRun(t, addr, "deployment", "fail", d2.ID[:8])
	if !regexp.MustCompile(`^Deployment "` + d2.ID + `" failed\nEvaluation ID: [0-9a-f-]{36}\n$`).MatchString(out) {
		t.Errorf("deployment fail:\n%s", out)
	}
	out = clusterRun(t, addr, "deployment", "status", d2.ID[:8])
	if clusterKV(t, out, "Status") != "failed" || clusterKV(t, out, "Description") != "Deployment marked as failed" {
		t.Errorf("failed deployment status:\n%s", out)
	}
	if code, out, _ := runCluster(t, addr, "deployment", "status", "-monitor", d2.ID[:8]); code != 1 || !strings.Contains(out, "Status      = failed") {
		t.Errorf("-monitor of a failed deployment: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCluster(t, addr, "deployment", "promote", d2.ID[:8]); code != 1 || !strings.HasPrefix(errOut, "Error promoting deployment: ") {
		t.Errorf("promoting a failed deployment: exit %d, %q", code, errOut)
	}

	// Newest first.
	out = clusterRun(t, addr, "deployment", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], d2.ID[:8]) || !strings.HasPrefix(lines[3], d0.ID[:8]) {
		t.Errorf("deployment list:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"deployment", "status", "zz"}, "Deployment ID \"zz\" matched no deployments\n"},
		{[]string{"deployment", "status", "z"}, "Identifier must contain at least two characters.\n"},
		{[]string{"deployment", "promote", "zz"}, "Deployment ID \"zz\" matched no deployments\n"},
		{[]string{"deployment", "fail"}, "This command takes one argument: <deployment id>\nFor additional help try 'drover deployment fail -help'\n"},
	} {
		code, out, errOut := runCluster(t, addr, tc.args...)
		if code != 1 || out != "" || errOut != tc.want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

func TestDeployment_FormatOptionalColumns(t *testing.T) {
	by := time.Date(2024, 5, 3, 11, 48, 3, 0, time.UTC)
	d := &api.Deployment{
		ID: "0123456789abcdef", JobID: "web", JobVersion: 3, Status: "running",
		StatusDescription: "Deployment is running but requires manual promotion",
		TaskGroups: map[string]*api.DeploymentState{
			"web": {AutoRevert: true, DesiredCanaries: 2, DesiredTotal: 4, PlacedAllocs: 2, HealthyAllocs: 1, ProgressDeadline: time.Minute, RequireProgressBy: by},
			"api": {DesiredTotal: 1, PlacedAllocs: 1, HealthyAllocs: 1, UnhealthyAllocs: 0},
		},
	}
	want := `ID          = 01234567
Job ID      = web
Job Version = 3
Status      = running
Description = Deployment is running but requires manual promotion

Deployed
Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline
api         false        N/A       1        0         1       1        0          N/A
web         true         false     4        2         2       1        0          2024-05-03T11:48:03Z`
	if got := formatDeployment(d, shortID); got != want {
		t.Errorf("formatDeployment:\n%s\nwant:\n%s", got, want)
	}
	plain := &api.Deployment{ID: "0123456789abcdef", JobID: "web", Status: "successful",
		TaskGroups: map[string]*api.DeploymentState{"web": {DesiredTotal: 1, PlacedAllocs: 1, HealthyAllocs: 1}}}
	want = "Task Group  Desired  Placed  Healthy  Unhealthy\nweb         1        1       1        0"
	if got := formatDeploymentGroups(plain); got != want {
		t.Errorf("no optional columns:\n%s\nwant:\n%s", got, want)
	}
	if got := formatDeployment(plain, fullID); !strings.HasPrefix(got, "ID          = 0123456789abcdef\n") || !strings.Contains(got, "Description = <none>\n") {
		t.Errorf("full ID, empty description:\n%s", got)
	}
}
