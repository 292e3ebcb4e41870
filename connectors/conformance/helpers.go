package conformance

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// modTime is a fixed time with a nanosecond part, so that a connector that
// drops precision it claims to keep is caught.
var modTime = time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)

func put(t *testing.T, c connectors.Connector, path string, data []byte) connectors.Entry {
	t.Helper()
	return putOpts(t, c, path, data, connectors.PutOptions{ModTime: modTime, Size: int64(len(data))})
}

func putOpts(t *testing.T, c connectors.Connector, path string, data []byte, opts connectors.PutOptions) connectors.Entry {
	t.Helper()
	e, err := c.Put(t.Context(), path, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", path, len(data), err)
	}
	return e
}

func mkdir(t *testing.T, c connectors.Connector, path string) connectors.Entry {
	t.Helper()
	e, err := c.Mkdir(t.Context(), path)
	if err != nil {
		t.Fatalf("Mkdir(%q): %v", path, err)
	}
	return e
}

func stat(t *testing.T, c connectors.Connector, path string) connectors.Entry {
	t.Helper()
	e, err := c.Stat(t.Context(), path)
	if err != nil {
		t.Fatalf("Stat(%q): %v", path, err)
	}
	return e
}

func read(t *testing.T, c connectors.Connector, path string) []byte {
	t.Helper()
	return readRange(t, c, path, 0, -1)
}

func readRange(t *testing.T, c connectors.Connector, path string, offset, length int64) []byte {
	t.Helper()
	r, err := c.Open(t.Context(), path, offset, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", path, offset, length, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %q from %d (length %d): %v", path, offset, length, err)
	}
	return b
}

// walk returns every entry below dir by path and fails on problems,
// duplicates, invalid paths and folders reported after their contents.
func walk(t *testing.T, c connectors.Connector, dir string) map[string]connectors.Entry {
	t.Helper()
	got := make(map[string]connectors.Entry)
	err := c.Walk(t.Context(), dir, func(e connectors.Entry) error {
		checkWalked(t, dir, e, got)
		got[e.Path] = e
		return nil
	}, func(path string, err error) {
		t.Errorf("Walk(%q) reported a problem at %q: %v", dir, path, err)
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", dir, err)
	}
	return got
}

func checkWalked(t *testing.T, dir string, e connectors.Entry, seen map[string]connectors.Entry) {
	t.Helper()
	if err := connectors.ValidPath(e.Path); err != nil || e.Path == "" {
		t.Errorf("Walk(%q) reported invalid path %q: %v", dir, e.Path, err)
	}
	if e.Path == dir || !connectors.Within(e.Path, dir) {
		t.Errorf("Walk(%q) reported %q, which is not below it", dir, e.Path)
	}
	if _, dup := seen[e.Path]; dup {
		t.Errorf("Walk(%q) reported %q twice", dir, e.Path)
	}
	if p := connectors.Parent(e.Path); p != dir {
		if pe, ok := seen[p]; !ok || !pe.IsDir() {
			t.Errorf("Walk(%q) reported %q before its folder %q", dir, e.Path, p)
		}
	}
	if e.Kind != connectors.File && e.Kind != connectors.Dir {
		t.Errorf("Walk(%q) reported %q with kind %v", dir, e.Path, e.Kind)
	}
	if e.IsDir() && e.Size != 0 {
		t.Errorf("Walk(%q): folder %q has size %d, want 0", dir, e.Path, e.Size)
	}
}

func paths(m map[string]connectors.Entry) []string {
	var out []string
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func wantPaths(t *testing.T, what string, got map[string]connectors.Entry, want ...string) {
	t.Helper()
	slices.Sort(want)
	if g := paths(got); !slices.Equal(g, want) {
		t.Errorf("%s listed %q, want %q", what, g, want)
	}
}

// wantKind fails unless err is an error of one of kinds that carries a
// *connectors.Error.
func wantKind(t *testing.T, what string, err error, kinds ...connectors.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded, want an error of kind %v", what, kinds)
		return
	}
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: error %v (%T) is not a *connectors.Error", what, err, err)
	}
	if k := connectors.KindOf(err); !slices.Contains(kinds, k) {
		t.Errorf("%s: error kind %v (%v), want %v", what, k, err, kinds)
	}
}

func wantMissing(t *testing.T, c connectors.Connector, path string) {
	t.Helper()
	_, err := c.Stat(t.Context(), path)
	if err == nil {
		t.Errorf("Stat(%q) found something, want nothing there", path)
		return
	}
	wantKind(t, "Stat("+path+")", err, connectors.NotFound)
}

func wantContent(t *testing.T, c connectors.Connector, path string, want []byte) {
	t.Helper()
	got := read(t, c, path)
	if !bytes.Equal(got, want) {
		t.Errorf("content of %q is %s, want %s", path, describe(got), describe(want))
	}
	if e := stat(t, c, path); e.Size != int64(len(want)) || e.Kind != connectors.File {
		t.Errorf("Stat(%q) = kind %v size %d, want file of %d bytes", path, e.Kind, e.Size, len(want))
	}
}

func describe(b []byte) string {
	if len(b) <= 40 {
		return strings.ReplaceAll(string(b), "\n", `\n`)
	}
	return string(b[:20]) + "..." + " (" + strconv.Itoa(len(b)) + " bytes)"
}

// sameTime reports whether a connector with feature f stores a as b.
func sameTime(f connectors.Features, a, b time.Time) bool {
	if f.ModTimePrecision <= 0 {
		return a.Equal(b)
	}
	d := a.Sub(b)
	return d < f.ModTimePrecision && d > -f.ModTimePrecision
}

func checkModTime(t *testing.T, c connectors.Connector, what string, got time.Time) {
	t.Helper()
	f := c.Features()
	if f.SetModTime && !sameTime(f, got, modTime) {
		t.Errorf("%s: modification time %v, want %v (precision %v)", what, got, modTime, f.ModTimePrecision)
	}
}

func hashHex(t *testing.T, ht connectors.HashType, data []byte) string {
	t.Helper()
	h, err := connectors.NewHash(ht)
	if err != nil {
		t.Fatalf("NewHash(%q): %v", ht, err)
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// countingReader counts the bytes read from it; hostile-path tests use it
// to check that a rejected Put does not even consume its input.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// stallingReader yields first bytes, then signals stalled and blocks until
// ctx is done (or a safety timeout), then yields the rest of total without
// error: only a connector that checks its context notices the cancellation.
type stallingReader struct {
	ctx          context.Context
	first, total int
	pos          int
	stalled      chan struct{}
	once         bool
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.pos >= r.total {
		return 0, io.EOF
	}
	if r.pos >= r.first && !r.once {
		r.once = true
		close(r.stalled)
		select {
		case <-r.ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	limit := r.total
	if !r.once {
		limit = r.first
	}
	n := min(len(p), limit-r.pos)
	for i := range n {
		p[i] = 'x'
	}
	r.pos += n
	return n, nil
}

// failingReader yields n bytes and then fails.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = 'f'
	}
	r.n -= k
	return k, nil
}
