package resilient

import (
	"context"
	"encoding/hex"
	"io"
	"sync/atomic"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Put retries the wrapped Put when that is safe: when nothing was read
// from r yet, or when r is an io.Seeker and can be rewound to where it
// was. Otherwise the error is returned and the caller retries the whole
// file later. A conditional Put (IfAbsent, IfRev) that fails with
// Precondition on a retry succeeded if the file now holds the source's
// content (by the connector's hash): an earlier attempt did the work and
// its answer was lost. An attempt that reads no byte of r for StallTimeout (after
// the last byte: that gets no answer for StallTimeout) is cancelled and
// counts as a transient failure.
func (c *conn) Put(ctx context.Context, path string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	seeker, _ := r.(io.ReadSeeker)
	var start int64
	if seeker != nil {
		pos, err := seeker.Seek(0, io.SeekCurrent)
		if err != nil {
			seeker = nil // a Seeker that cannot seek, such as a pipe
		}
		start = pos
	}
	src := &source{c: c, r: r, path: path}
	for attempt := 0; ; attempt++ {
		e, err := c.putOnce(ctx, path, src, opts)
		if err == nil {
			return e, nil
		}
		if k := connectors.KindOf(err); attempt > 0 && seeker != nil && (k == connectors.Precondition || k == connectors.Exists) {
			if done, ok := c.alreadyPut(ctx, path, seeker, start, opts); ok {
				return done, nil
			}
		}
		if ctx.Err() != nil || !connectors.Retryable(err) || src.failed(opts.Size) {
			return e, err
		}
		if src.read.Load() > 0 {
			if seeker == nil {
				return e, err
			}
			if _, serr := seeker.Seek(start, io.SeekStart); serr != nil {
				return e, err
			}
			src.read.Store(0)
			src.eof.Store(false)
		}
		if err := c.pause(ctx, "put", path, attempt, err); err != nil {
			return connectors.Entry{}, err
		}
	}
}

// alreadyPut reports whether the conditional Put that failed with a
// Precondition on a retry was in fact done by an earlier attempt whose
// answer was lost: the file at path then has the content of the source
// (starting at start), by the hash its listing carries.
func (c *conn) alreadyPut(ctx context.Context, path string, src io.ReadSeeker, start int64, opts connectors.PutOptions) (connectors.Entry, bool) {
	if !opts.IfAbsent && opts.IfRev == "" {
		return connectors.Entry{}, false
	}
	h, err := connectors.NewHash(c.inner.Features().Hash)
	if err != nil {
		return connectors.Entry{}, false
	}
	if _, err := src.Seek(start, io.SeekStart); err != nil {
		return connectors.Entry{}, false
	}
	n, err := io.Copy(h, src)
	if err != nil {
		return connectors.Entry{}, false
	}
	e, err := c.Stat(ctx, path)
	if err != nil || e.Kind != connectors.File || e.Size != n || e.Hash == "" || e.Hash != hex.EncodeToString(h.Sum(nil)) {
		return connectors.Entry{}, false
	}
	return e, true
}

// putOnce is one attempt of Put, holding a slot, with the stall timer
// armed except while the wrapped Put is reading from src.
func (c *conn) putOnce(ctx context.Context, path string, src *source, opts connectors.PutOptions) (connectors.Entry, error) {
	if err := c.acquire(ctx, "put", path); err != nil {
		return connectors.Entry{}, err
	}
	defer c.release()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	src.ctx, src.stall = actx, nil
	if d := c.opts.StallTimeout; d > 0 {
		src.stall = time.AfterFunc(d, func() { cancel(errStalled) })
		defer src.stall.Stop()
	}
	e, err := c.inner.Put(actx, path, src, opts)
	return e, c.classify(ctx, actx, "put", path, err)
}

// source is what the wrapped Put reads from: the caller's reader, counted,
// throttled by the bandwidth limit, and pausing the stall timer.
type source struct {
	c    *conn
	r    io.Reader
	path string
	read atomic.Int64 // bytes read in this attempt
	eof  atomic.Bool  // the source reached its end in this attempt
	err  atomic.Value // the first error of the source itself, never reset

	ctx   context.Context // the attempt's
	stall *time.Timer     // nil without a stall timeout
}

func (s *source) Read(p []byte) (int, error) {
	if s.stall != nil {
		s.stall.Stop()
		defer s.stall.Reset(s.c.opts.StallTimeout)
	}
	n, err := s.r.Read(s.c.clip(p))
	s.read.Add(int64(n))
	switch {
	case err == io.EOF:
		s.eof.Store(true)
	case err != nil:
		s.err.CompareAndSwap(nil, errBox{err})
	}
	if werr := s.c.throttle(s.ctx, "put", s.path, n); werr != nil {
		return n, werr
	}
	return n, err
}

type errBox struct{ error }

// failed reports whether the source itself is to blame for a failed
// attempt: its Read failed, or it yielded another size than announced (a
// file that changed while it was read). Repeating the upload will not help;
// the caller must look at the file again.
func (s *source) failed(size int64) bool {
	if s.err.Load() != nil {
		return true
	}
	n := s.read.Load()
	return size >= 0 && (n > size || s.eof.Load() && n != size)
}
