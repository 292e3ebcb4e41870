package rules

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Rule is one line of a filter: a pattern and whether a path it matches is
// included or excluded. The pattern language is described in
// docs/filters.md.
type Rule struct {
	Include bool
	Pattern string
}

// String gives the rule in filter-file syntax, "+ pat" or "- pat".
func (r Rule) String() string {
	if r.Include {
		return "+ " + r.Pattern
	}
	return "- " + r.Pattern
}

// ParseRule parses one rule: "+ PATTERN" includes, "- PATTERN" excludes, and
// a bare PATTERN excludes. Blanks after the sign are skipped; trailing blanks
// are dropped unless escaped ("a\ "). A rule starting with '+' or '-' but no
// blank after it is an error rather than a guess: write "- -name" to exclude
// a name that starts with '-'. ParseRule knows nothing of comments;
// ParseFilterFile skips them. The pattern is compiled, so a bad pattern is
// reported here.
func ParseRule(line string) (Rule, error) {
	s := trimRightBlanks(strings.TrimLeft(line, " \t"))
	if s == "" {
		return Rule{}, errors.New("empty rule")
	}
	var r Rule
	switch s[0] {
	case '+', '-':
		r.Include = s[0] == '+'
		if len(s) == 1 {
			return Rule{}, fmt.Errorf("rule %q has no pattern", line)
		}
		if s[1] != ' ' && s[1] != '\t' {
			return Rule{}, fmt.Errorf("rule %q: put a blank after %q (write \"- %s\" to exclude a name starting with %q)", line, s[0], s, s[0])
		}
		r.Pattern = strings.TrimLeft(s[2:], " \t")
	default:
		r.Pattern = s
	}
	if _, err := compilePattern(r.Pattern); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// trimRightBlanks drops trailing spaces, tabs and CRs, keeping one that a
// backslash escapes.
func trimRightBlanks(s string) string {
	t := strings.TrimRight(s, " \t\r")
	if len(t) < len(s) && escapedAt(s, len(t)) {
		t = s[:len(t)+1]
	}
	return t
}

// ParseError is a problem in a filter file, at a line.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Unwrap gives the problem itself.
func (e *ParseError) Unwrap() error { return e.Err }

// ParseFilterFile reads rules, one per line, in order: "+ pat", "- pat" or a
// bare pattern (an exclude). Blank lines and lines whose first non-blank
// character is '#' or ';' are skipped. name is used in errors only; a bad
// line is a *ParseError naming the file and the line number. All lines are
// checked, and the first error is returned.
func ParseFilterFile(r io.Reader, name string) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	var first error
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF") // a byte-order mark some editors write
		}
		t := strings.Trim(line, " \t\r") // the blanks ParseRule trims
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		rule, err := ParseRule(line)
		if err != nil {
			if first == nil {
				first = &ParseError{File: name, Line: n, Err: err}
			}
			continue
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read filter file %s after line %d: %w", name, n, err)
	}
	if first != nil {
		return nil, first
	}
	return rules, nil
}

// Filter decides, for one path at a time, whether it is excluded. It is
// immutable once built and safe for concurrent use.
type Filter struct {
	rules  []Rule
	groups []group
	// onlyMode: a file that matches no rule is excluded (see NewFilter).
	onlyMode bool
}

// group is a run of consecutive rules with the same action. Within a run
// the order does not matter (the first match and any other match decide the
// same), so plain names are looked up in a map instead of one by one.
type group struct {
	include bool
	names   map[string]uint8 // name -> matchFile|matchDir
	pats    []*pattern
}

const (
	matchFile uint8 = 1 << iota
	matchDir
)

// NewFilter compiles rules. A bad pattern is an error naming it.
//
// The first rule that matches a path decides. A path that matches no rule
// is included, except in "only" mode: when the list has an include rule
// that is not an exception, a FILE that matches no rule is excluded (so
// "+ *.jpg" alone means "only jpgs"), while a folder that matches no rule is
// still included so that the files inside it are looked at.
//
// An include rule is an exception, and does not switch "only" mode on, when
// it re-includes something that a later exclude rule would exclude: a later
// exclude rule has the very same pattern, or the fixed place the include
// names (its text before the first wildcard: "Videos/keep" in
// "/Videos/keep/**", "desktop.ini" in "desktop.ini"), or a folder above that
// place, is excluded by the rules after it. This is what lets
// "+ desktop.ini" opt one default ignore back in, and "+ /Videos/keep/"
// before "- /Videos/*" keep one folder, without excluding every other file.
func NewFilter(rules []Rule) (*Filter, error) {
	f := &Filter{rules: append([]Rule(nil), rules...)}
	pats := make([]*pattern, len(rules))
	for i, r := range rules {
		p, err := compilePattern(r.Pattern)
		if err != nil {
			return nil, err
		}
		pats[i] = p
	}
	for i, r := range rules {
		if len(f.groups) == 0 || f.groups[len(f.groups)-1].include != r.Include {
			f.groups = append(f.groups, group{include: r.Include})
		}
		g := &f.groups[len(f.groups)-1]
		p := pats[i]
		if p.mode == modeName && p.fast == fastLiteral {
			if g.names == nil {
				g.names = make(map[string]uint8)
			}
			m := matchDir
			if !p.dirOnly {
				m |= matchFile
			}
			g.names[p.lit] |= m
			continue
		}
		g.pats = append(g.pats, p)
	}
	for i, r := range rules {
		if r.Include && !isException(rules, pats, i) {
			f.onlyMode = true
			break
		}
	}
	return f, nil
}

// isException reports whether include rule i re-includes something a later
// exclude rule would exclude (see NewFilter).
func isException(rules []Rule, pats []*pattern, i int) bool {
	for j := i + 1; j < len(rules); j++ {
		if !rules[j].Include && rules[j].Pattern == rules[i].Pattern {
			return true
		}
	}
	path, dir, exact, ok := pats[i].fixedPrefix()
	if !ok {
		return false
	}
	laterExcludes := func(p string, d bool) bool {
		for j := i + 1; j < len(rules); j++ {
			if pats[j].match(p, d) {
				return !rules[j].Include
			}
		}
		return false
	}
	for a := parentDir(path); a != ""; a = parentDir(a) {
		if laterExcludes(a, true) {
			return true
		}
	}
	if laterExcludes(path, dir) {
		return true
	}
	return exact && !dir && laterExcludes(path, true)
}

// Rules returns the rules the filter was built from, in order.
func (f *Filter) Rules() []Rule { return append([]Rule(nil), f.rules...) }

// Excluded reports whether the rules exclude path (relative, slash-separated,
// no leading slash; a folder when dir is set). It judges path alone: that a
// folder above it is excluded is the Tracker's business. The root ("") is
// never excluded.
func (f *Filter) Excluded(path string, dir bool) bool {
	if path == "" {
		return false
	}
	bit := matchFile
	if dir {
		bit = matchDir
	}
	name := baseName(path)
	for gi := range f.groups {
		g := &f.groups[gi]
		if g.names != nil && g.names[name]&bit != 0 {
			return !g.include
		}
		for _, p := range g.pats {
			if p.match(path, dir) {
				return !g.include
			}
		}
	}
	return f.onlyMode && !dir
}

// Tracker answers "is this path excluded, by its own rule or because a
// folder above it is excluded" for a caller walking a tree, with O(1) map
// work per path. It remembers every folder it has judged. Paths may come in
// any order; a folder normally comes before its contents, and when it has
// not, its ancestors are judged (and remembered) first. A Tracker is not
// safe for concurrent use; make one per walk.
type Tracker struct {
	f    *Filter
	dirs map[string]bool // folder -> excluded
}

// NewTracker starts a walk.
func (f *Filter) NewTracker() *Tracker {
	return &Tracker{f: f, dirs: make(map[string]bool)}
}

// Excluded reports whether path is excluded by a rule or lies below an
// excluded folder.
func (t *Tracker) Excluded(path string, dir bool) bool {
	if path == "" {
		return false
	}
	if parent := parentDir(path); parent != "" {
		ex, seen := t.dirs[parent]
		if !seen {
			ex = t.Excluded(parent, true)
		}
		if ex {
			if dir {
				t.dirs[path] = true
			}
			return true
		}
	}
	ex := t.f.Excluded(path, dir)
	if dir {
		t.dirs[path] = ex
	}
	return ex
}
