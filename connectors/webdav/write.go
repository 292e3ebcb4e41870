package webdav

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// tmpPrefix starts the name of every temporary file Put writes. Walk never
// reports such names, and Dovetail's default ignore list skips them.
const tmpPrefix = connectors.TempPrefix

func tempName(name string) string { return connectors.TempName(name, 0) }

func isTempOf(entry, name string) bool {
	suffix, ok := connectors.TempOf(entry, name, 0)
	return ok && suffix == ""
}

// testHookBeforeCommit, when set by a test, runs just before the request
// that puts the new content at the real name: the PUT itself, or the MOVE
// of the uploaded temporary file.
var testHookBeforeCommit func(p string)

// Put stores r at p so that no reader ever sees part of it there.
//
// On a server whose PUT is atomic (it writes to a temporary file and
// renames it, as Apache mod_dav_fs does; New probes for this, in a root
// that exists) Put is one PUT, conditional with an If header (IfRev) or
// If-None-Match: * (IfAbsent). Elsewhere Put uploads to a temporary name
// next to p and MOVEs it onto p, so a dropped connection never leaves a
// partial file at p; Overwrite: F or an If header make the MOVE
// conditional. Where the server ignores If headers
// (Features.ConditionalWrite is false) the condition is checked just
// before the write, which leaves a small race.
func (c *Conn) Put(ctx context.Context, p string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	const op = "put"
	if err := check(op, p); err != nil {
		return connectors.Entry{}, err
	}
	if p == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "the root is a folder")
	}
	exists, err := c.checkDest(ctx, op, p, opts)
	if err != nil {
		return connectors.Entry{}, err
	}
	if !exists {
		if err := c.ensureDir(ctx, op, connectors.Parent(p)); err != nil {
			return connectors.Entry{}, err
		}
	}
	if c.atomicPut {
		hdr := http.Header{}
		switch {
		case opts.IfAbsent:
			hdr.Set("If-None-Match", "*")
		case opts.IfRev != "" && c.features.ConditionalWrite:
			hdr.Set("If", ifTag(c.url(p, false), opts.IfRev))
		}
		if testHookBeforeCommit != nil {
			testHookBeforeCommit(p)
		}
		if err := c.upload(ctx, op, p, r, opts.Size, hdr); err != nil {
			return connectors.Entry{}, err
		}
		return c.stat(ctx, op, p)
	}
	tmp := connectors.Join(connectors.Parent(p), tempName(connectors.Base(p)))
	if err := c.upload(ctx, op, tmp, r, opts.Size, nil); err != nil {
		c.removeDebris(ctx, tmp)
		return connectors.Entry{}, withPath(err, p)
	}
	if testHookBeforeCommit != nil {
		testHookBeforeCommit(p)
	}
	if err := c.commit(ctx, op, tmp, p, opts); err != nil {
		c.removeDebris(ctx, tmp)
		return connectors.Entry{}, err
	}
	return c.stat(ctx, op, p)
}

// checkDest checks what is at p before a Put: never a folder, and what
// opts ask for. It reports whether something is there.
func (c *Conn) checkDest(ctx context.Context, op, p string, opts connectors.PutOptions) (bool, error) {
	cur, err := c.stat(ctx, op, p)
	switch {
	case connectors.IsNotFound(err):
		if opts.IfRev != "" {
			return false, connectors.Errorf(connectors.Precondition, op, p, "no longer exists")
		}
		return false, nil
	case err != nil:
		return false, err
	case cur.IsDir():
		return true, connectors.Errorf(connectors.Exists, op, p, "is a folder")
	case opts.IfAbsent:
		return true, connectors.Errorf(connectors.Precondition, op, p, "exists already")
	case opts.IfRev != "" && cur.Rev != opts.IfRev:
		return true, connectors.Errorf(connectors.Precondition, op, p, "changed since it was listed")
	}
	return true, nil
}

// commit moves the uploaded temporary file tmp onto p.
func (c *Conn) commit(ctx context.Context, op, tmp, p string, opts connectors.PutOptions) error {
	hdr := http.Header{"Destination": {c.url(p, false)}, "Overwrite": {"T"}}
	switch {
	case opts.IfAbsent:
		hdr.Set("Overwrite", "F")
	case opts.IfRev != "" && c.features.ConditionalWrite:
		hdr.Set("If", ifTag(c.url(p, false), opts.IfRev))
	case opts.IfRev != "":
		// Best effort: look again now the upload is done.
		if _, err := c.checkDest(ctx, op, p, opts); err != nil {
			return err
		}
	}
	resp, err := c.send(ctx, op, p, "MOVE", c.url(tmp, false), hdr, nil, 0)
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusNoContent, http.StatusOK:
		drain(resp)
		return nil
	case http.StatusPreconditionFailed:
		drain(resp)
		return connectors.Errorf(connectors.Precondition, op, p, "server answered %s", resp.Status)
	}
	return c.statusError(op, p, resp)
}

// upload PUTs r at p with the extra headers hdr (which it may change);
// size is the exact length r must yield, or -1.
func (c *Conn) upload(ctx context.Context, op, p string, r io.Reader, size int64, hdr http.Header) error {
	body := &uploadBody{ctx: ctx, r: r, size: size}
	var rd io.Reader = body
	if hdr == nil {
		hdr = http.Header{}
	}
	if size == 0 {
		// Go sends a body of length 0 as "length unknown" unless it is
		// http.NoBody; check r is empty as announced first.
		if err := body.atEnd(); err != nil {
			return body.failure(op, p, err)
		}
		rd = http.NoBody
	} else {
		hdr.Set("Expect", "100-continue")
	}
	resp, err := c.send(ctx, op, p, http.MethodPut, c.url(p, false), hdr, rd, size)
	if body.err != nil {
		if resp != nil {
			drain(resp)
		}
		return body.failure(op, p, body.err)
	}
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusNoContent, http.StatusOK:
		drain(resp)
	case http.StatusConflict:
		drain(resp)
		return connectors.Errorf(connectors.NotFound, op, p, "the folder to hold it is missing (server answered %s)", resp.Status)
	case http.StatusPreconditionFailed:
		drain(resp)
		return connectors.Errorf(connectors.Precondition, op, p, "server answered %s", resp.Status)
	default:
		return c.statusError(op, p, resp)
	}
	if size >= 0 && body.n != size {
		return body.failure(op, p, errFewer)
	}
	return nil
}

var (
	errFewer = errors.New("got fewer bytes than announced")
	errMore  = errors.New("got more bytes than announced")
)

// uploadBody is the body of a PUT: it stops at the caller's cancellation
// and checks that exactly size bytes arrive (when size >= 0). err keeps
// the first failure, which then explains the failed request better than
// the transport's error does.
type uploadBody struct {
	ctx  context.Context
	r    io.Reader
	size int64
	n    int64
	err  error
}

func (b *uploadBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if err := b.ctx.Err(); err != nil {
		b.err = err
		return 0, err
	}
	if b.size >= 0 && b.n >= b.size {
		return 0, io.EOF
	}
	if b.size >= 0 {
		p = p[:min(int64(len(p)), b.size-b.n)]
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	switch {
	case err == io.EOF && b.size >= 0 && b.n < b.size:
		b.err = errFewer
		return k, b.err
	case err != nil && err != io.EOF:
		b.err = err
		return k, err
	case b.size >= 0 && b.n == b.size && err == nil:
		// The last announced byte is in p. Make sure the source has no
		// more before handing it over: once the server has all the
		// bytes it was promised, it stores them.
		if err := b.atEnd(); err != nil {
			b.err = err
			return 0, err
		}
		return k, io.EOF
	}
	return k, err
}

// atEnd checks that the source yields nothing more.
func (b *uploadBody) atEnd() error {
	var one [1]byte
	for {
		k, err := b.r.Read(one[:])
		switch {
		case k > 0:
			return errMore
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
		if err := b.ctx.Err(); err != nil {
			return err
		}
	}
}

// failure classifies a failure of the content being uploaded.
func (b *uploadBody) failure(op, p string, err error) error {
	var ce *connectors.Error
	switch {
	case errors.As(err, &ce):
		return err
	case err == errFewer || err == errMore:
		// The source changed while it was read.
		return &connectors.Error{Kind: connectors.Transient, Op: op, Path: p, Err: err}
	case b.ctx.Err() != nil:
		return netError(b.ctx, op, p, err)
	}
	// The source failed (a local read error): its own kind.
	return &connectors.Error{Kind: connectors.KindOf(err), Op: op, Path: p, Err: err}
}

// withPath names the real destination p in an error about the temporary
// file written for it.
func withPath(err error, p string) error {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Path != p {
		cp := *ce
		cp.Path = p
		return &cp
	}
	return err
}

// removeDebris deletes a temporary file after a failed write, even when
// ctx is cancelled; what it cannot remove, Recover removes later.
func (c *Conn) removeDebris(ctx context.Context, tmp string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if resp, err := c.send(ctx, "put", tmp, http.MethodDelete, c.url(tmp, false), nil, nil, 0); err == nil {
		drain(resp)
	}
}

// Recover removes the temporary files an interrupted Put of p left next
// to it. It succeeds when there are none.
func (c *Conn) Recover(ctx context.Context, p string) error {
	const op = "recover"
	if err := check(op, p); err != nil {
		return err
	}
	if p == "" {
		return nil
	}
	dir, name := connectors.Parent(p), connectors.Base(p)
	self := c.segsOf(dir)
	var debris []string
	err := c.propfind(ctx, op, dir, "1", func(r resource) error {
		if rest, ok := under(r.segs, self); r.err == nil && ok && len(rest) == 1 && isTempOf(rest[0], name) {
			debris = append(debris, connectors.Join(dir, rest[0]))
		}
		return nil
	})
	if connectors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return withPath(err, p)
	}
	for _, tmp := range debris {
		resp, err := c.send(ctx, op, p, http.MethodDelete, c.url(tmp, false), nil, nil, 0)
		if err != nil {
			return err
		}
		if resp.StatusCode/100 != 2 && resp.StatusCode != http.StatusNotFound {
			return c.statusError(op, p, resp)
		}
		drain(resp)
	}
	return nil
}

// Mkdir creates the folder p and its missing parents (for "", the root
// and its missing parents on the server).
func (c *Conn) Mkdir(ctx context.Context, p string) (connectors.Entry, error) {
	const op = "mkdir"
	if err := check(op, p); err != nil {
		return connectors.Entry{}, err
	}
	if err := c.ensureDir(ctx, op, p); err != nil {
		return connectors.Entry{}, err
	}
	return c.stat(ctx, op, p)
}

// ensureDir makes sure the folder p exists, creating it and its missing
// parents with MKCOL.
func (c *Conn) ensureDir(ctx context.Context, op, p string) error {
	e, err := c.stat(ctx, op, p)
	switch {
	case err == nil && e.IsDir():
		return nil
	case err == nil:
		return connectors.Errorf(connectors.Exists, op, p, "is a file, not a folder")
	case !connectors.IsNotFound(err):
		return err
	}
	if p != "" {
		if err := c.ensureDir(ctx, op, connectors.Parent(p)); err != nil {
			return err
		}
		return c.mkcol(ctx, op, p, c.url(p, true))
	}
	// The root is missing: create it and the server folders above it.
	for i := 1; i <= len(c.root); i++ {
		target := c.base + "/" + escapeSegs(c.root[:i]) + "/"
		if err := c.mkcol(ctx, op, "", target); err != nil && connectors.KindOf(err) != connectors.Exists {
			return err
		}
	}
	return nil
}

// mkcol creates one folder. An existing folder at target is success
// (another client made it meanwhile), except for the root's ancestors,
// where the caller treats Exists as fine.
func (c *Conn) mkcol(ctx context.Context, op, p, target string) error {
	resp, err := c.send(ctx, op, p, "MKCOL", target, nil, nil, 0)
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK, http.StatusNoContent:
		drain(resp)
		return nil
	case http.StatusConflict:
		drain(resp)
		return connectors.Errorf(connectors.NotFound, op, p, "the folder to hold it is missing (server answered %s)", resp.Status)
	}
	// 405 means something is there already. Apache answers 403 when
	// another request created the folder a moment before; other servers
	// have their own ways: whatever the answer, a folder there now is
	// what was wanted.
	failure := c.statusError(op, p, resp)
	if p == "" {
		if resp.StatusCode == http.StatusMethodNotAllowed {
			return connectors.Errorf(connectors.Exists, op, p, "exists already")
		}
		return failure
	}
	e, err := c.stat(ctx, op, p)
	switch {
	case err != nil:
		return failure
	case !e.IsDir():
		return connectors.Errorf(connectors.Exists, op, p, "is a file, not a folder")
	}
	return nil
}

// Delete removes the file or empty folder at p. A server's DELETE of a
// folder removes everything in it, so Delete first checks the folder is
// empty (apart from Put's temporary files); a file with ifRev is deleted
// with an If header where the server honours it, else after a check.
func (c *Conn) Delete(ctx context.Context, p string, ifRev string) error {
	const op = "delete"
	if err := check(op, p); err != nil {
		return err
	}
	if p == "" {
		return connectors.Errorf(connectors.Invalid, op, p, "cannot delete the root")
	}
	self := c.segsOf(p)
	var cur *connectors.Entry
	members := 0
	err := c.propfind(ctx, op, p, "1", func(r resource) error {
		if r.err != nil {
			members++
			return nil
		}
		rest, ok := under(r.segs, self)
		switch {
		case ok && len(rest) == 0:
			e := entryOf(p, r)
			cur = &e
		case ok && len(rest) == 1 && strings.HasPrefix(rest[0], tmpPrefix):
		default:
			members++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if cur == nil {
		return &connectors.Error{Kind: connectors.Unknown, Op: op, Path: p, Err: errNotDescribed}
	}
	hdr := http.Header{}
	switch {
	case cur.IsDir() && members > 0:
		return connectors.Errorf(connectors.Precondition, op, p, "folder is not empty")
	case cur.IsDir():
	case ifRev != "" && cur.Rev != ifRev:
		return connectors.Errorf(connectors.Precondition, op, p, "changed since it was listed")
	case ifRev != "" && c.features.ConditionalWrite:
		hdr.Set("If", ifTag(c.url(p, false), ifRev))
	}
	resp, err := c.send(ctx, op, p, http.MethodDelete, c.url(p, cur.IsDir()), hdr, nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 == 2 {
		drain(resp)
		return nil
	}
	return c.statusError(op, p, resp)
}

// Move renames from to to on the server (MOVE with Overwrite: F), creating
// the parents of to.
func (c *Conn) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	const op = "move"
	if err := check(op, from); err != nil {
		return connectors.Entry{}, err
	}
	if err := check(op, to); err != nil {
		return connectors.Entry{}, withPath(err, to)
	}
	if from == "" || to == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, op, from, "cannot move the root")
	}
	if connectors.Within(to, from) {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, op, from, "cannot move a folder into itself (to %q)", to)
	}
	src, err := c.stat(ctx, op, from)
	if err != nil {
		return connectors.Entry{}, err
	}
	switch _, err := c.stat(ctx, op, to); {
	case err == nil:
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, to, "something is there already")
	case !connectors.IsNotFound(err):
		return connectors.Entry{}, err
	}
	if err := c.ensureDir(ctx, op, connectors.Parent(to)); err != nil {
		return connectors.Entry{}, err
	}
	dir := src.IsDir()
	resp, err := c.send(ctx, op, from, "MOVE", c.url(from, dir), http.Header{
		"Destination": {c.url(to, dir)},
		"Overwrite":   {"F"},
	}, nil, 0)
	if err != nil {
		return connectors.Entry{}, err
	}
	switch {
	case resp.StatusCode/100 == 2:
		drain(resp)
	case resp.StatusCode == http.StatusPreconditionFailed:
		drain(resp)
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, to, "something is there already")
	default:
		return connectors.Entry{}, c.statusError(op, from, resp)
	}
	return c.stat(ctx, op, to)
}
