package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Options tune a Watcher. The zero value is usable.
type Options struct {
	// Debounce is the quiet period that closes a batch (default 150ms).
	Debounce time.Duration
	// MaxDelay bounds how long after its first event a batch is delivered,
	// even while events keep coming (default 1s).
	MaxDelay time.Duration
	// Skip, if set, names paths not to watch or report: Dovetail's own
	// state folder, its temporary files, folders the user excludes. isDir
	// is true when rel is known to be a folder. A skipped folder is not
	// watched, so nothing inside it is reported either.
	Skip func(rel string, isDir bool) bool
	// Logger receives warnings (watch limit, overflow, root lost); nil
	// discards them.
	Logger *slog.Logger
}

// Default timings.
const (
	DefaultDebounce = 150 * time.Millisecond
	DefaultMaxDelay = time.Second
)

// tuning holds the internals that tests adjust; production uses
// defaultTuning.
type tuning struct {
	// failAdd, if set, is asked before each watch is added and may fail
	// it (tests simulate the watch limit).
	failAdd func(abs string) error
	// hold, when it receives a channel, stops reading events until that
	// channel is closed (tests use it to overflow the kernel queue).
	hold chan chan struct{}
	// rootCheck is how often the root's identity is checked (an unmount or
	// a mount over the root raises no event); rootRetry how often a missing
	// root is looked for; retryUnwatched how often folders without a watch
	// are rescanned and a watch tried again.
	rootCheck, rootRetry, retryUnwatched time.Duration
	// maxPaths pending paths collapse into rescans of their folders;
	// beyond maxRescan pending rescans, the whole root is rescanned.
	maxPaths, maxRescan int
	// expectTTL is how long an Expect holds.
	expectTTL time.Duration
}

var defaultTuning = tuning{
	rootCheck:      30 * time.Second,
	rootRetry:      2 * time.Second,
	retryUnwatched: time.Minute,
	maxPaths:       50_000,
	maxRescan:      5_000,
	expectTTL:      5 * time.Second,
}

// Watcher watches one folder tree and delivers batches of paths that may
// have changed. Its methods may be called from any goroutine.
type Watcher struct {
	root  string // absolute and clean
	sep   string // root + path separator: the prefix of every event name
	opts  Options
	tune  tuning
	log   *slog.Logger
	fsn   *fsnotify.Watcher
	out   chan Batch
	quit  chan struct{}
	done  chan struct{}
	close sync.Once

	mu        sync.Mutex
	expect    map[string]expectation
	unwatched map[string]error // folder → why it has no watch
	err       error            // why the watcher stopped on its own

	// Owned by the run goroutine (and by New before it starts).
	rootInfo    os.FileInfo                    // nil while the root is missing
	dirs        map[string]map[string]struct{} // watched folder → its watched subfolders
	skipped     map[string]struct{}            // folders Skip excluded
	unlisted    map[string]struct{}            // watched folders that could not be listed
	pend        *pending
	afterRename bool // the previous event was a rename away (its pair may follow)
	warnedLimit bool
	rearm       bool      // the slow timer's period changed (root lost, folders unwatched)
	nextRetry   time.Time // when unwatched folders are next rescanned and retried
}

// expectation is a write the agent announced (see Expect).
type expectation struct {
	size  int64 // < 0: the agent removed the path
	mtime time.Time
	until time.Time
}

// New watches the folder tree at root. It returns once every folder has a
// watch, so any change made after New returns is reported. It fails when
// root does not exist or is not a folder, or when no inotify instance can
// be created (fs.inotify.max_user_instances).
func New(root string, opts Options) (*Watcher, error) {
	return newWatcher(root, opts, defaultTuning)
}

func newWatcher(root string, opts Options, tune tuning) (*Watcher, error) {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, connectors.Wrap("watch", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, connectors.Wrap("watch", abs, err)
	}
	if !fi.IsDir() {
		return nil, connectors.Errorf(connectors.Exists, "watch", abs, "not a folder")
	}
	fsn, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, connectors.Wrap("watch", abs, fmt.Errorf("%w (too many inotify instances? see fs.inotify.max_user_instances)", err))
	}
	w := &Watcher{
		root:      abs,
		sep:       strings.TrimSuffix(abs, string(filepath.Separator)) + string(filepath.Separator),
		opts:      opts,
		tune:      tune,
		log:       log.With("component", "watch", "root", abs),
		fsn:       fsn,
		out:       make(chan Batch),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		expect:    make(map[string]expectation),
		unwatched: make(map[string]error),
		rootInfo:  fi,
		dirs:      make(map[string]map[string]struct{}),
		skipped:   make(map[string]struct{}),
		unlisted:  make(map[string]struct{}),
		pend:      newPending(tune.maxPaths, tune.maxRescan),
	}
	now := time.Now()
	w.watchTree(now, "")
	if _, ok := w.dirs[""]; !ok {
		// Not even the root could be watched: nothing would ever be reported.
		err := w.unwatched[""]
		fsn.Close()
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("%w: inotify watch limit reached (raise fs.inotify.max_user_watches)", err)
		}
		return nil, connectors.Wrap("watch", abs, err)
	}
	// The folders that could not be watched were put in the first batch;
	// the consumer's own start-up scan covers the rest.
	go w.run()
	return w, nil
}

// Batches delivers the batches. It is closed by Close, or earlier if the
// watcher fails for good (then Err says why).
func (w *Watcher) Batches() <-chan Batch { return w.out }

// Err returns why the Batches channel was closed before Close was called,
// or nil.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Expect announces the agent's own write of rel (slash-separated, relative
// to the root): the file will have this size and modification time. Events
// for rel are then dropped as long as rel still has that size and time,
// for a few seconds, so the agent's writes are not reported back as
// changes; any other state of rel is reported as usual. A negative size
// announces that the agent removes rel: events are dropped while rel does
// not exist. Call it before the write becomes visible at rel (before the
// final rename). Folders the agent creates are still rescanned.
func (w *Watcher) Expect(rel string, size int64, mtime time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expect[rel] = expectation{size: size, mtime: mtime, until: time.Now().Add(w.tune.expectTTL)}
}

// Unwatched lists the folders (relative, sorted) that have no watch
// because it could not be added (the inotify watch limit, a permission):
// they are rescanned periodically instead, and a watch tried again.
func (w *Watcher) Unwatched() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	dirs := make([]string, 0, len(w.unwatched))
	for rel := range w.unwatched {
		dirs = append(dirs, rel)
	}
	slices.Sort(dirs)
	return dirs
}

// Close stops the watcher, releases its watches and closes the Batches
// channel. It may be called more than once.
func (w *Watcher) Close() error {
	w.close.Do(func() { close(w.quit) })
	<-w.done
	if err := w.fsn.Close(); err != nil {
		return connectors.Wrap("watch", w.root, err)
	}
	return nil
}

// run is the watcher's one goroutine: it owns the folder set and the
// pending batch. Timers run only while a batch is pending, plus a slow one
// for the root's identity and unwatched folders.
func (w *Watcher) run() {
	defer close(w.done)
	defer close(w.out)

	flush := time.NewTimer(time.Hour)
	flush.Stop()
	defer flush.Stop()
	flushArmed := false
	maint := time.NewTimer(w.maintPeriod())
	defer maint.Stop()
	var ready *Batch

	for {
		if ready == nil && !w.pend.empty() {
			now := time.Now()
			if d := w.pend.due(w.opts.Debounce, w.opts.MaxDelay).Sub(now); d <= 0 {
				if b, ok := w.pend.take(w.dropper(now)); ok {
					ready = &b
				}
			} else if !flushArmed {
				flush.Reset(d)
				flushArmed = true
			}
		}
		var out chan<- Batch
		var b Batch
		if ready != nil {
			out, b = w.out, *ready
		}

		select {
		case <-w.quit:
			return
		case out <- b:
			ready = nil
		case <-flush.C:
			flushArmed = false
		case ev, ok := <-w.fsn.Events:
			if !ok {
				w.fail(errors.New("event channel closed"))
				return
			}
			w.event(time.Now(), ev)
		case err, ok := <-w.fsn.Errors:
			if !ok {
				w.fail(errors.New("error channel closed"))
				return
			}
			w.watchError(time.Now(), err)
		case <-maint.C:
			w.maintain(time.Now())
			maint.Reset(w.maintPeriod())
		case release := <-w.tune.hold:
			select {
			case <-release:
			case <-w.quit:
				return
			}
		}
		if w.rearm {
			w.rearm = false
			maint.Reset(w.maintPeriod())
		}
	}
}

func (w *Watcher) fail(err error) {
	select {
	case <-w.quit:
		return // closing: not a failure
	default:
	}
	w.log.Error("watching stopped", "err", err)
	w.mu.Lock()
	w.err = connectors.Wrap("watch", w.root, err)
	w.mu.Unlock()
}

// event handles one fsnotify event.
func (w *Watcher) event(now time.Time, ev fsnotify.Event) {
	// inotify reports a rename within the watched tree as a rename away of
	// the old name then a create of the new one. A create right after a
	// rename may thus have replaced an existing file: it is not fresh.
	fresh := !w.afterRename
	w.afterRename = ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Create)
	if w.rootInfo == nil {
		return // root lost: the events left are from the old tree
	}
	if ev.Name == w.root {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			w.rootLost(now, ReasonRootRemoved)
		}
		return
	}
	name, ok := strings.CutPrefix(ev.Name, w.sep)
	if !ok || name == "" {
		return // a stale name from a watch that was being removed
	}
	rel := filepath.ToSlash(name)

	if ev.Has(fsnotify.Create) {
		fi, err := os.Lstat(ev.Name)
		if err == nil && fi.IsDir() {
			if w.skip(rel, true) {
				w.skipped[rel] = struct{}{}
				return
			}
			// Files may have been created in it before its watch was in
			// place: the consumer lists it.
			w.watchTree(now, rel)
			w.pend.addRescan(now, rel, ReasonNewFolder)
			return
		}
		if w.skip(rel, false) {
			return
		}
		w.pend.addPath(now, rel, fresh, err != nil)
		return
	}

	isDir := w.knownDir(rel)
	if w.skip(rel, isDir) {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			delete(w.skipped, rel)
		}
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		if isDir {
			// A folder renamed within the tree comes back as a create of
			// its new name; until then its old watches would report events
			// under the old name.
			w.unwatchTree(rel)
		}
		w.pend.addPath(now, rel, false, true)
		return
	}
	if ev.Has(fsnotify.Chmod) && w.blocked(rel) {
		// Its permissions changed: it may be watchable or listable now.
		w.watchTree(now, rel)
		w.pend.addRescan(now, rel, ReasonNotWatched)
		return
	}
	w.pend.addPath(now, rel, false, false) // Write, Chmod
}

// watchError handles an error from fsnotify: every one becomes a rescan.
func (w *Watcher) watchError(now time.Time, err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.log.Warn("too many changes at once: the kernel dropped events; rescanning everything (raising fs.inotify.max_queued_events makes this rarer)")
		w.pend.addRescan(now, "", ReasonOverflow)
	} else {
		w.log.Warn("watch error; rescanning everything", "err", err)
		w.pend.addRescan(now, "", ReasonError)
	}
	if w.rootInfo != nil {
		// Folders created while events were lost have no watch yet.
		w.watchTree(now, "")
	}
}

func (w *Watcher) skip(rel string, isDir bool) bool {
	return w.opts.Skip != nil && w.opts.Skip(rel, isDir)
}

func (w *Watcher) knownDir(rel string) bool {
	if _, ok := w.dirs[rel]; ok {
		return true
	}
	if _, ok := w.skipped[rel]; ok {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.unwatched[rel]
	return ok
}

// blocked reports whether the folder rel could not be watched or listed.
func (w *Watcher) blocked(rel string) bool {
	if _, ok := w.unlisted[rel]; ok {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.unwatched[rel]
	return ok
}

func (w *Watcher) abs(rel string) string {
	if rel == "" {
		return w.root
	}
	return filepath.Join(w.root, filepath.FromSlash(rel))
}

// watchTree adds a watch to the folder rel and to every folder below it
// that Skip does not exclude: one ReadDir per folder, no per-file calls.
// Each folder gets its watch before it is listed, so a subfolder created
// meanwhile is either listed or reported by an event. A folder that cannot
// be watched is recorded as unwatched and rescanned.
func (w *Watcher) watchTree(now time.Time, rel string) {
	stack := []string{rel}
	var failed []string
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		abs := w.abs(dir)
		if err := w.addWatch(abs); err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue // gone already: the event of its parent reports it
			}
			w.mu.Lock()
			w.unwatched[dir] = err
			w.mu.Unlock()
			w.pend.addRescan(now, dir, unwatchedReason(err))
			failed = append(failed, dir)
			continue
		}
		w.addDir(dir)
		delete(w.unlisted, dir)
		w.mu.Lock()
		delete(w.unwatched, dir)
		w.mu.Unlock()
		entries, err := os.ReadDir(abs)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			// Watched but not listable: the consumer's listing meets the
			// same error and reports it. Its subfolders get their watches
			// when a change of its permissions is reported.
			w.log.Debug("cannot list folder", "folder", dir, "err", err)
			w.unlisted[dir] = struct{}{}
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			child := join(dir, e.Name())
			if w.skip(child, true) {
				w.skipped[child] = struct{}{}
				continue
			}
			stack = append(stack, child)
		}
	}
	if len(failed) > 0 {
		w.warnUnwatched(failed)
	}
}

func (w *Watcher) addWatch(abs string) error {
	if w.tune.failAdd != nil {
		if err := w.tune.failAdd(abs); err != nil {
			return err
		}
	}
	return w.fsn.Add(abs)
}

func unwatchedReason(err error) string {
	if errors.Is(err, syscall.ENOSPC) {
		return ReasonWatchLimit
	}
	return ReasonNotWatched
}

// warnUnwatched logs folders left without a watch, loudly the first time
// and then quietly (they are retried every minute).
func (w *Watcher) warnUnwatched(failed []string) {
	level := slog.LevelWarn
	if w.warnedLimit {
		level = slog.LevelDebug
	}
	w.warnedLimit = true
	w.rearm = true
	if w.nextRetry.IsZero() {
		w.nextRetry = time.Now().Add(w.tune.retryUnwatched)
	}
	err := w.unwatchedErr(failed[0])
	if errors.Is(err, syscall.ENOSPC) {
		limit, suggest := "unknown", 524288
		if b, rerr := os.ReadFile("/proc/sys/fs/inotify/max_user_watches"); rerr == nil {
			limit = strings.TrimSpace(string(b))
			if n, perr := strconv.Atoi(limit); perr == nil {
				suggest = max(suggest, 2*n)
			}
		}
		w.log.Log(context.Background(), level, fmt.Sprintf(
			"inotify watch limit reached (fs.inotify.max_user_watches = %s): %d folder(s) not watched, starting with %q; "+
				"they are rescanned every %s instead. Raise the limit, e.g. `sysctl fs.inotify.max_user_watches=%d`, "+
				"and make it permanent in /etc/sysctl.d/",
			limit, len(failed), failed[0], w.tune.retryUnwatched, suggest),
			"folder", failed[0], "count", len(failed))
		return
	}
	w.log.Log(context.Background(), level, fmt.Sprintf("cannot watch %d folder(s); they are rescanned every %s instead", len(failed), w.tune.retryUnwatched),
		"folder", failed[0], "err", err)
}

func (w *Watcher) unwatchedErr(rel string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.unwatched[rel]
}

func (w *Watcher) addDir(rel string) {
	if _, ok := w.dirs[rel]; !ok {
		w.dirs[rel] = nil
	}
	if rel == "" {
		return
	}
	p := parent(rel)
	kids := w.dirs[p]
	if kids == nil {
		kids = make(map[string]struct{})
		w.dirs[p] = kids
	}
	kids[rel] = struct{}{}
}

// unwatchTree forgets the folder rel and everything below it, removing
// their watches: after a rename the kernel's watches follow the folder to
// its new name, where they would report under the old one.
func (w *Watcher) unwatchTree(rel string) {
	stack := []string{rel}
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids, ok := w.dirs[dir]
		if !ok {
			continue
		}
		for k := range kids {
			stack = append(stack, k)
		}
		delete(w.dirs, dir)
		// The watch may be gone already (a removed folder): no matter.
		_ = w.fsn.Remove(w.abs(dir))
	}
	if kids := w.dirs[parent(rel)]; kids != nil && rel != "" {
		delete(kids, rel)
	}
	for d := range w.skipped {
		if under(d, rel) {
			delete(w.skipped, d)
		}
	}
	for d := range w.unlisted {
		if under(d, rel) {
			delete(w.unlisted, d)
		}
	}
	w.mu.Lock()
	for d := range w.unwatched {
		if under(d, rel) {
			delete(w.unwatched, d)
		}
	}
	w.mu.Unlock()
}

// rootLost drops every watch when the root disappears; maintain looks for
// it to come back.
func (w *Watcher) rootLost(now time.Time, reason string) {
	w.log.Warn("the folder being watched is gone; watching for it to come back", "reason", reason)
	w.unwatchTree("")
	clear(w.dirs)
	w.rootInfo = nil
	w.pend.addRescan(now, "", reason)
	w.rearm = true
}

// maintain runs on the slow timer: it re-establishes a lost root, notices
// a root replaced without an event (a mount), and rescans the folders
// that have no watch while trying again to watch them.
func (w *Watcher) maintain(now time.Time) {
	fi, err := os.Stat(w.root)
	switch {
	case w.rootInfo == nil:
		if err != nil || !fi.IsDir() {
			return
		}
		w.rootInfo = fi
		w.log.Info("the folder being watched is back; watching it again")
		w.watchTree(now, "")
		w.pend.addRescan(now, "", ReasonRootReplaced)
		return
	case err != nil || !fi.IsDir():
		w.rootLost(now, ReasonRootRemoved)
		return
	case !os.SameFile(fi, w.rootInfo):
		w.rootLost(now, ReasonRootReplaced)
		w.maintain(now)
		return
	}
	if w.nextRetry.IsZero() || now.Before(w.nextRetry) {
		return
	}
	w.nextRetry = now.Add(w.tune.retryUnwatched)
	for _, dir := range w.Unwatched() {
		// Changes there raise no events: list it, and try to watch it
		// again (the limit may have been raised).
		w.pend.addRescan(now, dir, ReasonNotWatched)
		w.watchTree(now, dir)
	}
	if len(w.Unwatched()) == 0 {
		w.nextRetry = time.Time{}
		w.warnedLimit = false
		w.log.Info("every folder is watched again")
	}
}

func (w *Watcher) maintPeriod() time.Duration {
	switch {
	case w.rootInfo == nil:
		return w.tune.rootRetry
	case !w.nextRetry.IsZero():
		return max(0, min(w.tune.rootCheck, time.Until(w.nextRetry)))
	}
	return w.tune.rootCheck
}

// dropper returns the filter of paths about to be delivered: the agent's
// own writes (Expect) and temporary files that were created and are gone
// again within the batch.
func (w *Watcher) dropper(now time.Time) func(rel string, st pathState) bool {
	w.mu.Lock()
	for rel, e := range w.expect {
		if now.After(e.until) {
			delete(w.expect, rel)
		}
	}
	w.mu.Unlock()
	return func(rel string, st pathState) bool {
		w.mu.Lock()
		e, expected := w.expect[rel]
		w.mu.Unlock()
		transient := st&(stFresh|stGone) == stFresh|stGone
		if !transient && !expected {
			return false
		}
		fi, err := os.Lstat(w.abs(rel))
		absent := errors.Is(err, fs.ErrNotExist)
		if transient && absent {
			return true // came and went within the batch: nothing to sync
		}
		if !expected {
			return false
		}
		if e.size < 0 && absent ||
			e.size >= 0 && err == nil && fi.Mode().IsRegular() && fi.Size() == e.size && sameTime(fi.ModTime(), e.mtime) {
			return true
		}
		// Someone else changed it after the agent: report it, and from now on.
		w.mu.Lock()
		delete(w.expect, rel)
		w.mu.Unlock()
		return false
	}
}

// sameTime compares modification times, allowing for a file system that
// keeps whole seconds only.
func sameTime(got, want time.Time) bool {
	return got.Equal(want) || got.Nanosecond() == 0 && got.Equal(want.Truncate(time.Second))
}
