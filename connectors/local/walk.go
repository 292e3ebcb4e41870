package local

import (
	"context"
	"errors"
	"io"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Walk lists everything below dir, depth first in directory order. Each
// folder is opened relative to its parent's descriptor with O_NOFOLLOW, and
// each entry is described with fstatat(AT_SYMLINK_NOFOLLOW) on that
// descriptor, so no symbolic link is ever followed and no path is resolved
// twice. Symbolic links (kind Unimplemented), other special files (kind
// Invalid) and folders that cannot be read (kind Permission, usually) go to
// problem. Temporary files of Put, the trash folder and Dovetail's state
// folder holding it (a folder named .dovetail*) are not reported.
func (c *Conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	const op = "walk"
	h, err := c.begin(op, dir, dir == "")
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(h)
	if err := ctx.Err(); err != nil {
		return c.wrap(op, dir, err)
	}
	fd, err := c.openBeneath(h.fd, dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if (err == unix.ENOTDIR || err == unix.ELOOP) && dir != "" {
		// Say what is there, if the folder holding it can be opened.
		if pfd, perr := c.openDir(h, connectors.Parent(dir)); perr == nil {
			st, serr := statAt(pfd, connectors.Base(dir))
			closeDir(h, pfd)
			if serr == nil {
				if perr := notSynced(uint32(st.Mode)); perr != nil {
					return &connectors.Error{Kind: problemKind(perr), Op: op, Path: dir, Err: perr}
				}
				return connectors.Errorf(connectors.Exists, op, dir, "not a folder")
			}
		}
	}
	if err != nil {
		return c.wrap(op, dir, err)
	}
	w := walker{ctx: ctx, c: c, fn: fn, problem: problem}
	buf := getBuf()
	defer putBuf(buf)
	w.buf = (*buf)[:64<<10]
	return w.walk(fd, dir)
}

type walker struct {
	ctx     context.Context
	c       *Conn
	fn      func(connectors.Entry) error
	problem func(string, error)
	st      unix.Stat_t
	buf     []byte // getdents buffer, parsed into names before any recursion
}

// dirent is a name and type (DT_*) from getdents.
type dirent struct {
	name string
	typ  uint8
}

// walk reports the contents of the open folder fd at dir and closes fd.
func (w *walker) walk(fd int, dir string) error {
	defer unix.Close(fd)
	var ents []dirent
	for {
		if err := w.ctx.Err(); err != nil {
			return w.c.wrap("walk", dir, err)
		}
		var rerr error
		ents, rerr = w.readDir(fd, ents[:0])
		for _, de := range ents {
			name := de.name
			if strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			p := connectors.Join(dir, name)
			if p == w.c.hidden {
				continue
			}
			if perr := typeProblem(de.typ); perr != nil {
				w.problem(p, &connectors.Error{Kind: problemKind(perr), Op: "walk", Path: p, Err: perr})
				continue
			}
			if err := unix.Fstatat(fd, name, &w.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if err != unix.ENOENT { // gone since the listing: nothing to report
					w.problem(p, w.c.wrap("walk", p, err))
				}
				continue
			}
			if perr := notSynced(uint32(w.st.Mode)); perr != nil { // replaced since the listing
				w.problem(p, &connectors.Error{Kind: problemKind(perr), Op: "walk", Path: p, Err: perr})
				continue
			}
			e := entryOf(p, &w.st)
			err := w.fn(e)
			if err == connectors.SkipDir {
				continue
			}
			if err != nil {
				return err
			}
			if !e.IsDir() {
				continue
			}
			sub, err := ignoringEINTR(func() (int, error) {
				return unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			})
			if err != nil {
				if err != unix.ENOENT {
					w.problem(p, w.c.wrap("walk", p, err))
				}
				continue
			}
			if err := w.walk(sub, p); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			w.problem(dir, w.c.wrap("walk", dir, rerr))
			return nil
		}
	}
}

// typeProblem is notSynced for a directory entry's type (DT_*); an
// unknown type is left to the fstatat that follows.
func typeProblem(t uint8) error {
	switch t {
	case unix.DT_DIR, unix.DT_REG, unix.DT_UNKNOWN:
		return nil
	case unix.DT_LNK:
		return errSymlink
	case unix.DT_FIFO:
		return errors.New("named pipe, not a regular file")
	case unix.DT_SOCK:
		return errors.New("socket, not a regular file")
	case unix.DT_CHR, unix.DT_BLK:
		return errors.New("device, not a regular file")
	}
	return errors.New("not a regular file")
}
