package agent

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/dovetail-sync/dovetail/agent/api"
	"github.com/dovetail-sync/dovetail/statedb"
)

// ErrUnknownTask is returned for a task name the agent does not run.
var ErrUnknownTask = api.ErrUnknownTask

// Build turns the configuration into task specs. It is called at start
// and on every reload, after the previous tasks have stopped (they hold
// their state files locked); release closes what the specs hold (state
// DBs, connections) once their tasks have stopped.
type Build func(ctx context.Context) (specs []Spec, release func(), err error)

// Check validates the configuration before a reload stops anything: a
// configuration that fails it leaves the running tasks alone.
type Check func(ctx context.Context) error

// Agent supervises the tasks of one configuration.
type Agent struct {
	build Build
	check Check
	log   *slog.Logger

	mu      sync.Mutex
	tasks   []*Task
	stop    context.CancelFunc
	wg      *sync.WaitGroup
	release func()
	ctx     context.Context // the Run context, for tasks started by Reload
}

// New returns an agent that builds its tasks with build; check (optional)
// vets a configuration before a reload.
func New(build Build, check Check, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{build: build, check: check, log: log}
}

// Run builds and runs the tasks until ctx ends, then stops them and
// returns once every task has stopped (each finishes or cancels its
// transfer and commits its state).
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
	if err := a.Reload(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopTasks()
	return nil
}

// Reload builds the tasks again from the configuration and restarts them.
// If the configuration is invalid the running tasks are left as they are
// and the error says what is wrong.
func (a *Agent) Reload(ctx context.Context) error {
	if a.check != nil {
		if err := a.check(ctx); err != nil {
			return err
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopTasks()
	specs, release, err := a.build(ctx)
	if err != nil {
		a.log.Error("no tasks running: building them failed", "err", err)
		return err
	}
	names := map[string]bool{}
	for _, s := range specs {
		if names[s.Name] {
			if release != nil {
				release()
			}
			return fmt.Errorf("two tasks are named %q", s.Name)
		}
		names[s.Name] = true
	}
	runCtx, cancel := context.WithCancel(a.ctx)
	wg := &sync.WaitGroup{}
	tasks := make([]*Task, 0, len(specs))
	for _, s := range specs {
		t := NewTask(s, a.log)
		tasks = append(tasks, t)
		wg.Go(func() {
			if err := t.Run(runCtx); err != nil {
				a.log.Error("task stopped", "task", t.Name(), "err", err)
			}
		})
		a.log.Info("task started", "task", s.Name, "local", s.Pair.LocalName, "remote", s.Pair.RemoteName)
	}
	a.tasks, a.stop, a.wg, a.release = tasks, cancel, wg, release
	return nil
}

// stopTasks stops the running tasks and waits for them; a.mu is held.
func (a *Agent) stopTasks() {
	if a.stop == nil {
		return
	}
	a.stop()
	a.wg.Wait()
	if a.release != nil {
		a.release()
	}
	a.tasks, a.stop, a.wg, a.release = nil, nil, nil, nil
}

// Tasks returns the running tasks in configuration order.
func (a *Agent) Tasks() []*Task {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.tasks)
}

// Task returns the task named name.
func (a *Agent) Task(name string) (*Task, error) {
	for _, t := range a.Tasks() {
		if t.Name() == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTask, name)
}

// The Agent is the api.Controller behind the control socket.
var _ api.Controller = (*Agent)(nil)

// Status returns a snapshot of every task, in configuration order.
func (a *Agent) Status(ctx context.Context) ([]api.TaskStatus, error) {
	tasks := a.Tasks()
	out := make([]api.TaskStatus, 0, len(tasks))
	for _, t := range tasks {
		st := t.Status()
		p := t.spec.Pair
		ts := api.TaskStatus{
			Name: t.Name(), Local: p.LocalName, Remote: p.RemoteName, Direction: p.Options.Direction.String(),
			State: string(st.State), Error: st.Err, Enabled: !t.spec.Disabled,
			LastSync: st.LastSync, NextRun: st.NextRun, Problems: st.Problems,
			Progress: api.Progress{FilesDone: st.FilesDone, FilesTotal: st.FilesTotal,
				BytesDone: st.BytesDone, BytesTotal: st.BytesTotal, Current: st.Current},
		}
		if c, err := p.DB.Conflicts(ctx, true); err == nil {
			ts.Conflicts = len(c)
		}
		out = append(out, ts)
	}
	return out, nil
}

// RunNow asks the task for a full run as soon as possible.
func (a *Agent) RunNow(ctx context.Context, name string) error {
	t, err := a.Task(name)
	if err != nil {
		return err
	}
	if t.spec.Disabled {
		return fmt.Errorf("task %q is disabled in the configuration: set enabled: true and reload", name)
	}
	t.RunNow(false)
	return nil
}

// ForceRun asks the task for a full run that overrides the safety guards.
func (a *Agent) ForceRun(ctx context.Context, name string) error {
	t, err := a.Task(name)
	if err != nil {
		return err
	}
	if t.spec.Disabled {
		return fmt.Errorf("task %q is disabled in the configuration: set enabled: true and reload", name)
	}
	t.RunNow(true)
	return nil
}

// Pause stops the task from starting runs until Resume.
func (a *Agent) Pause(ctx context.Context, name string) error {
	t, err := a.Task(name)
	if err == nil {
		t.Pause()
	}
	return err
}

// Resume lets a paused task run again.
func (a *Agent) Resume(ctx context.Context, name string) error {
	t, err := a.Task(name)
	if err == nil {
		t.Resume()
	}
	return err
}

// History returns up to limit actions of the task (all tasks when name is
// ""), newest first.
func (a *Agent) History(ctx context.Context, name string, limit int) ([]api.HistoryItem, error) {
	var out []api.HistoryItem
	found := false
	for _, t := range a.Tasks() {
		if name != "" && t.Name() != name {
			continue
		}
		found = true
		h, err := t.spec.Pair.DB.History(ctx, limit)
		if err != nil {
			return nil, err
		}
		for _, r := range h {
			out = append(out, historyItem(t.Name(), r))
		}
	}
	if name != "" && !found {
		return nil, fmt.Errorf("%w %q", ErrUnknownTask, name)
	}
	slices.SortStableFunc(out, func(x, y api.HistoryItem) int { return y.Time.Compare(x.Time) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// historyItem presents a history record: a copy is an upload or a
// download, a failure an "error" with its reason.
func historyItem(task string, r statedb.HistoryRecord) api.HistoryItem {
	action := r.Op
	if r.Op == "copy" {
		action = "upload"
		if r.Side == "local" {
			action = "download"
		}
	}
	detail := r.Side + " side"
	if r.Dest != "" {
		detail += ", to " + r.Dest
	}
	if r.Err != "" {
		detail = action + " on the " + r.Side + " side failed: " + r.Err
		action = "error"
	}
	return api.HistoryItem{Task: task, Time: r.Time, Action: action, Path: r.Path, Detail: detail}
}

// Conflicts returns the open conflicts of the task (all tasks when name is
// ""), oldest first.
func (a *Agent) Conflicts(ctx context.Context, name string) ([]api.ConflictItem, error) {
	var out []api.ConflictItem
	found := false
	for _, t := range a.Tasks() {
		if name != "" && t.Name() != name {
			continue
		}
		found = true
		cs, err := t.spec.Pair.DB.Conflicts(ctx, true)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			out = append(out, api.ConflictItem{Task: t.Name(), ID: c.ID, Time: c.Time, Path: c.Path,
				Revision: c.RevisionPath, Side: c.RevisionSide, Detail: c.Reason})
		}
	}
	if name != "" && !found {
		return nil, fmt.Errorf("%w %q", ErrUnknownTask, name)
	}
	slices.SortStableFunc(out, func(x, y api.ConflictItem) int { return x.Time.Compare(y.Time) })
	return out, nil
}
