// Package api is the local control API of the Dovetail agent: the one way
// the CLI, the tray app and the web UI see and steer the running agent.
//
// The agent implements [Controller]; [Handler] serves it as HTTP/JSON,
// normally on a unix socket made by [Listen] and served by [Serve]
// (the socket's 0600 mode is the access control: only the agent's user can
// talk to it). [Client] speaks the same protocol and is itself a
// Controller, so code written against the interface works in-process and
// across the socket alike.
//
// # Protocol (version 1)
//
//	GET  /v1/status                    {"tasks": [TaskStatus...]}
//	POST /v1/tasks/{name}/run          204, starts a run now
//	POST /v1/tasks/{name}/pause        204
//	POST /v1/tasks/{name}/resume       204
//	GET  /v1/history?task=NAME&limit=N {"history": [HistoryItem...]}, newest first
//	GET  /v1/conflicts?task=NAME       {"conflicts": [ConflictItem...]}
//	POST /v1/reload                    204, re-reads the configuration file
//
// Task names in paths are URL path-escaped. Errors are answered as
// {"error": "message", "kind": KIND} with status 404 for an unknown task
// (kind "unknown_task") or endpoint ("no_endpoint"), 400 for a bad request
// and 405 for a wrong method ("bad_request"), 403 for a cross-origin
// browser request ("forbidden") and 500 otherwise ("internal"). JSON
// keys are snake_case; times are RFC 3339 strings, and a time that never
// happened is left out. Fields are only ever added within v1: clients
// must ignore keys they do not know, and state values they do not know.
package api

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// ErrUnknownTask is the error, wrapped, for a task name the agent does not
// run. A Controller returns it for such names; the Handler turns it into
// 404 and the Client back into an error wrapping it.
var ErrUnknownTask = errors.New("no such task")

// ErrBadRequest is the error, wrapped, for a request that cannot be
// carried out as asked (an empty task name, a limit out of range). A
// Controller may return it for arguments it refuses; the Handler answers
// 400 and the Client returns an error wrapping it.
var ErrBadRequest = errors.New("bad request")

// ErrNotRunning is the error, wrapped, that the Client returns when no
// agent answers on its socket.
var ErrNotRunning = errors.New("no dovetail agent is running")

// Controller is what the agent offers to its user interfaces. Every method
// may be called concurrently, returns promptly (work it starts goes on in
// the background) and honours ctx.
type Controller interface {
	// Status returns a snapshot of every configured task, in
	// configuration order.
	Status(ctx context.Context) ([]TaskStatus, error)
	// RunNow asks for a full run of the task as soon as possible, also
	// outside its schedule or sync window; a run in progress is not
	// interrupted. An unknown task gives an error wrapping ErrUnknownTask
	// (and so do Pause, Resume, History and Conflicts).
	RunNow(ctx context.Context, task string) error
	// ForceRun is RunNow for a run that overrides the safety guards (the
	// missing or emptied folder, the max-delete share) once: the user's
	// confirmation that a mass deletion the agent refused is wanted.
	ForceRun(ctx context.Context, task string) error
	// Pause stops the task from starting runs until Resume; a run in
	// progress finishes. Pausing a paused task does nothing.
	Pause(ctx context.Context, task string) error
	// Resume undoes Pause: what changed meanwhile is synced. Resuming a
	// task that is not paused does nothing.
	Resume(ctx context.Context, task string) error
	// History returns up to limit actions the task did (all tasks when
	// task is ""), newest first.
	History(ctx context.Context, task string, limit int) ([]HistoryItem, error)
	// Conflicts returns the open conflicts of the task (all tasks when
	// task is ""), oldest first.
	Conflicts(ctx context.Context, task string) ([]ConflictItem, error)
	// Reload re-reads the configuration file and restarts the tasks. An
	// invalid configuration leaves the running tasks alone and the error
	// says what is wrong with it.
	Reload(ctx context.Context) error
}

// Task states, as found in TaskStatus.State. More may be added.
const (
	StateIdle     = "idle"     // in sync, watching for changes
	StateScanning = "scanning" // listing both sides to find what changed
	StateSyncing  = "syncing"  // transferring changes
	StatePaused   = "paused"   // paused by the user
	StateWaiting  = "waiting"  // outside its sync window, or until its cron time
	StateError    = "error"    // the last run failed (see TaskStatus.Error)
	StateDisabled = "disabled" // turned off in the configuration
)

// TaskStatus is a snapshot of one sync task.
type TaskStatus struct {
	// Name is the task's name in the configuration.
	Name string `json:"name"`
	// Local is the local folder.
	Local string `json:"local"`
	// Remote names the remote folder ("gdrive:Photos", "sftp://nas/backup").
	Remote string `json:"remote"`
	// Direction is "two-way", "upload" or "download".
	Direction string `json:"direction"`
	// State is one of the State constants.
	State string `json:"state"`
	// Error is why the task is in the error state, with what to do about
	// it; in other states, the last failure, if any.
	Error string `json:"error"`
	// Enabled is false for a task turned off in the configuration.
	Enabled bool `json:"enabled"`
	// LastSync is when the last successful run ended (absent if none).
	LastSync time.Time `json:"last_sync,omitzero"`
	// NextRun is when the next scheduled run starts (absent for
	// continuous tasks).
	NextRun time.Time `json:"next_run,omitzero"`
	// Progress is how far the current run is, while scanning or syncing.
	Progress Progress `json:"progress"`
	// Problems counts the paths the last run could not sync (see History).
	Problems int `json:"problems"`
	// Conflicts counts the open conflicts (see Conflicts).
	Conflicts int `json:"conflicts"`
}

// Progress is how far a run has got.
type Progress struct {
	FilesDone  int    `json:"files_done"`
	FilesTotal int    `json:"files_total"`
	BytesDone  int64  `json:"bytes_done"`
	BytesTotal int64  `json:"bytes_total"`
	Current    string `json:"current"` // the path being transferred
}

// HistoryItem is one action the agent did.
type HistoryItem struct {
	// Task is the task that did it.
	Task string `json:"task"`
	// Time is when the action finished.
	Time time.Time `json:"time"`
	// Action is what was done: "upload", "download", "delete", "move",
	// "conflict" or "error" (more may be added).
	Action string `json:"action"`
	// Path is the path acted on.
	Path string `json:"path"`
	// Detail says more: the side, the destination of a move, the reason
	// of an error.
	Detail string `json:"detail"`
}

// ConflictItem is an open conflict: a path changed on both sides, one
// version kept at Path and the other beside it at Revision.
type ConflictItem struct {
	// Task is the task that found it.
	Task string `json:"task"`
	// ID identifies the conflict within its task.
	ID int64 `json:"id"`
	// Time is when the conflict was found.
	Time time.Time `json:"time"`
	// Path is the path changed on both sides.
	Path string `json:"path"`
	// Revision is where the other version was kept.
	Revision string `json:"revision"`
	// Side is the side ("local" or "remote") whose version went to
	// Revision.
	Side string `json:"side"`
	// Detail says why it was a conflict.
	Detail string `json:"detail"`
}

// DefaultSocket is the socket the agent listens on and the CLI dials
// unless told otherwise: $DOVETAIL_SOCKET, else
// $XDG_RUNTIME_DIR/dovetail/agent.sock, else
// $XDG_STATE_HOME/dovetail/agent.sock ($XDG_STATE_HOME defaults to
// ~/.local/state). As the XDG specification asks, relative XDG paths are
// ignored.
func DefaultSocket() string {
	if p := os.Getenv("DOVETAIL_SOCKET"); p != "" {
		return p
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "dovetail", "agent.sock")
	}
	d := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(d) {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		d = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(d, "dovetail", "agent.sock")
}
