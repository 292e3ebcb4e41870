package connectors

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// NewHash returns a hash.Hash computing t, or an error for an unknown type.
func NewHash(t HashType) (hash.Hash, error) {
	switch t {
	case MD5:
		return md5.New(), nil
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("unsupported hash type %q", t)
}

// HashOf returns the hash of type t of the file at path: from the connector's
// Hasher if it has one, otherwise by reading the content.
func HashOf(ctx context.Context, c Connector, path string, t HashType) (string, error) {
	if h, ok := c.(Hasher); ok {
		sum, err := h.Hash(ctx, path, t)
		if KindOf(err) != Unimplemented {
			return sum, err
		}
	}
	h, err := NewHash(t)
	if err != nil {
		return "", &Error{Kind: Unimplemented, Op: "hash", Path: path, Err: err}
	}
	r, err := c.Open(ctx, path, 0, -1)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if _, err := io.Copy(h, r); err != nil {
		return "", Wrap("hash", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Move renames from to to with the connector's Mover where it has one. A
// connector without one gets a copy then a delete, which works for files
// only; a folder gives kind Unimplemented and the caller must recreate it.
func Move(ctx context.Context, c Connector, from, to string) (Entry, error) {
	if m, ok := c.(Mover); ok {
		return m.Move(ctx, from, to)
	}
	src, err := c.Stat(ctx, from)
	if err != nil {
		return Entry{}, err
	}
	if src.IsDir() {
		return Entry{}, &Error{Kind: Unimplemented, Op: "move", Path: from, Err: fmt.Errorf("%s cannot move folders", c.Features().Name)}
	}
	r, err := c.Open(ctx, from, 0, -1)
	if err != nil {
		return Entry{}, err
	}
	e, err := c.Put(ctx, to, r, PutOptions{ModTime: src.ModTime, Size: src.Size, IfAbsent: true})
	r.Close()
	if err != nil {
		return Entry{}, err
	}
	if err := c.Delete(ctx, from, src.Rev); err != nil {
		return e, err
	}
	return e, nil
}

// Remove gets rid of the file at path, in the connector's trash where it has
// one (so nothing is lost), else by deleting it. Folders are always deleted
// (they must be empty).
func Remove(ctx context.Context, c Connector, path string, isDir bool, ifRev string) error {
	if t, ok := c.(Trasher); ok && !isDir {
		if ifRev != "" {
			cur, err := c.Stat(ctx, path)
			if err != nil {
				return err
			}
			if cur.Rev != ifRev {
				return &Error{Kind: Precondition, Op: "delete", Path: path, Err: fmt.Errorf("changed since it was listed")}
			}
		}
		return t.Trash(ctx, path)
	}
	return c.Delete(ctx, path, ifRev)
}
