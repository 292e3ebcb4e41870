package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// History limits: the default when the request gives none, and the most a
// request may ask for.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 10000
)

// Handler serves c over HTTP/JSON (see the package documentation for the
// routes). Browser requests from another origin that could change
// something are refused, so that the handler may also be mounted behind
// the web UI's TCP port without cross-site request forgery.
func Handler(c Controller) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		tasks, err := c.Status(r.Context())
		reply(w, struct {
			Tasks []TaskStatus `json:"tasks"`
		}{nonNil(tasks)}, err)
	})
	action := func(f func(context.Context, string) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if name == "" {
				writeError(w, fmt.Errorf("%w: empty task name", ErrBadRequest))
				return
			}
			reply(w, nil, f(r.Context(), name))
		}
	}
	mux.HandleFunc("POST /v1/tasks/{name}/run", action(c.RunNow))
	mux.HandleFunc("POST /v1/tasks/{name}/force-run", action(c.ForceRun))
	mux.HandleFunc("POST /v1/tasks/{name}/pause", action(c.Pause))
	mux.HandleFunc("POST /v1/tasks/{name}/resume", action(c.Resume))
	mux.HandleFunc("GET /v1/history", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := DefaultHistoryLimit
		if s := q.Get("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxHistoryLimit {
				writeError(w, fmt.Errorf("%w: limit %q is not a number from 1 to %d", ErrBadRequest, s, MaxHistoryLimit))
				return
			}
			limit = n
		}
		items, err := c.History(r.Context(), q.Get("task"), limit)
		reply(w, struct {
			History []HistoryItem `json:"history"`
		}{nonNil(items)}, err)
	})
	mux.HandleFunc("GET /v1/conflicts", func(w http.ResponseWriter, r *http.Request) {
		items, err := c.Conflicts(r.Context(), r.URL.Query().Get("task"))
		reply(w, struct {
			Conflicts []ConflictItem `json:"conflicts"`
		}{nonNil(items)}, err)
	})
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, c.Reload(r.Context()))
	})

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusForbidden, errorBody{"cross-origin request refused", KindForbidden})
	}))
	return csrf.Handler(jsonMux{mux})
}

// jsonMux answers what the mux does not route in JSON too, rather than
// in the mux's plain text.
type jsonMux struct{ mux *http.ServeMux }

func (m jsonMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := m.mux.Handler(r); pattern != "" {
		m.mux.ServeHTTP(w, r)
		return
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		probe := r.Clone(r.Context())
		probe.Method = method
		if _, pattern := m.mux.Handler(probe); pattern != "" {
			w.Header().Set("Allow", method)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{fmt.Sprintf("%s %s: method not allowed (use %s)", r.Method, r.URL.Path, method), KindBadRequest})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, errorBody{fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path), KindNoEndpoint})
}

// Error kinds, the "kind" of an error answer: what a program can act on
// without reading the message.
const (
	KindUnknownTask = "unknown_task" // 404: no task of that name
	KindNoEndpoint  = "no_endpoint"  // 404: no such route (an agent of another version?)
	KindBadRequest  = "bad_request"  // 400 or 405
	KindForbidden   = "forbidden"    // 403: a cross-origin browser request
	KindInternal    = "internal"     // 500: the agent failed; the message says why
)

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// reply writes body (204 when nil) or, when err is not nil, the error.
func reply(w http.ResponseWriter, body any, err error) {
	switch {
	case err != nil:
		writeError(w, err)
	case body == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

func writeError(w http.ResponseWriter, err error) {
	code, kind := http.StatusInternalServerError, KindInternal
	switch {
	case errors.Is(err, ErrUnknownTask):
		code, kind = http.StatusNotFound, KindUnknownTask
	case errors.Is(err, ErrBadRequest):
		code, kind = http.StatusBadRequest, KindBadRequest
	}
	writeJSON(w, code, errorBody{err.Error(), kind})
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer","kind":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// maxSocketPath is the longest unix socket path the kernel takes
// (sun_path is 108 bytes on Linux, 104 on the BSDs and macOS, with a NUL).
const maxSocketPath = 103

// Listen makes the agent's unix socket at path: it creates the parent
// folder (mode 0700) if needed, replaces a stale socket left by an agent
// that died, refuses if another agent is listening there, and makes the
// socket readable and writable by its owner only.
func Listen(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("socket path %s is too long for a unix socket (%d bytes, at most %d): choose a shorter one", path, len(path), maxSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket folder: %w", err)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			// Another agent won the race since removeStale looked.
			return nil, fmt.Errorf("another dovetail agent is running (socket %s)", path)
		}
		return nil, fmt.Errorf("listen on socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket %s: %w", path, err)
	}
	return l, nil
}

// removeStale removes the socket at path if nobody answers on it, and
// refuses if somebody does or if path is something else than a socket.
func removeStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	if st.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: remove it or choose another socket path", path)
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another dovetail agent is running (socket %s)", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket %s is there but cannot be checked (%w): if no agent is running, remove it", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// Serve answers c's API on l until ctx ends, then stops accepting, lets
// the requests in progress finish (for up to five seconds) and returns nil.
// It closes l, which removes a unix socket made by Listen. It returns an
// error only if serving fails before ctx ends.
func Serve(ctx context.Context, l net.Listener, c Controller) error {
	srv := &http.Server{
		Handler:           Handler(c),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Generous: a reload waits for the running tasks to stop.
		WriteTimeout:   2 * time.Minute,
		IdleTimeout:    time.Minute,
		MaxHeaderBytes: 64 << 10,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return fmt.Errorf("control API: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close() // the grace period is over: cut what is left
	}
	<-served
	return nil
}
