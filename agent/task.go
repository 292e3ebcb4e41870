// Package agent is the continuous side of Dovetail: it keeps sync tasks
// running, each a pair of folders watched for changes (or polled, or run on
// a schedule), and answers the control API that the CLI, the tray and the
// web UI use.
//
// A task's changes flow as the architecture describes: a watcher (or a
// poller) reports paths that may have changed; they are written to the
// pair's journal in the state DB before anything else happens, so a crash
// or restart loses none; a cycle then takes the journal, syncs just those
// paths (engine.Pair.RunScope) and clears what it covered. A full run at
// start-up, at every rescan period and after every watcher failure is the
// safety net.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/agent/transfer"
	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/statedb"
)

// Change is one batch of paths that may have changed on a side.
type Change struct {
	Paths []string
	// Rescan holds folders whose whole contents must be listed again;
	// "" is the whole tree.
	Rescan []string
	Reason string
}

// Source reports the changes of one side of a task: a file-system
// watcher, or anything else that can tell which paths may have changed.
type Source interface {
	// Next blocks until the next batch of changes or until ctx ends.
	Next(ctx context.Context) (Change, error)
	// Expect tells the source that the agent itself is writing rel with
	// this size and time, so the write is not reported back as a change.
	Expect(rel string, size int64, mtime time.Time)
	Close() error
}

// Spec is one task as the agent runs it.
type Spec struct {
	Name string
	// Pair is the engine pair, complete with connectors and state DB.
	// The task copies it for each run.
	Pair *engine.Pair
	// Watch opens the change sources of each side; a nil function (or a
	// nil Source) means that side is not watched: a remote with a change
	// feed (connectors.ChangeFeed) is followed through it every Poll, and
	// any other side is listed in full every Poll.
	Watch [2]func() (Source, error)
	// Poll is the period of full runs when a side is not watched
	// (default 1 minute).
	Poll time.Duration
	// Rescan is the period of full runs as a safety net (default 1 hour).
	Rescan time.Duration
	// Next, if set, makes the task scheduled rather than continuous: it
	// returns the time of the next run after t (a cron schedule).
	Next func(t time.Time) time.Time
	// Allowed, if set, says whether a transfer may start at t (sync
	// windows); NextAllowed returns when it next may.
	Allowed     func(t time.Time) bool
	NextAllowed func(t time.Time) time.Time
	// Disabled tasks are listed but never run.
	Disabled bool
	// Connect, if set, opens the remote side before the first run (a
	// network connection); the task retries it with a growing delay until
	// it succeeds, showing the reason as its error meanwhile. The returned
	// function closes the connection when the task stops.
	Connect func(ctx context.Context) (connectors.Connector, func() error, error)
	// OnRun, if set, is called after each run with its report and error
	// (the one-shot style summary of `dovetail sync --watch`).
	OnRun func(rep *engine.Report, full bool, err error)
}

// State names what a task is doing.
type State string

const (
	StateIdle     State = "idle"
	StateScanning State = "scanning"
	StateSyncing  State = "syncing"
	StatePaused   State = "paused"
	StateWaiting  State = "waiting"
	StateError    State = "error"
	StateDisabled State = "disabled"
)

// Status is a snapshot of a task.
type Status struct {
	Name        string
	State       State
	Err         string // why the last run failed, and what to do
	LastSync    time.Time
	NextRun     time.Time
	FilesDone   int
	FilesTotal  int
	BytesDone   int64
	BytesTotal  int64
	Current     string
	Problems    int
	Runs        int // completed runs since start
	FullRuns    int
	LastChanged int // actions applied by the last run
}

// Task runs one Spec until its context ends.
type Task struct {
	spec Spec
	log  *slog.Logger

	kick   chan struct{} // a cycle is wanted
	full   chan struct{} // a full run is wanted (capacity 1)
	mu     sync.Mutex
	st     Status
	paused bool
	force  bool // the next run overrides the safety guards
	now    bool // the next run starts even outside the sync windows

	sources [2]Source
}

// NewTask prepares a task; Run starts it.
func NewTask(spec Spec, log *slog.Logger) *Task {
	if spec.Poll <= 0 {
		spec.Poll = time.Minute
	}
	if spec.Rescan <= 0 {
		spec.Rescan = time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Task{spec: spec, log: log.With("task", spec.Name),
		kick: make(chan struct{}, 1), full: make(chan struct{}, 1)}
	t.st = Status{Name: spec.Name, State: StateIdle}
	if spec.Disabled {
		t.st.State = StateDisabled
	}
	return t
}

// Name returns the task's name.
func (t *Task) Name() string { return t.spec.Name }

// Status returns a snapshot of the task's state.
func (t *Task) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

func (t *Task) setState(s State, err string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == StateIdle && t.paused {
		s = StatePaused // paused while it ran
	}
	t.st.State, t.st.Err = s, err
	if s == StateIdle || s == StatePaused || s == StateWaiting {
		t.st.FilesDone, t.st.FilesTotal, t.st.BytesDone, t.st.BytesTotal, t.st.Current = 0, 0, 0, 0, ""
	}
}

// RunNow asks for a full run as soon as possible (also outside a sync
// window); force overrides the safety guards for that one run.
func (t *Task) RunNow(force bool) {
	t.mu.Lock()
	t.force = t.force || force
	t.now = true
	t.mu.Unlock()
	t.wantFull()
}

// Pause stops the task from starting runs; a run in progress finishes.
func (t *Task) Pause() {
	t.mu.Lock()
	t.paused = true
	if t.st.State == StateIdle || t.st.State == StateWaiting || t.st.State == StateError {
		t.st.State = StatePaused
	}
	t.mu.Unlock()
}

// Resume lets a paused task run again; what changed meanwhile is synced.
func (t *Task) Resume() {
	t.mu.Lock()
	t.paused = false
	if t.st.State == StatePaused {
		t.st.State = StateIdle
	}
	t.mu.Unlock()
	t.poke()
}

func (t *Task) poke() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

func (t *Task) wantFull() {
	select {
	case t.full <- struct{}{}:
	default:
	}
	t.poke()
}

// Run runs the task until ctx ends. It returns nil on a clean stop.
func (t *Task) Run(ctx context.Context) error {
	if t.spec.Disabled {
		<-ctx.Done()
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if t.spec.Connect != nil {
		closeFn, err := t.connect(ctx)
		if err != nil {
			return nil // stopped while connecting
		}
		if closeFn != nil {
			defer closeFn()
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	continuous := t.spec.Next == nil
	watched := 0
	if continuous {
		for s, open := range t.spec.Watch {
			if feed, ok := t.spec.Pair.Remote.(connectors.ChangeFeed); ok && open == nil && s == int(reconcile.Remote) {
				// A remote that reports its changes is followed through
				// its feed rather than listed at every poll.
				open = func() (Source, error) { return FeedSource(ctx, feed, t.spec.Pair.DB, t.spec.Poll, t.log) }
			}
			if open == nil {
				continue
			}
			src, err := open()
			if err != nil {
				// Not fatal: the side is polled instead, and the reason logged.
				t.log.Warn("cannot watch for changes; polling instead", "side", reconcile.Side(s).String(), "err", err)
				continue
			}
			if src == nil {
				continue
			}
			t.sources[s] = src
			watched++
			defer src.Close()
			wg.Go(func() { t.follow(ctx, reconcile.Side(s), src) })
		}
	}
	// Every start of a continuous task is a full run: what changed while
	// the agent was not running is found, and the journal of a killed run
	// is resumed. A scheduled task waits for its time.
	if continuous {
		t.wantFull()
	}

	var pollC, rescanC <-chan time.Time
	if continuous {
		period := t.spec.Rescan
		if watched < 2 {
			period = min(period, t.spec.Poll)
		}
		tk := time.NewTicker(period)
		defer tk.Stop()
		rescanC = tk.C
	}
	var nextTimer *time.Timer
	schedule := func() {
		if t.spec.Next == nil {
			return
		}
		next := t.spec.Next(time.Now())
		t.mu.Lock()
		t.st.NextRun = next
		t.mu.Unlock()
		if nextTimer != nil {
			nextTimer.Stop()
		}
		nextTimer = time.NewTimer(time.Until(next))
		pollC = nextTimer.C
	}
	schedule()
	var retry *time.Timer
	var retryC <-chan time.Time
	backoff := time.Minute
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-pollC:
			schedule()
			t.wantFull()
		case <-rescanC:
			t.wantFull()
		case <-retryC:
			retryC = nil
			t.wantFull()
		case <-t.kick:
			if !continuous && len(t.full) == 0 {
				// A scheduled task runs at its times and on demand only.
				continue
			}
			wait, err := t.cycle(ctx)
			if ctx.Err() != nil {
				return nil
			}
			switch {
			case err != nil || wait > 0:
				// Retry later: a failed run with a growing backoff, a
				// closed window at its next opening.
				d := wait
				if err != nil {
					d = backoff
					backoff = min(backoff*2, time.Hour)
				}
				if retry != nil {
					retry.Stop()
				}
				retry = time.NewTimer(d)
				retryC = retry.C
			default:
				backoff = time.Minute
			}
		}
	}
}

// connect opens the remote with Spec.Connect, retrying with a growing
// delay (or at once on RunNow) until it works or ctx ends.
func (t *Task) connect(ctx context.Context) (func() error, error) {
	backoff := 5 * time.Second
	for {
		c, closeFn, err := t.spec.Connect(ctx)
		if err == nil {
			t.spec.Pair.Remote = c
			t.setState(StateIdle, "")
			return closeFn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t.log.Error("cannot connect to the remote; retrying", "in", backoff.String(), "err", err)
		t.setState(StateError, fmt.Sprintf("cannot connect to the remote (retrying in %s): %v", backoff, err))
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-t.full:
		case <-timer.C:
		}
		timer.Stop()
		backoff = min(backoff*2, 10*time.Minute)
	}
}

// follow records one source's changes in the journal and asks for a cycle.
func (t *Task) follow(ctx context.Context, side reconcile.Side, src Source) {
	for {
		ch, err := src.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			t.log.Warn("watching for changes failed; a full run will find what was missed", "side", side.String(), "err", err)
			t.wantFull()
			return
		}
		if err := t.record(ctx, side, ch); err != nil {
			t.log.Error("recording changes in the journal failed; a full run will find them", "err", err)
			t.wantFull()
			continue
		}
		if ch.Reason != "" {
			t.log.Info("rescanning", "side", side.String(), "reason", ch.Reason, "folders", len(ch.Rescan))
		}
		t.poke()
	}
}

// record writes a batch of changes to the journal.
func (t *Task) record(ctx context.Context, side reconcile.Side, ch Change) error {
	now := time.Now()
	return t.spec.Pair.DB.Update(ctx, func(tx *statedb.Tx) error {
		for _, p := range ch.Paths {
			if err := tx.MarkDirty(statedb.Dirty{Side: side.String(), Path: p, Time: now}); err != nil {
				return err
			}
		}
		for _, p := range ch.Rescan {
			if err := tx.MarkDirty(statedb.Dirty{Side: side.String(), Path: p, Subtree: true, Time: now}); err != nil {
				return err
			}
		}
		return nil
	})
}

// cycle runs once if the task may: a full run when one was asked for,
// otherwise the journal's paths. It returns how long to wait before trying
// again when a sync window is closed, and the run's error.
func (t *Task) cycle(ctx context.Context) (time.Duration, error) {
	t.mu.Lock()
	paused, force, now := t.paused, t.force, t.now
	t.mu.Unlock()
	if paused {
		t.setState(StatePaused, "")
		return 0, nil
	}
	full := false
	select {
	case <-t.full:
		full = true
	default:
	}
	if t.spec.Allowed != nil && !now && !t.spec.Allowed(time.Now()) {
		if full {
			t.wantFull() // keep the request for when the window opens
		}
		next := time.Now().Add(time.Hour)
		if t.spec.NextAllowed != nil {
			next = t.spec.NextAllowed(time.Now())
		}
		t.mu.Lock()
		t.st.NextRun = next
		t.mu.Unlock()
		t.setState(StateWaiting, "")
		return max(time.Until(next), time.Second), nil
	}
	db := t.spec.Pair.DB
	dirty, err := db.Journal(ctx)
	if err != nil {
		t.setState(StateError, err.Error())
		return 0, err
	}
	var scope []engine.Scope
	for _, d := range dirty {
		if d.Path == "" {
			full = true
		}
		scope = append(scope, engine.Scope{Path: d.Path, Tree: d.Subtree})
	}
	if !full && len(scope) == 0 {
		t.setState(StateIdle, "")
		return 0, nil
	}
	rep, err := t.runOnce(ctx, full, scope, force)
	if ctx.Err() != nil {
		return 0, nil
	}
	if t.spec.OnRun != nil {
		t.spec.OnRun(rep, full, err)
	}
	if err != nil {
		msg := err.Error()
		if engine.IsGuard(err) {
			msg += fmt.Sprintf(" For the agent: dovetail task run --force %s", t.spec.Name)
		}
		t.log.Error("sync failed", "err", err)
		t.setState(StateError, msg)
		return 0, err
	}
	if force || now {
		t.mu.Lock()
		t.force, t.now = false, false
		t.mu.Unlock()
	}
	if err := db.Update(ctx, func(tx *statedb.Tx) error { return tx.ClearDirty(dirty) }); err != nil {
		t.setState(StateError, err.Error())
		return 0, err
	}
	t.mu.Lock()
	t.st.LastSync = time.Now()
	t.st.Runs++
	if full {
		t.st.FullRuns++
	}
	t.st.Problems = len(rep.Problems)
	t.st.LastChanged = len(rep.Outcomes)
	t.mu.Unlock()
	if rep.Failed() {
		t.setState(StateError, failureSummary(rep))
		return 0, errors.New("some paths failed")
	}
	t.setState(StateIdle, "")
	return 0, nil
}

// runOnce runs the engine once with progress reported into the status.
func (t *Task) runOnce(ctx context.Context, full bool, scope []engine.Scope, force bool) (*engine.Report, error) {
	p := *t.spec.Pair
	p.Force = p.Force || force
	t.setState(StateScanning, "")
	p.Planned = func(plan reconcile.Plan) {
		var files int
		var bytes int64
		for _, a := range plan.Actions {
			if a.Op == reconcile.OpCopy {
				files++
				if src := source(a); src != nil {
					bytes += src.Size
				}
			}
		}
		t.mu.Lock()
		t.st.State, t.st.FilesTotal, t.st.BytesTotal = StateSyncing, files, bytes
		t.mu.Unlock()
	}
	p.BeforeWrite = func(side reconcile.Side, path string, size int64, mtime time.Time) {
		if w := t.sources[side]; w != nil {
			w.Expect(path, size, mtime)
		}
	}
	p.Progress = func(o transfer.Outcome) {
		a := o.Action
		t.mu.Lock()
		if a.Op == reconcile.OpCopy {
			t.st.FilesDone++
		}
		t.st.BytesDone += o.Bytes
		t.st.Current = a.Path
		t.mu.Unlock()
	}
	if full {
		t.log.Debug("full run")
		return p.Run(ctx)
	}
	t.log.Debug("run", "paths", len(scope))
	return p.RunScope(ctx, scope)
}

// source is the entry a copy reads from.
func source(a reconcile.Action) *connectors.Entry {
	if a.Side == reconcile.Local {
		return a.Remote
	}
	return a.Local
}

// failureSummary says which paths failed, for the status line.
func failureSummary(rep *engine.Report) string {
	var first string
	n := 0
	for _, o := range rep.Outcomes {
		if o.Err != nil {
			if n == 0 {
				first = o.Err.Error()
			}
			n++
		}
	}
	for _, p := range rep.Problems {
		if !p.Skipped {
			if n == 0 {
				first = p.Path + ": " + p.Err.Error()
			}
			n++
		}
	}
	if n == 1 {
		return first
	}
	return fmt.Sprintf("%d paths failed; the first: %s (see dovetail history)", n, first)
}
