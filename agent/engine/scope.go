package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/agent/transfer"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/rules"
	"github.com/dovetail-sync/dovetail/statedb"
)

// Scope is a part of the tree a run covers: Path, and with Tree set,
// everything below it too. {Path: "", Tree: true} is the whole tree.
type Scope struct {
	Path string
	Tree bool
}

// gatherScope reads the base and lists both sides for the scope only. It
// returns nil (and no error) when a full run is needed instead: a side's
// root is missing (the full run's guards decide what that means) or the
// scope is the whole tree.
func (p *Pair) gatherScope(ctx context.Context, sides [2]connectors.Connector, filter *rules.Filter, hashType connectors.HashType, scope []Scope) (*gathered, error) {
	for _, c := range sides {
		if _, err := c.Stat(ctx, ""); err != nil {
			if connectors.IsNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
	}
	scope, err := p.expandScope(ctx, sides, scope)
	if err != nil {
		return nil, err
	}
	for _, sc := range scope {
		if sc.Path == "" {
			return nil, nil
		}
	}
	files, _, err := p.DB.BaseCount(ctx)
	if err != nil {
		return nil, err
	}
	prev, _, err := p.DB.Meta(ctx, "hash_type")
	if err != nil {
		return nil, err
	}
	keepHash := prev == string(hashType)
	g := &gathered{base: map[string]reconcile.Base{}, files: files}
	addBase := func(e statedb.Entry) error {
		b := transfer.ToBase(e)
		if !keepHash {
			b.Hash = ""
		}
		g.base[e.Path] = b
		return nil
	}
	var trackers [2]*rules.Tracker
	for s := range sides {
		g.lists[s] = newListing(0)
		trackers[s] = filter.NewTracker()
	}
	for _, sc := range scope {
		k := key(sc.Path)
		if sc.Tree {
			err = p.DB.BaseUnder(ctx, k, addBase)
		} else {
			var e statedb.Entry
			var ok bool
			if e, ok, err = p.DB.BaseEntry(ctx, k); ok {
				addBase(e)
			}
		}
		if err != nil {
			return nil, err
		}
		for s, c := range sides {
			side, l, tr := reconcile.Side(s), g.lists[s], trackers[s]
			e, err := c.Stat(ctx, sc.Path)
			if connectors.IsNotFound(err) {
				continue
			}
			if err != nil {
				l.problem(sc.Path, err, side, tr)
				continue
			}
			if l.add(e, side, tr) != nil || !e.IsDir() || !sc.Tree {
				continue
			}
			if err := l.walk(ctx, c, side, tr, sc.Path); err != nil && !connectors.IsNotFound(err) {
				if errors.Is(err, ctx.Err()) {
					return nil, err
				}
				l.problem(sc.Path, err, side, tr)
			}
		}
	}
	return g, nil
}

// expandScope widens the scope to what can be reconciled on its own: a
// folder goes with everything below it, and a path inside a folder that
// is not synced yet goes with that whole folder (so the new folder is
// created with its contents, and a renamed folder is seen as a move). It
// returns the scope sorted, without paths already covered by a subtree.
func (p *Pair) expandScope(ctx context.Context, sides [2]connectors.Connector, scope []Scope) ([]Scope, error) {
	inBase := func(path string) (statedb.Entry, bool, error) { return p.DB.BaseEntry(ctx, key(path)) }
	want := map[string]bool{}
	for _, sc := range scope {
		path, tree := sc.Path, sc.Tree
		for path != "" {
			parent := connectors.Parent(path)
			if parent == "" {
				break
			}
			_, ok, err := inBase(parent)
			if err != nil {
				return nil, err
			}
			if ok {
				break
			}
			path, tree = parent, true
		}
		if !tree && path != "" {
			b, ok, err := inBase(path)
			if err != nil {
				return nil, err
			}
			tree = ok && b.Dir
			for _, c := range sides {
				if tree {
					break
				}
				if e, err := c.Stat(ctx, path); err == nil && e.IsDir() {
					tree = true
				}
			}
		}
		want[path] = want[path] || tree || path == ""
	}
	out := make([]Scope, 0, len(want))
	for path, tree := range want {
		covered := false
		for q := path; q != "" && !covered; {
			q = connectors.Parent(q)
			covered = want[q] // a subtree above path holds it
		}
		if !covered {
			out = append(out, Scope{Path: path, Tree: tree})
		}
	}
	slices.SortFunc(out, func(a, b Scope) int {
		if a.Path < b.Path {
			return -1
		}
		if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return out, nil
}
