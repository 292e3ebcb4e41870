package agent

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/statedb"
)

// liveFixture runs a task between two real folders, each watched with
// real fsnotify, as `dovetail sync --watch` does.
type liveFixture struct {
	t      *testing.T
	a, b   string
	task   *Task
	cancel context.CancelFunc
	done   chan error
}

func newLive(t *testing.T) *liveFixture {
	t.Helper()
	dir := t.TempDir()
	f := &liveFixture{t: t, a: filepath.Join(dir, "A"), b: filepath.Join(dir, "B")}
	for _, d := range []string{f.a, f.b} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *liveFixture) start() {
	t := f.t
	t.Helper()
	db, err := statedb.Open(context.Background(), filepath.Join(filepath.Dir(f.a), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	conn := func(root string) *local.Conn {
		c, err := local.New(root, local.Options{TrashDir: filepath.Join(root, ".dovetail", "trash")})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Small trees: deleting 2 of 3 files is what the test does, not an accident.
	spec := Spec{Name: "live", Pair: &engine.Pair{Local: conn(f.a), Remote: conn(f.b), LocalName: f.a, RemoteName: f.b, DB: db, MaxDelete: 100}}
	spec.Watch[0] = func() (Source, error) { return WatchFolder(f.a, SkipInternal, nil) }
	spec.Watch[1] = func() (Source, error) { return WatchFolder(f.b, SkipInternal, nil) }
	f.task = NewTask(spec, nil)
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.task.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			t.Error("task did not stop within 10s")
		}
		db.Close()
	})
	f.waitRuns(1)
}

func (f *liveFixture) waitRuns(n int) {
	f.t.Helper()
	f.wait(fmt.Sprintf("%d runs", n), func() bool { s := f.task.Status(); return s.Runs >= n && s.State == StateIdle })
}

func (f *liveFixture) wait(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	pause := 5 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			a, b := tree(f.a), tree(f.b)
			if len(a)+len(b) > 50 {
				f.t.Fatalf("timed out after 20s waiting for %s; status %+v; A has %d entries, B %d", what, f.task.Status(), len(a), len(b))
			}
			f.t.Fatalf("timed out after 20s waiting for %s; status %+v\nA: %v\nB: %v", what, f.task.Status(), a, b)
		}
		time.Sleep(pause)
		pause = min(2*pause, 250*time.Millisecond) // reading big trees is not free
	}
}

// tree maps every file under root (outside .dovetail) to its content and
// every folder to "/".
func tree(root string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == ".dovetail" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			out[rel] = "/"
			return nil
		}
		data, _ := os.ReadFile(p)
		out[rel] = string(data)
		return nil
	})
	return out
}

func same(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// equal waits until both folders hold the same tree, and checks that it
// is want (when want is not nil).
func (f *liveFixture) equal(what string, want map[string]string) {
	f.t.Helper()
	f.wait(what, func() bool {
		a, b := tree(f.a), tree(f.b)
		return same(a, b) && (want == nil || same(a, want))
	})
}

func put(t *testing.T, root, rel, data string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLiveFileAndFolderChanges(t *testing.T) {
	f := newLive(t)
	put(t, f.a, "start.txt", "s")
	f.start()
	f.equal("initial sync", map[string]string{"start.txt": "s"})
	full := f.task.Status().FullRuns

	put(t, f.a, "new.txt", "n")
	f.equal("create", map[string]string{"start.txt": "s", "new.txt": "n"})

	put(t, f.b, "new.txt", "changed on B")
	f.equal("modify on the other side", map[string]string{"start.txt": "s", "new.txt": "changed on B"})

	os.Remove(filepath.Join(f.a, "start.txt"))
	f.equal("delete", map[string]string{"new.txt": "changed on B"})

	os.Rename(filepath.Join(f.a, "new.txt"), filepath.Join(f.a, "renamed.txt"))
	f.equal("rename", map[string]string{"renamed.txt": "changed on B"})

	put(t, f.a, "dir/x.txt", "x")
	put(t, f.a, "dir/sub/y.txt", "y")
	f.equal("new folder", map[string]string{"renamed.txt": "changed on B", "dir": "/", "dir/x.txt": "x", "dir/sub": "/", "dir/sub/y.txt": "y"})

	os.Rename(filepath.Join(f.a, "dir"), filepath.Join(f.a, "moved"))
	f.equal("folder rename", map[string]string{"renamed.txt": "changed on B", "moved": "/", "moved/x.txt": "x", "moved/sub": "/", "moved/sub/y.txt": "y"})

	os.RemoveAll(filepath.Join(f.b, "moved"))
	f.equal("folder delete on B", map[string]string{"renamed.txt": "changed on B"})

	if s := f.task.Status(); s.FullRuns != full {
		t.Errorf("full runs went from %d to %d: watched changes must not need a full rescan", full, s.FullRuns)
	}
}

func TestLiveEditorSave(t *testing.T) {
	f := newLive(t)
	put(t, f.a, "doc.txt", "v1")
	f.start()
	f.equal("initial sync", nil)
	// Save as editors do: write a temporary file, then rename it over.
	tmp := filepath.Join(f.a, ".doc.txt.swp")
	os.WriteFile(tmp, []byte("v2"), 0o644)
	os.Rename(tmp, filepath.Join(f.a, "doc.txt"))
	f.equal("editor save", map[string]string{"doc.txt": "v2"})
}

func TestLiveFolderFilledBeforeWatch(t *testing.T) {
	f := newLive(t)
	f.start()
	// Build a tree elsewhere and move it in: its files were never seen by
	// a watch of their own folders.
	outside := filepath.Join(t.TempDir(), "tree")
	want := map[string]string{"tree": "/"}
	for i := range 5 {
		d := fmt.Sprintf("tree/d%d", i)
		want[d] = "/"
		for j := range 20 {
			rel := fmt.Sprintf("%s/f%d.txt", d, j)
			put(t, filepath.Dir(outside), rel, rel)
			want[rel] = rel
		}
	}
	if err := os.Rename(outside, filepath.Join(f.a, "tree")); err != nil {
		t.Fatal(err)
	}
	// And create a folder and fill it at once, racing its watch.
	for j := range 50 {
		rel := fmt.Sprintf("quick/g%d.txt", j)
		put(t, f.a, rel, rel)
		want[rel] = rel
	}
	want["quick"] = "/"
	f.equal("trees filled before their watches", want)
}

func TestLiveBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("burst of 5,000 files skipped in -short mode")
	}
	f := newLive(t)
	f.start()
	want := map[string]string{}
	var data bytes.Buffer
	for i := range 20 {
		d := fmt.Sprintf("burst/d%02d", i)
		want[d] = "/"
		for j := range 250 {
			rel := fmt.Sprintf("%s/f%03d", d, j)
			data.Reset()
			data.WriteString(rel)
			put(t, f.a, rel, data.String())
			want[rel] = rel
		}
	}
	want["burst"] = "/"
	f.equal("burst of 5,000 files", want)
	for k := range tree(f.b) {
		if strings.Contains(k, ".dovetail.tmp.") {
			t.Errorf("temporary file left visible: %s", k)
		}
	}
}
