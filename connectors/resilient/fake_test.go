package resilient

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/mem"
)

// fault is what the fake does on one call of an operation.
type fault struct {
	err   error // returned without calling mem
	after error // returned after mem did the work (the answer was lost)
	cut   int64 // Open: the reader yields cut bytes, then fails with a Transient error (or stalls); Put: the same when reading its source
	stall bool  // block until the context is done: at the call if cut is 0, else after cut bytes
	delay time.Duration
}

// fake is a mem.Conn (with Move, Trash and Hash) that plays a script of
// faults per operation and counts calls.
type fake struct {
	*mem.Conn
	mu       sync.Mutex
	script   map[string][]fault
	calls    map[string]int
	offsets  []int64 // the offset of every Open
	inflight int
	peak     int
}

func newFake() *fake {
	return &fake{Conn: mem.New(mem.Options{}), script: map[string][]fault{}, calls: map[string]int{}}
}

// plan appends faults to the script of op.
func (f *fake) plan(op string, faults ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[op] = append(f.script[op], faults...)
}

func (f *fake) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// begin counts the call, tracks calls in flight and returns the call's
// fault; the caller must call end.
func (f *fake) begin(ctx context.Context, op string) (fault, error) {
	f.mu.Lock()
	f.calls[op]++
	f.inflight++
	f.peak = max(f.peak, f.inflight)
	var ft fault
	if s := f.script[op]; len(s) > 0 {
		ft, f.script[op] = s[0], s[1:]
	}
	f.mu.Unlock()
	if ft.delay > 0 {
		time.Sleep(ft.delay)
	}
	if ft.stall && ft.cut == 0 {
		<-ctx.Done()
		return ft, ctx.Err()
	}
	return ft, ft.err
}

func (f *fake) end() {
	f.mu.Lock()
	f.inflight--
	f.mu.Unlock()
}

func transient(op string) error {
	return &connectors.Error{Kind: connectors.Transient, Op: op, Err: errors.New("connection reset by peer")}
}

func (f *fake) Stat(ctx context.Context, p string) (connectors.Entry, error) {
	ft, err := f.begin(ctx, "stat")
	defer f.end()
	if err != nil {
		return connectors.Entry{}, err
	}
	e, err := f.Conn.Stat(ctx, p)
	if err == nil && ft.after != nil {
		return connectors.Entry{}, ft.after
	}
	return e, err
}

func (f *fake) Mkdir(ctx context.Context, p string) (connectors.Entry, error) {
	ft, err := f.begin(ctx, "mkdir")
	defer f.end()
	if err != nil {
		return connectors.Entry{}, err
	}
	e, err := f.Conn.Mkdir(ctx, p)
	if err == nil && ft.after != nil {
		return connectors.Entry{}, ft.after
	}
	return e, err
}

func (f *fake) Delete(ctx context.Context, p, ifRev string) error {
	ft, err := f.begin(ctx, "delete")
	defer f.end()
	if err != nil {
		return err
	}
	err = f.Conn.Delete(ctx, p, ifRev)
	if err == nil && ft.after != nil {
		return ft.after
	}
	return err
}

func (f *fake) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	ft, err := f.begin(ctx, "move")
	defer f.end()
	if err != nil {
		return connectors.Entry{}, err
	}
	e, err := f.Conn.Move(ctx, from, to)
	if err == nil && ft.after != nil {
		return connectors.Entry{}, ft.after
	}
	return e, err
}

// Walk fails after delivering cut entries when the fault says so.
func (f *fake) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	ft, err := f.begin(ctx, "walk")
	defer f.end()
	if err != nil {
		return err
	}
	n := int64(0)
	return f.Conn.Walk(ctx, dir, func(e connectors.Entry) error {
		if ft.cut > 0 && n == ft.cut {
			return transient("walk")
		}
		n++
		return fn(e)
	}, problem)
}

func (f *fake) Open(ctx context.Context, p string, off, length int64) (io.ReadCloser, error) {
	ft, err := f.begin(ctx, "open")
	defer f.end()
	f.mu.Lock()
	f.offsets = append(f.offsets, off)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	r, err := f.Conn.Open(ctx, p, off, length)
	if err != nil || ft.cut == 0 {
		return r, err
	}
	return &cutReader{ctx: ctx, r: r, left: ft.cut, stall: ft.stall}, nil
}

func (f *fake) Put(ctx context.Context, p string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	ft, err := f.begin(ctx, "put")
	defer f.end()
	if err != nil {
		return connectors.Entry{}, err
	}
	if ft.cut > 0 {
		if _, err := io.CopyN(io.Discard, r, ft.cut); err != nil {
			return connectors.Entry{}, err
		}
		if ft.stall {
			<-ctx.Done()
			return connectors.Entry{}, connectors.Wrap("put", p, ctx.Err())
		}
		return connectors.Entry{}, transient("put")
	}
	e, err := f.Conn.Put(ctx, p, r, opts)
	if err == nil && ft.after != nil {
		return connectors.Entry{}, ft.after
	}
	return e, err
}

// cutReader yields left bytes of r, then fails with a Transient error, or
// stalls until its context is done.
type cutReader struct {
	ctx   context.Context
	r     io.ReadCloser
	left  int64
	stall bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left == 0 {
		if c.stall {
			<-c.ctx.Done()
			return 0, connectors.Wrap("read", "", c.ctx.Err())
		}
		return 0, transient("read")
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }

// waits records the waits of Options.Sleep without sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return ctx.Err()
}

func (w *waits) all() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Duration(nil), w.d...)
}

// testOptions are fast options that record waits in w.
func testOptions(w *waits) Options {
	return Options{Sleep: w.sleep, Retries: 3, MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond}
}

func write(t *testing.T, f *fake, p string, data []byte) {
	t.Helper()
	if err := f.WriteFile(p, data, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
}

func (f *fake) Trash(ctx context.Context, p string) error {
	ft, err := f.begin(ctx, "trash")
	defer f.end()
	if err != nil {
		return err
	}
	err = f.Conn.Trash(ctx, p)
	if err == nil && ft.after != nil {
		return ft.after
	}
	return err
}

func (f *fake) Hash(ctx context.Context, p string, t connectors.HashType) (string, error) {
	if _, err := f.begin(ctx, "hash"); err != nil {
		f.end()
		return "", err
	}
	defer f.end()
	return f.Conn.Hash(ctx, p, t)
}
