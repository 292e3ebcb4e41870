package resilient

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Open returns a reader that survives failures mid-stream: after a
// Transient error or a stall it waits, re-opens the file at the first byte
// not yet delivered and carries on, so the caller sees each byte exactly
// once. The file is looked up once when it is opened; if a re-open finds a
// different version (Rev, or size and time), the read fails with kind
// Precondition instead of splicing two versions together.
func (c *conn) Open(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	r := &reader{c: c, ctx: ctx, path: path, off: offset, left: length}
	for attempt := 0; ; attempt++ {
		err := r.open(true)
		if err == nil {
			return r, nil
		}
		if err := c.pause(ctx, "open", path, attempt, err); err != nil {
			return nil, err
		}
	}
}

var errClosed = errors.New("reader is closed")

// reader is the resumable reader Open returns. Like any io.Reader it is
// not safe for concurrent use.
type reader struct {
	c    *conn
	ctx  context.Context // the caller's, for the whole read
	path string
	off  int64 // file offset of the next byte to deliver
	left int64 // bytes still wanted; negative means to the end

	base   connectors.Entry // the file as it was when first opened
	opened bool             // base is set

	rc     io.ReadCloser           // the current attempt's reader, nil after a failure
	actx   context.Context         // rc's context
	cancel context.CancelCauseFunc // cancels actx
	stall  *time.Timer             // while armed, fires cancel(errStalled)
	fails  int                     // failures since the last byte delivered
	err    error                   // sticky: io.EOF or the error that ended the read
}

// open opens the file at r.off for one attempt. The first open (by Open,
// attempts included) holds a
// slot for the call; a re-open does not: it continues a read already
// admitted, and waiting for a slot there could deadlock a Put of the same
// connector that holds one while it reads from this reader (a copy by
// connectors.Move). A re-open first checks that the file did not change.
func (r *reader) open(first bool) error {
	c := r.c
	if first {
		if err := c.acquire(r.ctx, "open", r.path); err != nil {
			return err
		}
		defer c.release()
	}
	actx, cancel := context.WithCancelCause(r.ctx)
	r.actx, r.cancel = actx, cancel
	if d := c.opts.StallTimeout; d > 0 {
		r.stall = time.AfterFunc(d, func() { cancel(errStalled) })
	}
	err := r.openIn(actx)
	r.disarm()
	if err != nil {
		cancel(nil)
		return c.classify(r.ctx, actx, "open", r.path, err)
	}
	return nil
}

func (r *reader) openIn(ctx context.Context) error {
	cur, err := r.c.inner.Stat(ctx, r.path)
	if err != nil {
		return err
	}
	if !r.opened {
		r.base, r.opened = cur, true
	} else if changed(r.base, cur) {
		return connectors.Errorf(connectors.Precondition, "read", r.path, "file changed while it was being read")
	}
	rc, err := r.c.inner.Open(ctx, r.path, r.off, r.left)
	if err != nil {
		return err
	}
	r.rc = rc
	return nil
}

// changed reports whether b is another version of the file than a.
func changed(a, b connectors.Entry) bool {
	if a.Rev != "" && b.Rev != "" {
		return a.Rev != b.Rev
	}
	return a.Kind != b.Kind || a.Size != b.Size || !a.ModTime.Equal(b.ModTime)
}

func (r *reader) arm() {
	if r.stall != nil {
		r.stall.Reset(r.c.opts.StallTimeout)
	}
}

func (r *reader) disarm() {
	if r.stall != nil {
		r.stall.Stop()
	}
}

// drop closes the current attempt's reader.
func (r *reader) drop() error {
	if r.rc == nil {
		return nil
	}
	r.disarm()
	err := r.rc.Close()
	r.cancel(nil)
	r.rc = nil
	return err
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left == 0 {
		r.err = io.EOF
		r.drop()
		return 0, io.EOF
	}
	p = r.c.clip(p)
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		var err error
		if r.rc == nil {
			err = r.open(false)
		}
		n := 0
		if err == nil {
			n, err = r.readOnce(p)
		}
		if n > 0 {
			r.off += int64(n)
			if r.left > 0 {
				r.left -= int64(n)
			}
			r.fails = 0
			if werr := r.c.throttle(r.ctx, "read", r.path, n); werr != nil {
				r.fail(werr)
				return n, nil // the caller gets werr on the next Read
			}
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF:
			r.err = io.EOF
			r.drop()
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		}
		r.drop()
		if perr := r.c.pause(r.ctx, "read", r.path, r.fails, err); perr != nil {
			r.fail(perr)
			if n > 0 {
				return n, nil
			}
			return 0, perr
		}
		r.fails++
		if n > 0 {
			return n, nil // resume on the next Read
		}
	}
}

// readOnce reads once from the current attempt with the stall timer armed.
// A failure comes back classified; io.EOF unchanged.
func (r *reader) readOnce(p []byte) (int, error) {
	r.arm()
	n, err := r.rc.Read(p)
	r.disarm()
	if err == nil || err == io.EOF {
		return n, err
	}
	return n, r.c.classify(r.ctx, r.actx, "read", r.path, err)
}

func (r *reader) fail(err error) {
	r.err = err
	r.drop()
}

// Close closes the current attempt's reader. Reads after Close fail.
func (r *reader) Close() error {
	if r.err == nil {
		r.err = &connectors.Error{Kind: connectors.Invalid, Op: "read", Path: r.path, Err: errClosed}
	}
	return connectors.Wrap("close", r.path, r.drop())
}
