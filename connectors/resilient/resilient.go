package resilient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Options tune Wrap. The zero value of a field means its default.
type Options struct {
	// Retries is the number of attempts after the first for a failure that
	// may pass (connectors.Retryable). Default 5; a negative value turns
	// retries off.
	Retries int
	// MinBackoff is the ceiling of the wait before the first retry; it
	// doubles with each further retry up to MaxBackoff. The wait itself is
	// drawn uniformly below the ceiling ("full jitter"), so that many
	// clients failing together do not retry together. Defaults 500ms and
	// 30s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Concurrency is the most calls in flight to the provider at once
	// (default 8). A Walk counts as one call but gives its slot up while
	// its callback runs; an open reader holds none, not even to resume, so
	// a download can feed an upload to the same connector.
	Concurrency int
	// BwLimit is the most bytes per second moved by all transfers together,
	// downloads (bytes read from Open's readers) and uploads (bytes Put
	// reads from its source) alike. 0 means unlimited.
	BwLimit int64
	// OpTimeout bounds one attempt of a metadata call (Stat, Mkdir, Delete,
	// Move, Hash, Trash, Recover). Default 1m; a negative value means none.
	OpTimeout time.Duration
	// StallTimeout cancels an attempt of a transfer (opening a file and
	// each read from it, and an upload) that moves no byte for this long;
	// the transfer is then retried like a transient failure. Default 1m; a
	// negative value means none.
	StallTimeout time.Duration
	// Logger receives one Info record per retry with the operation, path,
	// attempt, wait and error. Default: nothing is logged.
	Logger *slog.Logger
	// Sleep waits d or until ctx is done, whichever comes first, and
	// returns ctx's error in the second case. Tests replace it to record
	// waits; the default uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Defaults of Options.
const (
	DefaultRetries      = 5
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
	DefaultConcurrency  = 8
	DefaultOpTimeout    = time.Minute
	DefaultStallTimeout = time.Minute
)

// maxChunk is the most bytes a transfer moves between two waits for the
// bandwidth limiter, so a big read waits in small bursts.
const maxChunk = 64 << 10

func (o Options) withDefaults() Options {
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	o.OpTimeout = orDefault(o.OpTimeout, DefaultOpTimeout)
	o.StallTimeout = orDefault(o.StallTimeout, DefaultStallTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

// orDefault maps 0 to def and a negative d to 0 (none).
func orDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Wrap returns c with retries, a concurrency cap, a bandwidth limit and
// timeouts as opts set them. The result implements exactly the optional
// interfaces of package connectors that c implements, and reports c's
// Features.
func Wrap(c connectors.Connector, opts Options) connectors.Connector {
	o := opts.withDefaults()
	w := &conn{inner: c, opts: o, slots: make(chan struct{}, o.Concurrency), bw: rate.NewLimiter(rate.Inf, maxChunk)}
	w.setBwLimit(o.BwLimit)
	return withCaps(w, capsOf(c))
}

// SetBwLimit changes the bandwidth limit of c, a connector returned by
// Wrap, to bytesPerSecond (0 for unlimited) while it is in use: transfers
// in progress adopt the new rate from their next read. This is how a
// timetable of limits (the task option bwlimit) is applied. It reports
// false, doing nothing, if c did not come from Wrap.
func SetBwLimit(c connectors.Connector, bytesPerSecond int64) bool {
	w, ok := c.(interface{ wrapper() *conn })
	if ok {
		w.wrapper().setBwLimit(bytesPerSecond)
	}
	return ok
}

func (c *conn) wrapper() *conn { return c }

func (c *conn) setBwLimit(bps int64) {
	if bps <= 0 {
		c.bw.SetLimit(rate.Inf)
		return
	}
	c.bw.SetBurst(int(min(bps, maxChunk)))
	c.bw.SetLimit(rate.Limit(bps))
}

// conn is the wrapper shared by all the capability combinations.
type conn struct {
	inner connectors.Connector
	opts  Options
	slots chan struct{} // one token per call in flight
	bw    *rate.Limiter // rate.Inf when unlimited; its burst is the most bytes one read moves
}

var _ connectors.Connector = (*conn)(nil)

// Causes of an attempt cancelled by the wrapper itself; classify turns
// them into Transient errors.
var (
	errTimeout = errors.New("no answer in time")
	errStalled = errors.New("no data moved in time")
)

// Features returns the wrapped connector's Features.
func (c *conn) Features() connectors.Features { return c.inner.Features() }

// acquire takes a slot for one call to the provider, waiting for one to be
// free or for ctx to be done.
func (c *conn) acquire(ctx context.Context, op, path string) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return cancelled(ctx, op, path)
	}
}

func (c *conn) release() { <-c.slots }

// cancelled is the error of a call whose caller's ctx is done.
func cancelled(ctx context.Context, op, path string) error {
	return &connectors.Error{Kind: connectors.KindOf(ctx.Err()), Op: op, Path: path, Err: ctx.Err()}
}

// classify turns the result of an attempt run with actx, derived from the
// caller's ctx, into the error to act on: the caller's cancellation, a
// Transient error for a timeout or stall of the wrapper's own, or err as a
// *connectors.Error.
func (c *conn) classify(ctx, actx context.Context, op, path string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return cancelled(ctx, op, path)
	}
	switch cause := context.Cause(actx); cause {
	case errTimeout:
		return &connectors.Error{Kind: connectors.Transient, Op: op, Path: path, Err: fmt.Errorf("%w: %v", cause, c.opts.OpTimeout)}
	case errStalled:
		return &connectors.Error{Kind: connectors.Transient, Op: op, Path: path, Err: fmt.Errorf("%w: %v", cause, c.opts.StallTimeout)}
	}
	return connectors.Wrap(op, path, err)
}

// call runs one attempt of f holding a slot, with a deadline of timeout
// unless it is 0.
func (c *conn) call(ctx context.Context, op, path string, timeout time.Duration, f func(context.Context) error) error {
	if err := c.acquire(ctx, op, path); err != nil {
		return err
	}
	defer c.release()
	actx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		actx, cancel = context.WithTimeoutCause(ctx, timeout, errTimeout)
	}
	defer cancel()
	return c.classify(ctx, actx, op, path, f(actx))
}

// do runs f, with a slot and the timeout, until it succeeds, fails with an
// error not worth retrying, or the retries are used up. f learns the
// attempt number (0 for the first) so that it can recognise the effect of
// an earlier attempt that failed in transit.
func (c *conn) do(ctx context.Context, op, path string, timeout time.Duration, f func(ctx context.Context, attempt int) error) error {
	for attempt := 0; ; attempt++ {
		err := c.call(ctx, op, path, timeout, func(ctx context.Context) error { return f(ctx, attempt) })
		if err == nil {
			return nil
		}
		if err := c.pause(ctx, op, path, attempt, err); err != nil {
			return err
		}
	}
}

// pause decides what follows the failure err of attempt (0 for the first):
// nil after the wait before the next attempt, or the error to give up with.
func (c *conn) pause(ctx context.Context, op, path string, attempt int, err error) error {
	if ctx.Err() != nil || !connectors.Retryable(err) {
		return err
	}
	if attempt >= c.opts.Retries {
		return gaveUp(err, attempt+1)
	}
	wait := c.backoff(attempt, err)
	c.opts.Logger.Info("retrying", "op", op, "path", path, "attempt", attempt+1, "wait", wait, "err", err)
	if c.opts.Sleep(ctx, wait) != nil || ctx.Err() != nil {
		return cancelled(ctx, op, path)
	}
	return nil
}

// backoff returns the wait after the failure err of attempt: a random
// duration below MinBackoff·2^attempt (capped at MaxBackoff), or the
// RetryAfter the server asked for if that is longer.
func (c *conn) backoff(attempt int, err error) time.Duration {
	ceil := c.opts.MinBackoff
	for i := 0; i < attempt && ceil < c.opts.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.opts.MaxBackoff)
	wait := rand.N(ceil + 1)
	var e *connectors.Error
	if errors.As(err, &e) && e.RetryAfter > wait {
		wait = e.RetryAfter
	}
	return wait
}

// gaveUp notes in err how many attempts failed.
func gaveUp(err error, attempts int) error {
	var e *connectors.Error
	if attempts < 2 || !errors.As(err, &e) {
		return err
	}
	cp := *e
	cp.Err = fmt.Errorf("gave up after %d attempts: %w", attempts, e.Err)
	if e.Err == nil {
		cp.Err = fmt.Errorf("gave up after %d attempts", attempts)
	}
	return &cp
}

// Stat retries the wrapped Stat.
func (c *conn) Stat(ctx context.Context, path string) (connectors.Entry, error) {
	var e connectors.Entry
	err := c.do(ctx, "stat", path, c.opts.OpTimeout, func(ctx context.Context, _ int) error {
		var err error
		e, err = c.inner.Stat(ctx, path)
		return err
	})
	return e, err
}

// Mkdir retries the wrapped Mkdir, which succeeds on an existing folder.
func (c *conn) Mkdir(ctx context.Context, path string) (connectors.Entry, error) {
	var e connectors.Entry
	err := c.do(ctx, "mkdir", path, c.opts.OpTimeout, func(ctx context.Context, _ int) error {
		var err error
		e, err = c.inner.Mkdir(ctx, path)
		return err
	})
	return e, err
}

// Delete retries the wrapped Delete. NotFound on a retry means an earlier
// attempt deleted the object although its answer was lost: success.
func (c *conn) Delete(ctx context.Context, path string, ifRev string) error {
	return c.do(ctx, "delete", path, c.opts.OpTimeout, func(ctx context.Context, attempt int) error {
		err := c.inner.Delete(ctx, path, ifRev)
		if attempt > 0 && connectors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

func (c *conn) move(ctx context.Context, from, to string) (connectors.Entry, error) {
	var e connectors.Entry
	err := c.do(ctx, "move", from, c.opts.OpTimeout, func(ctx context.Context, attempt int) error {
		var err error
		e, err = c.inner.(connectors.Mover).Move(ctx, from, to)
		if k := connectors.KindOf(err); attempt > 0 && (k == connectors.NotFound || k == connectors.Exists) {
			// An earlier attempt may have moved it and lost the answer:
			// then from is gone and to is there.
			if _, serr := c.inner.Stat(ctx, from); connectors.IsNotFound(serr) {
				if moved, serr := c.inner.Stat(ctx, to); serr == nil {
					e = moved
					return nil
				}
			}
		}
		return err
	})
	return e, err
}

func (c *conn) hash(ctx context.Context, path string, t connectors.HashType) (string, error) {
	var sum string
	err := c.do(ctx, "hash", path, c.opts.OpTimeout, func(ctx context.Context, _ int) error {
		var err error
		sum, err = c.inner.(connectors.Hasher).Hash(ctx, path, t)
		return err
	})
	return sum, err
}

// trash is retried like Delete: NotFound on a retry means done.
func (c *conn) trash(ctx context.Context, path string) error {
	return c.do(ctx, "trash", path, c.opts.OpTimeout, func(ctx context.Context, attempt int) error {
		err := c.inner.(connectors.Trasher).Trash(ctx, path)
		if attempt > 0 && connectors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// recover is idempotent by contract, so it is simply retried.
func (c *conn) recover(ctx context.Context, path string) error {
	return c.do(ctx, "recover", path, c.opts.OpTimeout, func(ctx context.Context, _ int) error {
		return c.inner.(connectors.Recoverer).Recover(ctx, path)
	})
}

// cursor and changes are retried like any metadata call; an expired
// cursor is not retryable and goes straight back to the caller.
func (c *conn) cursor(ctx context.Context) (cur string, err error) {
	err = c.do(ctx, "cursor", "", c.opts.OpTimeout, func(ctx context.Context, _ int) error {
		cur, err = c.inner.(connectors.ChangeFeed).Cursor(ctx)
		return err
	})
	return cur, err
}

func (c *conn) changes(ctx context.Context, cursor string) (paths []string, next string, err error) {
	err = c.do(ctx, "changes", "", c.opts.OpTimeout, func(ctx context.Context, _ int) error {
		paths, next, err = c.inner.(connectors.ChangeFeed).Changes(ctx, cursor)
		return err
	})
	return paths, next, err
}

// sync is retried without a timeout: flushing a lot of writes takes long.
func (c *conn) sync(ctx context.Context) error {
	return c.do(ctx, "sync", "", 0, func(ctx context.Context, _ int) error {
		return c.inner.(connectors.Syncer).Sync(ctx)
	})
}

// throttle waits until the bandwidth limit allows n more bytes.
func (c *conn) throttle(ctx context.Context, op, path string, n int) error {
	for n > 0 {
		if c.bw.Limit() == rate.Inf {
			return nil
		}
		k := min(n, c.bw.Burst()) // the burst may have shrunk since clip
		if err := c.bw.WaitN(ctx, k); err != nil {
			if ctx.Err() != nil {
				return cancelled(ctx, op, path)
			}
			// The wait would outlast ctx's deadline.
			return &connectors.Error{Kind: connectors.Transient, Op: op, Path: path, Err: fmt.Errorf("%w: bandwidth limit: %v", context.DeadlineExceeded, err)}
		}
		n -= k
	}
	return nil
}

// clip shortens p to what one read may move under the bandwidth limit.
func (c *conn) clip(p []byte) []byte {
	if c.bw.Limit() != rate.Inf {
		if b := c.bw.Burst(); len(p) > b {
			return p[:b]
		}
	}
	return p
}

var _ io.Reader = (*source)(nil)
