package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/dovetail-sync/dovetail/agent/schedule"
)

// problems parses a configuration that must fail and returns its problems.
func problems(t *testing.T, src string) []Problem {
	t.Helper()
	_, err := Parse("dovetail.yaml", []byte(src))
	if err == nil {
		t.Fatalf("configuration accepted:\n%s", src)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T, not a *ValidationError: %v", err, err)
	}
	return ve.Problems
}

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := Parse("dovetail.yaml", []byte(src))
	if err != nil {
		t.Fatalf("%v\nin:\n%s", err, src)
	}
	return c
}

// isolate points HOME and the XDG folders at a temporary folder.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"} {
		t.Setenv(v, "")
	}
	return home
}

const minimal = `version: 1
tasks:
  - name: docs
    local: /home/a/Documents
    remote: /mnt/backup/Documents
`

func TestDefaults(t *testing.T) {
	home := isolate(t)
	c := mustParse(t, minimal)
	task := c.Tasks[0]
	want := NewTask("docs", "/home/a/Documents", "/mnt/backup/Documents")
	if fmt.Sprintf("%+v", *task) != fmt.Sprintf("%+v", *want) {
		t.Errorf("task with defaults:\n got %+v\nwant %+v", *task, *want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"direction", task.Direction, "two-way"},
		{"conflict", task.Conflict, "keep-local"},
		{"compare", task.Compare, "mtime"},
		{"max_delete", task.MaxDelete, Percent(50)},
		{"trash_days", task.TrashDays, 30},
		{"workers", task.Workers, 4},
		{"poll", task.Poll.D(), time.Minute},
		{"rescan", task.Rescan.D(), time.Hour},
		{"schedule", task.Schedule.Continuous(), true},
		{"enabled", task.Enabled, true},
		{"bwlimit", task.BWLimit.IsZero(), true},
		{"state", c.StatePath(task), filepath.Join(home, ".local/state/dovetail/tasks/docs.db")},
		{"state_dir", c.Agent.StateDir, filepath.Join(home, ".local/state/dovetail")},
		{"socket without a runtime dir", c.Agent.Socket, filepath.Join(home, ".local/state/dovetail/agent.sock")},
		{"log_level", c.Agent.LogLevel, "info"},
		{"log_format", c.Agent.LogFormat, "text"},
		{"web", c.Agent.Web, DefaultWeb},
		{"web enabled", c.Agent.WebEnabled(), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}

	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	t.Setenv("XDG_STATE_HOME", "/srv/state")
	c = mustParse(t, minimal)
	if c.Agent.Socket != "/run/user/1000/dovetail/agent.sock" || c.Agent.StateDir != "/srv/state/dovetail" {
		t.Errorf("with XDG dirs: socket %s, state_dir %s", c.Agent.Socket, c.Agent.StateDir)
	}
	// A state_dir of the user's moves the socket when there is no runtime dir.
	t.Setenv("XDG_RUNTIME_DIR", "")
	c = mustParse(t, minimal+"agent:\n  state_dir: /var/lib/dovetail\n  web: \"off\"\n")
	if c.Agent.Socket != "/var/lib/dovetail/agent.sock" || c.Agent.WebEnabled() {
		t.Errorf("socket %s, web %q", c.Agent.Socket, c.Agent.Web)
	}
}

func TestExplicitZeroesKept(t *testing.T) {
	isolate(t)
	c := mustParse(t, minimal+"    max_delete: 0\n    enabled: false\n    bwlimit: 0\n")
	if task := c.Tasks[0]; task.MaxDelete != 0 || task.Enabled {
		t.Errorf("max_delete %d enabled %v: explicit values replaced by defaults", task.MaxDelete, task.Enabled)
	}
}

func TestHomeExpansion(t *testing.T) {
	home := isolate(t)
	c := mustParse(t, `version: 1
agent:
  state_dir: ~/state
connections:
  nas:
    type: sftp
    host: nas.lan
    key_file: ~/.ssh/id_ed25519
tasks:
  - name: docs
    local: ~/Documents
    remote: ~/backup
    state: ~/docs.db
`)
	task := c.Tasks[0]
	for name, got := range map[string]string{
		"local": task.Local, "remote": task.Remote, "state": task.State,
		"state_dir": c.Agent.StateDir, "key_file": c.Connections["nas"].Param("key_file"),
	} {
		if !strings.HasPrefix(got, home+"/") {
			t.Errorf("%s = %q, want it under %s", name, got, home)
		}
	}
	ps := problems(t, strings.Replace(minimal, "/home/a/Documents", "~bob/Documents", 1))
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "not ~user") || ps[0].Line != 4 {
		t.Errorf("~bob: %v", ps)
	}
}

func TestUnknownKeys(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{minimal + "    directon: upload\n", `dovetail.yaml:6: tasks[0]: unknown key "directon" (did you mean "direction"?)`},
		{minimal + "    bandwidth: 10M\n", `dovetail.yaml:6: tasks[0]: unknown key "bandwidth" (did you mean "bwlimit"?)`},
		{minimal + "    frobnicate: yes\n", `dovetail.yaml:6: tasks[0]: unknown key "frobnicate" (known keys: bwlimit, compare,`},
		{"verison: 1\n", `dovetail.yaml:1: unknown key "verison" (did you mean "version"?)`},
		{minimal + "agent:\n  loglevel: debug\n", `dovetail.yaml:7: agent: unknown key "loglevel" (did you mean "log_level"?)`},
		{minimal + "    windows:\n      - days: mon\n        form: \"22:00\"\n", `dovetail.yaml:8: tasks[0].windows[0]: unknown key "form" (did you mean "from"?)`},
		{minimal + "connections:\n  nas:\n    type: sftp\n    host: h\n    hots: x\n", `dovetail.yaml:10: connections.nas.hots: unknown key "hots" for a sftp connection (did you mean "host"?)`},
		{minimal + "connections:\n  nas:\n    type: s3\n    bucket: b\n    host: x\n", `connections.nas.host: unknown key "host" for a s3 connection (known keys: bucket, prefix, endpoint, region, path_style, rules)`},
	}
	for _, tc := range cases {
		ps := problems(t, tc.src)
		var all []string
		for _, p := range ps {
			all = append(all, p.String())
		}
		if !slices.ContainsFunc(all, func(s string) bool { return strings.Contains(s, tc.want) }) {
			t.Errorf("want a problem %q, got:\n%s", tc.want, strings.Join(all, "\n"))
		}
	}
}

// TestBadValues gives each field a bad value on line 7 and expects one
// problem naming the field and that line.
func TestBadValues(t *testing.T) {
	isolate(t)
	cases := []struct {
		line  string // the task key line (line 6), or "" for extra
		extra string // appended after the task, for multi-line cases
		field string
		want  string
	}{
		{"direction: sideways", "", "tasks[0].direction", `"sideways" is not one of two-way, upload, download`},
		{"direction: uplaod", "", "tasks[0].direction", `did you mean "upload"?`},
		{"conflict: keep-both", "", "tasks[0].conflict", "is not one of keep-local, keep-remote, keep-newer"},
		{"compare: size", "", "tasks[0].compare", "is not one of mtime, hash"},
		{"exclude: ['[abc']", "", "tasks[0].exclude[0]", "["},
		{"include: ['']", "", "tasks[0].include[0]", "empty pattern"},
		{"filter_from: /nonexistent/filters.txt", "", "tasks[0].filter_from", "no such file"},
		{"filter_from: rules.txt", "", "tasks[0].filter_from", "not an absolute path"},
		{"max_size: 12X", "", "tasks[0].max_size", `"12X" is not a size`},
		{"min_size: -5", "", "tasks[0].min_size", `"-5" is not a size`},
		{"min_size: 2G", "    max_size: 1G\n", "tasks[0].min_size", "larger than max_size 1G"},
		{"folders: [../outside]", "", "tasks[0].folders[0]", "leads outside the sync root"},
		{"folders: [/abs]", "", "tasks[0].folders[0]", "relative to both roots"},
		{"folders: [a, a/]", "", "tasks[0].folders[1]", "listed twice"},
		{"encode_names: maybe", "", "tasks[0].encode_names", `want true or false, got "maybe"`},
		{"max_delete: 150", "", "tasks[0].max_delete", "150 is not a percentage from 0 to 100"},
		{"max_delete: half", "", "tasks[0].max_delete", `"half" is not a percentage`},
		{"trash_days: 0", "", "tasks[0].trash_days", "from 1 to 36500"},
		{"workers: many", "", "tasks[0].workers", `want a whole number, got "many"`},
		{"workers: 0", "", "tasks[0].workers", "from 1 to 64"},
		{"bwlimit: fast", "", "tasks[0].bwlimit", `"fast" is not a size`},
		{"bwlimit: {rate: 1M}", "", "tasks[0].bwlimit", "want a rate such as 10M"},
		{"bwlimit: [{days: mon, rate: lots}]", "", "tasks[0].bwlimit[0].rate", `"lots" is not a size`},
		{"bwlimit: [{days: mon}]", "", "tasks[0].bwlimit[0]", "rate is missing"},
		{"poll: 5 minutes", "", "tasks[0].poll", `"5 minutes" is not a duration`},
		{"poll: 48h", "", "tasks[0].poll", "48h0m0s is not between 1s and 24h"},
		{"poll: 0s", "", "tasks[0].poll", "is not between 1s and 24h"},
		{"rescan: 10s", "", "tasks[0].rescan", "shorter than 1m"},
		{"schedule: every night", "", "tasks[0].schedule", `2 fields, want five fields "minute hour day-of-month month day-of-week"`},
		{"schedule: '61 * * * *'", "", "tasks[0].schedule", `minute "61": end of range (61) above maximum (59) (or "continuous")`},
		{"windows: [{days: funday}]", "", "tasks[0].windows[0].days", `"funday" is not a day of the week`},
		{"windows: [{from: '25:00', to: '06:00'}]", "", "tasks[0].windows[0].from", `"25:00" is not a time of day`},
		{"windows: [{from: '24:00', to: '06:00'}]", "", "tasks[0].windows[0]", "must open before 24:00"},
		{"windows: [{from: '22:00'}]", "", "tasks[0].windows[0]", "give both from and to"},
		{"windows: mon-fri", "", "tasks[0].windows", "want a list"},
		{"enabled: perhaps", "", "tasks[0].enabled", "want true or false"},
		{"state: relative.db", "", "tasks[0].state", "not an absolute path"},
		{"name: Docs!", "", "tasks[0].name", "lowercase letters"},
		{"local: [a, b]", "", "tasks[0].local", "want a single value, got a list"},
		{"remote: nas:/x", "", "tasks[0].remote", `no connection named "nas"`},
		{"remote: relative/dir", "", "tasks[0].remote", "is not CONNECTION:path, a URL"},
		{"remote: sftp://me:hunter2@host/x", "", "tasks[0].remote", "holds a password"},
		{"remote: /home/a/Documents/sub", "", "tasks[0].remote", "overlap"},
		{"direction: upload", "    direction: download\n", "tasks[0]", `key "direction" given twice (first at line 7)`},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			base := map[string]string{"name": "docs", "local": "/home/a/Documents", "remote": "/mnt/b"}
			key, _, _ := strings.Cut(tc.line, ":")
			lines := []string{"version: 1", "tasks:", "  -"}
			for _, k := range []string{"name", "local", "remote"} {
				if k == key {
					lines = append(lines, "    # "+k+" below") // keep the numbering
				} else {
					lines = append(lines, "    "+k+": "+base[k])
				}
			}
			lines = append(lines, "    "+tc.line) // line 7
			src := strings.Join(lines, "\n") + "\n" + tc.extra
			line := 7
			if tc.extra != "" && strings.Contains(tc.want, "given twice") {
				line = 8
			}
			ps := problems(t, src)
			if len(ps) != 1 {
				t.Fatalf("want 1 problem, got %d: %v\nin:\n%s", len(ps), ps, src)
			}
			p := ps[0]
			if p.Field != tc.field || p.Line != line || !strings.Contains(p.Msg, tc.want) {
				t.Errorf("got %s\nwant dovetail.yaml:%d: %s: ...%s...", p, line, tc.field, tc.want)
			}
			if !strings.HasPrefix(p.String(), fmt.Sprintf("dovetail.yaml:%d: %s: ", line, tc.field)) {
				t.Errorf("message %q does not start with file:line: field", p)
			}
		})
	}
}

func TestBadAgentAndConnections(t *testing.T) {
	isolate(t)
	cases := []struct {
		src, field, want string
	}{
		{"agent:\n  log_level: loud\n", "agent.log_level", `"loud" is not one of debug, info, warn, error`},
		{"agent:\n  log_format: xml\n", "agent.log_format", "is not one of text, json"},
		{"agent:\n  web: everywhere\n", "agent.web", "is not a listen address"},
		{"agent:\n  web: nas.lan:8645\n", "agent.web", "give the host as an IP address"},
		{"agent:\n  socket: agent.sock\n", "agent.socket", "not an absolute path"},
		{"connections:\n  nas:\n    host: h\n", "connections.nas", "type is missing"},
		{"connections:\n  nas:\n    type: ftp\n", "connections.nas.type", `unknown connection type "ftp"`},
		{"connections:\n  nas:\n    type: sftp\n", "connections.nas", "host is missing"},
		{"connections:\n  nas:\n    type: sftp\n    host: h\n    port: 99999\n", "connections.nas.port", "not a port number"},
		{"connections:\n  nas:\n    type: sftp\n    host: me@h\n", "connections.nas.host", "not a host name"},
		{"connections:\n  nas:\n    type: sftp\n    host: h\n    key_file: id_rsa\n", "connections.nas.key_file", "not an absolute path"},
		{"connections:\n  b:\n    type: s3\n    bucket: x\n    path_style: sure\n", "connections.b.path_style", "want true or false"},
		{"connections:\n  b:\n    type: s3\n    bucket: x\n    endpoint: localhost:9000\n", "connections.b.endpoint", "not an http:// or https:// URL"},
		{"connections:\n  d:\n    type: webdav\n    url: ftp://h/\n", "connections.d.url", "not an http:// or https:// URL"},
		{"connections:\n  d:\n    type: webdav\n    url: https://h/\n    rules: vax\n", "connections.d.rules", `unknown provider "vax"`},
		{"connections:\n  d:\n    type: local\n    path: rel\n", "connections.d.path", "not an absolute path"},
		{"connections:\n  Big:\n    type: local\n    path: /x\n", "connections.Big", "lowercase letters"},
		{"connections:\n  d:\n    type: local\n    path: [a]\n", "connections.d.path", "want a single value"},
		{"connections: [a]\n", "connections", "want a mapping"},
		{"version: 2\n", "version", "reads version 1; the file says 2"},
	}
	for _, tc := range cases {
		src := minimal + tc.src
		if strings.HasPrefix(tc.src, "version:") {
			src = strings.Replace(minimal, "version: 1\n", tc.src, 1)
		}
		ps := problems(t, src)
		if len(ps) != 1 || ps[0].Field != tc.field || !strings.Contains(ps[0].Msg, tc.want) || ps[0].Line == 0 {
			t.Errorf("%q: got %v, want one problem at %s with %q and a line", tc.src, ps, tc.field, tc.want)
		}
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	isolate(t)
	src := `tasks:
  - name: docs
    local: rel
    remote: nas:/a
    directon: up
    workers: many
  - name: docs
    local: /x
    remote: /y
    poll: 1y
`
	ps := problems(t, src)
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%d %s", p.Line, p.Field))
	}
	want := []string{"5 tasks[0]", "6 tasks[0].workers", "10 tasks[1].poll", "0 version", "3 tasks[0].local", "4 tasks[0].remote", "7 tasks[1].name"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing problem %q in %v", w, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d problems %v, want %d", len(got), got, len(want))
	}
	_, err := Parse("dovetail.yaml", []byte(src))
	if !strings.HasPrefix(err.Error(), "7 problems in the configuration:\n") {
		t.Errorf("error text: %v", err)
	}
}

func TestSyntaxError(t *testing.T) {
	ps := problems(t, "version: 1\ntasks:\n  - name: a\n   local: b\n")
	if len(ps) != 1 || ps[0].Line == 0 || !strings.Contains(ps[0].String(), "dovetail.yaml:") || !strings.Contains(ps[0].Msg, "YAML syntax") {
		t.Errorf("syntax error: %v", ps)
	}
}

func TestEmptyFileNeedsVersion(t *testing.T) {
	ps := problems(t, "")
	if len(ps) != 1 || ps[0].Field != "version" || !strings.Contains(ps[0].Msg, "version: 1") {
		t.Errorf("empty file: %v", ps)
	}
	c := mustParse(t, "version: 1\n")
	if len(c.Tasks) != 0 {
		t.Errorf("tasks from nowhere: %v", c.Tasks)
	}
}

func TestMergeKeys(t *testing.T) {
	isolate(t)
	c := mustParse(t, `version: 1
x-nightly: &nightly
  direction: upload
  schedule: "0 2 * * *"
  workers: 2
tasks:
  - <<: *nightly
    name: a
    local: /a
    remote: /b
    workers: 8
`)
	task := c.Tasks[0]
	if task.Direction != "upload" || task.Schedule.String() != "0 2 * * *" || task.Workers != 8 {
		t.Errorf("merged task: %+v", *task)
	}
}

func TestSecretInConfigRefused(t *testing.T) {
	isolate(t)
	for _, key := range []string{"password", "secret_access_key", "key_passphrase", "token", "access_key_id"} {
		src := minimal + "connections:\n  nas:\n    type: sftp\n    host: h\n    " + key + ": hunter2\n"
		_, err := Parse("/etc/dovetail/dovetail.yaml", []byte(src))
		if err == nil {
			t.Fatalf("%s accepted in the configuration", key)
		}
		msg := err.Error()
		for _, want := range []string{
			"/etc/dovetail/dovetail.yaml:10: connections.nas." + key + ": secrets do not belong in the configuration file",
			"/etc/dovetail/secrets.yaml (mode 0600)",
			`key "nas/` + key + `"`,
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message lacks %q:\n%s", key, want, msg)
			}
		}
		if strings.Contains(msg, "hunter2") {
			t.Errorf("the message shows the secret: %s", msg)
		}
	}
	ps := problems(t, minimal+"connections:\n  d:\n    type: webdav\n    url: https://me:hunter2@h/dav\n")
	if len(ps) != 1 || !strings.Contains(ps[0].Msg, "holds a password") || strings.Contains(ps[0].String(), "hunter2") {
		t.Errorf("password in a webdav url: %v", ps)
	}
}

func TestRemote(t *testing.T) {
	isolate(t)
	c := mustParse(t, `version: 1
connections:
  nas: {type: sftp, host: nas.lan, port: 2222, user: backup, key_file: /k/id, path: /volume1}
  bucket: {type: s3, bucket: b, prefix: p, endpoint: "http://127.0.0.1:7070", path_style: true}
  dav: {type: webdav, url: "https://cloud.example/remote.php/dav", user: me}
  disk: {type: local, path: /mnt/usb}
tasks:
  - {name: a, local: /l/a, remote: "nas:photos/2026"}
  - {name: b, local: /l/b, remote: "bucket:docs"}
  - {name: c, local: /l/c, remote: "dav:/Documents"}
  - {name: d, local: /l/d, remote: "disk:backup"}
  - {name: e, local: /l/e, remote: "sftp://me@h:22/x?key=/k"}
  - {name: f, local: /l/f, remote: /srv/f}
`)
	want := []struct {
		kind RemoteKind
		arg  string
		conn string
	}{
		{RemoteConnection, "sftp://backup@nas.lan:2222/volume1/photos/2026?key=%2Fk%2Fid", "nas"},
		{RemoteConnection, "s3://b/p/docs?endpoint=http%3A%2F%2F127.0.0.1%3A7070&path_style=true", "bucket"},
		{RemoteConnection, "webdav+https://me@cloud.example/remote.php/dav/Documents", "dav"},
		{RemoteConnection, "/mnt/usb/backup", "disk"},
		{RemoteURL, "sftp://me@h:22/x?key=/k", ""},
		{RemoteLocal, "/srv/f", ""},
	}
	for i, task := range c.Tasks {
		r, err := c.Remote(task)
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != want[i].kind || r.Arg != want[i].arg || r.ConnectionName != want[i].conn {
			t.Errorf("%s: got %+v, want %+v", task.Remote, r, want[i])
		}
		if r.Kind == RemoteConnection && r.Connection != c.Connections[r.ConnectionName] {
			t.Errorf("%s: wrong connection", task.Remote)
		}
	}
	if got := SecretNames("s3"); !slices.Equal(got, []string{"access_key_id", "secret_access_key", "session_token"}) {
		t.Errorf("SecretNames(s3) = %v", got)
	}
}

func TestExampleFile(t *testing.T) {
	home := isolate(t)
	c, err := Load("../../packaging/dovetail.example.yaml")
	if err != nil {
		t.Fatalf("the example configuration does not load:\n%v", err)
	}
	if len(c.Tasks) != 3 || len(c.Connections) != 3 {
		t.Fatalf("%d tasks, %d connections", len(c.Tasks), len(c.Connections))
	}
	docs := c.Task("documents")
	if docs == nil || docs.Local != filepath.Join(home, "Documents") || !docs.Schedule.Continuous() || docs.MaxSize != 2<<30 {
		t.Errorf("documents task: %+v", docs)
	}
	photos := c.Task("photos-backup")
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	monday := time.Date(2026, 6, 15, 10, 0, 0, 0, loc)
	if next := photos.Schedule.Cron().Next(monday); !next.Equal(time.Date(2026, 6, 15, 23, 30, 0, 0, loc)) {
		t.Errorf("photos next run after %s: %s", monday, next)
	}
	if photos.Windows.Allows(monday) || !photos.Windows.Allows(monday.Add(13*time.Hour)) || !photos.Windows.Allows(monday.AddDate(0, 0, 5)) {
		t.Errorf("photos windows %v: wrong on Monday 10:00, Monday 23:00 or Saturday 10:00", photos.Windows)
	}
	if got := photos.BWLimit.At(monday); got != 1<<20 {
		t.Errorf("bwlimit Monday 10:00 = %d, want 1M", got)
	}
	if got := photos.BWLimit.At(monday.Add(10 * time.Hour)); got != 0 {
		t.Errorf("bwlimit Monday 20:00 = %d, want unlimited", got)
	}
	if c.Task("projects-offsite").Enabled {
		t.Error("projects-offsite is enabled")
	}

	// Round trip: what Marshal writes reads back to the same settings.
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("marshalled.yaml", out)
	if err != nil {
		t.Fatalf("marshalled configuration does not parse: %v\n%s", err, out)
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(out) {
		t.Errorf("round trip changed the configuration:\n%s\n---\n%s", out, again)
	}
	for i := range c.Tasks {
		a, b := *c.Tasks[i], *back.Tasks[i]
		if a.Name != b.Name || a.BWLimit.String() != b.BWLimit.String() || a.Schedule.String() != b.Schedule.String() || len(a.Windows) != len(b.Windows) {
			t.Errorf("task %d changed: %+v -> %+v", i, a, b)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	isolate(t)
	t.Setenv("XDG_DATA_HOME", "/data")
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Tasks) != 1 {
		t.Fatalf("%d tasks", len(c.Tasks))
	}
	task := c.Tasks[0]
	if task.Local != "/data/dovetail/demo/local" || task.Remote != "/data/dovetail/demo/remote" || c.StatePath(task) != "/data/dovetail/demo/state.db" {
		t.Errorf("demo task %+v", *task)
	}
	if DefaultPath() != filepath.Join(os.Getenv("HOME"), ".config/dovetail/dovetail.yaml") {
		t.Errorf("DefaultPath() = %s", DefaultPath())
	}
	t.Setenv("XDG_CONFIG_HOME", "/cfg")
	if DefaultPath() != "/cfg/dovetail/dovetail.yaml" {
		t.Errorf("DefaultPath() = %s", DefaultPath())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "dovetail.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestValidateInCode(t *testing.T) {
	c := DefaultConfig()
	c.Tasks = append(c.Tasks, NewTask("demo", "/a", "/b"))
	c.Tasks[1].Direction = "up"
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 2 {
		t.Fatalf("Validate() = %v", err)
	}
	if got := ve.Problems[0].String(); got != `tasks[1].name: task name "demo" is already used by tasks[0]` {
		t.Errorf("problem without a file: %q", got)
	}
}

func TestFilterFromAndRules(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.filter")
	bad := filepath.Join(dir, "bad.filter")
	os.WriteFile(good, []byte("# comment\n- *.bak\n+ keep/\n"), 0o644)
	os.WriteFile(bad, []byte("- *.bak\n-nospace\n"), 0o644)
	c := mustParse(t, minimal+"    include: [keep.log]\n    exclude: ['*.log']\n    filter_from: "+good+"\n")
	rs, err := c.Tasks[0].Rules()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.String())
	}
	if want := []string{"+ keep.log", "- *.log", "- *.bak", "+ keep/"}; !slices.Equal(got, want) {
		t.Errorf("Rules() = %q, want %q", got, want)
	}
	ps := problems(t, minimal+"    filter_from: "+bad+"\n")
	if len(ps) != 1 || ps[0].Line != 6 || !strings.Contains(ps[0].Msg, bad+":2:") { // minimal has 5 lines
		t.Errorf("bad filter file: %v", ps)
	}
}

func TestSizeAndDuration(t *testing.T) {
	sizes := map[string]Size{"0": 0, "100": 100, "500K": 500 << 10, "100M": 100 << 20, "1.5G": 3 << 29, "2T": 2 << 40, "2GB": 2 << 30, "2GiB": 2 << 30, "10M/s": 10 << 20, "off": 0, "unlimited": 0}
	for in, want := range sizes {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "-1K", "1X", "ten"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
	for v, want := range map[Size]string{0: "0", 1536: "1536", 100 << 20: "100M", 1536 << 10: "1536K", 2 << 40: "2T"} {
		if v.String() != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(v), v.String(), want)
		}
	}
	var s Schedule
	if err := s.UnmarshalText([]byte("@daily")); err != nil || s.Continuous() || s.Cron().IsZero() {
		t.Errorf("@daily: %v %v", s, err)
	}
	if err := s.UnmarshalText([]byte("Continuous")); err != nil || !s.Continuous() {
		t.Errorf("continuous: %v %v", s, err)
	}
}

func TestWindowDaysForms(t *testing.T) {
	isolate(t)
	c := mustParse(t, minimal+`    windows:
      - {days: [mon, tue], from: "22:00", to: "06:00"}
      - {days: mon-fri, from: "12:00", to: "13:00"}
      - days: [sat, sun]
`)
	ws := c.Tasks[0].Windows
	want := schedule.Windows{
		{Days: 1<<time.Monday | 1<<time.Tuesday, From: 22 * 60, To: 6 * 60},
		{Days: 0b0111110, From: 12 * 60, To: 13 * 60},
		{Days: 1<<time.Saturday | 1<<time.Sunday},
	}
	if !slices.Equal(ws, want) {
		t.Errorf("windows = %v, want %v", ws, want)
	}
}

func TestAliasBomb(t *testing.T) {
	// Each level merges ten copies of the one before: 10^8 keys at the end.
	src := "version: 1\nx-a: &a {workers: 2}\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		src += "x-" + name + ": &" + name + " {<<: [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]}\n"
		prev = name
	}
	src += "tasks:\n  - <<: *i\n    name: a\n    local: /a\n    remote: /b\n"
	start := time.Now()
	ps := problems(t, src)
	if time.Since(start) > 10*time.Second || len(ps) != 1 || !strings.Contains(ps[0].Msg, "through aliases") {
		t.Errorf("after %s: %v", time.Since(start), ps)
	}
}
