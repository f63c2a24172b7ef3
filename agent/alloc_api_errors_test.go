package agent

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/nomad/api"
)

// httpDo sends a raw request to the agent and returns the status and body.
func httpDo(t *testing.T, a *Agent, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.HTTPAddr()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestAllocClientEndpoints_BadInput: the restart, signal, fs, logs and exec
// endpoints refuse bad input with a 4xx naming what is wrong; nothing
// happens to the task, and the agent keeps answering.
func TestAllocClientEndpoints_BadInput(t *testing.T) {
	a, c, alloc := startLifecycleAgent(t, "badinput")
	unknown := strings.Repeat("e", 8) + "-0000-0000-0000-" + strings.Repeat("e", 12)
	before, _, err := c.Allocations().Info(alloc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := alloc.ID
	cases := []struct {
		method, path, body string
		code               int
		want               string // the body, or its start when it ends with "..."
	}{
		// restart
		{"PUT", "/v1/client/allocation/" + unknown + "/restart", `{}`, 404, "alloc not found"},
		{"PUT", "/v1/client/allocation/" + id + "/restart", `{"TaskName":"nope"}`, 400, "Could not find task runner for task: nope"},
		{"PUT", "/v1/client/allocation/" + id + "/restart", `{"TaskName":"web","AllTasks":true}`, 400, "task name cannot be set when restarting all tasks"},
		{"PUT", "/v1/client/allocation/" + id + "/restart", `{"TaskName":`, 400, "failed to decode request body: ..."},
		{"GET", "/v1/client/allocation/" + id + "/restart", ``, 405, "Invalid method"},
		// signal
		{"PUT", "/v1/client/allocation/" + unknown + "/signal", `{"Signal":"SIGHUP"}`, 404, "alloc not found"},
		{"PUT", "/v1/client/allocation/" + id + "/signal", `{"Task":"nope","Signal":"SIGHUP"}`, 400, "Task not found"},
		{"PUT", "/v1/client/allocation/" + id + "/signal", `{"Task":"web","Signal":"SIGNOPE"}`, 400, `unknown signal "SIGNOPE" ...`},
		{"PUT", "/v1/client/allocation/" + id + "/signal", `{"Task":"web","Signal":"9"}`, 400, `unknown signal "9" ...`},
		{"PUT", "/v1/client/allocation/" + id + "/signal", `[1,2]`, 400, "failed to decode request body: ..."},
		{"DELETE", "/v1/client/allocation/" + id + "/signal", ``, 405, "Invalid method"},
		// fs
		{"GET", "/v1/client/fs/ls/" + unknown + "?path=/", ``, 404, "alloc not found"},
		{"GET", "/v1/client/fs/ls/" + id + "?path=../..", ``, 400, "Path escapes the alloc directory"},
		{"GET", "/v1/client/fs/ls/" + id + "?path=alloc/../../x", ``, 400, "Path escapes the alloc directory"},
		{"GET", "/v1/client/fs/ls/" + id + "?path=nope", ``, 404, "open nope: no such file or directory"},
		{"GET", "/v1/client/fs/stat/" + id, ``, 400, "must provide a file name"},
		{"GET", "/v1/client/fs/stat/" + id + "?path=/etc/passwd", ``, 404, "stat /etc/passwd: no such file or directory"},
		{"GET", "/v1/client/fs/stat/" + id + "?path=" + url.QueryEscape("../../../../etc/passwd"), ``, 400, "Path escapes the alloc directory"},
		{"GET", "/v1/client/fs/cat/" + id + "?path=alloc", ``, 400, `file "alloc" is a directory`},
		{"GET", "/v1/client/fs/cat/" + id + "?path=..", ``, 400, "Path escapes the alloc directory"},
		{"GET", "/v1/client/fs/readat/" + id + "?path=alloc/data/greeting&offset=x", ``, 400, `error parsing offset: "x" is not a number`},
		{"GET", "/v1/client/fs/readat/" + id + "?path=alloc/data/greeting&offset=-4", ``, 400, "offset must not be negative"},
		{"GET", "/v1/client/fs/stream/" + id + "?path=alloc/data/greeting&origin=middle", ``, 400, "origin must be start or end"},
		{"GET", "/v1/client/fs/stream/" + id + "?path=alloc/data/greeting&follow=perhaps", ``, 400, `Failed to parse value of "follow" ...`},
		{"GET", "/v1/client/fs/stream/" + id + "?path=web", ``, 400, `file "web" is a directory`},
		{"PUT", "/v1/client/fs/cat/" + id + "?path=alloc/data/greeting", ``, 405, "Invalid method"},
		{"GET", "/v1/client/fs/logs/" + id + "?task=web&type=stdout&offset=x", ``, 400, `error parsing offset: "x" is not a number`},
		// exec, as plain HTTP
		{"GET", "/v1/client/allocation/" + unknown + "/exec?task=web&command=%5B%22true%22%5D", ``, 404, "alloc not found"},
		{"GET", "/v1/client/allocation/" + id + "/exec?task=nope&command=%5B%22true%22%5D", ``, 400, "Could not find task named: nope"},
		{"GET", "/v1/client/allocation/" + id + "/exec?task=web&command=true", ``, 400, "command must be a JSON array of strings: ..."},
		{"GET", "/v1/client/allocation/" + id + "/exec?task=web&command=%5B%5D", ``, 400, "command is not provided"},
		{"GET", "/v1/client/allocation/" + id + "/exec?command=%5B%22true%22%5D", ``, 400, "must include task name"},
		{"GET", "/v1/client/allocation/" + id + "/exec?task=web&command=%5B%22true%22%5D&tty=yes", ``, 400, `Failed to parse value of "tty" ...`},
		{"GET", "/v1/client/allocation/" + id + "/exec?task=web&command=%5B%22true%22%5D", ``, 400, "exec needs a websocket connection"},
	}
	for _, tc := range cases {
		code, body := httpDo(t, a, tc.method, tc.path, tc.body)
		ok := body == tc.want
		if prefix, cut := strings.CutSuffix(tc.want, "..."); cut {
			ok = strings.HasPrefix(body, prefix)
		}
		if code != tc.code || !ok {
			t.Errorf("%s %s %s = %d %q, want %d %q", tc.method, tc.path, tc.body, code, body, tc.code, tc.want)
		}
	}

	// Exec over a websocket: refusals come as a close frame with the
	// text, which the official client reports as the error.
	_, err = c.Allocations().Exec(t.Context(), alloc, "nope", false, []string{"true"}, strings.NewReader(""), io.Discard, io.Discard, nil, nil)
	if err == nil || err.Error() != "Could not find task named: nope" {
		t.Errorf("exec into an unknown task: %v", err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+a.HTTPAddr()+"/v1/client/allocation/"+id+"/exec?task=web&command=%5B%5D", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.ReadMessage()
	ws.Close()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4400 || ce.Text != "command is not provided" {
		t.Errorf("websocket refusal: %v", err)
	}

	// Nothing happened to the task: no new events, still running.
	after, _, err := c.Allocations().Info(alloc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := eventTypes(after, "web"), eventTypes(before, "web"); strings.Join(got, ",") != strings.Join(want, ",") ||
		after.TaskStates["web"].State != "running" || after.ClientStatus != "running" {
		t.Fatalf("the refused requests changed the task: %v -> %v (%s)", want, got, after.TaskStates["web"].State)
	}
	// And the agent keeps working.
	if err := c.Allocations().Signal(alloc, nil, "web", "SIGHUP"); err != nil {
		t.Fatalf("a good signal after the bad ones: %v", err)
	}
	if _, _, err := c.Jobs().List(nil); err != nil {
		t.Fatal(err)
	}
}

// TestAllocFS_LinksOutAreRefused: a task that puts links to host files in
// its allocation directory (absolute, relative, to a file and to a
// directory) cannot make the fs API read or list through them; a link that
// stays inside works.
func TestAllocFS_LinksOutAreRefused(t *testing.T) {
	secretDir := t.TempDir()
	secret := secretDir + "/host-secret"
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, "fslinks", serverClientRawExec)
	c := apiClient(t, a)
	job := api.NewServiceJob("fslinks", "fslinks", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := api.NewTask("evil", "raw_exec")
	task.Config = map[string]interface{}{"command": "/bin/sh", "args": []string{"-c", fmt.Sprintf(`cd "$NOMAD_ALLOC_DIR/data"
echo inside > inside.txt
ln -s /etc/passwd passwd
ln -s %q secret
ln -s %q hostdir
ln -s ../../../../../../../../../../../../etc/passwd relative
ln -s inside.txt inner
echo linked
exec sleep 60`, secret, secretDir)}}
	job.AddTaskGroup(api.NewTaskGroup("g", 1).AddTask(task))
	if _, _, err := c.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	alloc := waitRunningAlloc(t, c, "fslinks", "")
	waitFor(t, 10*time.Second, "the links", func() (bool, string) {
		files, _, err := c.AllocFS().List(alloc, "alloc/data", nil)
		return err == nil && len(files) == 6, fmt.Sprint(len(files), err)
	})

	for _, p := range []string{"alloc/data/passwd", "alloc/data/secret", "alloc/data/relative", "alloc/data/hostdir", "alloc/data/hostdir/host-secret"} {
		for _, ep := range []string{"stat", "cat", "readat", "stream", "ls"} {
			q := "/v1/client/fs/" + ep + "/" + alloc.ID + "?path=" + url.QueryEscape(p)
			if ep == "stream" {
				q += "&follow=false"
			}
			code, body := httpDo(t, a, "GET", q, "")
			if code != 400 || body != "Path escapes the alloc directory" {
				t.Errorf("%s %s = %d %q, want 400 Path escapes the alloc directory", ep, p, code, body)
			}
			if strings.Contains(body, "root:") || strings.Contains(body, "host secret") {
				t.Fatalf("%s %s leaked a host file: %q", ep, p, body)
			}
		}
	}
	// Through the official client too.
	if _, err := c.AllocFS().Cat(alloc, "alloc/data/passwd", nil); err == nil || !strings.Contains(err.Error(), "Path escapes the alloc directory") {
		t.Errorf("official client cat of a link out: %v", err)
	}
	// Listing the directory shows the links as links, without following.
	files, _, err := c.AllocFS().List(alloc, "alloc/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name != "inside.txt" && !strings.HasPrefix(f.FileMode, "L") {
			t.Errorf("%s listed as %s, want a link", f.Name, f.FileMode)
		}
	}
	// A link that stays inside is followed.
	if got := catFile(t, c, alloc, "alloc/data/inner"); got != "inside\n" {
		t.Fatalf("inner link: %q", got)
	}
	if got, _ := os.ReadFile(secret); string(got) != "host secret\n" {
		t.Fatalf("the host file changed: %q", got)
	}
}
