package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/rules"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	File  string // the configuration file, "" if none
	Line  int    // 0 if not known
	Field string // the key path, such as "tasks[0].direction"
	Msg   string
}

// String gives the problem as "FILE:LINE: FIELD: message", leaving out
// the parts that are not known.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// ValidationError lists every problem found in a configuration, in file
// order.
type ValidationError struct {
	Problems []Problem
}

func newValidationError(ps []Problem) *ValidationError {
	// Problems without a line (a missing key) come first.
	slices.SortStableFunc(ps, func(a, b Problem) int { return a.Line - b.Line })
	return &ValidationError{Problems: ps}
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems in the configuration:\n", len(lines)) + strings.Join(lines, "\n")
}

// validator collects problems, finding the line of each key path.
type validator struct {
	c        *Config
	problems []Problem
}

func (v *validator) add(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.c.File, Line: v.c.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of key path p, or of the nearest enclosing key
// whose line is known.
func (c *Config) line(p string) int {
	for p != "" {
		if l, ok := c.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// has reports whether the file set key path p.
func (c *Config) has(p string) bool {
	_, ok := c.lines[p]
	return ok
}

// Validate checks the whole configuration and returns a *ValidationError
// listing every problem, or nil. Parse and Load call it; call it again
// after changing a Config in code.
func (c *Config) Validate() error {
	if ps := c.validate(); len(ps) > 0 {
		return newValidationError(ps)
	}
	return nil
}

var (
	directions = []string{"two-way", "upload", "download"}
	conflicts  = []string{"keep-local", "keep-remote", "keep-newer"}
	compares   = []string{"mtime", "hash"}
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

func (c *Config) validate() []Problem {
	v := &validator{c: c}
	switch {
	case c.Version == 0 && !c.has("version"):
		v.add("version", "%v", errNoVersion)
	case c.Version != Version:
		v.add("version", "this Dovetail reads version %d; the file says %d", Version, c.Version)
	}
	c.Agent.validate(v)
	secretsFile := "secrets.yaml next to the configuration file"
	if c.File != "" {
		secretsFile = SecretsPath(c.File)
	}
	for _, name := range sortedKeys(c.Connections) {
		if conn := c.Connections[name]; conn == nil {
			v.add("connections."+name, "empty connection: give at least its type")
		} else {
			conn.validate(v, name, secretsFile)
		}
	}
	names := map[string]int{}
	for i, t := range c.Tasks {
		p := fmt.Sprintf("tasks[%d]", i)
		if t == nil {
			v.add(p, "empty task")
			continue
		}
		if t.Name != "" {
			if j, dup := names[t.Name]; dup {
				v.add(p+".name", "task name %q is already used by tasks[%d]", t.Name, j)
			} else {
				names[t.Name] = i
			}
		}
		c.validateTask(v, p, t)
	}
	return v.problems
}

func oneOf(v *validator, field, val string, allowed []string) {
	if !slices.Contains(allowed, val) {
		msg := fmt.Sprintf("%q is not one of %s", val, strings.Join(allowed, ", "))
		if s := suggest(val, allowed); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		v.add(field, "%s", msg)
	}
}

func absPath(v *validator, field, val string) {
	switch {
	case strings.HasPrefix(val, "~") && !strings.HasPrefix(val, "~/") && val != "~":
		v.add(field, "%q: only ~ and ~/ are expanded, not ~user", val)
	case !filepath.IsAbs(expandHome(val)):
		v.add(field, "%q is not an absolute path (a relative path would depend on the agent's working folder)", val)
	}
}

func (a *Agent) validate(v *validator) {
	absPath(v, "agent.socket", a.Socket)
	absPath(v, "agent.state_dir", a.StateDir)
	oneOf(v, "agent.log_level", a.LogLevel, logLevels)
	oneOf(v, "agent.log_format", a.LogFormat, logFormats)
	if a.WebEnabled() {
		host, port, err := net.SplitHostPort(a.Web)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil || n < 1 || n > 65535 {
			v.add("agent.web", "%q is not a listen address HOST:PORT such as %s (or off)", a.Web, DefaultWeb)
		} else if host != "" && host != "localhost" && net.ParseIP(host) == nil {
			v.add("agent.web", "%q: give the host as an IP address (127.0.0.1 for this machine only, 0.0.0.0 for every interface)", a.Web)
		}
	}
}

func (c *Config) validateTask(v *validator, p string, t *Task) {
	switch {
	case c.failed[p+".name"]:
	case t.Name == "" && !c.has(p+".name"):
		v.add(p, "name is missing")
	case !nameRE.MatchString(t.Name):
		v.add(p+".name", "%q: %s", t.Name, nameRule)
	}
	switch {
	case c.failed[p+".local"]:
	case t.Local != "" || c.has(p+".local"):
		absPath(v, p+".local", t.Local)
	default:
		v.add(p, "local is missing (the local folder, an absolute path)")
	}
	remote, err := c.Remote(t)
	switch {
	case err == nil, c.failed[p+".remote"]:
	case c.has(p + ".remote"):
		v.add(p+".remote", "%v", err)
	default:
		v.add(p, "%v", err)
	}
	if err == nil && filepath.IsAbs(remote.Arg) && t.Local != "" {
		if overlaps(expandHome(t.Local), remote.Arg) {
			v.add(p+".remote", "%s and local %s overlap: one is inside the other", remote.Arg, t.Local)
		}
	}
	oneOf(v, p+".direction", t.Direction, directions)
	oneOf(v, p+".conflict", t.Conflict, conflicts)
	oneOf(v, p+".compare", t.Compare, compares)
	for i, pat := range t.Include {
		checkPattern(v, fmt.Sprintf("%s.include[%d]", p, i), rules.Rule{Include: true, Pattern: pat})
	}
	for i, pat := range t.Exclude {
		checkPattern(v, fmt.Sprintf("%s.exclude[%d]", p, i), rules.Rule{Pattern: pat})
	}
	if t.FilterFrom != "" && !filepath.IsAbs(t.FilterFrom) {
		absPath(v, p+".filter_from", t.FilterFrom)
	} else if t.FilterFrom != "" {
		if f, err := os.Open(t.FilterFrom); err != nil {
			v.add(p+".filter_from", "%v", err)
		} else {
			if _, err := rules.ParseFilterFile(f, t.FilterFrom); err != nil {
				v.add(p+".filter_from", "%v", err)
			}
			f.Close()
		}
	}
	if t.MaxSize < 0 {
		v.add(p+".max_size", "must not be negative")
	}
	if t.MinSize < 0 {
		v.add(p+".min_size", "must not be negative")
	}
	if t.MaxSize > 0 && t.MinSize > t.MaxSize {
		v.add(p+".min_size", "%s is larger than max_size %s: no file could be synced", t.MinSize, t.MaxSize)
	}
	seen := map[string]bool{}
	for i, f := range t.Folders {
		fp := fmt.Sprintf("%s.folders[%d]", p, i)
		clean := filepath.ToSlash(filepath.Clean(f))
		switch {
		case strings.TrimSpace(f) == "":
			v.add(fp, "empty folder name")
		case filepath.IsAbs(f):
			v.add(fp, "%q: give the folder relative to both roots, such as Photos/2026", f)
		case clean == ".." || strings.HasPrefix(clean, "../"):
			v.add(fp, "%q leads outside the sync root", f)
		case seen[clean]:
			v.add(fp, "%q is listed twice", f)
		}
		seen[clean] = true
	}
	if t.MaxDelete < 0 || t.MaxDelete > 100 {
		v.add(p+".max_delete", "%d is not a percentage from 0 to 100", t.MaxDelete)
	}
	if t.TrashDays < 1 || t.TrashDays > 36500 {
		v.add(p+".trash_days", "%d is not a number of days from 1 to 36500", t.TrashDays)
	}
	if t.Workers < 1 || t.Workers > 64 {
		v.add(p+".workers", "%d is not a number of workers from 1 to 64", t.Workers)
	}
	if t.Poll.D() < time.Second || t.Poll.D() > 24*time.Hour {
		v.add(p+".poll", "%s is not between 1s and 24h", t.Poll)
	}
	if t.Rescan.D() < time.Minute {
		v.add(p+".rescan", "%s is shorter than 1m: a full listing that often would never let the remote rest", t.Rescan)
	}
	if t.BWLimit.Rate < 0 {
		v.add(p+".bwlimit", "must not be negative")
	}
	for i, s := range t.BWLimit.Slots {
		sp := fmt.Sprintf("%s.bwlimit[%d]", p, i)
		c.checkWindow(v, sp, s.Window())
		if s.Rate < 0 {
			v.add(sp+".rate", "must not be negative")
		}
		if !c.has(sp+".rate") && c.has(sp) {
			v.add(sp, "rate is missing (bytes per second, such as 1M, or off)")
		}
	}
	for i, w := range t.Windows {
		c.checkWindow(v, fmt.Sprintf("%s.windows[%d]", p, i), w)
	}
	if t.State != "" {
		absPath(v, p+".state", t.State)
	}
}

// checkWindow checks a sync window or a bandwidth slot's window.
func (c *Config) checkWindow(v *validator, p string, w interface{ Validate() error }) {
	if err := w.Validate(); err != nil {
		v.add(p, "%v", err)
	}
	if c.has(p+".from") != c.has(p+".to") {
		v.add(p, "give both from and to (or neither, for whole days)")
	}
}

func checkPattern(v *validator, field string, r rules.Rule) {
	if v.c.failed[field] {
		return
	}
	if strings.TrimSpace(r.Pattern) == "" {
		v.add(field, "empty pattern")
		return
	}
	if _, err := rules.NewFilter([]rules.Rule{r}); err != nil {
		v.add(field, "%v", err)
	}
}

// overlaps reports whether one of the folders a and b is inside the other.
func overlaps(a, b string) bool {
	within := func(p, dir string) bool {
		rel, err := filepath.Rel(dir, p)
		return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
	}
	return within(a, b) || within(b, a)
}
