package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The client is a drop-in Controller.
var _ Controller = (*Client)(nil)

// fake is a Controller with two tasks that records what it was asked.
type fake struct {
	mu        sync.Mutex
	tasks     []TaskStatus
	history   []HistoryItem
	conflicts []ConflictItem
	calls     []string
	reloadErr error
	block     chan struct{} // when set, Reload waits for it to close
}

func newFake() *fake {
	t0 := time.Date(2025, 3, 1, 14, 2, 11, 0, time.UTC)
	return &fake{
		tasks: []TaskStatus{
			{Name: "photos", Local: "/home/ann/Pictures", Remote: "gdrive:Pictures", Direction: "two-way",
				State: StateSyncing, Enabled: true, LastSync: t0,
				Progress: Progress{FilesDone: 3, FilesTotal: 10, BytesDone: 1 << 20, BytesTotal: 5 << 20, Current: "2025/a.jpg"},
				Problems: 1, Conflicts: 2},
			{Name: "docs/2025 raw", Local: "/home/ann/Docs", Remote: "sftp://nas/docs", Direction: "upload",
				State: StateWaiting, Enabled: true, NextRun: t0.Add(time.Hour)},
		},
		history: []HistoryItem{
			{Task: "photos", Time: t0.Add(2 * time.Second), Action: "upload", Path: "2025/a.jpg", Detail: "to remote"},
			{Task: "docs/2025 raw", Time: t0.Add(time.Second), Action: "delete", Path: "old.txt", Detail: "remote"},
			{Task: "photos", Time: t0, Action: "conflict", Path: "notes.txt", Detail: "changed on both sides"},
		},
		conflicts: []ConflictItem{
			{Task: "photos", ID: 7, Time: t0, Path: "notes.txt", Revision: "notes.conflict-remote-20250301-140211.txt", Side: "remote", Detail: "changed on both sides"},
		},
	}
}

func (f *fake) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fake) known(task string) error {
	for _, t := range f.tasks {
		if t.Name == task {
			return nil
		}
	}
	return fmt.Errorf("%w %q", ErrUnknownTask, task)
}

func (f *fake) Status(ctx context.Context) ([]TaskStatus, error) {
	f.record("status")
	return f.tasks, nil
}

func (f *fake) RunNow(ctx context.Context, task string) error {
	f.record("run " + task)
	return f.known(task)
}

func (f *fake) ForceRun(ctx context.Context, task string) error {
	f.record("force-run " + task)
	return f.known(task)
}

func (f *fake) Pause(ctx context.Context, task string) error {
	f.record("pause " + task)
	return f.known(task)
}

func (f *fake) Resume(ctx context.Context, task string) error {
	f.record("resume " + task)
	return f.known(task)
}

func (f *fake) History(ctx context.Context, task string, limit int) ([]HistoryItem, error) {
	f.record(fmt.Sprintf("history %q %d", task, limit))
	if task != "" {
		if err := f.known(task); err != nil {
			return nil, err
		}
	}
	var out []HistoryItem
	for _, h := range f.history {
		if (task == "" || h.Task == task) && len(out) < limit {
			out = append(out, h)
		}
	}
	return out, nil
}

func (f *fake) Conflicts(ctx context.Context, task string) ([]ConflictItem, error) {
	f.record(fmt.Sprintf("conflicts %q", task))
	if task != "" {
		if err := f.known(task); err != nil {
			return nil, err
		}
	}
	var out []ConflictItem
	for _, c := range f.conflicts {
		if task == "" || c.Task == task {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fake) Reload(ctx context.Context) error {
	f.record("reload")
	if f.block != nil {
		<-f.block
	}
	return f.reloadErr
}

// serve runs the API for c on a fresh socket until the test ends and
// returns the socket's path and Serve's result channel.
func serve(t *testing.T, c Controller) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "agent.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path, cancel, done
}

// rawClient sends plain HTTP requests over the socket, to see what a
// client other than ours (the web UI, curl) gets.
func rawClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
}

func TestClientRoutes(t *testing.T) {
	f := newFake()
	path, _, _ := serve(t, f)
	c := Dial(path)
	defer c.Close()
	ctx := context.Background()

	got, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f.tasks) {
		t.Errorf("Status = %+v\nwant %+v", got, f.tasks)
	}

	weird := f.tasks[1].Name // a slash and a space travel in the path
	for _, name := range []string{"photos", weird} {
		if err := c.RunNow(ctx, name); err != nil {
			t.Errorf("RunNow(%q): %v", name, err)
		}
		if err := c.Pause(ctx, name); err != nil {
			t.Errorf("Pause(%q): %v", name, err)
		}
		if err := c.Resume(ctx, name); err != nil {
			t.Errorf("Resume(%q): %v", name, err)
		}
	}

	hist, err := c.History(ctx, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hist, f.history[:2]) {
		t.Errorf("History(all, 2) = %+v\nwant %+v", hist, f.history[:2])
	}
	hist, err = c.History(ctx, "photos", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []HistoryItem{f.history[0], f.history[2]}; !reflect.DeepEqual(hist, want) {
		t.Errorf("History(photos) = %+v\nwant %+v", hist, want)
	}

	conf, err := c.Conflicts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(conf, f.conflicts) {
		t.Errorf("Conflicts = %+v\nwant %+v", conf, f.conflicts)
	}
	conf, err = c.Conflicts(ctx, weird)
	if err != nil || len(conf) != 0 || conf == nil {
		t.Errorf("Conflicts(%q) = %#v, %v; want an empty list", weird, conf, err)
	}

	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}

	want := []string{
		"status",
		"run photos", "pause photos", "resume photos",
		"run " + weird, "pause " + weird, "resume " + weird,
		`history "" 2`, fmt.Sprintf("history %q %d", "photos", DefaultHistoryLimit),
		`conflicts ""`, fmt.Sprintf("conflicts %q", weird),
		"reload",
	}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

func TestClientErrors(t *testing.T) {
	f := newFake()
	f.reloadErr = errors.New(`dovetail.yaml line 3: unknown key "remtoe"`)
	path, _, _ := serve(t, f)
	c := Dial(path)
	ctx := context.Background()

	unknown := map[string]func() error{
		"run":       func() error { return c.RunNow(ctx, "nope") },
		"pause":     func() error { return c.Pause(ctx, "nope") },
		"resume":    func() error { return c.Resume(ctx, "nope") },
		"history":   func() error { _, err := c.History(ctx, "nope", 5); return err },
		"conflicts": func() error { _, err := c.Conflicts(ctx, "nope"); return err },
	}
	for name, call := range unknown {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, ErrUnknownTask) {
				t.Fatalf("err = %v, want one wrapping ErrUnknownTask", err)
			}
			if e, ok := errors.AsType[*Error](err); !ok || e.StatusCode != http.StatusNotFound {
				t.Errorf("err = %#v, want a 404 *Error", err)
			}
			if want := `no such task "nope"`; err.Error() != want {
				t.Errorf("message %q, want the agent's %q", err, want)
			}
		})
	}

	err := c.Reload(ctx)
	if err == nil || err.Error() != f.reloadErr.Error() || errors.Is(err, ErrUnknownTask) {
		t.Errorf("Reload = %v, want the agent's message %q as a plain error", err, f.reloadErr)
	}
	if e, ok := errors.AsType[*Error](err); !ok || e.StatusCode != http.StatusInternalServerError {
		t.Errorf("Reload error %#v, want a 500 *Error", err)
	}

	if err := c.RunNow(ctx, ""); !errors.Is(err, ErrBadRequest) {
		t.Errorf("RunNow(\"\") = %v, want ErrBadRequest", err)
	}
	if calls := f.Calls(); slices.Contains(calls, "run ") {
		t.Errorf("an empty task name reached the agent: %q", calls)
	}
}

// TestHTTP checks what any HTTP client sees: status codes, JSON error
// bodies and snake_case keys.
func TestHTTP(t *testing.T) {
	path, _, _ := serve(t, newFake())
	hc := rawClient(path)
	tests := []struct {
		method, target string
		header         map[string]string
		code           int
		kind           string // of the JSON error; "" for a success
		errPart        string // in the JSON error's message
	}{
		{"GET", "/v1/status", nil, 200, "", ""},
		{"HEAD", "/v1/status", nil, 200, "", ""},
		{"POST", "/v1/tasks/photos/run", nil, 204, "", ""},
		{"POST", "/v1/tasks/docs%2F2025%20raw/pause", nil, 204, "", ""},
		{"POST", "/v1/tasks/nope/run", nil, 404, KindUnknownTask, `no such task "nope"`},
		{"GET", "/v1/history?limit=abc", nil, 400, KindBadRequest, `limit "abc" is not a number from 1 to 10000`},
		{"GET", "/v1/history?limit=0", nil, 400, KindBadRequest, "limit"},
		{"GET", "/v1/history?limit=10001", nil, 400, KindBadRequest, "limit"},
		{"GET", "/v1/history?task=photos&limit=1", nil, 200, "", ""},
		{"GET", "/v1/conflicts?task=nope", nil, 404, KindUnknownTask, "no such task"},
		{"GET", "/v1/tasks/photos/run", nil, 405, KindBadRequest, "method not allowed (use POST)"},
		{"POST", "/v1/status", nil, 405, KindBadRequest, "use GET"},
		{"GET", "/v2/status", nil, 404, KindNoEndpoint, "no such endpoint"},
		{"POST", "/v1/reload", nil, 204, "", ""},
		// A web page elsewhere cannot make the agent act through a browser.
		{"POST", "/v1/reload", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, KindForbidden, "cross-origin"},
		{"POST", "/v1/tasks/photos/pause", map[string]string{"Origin": "https://evil.example"}, 403, KindForbidden, "cross-origin"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://agent"+tt.target, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.code, body)
			}
			if tt.code == 204 || tt.method == "HEAD" {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e map[string]any
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("not JSON (%v): %s", err, body)
			}
			msg, _ := e["error"].(string)
			if tt.kind == "" && msg != "" || !strings.Contains(msg, tt.errPart) {
				t.Errorf("error %q, want it to contain %q", msg, tt.errPart)
			}
			if kind, _ := e["kind"].(string); kind != tt.kind {
				t.Errorf("kind %q, want %q", kind, tt.kind)
			}
			if tt.code == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestErrorUnwrap(t *testing.T) {
	tests := []struct {
		err                 *Error
		unknownTask, badReq bool
	}{
		{&Error{StatusCode: 404, Kind: KindUnknownTask}, true, false},
		// An agent of another version without the endpoint: not a task problem.
		{&Error{StatusCode: 404, Kind: KindNoEndpoint}, false, false},
		{&Error{StatusCode: 404}, false, false},
		{&Error{StatusCode: 400, Kind: KindBadRequest}, false, true},
		{&Error{StatusCode: 500, Kind: KindInternal}, false, false},
	}
	for _, tt := range tests {
		if got := errors.Is(tt.err, ErrUnknownTask); got != tt.unknownTask {
			t.Errorf("%+v: Is(ErrUnknownTask) = %v", tt.err, got)
		}
		if got := errors.Is(tt.err, ErrBadRequest); got != tt.badReq {
			t.Errorf("%+v: Is(ErrBadRequest) = %v", tt.err, got)
		}
	}
}

func TestJSONKeys(t *testing.T) {
	path, _, _ := serve(t, newFake())
	resp, err := rawClient(path).Get("http://agent/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Tasks []map[string]any `json:"tasks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Tasks) != 2 {
		t.Fatalf("%d tasks", len(doc.Tasks))
	}
	keys := func(m map[string]any) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	always := []string{"conflicts", "direction", "enabled", "error", "local", "name", "problems", "progress", "remote", "state"}
	if got, want := keys(doc.Tasks[0]), slices.Sorted(slices.Values(append(slices.Clone(always), "last_sync"))); !slices.Equal(got, want) {
		t.Errorf("keys of a task that synced: %q, want %q", got, want)
	}
	if got, want := keys(doc.Tasks[1]), slices.Sorted(slices.Values(append(slices.Clone(always), "next_run"))); !slices.Equal(got, want) {
		t.Errorf("keys of a scheduled task that never synced: %q, want %q", got, want)
	}
	if got := doc.Tasks[0]["last_sync"]; got != "2025-03-01T14:02:11Z" {
		t.Errorf("last_sync = %v, want RFC 3339", got)
	}
	prog, _ := doc.Tasks[0]["progress"].(map[string]any)
	if want := []string{"bytes_done", "bytes_total", "current", "files_done", "files_total"}; !slices.Equal(keys(prog), want) {
		t.Errorf("progress keys %q, want %q", keys(prog), want)
	}
}

func TestListenSocketMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "agent.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", st.Mode())
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("socket folder: %v, %v; want mode 0700", st.Mode(), err)
	}
}

func TestListenStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	// An agent that died leaves its socket behind, with nobody listening.
	dead, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	dead.(*net.UnixListener).SetUnlinkOnClose(false)
	dead.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no stale socket to test with: %v", err)
	}

	// A client sees that no agent runs there.
	_, err = Dial(path).Status(context.Background())
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "nothing answers on socket "+path) {
		t.Errorf("status on a stale socket: %v", err)
	}

	l, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	go http.Serve(l, Handler(newFake()))
	if _, err := Dial(path).Status(context.Background()); err != nil {
		t.Errorf("the new agent does not answer: %v", err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Listen(path)
	if want := "another dovetail agent is running (socket " + path + ")"; err == nil || err.Error() != want {
		t.Fatalf("second Listen: %v, want %q", err, want)
	}
	// The first agent's socket is still there and still answers.
	if c, err := net.Dial("unix", path); err != nil {
		t.Errorf("first socket gone: %v", err)
	} else {
		c.Close()
	}
}

func TestListenRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"not a socket", file, "exists and is not a socket"},
		{"too long", filepath.Join(dir, strings.Repeat("x", 120), "agent.sock"), "too long for a unix socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Listen(tt.path)
			if err == nil {
				l.Close()
				t.Fatal("Listen succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q, want it to contain %q", err, tt.want)
			}
		})
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
		t.Errorf("the file at the socket path was touched: %q, %v", b, err)
	}
}

func TestNotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	err := Dial(path).Reload(context.Background())
	want := "no dovetail agent is running (socket " + path + " not found); start it with `dovetail agent` or `systemctl --user start dovetail`"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrNotRunning) {
		t.Error("not ErrNotRunning")
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	f := newFake()
	f.block = make(chan struct{})
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, l, f) }()

	c := Dial(path)
	reloaded := make(chan error, 1)
	go func() { reloaded <- c.Reload(context.Background()) }()
	for !slices.Contains(f.Calls(), "reload") {
		time.Sleep(time.Millisecond)
	}
	cancel() // the agent stops while a request is in progress
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before the request in progress finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(f.block)
	if err := <-reloaded; err != nil {
		t.Errorf("the request in progress failed: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after ctx ended")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after shutdown: %v, want ErrNotRunning", err)
	}
}

func TestDefaultSocket(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name                      string
		socket, runtime, state, h string
		want                      string
	}{
		{"explicit", "/srv/d.sock", "/run/user/1000", "/st", home, "/srv/d.sock"},
		{"runtime dir", "", "/run/user/1000", "/st", home, "/run/user/1000/dovetail/agent.sock"},
		{"state dir", "", "", "/st", home, "/st/dovetail/agent.sock"},
		{"home", "", "", "", home, filepath.Join(home, ".local/state/dovetail/agent.sock")},
		{"relative XDG paths ignored", "", "run", "state", home, filepath.Join(home, ".local/state/dovetail/agent.sock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DOVETAIL_SOCKET", tt.socket)
			t.Setenv("XDG_RUNTIME_DIR", tt.runtime)
			t.Setenv("XDG_STATE_HOME", tt.state)
			t.Setenv("HOME", tt.h)
			if got := DefaultSocket(); got != tt.want {
				t.Errorf("DefaultSocket() = %q, want %q", got, tt.want)
			}
		})
	}
}
