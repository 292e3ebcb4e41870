package resilient

import (
	"context"
	"errors"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Walk runs the wrapped Walk holding one slot, given up while fn runs so
// that fn may call the connector. A failed listing is restarted from
// scratch only if nothing was delivered yet (to fn or to problem): fn may
// have side effects, so a listing that failed half-way returns its error.
func (c *conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(path string, err error)) error {
	for attempt := 0; ; attempt++ {
		delivered, err := c.walkOnce(ctx, dir, fn, problem)
		if err == nil || delivered {
			return err
		}
		if err := c.pause(ctx, "walk", dir, attempt, err); err != nil {
			return err
		}
	}
}

// walkOnce is one attempt of Walk. It reports whether anything reached fn
// or problem. An error fn returned comes back unchanged.
func (c *conn) walkOnce(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) (delivered bool, err error) {
	if err := c.acquire(ctx, "walk", dir); err != nil {
		return false, err
	}
	held := true
	var fnErr error // the last error fn returned, or one of ours from inside the callback
	err = c.inner.Walk(ctx, dir, func(e connectors.Entry) error {
		delivered = true
		c.release()
		held = false
		fnErr = fn(e)
		if err := c.acquire(ctx, "walk", dir); err != nil {
			fnErr = err
			return err
		}
		held = true
		return fnErr
	}, func(p string, err error) {
		delivered = true
		problem(p, err)
	})
	if held {
		c.release()
	}
	switch {
	case err == nil:
		return delivered, nil
	case ctx.Err() != nil:
		return delivered, cancelled(ctx, "walk", dir)
	case fnErr != nil && errors.Is(err, fnErr):
		return delivered, err
	}
	return delivered, connectors.Wrap("walk", dir, err)
}
