package webdav

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

var (
	_ connectors.Connector = (*Conn)(nil)
	_ connectors.Mover     = (*Conn)(nil)
	_ connectors.Recoverer = (*Conn)(nil)
)

// Conn is a connector to a folder on a WebDAV server. It is safe for
// concurrent use.
type Conn struct {
	cfg      Config
	base     string   // "scheme://host"
	root     []string // names of the root folder's server path, decoded
	hc       *http.Client
	features connectors.Features
	// atomicPut: the server's own PUT never shows a partial file (see
	// probe), so Put writes in one request.
	atomicPut bool
}

// New returns a connector for cfg. It checks that the server answers and
// accepts the login, and finds out whether it honours conditional writes
// (see Features). A root folder that does not exist yet is not an error:
// Stat("") reports it missing and Mkdir("") creates it.
func New(ctx context.Context, cfg Config) (*Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, connectors.Errorf(connectors.Invalid, "connect", "", "%v", err)
	}
	segs, _ := rootSegments(cfg.Root)
	c := &Conn{
		cfg:  cfg,
		base: cfg.Scheme + "://" + cfg.Host,
		root: segs,
		hc:   newClient(),
		features: connectors.Features{
			Name:             "webdav",
			SetModTime:       false,
			ModTimePrecision: time.Second,
			ServerSideMove:   true,
			RevTracksContent: true, // the ETag
			Rules:            "webdav",
		},
	}
	root, err := c.stat(ctx, "connect", "")
	switch {
	case connectors.IsNotFound(err):
		// Nothing to probe in: conditional writes stay best effort.
	case err != nil:
		c.Close()
		return nil, err
	case !root.IsDir():
		c.Close()
		return nil, connectors.Errorf(connectors.Exists, "connect", "", "%s is a file, not a folder", cfg)
	default:
		c.removeStaleProbes(ctx)
		c.atomicPut, c.features.ConditionalWrite = c.probe(ctx)
	}
	return c, nil
}

// removeStaleProbes removes probe files that a process killed during New
// left in the root; nothing else ever would, since Walk hides them. A
// probe of another connection in progress at this very moment may be
// among them: losing its file only makes that connection fall back to the
// cautious settings (temporary name and MOVE, best-effort conditions).
func (c *Conn) removeStaleProbes(ctx context.Context) {
	prefix := connectors.TempPrefix + "probe."
	self := c.segsOf("")
	var stale []string
	c.propfind(ctx, "connect", "", "1", func(r resource) error {
		if rest, ok := under(r.segs, self); r.err == nil && ok && len(rest) == 1 && !r.dir && strings.HasPrefix(rest[0], prefix) {
			stale = append(stale, rest[0])
		}
		return nil
	})
	for _, name := range stale {
		c.removeDebris(ctx, name)
	}
}

// Close releases the connector's idle connections. The connector stays
// usable: a later call opens new ones.
func (c *Conn) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Features reports what the server does. ConditionalWrite is true when the
// server enforced an entity tag in an If header during New (Apache mod_dav
// does; golang.org/x/net/webdav does not). SetModTime is always false:
// WebDAV servers keep their own modification times, so Dovetail keeps the
// client's in its state database.
func (c *Conn) Features() connectors.Features { return c.features }

// probe finds out how the server writes, with a temporary file in the
// root that it removes again: whether an interrupted PUT over a file
// leaves the old content (the server writes to a temporary file and
// renames it), and whether the server refuses a write whose If header
// names an entity tag the file does not have, and accepts one with the
// right tag.
func (c *Conn) probe(ctx context.Context) (atomic, conditional bool) {
	const op = "connect"
	a := tempName("probe")
	defer c.removeDebris(ctx, a)
	if err := c.upload(ctx, op, a, strings.NewReader("old"), 3, nil); err != nil {
		return false, false
	}
	// Announce more than is sent, then drop the connection. The body
	// follows the server's "100 Continue", so a server that writes in
	// place has opened and truncated the file before the drop.
	c.upload(ctx, op, a, &abortingReader{n: 16}, 1<<20, nil)
	atomic = c.holds(ctx, a, "old")
	cur, err := c.stat(ctx, op, a)
	if err != nil {
		return atomic, false
	}
	target := c.url(a, false)
	if atomic {
		wrong := c.upload(ctx, op, a, strings.NewReader("new"), 3, http.Header{"If": {ifTag(target, `"dovetail-probe-mismatch"`)}})
		right := c.upload(ctx, op, a, strings.NewReader("new"), 3, http.Header{"If": {ifTag(target, cur.Rev)}})
		return true, connectors.KindOf(wrong) == connectors.Precondition && right == nil
	}
	b := tempName("probe")
	defer c.removeDebris(ctx, b)
	move := func(etag string) (int, error) {
		if err := c.upload(ctx, op, b, strings.NewReader("new"), 3, nil); err != nil {
			return 0, err
		}
		resp, err := c.send(ctx, op, a, "MOVE", c.url(b, false), http.Header{
			"Destination": {target},
			"Overwrite":   {"T"},
			"If":          {ifTag(target, etag)},
		}, nil, 0)
		if err != nil {
			return 0, err
		}
		drain(resp)
		return resp.StatusCode, nil
	}
	if code, err := move(`"dovetail-probe-mismatch"`); err != nil || code != http.StatusPreconditionFailed {
		return false, false
	}
	code, err := move(cur.Rev)
	return false, err == nil && code/100 == 2
}

// holds reports whether the file at p has exactly the content want.
func (c *Conn) holds(ctx context.Context, p, want string) bool {
	r, err := c.Open(ctx, p, 0, -1)
	if err != nil {
		return false
	}
	defer r.Close()
	got, err := io.ReadAll(io.LimitReader(r, int64(len(want))+1))
	return err == nil && string(got) == want
}

// abortingReader yields n bytes, then fails.
type abortingReader struct{ n int }

var errProbeAbort = errors.New("interrupted on purpose")

func (a *abortingReader) Read(p []byte) (int, error) {
	if a.n == 0 {
		return 0, errProbeAbort
	}
	k := min(len(p), a.n)
	clear(p[:k])
	a.n -= k
	return k, nil
}

// ifTag returns an If header (RFC 4918 section 10.4) that holds while the
// resource at target has the entity tag rev. Unlike If-Match it names the
// resource, so it can guard the destination of a MOVE, and servers compare
// its tags weakly, so a W/ tag Apache gives right after a write matches.
func ifTag(target, rev string) string {
	if !strings.HasPrefix(rev, `"`) {
		rev = strconv.Quote(rev)
	}
	return "<" + target + "> ([" + rev + "])"
}

// check validates a path argument.
func check(op, p string) error {
	if err := connectors.ValidPath(p); err != nil {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	return nil
}

// Stat returns the entry at p.
func (c *Conn) Stat(ctx context.Context, p string) (connectors.Entry, error) {
	if err := check("stat", p); err != nil {
		return connectors.Entry{}, err
	}
	return c.stat(ctx, "stat", p)
}

// Open reads the file at p with a ranged GET.
func (c *Conn) Open(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	const op = "open"
	if err := check(op, p); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, connectors.Errorf(connectors.Invalid, op, p, "negative offset %d", offset)
	}
	if length == 0 {
		e, err := c.stat(ctx, op, p)
		if err != nil {
			return nil, err
		}
		if e.IsDir() {
			return nil, connectors.Errorf(connectors.Exists, op, p, "is a folder")
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	hdr := http.Header{}
	switch {
	case length > 0:
		hdr.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := c.send(ctx, op, p, http.MethodGet, c.url(p, false), hdr, nil, 0)
	if err == nil && resp.StatusCode == http.StatusNotFound && !c.atomicPut {
		// Where Put replaces a file with MOVE, the server deletes the
		// old file before it renames the new one into place (RFC 4918
		// section 9.9.3): a GET in between finds nothing. Look once
		// more, so a reader sees the old or the new content.
		drain(resp)
		select {
		case <-ctx.Done():
			return nil, netError(ctx, op, p, ctx.Err())
		case <-time.After(replaceWindow):
		}
		resp, err = c.send(ctx, op, p, http.MethodGet, c.url(p, false), hdr, nil, 0)
	}
	if err != nil {
		return nil, err
	}
	var r io.Reader = resp.Body
	switch resp.StatusCode {
	case http.StatusOK:
		// The whole file (no range asked, or the server ignores ranges).
		if offset > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil && err != io.EOF {
				resp.Body.Close()
				return nil, netError(ctx, op, p, err)
			}
		}
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
			resp.Body.Close()
			return nil, connectors.Errorf(connectors.Unknown, op, p, "asked for bytes from %d, server sent Content-Range %q", offset, resp.Header.Get("Content-Range"))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// The offset is at or past the end.
		drain(resp)
		return io.NopCloser(strings.NewReader("")), nil
	default:
		return nil, c.statusError(op, p, resp)
	}
	if length > 0 {
		r = io.LimitReader(r, length)
	}
	return &bodyReader{ctx: ctx, op: op, p: p, r: r, closer: resp.Body}, nil
}

// replaceWindow is how long Open waits before it asks again for a file
// that was missing, in case it was being replaced.
const replaceWindow = 50 * time.Millisecond

// rangeStart reads the first byte position of "bytes first-last/size".
func rangeStart(cr string) (int64, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(cr), "bytes ")
	if !ok {
		return 0, false
	}
	first, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(first, 10, 64)
	return n, err == nil
}

// fnError carries an error of Walk's callback through the listing code.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// Walk lists dir and everything below it with one PROPFIND of depth 1
// per folder (servers such as Apache refuse depth infinity). Entries are
// passed to fn as each answer is decoded; only the names of folders still
// to visit are kept. Temporary files of Put are not reported.
func (c *Conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	const op = "walk"
	if err := check(op, dir); err != nil {
		return err
	}
	first, err := c.list(ctx, dir, fn, problem)
	if err != nil {
		return unwrapFn(err)
	}
	stack := [][]string{first}
	for len(stack) > 0 {
		top := len(stack) - 1
		if len(stack[top]) == 0 {
			stack = stack[:top]
			continue
		}
		d := stack[top][0]
		stack[top] = stack[top][1:]
		sub, err := c.list(ctx, d, fn, problem)
		var fe fnError
		switch {
		case errors.As(err, &fe):
			return fe.err
		case err != nil && (ctx.Err() != nil || connectors.Retryable(err)):
			// The server or the network failed, not this folder: a
			// partial listing must not look like a complete one.
			return err
		case err != nil:
			problem(d, err)
			continue
		}
		stack = append(stack, sub)
	}
	return nil
}

func unwrapFn(err error) error {
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// list reports the members of the folder d to fn and returns the folders
// among them to descend into.
func (c *Conn) list(ctx context.Context, d string, fn func(connectors.Entry) error, problem func(string, error)) ([]string, error) {
	const op = "walk"
	if err := ctx.Err(); err != nil {
		return nil, netError(ctx, op, d, err)
	}
	self := c.segsOf(d)
	var subdirs []string
	err := c.propfind(ctx, op, d, "1", func(r resource) error {
		if r.err != nil {
			problem(d, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: d, Err: r.err})
			return nil
		}
		rest, ok := under(r.segs, self)
		switch {
		case ok && len(rest) == 0:
			if !r.dir {
				return connectors.Errorf(connectors.Exists, op, d, "not a folder")
			}
			return nil
		case !ok || len(rest) != 1:
			problem(d, connectors.Errorf(connectors.Invalid, op, d, "server listed %q, which is not a member of this folder", r.href))
			return nil
		}
		name := rest[0]
		if strings.HasPrefix(name, tmpPrefix) {
			return nil
		}
		p := connectors.Join(d, name)
		if err := connectors.ValidPath(p); err != nil {
			problem(p, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err})
			return nil
		}
		err := fn(entryOf(p, r))
		switch {
		case errors.Is(err, connectors.SkipDir):
			return nil
		case err != nil:
			return fnError{err}
		case r.dir:
			subdirs = append(subdirs, p)
		}
		return nil
	})
	return subdirs, err
}
