package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/dovetail-sync/dovetail/statedb"
)

// ErrUnknownTask is returned for a task name the agent does not run.
var ErrUnknownTask = errors.New("no such task")

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

// History returns the newest records of a task's history (all tasks when
// name is ""), newest first, at most limit per task.
func (a *Agent) History(ctx context.Context, name string, limit int) (map[string][]statedb.HistoryRecord, error) {
	out := map[string][]statedb.HistoryRecord{}
	for _, t := range a.Tasks() {
		if name != "" && t.Name() != name {
			continue
		}
		h, err := t.spec.Pair.DB.History(ctx, limit)
		if err != nil {
			return nil, err
		}
		out[t.Name()] = h
	}
	if name != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w %q", ErrUnknownTask, name)
	}
	return out, nil
}

// Conflicts returns the open conflicts of a task (all tasks when name is "").
func (a *Agent) Conflicts(ctx context.Context, name string) (map[string][]statedb.Conflict, error) {
	out := map[string][]statedb.Conflict{}
	for _, t := range a.Tasks() {
		if name != "" && t.Name() != name {
			continue
		}
		c, err := t.spec.Pair.DB.Conflicts(ctx, true)
		if err != nil {
			return nil, err
		}
		out[t.Name()] = c
	}
	if name != "" && len(out) == 0 {
		return nil, fmt.Errorf("%w %q", ErrUnknownTask, name)
	}
	return out, nil
}
