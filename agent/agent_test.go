package agent

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/api"
	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/statedb"
)

func TestAgentRunsAndReloadsTasks(t *testing.T) {
	dir := t.TempDir()
	l, r := mem.New(mem.Options{}), mem.New(mem.Options{})
	l.WriteFile("a", []byte("a"), time.Now())
	names := []string{"one"}
	var fail error
	released := 0
	check := func(ctx context.Context) error { return fail }
	build := func(ctx context.Context) ([]Spec, func(), error) {
		var specs []Spec
		var dbs []*statedb.DB
		for _, n := range names {
			db, err := statedb.Open(ctx, filepath.Join(dir, n+".db"))
			if err != nil {
				return nil, nil, err
			}
			dbs = append(dbs, db)
			specs = append(specs, Spec{Name: n, Pair: &engine.Pair{Local: l, Remote: r, DB: db}})
		}
		return specs, func() {
			released++
			for _, db := range dbs {
				db.Close()
			}
		}, nil
	}
	a := New(build, check, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	wait("task one to sync", func() bool {
		st, _ := a.Status(ctx)
		return len(st) == 1 && st[0].State == api.StateIdle && !st[0].LastSync.IsZero()
	})
	if _, err := a.Task("nope"); !errors.Is(err, ErrUnknownTask) {
		t.Errorf("Task(nope) = %v, want ErrUnknownTask", err)
	}
	h, err := a.History(ctx, "one", 10)
	if err != nil || len(h) == 0 || h[0].Action != "upload" || h[0].Path != "a" {
		t.Errorf("History(one) = %+v, %v; want the upload of a", h, err)
	}
	if _, err := a.History(ctx, "nope", 10); !errors.Is(err, api.ErrUnknownTask) {
		t.Errorf("History(nope) = %v, want ErrUnknownTask", err)
	}
	st, err := a.Status(ctx)
	if err != nil || len(st) != 1 || st[0].Name != "one" || st[0].Direction != "two-way" || !st[0].Enabled {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if err := a.Pause(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	wait("paused", func() bool { st, _ := a.Status(ctx); return st[0].State == api.StatePaused })
	if err := a.Resume(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if err := a.RunNow(ctx, "nope"); !errors.Is(err, api.ErrUnknownTask) {
		t.Errorf("RunNow(nope) = %v", err)
	}

	names = []string{"one", "two"}
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Tasks()); n != 2 {
		t.Fatalf("after reload: %d tasks, want 2", n)
	}
	if released != 1 {
		t.Errorf("released %d times after one reload, want 1", released)
	}
	fail = errors.New("bad config")
	if err := a.Reload(ctx); err == nil {
		t.Fatal("Reload with a failing build succeeded")
	}
	if n := len(a.Tasks()); n != 2 {
		t.Fatalf("a failed reload changed the tasks: %d, want the 2 running", n)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	if released != 2 {
		t.Errorf("released %d times after stop, want 2", released)
	}
}
