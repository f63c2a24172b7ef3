package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/nomad/api"
)

// TestAllocClientEndpoints_Forwarded: a server agent that does not run an
// allocation forwards its restart, signal, fs and exec requests to the
// client agent that does, the exec websocket included.
func TestAllocClientEndpoints_Forwarded(t *testing.T) {
	srv := startAgent(t, "fwd-server", `server {
  enabled          = true
  bootstrap_expect = 1
}`)
	cl := startAgent(t, "fwd-client", fmt.Sprintf(`client {
  enabled = true
  servers = [%q]
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}`, srv.Server().RPCAddr()))
	c := apiClient(t, srv)
	waitFor(t, 15*time.Second, "the client node", func() (bool, string) {
		n, _, err := c.Nodes().Info(cl.Client().NodeID(), nil)
		if err != nil {
			return false, err.Error()
		}
		return n.Status == "ready", n.Status
	})
	job := api.NewServiceJob("fwd", "fwd", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := api.NewTask("web", "raw_exec")
	task.Config = map[string]interface{}{"command": "/bin/sh", "args": []string{"-c",
		`echo hi > "$NOMAD_ALLOC_DIR/data/hi"; trap 'echo got USR1' USR1; while true; do sleep 0.1; done`}}
	job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	alloc := waitRunningAlloc(t, c, "fwd", "")
	base := "http://" + srv.HTTPAddr()

	// fs through the server.
	waitFor(t, 10*time.Second, "the file through the server", func() (bool, string) {
		code, body := httpDo(t, srv, "GET", "/v1/client/fs/cat/"+alloc.ID+"?path=alloc/data/hi", "")
		return code == 200 && body == "hi\n", fmt.Sprint(code, body)
	})
	code, body := httpDo(t, srv, "GET", "/v1/client/fs/ls/"+alloc.ID[:8]+"?path=alloc/data", "")
	var files []map[string]interface{}
	if code != 200 || json.Unmarshal([]byte(body), &files) != nil || len(files) != 1 || files[0]["Name"] != "hi" {
		t.Fatalf("ls through the server: %d %s", code, body)
	}
	code, body = httpDo(t, srv, "GET", "/v1/client/fs/stat/"+alloc.ID+"?path=..", "")
	if code != 400 || body != "Path escapes the alloc directory" {
		t.Fatalf("escape through the server: %d %q", code, body)
	}

	// signal and restart through the server.
	code, body = httpDo(t, srv, "PUT", "/v1/client/allocation/"+alloc.ID+"/signal", `{"Task":"web","Signal":"SIGUSR1"}`)
	if code != 200 {
		t.Fatalf("signal through the server: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "the signal", func() (bool, string) {
		_, body := httpDo(t, srv, "GET", "/v1/client/fs/logs/"+alloc.ID+"?task=web&type=stdout&plain=true", "")
		return strings.Contains(body, "got USR1"), body
	})
	code, body = httpDo(t, srv, "PUT", "/v1/client/allocation/"+alloc.ID+"/restart", `{"TaskName":"web"}`)
	if code != 200 {
		t.Fatalf("restart through the server: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "the restart", func() (bool, string) {
		a, _, err := c.Allocations().Info(alloc.ID, nil)
		if err != nil {
			return false, err.Error()
		}
		return a.TaskStates["web"].Restarts == 1 && a.TaskStates["web"].State == "running", a.TaskStates["web"].State
	})

	// exec: the websocket through the server.
	q := url.Values{"task": {"web"}, "command": {`["/bin/sh","-c","echo forwarded; exit 6"]`}}
	u := strings.Replace(base, "http://", "ws://", 1) + "/v1/client/allocation/" + alloc.ID + "/exec?" + q.Encode()
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("exec through the server: %v (%v)", err, resp)
	}
	defer ws.Close()
	ws.WriteJSON(map[string]interface{}{"stdin": map[string]interface{}{"close": true}})
	var out strings.Builder
	exit := -1
	for exit < 0 {
		var frame struct {
			Stdout *struct{ Data []byte } `json:"stdout"`
			Exited bool                   `json:"exited"`
			Result *struct {
				ExitCode int `json:"exit_code"`
			} `json:"result"`
		}
		ws.SetReadDeadline(time.Now().Add(15 * time.Second))
		if err := ws.ReadJSON(&frame); err != nil {
			t.Fatalf("exec frames: %v (so far %q)", err, out.String())
		}
		if frame.Stdout != nil {
			out.Write(frame.Stdout.Data)
		}
		if frame.Exited && frame.Result != nil {
			exit = frame.Result.ExitCode
		}
	}
	if exit != 6 || out.String() != "forwarded\n" {
		t.Fatalf("exec through the server: exit %d, output %q", exit, out.String())
	}

	// An allocation nobody has is the server's 404.
	code, _ = httpDo(t, srv, "GET", "/v1/client/fs/ls/"+strings.Repeat("d", 8)+"-0000-0000-0000-"+strings.Repeat("d", 12), "")
	if code != http.StatusNotFound {
		t.Fatalf("unknown allocation through the server: %d", code)
	}
}
