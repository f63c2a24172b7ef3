package agent

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// A task that replaces its log file with a link to a host file: the logs
// API answers with an error, never the host file's content.
func TestLogsNeverFollowATasksLink(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "host-secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "linker", serverClientRawExec)
	c, _ := api.NewClient(&api.Config{Address: "http://" + a.HTTPAddr()})
	job := api.NewServiceJob("linker", "linker", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := api.NewTask("evil", "raw_exec")
	task.Config = map[string]interface{}{"command": "/bin/sh", "args": []string{"-c",
		fmt.Sprintf(`rm -f "$NOMAD_ALLOC_DIR/logs/evil.stdout.0" && ln -s %q "$NOMAD_ALLOC_DIR/logs/evil.stdout.0" && echo linked >&2 && sleep 60`, secret)}}
	job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	var allocID string
	waitFor(t, 30*time.Second, "the task made its link", func() (bool, string) {
		allocs, _, err := c.Jobs().Allocations("linker", false, nil)
		if err != nil || len(allocs) != 1 {
			return false, fmt.Sprint(err)
		}
		allocID = allocs[0].ID
		res, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=evil&type=stderr&plain=true", a.HTTPAddr(), allocID))
		if err != nil {
			return false, err.Error()
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return strings.Contains(string(body), "linked"), string(body)
	})
	res, err := http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=evil&type=stdout&plain=true", a.HTTPAddr(), allocID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "host secret") {
		t.Fatalf("the logs API returned the host's file through the task's link (%d): %q", res.StatusCode, body)
	}
	// A task name that walks out of the log directory is refused.
	res, err = http.Get(fmt.Sprintf("http://%s/v1/client/fs/logs/%s?task=../../x&type=stdout&plain=true", a.HTTPAddr(), allocID))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode < 400 {
		t.Fatalf("task=../../x answered %d", res.StatusCode)
	}
	if got, _ := os.ReadFile(secret); string(got) != "host secret\n" {
		t.Fatalf("the host file changed: %q", got)
	}
}
