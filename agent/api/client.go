package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// Client talks to an agent over its unix socket. It is a Controller, safe
// for concurrent use; calls are bounded by their context only.
type Client struct {
	socket string
	http   *http.Client
}

var _ Controller = (*Client)(nil)

// Dial returns a client for the agent listening on socketPath. It does
// not connect yet: each call does, and says clearly when no agent is
// running.
func Dial(socketPath string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socketPath, http: &http.Client{Transport: tr}}
}

// Socket returns the socket path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Status implements Controller.
func (c *Client) Status(ctx context.Context) ([]TaskStatus, error) {
	var out struct {
		Tasks []TaskStatus `json:"tasks"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &out)
	return out.Tasks, err
}

// RunNow implements Controller.
func (c *Client) RunNow(ctx context.Context, task string) error {
	return c.taskAction(ctx, task, "run")
}

// ForceRun implements Controller.
func (c *Client) ForceRun(ctx context.Context, task string) error {
	return c.taskAction(ctx, task, "force-run")
}

// Pause implements Controller.
func (c *Client) Pause(ctx context.Context, task string) error {
	return c.taskAction(ctx, task, "pause")
}

// Resume implements Controller.
func (c *Client) Resume(ctx context.Context, task string) error {
	return c.taskAction(ctx, task, "resume")
}

func (c *Client) taskAction(ctx context.Context, task, action string) error {
	if task == "" {
		return fmt.Errorf("%s: %w: empty task name", action, ErrBadRequest)
	}
	return c.do(ctx, http.MethodPost, "/v1/tasks/"+url.PathEscape(task)+"/"+action, nil, nil)
}

// History implements Controller. A limit below 1 asks for the agent's
// default (DefaultHistoryLimit).
func (c *Client) History(ctx context.Context, task string, limit int) ([]HistoryItem, error) {
	q := url.Values{}
	if task != "" {
		q.Set("task", task)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		History []HistoryItem `json:"history"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/history", q, &out)
	return out.History, err
}

// Conflicts implements Controller.
func (c *Client) Conflicts(ctx context.Context, task string) ([]ConflictItem, error) {
	q := url.Values{}
	if task != "" {
		q.Set("task", task)
	}
	var out struct {
		Conflicts []ConflictItem `json:"conflicts"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/conflicts", q, &out)
	return out.Conflicts, err
}

// Reload implements Controller.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/reload", nil, nil)
}

// Error is an error answer of the agent.
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Kind is one of the Kind constants ("" from an agent that sent none).
	Kind string
	// Message is the agent's message.
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is find ErrUnknownTask and ErrBadRequest.
func (e *Error) Unwrap() error {
	switch e.Kind {
	case KindUnknownTask:
		return ErrUnknownTask
	case KindBadRequest:
		return ErrBadRequest
	}
	return nil
}

// do sends one request for path (escaped) and decodes a JSON answer into
// out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	target := "http://dovetail-agent" + path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return c.connError(err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 64<<20)
	if resp.StatusCode >= 300 {
		var e errorBody
		if json.NewDecoder(body).Decode(&e) != nil || e.Error == "" {
			e.Error = "the agent answered " + resp.Status
		}
		return &Error{StatusCode: resp.StatusCode, Kind: e.Kind, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("cannot read the agent's answer to %s %s: %w", method, path, err)
	}
	return nil
}

// connError explains a failure to reach the agent.
func (c *Client) connError(err error) error {
	const start = "start it with `dovetail agent` or `systemctl --user start dovetail`"
	switch {
	case errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%w (socket %s not found); %s", ErrNotRunning, c.socket, start)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w (nothing answers on socket %s); %s", ErrNotRunning, c.socket, start)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("cannot reach the dovetail agent on socket %s: permission denied (only the user the agent runs as may control it)", c.socket)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the dovetail agent on socket %s did not answer in time: %w", c.socket, context.DeadlineExceeded)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err // the URL is made up: do not show it
	}
	return fmt.Errorf("cannot reach the dovetail agent on socket %s: %w", c.socket, err)
}
