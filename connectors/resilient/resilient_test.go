package resilient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/connectors/namecode"
	"github.com/dovetail-sync/dovetail/rules"
)

// The wrapper does not break the connector contract.
func TestConformance(t *testing.T) {
	for name, opts := range map[string]mem.Options{
		"default":       {},
		"NoMoveNoTrash": {NoMove: true, NoTrash: true, NoHash: true},
		"NoMove":        {NoMove: true},
		"NoTrash":       {NoTrash: true},
	} {
		t.Run(name, func(t *testing.T) {
			conformance.Run(t, func(t *testing.T) connectors.Connector {
				return Wrap(mem.New(opts).Connector(), Options{})
			})
		})
	}
	t.Run("limited", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) connectors.Connector {
			return Wrap(mem.New(mem.Options{}), Options{Concurrency: 2, BwLimit: 64 << 20, OpTimeout: 5 * time.Second, StallTimeout: 5 * time.Second})
		})
	})
}

var (
	rateLimited = &connectors.Error{Kind: connectors.RateLimited, Op: "x", Err: errors.New("429 Too Many Requests"), RetryAfter: 7 * time.Second}
	notFound    = &connectors.Error{Kind: connectors.NotFound, Op: "x", Err: errors.New("no such file")}
	permission  = &connectors.Error{Kind: connectors.Permission, Op: "x", Err: errors.New("403")}
	precond     = &connectors.Error{Kind: connectors.Precondition, Op: "x", Err: errors.New("412")}
	invalid     = &connectors.Error{Kind: connectors.Invalid, Op: "x", Err: errors.New("bad name")}
	exists      = &connectors.Error{Kind: connectors.Exists, Op: "x", Err: errors.New("is a folder")}
)

func faults(errs ...error) []fault {
	out := make([]fault, len(errs))
	for i, err := range errs {
		out[i] = fault{err: err}
	}
	return out
}

// Every operation retries what may pass, exactly as often as allowed, and
// returns any other error at once.
func TestRetries(t *testing.T) {
	ops := []struct {
		op  string
		run func(ctx context.Context, c connectors.Connector) error
	}{
		{"stat", func(ctx context.Context, c connectors.Connector) error { _, err := c.Stat(ctx, "f"); return err }},
		{"mkdir", func(ctx context.Context, c connectors.Connector) error { _, err := c.Mkdir(ctx, "d"); return err }},
		{"delete", func(ctx context.Context, c connectors.Connector) error { return c.Delete(ctx, "f", "") }},
		{"trash", func(ctx context.Context, c connectors.Connector) error { return c.(connectors.Trasher).Trash(ctx, "f") }},
		{"hash", func(ctx context.Context, c connectors.Connector) error {
			_, err := c.(connectors.Hasher).Hash(ctx, "f", connectors.MD5)
			return err
		}},
		{"move", func(ctx context.Context, c connectors.Connector) error {
			_, err := c.(connectors.Mover).Move(ctx, "f", "g")
			return err
		}},
		{"walk", func(ctx context.Context, c connectors.Connector) error {
			return c.Walk(ctx, "", func(connectors.Entry) error { return nil }, func(string, error) {})
		}},
		{"open", func(ctx context.Context, c connectors.Connector) error {
			r, err := c.Open(ctx, "f", 0, -1)
			if err != nil {
				return err
			}
			defer r.Close()
			if b, err := io.ReadAll(r); err != nil || string(b) != "content" {
				t.Errorf("read %q, %v", b, err)
			}
			return nil
		}},
		{"put", func(ctx context.Context, c connectors.Connector) error {
			_, err := c.Put(ctx, "f", strings.NewReader("new"), connectors.PutOptions{Size: 3})
			return err
		}},
	}
	const retries = 3
	tr := transient("x")
	cases := []struct {
		name     string
		faults   []error
		wantKind connectors.ErrorKind // Unknown: success
		calls    int
		waits    int
	}{
		{"success", nil, connectors.Unknown, 1, 0},
		{"two transient failures", []error{tr, tr}, connectors.Unknown, 3, 2},
		{"rate limited once", []error{rateLimited}, connectors.Unknown, 2, 1},
		{"transient until out of retries", []error{tr, tr, tr, tr, tr}, connectors.Transient, retries + 1, retries},
		{"not found", []error{notFound}, connectors.NotFound, 1, 0},
		{"permission", []error{permission}, connectors.Permission, 1, 0},
		{"precondition", []error{precond}, connectors.Precondition, 1, 0},
		{"invalid", []error{invalid}, connectors.Invalid, 1, 0},
		{"exists", []error{exists}, connectors.Exists, 1, 0},
		{"transient then permission", []error{tr, permission}, connectors.Permission, 2, 1},
	}
	for _, op := range ops {
		for _, tc := range cases {
			t.Run(op.op+"/"+tc.name, func(t *testing.T) {
				f := newFake()
				write(t, f, "f", []byte("content"))
				f.plan(op.op, faults(tc.faults...)...)
				w := &waits{}
				c := Wrap(f, testOptions(w))
				err := op.run(t.Context(), c)
				switch {
				case tc.wantKind == connectors.Unknown && err != nil:
					t.Fatalf("got %v, want success", err)
				case tc.wantKind != connectors.Unknown && connectors.KindOf(err) != tc.wantKind:
					t.Fatalf("got %v, want kind %v", err, tc.wantKind)
				}
				var ce *connectors.Error
				if err != nil && !errors.As(err, &ce) {
					t.Errorf("error %v is not a *connectors.Error", err)
				}
				if got := f.count(op.op); got != tc.calls {
					t.Errorf("%d calls of %s, want %d", got, op.op, tc.calls)
				}
				if got := len(w.all()); got != tc.waits {
					t.Errorf("waited %d times, want %d", got, tc.waits)
				}
			})
		}
	}
}

// The wait before a retry grows exponentially below MaxBackoff, and is at
// least what the server asked for.
func TestBackoff(t *testing.T) {
	f := newFake()
	tr := transient("stat")
	f.plan("stat", faults(tr, tr, tr, tr, tr, rateLimited)...)
	w := &waits{}
	opts := Options{Sleep: w.sleep, Retries: 6, MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
	if _, err := Wrap(f, opts).Stat(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	got := w.all()
	ceilings := []time.Duration{10, 20, 40, 40, 40}
	if len(got) != 6 {
		t.Fatalf("waits %v, want 6", got)
	}
	for i, ceil := range ceilings {
		if got[i] < 0 || got[i] > ceil*time.Millisecond {
			t.Errorf("wait %d is %v, want within [0, %v]", i, got[i], ceil*time.Millisecond)
		}
	}
	if got[5] < rateLimited.RetryAfter {
		t.Errorf("waited %v after a RetryAfter of %v", got[5], rateLimited.RetryAfter)
	}
}

// With the default Sleep, a retry waits for real, and a cancelled context
// cuts the wait short.
func TestBackoffSleepsAndCancels(t *testing.T) {
	f := newFake()
	f.plan("stat", faults(&connectors.Error{Kind: connectors.RateLimited, Err: errors.New("slow down"), RetryAfter: 50 * time.Millisecond})...)
	start := time.Now()
	if _, err := Wrap(f, Options{}).Stat(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("retried after %v, before the 50ms the server asked for", d)
	}

	f.plan("stat", faults(&connectors.Error{Kind: connectors.RateLimited, Err: errors.New("slow down"), RetryAfter: time.Hour})...)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := Wrap(f, Options{}).Stat(ctx, "")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("after %v: %v, want the context's error within a second", time.Since(start), err)
	}
}

// Retries are logged at Info with what a user needs to know.
func TestRetryLogged(t *testing.T) {
	f := newFake()
	f.plan("stat", faults(rateLimited)...)
	var buf bytes.Buffer
	opts := testOptions(&waits{})
	opts.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	write(t, f, "some/file", nil)
	if _, err := Wrap(f, opts).Stat(t.Context(), "some/file"); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	for k, want := range map[string]any{"level": "INFO", "op": "stat", "path": "some/file", "attempt": 1.0, "wait": float64(rateLimited.RetryAfter)} {
		if rec[k] != want {
			t.Errorf("log record %s = %v, want %v (%s)", k, rec[k], want, buf.String())
		}
	}
	if e, _ := rec["err"].(string); !strings.Contains(e, "429") {
		t.Errorf("log record err = %q, want the error", e)
	}
}

// A listing restarts after a failure only if nothing was delivered yet.
func TestWalkRestartsOnlyBeforeDelivery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   fault
		wantErr bool
		calls   int
	}{
		{"fails before the first entry", fault{err: transient("walk")}, false, 2},
		{"fails after two entries", fault{cut: 2}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			for _, p := range []string{"a", "b", "c", "d"} {
				write(t, f, p, []byte(p))
			}
			f.plan("walk", tc.fault)
			var got []string
			err := Wrap(f, testOptions(&waits{})).Walk(t.Context(), "", func(e connectors.Entry) error {
				got = append(got, e.Path)
				return nil
			}, func(string, error) {})
			if (err != nil) != tc.wantErr || (err != nil && connectors.KindOf(err) != connectors.Transient) {
				t.Fatalf("Walk: %v, want error %v", err, tc.wantErr)
			}
			want := "a b c d"
			if tc.wantErr {
				want = "a b"
			}
			if strings.Join(got, " ") != want {
				t.Errorf("delivered %q, want %q (each once)", got, want)
			}
			if n := f.count("walk"); n != tc.calls {
				t.Errorf("%d listings, want %d", n, tc.calls)
			}
		})
	}
}

// An error of the callback comes back unchanged and is not retried.
func TestWalkCallbackError(t *testing.T) {
	f := newFake()
	write(t, f, "a", nil)
	stop := errors.New("stop")
	err := Wrap(f, testOptions(&waits{})).Walk(t.Context(), "", func(connectors.Entry) error { return stop }, func(string, error) {})
	if err != stop {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}
}

func randomData(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// A download that fails mid-stream resumes where it stopped: the reader
// yields each byte exactly once.
func TestOpenResumes(t *testing.T) {
	data := randomData(300 << 10)
	for _, tc := range []struct {
		name           string
		offset, length int64
		faults         []fault
		wantOffsets    []int64
	}{
		{"whole file, two cuts", 0, -1, []fault{{cut: 1000}, {cut: 100 << 10}}, []int64{0, 1000, 1000 + 100<<10}},
		{"range", 5000, 200 << 10, []fault{{cut: 7}}, []int64{5000, 5007}},
		{"failed re-open", 0, -1, []fault{{cut: 10}, {err: transient("open")}}, []int64{0, 10, 10}},
		{"stall", 0, -1, []fault{{cut: 64 << 10, stall: true}}, []int64{0, 64 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			write(t, f, "big", data)
			f.plan("open", tc.faults...)
			opts := testOptions(&waits{})
			opts.StallTimeout = 100 * time.Millisecond
			r, err := Wrap(f, opts).Open(t.Context(), "big", tc.offset, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			want := data[tc.offset:]
			if tc.length >= 0 {
				want = want[:tc.length]
			}
			if !bytes.Equal(got, want) {
				t.Errorf("read %d bytes, want %d, content equal: %v", len(got), len(want), bytes.Equal(got, want))
			}
			f.mu.Lock()
			offsets := f.offsets
			f.mu.Unlock()
			if !equal(offsets, tc.wantOffsets) {
				t.Errorf("opened at %v, want %v", offsets, tc.wantOffsets)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A file replaced while it is being read is not spliced: the read fails.
func TestOpenDetectsChange(t *testing.T) {
	f := newFake()
	write(t, f, "f", bytes.Repeat([]byte("a"), 1000))
	f.plan("open", fault{cut: 100})
	r, err := Wrap(f, testOptions(&waits{})).Open(t.Context(), "f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 100)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	write(t, f, "f", bytes.Repeat([]byte("b"), 1000))
	rest, err := io.ReadAll(r)
	if connectors.KindOf(err) != connectors.Precondition {
		t.Errorf("read %q then %v, want kind Precondition", rest, err)
	}
	if bytes.Contains(rest, []byte("b")) {
		t.Errorf("delivered content of the new version after the old one")
	}
}

// Put is retried when its source can be rewound or was not read; else the
// error is returned for the caller to retry the whole file.
func TestPutRetry(t *testing.T) {
	content := "0123456789abcdef"
	type onlyReader struct{ io.Reader }
	for _, tc := range []struct {
		name     string
		src      func() io.Reader
		fault    fault
		wantErr  bool
		putCalls int
	}{
		{"seekable, failed mid-upload", func() io.Reader { return strings.NewReader(content) }, fault{cut: 5}, false, 2},
		{"not seekable, failed mid-upload", func() io.Reader { return onlyReader{strings.NewReader(content)} }, fault{cut: 5}, true, 1},
		{"not seekable, failed before reading", func() io.Reader { return onlyReader{strings.NewReader(content)} }, fault{err: transient("put")}, false, 2},
		{"seekable, not at its start", func() io.Reader {
			r := strings.NewReader("skip" + content)
			r.Seek(4, io.SeekStart)
			return r
		}, fault{cut: 9}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			f.plan("put", tc.fault)
			_, err := Wrap(f, testOptions(&waits{})).Put(t.Context(), "f", tc.src(), connectors.PutOptions{Size: int64(len(content))})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Put: %v, want error %v", err, tc.wantErr)
			}
			if n := f.count("put"); n != tc.putCalls {
				t.Errorf("%d uploads, want %d", n, tc.putCalls)
			}
			got, rerr := f.ReadFile("f")
			switch {
			case tc.wantErr && rerr == nil:
				t.Errorf("failed Put left %q", got)
			case !tc.wantErr && string(got) != content:
				t.Errorf("stored %q, %v; want %q", got, rerr, content)
			}
		})
	}
}

// A Delete, Move or Trash whose answer was lost after it did its work is a
// success when retried, not NotFound.
func TestIdempotentAfterLostAnswer(t *testing.T) {
	for _, tc := range []struct {
		op    string
		run   func(ctx context.Context, c connectors.Connector) error
		check func(t *testing.T, f *fake)
	}{
		{"delete", func(ctx context.Context, c connectors.Connector) error { return c.Delete(ctx, "f", "") }, func(t *testing.T, f *fake) {
			if _, err := f.ReadFile("f"); err == nil {
				t.Error("f still there")
			}
		}},
		{"trash", func(ctx context.Context, c connectors.Connector) error { return c.(connectors.Trasher).Trash(ctx, "f") }, func(t *testing.T, f *fake) {
			if tr := f.Trashed(); len(tr) != 1 || string(tr[0].Data) != "x" {
				t.Errorf("trash holds %v, want f once", tr)
			}
		}},
		{"move", func(ctx context.Context, c connectors.Connector) error {
			e, err := c.(connectors.Mover).Move(ctx, "f", "dir/g")
			if err == nil && e.Path != "dir/g" {
				t.Errorf("Move returned %+v, want the entry at dir/g", e)
			}
			return err
		}, func(t *testing.T, f *fake) {
			if got, err := f.ReadFile("dir/g"); err != nil || string(got) != "x" {
				t.Errorf("dir/g: %q, %v", got, err)
			}
		}},
	} {
		t.Run(tc.op, func(t *testing.T) {
			f := newFake()
			write(t, f, "f", []byte("x"))
			f.plan(tc.op, fault{after: transient(tc.op)})
			if err := tc.run(t.Context(), Wrap(f, testOptions(&waits{}))); err != nil {
				t.Fatalf("%s after a lost answer: %v", tc.op, err)
			}
			if n := f.count(tc.op); n != 2 {
				t.Errorf("%d calls, want 2", n)
			}
			tc.check(t, f)
		})
	}
	// Move onto an existing file is an error, whatever came before.
	f := newFake()
	write(t, f, "f", []byte("x"))
	write(t, f, "g", []byte("y"))
	f.plan("move", fault{err: transient("move")})
	_, err := Wrap(f, testOptions(&waits{})).(connectors.Mover).Move(t.Context(), "f", "g")
	if connectors.KindOf(err) != connectors.Exists {
		t.Errorf("Move onto an existing file after a transient failure: %v, want kind Exists", err)
	}
	// A Delete that is retried and finds nothing on its first try is NotFound.
	f = newFake()
	if err := Wrap(f, testOptions(&waits{})).Delete(t.Context(), "missing", ""); !connectors.IsNotFound(err) {
		t.Errorf("Delete of a missing file: %v, want NotFound", err)
	}
}

// No more calls are in flight than Concurrency, and a Walk whose callback
// calls the connector does not deadlock with a single slot.
func TestConcurrencyCap(t *testing.T) {
	f := newFake()
	for i := 0; i < 40; i++ {
		f.plan("stat", fault{delay: 5 * time.Millisecond})
	}
	c := Wrap(f, Options{Concurrency: 3})
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Go(func() { c.Stat(t.Context(), "") })
	}
	wg.Wait()
	if f.peak != 3 {
		t.Errorf("peak of %d calls in flight, want 3", f.peak)
	}

	f = newFake()
	write(t, f, "a", []byte("a"))
	write(t, f, "b", []byte("b"))
	c = Wrap(f, Options{Concurrency: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := c.Walk(ctx, "", func(e connectors.Entry) error {
		_, err := connectors.HashOf(ctx, c, e.Path, connectors.MD5)
		return err
	}, func(string, error) {})
	if err != nil {
		t.Errorf("Walk calling the connector with one slot: %v", err)
	}
	// Copying a file within the connector opens a reader and uploads from it.
	if _, err := connectors.Move(ctx, Wrap(mem.New(mem.Options{NoMove: true}).Connector(), Options{Concurrency: 1}), "x", "y"); !connectors.IsNotFound(err) {
		t.Errorf("fallback move of a missing file: %v", err)
	}
	m := mem.New(mem.Options{NoMove: true})
	m.WriteFile("x", []byte("data"), time.Unix(1, 0))
	if _, err := connectors.Move(ctx, Wrap(m.Connector(), Options{Concurrency: 1}), "x", "y"); err != nil {
		t.Errorf("fallback move with one slot: %v", err)
	}
}

// The bandwidth limit holds for downloads and uploads, shared by all
// transfers.
func TestBandwidthLimit(t *testing.T) {
	const rate = 4 << 20
	data := randomData(1 << 20)
	f := newFake()
	c := Wrap(f, Options{BwLimit: rate})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			p := []string{"a", "b"}[i]
			if _, err := c.Put(t.Context(), p, bytes.NewReader(data), connectors.PutOptions{Size: -1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 2 MiB at 4 MiB/s, less the first burst: about 0.48s.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("uploaded 2 MiB in %v at a limit of 4 MiB/s", d)
	}
	start = time.Now()
	for _, p := range []string{"a", "b"} {
		r, err := c.Open(t.Context(), p, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, %v", len(got), err)
		}
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("downloaded 2 MiB in %v at a limit of 4 MiB/s", d)
	}
}

// Cancelling the context ends any call within a second, wherever it
// waits: in a stalled transfer, for a slot, in the bandwidth limiter.
func TestCancellation(t *testing.T) {
	data := randomData(256 << 10)
	for _, tc := range []struct {
		name string
		opts Options
		run  func(ctx context.Context, c connectors.Connector, f *fake) error
	}{
		{"stalled download", Options{}, func(ctx context.Context, c connectors.Connector, f *fake) error {
			f.plan("open", fault{cut: 1000, stall: true})
			r, err := c.Open(ctx, "f", 0, -1)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.ReadAll(r)
			return err
		}},
		{"stalled open", Options{}, func(ctx context.Context, c connectors.Connector, f *fake) error {
			f.plan("open", fault{stall: true})
			_, err := c.Open(ctx, "f", 0, -1)
			return err
		}},
		{"stalled upload", Options{}, func(ctx context.Context, c connectors.Connector, f *fake) error {
			f.plan("put", fault{cut: 1000, stall: true})
			_, err := c.Put(ctx, "g", bytes.NewReader(data), connectors.PutOptions{Size: -1})
			return err
		}},
		{"waiting for a slot", Options{Concurrency: 1}, func(ctx context.Context, c connectors.Connector, f *fake) error {
			f.plan("stat", fault{stall: true})
			go c.Stat(ctx, "f")
			time.Sleep(20 * time.Millisecond)
			_, err := c.Mkdir(ctx, "d")
			return err
		}},
		{"in the bandwidth limiter", Options{BwLimit: 10 << 10}, func(ctx context.Context, c connectors.Connector, f *fake) error {
			_, err := c.Put(ctx, "g", bytes.NewReader(data), connectors.PutOptions{Size: -1})
			return err
		}},
		{"in a backoff", Options{MinBackoff: time.Hour}, func(ctx context.Context, c connectors.Connector, f *fake) error {
			f.plan("stat", fault{err: transient("stat")})
			_, err := c.Stat(ctx, "f")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			write(t, f, "f", data)
			c := Wrap(f, tc.opts)
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			err := tc.run(ctx, c, f)
			if d := time.Since(start); d > 1100*time.Millisecond {
				t.Errorf("returned %v after the cancellation", d-100*time.Millisecond)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want the context's error", err)
			}
			var ce *connectors.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %v is not a *connectors.Error", err)
			}
		})
	}
}

// A transfer or metadata call that makes no progress is cancelled and
// retried.
func TestTimeouts(t *testing.T) {
	data := randomData(100 << 10)
	for _, tc := range []struct {
		name string
		op   string
		run  func(ctx context.Context, c connectors.Connector) error
	}{
		{"stat", "stat", func(ctx context.Context, c connectors.Connector) error { _, err := c.Stat(ctx, "f"); return err }},
		{"stalled open", "open", func(ctx context.Context, c connectors.Connector) error {
			r, err := c.Open(ctx, "f", 0, -1)
			if err != nil {
				return err
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, want %d", len(got), len(data))
			}
			return err
		}},
		{"stalled upload", "put", func(ctx context.Context, c connectors.Connector) error {
			_, err := c.Put(ctx, "g", bytes.NewReader(data), connectors.PutOptions{Size: int64(len(data))})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			write(t, f, "f", data)
			ft := fault{stall: true}
			if tc.op == "put" {
				ft.cut = 1000
			}
			f.plan(tc.op, ft)
			w := &waits{}
			opts := testOptions(w)
			opts.OpTimeout, opts.StallTimeout = 100*time.Millisecond, 100*time.Millisecond
			start := time.Now()
			if err := tc.run(t.Context(), Wrap(f, opts)); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
				t.Errorf("took %v with a timeout of 100ms", d)
			}
			if n := f.count(tc.op); n != 2 {
				t.Errorf("%d calls, want 2", n)
			}
			if n := len(w.all()); n != 1 {
				t.Errorf("%d retries, want 1", n)
			}
		})
	}
}

// The wrapped connector implements exactly the optional interfaces of the
// connector it wraps.
func TestOptionalInterfaces(t *testing.T) {
	// Every combination the generated types provide is what it says.
	m := mem.New(mem.Options{})
	for mask := caps(0); mask < 32; mask++ {
		inner := withCaps(&conn{inner: m}, mask)
		if got := capsOf(inner); got != mask {
			t.Errorf("withCaps(%05b) implements %05b", mask, got)
		}
		if got := capsOf(Wrap(inner, Options{})); got != mask {
			t.Errorf("Wrap of a connector with %05b implements %05b", mask, got)
		}
	}
	// The real connectors in all their variants.
	lc, err := local.New(t.TempDir(), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := local.New(t.TempDir(), local.Options{TrashDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Lookup("windows")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]connectors.Connector{
		"mem":              mem.New(mem.Options{}),
		"mem NoMove":       mem.New(mem.Options{NoMove: true}).Connector(),
		"mem NoTrash":      mem.New(mem.Options{NoTrash: true}).Connector(),
		"mem NoMoveTrash":  mem.New(mem.Options{NoMove: true, NoTrash: true}).Connector(),
		"local":            lc.Connector(),
		"local with trash": lt.Connector(),
		"namecode":         namecode.New(mem.New(mem.Options{}), rs),
		"namecode plain":   namecode.New(mem.New(mem.Options{NoMove: true, NoTrash: true}).Connector(), rs),
	} {
		if got, want := capsOf(Wrap(c, Options{})), capsOf(c); got != want {
			t.Errorf("%s: wrapped implements %05b, want %05b", name, got, want)
		}
		if Wrap(c, Options{}).Features() != c.Features() {
			t.Errorf("%s: Features changed", name)
		}
	}
}

// A conditional Put whose answer was lost is recognised by the content it
// left; a real conflict stays a conflict.
func TestConditionalPutAfterLostAnswer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing string // content at the path before the Put, "" for none
		fault    fault
		wantKind connectors.ErrorKind
	}{
		{"IfAbsent, answer lost", "", fault{after: transient("put")}, connectors.Unknown},
		{"IfAbsent, other file there", "other", fault{err: transient("put")}, connectors.Precondition},
		{"IfAbsent, same content there", "new content", fault{err: transient("put")}, connectors.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.existing != "" {
				write(t, f, "f", []byte(tc.existing))
			}
			f.plan("put", tc.fault)
			e, err := Wrap(f, testOptions(&waits{})).Put(t.Context(), "f", strings.NewReader("new content"), connectors.PutOptions{Size: 11, IfAbsent: true})
			if connectors.KindOf(err) != tc.wantKind || (tc.wantKind == connectors.Unknown && err != nil) {
				t.Fatalf("Put: %v, want kind %v", err, tc.wantKind)
			}
			if err == nil && (e.Path != "f" || e.Size != 11) {
				t.Errorf("Put returned %+v", e)
			}
			if n := f.count("put"); n != 2 {
				t.Errorf("%d uploads, want 2", n)
			}
		})
	}
}

// An upload whose source yields another size than announced, or fails
// itself, is not repeated: only the caller can look at the file again.
func TestPutSourceToBlame(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  io.Reader
		size int64
	}{
		{"shorter", strings.NewReader("short"), 100},
		{"longer", strings.NewReader("longer than that"), 3},
		{"read error", &failingSeeker{Reader: strings.NewReader("abcdef"), failAt: 3}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if _, err := Wrap(f, testOptions(&waits{})).Put(t.Context(), "f", tc.src, connectors.PutOptions{Size: tc.size}); err == nil {
				t.Fatal("Put succeeded")
			}
			if n := f.count("put"); n != 1 {
				t.Errorf("%d uploads, want 1", n)
			}
		})
	}
}

// failingSeeker fails with a Transient error once it reaches failAt.
type failingSeeker struct {
	*strings.Reader
	failAt int64
}

func (r *failingSeeker) Read(p []byte) (int, error) {
	pos := r.Size() - int64(r.Len())
	if pos >= r.failAt {
		return 0, transient("read")
	}
	return r.Reader.Read(p[:min(int64(len(p)), r.failAt-pos)])
}

// SetBwLimit changes the limit of a wrapped connector in use.
func TestSetBwLimit(t *testing.T) {
	f := newFake()
	write(t, f, "f", randomData(4<<20))
	c := Wrap(f, Options{})
	read := func(n int64) time.Duration {
		t.Helper()
		start := time.Now()
		r, err := c.Open(t.Context(), "f", 0, n)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got, err := io.Copy(io.Discard, r); err != nil || got != n {
			t.Fatalf("read %d bytes, %v", got, err)
		}
		return time.Since(start)
	}
	if !SetBwLimit(c, 1<<20) {
		t.Fatal("SetBwLimit of a wrapped connector reported false")
	}
	if d := read(512 << 10); d < 400*time.Millisecond {
		t.Errorf("read 512 KiB in %v at 1 MiB/s", d)
	}
	SetBwLimit(c, 0)
	if d := read(4 << 20); d > 2*time.Second {
		t.Errorf("read 4 MiB in %v after the limit was removed", d)
	}
	if SetBwLimit(f, 1) {
		t.Error("SetBwLimit of a connector that is not wrapped reported true")
	}
}

// A copy within the connector (connectors.Move without a Mover: a reader
// feeding a Put) survives a read fault with a single slot: resuming the
// reader does not wait for the slot the Put holds.
func TestCopyResumesWithOneSlot(t *testing.T) {
	data := randomData(200 << 10)
	m := mem.New(mem.Options{NoMove: true})
	m.WriteFile("x", data, time.Unix(1, 0))
	m.SetReadFault("x", 100<<10, transient("read"))
	opts := Options{Concurrency: 1, Sleep: func(ctx context.Context, d time.Duration) error {
		m.SetReadFault("x", 0, nil) // the network is back
		return ctx.Err()
	}}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := connectors.Move(ctx, Wrap(m.Connector(), opts), "x", "y"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	if got, err := m.ReadFile("y"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("y holds %d bytes (%v), want the %d of x", len(got), err, len(data))
	}
}
