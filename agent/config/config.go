package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/agent/schedule"
	"github.com/dovetail-sync/dovetail/rules"
	"gopkg.in/yaml.v3"
)

// Version is the configuration format this package reads.
const Version = 1

// DefaultWeb is the default listen address of the web UI: loopback only,
// on a port no common service uses (Syncthing, which NAS users often run
// too, has 8384).
const DefaultWeb = "127.0.0.1:8645"

// Config is a whole configuration file.
type Config struct {
	// Version is the format of the file; it must be 1.
	Version int `yaml:"version"`
	// Agent holds the agent's own settings.
	Agent Agent `yaml:"agent"`
	// Connections are the named storage connections tasks refer to as
	// "NAME:path".
	Connections map[string]*Connection `yaml:"connections"`
	// Tasks are the sync pairs the agent runs, in file order.
	Tasks []*Task `yaml:"tasks"`

	// File is the file the configuration was read from, "" if none.
	File string `yaml:"-"`
	// lines maps key paths ("tasks[0].direction") to their line in File.
	lines map[string]int
	// failed holds the key paths whose values could not be decoded, so
	// that validation does not report them missing as well.
	failed map[string]bool
}

// Agent is the agent's own settings.
type Agent struct {
	// Socket is the control socket the CLI, tray and web UI talk to
	// (default $XDG_RUNTIME_DIR/dovetail/agent.sock, or agent.sock in
	// StateDir when there is no runtime dir).
	Socket string `yaml:"socket"`
	// StateDir holds the tasks' state databases and the agent's files
	// (default $XDG_STATE_HOME/dovetail, ~/.local/state/dovetail).
	StateDir string `yaml:"state_dir"`
	// LogLevel is debug, info, warn or error (default info).
	LogLevel string `yaml:"log_level"`
	// LogFormat is text or json (default text).
	LogFormat string `yaml:"log_format"`
	// Web is the listen address of the web UI (default DefaultWeb);
	// "off" turns the web UI off.
	Web string `yaml:"web"`
}

// WebEnabled reports whether the web UI should listen.
func (a Agent) WebEnabled() bool { return !strings.EqualFold(a.Web, "off") }

// Task is one sync pair and how it runs.
type Task struct {
	// Name identifies the task in the CLI, the UI and logs: lowercase
	// letters, digits, '-' and '_'.
	Name string `yaml:"name"`
	// Local is the local folder, an absolute path.
	Local string `yaml:"local"`
	// Remote is "CONNECTION:path", a URL (sftp://, s3://, webdav+https://)
	// or an absolute local path. Use Config.Remote to resolve it.
	Remote string `yaml:"remote"`
	// Direction is two-way, upload or download.
	Direction string `yaml:"direction"`
	// Conflict is keep-local, keep-remote or keep-newer.
	Conflict string `yaml:"conflict"`
	// Compare is mtime (size and time) or hash (size and content hash).
	Compare string `yaml:"compare"`
	// Include and Exclude are filter patterns (docs/filters.md); see Rules
	// for the order they apply in.
	Include []string `yaml:"include,omitempty"`
	Exclude []string `yaml:"exclude,omitempty"`
	// FilterFrom is a filter file of "+ pattern" and "- pattern" lines.
	FilterFrom string `yaml:"filter_from,omitempty"`
	// NoDefaultIgnores syncs OS and editor junk too (.DS_Store, ...).
	NoDefaultIgnores bool `yaml:"no_default_ignores"`
	// MaxSize and MinSize leave out larger and smaller files (0: no limit).
	MaxSize Size `yaml:"max_size"`
	MinSize Size `yaml:"min_size"`
	// Folders restricts the sync to these folders (selective sync),
	// relative to both roots.
	Folders []string `yaml:"folders,omitempty"`
	// EncodeNames stores names the remote cannot hold under reversible
	// look-alike characters instead of skipping them.
	EncodeNames bool `yaml:"encode_names"`
	// MaxDelete refuses a run deleting more than this percentage of the
	// synced files on one side (default 50; 0 refuses any deletion, 100
	// turns the guard off).
	MaxDelete Percent `yaml:"max_delete"`
	// TrashDays is how long deleted and overwritten local files are kept
	// in the trash (default 30).
	TrashDays int `yaml:"trash_days"`
	// Workers is the number of files transferred at once (default 4).
	Workers int `yaml:"workers"`
	// BWLimit limits the task's transfer rate.
	BWLimit Bandwidth `yaml:"bwlimit"`
	// Poll is how often a remote that cannot be watched is listed for
	// changes (default 1m, at most 24h).
	Poll Duration `yaml:"poll"`
	// Rescan is how often both sides are listed in full as a safety net
	// (default 1h).
	Rescan Duration `yaml:"rescan"`
	// Schedule is continuous (the default) or a cron expression; a
	// scheduled task runs a full sync at those times only.
	Schedule Schedule `yaml:"schedule"`
	// Windows are the sync windows outside which no transfer starts;
	// none means any time.
	Windows schedule.Windows `yaml:"windows,omitempty"`
	// Enabled tasks run; disabled ones are listed only (default true).
	Enabled bool `yaml:"enabled"`
	// State is the task's state database (default
	// STATE_DIR/tasks/NAME.db).
	State string `yaml:"state,omitempty"`
}

// Task defaults.
const (
	DefaultDirection = "two-way"
	DefaultConflict  = "keep-local"
	DefaultCompare   = "mtime"
	DefaultMaxDelete = 50
	DefaultTrashDays = 30
	DefaultWorkers   = 4
	DefaultPoll      = Duration(time.Minute)
	DefaultRescan    = Duration(time.Hour)
)

// setDefaults fills a new task with the defaults; the decoder overwrites
// what the file sets.
func (t *Task) setDefaults() {
	*t = Task{
		Direction: DefaultDirection, Conflict: DefaultConflict, Compare: DefaultCompare,
		MaxDelete: DefaultMaxDelete, TrashDays: DefaultTrashDays, Workers: DefaultWorkers,
		Poll: DefaultPoll, Rescan: DefaultRescan, Enabled: true,
	}
}

// NewTask returns a task with every option at its default.
func NewTask(name, local, remote string) *Task {
	t := new(Task)
	t.setDefaults()
	t.Name, t.Local, t.Remote = name, local, remote
	return t
}

// Rules returns the task's filter rules in the order they apply: the
// include patterns, then the exclude patterns, then the rules of the
// filter_from file (which is read now). Includes come first so that
// "include: [keep.log]" with "exclude: ['*.log']" keeps keep.log; for full
// control of the order, put all rules in a filter_from file. Selective
// sync folders and the default ignores are added by the engine.
func (t *Task) Rules() ([]rules.Rule, error) {
	var out []rules.Rule
	for _, p := range t.Include {
		out = append(out, rules.Rule{Include: true, Pattern: p})
	}
	for _, p := range t.Exclude {
		out = append(out, rules.Rule{Pattern: p})
	}
	if t.FilterFrom != "" {
		f, err := os.Open(t.FilterFrom)
		if err != nil {
			return nil, fmt.Errorf("task %s: filter_from: %w", t.Name, err)
		}
		defer f.Close()
		rs, err := rules.ParseFilterFile(f, t.FilterFrom)
		if err != nil {
			return nil, fmt.Errorf("task %s: filter_from: %w", t.Name, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Task returns the task called name, or nil.
func (c *Config) Task(name string) *Task {
	for _, t := range c.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// StatePath returns the state database of task t.
func (c *Config) StatePath(t *Task) string {
	if t.State != "" {
		return t.State
	}
	return filepath.Join(c.Agent.StateDir, "tasks", t.Name+".db")
}

// DefaultPath returns where the agent looks for its configuration:
// $XDG_CONFIG_HOME/dovetail/dovetail.yaml (~/.config/dovetail/dovetail.yaml).
func DefaultPath() string {
	return filepath.Join(xdgDir("XDG_CONFIG_HOME", ".config"), "dovetail", "dovetail.yaml")
}

// SecretsPath returns the secrets file that belongs to the configuration
// file configPath: secrets.yaml in the same folder.
func SecretsPath(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), "secrets.yaml")
}

// DemoDir returns the folder of the demo pair, $XDG_DATA_HOME/dovetail/demo
// (~/.local/share/dovetail/demo), the same one `dovetail demo` uses.
func DemoDir() string {
	return filepath.Join(xdgDir("XDG_DATA_HOME", filepath.Join(".local", "share")), "dovetail", "demo")
}

// DefaultConfig is the configuration used when there is no file: one
// demo task between the folders local and remote of DemoDir, sharing the
// state file of `dovetail demo`. The folders are not created here.
func DefaultConfig() *Config {
	demo := DemoDir()
	t := NewTask("demo", filepath.Join(demo, "local"), filepath.Join(demo, "remote"))
	t.State = filepath.Join(demo, "state.db")
	c := &Config{Version: Version, Tasks: []*Task{t}, lines: map[string]int{}}
	c.Agent.setDefaults()
	return c
}

// setDefaults fills the agent settings the file left empty.
func (a *Agent) setDefaults() {
	if a.StateDir == "" {
		a.StateDir = filepath.Join(xdgDir("XDG_STATE_HOME", filepath.Join(".local", "state")), "dovetail")
	}
	if a.Socket == "" {
		if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && filepath.IsAbs(rt) {
			a.Socket = filepath.Join(rt, "dovetail", "agent.sock")
		} else {
			a.Socket = filepath.Join(a.StateDir, "agent.sock")
		}
	}
	if a.LogLevel == "" {
		a.LogLevel = "info"
	}
	if a.LogFormat == "" {
		a.LogFormat = "text"
	}
	if a.Web == "" {
		a.Web = DefaultWeb
	}
}

// xdgDir returns $env, or ~/fallback when it is unset or not absolute
// (as the XDG base directory specification says).
func xdgDir(env, fallback string) string {
	if d := os.Getenv(env); d != "" && filepath.IsAbs(d) {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, fallback)
}

// expandHome replaces a leading "~" or "~/" by the home folder. "~user"
// is left alone (and then fails the absolute-path check).
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// Load reads and validates the configuration file at path. A file that
// does not exist is an error wrapping fs.ErrNotExist, so that the caller
// can fall back to DefaultConfig.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a configuration; name is the file name
// used in messages. The error, if any, is a *ValidationError listing every
// problem found. Defaults are filled in and "~" expanded in the returned
// Config.
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{File: name, lines: map[string]int{}}
	c.failed = map[string]bool{}
	d := &decoder{file: name, lines: c.lines, failed: c.failed}
	if !d.parse(data, c) || d.exploded {
		return nil, newValidationError(d.problems)
	}
	c.normalize()
	problems := append(d.problems, c.validate()...)
	if len(problems) > 0 {
		return nil, newValidationError(problems)
	}
	return c, nil
}

// normalize expands "~" in paths and fills the agent's defaults.
func (c *Config) normalize() {
	c.Agent.Socket = expandHome(c.Agent.Socket)
	c.Agent.StateDir = expandHome(c.Agent.StateDir)
	c.Agent.setDefaults()
	for _, conn := range c.Connections {
		if conn == nil {
			continue
		}
		for k, v := range conn.Params {
			if pathParams[k] {
				conn.Params[k] = expandHome(v)
			}
		}
	}
	for _, t := range c.Tasks {
		if t == nil {
			continue
		}
		t.Local = expandHome(t.Local)
		t.FilterFrom = expandHome(t.FilterFrom)
		t.State = expandHome(t.State)
		if strings.HasPrefix(t.Remote, "~") {
			t.Remote = expandHome(t.Remote)
		}
	}
}

// errNoVersion is reported for a file without "version:".
var errNoVersion = errors.New("missing: add \"version: 1\" at the top of the file")

// Marshal writes c as YAML that Parse reads back to the same settings,
// with defaults written out. Comments of the original file are not kept.
func (c *Config) Marshal() ([]byte, error) {
	return yaml.Marshal(c)
}
