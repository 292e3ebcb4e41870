// Package namecode wraps a connector so that names its provider cannot
// store are stored under a reversible look-alike encoding (see
// rules.RuleSet.EncodeName): "a:b.txt" is kept as "a：b.txt" at the
// provider and listed back as "a:b.txt". Every other name passes through
// unchanged, so turning the encoding on never renames files that were
// already fine.
package namecode

import (
	"context"
	"io"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/rules"
)

// New returns c with names encoded for rule set rs. The result implements
// exactly the optional interfaces c implements among Mover and Trasher;
// Hasher, Recoverer and Syncer are passed through (or fall back).
func New(c connectors.Connector, rs *rules.RuleSet) connectors.Connector {
	b := &conn{inner: c, rs: rs}
	_, mv := c.(connectors.Mover)
	_, tr := c.(connectors.Trasher)
	switch {
	case mv && tr:
		return moverTrasher{b}
	case mv:
		return mover{b}
	case tr:
		return trasher{b}
	}
	return b
}

type conn struct {
	inner connectors.Connector
	rs    *rules.RuleSet
}

var (
	_ connectors.Connector = (*conn)(nil)
	_ connectors.Hasher    = (*conn)(nil)
	_ connectors.Recoverer = (*conn)(nil)
	_ connectors.Syncer    = (*conn)(nil)
	_ connectors.Mover     = mover{}
	_ connectors.Trasher   = trasher{}
)

func (c *conn) enc(p string) string { return c.rs.EncodePath(p) }

// valid rejects a path that is not a clean relative path before it is
// encoded: encoding would turn ".." into look-alike dots and let it pass.
func valid(op, p string) error {
	if err := connectors.ValidPath(p); err != nil {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	return nil
}

// dec maps a provider name back, and fixes up errors' paths too.
func (c *conn) dec(p string) string { return c.rs.DecodePath(p) }

func (c *conn) entry(e connectors.Entry, err error) (connectors.Entry, error) {
	e.Path = c.dec(e.Path)
	return e, c.err(err)
}

func (c *conn) err(err error) error {
	if e, ok := err.(*connectors.Error); ok && e.Path != "" {
		cp := *e
		cp.Path = c.dec(e.Path)
		return &cp
	}
	return err
}

func (c *conn) Features() connectors.Features { return c.inner.Features() }

func (c *conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	if err := valid("walk", dir); err != nil {
		return err
	}
	return c.err(c.inner.Walk(ctx, c.enc(dir), func(e connectors.Entry) error {
		e.Path = c.dec(e.Path)
		return fn(e)
	}, func(p string, err error) { problem(c.dec(p), c.err(err)) }))
}

func (c *conn) Stat(ctx context.Context, p string) (connectors.Entry, error) {
	if err := valid("stat", p); err != nil {
		return connectors.Entry{}, err
	}
	return c.entry(c.inner.Stat(ctx, c.enc(p)))
}

func (c *conn) Open(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	if err := valid("open", p); err != nil {
		return nil, err
	}
	r, err := c.inner.Open(ctx, c.enc(p), off, n)
	return r, c.err(err)
}

func (c *conn) Put(ctx context.Context, p string, r io.Reader, o connectors.PutOptions) (connectors.Entry, error) {
	if err := valid("put", p); err != nil {
		return connectors.Entry{}, err
	}
	return c.entry(c.inner.Put(ctx, c.enc(p), r, o))
}

func (c *conn) Mkdir(ctx context.Context, p string) (connectors.Entry, error) {
	if err := valid("mkdir", p); err != nil {
		return connectors.Entry{}, err
	}
	return c.entry(c.inner.Mkdir(ctx, c.enc(p)))
}

func (c *conn) Delete(ctx context.Context, p, ifRev string) error {
	if err := valid("delete", p); err != nil {
		return err
	}
	return c.err(c.inner.Delete(ctx, c.enc(p), ifRev))
}

func (c *conn) Hash(ctx context.Context, p string, t connectors.HashType) (string, error) {
	if err := valid("hash", p); err != nil {
		return "", err
	}
	s, err := connectors.HashOf(ctx, c.inner, c.enc(p), t)
	return s, c.err(err)
}

func (c *conn) Recover(ctx context.Context, p string) error {
	if err := valid("recover", p); err != nil {
		return err
	}
	if r, ok := c.inner.(connectors.Recoverer); ok {
		return c.err(r.Recover(ctx, c.enc(p)))
	}
	return nil
}

func (c *conn) Sync(ctx context.Context) error {
	if s, ok := c.inner.(connectors.Syncer); ok {
		return s.Sync(ctx)
	}
	return nil
}

func (c *conn) move(ctx context.Context, from, to string) (connectors.Entry, error) {
	for _, p := range []string{from, to} {
		if err := valid("move", p); err != nil {
			return connectors.Entry{}, err
		}
	}
	return c.entry(c.inner.(connectors.Mover).Move(ctx, c.enc(from), c.enc(to)))
}

func (c *conn) trash(ctx context.Context, p string) error {
	if err := valid("trash", p); err != nil {
		return err
	}
	return c.err(c.inner.(connectors.Trasher).Trash(ctx, c.enc(p)))
}

type mover struct{ *conn }

func (m mover) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	return m.move(ctx, from, to)
}

type trasher struct{ *conn }

func (t trasher) Trash(ctx context.Context, p string) error { return t.trash(ctx, p) }

type moverTrasher struct{ *conn }

func (m moverTrasher) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	return m.move(ctx, from, to)
}

func (m moverTrasher) Trash(ctx context.Context, p string) error { return m.trash(ctx, p) }
