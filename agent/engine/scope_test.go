package engine

import (
	"context"
	"maps"
	"testing"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
)

func (f *fixture) syncScope(scope ...Scope) *Report {
	f.t.Helper()
	rep, err := f.pair().RunScope(context.Background(), scope)
	if err != nil {
		f.t.Fatalf("RunScope(%v): %v", scope, err)
	}
	if rep.Failed() {
		f.t.Fatalf("RunScope(%v) failed paths: %+v %+v", scope, rep.Problems, failed(rep))
	}
	return rep
}

func countOps(rep *Report) map[reconcile.Op]int {
	n := map[reconcile.Op]int{}
	for _, a := range rep.Plan.Actions {
		n[a.Op]++
	}
	return n
}

func TestRunScopeSyncsOnlyItsPaths(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"a.txt": "a", "b.txt": "b", "d/x": "x", "d/y": "y"})
	f.mustSync()

	write(t, f.l, map[string]string{"a.txt": "a2", "b.txt": "b2"})
	f.syncScope(Scope{Path: "a.txt"})
	got := contents(f.r)
	if got["a.txt"] != "a2" {
		t.Errorf("a.txt in scope: remote has %q, want a2", got["a.txt"])
	}
	if got["b.txt"] != "b" {
		t.Errorf("b.txt outside the scope was synced: remote has %q", got["b.txt"])
	}
	f.mustSync()
	if got := contents(f.r); got["b.txt"] != "b2" {
		t.Errorf("full run after scoped: b.txt = %q", got["b.txt"])
	}
}

func TestRunScopeFolderRenameIsAMove(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"d/x": "x", "d/sub/y": "y", "keep": "k"})
	f.mustSync()
	if _, err := f.l.Move(context.Background(), "d", "e"); err != nil {
		t.Fatal(err)
	}
	// A watcher reports both names of a renamed folder.
	rep := f.syncScope(Scope{Path: "d"}, Scope{Path: "e"})
	if n := countOps(rep); n[reconcile.OpMove] != 1 || n[reconcile.OpCopy] != 0 || n[reconcile.OpDelete] != 0 {
		t.Errorf("plan %v, want one move and no copies or deletes", rep.Plan.Actions)
	}
	want := map[string]string{"e/x": "x", "e/sub/y": "y", "keep": "k"}
	if got := contents(f.r); !maps.Equal(got, want) {
		t.Errorf("remote = %v, want %v", got, want)
	}
	if rep := f.mustSync(); len(rep.Plan.Actions) != 0 {
		t.Errorf("full run after the scoped move planned %v", rep.Plan.Actions)
	}
}

func TestRunScopeNewFolderGoesWhole(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"old": "o"})
	f.mustSync()
	write(t, f.l, map[string]string{"n/m/a": "a", "n/m/b": "b", "n/c": "c"})
	// Only one file was reported (the others came before the watch).
	f.syncScope(Scope{Path: "n/m/a"})
	want := map[string]string{"old": "o", "n/m/a": "a", "n/m/b": "b", "n/c": "c"}
	if got := contents(f.r); !maps.Equal(got, want) {
		t.Errorf("remote = %v, want %v", got, want)
	}
}

func TestRunScopeDeletedFolder(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"d/x": "x", "d/y": "y", "a": "a", "b": "b", "c": "c", "e": "e"})
	f.mustSync()
	for _, p := range []string{"d/x", "d/y", "d"} {
		if err := f.l.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	f.syncScope(Scope{Path: "d"})
	want := map[string]string{"a": "a", "b": "b", "c": "c", "e": "e"}
	if got := contents(f.r); !maps.Equal(got, want) {
		t.Errorf("remote = %v, want %v", got, want)
	}
	if len(f.r.Trashed()) != 2 {
		t.Errorf("remote trash holds %d files, want the 2 deleted", len(f.r.Trashed()))
	}
}

func TestRunScopeRemoteChange(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"a": "a", "b": "b"})
	f.mustSync()
	write(t, f.r, map[string]string{"a": "remote edit"})
	f.syncScope(Scope{Path: "a"})
	if got := contents(f.l); got["a"] != "remote edit" {
		t.Errorf("local a = %q, want the remote edit", got["a"])
	}
}

func TestRunScopeMissingRootFallsBackToGuard(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"a": "a", "b": "b"})
	f.mustSync()
	for _, p := range []string{"a", "b"} {
		f.l.Remove(p)
	}
	_, err := f.pair().RunScope(context.Background(), []Scope{{Path: "a"}, {Path: "b"}})
	if !IsGuard(err) {
		// Deleting every synced file is refused by the delete guard.
		t.Fatalf("RunScope deleting everything: err = %v, want a guard", err)
	}
}

func TestExpandScope(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"d/x": "x", "d/s/y": "y", "f": "f", "d b": "sibling"})
	f.mustSync()
	write(t, f.l, map[string]string{"d/new/deep/z": "z"})
	got, err := f.pair().expandScope(context.Background(), [2]connectors.Connector{f.l, f.r},
		[]Scope{{Path: "d/x"}, {Path: "d/new/deep/z"}, {Path: "f"}, {Path: "d/s/y"}, {Path: "d/s"}, {Path: "d b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Scope{{Path: "d b"}, {Path: "d/new", Tree: true}, {Path: "d/s", Tree: true}, {Path: "d/x"}, {Path: "f"}}
	if len(got) != len(want) {
		t.Fatalf("expandScope = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("expandScope = %v, want %v", got, want)
		}
	}
}
