package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/statedb"
)

// fakeSource is a Source fed by the test.
type fakeSource struct {
	ch       chan Change
	expected chan string
}

func newFakeSource() *fakeSource {
	return &fakeSource{ch: make(chan Change, 16), expected: make(chan string, 1024)}
}

func (f *fakeSource) Next(ctx context.Context) (Change, error) {
	select {
	case c := <-f.ch:
		return c, nil
	case <-ctx.Done():
		return Change{}, ctx.Err()
	}
}

func (f *fakeSource) Expect(rel string, size int64, mtime time.Time) {
	select {
	case f.expected <- rel:
	default:
	}
}

func (f *fakeSource) Close() error { return nil }

type taskFixture struct {
	t      *testing.T
	l, r   *mem.Conn
	db     *statedb.DB
	src    [2]*fakeSource
	task   *Task
	cancel context.CancelFunc
	done   chan error
}

func newTaskFixture(t *testing.T, dbPath string, mod func(*Spec)) *taskFixture {
	t.Helper()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "state.db")
	}
	db, err := statedb.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	f := &taskFixture{t: t, l: mem.New(mem.Options{}), r: mem.New(mem.Options{}), db: db,
		src: [2]*fakeSource{newFakeSource(), newFakeSource()}}
	spec := Spec{Name: "t", Pair: &engine.Pair{Local: f.l, Remote: f.r, LocalName: "L", RemoteName: "R", DB: db}}
	for s := range f.src {
		spec.Watch[s] = func() (Source, error) { return f.src[s], nil }
	}
	if mod != nil {
		mod(&spec)
	}
	f.task = NewTask(spec, nil)
	return f
}

func (f *taskFixture) start() {
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.task.Run(ctx) }()
	f.t.Cleanup(f.stop)
}

func (f *taskFixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	select {
	case err := <-f.done:
		if err != nil {
			f.t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		f.t.Error("task did not stop within 10s of cancel")
	}
	f.cancel = nil
	f.db.Close()
}

// waitFor polls cond for up to 10 s.
func (f *taskFixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; status %+v", what, f.task.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func has(c *mem.Conn, path, want string) func() bool {
	return func() bool {
		got, err := c.ReadFile(path)
		return err == nil && string(got) == want
	}
}

func TestTaskSyncsReportedChangesWithoutFullRun(t *testing.T) {
	f := newTaskFixture(t, "", nil)
	f.l.WriteFile("a.txt", []byte("a"), time.Now())
	f.r.WriteFile("b.txt", []byte("b"), time.Now())
	f.start()
	f.waitFor("first full run", has(f.r, "a.txt", "a"))
	f.waitFor("first full run", has(f.l, "b.txt", "b"))
	f.waitFor("idle", func() bool { s := f.task.Status(); return s.State == StateIdle && s.Runs == 1 })

	f.l.WriteFile("c.txt", []byte("c"), time.Now())
	f.src[0].ch <- Change{Paths: []string{"c.txt"}}
	f.waitFor("c.txt on the remote", has(f.r, "c.txt", "c"))
	f.r.WriteFile("d/e.txt", []byte("e"), time.Now())
	f.src[1].ch <- Change{Paths: []string{"d/e.txt"}}
	f.waitFor("d/e.txt locally", has(f.l, "d/e.txt", "e"))
	f.waitFor("3 runs", func() bool { return f.task.Status().Runs == 3 })
	if s := f.task.Status(); s.FullRuns != 1 {
		t.Errorf("FullRuns = %d, want 1: changes must not need a full rescan", s.FullRuns)
	}
	// The copy to the local side was announced to the local source.
	select {
	case p := <-f.src[0].expected:
		if p != "b.txt" && p != "d/e.txt" {
			t.Errorf("Expect(%q), want a path the agent wrote", p)
		}
	default:
		t.Error("the agent's own local writes were not announced with Expect")
	}
	if j, _ := f.db.Journal(context.Background()); len(j) != 0 {
		t.Errorf("journal not cleared after the runs: %+v", j)
	}
}

func TestTaskPauseResume(t *testing.T) {
	f := newTaskFixture(t, "", nil)
	f.start()
	f.waitFor("first run", func() bool { return f.task.Status().Runs == 1 })
	f.task.Pause()
	f.l.WriteFile("p.txt", []byte("p"), time.Now())
	f.src[0].ch <- Change{Paths: []string{"p.txt"}}
	f.waitFor("the change in the journal", func() bool {
		j, _ := f.db.Journal(context.Background())
		return len(j) == 1
	})
	f.waitFor("paused", func() bool { return f.task.Status().State == StatePaused })
	if has(f.r, "p.txt", "p")() {
		t.Fatal("a paused task synced")
	}
	f.task.Resume()
	f.waitFor("p.txt after resume", has(f.r, "p.txt", "p"))
}

func TestTaskJournalSurvivesRestart(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "state.db")
	f := newTaskFixture(t, dbPath, nil)
	f.start()
	f.waitFor("first run", func() bool { return f.task.Status().Runs == 1 })
	f.task.Pause()
	f.l.WriteFile("late.txt", []byte("late"), time.Now())
	f.src[0].ch <- Change{Paths: []string{"late.txt"}}
	f.waitFor("the change in the journal", func() bool {
		j, _ := f.db.Journal(context.Background())
		return len(j) == 1
	})
	f.stop()

	// A new agent on the same state file resumes the journal. Its first
	// run is a full one anyway; the journal must be cleared by it.
	g := newTaskFixture(t, dbPath, nil)
	g.l, g.r = f.l, f.r
	g.task.spec.Pair.Local, g.task.spec.Pair.Remote = f.l, f.r
	g.start()
	g.waitFor("late.txt after restart", has(f.r, "late.txt", "late"))
	g.waitFor("journal cleared", func() bool {
		j, _ := g.db.Journal(context.Background())
		return len(j) == 0
	})
}

func TestTaskWaitsOutsideWindow(t *testing.T) {
	open := make(chan bool, 1)
	allowed := false
	f := newTaskFixture(t, "", func(s *Spec) {
		s.Allowed = func(time.Time) bool {
			select {
			case v := <-open:
				allowed = v
			default:
			}
			return allowed
		}
		s.NextAllowed = func(now time.Time) time.Time { return now.Add(50 * time.Millisecond) }
	})
	f.l.WriteFile("w.txt", []byte("w"), time.Now())
	f.start()
	f.waitFor("waiting", func() bool { return f.task.Status().State == StateWaiting })
	if has(f.r, "w.txt", "w")() {
		t.Fatal("synced outside the window")
	}
	open <- true
	f.waitFor("w.txt once the window opens", has(f.r, "w.txt", "w"))
}

func TestScheduledTaskRunsAtItsTime(t *testing.T) {
	f := newTaskFixture(t, "", func(s *Spec) {
		s.Next = func(now time.Time) time.Time { return now.Add(200 * time.Millisecond) }
	})
	f.l.WriteFile("s.txt", []byte("s"), time.Now())
	f.start()
	if s := f.task.Status(); s.Runs != 0 {
		t.Fatalf("a scheduled task ran at start: %+v", s)
	}
	f.waitFor("the scheduled run", has(f.r, "s.txt", "s"))
	if s := f.task.Status(); s.NextRun.IsZero() {
		t.Error("NextRun not set for a scheduled task")
	}
}

func TestTaskOverflowRescansEverything(t *testing.T) {
	f := newTaskFixture(t, "", nil)
	f.start()
	f.waitFor("first run", func() bool { return f.task.Status().Runs == 1 })
	// Changes the watcher lost (an overflow): nothing names these paths.
	f.l.WriteFile("lost1", []byte("1"), time.Now())
	f.l.WriteFile("deep/lost2", []byte("2"), time.Now())
	f.src[0].ch <- Change{Rescan: []string{""}, Reason: "overflow"}
	f.waitFor("lost1 synced by the rescan", has(f.r, "lost1", "1"))
	f.waitFor("deep/lost2 synced by the rescan", has(f.r, "deep/lost2", "2"))
	f.waitFor("the rescan to finish", func() bool { return f.task.Status().Runs == 2 })
	if s := f.task.Status(); s.FullRuns != 2 {
		t.Errorf("FullRuns = %d, want 2 (start and the overflow rescan)", s.FullRuns)
	}
}

func TestTaskRetriesConnect(t *testing.T) {
	fails := 2
	var f *taskFixture
	f = newTaskFixture(t, "", func(s *Spec) {
		remote := s.Pair.Remote
		s.Pair.Remote = nil
		s.Connect = func(ctx context.Context) (connectors.Connector, func() error, error) {
			if fails > 0 {
				fails--
				return nil, nil, errors.New("connection refused")
			}
			return remote, nil, nil
		}
	})
	f.l.WriteFile("a", []byte("a"), time.Now())
	f.start()
	f.waitFor("the connect error in the status", func() bool {
		s := f.task.Status()
		return s.State == StateError && strings.Contains(s.Err, "connection refused")
	})
	f.task.RunNow(false) // retry now rather than in 5s
	f.waitFor("the error again", func() bool { return fails == 0 })
	f.task.RunNow(false)
	f.waitFor("the sync once connected", has(f.r, "a", "a"))
}

// feedConn is a remote with a change feed the test drives: note records a
// change made at the remote, expire forgets every cursor.
type feedConn struct {
	*mem.Conn
	mu      sync.Mutex
	seq     int
	log     []string // log[i] changed at sequence i+1
	expired int      // cursors below this are expired
	calls   int
}

func (f *feedConn) note(paths ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range paths {
		f.seq++
		f.log = append(f.log, p)
	}
}

func (f *feedConn) expire() {
	f.mu.Lock()
	f.expired = f.seq + 1
	f.mu.Unlock()
}

func (f *feedConn) Cursor(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strconv.Itoa(f.seq), nil
}

func (f *feedConn) Changes(ctx context.Context, cursor string) ([]string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	n, err := strconv.Atoi(cursor)
	if err != nil || n < f.expired {
		return nil, "", fmt.Errorf("cursor %q: %w", cursor, connectors.ErrCursorExpired)
	}
	return slices.Clone(f.log[n:]), strconv.Itoa(f.seq), nil
}

func TestTaskFollowsRemoteChangeFeed(t *testing.T) {
	fc := &feedConn{Conn: mem.New(mem.Options{})}
	f := newTaskFixture(t, "", func(s *Spec) {
		s.Pair.Remote = fc
		s.Watch[1] = nil
		s.Poll = 20 * time.Millisecond
		s.Rescan = time.Hour
	})
	f.start()
	f.waitFor("first run", func() bool { return f.task.Status().Runs == 1 })

	fc.WriteFile("from-feed.txt", []byte("f"), time.Now())
	fc.note("from-feed.txt")
	f.waitFor("the change reported by the feed", has(f.l, "from-feed.txt", "f"))
	f.waitFor("idle", func() bool { s := f.task.Status(); return s.Runs == 2 && s.State == StateIdle })
	if s := f.task.Status(); s.FullRuns != 1 {
		t.Errorf("FullRuns = %d, want 1: a feed change needs no full listing", s.FullRuns)
	}
	if cur, _, _ := f.db.Meta(context.Background(), "remote_cursor"); cur == "" {
		t.Error("no cursor stored")
	}

	// The cursor expires: the agent lists everything, so a change the feed
	// never reported is found too.
	fc.WriteFile("unreported.txt", []byte("u"), time.Now())
	fc.expire()
	f.waitFor("the full listing after the expired cursor", has(f.l, "unreported.txt", "u"))
	f.waitFor("the full run to end", func() bool { return f.task.Status().FullRuns == 2 })

	// And follows the feed again from the new cursor.
	fc.WriteFile("after.txt", []byte("a"), time.Now())
	fc.note("after.txt")
	f.waitFor("a change after the new cursor", has(f.l, "after.txt", "a"))
}

func TestTaskRunNowIgnoresWindow(t *testing.T) {
	f := newTaskFixture(t, "", func(s *Spec) {
		s.Allowed = func(time.Time) bool { return false }
		s.NextAllowed = func(now time.Time) time.Time { return now.Add(time.Hour) }
	})
	f.l.WriteFile("n.txt", []byte("n"), time.Now())
	f.start()
	f.waitFor("waiting", func() bool { return f.task.Status().State == StateWaiting })
	f.task.RunNow(false)
	f.waitFor("the run asked for, outside the window", has(f.r, "n.txt", "n"))
	f.l.WriteFile("m.txt", []byte("m"), time.Now())
	f.src[0].ch <- Change{Paths: []string{"m.txt"}}
	f.waitFor("waiting again", func() bool { return f.task.Status().State == StateWaiting })
	if has(f.r, "m.txt", "m")() {
		t.Error("a change was synced outside the window after the run-now")
	}
}

func TestTaskGuardThenForcedRun(t *testing.T) {
	f := newTaskFixture(t, "", nil)
	for _, p := range []string{"a", "b", "c"} {
		f.l.WriteFile(p, []byte(p), time.Now())
	}
	f.start()
	f.waitFor("first run", func() bool { return f.task.Status().Runs == 1 })
	for _, p := range []string{"a", "b"} {
		f.l.Remove(p)
	}
	f.src[0].ch <- Change{Paths: []string{"a", "b"}}
	f.waitFor("the guard's refusal", func() bool {
		s := f.task.Status()
		return s.State == StateError && strings.Contains(s.Err, "dovetail task run --force t")
	})
	if !has(f.r, "a", "a")() {
		t.Fatal("the refused run deleted a")
	}
	f.task.RunNow(true)
	f.waitFor("the forced run's deletes", func() bool { _, err := f.r.ReadFile("a"); return err != nil })
	f.waitFor("idle after the forced run", func() bool { return f.task.Status().State == StateIdle })
}
