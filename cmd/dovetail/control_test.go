package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/api"
)

// fakeAgent is an api.Controller that records what it was asked.
type fakeAgent struct {
	mu        sync.Mutex
	tasks     []api.TaskStatus
	history   []api.HistoryItem
	conflicts []api.ConflictItem
	reloadErr error
	calls     []string
}

func (f *fakeAgent) record(format string, a ...any) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
	f.mu.Unlock()
}

func (f *fakeAgent) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeAgent) known(task string) error {
	for _, t := range f.tasks {
		if t.Name == task {
			return nil
		}
	}
	return fmt.Errorf("%w %q", api.ErrUnknownTask, task)
}

func (f *fakeAgent) Status(ctx context.Context) ([]api.TaskStatus, error) {
	f.record("status")
	return f.tasks, nil
}

func (f *fakeAgent) RunNow(ctx context.Context, task string) error {
	f.record("run %s", task)
	return f.known(task)
}

func (f *fakeAgent) ForceRun(ctx context.Context, task string) error {
	f.record("force-run %s", task)
	return f.known(task)
}

func (f *fakeAgent) Pause(ctx context.Context, task string) error {
	f.record("pause %s", task)
	return f.known(task)
}

func (f *fakeAgent) Resume(ctx context.Context, task string) error {
	f.record("resume %s", task)
	return f.known(task)
}

func (f *fakeAgent) History(ctx context.Context, task string, limit int) ([]api.HistoryItem, error) {
	f.record("history %q %d", task, limit)
	if task != "" {
		if err := f.known(task); err != nil {
			return nil, err
		}
	}
	var out []api.HistoryItem
	for _, h := range f.history {
		if (task == "" || h.Task == task) && len(out) < limit {
			out = append(out, h)
		}
	}
	return out, nil
}

func (f *fakeAgent) Conflicts(ctx context.Context, task string) ([]api.ConflictItem, error) {
	f.record("conflicts %q", task)
	if task != "" {
		if err := f.known(task); err != nil {
			return nil, err
		}
	}
	var out []api.ConflictItem
	for _, c := range f.conflicts {
		if task == "" || c.Task == task {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeAgent) Reload(ctx context.Context) error {
	f.record("reload")
	return f.reloadErr
}

// newFakeAgent returns an agent with one task in each interesting state;
// times are relative to now.
func newFakeAgent(now time.Time) *fakeAgent {
	now = now.Truncate(time.Second).UTC()
	return &fakeAgent{
		tasks: []api.TaskStatus{
			{Name: "photos", Local: "/home/ann/Pictures", Remote: "gdrive:Pictures", Direction: "two-way",
				State: api.StateSyncing, Enabled: true, LastSync: now.Add(-3*time.Minute - 10*time.Second),
				Progress: api.Progress{FilesDone: 120, FilesTotal: 450, BytesDone: 3 << 29, BytesTotal: 7 << 29, Current: "2025/IMG_0012.jpg"},
				Problems: 2, Conflicts: 1},
			{Name: "nightly backup", Local: "/srv/data", Remote: "s3://bucket/data", Direction: "upload",
				State: api.StateWaiting, Enabled: true, LastSync: now.Add(-26 * time.Hour), NextRun: now.Add(30 * time.Minute)},
			{Name: "docs", Local: "/home/ann/Documents", Remote: "sftp://nas/docs", Direction: "two-way",
				State: api.StateError, Enabled: true,
				Error: "sftp://nas/docs: connection refused (is the server up? the task retries every minute)"},
			{Name: "old", Local: "/home/ann/Old", Remote: "/mnt/usb/old", Direction: "download",
				State: api.StateDisabled},
		},
		history: []api.HistoryItem{
			{Task: "photos", Time: now.Add(-time.Minute), Action: "upload", Path: "2025/IMG_0011.jpg", Detail: "2.1 MiB"},
			{Task: "docs", Time: now.Add(-2 * time.Minute), Action: "error", Path: "tax.pdf", Detail: "permission denied"},
			{Task: "photos", Time: now.Add(-3 * time.Minute), Action: "conflict", Path: "notes.txt", Detail: "changed on both sides"},
		},
		conflicts: []api.ConflictItem{
			{Task: "photos", ID: 7, Time: now.Add(-3 * time.Minute), Path: "notes.txt",
				Revision: "notes.conflict-remote-20250301-140211.txt", Side: "remote", Detail: "changed on both sides"},
		},
	}
}

// startAgent serves f's API on a fresh socket until the test ends.
func startAgent(t *testing.T, f api.Controller) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := api.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, l, f) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestStatusText(t *testing.T) {
	f := newFakeAgent(time.Now())
	sock := startAgent(t, f)
	code, out, errOut := runCLI("status", "--socket", sock)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	next := f.tasks[1].NextRun.Local().Format("15:04")
	want := `photos: syncing
  /home/ann/Pictures ⇄ gdrive:Pictures (two-way)
  last sync: 3 minutes ago
  progress: 120 of 450 files, 1.5 GiB of 3.5 GiB; now 2025/IMG_0012.jpg
  2 paths not synced, 1 open conflict: see "dovetail history --task photos" and "dovetail conflicts --task photos"

nightly backup: waiting
  /srv/data ⇄ s3://bucket/data (upload)
  last sync: 1 day ago
  next run: in 30 minutes (at ` + next + `)

docs: error
  /home/ann/Documents ⇄ sftp://nas/docs (two-way)
  last sync: never
  error: sftp://nas/docs: connection refused (is the server up? the task retries every minute)

old: disabled (turned off in the configuration)
  /home/ann/Old ⇄ /mnt/usb/old (download)
  last sync: never
`
	if out != want {
		t.Errorf("status output:\n%s\nwant:\n%s", out, want)
	}
}

func TestStatusJSON(t *testing.T) {
	f := newFakeAgent(time.Now())
	sock := startAgent(t, f)
	for _, cmd := range [][]string{{"status"}, {"task", "list"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			code, out, errOut := runCLI(append(cmd, "--json", "--socket", sock)...)
			if code != exitOK || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			var got struct {
				Tasks []api.TaskStatus `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(got.Tasks, f.tasks) {
				t.Errorf("tasks = %+v\nwant %+v", got.Tasks, f.tasks)
			}
			for _, key := range []string{`"last_sync": "`, `"files_done": 120`, `"bytes_total": 3758096384`, `"state": "waiting"`, `"next_run": "`} {
				if !strings.Contains(out, key) {
					t.Errorf("output lacks %s:\n%s", key, out)
				}
			}
		})
	}
}

func TestNoTasks(t *testing.T) {
	sock := startAgent(t, &fakeAgent{})
	for _, cmd := range [][]string{{"status"}, {"task", "list"}} {
		code, out, _ := runCLI(append(cmd, "--socket", sock)...)
		if code != exitOK || !strings.Contains(out, "No tasks are configured") {
			t.Errorf("%s: exit %d, %q", cmd, code, out)
		}
		code, out, _ = runCLI(append(cmd, "--json", "--socket", sock)...)
		if code != exitOK || strings.TrimSpace(out) != "{\n  \"tasks\": []\n}" {
			t.Errorf("%s --json: exit %d, %q", cmd, code, out)
		}
	}
}

func TestTaskList(t *testing.T) {
	sock := startAgent(t, newFakeAgent(time.Now()))
	code, out, _ := runCLI("task", "list", "--socket", sock)
	want := `NAME            STATE     DIRECTION  LOCAL                REMOTE
photos          syncing   two-way    /home/ann/Pictures   gdrive:Pictures
nightly backup  waiting   upload     /srv/data            s3://bucket/data
docs            error     two-way    /home/ann/Documents  sftp://nas/docs
old             disabled  download   /home/ann/Old        /mnt/usb/old
`
	if code != exitOK || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
}

func TestTaskActions(t *testing.T) {
	f := newFakeAgent(time.Now())
	sock := startAgent(t, f)
	tests := []struct {
		args   []string
		code   int
		out    string // stdout, exactly
		errOut string // in stderr
		call   string // what the agent was asked; "" for nothing
	}{
		{[]string{"task", "run", "photos"}, exitOK, "Task photos runs now; follow it with \"dovetail status\".\n", "", "run photos"},
		{[]string{"task", "run", "--force", "photos"}, exitOK, "Task photos runs now; follow it with \"dovetail status\".\n", "", "force-run photos"},
		{[]string{"task", "pause", "nightly backup"}, exitOK, "Task nightly backup paused: it starts no runs until \"dovetail task resume 'nightly backup'\".\n", "", "pause nightly backup"},
		{[]string{"task", "resume", "nightly backup"}, exitOK, "Task nightly backup resumed.\n", "", "resume nightly backup"},
		{[]string{"reload"}, exitOK, "Configuration reloaded; the tasks restarted.\n", "", "reload"},
		{[]string{"task", "run", "nope"}, exitError, "", "dovetail task run: no such task \"nope\" (\"dovetail task list\" lists the tasks)\n", "run nope"},
		{[]string{"task", "pause", "nope"}, exitError, "", "no such task \"nope\"", "pause nope"},
		{[]string{"history", "--task", "nope"}, exitError, "", "dovetail history: no such task \"nope\"", `history "nope" 100`},
		{[]string{"conflicts", "--task", "nope"}, exitError, "", "dovetail conflicts: no such task \"nope\"", `conflicts "nope"`},
		// Usage errors never reach the agent.
		{[]string{"task", "run"}, exitUsage, "", "dovetail task run: need exactly one task NAME, got 0 argument(s)", ""},
		{[]string{"task", "run", "a", "b"}, exitUsage, "", "got 2 argument(s)", ""},
		{[]string{"task", "run", ""}, exitUsage, "", "the task NAME is empty", ""},
		{[]string{"task", "stop", "photos"}, exitUsage, "", "dovetail task: unknown command \"stop\"", ""},
		{[]string{"task"}, exitUsage, "", "Usage: dovetail task COMMAND", ""},
		{[]string{"status", "photos"}, exitUsage, "", "dovetail status: takes no arguments, got \"photos\"", ""},
		{[]string{"reload", "--json"}, exitUsage, "", "flag provided but not defined: -json", ""},
		{[]string{"history", "--limit", "0"}, exitUsage, "", "--limit: 0 is not a number from 1 to 10000", ""},
		{[]string{"history", "--limit", "many"}, exitUsage, "", "invalid value \"many\" for flag -limit", ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(f.Calls())
			code, out, errOut := runCLI(append(tt.args, "--socket", sock)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut)
			}
			if out != tt.out {
				t.Errorf("stdout %q, want %q", out, tt.out)
			}
			if !strings.Contains(errOut, tt.errOut) || tt.errOut == "" && errOut != "" {
				t.Errorf("stderr %q, want it to contain %q", errOut, tt.errOut)
			}
			var want []string
			if tt.call != "" {
				want = []string{tt.call}
			}
			if got := f.Calls()[before:]; !slices.Equal(got, want) {
				t.Errorf("agent asked %q, want %q", got, want)
			}
		})
	}
}

func TestReloadError(t *testing.T) {
	f := newFakeAgent(time.Now())
	f.reloadErr = errors.New(`/etc/dovetail/dovetail.yaml: line 4: unknown key "remtoe" (did you mean "remote"?)`)
	sock := startAgent(t, f)
	code, out, errOut := runCLI("reload", "--socket", sock)
	if want := "dovetail reload: " + f.reloadErr.Error() + "\n"; code != exitError || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
}

func TestHistory(t *testing.T) {
	f := newFakeAgent(time.Now())
	sock := startAgent(t, f)
	at := func(i int) string { return f.history[i].Time.Local().Format(time.DateTime) }

	code, out, _ := runCLI("history", "--socket", sock)
	want := "TIME                 TASK    ACTION    PATH               DETAIL\n" +
		at(0) + "  photos  upload    2025/IMG_0011.jpg  2.1 MiB\n" +
		at(1) + "  docs    error     tax.pdf            permission denied\n" +
		at(2) + "  photos  conflict  notes.txt          changed on both sides\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}

	code, out, _ = runCLI("history", "--task", "photos", "--limit", "1", "--json", "--socket", sock)
	var got struct {
		History []api.HistoryItem `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if !reflect.DeepEqual(got.History, f.history[:1]) {
		t.Errorf("history = %+v, want %+v", got.History, f.history[:1])
	}
	if calls := f.Calls(); !slices.Equal(calls, []string{`history "" 100`, `history "photos" 1`}) {
		t.Errorf("agent asked %q", calls)
	}

	empty := startAgent(t, &fakeAgent{tasks: f.tasks})
	if code, out, _ := runCLI("history", "--socket", empty); code != exitOK || out != "Nothing done yet.\n" {
		t.Errorf("empty history: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI("history", "--json", "--socket", empty); code != exitOK || strings.TrimSpace(out) != "{\n  \"history\": []\n}" {
		t.Errorf("empty history --json: exit %d, %q", code, out)
	}
}

func TestConflicts(t *testing.T) {
	f := newFakeAgent(time.Now())
	sock := startAgent(t, f)
	k := f.conflicts[0]
	code, out, _ := runCLI("conflicts", "--task", "photos", "--socket", sock)
	want := "notes.txt (task photos, " + k.Time.Local().Format("2006-01-02 15:04") + ")\n" +
		"  the remote version is kept beside it as notes.conflict-remote-20250301-140211.txt: changed on both sides\n" +
		"1 open conflict. Compare each file with the version kept beside it, keep what you want and delete the other.\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}

	code, out, _ = runCLI("conflicts", "--json", "--socket", sock)
	var got struct {
		Conflicts []api.ConflictItem `json:"conflicts"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if !reflect.DeepEqual(got.Conflicts, f.conflicts) {
		t.Errorf("conflicts = %+v, want %+v", got.Conflicts, f.conflicts)
	}

	if code, out, _ := runCLI("conflicts", "--task", "docs", "--socket", sock); code != exitOK || out != "No open conflicts.\n" {
		t.Errorf("no conflicts: exit %d, %q", code, out)
	}
}

func TestAgentNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	msg := "no dovetail agent is running (socket " + sock + " not found); start it with `dovetail agent` or `systemctl --user start dovetail`"
	tests := []struct {
		name string
		args []string
	}{
		{"status", []string{"status"}},
		{"task list", []string{"task", "list"}},
		{"task run", []string{"task", "run", "photos"}},
		{"history", []string{"history"}},
		{"conflicts", []string{"conflicts"}},
		{"reload", []string{"reload"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(append(tt.args, "--socket", sock)...)
			want := "dovetail " + tt.name + ": " + msg + "\n"
			if code != exitError || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant 1 and %q", code, out, errOut, want)
			}
		})
	}
	// Scripts get the reason in the JSON too.
	code, out, _ := runCLI("status", "--json", "--socket", sock)
	var got struct{ Error string }
	if err := json.Unmarshal([]byte(out), &got); code != exitError || err != nil || got.Error != msg {
		t.Errorf("status --json: exit %d, %v, %q", code, err, out)
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	sock := startAgent(t, newFakeAgent(time.Now()))
	t.Setenv("DOVETAIL_SOCKET", sock)
	if code, out, errOut := runCLI("task", "list"); code != exitOK || !strings.Contains(out, "photos") {
		t.Errorf("exit %d, %q, %q", code, out, errOut)
	}
	t.Setenv("DOVETAIL_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Dir(sock))
	code, _, errOut := runCLI("status")
	if want := filepath.Join(filepath.Dir(sock), "dovetail", "agent.sock") + " not found"; code != exitError || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, %q; want the runtime dir's socket %q", code, errOut, want)
	}
}

func TestControlHelp(t *testing.T) {
	tests := [][]string{
		{"status", "--help"}, {"task", "list", "--help"}, {"task", "run", "--help"}, {"task", "pause", "-h"},
		{"task", "resume", "--help"}, {"history", "--help"}, {"conflicts", "--help"}, {"reload", "--help"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(args...)
			name := strings.Join(args[:len(args)-1], " ")
			if code != exitOK || !strings.HasPrefix(errOut, "Usage: dovetail "+name+" [flags]") {
				t.Fatalf("exit %d, help:\n%s", code, errOut)
			}
			for _, want := range []string{"--socket PATH", "$DOVETAIL_SOCKET", "Exit status: 0 done, 1 error"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("help lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
	if code, out, _ := runCLI("task", "--help"); code != exitOK || !strings.Contains(out, "pause NAME") {
		t.Errorf("task --help: exit %d, %q", code, out)
	}
	if code, out, _ := runCLI("help"); code != exitOK || !strings.Contains(out, "dovetail task list|run|pause|resume") {
		t.Errorf("help does not list the control commands: %q", out)
	}
}

func TestAgoUntil(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.Local)
	past := []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "just now"},
		{-5 * time.Second, "just now"}, // clocks differ a little
		{61 * time.Second, "1 minute ago"},
		{59 * time.Minute, "59 minutes ago"},
		{2*time.Hour + 59*time.Minute, "2 hours ago"},
		{30 * time.Hour, "1 day ago"},
		{6 * 24 * time.Hour, "6 days ago"},
		{8 * 24 * time.Hour, "on 2025-03-02 12:00"},
	}
	for _, tt := range past {
		if got := ago(now, now.Add(-tt.d)); got != tt.want {
			t.Errorf("ago(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	future := []struct {
		d    time.Duration
		want string
	}{
		{20 * time.Second, "within a minute"},
		{-time.Minute, "within a minute"}, // overdue
		{90 * time.Second, "in 2 minutes (at 12:01)"},
		{5 * time.Hour, "at 17:00"},
		{30 * time.Hour, "on 2025-03-11 18:00"},
	}
	for _, tt := range future {
		if got := until(now, now.Add(tt.d)); got != tt.want {
			t.Errorf("until(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// unitFile reads a systemd unit into section -> key -> values.
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	units := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			units[section] = map[string][]string{}
		case section == "":
			t.Fatalf("%s:%d: %q before any section", path, n, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s:%d: %q is not KEY=VALUE", path, n, line)
			}
			units[section][k] = append(units[section][k], v)
		}
	}
	return units
}

func TestSystemdUnits(t *testing.T) {
	dir := filepath.Join("..", "..", "packaging", "systemd")
	tests := []struct {
		file string
		want map[string]map[string]string // section -> key -> one of its values
	}{
		{"dovetail.service", map[string]map[string]string{
			"Service": {
				"User":             "dovetail",
				"ExecStart":        "/usr/local/bin/dovetail agent --config /etc/dovetail/dovetail.yaml",
				"ExecReload":       "/bin/kill -HUP $MAINPID",
				"KillSignal":       "SIGTERM",
				"TimeoutStopSec":   "30",
				"Restart":          "on-failure",
				"NoNewPrivileges":  "yes",
				"ProtectSystem":    "strict",
				"PrivateTmp":       "yes",
				"StateDirectory":   "dovetail",
				"RuntimeDirectory": "dovetail",
				// The CLI finds the socket inside the RuntimeDirectory.
				"Environment": "DOVETAIL_SOCKET=/run/dovetail/agent.sock",
			},
			"Install": {"WantedBy": "multi-user.target"},
		}},
		{"dovetail-user.service", map[string]map[string]string{
			"Service": {
				"ExecStart":      "%h/.local/bin/dovetail agent",
				"ExecReload":     "/bin/kill -HUP $MAINPID",
				"KillSignal":     "SIGTERM",
				"TimeoutStopSec": "30",
				"Restart":        "on-failure",
			},
			"Install": {"WantedBy": "default.target"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			unit := unitFile(t, filepath.Join(dir, tt.file))
			for section, keys := range tt.want {
				for k, v := range keys {
					if got := unit[section][k]; !slices.Contains(got, v) {
						t.Errorf("[%s] %s = %q, want %q", section, k, got, v)
					}
				}
			}
			if _, ok := unit["Service"]["ReadWritePaths"]; tt.file == "dovetail.service" && !ok {
				t.Error("ProtectSystem=strict without ReadWritePaths: the agent could not write into any synced folder")
			}
		})
	}
}

// TestSystemdVerify has systemd check the units, where it is installed.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; the units are only checked by TestSystemdUnits")
	}
	dir := filepath.Join("..", "..", "packaging", "systemd")
	tmp := t.TempDir()
	// verify insists that the programs exist: point ExecStart at one.
	bin := filepath.Join(tmp, "home", ".local", "bin", "dovetail")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, from string }{
		{"dovetail.service", "/usr/local/bin/dovetail"},
		{"dovetail-user.service", "%h/.local/bin/dovetail"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			unit := filepath.Join(tmp, "dovetail.service") // installed under this name
			if err := os.WriteFile(unit, bytes.ReplaceAll(b, []byte("ExecStart="+tt.from), []byte("ExecStart="+bin)), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"verify", unit}
			if tt.file == "dovetail-user.service" {
				args = []string{"--user", "verify", unit}
			}
			cmd := exec.Command(analyze, args...)
			rt := filepath.Join(tmp, "run")
			os.MkdirAll(rt, 0o700)
			cmd.Env = append(os.Environ(), "HOME="+filepath.Join(tmp, "home"), "XDG_RUNTIME_DIR="+rt)
			out, err := cmd.CombinedOutput()
			// Unknown keys and bad values are only warnings: any output fails.
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}
