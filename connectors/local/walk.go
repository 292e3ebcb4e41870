package local

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
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
	r, err := c.open(op, dir)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return c.wrap(op, dir, err)
	}
	var f *os.File
	if dir == "" {
		f, err = r.Open(".")
	} else {
		var d *os.File
		var name string
		d, name, err = openParent(r, dir)
		if err == nil {
			defer d.Close()
			var fd int
			fd, err = unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err == nil {
				f = os.NewFile(uintptr(fd), name)
			} else if err == unix.ENOTDIR || err == unix.ELOOP {
				if st, serr := statAt(int(d.Fd()), name); serr == nil {
					if perr := notSynced(st.Mode); perr != nil {
						return &connectors.Error{Kind: problemKind(perr), Op: op, Path: dir, Err: perr}
					}
				}
				return connectors.Errorf(connectors.Exists, op, dir, "not a folder")
			}
		}
	}
	if err != nil {
		return c.wrap(op, dir, err)
	}
	w := walker{ctx: ctx, c: c, fn: fn, problem: problem}
	return w.walk(f, dir)
}

type walker struct {
	ctx     context.Context
	c       *Conn
	fn      func(connectors.Entry) error
	problem func(string, error)
	st      unix.Stat_t
}

// walk reports the contents of the open folder f at dir and closes f.
func (w *walker) walk(f *os.File, dir string) error {
	defer f.Close()
	fd := int(f.Fd())
	for {
		if err := w.ctx.Err(); err != nil {
			return w.c.wrap("walk", dir, err)
		}
		ents, rerr := f.ReadDir(1024)
		for _, de := range ents {
			name := de.Name()
			if strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			p := connectors.Join(dir, name)
			if p == w.c.hidden {
				continue
			}
			if perr := typeProblem(de.Type()); perr != nil {
				w.problem(p, &connectors.Error{Kind: problemKind(perr), Op: "walk", Path: p, Err: perr})
				continue
			}
			if err := unix.Fstatat(fd, name, &w.st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if err != unix.ENOENT { // gone since the listing: nothing to report
					w.problem(p, w.c.wrap("walk", p, err))
				}
				continue
			}
			if perr := notSynced(w.st.Mode); perr != nil { // replaced since the listing
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
			sub, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				if err != unix.ENOENT {
					w.problem(p, w.c.wrap("walk", p, err))
				}
				continue
			}
			if err := w.walk(os.NewFile(uintptr(sub), name), p); err != nil {
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

// typeProblem is notSynced for a directory entry's type bits.
func typeProblem(m fs.FileMode) error {
	switch {
	case m&fs.ModeSymlink != 0:
		return errSymlink
	case m&fs.ModeNamedPipe != 0:
		return errors.New("named pipe, not a regular file")
	case m&fs.ModeSocket != 0:
		return errors.New("socket, not a regular file")
	case m&fs.ModeDevice != 0:
		return errors.New("device, not a regular file")
	case m.IsDir(), m.IsRegular():
		return nil
	}
	return errors.New("not a regular file")
}
