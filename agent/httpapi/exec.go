package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"drover/agent/drivers"
)

// The exec endpoint speaks the websocket protocol of the compatible API's
// client (api.Allocations().Exec): the client sends JSON frames
// {"stdin":{"data":<base64>}} / {"stdin":{"close":true}},
// {"tty_size":{"height":H,"width":W}} and {} as a heartbeat; the agent
// sends {"stdout":{"data":...}}, {"stderr":{"data":...}} and finally
// {"exited":true,"result":{"exit_code":N}}. An error ends the session with
// a close frame whose text is the error, which the client reports as is.

type execIO struct {
	Data  []byte `json:"data,omitempty"`
	Close bool   `json:"close,omitempty"`
}

type execInput struct {
	Stdin   *execIO               `json:"stdin,omitempty"`
	TTYSize *drivers.TerminalSize `json:"tty_size,omitempty"`
}

type execResult struct {
	ExitCode int `json:"exit_code"`
}

type execOutput struct {
	Stdout *execIO     `json:"stdout,omitempty"`
	Stderr *execIO     `json:"stderr,omitempty"`
	Exited bool        `json:"exited,omitempty"`
	Result *execResult `json:"result,omitempty"`
}

const (
	// execWriteTimeout bounds one frame's write: a client that stops
	// reading ends its session rather than holding the command.
	execWriteTimeout = 30 * time.Second
	// execCloseWait is how long the close handshake may take.
	execCloseWait = 2 * time.Second
	// maxCloseText is what a close frame has room for (125 bytes, less
	// the status code).
	maxCloseText = 123
)

var execUpgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}

// clientExec serves /v1/client/allocation/{alloc}/exec?task=&command=<JSON
// array>&tty=: a websocket session running the command in the task. What
// can be checked before the command runs (parameters, the task, its
// driver) is: a plain HTTP request gets the status and the text, a
// websocket one a close frame with the text and 4000+status as its code.
func (h *handler) clientExec(w http.ResponseWriter, r *http.Request) {
	id, ok := h.localAlloc(w, r, http.MethodGet)
	if !ok {
		return
	}
	q := r.URL.Query()
	task := q.Get("task")
	var command []string
	var perr error
	if err := json.Unmarshal([]byte(q.Get("command")), &command); err != nil {
		perr = badRequest("command must be a JSON array of strings: %v", err)
	}
	tty, err := boolParam(r, "tty")
	switch {
	case perr != nil:
	case err != nil:
		perr = err
	case task == "":
		perr = badRequest("must include task name")
	case len(command) == 0 || command[0] == "":
		perr = badRequest("command is not provided")
	default:
		perr = clientError(h.local.CheckExec(id, task))
	}
	if !websocket.IsWebSocketUpgrade(r) {
		if perr == nil {
			perr = badRequest("exec needs a websocket connection")
		}
		h.writeError(w, r, perr)
		return
	}
	conn, err := execUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	s := &execSession{conn: conn, readDone: make(chan struct{})}
	defer conn.Close()
	if perr != nil {
		go s.discardInput()
		s.close(statusOf(perr), perr.Error())
		return
	}
	s.run(h, id, task, command, tty)
}

// execSession is one exec websocket.
type execSession struct {
	conn     *websocket.Conn
	wmu      sync.Mutex
	readDone chan struct{}
}

func (s *execSession) send(v *execOutput) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.conn.SetWriteDeadline(time.Now().Add(execWriteTimeout))
	return s.conn.WriteJSON(v)
}

// close ends the session with a close frame, waits a moment for the
// client's answer (so that it reads the frame before the connection
// goes), and closes the connection. Errors get code 4000+status (1011
// for server errors), the text being the error.
func (s *execSession) close(status int, text string) {
	code := websocket.CloseNormalClosure
	switch {
	case status >= 500:
		code = websocket.CloseInternalServerErr
	case status >= 400:
		code = 4000 + status
	}
	if len(text) > maxCloseText {
		for len(text) > maxCloseText-3 {
			_, size := utf8.DecodeLastRuneInString(text)
			text = text[:len(text)-size]
		}
		text += "..."
	}
	s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	select {
	case <-s.readDone:
	case <-time.After(execCloseWait):
	}
	s.conn.Close()
}

// discardInput reads (and drops) what the client sends until it closes.
func (s *execSession) discardInput() {
	defer close(s.readDone)
	for {
		if _, _, err := s.conn.NextReader(); err != nil {
			return
		}
	}
}

// streamWriter turns a command's output into stdout or stderr frames.
type streamWriter struct {
	s      *execSession
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	out := &execOutput{Stdout: &execIO{Data: p}}
	if w.stderr {
		out = &execOutput{Stderr: &execIO{Data: p}}
	}
	if err := w.s.send(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// run runs the command and relays its input and output until it exits,
// then sends its exit code. The client going away kills the command.
func (s *execSession) run(h *handler, allocID, task string, command []string, tty bool) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdinR, stdinW := io.Pipe()
	defer stdinR.Close()
	resize := make(chan drivers.TerminalSize, 1)
	go s.readInput(cancel, stdinW, resize)

	code, err := h.local.ExecTask(ctx, allocID, task, &drivers.ExecOptions{
		Command: command, TTY: tty, Stdin: stdinR,
		Stdout: streamWriter{s: s}, Stderr: streamWriter{s: s, stderr: true}, Resize: resize,
	})
	if err != nil {
		if ctx.Err() != nil {
			return // the client is gone
		}
		err = clientError(err)
		h.logger.Printf("[DEBUG] http: exec in %s/%s: %v", allocID, task, err)
		s.close(statusOf(err), err.Error())
		return
	}
	if err := s.send(&execOutput{Exited: true, Result: &execResult{ExitCode: code}}); err != nil {
		return
	}
	s.close(http.StatusOK, "")
}

// readInput reads the client's frames: stdin goes to the command through
// a queue (so a command that does not read its input never blocks the
// heartbeats), terminal sizes to the driver (the newest wins).
func (s *execSession) readInput(cancel context.CancelFunc, stdinW *io.PipeWriter, resize chan drivers.TerminalSize) {
	defer close(s.readDone)
	queue := make(chan []byte, 64)
	go func() {
		for data := range queue {
			if data == nil {
				stdinW.Close()
				return
			}
			if _, err := stdinW.Write(data); err != nil {
				return
			}
		}
		stdinW.Close()
	}()
	closed := false
	defer func() {
		if !closed {
			close(queue)
		}
	}()
	for {
		var in execInput
		if err := s.conn.ReadJSON(&in); err != nil {
			// The client closed the session (or sent what is not a
			// frame): the command is killed.
			cancel()
			return
		}
		if in.Stdin != nil && !closed {
			if len(in.Stdin.Data) > 0 {
				queue <- in.Stdin.Data
			}
			if in.Stdin.Close {
				queue <- nil
				close(queue)
				closed = true
			}
		}
		if in.TTYSize != nil {
			select {
			case <-resize:
			default:
			}
			resize <- *in.TTYSize
		}
	}
}
