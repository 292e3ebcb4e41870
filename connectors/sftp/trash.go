package sftp

import (
	"context"
	"errors"
	"os"
	"strconv"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Trash moves the file at p to .dovetail/trash/<run stamp>/<p> below the
// root, adding " (1)", " (2)" ... before the extension when that name is
// taken. Folders are deleted with Delete once empty.
func (c *Conn) Trash(ctx context.Context, p string) error {
	const op = "trash"
	if err := check(op, p); err != nil {
		return err
	}
	if c.cfg.NoTrash {
		return &connectors.Error{Kind: connectors.Unimplemented, Op: op, Path: p, Err: errors.New("the trash is turned off")}
	}
	if p == "" {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("cannot trash the root")}
	}
	return c.once(ctx, op, p, func(s *session) error {
		e, _, err := c.lstat(s, op, p)
		if err != nil {
			return err
		}
		if e.IsDir() {
			return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("is a folder; delete it once empty")}
		}
		return c.toTrash(s, op, p, s.sftp.Rename)
	})
}

// keep links the file at p (with information fi) into the trash before Put
// replaces it.
func (c *Conn) keep(s *session, p string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return nil
	}
	return c.toTrash(s, "put", p, s.sftp.Link)
}

// toTrash moves (rename) or links (link) the file at p into this run's
// trash folder under the first free name.
func (c *Conn) toTrash(s *session, op, p string, move func(from, to string) error) error {
	dir := connectors.Join(trashDir+"/"+c.stamp, connectors.Parent(p))
	if err := c.mkdirAll(s, op, dir, false); err != nil {
		return err
	}
	name := connectors.Base(p)
	for i := 0; ; i++ {
		cand := c.abs(connectors.Join(dir, suffixed(name, i)))
		// Look first: a server whose rename replaces (not OpenSSH, whose
		// plain rename links and unlinks) must not overwrite an earlier
		// trashed version.
		if _, err := s.sftp.Lstat(cand); err == nil {
			continue
		}
		err := move(c.abs(p), cand)
		if err == nil {
			return nil
		}
		if _, serr := s.sftp.Lstat(cand); serr == nil && i < 1000 {
			continue
		}
		return c.wrap(s, op, p, err)
	}
}

// suffixed returns name with " (i)" before its extension, or name for 0.
func suffixed(name string, i int) string {
	if i == 0 {
		return name
	}
	ext := connectors.Ext(name)
	return name[:len(name)-len(ext)] + " (" + strconv.Itoa(i) + ")" + ext
}
