package engine

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/statedb"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type fixture struct {
	t    *testing.T
	l, r *mem.Conn
	db   *statedb.DB
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, err := statedb.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &fixture{t: t, l: mem.New(mem.Options{}), r: mem.New(mem.Options{}), db: db}
}

func (f *fixture) pair() *Pair {
	return &Pair{Local: f.l, Remote: f.r, LocalName: "L", RemoteName: "R", DB: f.db,
		Now: func() time.Time { return t0 }}
}

func (f *fixture) sync(mod func(*Pair)) (*Report, error) {
	f.t.Helper()
	p := f.pair()
	if mod != nil {
		mod(p)
	}
	return p.Run(context.Background())
}

func (f *fixture) mustSync() *Report {
	f.t.Helper()
	rep, err := f.sync(nil)
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	if rep.Failed() {
		f.t.Fatalf("sync failed paths: %+v %+v", rep.Problems, failed(rep))
	}
	return rep
}

func failed(rep *Report) []string {
	var out []string
	for _, o := range rep.Outcomes {
		if o.Err != nil {
			out = append(out, o.Action.Path+": "+o.Err.Error())
		}
	}
	return out
}

func write(t *testing.T, c *mem.Conn, files map[string]string) {
	t.Helper()
	for p, d := range files {
		if err := c.WriteFile(p, []byte(d), t0); err != nil {
			t.Fatal(err)
		}
	}
}

func contents(c *mem.Conn) map[string]string {
	out := map[string]string{}
	for p, d := range c.Files() {
		out[p] = string(d)
	}
	return out
}

func TestFirstSyncMergesAndSecondIsEmpty(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"a": "1", "d/b": "2"})
	write(t, f.r, map[string]string{"c": "3", "d/b": "2"})
	f.mustSync()
	want := map[string]string{"a": "1", "c": "3", "d/b": "2"}
	if got := contents(f.l); !maps.Equal(got, want) {
		t.Errorf("local = %v, want %v", got, want)
	}
	if got := contents(f.r); !maps.Equal(got, want) {
		t.Errorf("remote = %v, want %v", got, want)
	}
	rep := f.mustSync()
	for _, a := range rep.Plan.Actions {
		t.Errorf("second run planned %v", a)
	}
}

func TestFailedUploadDoesNotStopOthers(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"a": "1", "bad": "2", "c": "3"})
	f.r.SetHook(func(op, path string) error {
		if op == "put" && path == "bad" {
			return &connectors.Error{Kind: connectors.Permission, Op: op, Path: path, Err: errors.New("denied")}
		}
		return nil
	})
	rep, err := f.sync(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Failed() {
		t.Fatal("report does not say a path failed")
	}
	if got := failed(rep); len(got) != 1 || !strings.HasPrefix(got[0], "bad:") {
		t.Errorf("failed = %v, want only bad", got)
	}
	if got := contents(f.r); got["a"] != "1" || got["c"] != "3" || got["bad"] != "" {
		t.Errorf("remote = %v", got)
	}
	// Once the cause is gone, the next run finishes the job.
	f.r.SetHook(nil)
	f.mustSync()
	if got := contents(f.r); got["bad"] != "2" {
		t.Errorf("bad not synced after the fault cleared: %v", got)
	}
}

func TestUnlistablePathIsNotADelete(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"keep": "1", "d/x": "2", "d/y": "3"})
	f.mustSync()
	// The local folder d cannot be listed any more (permissions, I/O error):
	// its files must not be deleted on the remote side.
	f.l.Remove("d")
	p := f.pair()
	p.MaxDelete = 100 // the delete guard must not be what saves the files
	p.Local = problemWalker{f.l, "d"}
	rep, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := contents(f.r); got["d/x"] != "2" || got["d/y"] != "3" {
		t.Errorf("remote lost files under an unlistable folder: %v", got)
	}
	if len(rep.Problems) != 1 || rep.Problems[0].Path != "d" {
		t.Errorf("problems = %+v, want one for d", rep.Problems)
	}
}

// problemWalker reports path as unlistable, as a connector does for a
// folder it cannot read.
type problemWalker struct {
	*mem.Conn
	bad string
}

func (w problemWalker) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	problem(w.bad, &connectors.Error{Kind: connectors.Permission, Op: "walk", Path: w.bad, Err: errors.New("permission denied")})
	return w.Conn.Walk(ctx, dir, fn, problem)
}

func TestGuards(t *testing.T) {
	files := map[string]string{}
	for i := range 10 {
		files[string(rune('a'+i))] = "x"
	}
	t.Run("emptied side", func(t *testing.T) {
		f := newFixture(t)
		write(t, f.l, files)
		f.mustSync()
		for p := range files {
			f.l.Remove(p)
		}
		_, err := f.sync(nil)
		if !IsGuard(err) || !strings.Contains(err.Error(), "empty") {
			t.Fatalf("err = %v, want the empty-folder guard", err)
		}
		if len(f.r.Files()) != 10 {
			t.Fatalf("remote changed despite the guard: %v", f.r.Files())
		}
		if _, err := f.sync(func(p *Pair) { p.Force = true }); err != nil {
			t.Fatal(err)
		}
		if len(f.r.Files()) != 0 {
			t.Errorf("--force did not apply the deletes")
		}
		if len(f.r.Trashed()) != 10 {
			t.Errorf("remote trash holds %d files, want 10", len(f.r.Trashed()))
		}
	})
	t.Run("max delete", func(t *testing.T) {
		f := newFixture(t)
		write(t, f.l, files)
		f.mustSync()
		for _, p := range []string{"a", "b", "c", "d", "e", "f"} {
			f.l.Remove(p)
		}
		_, err := f.sync(nil)
		if !IsGuard(err) || !strings.Contains(err.Error(), "6 of 10") {
			t.Fatalf("err = %v, want the max-delete guard", err)
		}
		if len(f.r.Files()) != 10 {
			t.Fatal("remote changed despite the guard")
		}
		if _, err := f.sync(func(p *Pair) { p.MaxDelete = 60 }); err != nil {
			t.Fatalf("60%% limit refused 60%%: %v", err)
		}
	})
	t.Run("no deletes at all", func(t *testing.T) {
		f := newFixture(t)
		write(t, f.l, files)
		f.mustSync()
		f.l.Remove("a")
		if _, err := f.sync(func(p *Pair) { p.MaxDelete = -1 }); !IsGuard(err) {
			t.Fatalf("err = %v, want a refusal", err)
		}
	})
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"a": "1"})
	write(t, f.r, map[string]string{"b": "2"})
	rep, err := f.sync(func(p *Pair) { p.DryRun = true })
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plan.Actions) == 0 {
		t.Error("dry run planned nothing")
	}
	if got := slices.Sorted(maps.Keys(f.l.Files())); !slices.Equal(got, []string{"a"}) {
		t.Errorf("local changed: %v", got)
	}
	if got := slices.Sorted(maps.Keys(f.r.Files())); !slices.Equal(got, []string{"b"}) {
		t.Errorf("remote changed: %v", got)
	}
	n := 0
	f.db.LoadBase(context.Background(), func(statedb.Entry) error { n++; return nil })
	if n != 0 {
		t.Errorf("dry run wrote %d base rows", n)
	}
}

func TestHostileRemoteNamesAreRefused(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"ok": "1"})
	p := f.pair()
	p.Remote = hostile{f.r}
	rep, err := p.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := contents(f.l)
	if len(got) != 1 || got["ok"] != "1" {
		t.Errorf("local = %v: a hostile name was acted on", got)
	}
	if len(rep.Problems) != 2 {
		t.Errorf("problems = %+v, want the two hostile names", rep.Problems)
	}
}

// hostile adds names a malicious server could send to a listing.
type hostile struct{ *mem.Conn }

func (h hostile) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	for _, p := range []string{"../escape", "a/../../etc"} {
		if err := fn(connectors.Entry{Path: p, Kind: connectors.File, Size: 1, ModTime: t0}); err != nil && err != connectors.SkipDir {
			return err
		}
	}
	return h.Conn.Walk(ctx, dir, fn, problem)
}

func TestCancelStopsAndResumes(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{}
	for i := range 50 {
		files[strings.Repeat("f", 1+i%5)+string(rune('A'+i))] = strings.Repeat("x", i)
	}
	write(t, f.l, files)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	f.r.SetHook(func(op, path string) error {
		if op == "put" {
			if n++; n == 10 {
				cancel()
			}
		}
		return nil
	})
	p := f.pair()
	p.Workers = 1
	if _, err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	f.r.SetHook(nil)
	f.mustSync()
	if got := contents(f.r); !maps.Equal(got, files) {
		t.Errorf("after resume remote has %d files, want %d", len(got), len(files))
	}
}
