package watch

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// wait bounds every wait for a batch: generous, for a loaded machine.
const wait = 20 * time.Second

// testOptions are fast timings for tests; a test needing robustness
// against a slow machine raises them.
func testOptions() Options {
	return Options{
		Debounce: 50 * time.Millisecond,
		MaxDelay: 500 * time.Millisecond,
		Skip: func(rel string, isDir bool) bool {
			base := rel[strings.LastIndexByte(rel, '/')+1:]
			return rel == ".dovetail" || strings.HasPrefix(base, ".dovetail.tmp.")
		},
	}
}

func start(t *testing.T, root string, opts Options, tune tuning) *Watcher {
	t.Helper()
	w, err := newWatcher(root, opts, tune)
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// next waits for the next batch and checks its form.
func next(t *testing.T, w *Watcher) Batch {
	t.Helper()
	select {
	case b, ok := <-w.Batches():
		if !ok {
			t.Fatalf("Batches closed: %v", w.Err())
		}
		checkForm(t, b)
		return b
	case <-time.After(wait):
		t.Fatalf("no batch within %s", wait)
	}
	panic("unreachable")
}

// checkForm checks the promises of Batch's documentation.
func checkForm(t *testing.T, b Batch) {
	t.Helper()
	if len(b.Paths) == 0 && len(b.Rescan) == 0 {
		t.Errorf("empty batch delivered")
	}
	if !slices.IsSorted(b.Paths) || len(slices.Compact(slices.Clone(b.Paths))) != len(b.Paths) {
		t.Errorf("paths not sorted and unique: %q", b.Paths)
	}
	if !slices.IsSorted(b.Rescan) {
		t.Errorf("rescan not sorted: %q", b.Rescan)
	}
	for _, p := range b.Paths {
		if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
			t.Errorf("bad path %q", p)
		}
		for _, r := range b.Rescan {
			if under(p, r) {
				t.Errorf("path %q lies under rescan %q", p, r)
			}
		}
	}
	for i, r := range b.Rescan {
		for j, o := range b.Rescan {
			if i != j && under(r, o) {
				t.Errorf("rescan %q lies under rescan %q", r, o)
			}
		}
	}
	if (len(b.Rescan) > 0) != (b.Reason != "") {
		t.Errorf("rescan %q with reason %q", b.Rescan, b.Reason)
	}
}

var markers atomic.Int64

// settle writes a marker file and collects batches until it is reported:
// inotify queues events in order, so every event of what the test did
// before has been delivered by then. The marker is left out of the result.
func settle(t *testing.T, w *Watcher, root string) []Batch {
	t.Helper()
	name := fmt.Sprintf("zz-marker-%d", markers.Add(1))
	write(t, root, name, "m")
	var got []Batch
	for {
		b := next(t, w)
		hit := reports(b, name)
		b.Paths = slices.DeleteFunc(b.Paths, func(p string) bool { return p == name })
		if len(b.Paths) > 0 || len(b.Rescan) > 0 {
			got = append(got, b)
		}
		if hit {
			return got
		}
	}
}

// reports tells whether a consumer of b looks at rel.
func reports(b Batch, rel string) bool {
	return slices.Contains(b.Paths, rel) || slices.ContainsFunc(b.Rescan, func(r string) bool { return under(rel, r) })
}

// union merges batches into what a consumer looks at: a rescan nested in
// another one and a path inside a rescanned subtree add nothing to it (on
// a slow machine a new folder and its subfolders may come in different
// batches).
func union(bs []Batch) (paths, rescan []string, reasons string) {
	var rs []string
	for _, b := range bs {
		rescan = append(rescan, b.Rescan...)
		if b.Reason != "" {
			rs = append(rs, b.Reason)
		}
	}
	inside := func(rel string, strict bool) bool {
		return slices.ContainsFunc(rescan, func(r string) bool { return under(rel, r) && !(strict && rel == r) })
	}
	rescan = slices.DeleteFunc(slices.Clone(rescan), func(r string) bool { return inside(r, true) })
	for _, b := range bs {
		for _, p := range b.Paths {
			if !inside(p, false) {
				paths = append(paths, p)
			}
		}
	}
	slices.Sort(paths)
	slices.Sort(rescan)
	return slices.Compact(paths), slices.Compact(rescan), strings.Join(rs, "; ")
}

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEvents checks, for each kind of change, the exact paths and rescans
// reported, and then that the watches still follow the tree.
func TestEvents(t *testing.T) {
	type step struct {
		do         func(t *testing.T, root, outside string)
		wantPaths  []string
		wantRescan []string
	}
	cases := []struct {
		name  string
		setup []string // files to create before watching
		steps []step
	}{
		{
			name: "create file",
			steps: []step{{
				do:        func(t *testing.T, root, _ string) { write(t, root, "a.txt", "hello") },
				wantPaths: []string{"a.txt"},
			}},
		},
		{
			name:  "modify file in a subfolder",
			setup: []string{"d/e/a.txt"},
			steps: []step{{
				do: func(t *testing.T, root, _ string) {
					f, err := os.OpenFile(filepath.Join(root, "d/e/a.txt"), os.O_APPEND|os.O_WRONLY, 0)
					must(t, err)
					_, err = f.WriteString("more")
					must(t, err)
					must(t, f.Close())
				},
				wantPaths: []string{"d/e/a.txt"},
			}},
		},
		{
			name:  "change of time only",
			setup: []string{"a.txt"},
			steps: []step{{
				do: func(t *testing.T, root, _ string) {
					must(t, os.Chtimes(filepath.Join(root, "a.txt"), time.Now(), time.Unix(1e9, 0)))
				},
				wantPaths: []string{"a.txt"},
			}},
		},
		{
			name:  "delete file",
			setup: []string{"a.txt", "b.txt"},
			steps: []step{{
				do:        func(t *testing.T, root, _ string) { must(t, os.Remove(filepath.Join(root, "a.txt"))) },
				wantPaths: []string{"a.txt"},
			}},
		},
		{
			name:  "rename file",
			setup: []string{"d/a.txt"},
			steps: []step{{
				do: func(t *testing.T, root, _ string) {
					must(t, os.Rename(filepath.Join(root, "d/a.txt"), filepath.Join(root, "b.txt")))
				},
				wantPaths: []string{"b.txt", "d/a.txt"},
			}},
		},
		{
			name: "create folder, then a file in it",
			steps: []step{
				{
					do:         func(t *testing.T, root, _ string) { must(t, os.Mkdir(filepath.Join(root, "d"), 0o755)) },
					wantRescan: []string{"d"},
				},
				{
					do:        func(t *testing.T, root, _ string) { write(t, root, "d/f", "x") },
					wantPaths: []string{"d/f"},
				},
			},
		},
		{
			name:  "delete folder tree",
			setup: []string{"d/a.txt", "d/sub/b.txt", "keep.txt"},
			steps: []step{{
				do:        func(t *testing.T, root, _ string) { must(t, os.RemoveAll(filepath.Join(root, "d"))) },
				wantPaths: []string{"d", "d/a.txt", "d/sub", "d/sub/b.txt"},
			}},
		},
		{
			name:  "rename folder within the tree",
			setup: []string{"d/sub/f", "d/g"},
			steps: []step{
				{
					do: func(t *testing.T, root, _ string) {
						must(t, os.Rename(filepath.Join(root, "d"), filepath.Join(root, "e")))
					},
					wantPaths:  []string{"d"},
					wantRescan: []string{"e"},
				},
				{
					// The watches follow the new name, not the old one.
					do:        func(t *testing.T, root, _ string) { write(t, root, "e/sub/new", "x") },
					wantPaths: []string{"e/sub/new"},
				},
				{
					// And a new folder of the old name is watched afresh.
					do:         func(t *testing.T, root, _ string) { write(t, root, "d/sub/again", "x") },
					wantRescan: []string{"d"},
				},
			},
		},
		{
			name:  "move folder out of the tree",
			setup: []string{"d/sub/f"},
			steps: []step{
				{
					do: func(t *testing.T, root, outside string) {
						must(t, os.Rename(filepath.Join(root, "d"), filepath.Join(outside, "d")))
					},
					wantPaths: []string{"d"},
				},
				{
					// Changes to it out there are not ours any more.
					do:        func(t *testing.T, _, outside string) { write(t, outside, "d/sub/new", "x") },
					wantPaths: nil,
				},
			},
		},
		{
			name: "move file into the tree",
			steps: []step{{
				do: func(t *testing.T, root, outside string) {
					write(t, outside, "f", "x")
					must(t, os.Rename(filepath.Join(outside, "f"), filepath.Join(root, "in")))
				},
				wantPaths: []string{"in"},
			}},
		},
		{
			name: "move a pre-built tree into the tree",
			steps: []step{
				{
					do: func(t *testing.T, root, outside string) {
						for i := range 20 {
							write(t, outside, fmt.Sprintf("x/y%d/z/f%d", i%4, i), "x")
						}
						must(t, os.Rename(filepath.Join(outside, "x"), filepath.Join(root, "x")))
					},
					wantRescan: []string{"x"},
				},
				{
					// Every folder of the moved tree has its watch.
					do: func(t *testing.T, root, _ string) {
						for i := range 4 {
							write(t, root, fmt.Sprintf("x/y%d/z/late", i), "x")
						}
					},
					wantPaths: []string{"x/y0/z/late", "x/y1/z/late", "x/y2/z/late", "x/y3/z/late"},
				},
			},
		},
		{
			name: "skipped paths are neither watched nor reported",
			steps: []step{{
				do: func(t *testing.T, root, _ string) {
					write(t, root, ".dovetail/trash/old", "x")
					write(t, root, ".dovetail/state", "x")
					write(t, root, "d/.dovetail.tmp.1", "x")
					must(t, os.Rename(filepath.Join(root, "d/.dovetail.tmp.1"), filepath.Join(root, "d/f")))
				},
				wantRescan: []string{"d"},
			}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := t.TempDir(), t.TempDir()
			for _, f := range tc.setup {
				write(t, root, f, "base")
			}
			w := start(t, root, testOptions(), defaultTuning)
			for i, s := range tc.steps {
				s.do(t, root, outside)
				paths, rescan, reasons := union(settle(t, w, root))
				if !slices.Equal(paths, s.wantPaths) || !slices.Equal(rescan, s.wantRescan) {
					t.Errorf("step %d: got paths %q rescan %q (%s)\nwant paths %q rescan %q",
						i, paths, rescan, reasons, s.wantPaths, s.wantRescan)
				}
			}
		})
	}
}

// TestEditorSave: writing a temporary file and renaming it over the
// original, with a lock file that comes and goes, is one change of the
// file, in one batch.
func TestEditorSave(t *testing.T) {
	root := t.TempDir()
	write(t, root, "notes.txt", "v1")
	opts := testOptions()
	opts.Debounce = time.Second // a slow machine must not split the save
	opts.MaxDelay = 5 * time.Second
	w := start(t, root, opts, defaultTuning)

	write(t, root, ".~lock.notes.txt#", "lock")
	write(t, root, "notes.txt.tmp", "v2")
	must(t, os.Rename(filepath.Join(root, "notes.txt.tmp"), filepath.Join(root, "notes.txt")))
	must(t, os.Remove(filepath.Join(root, ".~lock.notes.txt#")))

	b := next(t, w)
	if !slices.Equal(b.Paths, []string{"notes.txt"}) || len(b.Rescan) != 0 {
		t.Errorf("save reported as %+v, want paths [notes.txt]", b)
	}
	if rest := settle(t, w, root); len(rest) != 0 {
		t.Errorf("more batches after the save: %+v", rest)
	}
}

// TestBurst: 10,000 creates are coalesced into a few batches, each path
// reported once.
func TestBurst(t *testing.T) {
	root := t.TempDir()
	must(t, os.Mkdir(filepath.Join(root, "many"), 0o755))
	opts := testOptions()
	opts.Debounce = 500 * time.Millisecond
	opts.MaxDelay = time.Second
	w := start(t, root, opts, defaultTuning)

	const n = 10_000
	took := make(chan time.Duration, 1)
	go func() {
		begin := time.Now()
		for i := range n {
			p := filepath.Join(root, fmt.Sprintf("many/f%05d", i))
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Error(err)
				break
			}
		}
		took <- time.Since(begin)
	}()

	// Read while the burst goes on, as the agent does.
	seen := make(map[string]int)
	batches := 0
	for len(seen) < n {
		b := next(t, w)
		batches++
		if len(b.Rescan) != 0 {
			t.Fatalf("unexpected rescan %q (%s)", b.Rescan, b.Reason)
		}
		for _, p := range b.Paths {
			if !strings.HasPrefix(p, "many/f") {
				t.Fatalf("unexpected path %q", p)
			}
			seen[p]++
		}
	}
	burst := <-took
	// At most one batch per MaxDelay while the burst lasts, and the last
	// one; and a storm longer than MaxDelay does not hold everything back.
	if limit := int(burst/opts.MaxDelay) + 2; batches > limit {
		t.Errorf("%d creates in %s came in %d batches, want at most %d", n, burst, batches, limit)
	}
	if burst > 2*opts.MaxDelay+opts.Debounce && batches < 2 {
		t.Errorf("%d creates in %s came in one batch: MaxDelay %s not applied", n, burst, opts.MaxDelay)
	}
	t.Logf("%d creates in %s: %d batches", n, burst, batches)
	if rest := settle(t, w, root); len(rest) != 0 {
		// A file may be reported again only if its creation and its write
		// fell into different batches; nothing else may come.
		for _, b := range rest {
			for _, p := range b.Paths {
				if seen[p] == 0 {
					t.Errorf("late unexpected path %q", p)
				}
			}
		}
	}
}

// TestStormCollapses: past the pending threshold, paths become rescans of
// their folders, and nothing is lost.
func TestStormCollapses(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "b", "c"} {
		must(t, os.Mkdir(filepath.Join(root, d), 0o755))
	}
	opts := testOptions()
	opts.Debounce = time.Second
	opts.MaxDelay = 10 * time.Second
	tune := defaultTuning
	tune.maxPaths = 500
	w := start(t, root, opts, tune)

	var files []string
	for i := range 3000 {
		rel := fmt.Sprintf("%c/f%d", 'a'+i%3, i)
		write(t, root, rel, "x")
		files = append(files, rel)
	}
	bs := settle(t, w, root)
	collapsed := false
	for _, b := range bs {
		if len(b.Paths) > tune.maxPaths {
			t.Errorf("a batch of %d paths, more than the threshold %d", len(b.Paths), tune.maxPaths)
		}
		collapsed = collapsed || strings.Contains(b.Reason, ReasonTooMany)
		for _, r := range b.Rescan {
			if !slices.Contains([]string{"a", "b", "c"}, r) {
				t.Errorf("rescan of %q, want only the folders of the storm", r)
			}
		}
	}
	if !collapsed {
		t.Errorf("no batch collapsed to rescans: %d batches", len(bs))
	}
	for _, f := range files {
		if !slices.ContainsFunc(bs, func(b Batch) bool { return reports(b, f) }) {
			t.Fatalf("%s lost", f)
		}
	}
}

// TestNewFolderFilledBeforeWatch: files created in a new folder before its
// watch could be added are found through Rescan, and the deep folders get
// watches.
func TestNewFolderFilledBeforeWatch(t *testing.T) {
	root := t.TempDir()
	w := start(t, root, testOptions(), defaultTuning)

	var files []string
	must(t, os.MkdirAll(filepath.Join(root, "n/a/b/c"), 0o755))
	for _, d := range []string{"n", "n/a", "n/a/b", "n/a/b/c"} {
		for i := range 50 {
			rel := fmt.Sprintf("%s/f%d", d, i)
			must(t, os.WriteFile(filepath.Join(root, rel), nil, 0o644))
			files = append(files, rel)
		}
	}
	bs := settle(t, w, root)
	paths, rescan, _ := union(bs)
	if !slices.Equal(rescan, []string{"n"}) {
		t.Errorf("rescan %q, want [n]", rescan)
	}
	for _, p := range paths {
		if !slices.Contains(files, p) {
			t.Errorf("unexpected path %q", p)
		}
	}
	for _, f := range files {
		if !slices.ContainsFunc(bs, func(b Batch) bool { return reports(b, f) }) {
			t.Errorf("%s not reported", f)
		}
	}

	write(t, root, "n/a/b/c/late", "x")
	if paths, rescan, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"n/a/b/c/late"}) || len(rescan) != 0 {
		t.Errorf("write in a deep new folder: paths %q rescan %q, want [n/a/b/c/late]", paths, rescan)
	}
}

// TestExpect: the agent's own writes are not reported back, a later real
// change is.
func TestExpect(t *testing.T) {
	root := t.TempDir()
	write(t, root, "old.txt", "x")
	write(t, root, "other.txt", "x")
	w := start(t, root, testOptions(), defaultTuning)

	mtime := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	// A download: temporary file, mtime set, renamed into place.
	w.Expect("dl.bin", 5, mtime)
	write(t, root, "sub/.dovetail.tmp.7", "hello")
	must(t, os.Chtimes(filepath.Join(root, "sub/.dovetail.tmp.7"), mtime, mtime))
	w.Expect("sub/dl.bin", 5, mtime)
	must(t, os.Rename(filepath.Join(root, "sub/.dovetail.tmp.7"), filepath.Join(root, "sub/dl.bin")))
	// A local delete by the agent.
	w.Expect("old.txt", -1, time.Time{})
	must(t, os.Remove(filepath.Join(root, "old.txt")))
	// An expectation that the file does not meet.
	w.Expect("other.txt", 1, mtime)
	write(t, root, "other.txt", "changed")

	paths, rescan, _ := union(settle(t, w, root))
	if !slices.Equal(paths, []string{"other.txt"}) || !slices.Equal(rescan, []string{"sub"}) {
		t.Errorf("got paths %q rescan %q, want paths [other.txt] rescan [sub] (the new folder)", paths, rescan)
	}

	// The agent writes in place too.
	w.Expect("sub/dl.bin", 6, mtime)
	write(t, root, "sub/dl.bin", "hello!")
	must(t, os.Chtimes(filepath.Join(root, "sub/dl.bin"), mtime, mtime))
	if paths, _, _ := union(settle(t, w, root)); len(paths) != 0 {
		t.Errorf("agent's own write reported: %q", paths)
	}

	// The user changes it afterwards: reported, though the expectation
	// has not expired.
	write(t, root, "sub/dl.bin", "user edit")
	if paths, _, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"sub/dl.bin"}) {
		t.Errorf("user's change after the agent's: got %q, want [sub/dl.bin]", paths)
	}
}

// TestOverflow forces a real kernel queue overflow (the reading of events
// is held while more files are created than the queue holds): it must
// produce Rescan [""], and folders created meanwhile get their watches.
func TestOverflow(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("no inotify here: %v", err)
	}
	queue, err := strconv.Atoi(strings.TrimSpace(string(b)))
	must(t, err)
	root := t.TempDir()
	must(t, os.Mkdir(filepath.Join(root, "flood"), 0o755))
	tune := defaultTuning
	hold := make(chan chan struct{})
	tune.hold = hold
	w := start(t, root, testOptions(), tune)

	release := make(chan struct{})
	hold <- release
	// fsnotify reads up to 4096 events ahead of its consumer; then the
	// kernel queue fills.
	for i := range queue + 4096 + 2000 {
		f, err := os.Create(filepath.Join(root, "flood", strconv.Itoa(i)))
		must(t, err)
		must(t, f.Close())
	}
	// Created while events are being dropped: no event will say so.
	must(t, os.MkdirAll(filepath.Join(root, "lost/sub"), 0o755))
	close(release)

	for {
		b := next(t, w)
		if slices.Equal(b.Rescan, []string{""}) {
			if !strings.Contains(b.Reason, ReasonOverflow) {
				t.Errorf("rescan of the root for %q, want %q", b.Reason, ReasonOverflow)
			}
			break
		}
	}
	settle(t, w, root)
	write(t, root, "lost/sub/f", "x")
	if paths, rescan, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"lost/sub/f"}) || len(rescan) != 0 {
		t.Errorf("after the overflow, a write in a folder created meanwhile: paths %q rescan %q, want [lost/sub/f]", paths, rescan)
	}
}

// syncBuffer is a log sink shared with the watcher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWatchLimit: a folder that cannot be watched (ENOSPC, as the kernel
// answers at max_user_watches) is reported, rescanned periodically, and
// watched once the limit allows.
func TestWatchLimit(t *testing.T) {
	root := t.TempDir()
	write(t, root, "big/sub/f", "x")
	write(t, root, "small/f", "x")
	var limited atomic.Bool
	limited.Store(true)
	big := filepath.Join(root, "big")
	tune := defaultTuning
	tune.failAdd = func(abs string) error {
		if limited.Load() && strings.HasPrefix(abs, big) {
			return syscall.ENOSPC
		}
		return nil
	}
	tune.retryUnwatched = 300 * time.Millisecond
	var logs syncBuffer
	opts := testOptions()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w := start(t, root, opts, tune)

	if got := w.Unwatched(); !slices.Equal(got, []string{"big"}) {
		t.Errorf("Unwatched() = %q, want [big]", got)
	}
	if log := logs.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "max_user_watches") ||
		!strings.Contains(log, "sysctl fs.inotify.max_user_watches=") || !strings.Contains(log, `\"big\"`) {
		t.Errorf("no clear warning naming the folder and the sysctl; log:\n%s", log)
	}
	b := next(t, w)
	if !slices.Equal(b.Rescan, []string{"big"}) || !strings.Contains(b.Reason, ReasonWatchLimit) {
		t.Errorf("first batch %+v, want rescan [big] for %q", b, ReasonWatchLimit)
	}
	// The fallback: rescans keep coming while the folder has no watch.
	b = next(t, w)
	if !slices.Equal(b.Rescan, []string{"big"}) {
		t.Errorf("periodic batch %+v, want rescan [big]", b)
	}

	limited.Store(false)
	deadline := time.Now().Add(wait)
	for len(w.Unwatched()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still unwatched after the limit was lifted: %q", w.Unwatched())
		}
		next(t, w)
	}
	settle(t, w, root)
	write(t, root, "big/sub/g", "x")
	if paths, rescan, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"big/sub/g"}) || len(rescan) != 0 {
		t.Errorf("once watched: paths %q rescan %q, want [big/sub/g]", paths, rescan)
	}
}

// TestBlockedFolderRetriedOnChmod: a folder that could not be watched (a
// permission) is tried again as soon as its permissions change, without
// waiting for the periodic retry.
func TestBlockedFolderRetriedOnChmod(t *testing.T) {
	root := t.TempDir()
	write(t, root, "locked/sub/f", "x")
	var denied atomic.Bool
	denied.Store(true)
	locked := filepath.Join(root, "locked")
	tune := defaultTuning
	tune.failAdd = func(abs string) error {
		if denied.Load() && abs == locked {
			return syscall.EACCES
		}
		return nil
	}
	w := start(t, root, testOptions(), tune)
	if got := w.Unwatched(); !slices.Equal(got, []string{"locked"}) {
		t.Fatalf("Unwatched() = %q, want [locked]", got)
	}
	if b := next(t, w); !slices.Equal(b.Rescan, []string{"locked"}) || !strings.Contains(b.Reason, ReasonNotWatched) {
		t.Errorf("first batch %+v, want rescan [locked] for %q", b, ReasonNotWatched)
	}

	denied.Store(false)
	must(t, os.Chmod(locked, 0o750))
	if _, rescan, _ := union(settle(t, w, root)); !slices.Equal(rescan, []string{"locked"}) {
		t.Errorf("after chmod: rescan %q, want [locked]", rescan)
	}
	if got := w.Unwatched(); len(got) != 0 {
		t.Errorf("Unwatched() = %q after chmod, want none", got)
	}
	write(t, root, "locked/sub/g", "x")
	if paths, rescan, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"locked/sub/g"}) || len(rescan) != 0 {
		t.Errorf("once watched: paths %q rescan %q, want [locked/sub/g]", paths, rescan)
	}
}

// TestRootLost: a root removed, or renamed away and replaced, becomes
// Rescan [""], and the new root is watched.
func TestRootLost(t *testing.T) {
	cases := []struct {
		name   string
		remove func(t *testing.T, root, outside string)
	}{
		{"removed", func(t *testing.T, root, _ string) { must(t, os.RemoveAll(root)) }},
		{"renamed away", func(t *testing.T, root, outside string) {
			must(t, os.Rename(root, filepath.Join(outside, "old")))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			outside := t.TempDir()
			write(t, root, "a/f", "x")
			tune := defaultTuning
			tune.rootRetry = 100 * time.Millisecond
			w := start(t, root, testOptions(), tune)

			tc.remove(t, root, outside)
			for b := next(t, w); !slices.Equal(b.Rescan, []string{""}); b = next(t, w) {
			}
			must(t, os.MkdirAll(filepath.Join(root, "a"), 0o755))
			for b := next(t, w); !strings.Contains(b.Reason, ReasonRootReplaced); b = next(t, w) {
				if !slices.Equal(b.Rescan, []string{""}) {
					t.Errorf("while the root is lost: %+v", b)
				}
			}
			settle(t, w, root)
			write(t, root, "a/new", "x")
			if _, err := os.Stat(filepath.Join(outside, "old")); err == nil {
				write(t, outside, "old/a/stale", "x")
			}
			if paths, rescan, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"a/new"}) || len(rescan) != 0 {
				t.Errorf("in the new root: paths %q rescan %q, want [a/new]", paths, rescan)
			}
		})
	}
}

// TestRootReplacedWithoutEvent: a root whose identity changes without an
// event reaching its watch (as with a mount over it) is noticed by the
// periodic check.
func TestRootReplacedWithoutEvent(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "parent", "root")
	write(t, root, "f", "x")
	tune := defaultTuning
	tune.rootCheck = 100 * time.Millisecond
	w := start(t, root, testOptions(), tune)

	// Renaming the parent moves the root without telling its own watch.
	must(t, os.Rename(filepath.Join(top, "parent"), filepath.Join(top, "parent.old")))
	write(t, root, "g", "x")
	for b := next(t, w); !strings.Contains(b.Reason, ReasonRootReplaced); b = next(t, w) {
	}
	settle(t, w, root)
	write(t, root, "h", "x")
	write(t, top, "parent.old/root/stale", "x")
	if paths, rescan, _ := union(settle(t, w, root)); !slices.Equal(paths, []string{"h"}) || len(rescan) != 0 {
		t.Errorf("in the new root: paths %q rescan %q, want [h]", paths, rescan)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "file", "x")
	cases := []struct {
		root string
		kind connectors.ErrorKind
	}{
		{filepath.Join(dir, "missing"), connectors.NotFound},
		{filepath.Join(dir, "file"), connectors.Exists},
	}
	for _, tc := range cases {
		w, err := New(tc.root, Options{})
		if err == nil {
			w.Close()
			t.Errorf("New(%s) succeeded", tc.root)
			continue
		}
		if k := connectors.KindOf(err); k != tc.kind || !strings.Contains(err.Error(), tc.root) {
			t.Errorf("New(%s) = %v (kind %v), want kind %v naming the path", tc.root, err, k, tc.kind)
		}
	}
}

// TestClose: Close stops every goroutine and closes Batches, even with a
// batch waiting for a reader.
func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()
	root := t.TempDir()
	w, err := New(root, testOptions())
	must(t, err)
	// A batch is pending or ready and nobody reads it: Close must not care.
	write(t, root, "unread", "x")
	must(t, w.Close())
	must(t, w.Close())
	select {
	case _, ok := <-w.Batches():
		for ok {
			_, ok = <-w.Batches()
		}
	case <-time.After(wait):
		t.Fatal("Batches not closed")
	}
	if w.Err() != nil {
		t.Errorf("Err after Close = %v, want nil", w.Err())
	}
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
