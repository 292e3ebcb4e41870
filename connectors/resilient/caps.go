package resilient

import (
	"context"

	"github.com/dovetail-sync/dovetail/connectors"
)

//go:generate go run gen_caps.go

// caps is a set of the optional interfaces of package connectors, one bit
// each, in the order gen_caps.go lists them.
type caps uint8

const (
	capMover caps = 1 << iota
	capHasher
	capTrasher
	capRecoverer
	capSyncer
	capChangeFeed
)

// capsOf returns the optional interfaces c implements.
func capsOf(c connectors.Connector) caps {
	var m caps
	if _, ok := c.(connectors.Mover); ok {
		m |= capMover
	}
	if _, ok := c.(connectors.Hasher); ok {
		m |= capHasher
	}
	if _, ok := c.(connectors.Trasher); ok {
		m |= capTrasher
	}
	if _, ok := c.(connectors.Recoverer); ok {
		m |= capRecoverer
	}
	if _, ok := c.(connectors.Syncer); ok {
		m |= capSyncer
	}
	if _, ok := c.(connectors.ChangeFeed); ok {
		m |= capChangeFeed
	}
	return m
}

// The method-set pieces the generated combinations embed. Each holds the
// shared *conn; the methods are only called when the wrapped connector has
// the interface, which withCaps guarantees.

type mover struct{ c *conn }

func (m mover) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	return m.c.move(ctx, from, to)
}

type hasher struct{ c *conn }

func (h hasher) Hash(ctx context.Context, path string, t connectors.HashType) (string, error) {
	return h.c.hash(ctx, path, t)
}

type trasher struct{ c *conn }

func (t trasher) Trash(ctx context.Context, path string) error { return t.c.trash(ctx, path) }

type recoverer struct{ c *conn }

func (r recoverer) Recover(ctx context.Context, path string) error { return r.c.recover(ctx, path) }

type syncer struct{ c *conn }

func (s syncer) Sync(ctx context.Context) error { return s.c.sync(ctx) }

type changefeed struct{ c *conn }

func (f changefeed) Cursor(ctx context.Context) (string, error) { return f.c.cursor(ctx) }

func (f changefeed) Changes(ctx context.Context, cursor string) ([]string, string, error) {
	return f.c.changes(ctx, cursor)
}
