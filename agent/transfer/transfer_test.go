package transfer

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/statedb"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func setup(t *testing.T) (*Executor, *mem.Conn, *mem.Conn) {
	t.Helper()
	db, err := statedb.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, r := mem.New(mem.Options{}), mem.New(mem.Options{})
	return &Executor{Sides: [2]connectors.Connector{l, r}, DB: db, Hash: connectors.SHA256}, l, r
}

// plan reconciles the two stores against the executor's base.
func plan(t *testing.T, x *Executor) reconcile.Plan {
	t.Helper()
	in := reconcile.Input{Base: map[string]reconcile.Base{}, Local: list(t, x.Sides[0]), Remote: list(t, x.Sides[1]), Now: t0}
	x.DB.LoadBase(context.Background(), func(e statedb.Entry) error { in.Base[e.Path] = ToBase(e); return nil })
	return reconcile.Reconcile(in)
}

func list(t *testing.T, c connectors.Connector) map[string]connectors.Entry {
	m := map[string]connectors.Entry{}
	if err := c.Walk(context.Background(), "", func(e connectors.Entry) error { m[e.Path] = e; return nil }, func(string, error) {}); err != nil {
		t.Fatal(err)
	}
	return m
}

// A file changed at the destination between the listing and the copy is
// never overwritten: the copy fails, the new content stays, and the base is
// not advanced, so the next run sees a conflict and keeps both.
func TestChangeDuringRunIsNotOverwritten(t *testing.T) {
	x, l, r := setup(t)
	ctx := context.Background()
	l.WriteFile("doc", []byte("v1"), t0)
	if _, err := x.Apply(ctx, plan(t, x)); err != nil {
		t.Fatal(err)
	}
	l.WriteFile("doc", []byte("v2 local"), t0.Add(time.Minute))
	p := plan(t, x)
	r.SetHook(func(op, path string) error {
		if op == "put" && path == "doc" {
			r.WriteFile("doc", []byte("edited remotely meanwhile"), t0.Add(2*time.Minute))
		}
		return nil
	})
	res, err := x.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	r.SetHook(nil)
	f := res.Failed()
	if len(f) != 1 || connectors.KindOf(f[0].Err) != connectors.Precondition {
		t.Fatalf("failed = %+v, want one Precondition failure", f)
	}
	if got, _ := r.ReadFile("doc"); string(got) != "edited remotely meanwhile" {
		t.Fatalf("remote doc = %q: a concurrent edit was overwritten", got)
	}
	// Next run: both sides changed since the base: a conflict, both kept.
	p = plan(t, x)
	if len(p.Conflicts) != 1 {
		t.Fatalf("conflicts = %+v, want one", p.Conflicts)
	}
	if _, err := x.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	files := r.Files()
	if string(files["doc"]) != "v2 local" || len(files) != 2 {
		t.Errorf("remote files = %q", files)
	}
}

// A failed move skips the steps inside it instead of running them against
// paths that do not exist.
func TestFailedMoveSkipsDependents(t *testing.T) {
	x, l, r := setup(t)
	ctx := context.Background()
	l.WriteFile("d/a", []byte("1"), t0)
	l.WriteFile("d/b", []byte("2"), t0)
	if _, err := x.Apply(ctx, plan(t, x)); err != nil {
		t.Fatal(err)
	}
	// Rename d to e locally (mem keeps IDs) and edit a file inside it.
	if _, err := l.Move(ctx, "d", "e"); err != nil {
		t.Fatal(err)
	}
	l.WriteFile("e/a", []byte("1 edited"), t0.Add(time.Minute))
	p := plan(t, x)
	if p.Actions[0].Op != reconcile.OpMove {
		t.Fatalf("first action %v, want the folder move", p.Actions[0])
	}
	r.SetHook(func(op, path string) error {
		if op == "move" {
			return &connectors.Error{Kind: connectors.Transient, Err: errors.New("connection reset")}
		}
		return nil
	})
	res, err := x.Apply(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	r.SetHook(nil)
	for _, o := range res.Outcomes {
		if o.Action.Op == reconcile.OpCopy && o.Err == nil {
			t.Errorf("copy %s ran although the move it depends on failed", o.Action.Path)
		}
	}
	if _, err := r.ReadFile("e/a"); !connectors.IsNotFound(err) {
		t.Errorf("e/a exists remotely: err = %v", err)
	}
	// The next run finishes the job.
	if _, err := x.Apply(ctx, plan(t, x)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.ReadFile("e/a"); string(got) != "1 edited" {
		t.Errorf("e/a = %q after the retry", got)
	}
	if p := plan(t, x); len(p.Actions) != 0 {
		t.Errorf("not in sync after the retry: %v", p.Actions)
	}
}

// Every copy records the content hash it computed while streaming, and the
// intents of a finished batch are cleared.
func TestCopyRecordsHashAndClearsIntents(t *testing.T) {
	x, l, _ := setup(t)
	ctx := context.Background()
	l.WriteFile("a", []byte("hello"), t0)
	if _, err := x.Apply(ctx, plan(t, x)); err != nil {
		t.Fatal(err)
	}
	e, ok, err := x.DB.BaseEntry(ctx, "a")
	if err != nil || !ok {
		t.Fatalf("base entry: %v %v", ok, err)
	}
	const sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	if e.Hash != sha {
		t.Errorf("base hash = %q, want sha256 of the content", e.Hash)
	}
	in, err := x.DB.Intents(ctx)
	if err != nil || len(in) != 0 {
		t.Errorf("intents left: %v %v", in, err)
	}
}
