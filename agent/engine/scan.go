package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/rules"
)

// IgnoreFile is the name of the optional filter file at the local root.
// It uses the --filter-from format and adds to the rules given on the
// command line or in the task's configuration.
const IgnoreFile = ".dovetailignore"

// listing is one side's scan: entries keyed by the NFC form of their path
// (so that an NFD name written by macOS and its NFC twin are one file), the
// actual names where they differ, and the paths that could not be listed.
type listing struct {
	entries  map[string]connectors.Entry
	names    map[string]string
	problems []Problem
	// unlisted holds keys of paths that could not be listed: they are kept
	// out of the plan so that they do not look deleted.
	unlisted []string
	// holdsExcluded marks folders with excluded entries inside: deleting
	// such a folder would delete what the filters promise to leave alone.
	holdsExcluded map[string]bool
}

func newListing(hint int) *listing {
	return &listing{entries: make(map[string]connectors.Entry, hint), names: map[string]string{}, holdsExcluded: map[string]bool{}}
}

// excluded notes that k was filtered out, so its folders are not empty.
func (l *listing) excluded(k string) {
	for d := connectors.Parent(k); !l.holdsExcluded[d]; d = connectors.Parent(d) {
		l.holdsExcluded[d] = true
		if d == "" {
			return
		}
	}
}

// key returns the NFC form of path, cheaply for ASCII.
func key(path string) string {
	for i := 0; i < len(path); i++ {
		if path[i] >= utf8.RuneSelf {
			return norm.NFC.String(path)
		}
	}
	return path
}

// filter builds the run's filter: the user's rules, the local root's
// .dovetailignore, the selected folders, and the default ignores.
func (p *Pair) filter(ctx context.Context) (*rules.Filter, error) {
	user := slices.Clone(p.Rules)
	r, err := p.Local.Open(ctx, IgnoreFile, 0, -1)
	switch {
	case err == nil:
		data, rerr := io.ReadAll(io.LimitReader(r, 1<<20))
		r.Close()
		if rerr != nil {
			return nil, fmt.Errorf("read %s: %w", IgnoreFile, rerr)
		}
		rs, perr := rules.ParseFilterFile(strings.NewReader(string(data)), IgnoreFile)
		if perr != nil {
			return nil, perr
		}
		user = append(user, rs...)
	case !connectors.IsNotFound(err):
		return nil, fmt.Errorf("read %s: %w", IgnoreFile, err)
	}
	user = append(user, FolderRules(p.Folders)...)
	return rules.Build(user, p.NoDefaultIgnores)
}

// FolderRules turns a selective-sync folder list into filter rules: each
// folder (and the folders holding it) is synced, nothing else is.
func FolderRules(folders []string) []rules.Rule {
	if len(folders) == 0 {
		return nil
	}
	var out []rules.Rule
	seen := map[string]bool{}
	for _, f := range folders {
		f = strings.Trim(f, "/")
		if f == "" {
			return nil // the root: everything
		}
		for d := connectors.Parent(f); d != ""; d = connectors.Parent(d) {
			if !seen[d] {
				seen[d] = true
				out = append(out, rules.Rule{Include: true, Pattern: "/" + escapeGlob(d) + "/"})
			}
		}
		out = append(out, rules.Rule{Include: true, Pattern: "/" + escapeGlob(f) + "/"},
			rules.Rule{Include: true, Pattern: "/" + escapeGlob(f) + "/**"})
	}
	return append(out, rules.Rule{Pattern: "*"})
}

func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ruleSets resolves each side's provider rules.
func (p *Pair) ruleSets() ([2]*rules.RuleSet, error) {
	out := p.RuleSets
	for s, c := range [2]connectors.Connector{p.Local, p.Remote} {
		if out[s] != nil {
			continue
		}
		if name := c.Features().Rules; name != "" {
			rs, err := rules.Lookup(name)
			if err != nil {
				return out, fmt.Errorf("%s side: %w", reconcile.Side(s), err)
			}
			out[s] = rs
		}
	}
	return out, nil
}

// scan lists one side, dropping excluded paths and refusing unsafe names.
func (p *Pair) scan(ctx context.Context, c connectors.Connector, side reconcile.Side, filter *rules.Filter, hint int) (*listing, error) {
	l := newListing(hint)
	tr := filter.NewTracker()
	if err := l.walk(ctx, c, side, tr, ""); err != nil {
		return nil, err
	}
	return l, nil
}

// walk adds everything below dir on c to l.
func (l *listing) walk(ctx context.Context, c connectors.Connector, side reconcile.Side, tr *rules.Tracker, dir string) error {
	return c.Walk(ctx, dir, func(e connectors.Entry) error { return l.add(e, side, tr) },
		func(path string, err error) { l.problem(path, err, side, tr) })
}

// add records one listed entry; it returns SkipDir for a folder whose
// contents are not to be listed.
func (l *listing) add(e connectors.Entry, side reconcile.Side, tr *rules.Tracker) error {
	if err := connectors.ValidPath(e.Path); err != nil {
		l.problems = append(l.problems, Problem{Side: side, Path: e.Path, Rule: "unsafe-name",
			Err: fmt.Errorf("unsafe name refused (%v); rename it on the %s side", err, side)})
		if e.IsDir() {
			return connectors.SkipDir
		}
		return nil
	}
	k := key(e.Path)
	if tr.Excluded(k, e.IsDir()) {
		l.excluded(k)
		if e.IsDir() {
			return connectors.SkipDir
		}
		return nil
	}
	if prev, dup := l.entries[k]; dup {
		// Two names that are one under Unicode normalization: keep the
		// one already in NFC, report the other, touch neither.
		other := e
		if prev.Path != k && e.Path == k {
			other = prev
			l.entries[k] = e
			delete(l.names, k)
		}
		l.problems = append(l.problems, Problem{Side: side, Path: other.Path, Rule: "normalization-conflict",
			Err: fmt.Errorf("same name as %q once Unicode-normalized (NFC/NFD twins); only one can be synced: rename or remove one", l.entries[k].Path)})
		if other.IsDir() && other.Path == e.Path {
			return connectors.SkipDir
		}
		return nil
	}
	if k != e.Path {
		l.names[k] = e.Path
	}
	l.entries[k] = e
	return nil
}

// problem records a path that could not be listed: it is kept out of the
// plan so that it does not look deleted.
func (l *listing) problem(path string, err error, side reconcile.Side, tr *rules.Tracker) {
	k := key(path)
	if tr.Excluded(k, false) {
		return
	}
	l.problems = append(l.problems, Problem{Side: side, Path: path, Err: err,
		Skipped: connectors.KindOf(err) == connectors.Unimplemented})
	l.unlisted = append(l.unlisted, k)
}

// check applies what the listings alone cannot: paths the other side's
// provider cannot store, names that collide there (case), and the size
// filter. It returns the keys to keep out of the plan: such a path is
// neither copied nor deleted on either side.
func (p *Pair) check(lists [2]*listing, base map[string]reconcile.Base, rs [2]*rules.RuleSet, rep *Report) map[string]bool {
	drop := map[string]bool{}
	for s := range lists {
		for _, k := range lists[s].unlisted {
			drop[k] = true
		}
	}
	for s, l := range lists {
		side := reconcile.Side(s)
		dst := rs[side.Other()]
		for k, e := range l.entries {
			if !e.IsDir() && ((p.MaxSize > 0 && e.Size > p.MaxSize) || (p.MinSize > 0 && e.Size < p.MinSize)) {
				drop[k] = true // filtered by size: like an exclude, on both sides
				continue
			}
			if dst == nil {
				continue
			}
			stored := k
			if p.EncodeNames && side == reconcile.Local {
				stored = dst.EncodePath(k)
			}
			if v := dst.Check(stored, e.IsDir(), e.Size); v != nil {
				if !drop[k] {
					rep.Problems = append(rep.Problems, Problem{Side: side, Path: e.Path, Rule: v.Rule, Err: violationError{v}})
				}
				drop[k] = true
			}
		}
		if dst != nil && dst.CaseInsensitive {
			p.caseConflicts(l, side, lists[side.Other()], base, dst, drop, rep)
		}
	}
	return drop
}

// caseConflicts finds names on side s that differ only in case, which the
// other side (case-insensitive) cannot hold apart. One of each group syncs
// (the one already synced, or present on the other side, or the first in
// order); the others are reported and left alone.
func (p *Pair) caseConflicts(l *listing, side reconcile.Side, other *listing, base map[string]reconcile.Base, dst *rules.RuleSet, drop map[string]bool, rep *Report) {
	groups := map[string][]string{}
	for k := range l.entries {
		fk := dst.FoldKey(k)
		groups[fk] = append(groups[fk], k)
	}
	for _, ks := range groups {
		if len(ks) < 2 {
			continue
		}
		slices.SortFunc(ks, func(a, b string) int {
			return rank(a, base, other) - rank(b, base, other)
		})
		keep := ks[0]
		for _, k := range ks[1:] {
			if drop[k] {
				continue
			}
			drop[k] = true
			rep.Problems = append(rep.Problems, Problem{Side: side, Path: l.entries[k].Path, Rule: "case-conflict",
				Err: fmt.Errorf("differs from %q only in case, and %s cannot store both: rename one", l.entries[keep].Path, dst.Title)})
		}
	}
}

// rank orders case twins: synced before, then present on the other side,
// then by name.
func rank(k string, base map[string]reconcile.Base, other *listing) int {
	if _, ok := base[k]; ok {
		return 0
	}
	if _, ok := other.entries[k]; ok {
		return 1
	}
	return 2
}

// keepFolders removes planned deletions of folders that hold excluded
// entries on that side: the folder stays, with what the filters protect,
// and is reported as kept rather than failing on every run.
func keepFolders(plan *reconcile.Plan, lists [2]*listing, rep *Report) {
	plan.Actions = slices.DeleteFunc(plan.Actions, func(a reconcile.Action) bool {
		if a.Op != reconcile.OpDelete || !a.Dir || !lists[a.Side].holdsExcluded[a.Path] {
			return false
		}
		rep.Problems = append(rep.Problems, Problem{Side: a.Side, Path: a.Path, Rule: "folder-kept", Skipped: true,
			Err: fmt.Errorf("folder kept on the %s side: it holds files excluded from sync (such as .DS_Store); delete them there if you want the folder gone", a.Side)})
		return true
	})
}

// violationError presents a provider rule violation with what to do.
type violationError struct{ v *rules.Violation }

func (e violationError) Error() string {
	if e.v.Hint == "" {
		return e.v.Message
	}
	return e.v.Message + "; " + e.v.Hint
}

// dropPaths takes the given keys (and everything below them) out of the
// plan on both sides.
func dropPaths(in *reconcile.Input, drop map[string]bool) {
	if len(drop) == 0 {
		return
	}
	hit := func(path string) bool {
		for q := path; ; q = connectors.Parent(q) {
			if drop[q] {
				return true
			}
			if q == "" {
				return false
			}
		}
	}
	for path := range in.Base {
		if hit(path) {
			delete(in.Base, path)
		}
	}
	for _, m := range []map[string]connectors.Entry{in.Local, in.Remote} {
		for path := range m {
			if hit(path) {
				delete(m, path)
			}
		}
	}
}

// IsViolation reports whether a problem is a provider rule violation.
func IsViolation(err error) bool {
	var v violationError
	return errors.As(err, &v)
}
