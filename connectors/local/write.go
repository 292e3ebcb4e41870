package local

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Put writes r to a temporary file next to p and renames it over p. With a
// trash, an existing file is first hard-linked (or copied) into it, so there
// is never a moment without a file at p and the old content is kept.
// IfAbsent is atomic (renameat2 RENAME_NOREPLACE); IfRev is checked just
// before the rename, which leaves a small race window
// (Features.ConditionalWrite is false). The file is not fsynced: see Sync.
func (c *Conn) Put(ctx context.Context, p string, src io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	const op = "put"
	r, err := c.open(op, p)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer r.Close()
	if p == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "the root is a folder")
	}
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	// Fail early, before reading any content, when the write cannot succeed.
	if fi, err := r.Lstat(p); err == nil {
		st, _ := fi.Sys().(*syscall.Stat_t)
		if err := checkDest(op, p, fi.IsDir(), true, revOf(fi.Size(), fi.ModTime().UnixNano(), st.Ino), opts); err != nil {
			return connectors.Entry{}, err
		}
	} else if opts.IfRev != "" && errors.Is(err, os.ErrNotExist) {
		return connectors.Entry{}, connectors.Errorf(connectors.Precondition, op, p, "the file is gone")
	}

	if parent := connectors.Parent(p); parent != "" {
		if err := r.MkdirAll(parent, 0o777); err != nil {
			return connectors.Entry{}, c.wrap(op, p, err)
		}
	}
	d, name, err := openParent(r, p)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	defer d.Close()
	dirfd := int(d.Fd())

	tmp := tempName(name)
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	done := false
	defer func() {
		if !done {
			unix.Unlinkat(dirfd, tmp, 0)
		}
	}()
	f := os.NewFile(uintptr(fd), tmp)
	err = copyIn(ctx, f, src, opts.Size)
	if old, serr := statAt(dirfd, name); err == nil && serr == nil && old.Mode&unix.S_IFMT == unix.S_IFREG {
		// Keep the permissions of the file being replaced.
		err = f.Chmod(os.FileMode(old.Mode & 0o777))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	if !opts.ModTime.IsZero() {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(opts.ModTime.UnixNano())}
		if err := unix.UtimesNanoAt(dirfd, tmp, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return connectors.Entry{}, c.wrap(op, p, err)
		}
	}
	st, err := statAt(dirfd, tmp)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}

	// Re-check the destination just before the rename.
	old, err := statAt(dirfd, name)
	exists := err == nil
	if err != nil && err != unix.ENOENT {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	if exists {
		isDir := old.Mode&unix.S_IFMT == unix.S_IFDIR
		if err := checkDest(op, p, isDir, true, revOf(old.Size, old.Mtim.Nano(), uint64(old.Ino)), opts); err != nil {
			return connectors.Entry{}, err
		}
		if c.trash != "" && old.Mode&unix.S_IFMT == unix.S_IFREG {
			if err := c.keep(dirfd, name, p, old); err != nil {
				return connectors.Entry{}, err
			}
		}
	} else if err := checkDest(op, p, false, false, "", opts); err != nil {
		return connectors.Entry{}, err
	}

	if opts.IfAbsent {
		err = renameNoReplace(dirfd, tmp, dirfd, name)
		if err == errNoReplace {
			err = unix.Renameat(dirfd, tmp, dirfd, name)
		} else if err == unix.EEXIST {
			return connectors.Entry{}, connectors.Errorf(connectors.Precondition, op, p, "a file appeared meanwhile")
		}
	} else {
		err = unix.Renameat(dirfd, tmp, dirfd, name)
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	done = true
	return entryOf(p, st), nil
}

// checkDest applies Put's rules to what is at p.
func checkDest(op, p string, isDir, exists bool, rev string, opts connectors.PutOptions) error {
	switch {
	case isDir:
		return connectors.Errorf(connectors.Exists, op, p, "a folder is there")
	case opts.IfAbsent && exists:
		return connectors.Errorf(connectors.Precondition, op, p, "a file is there already")
	case opts.IfRev != "" && !exists:
		return connectors.Errorf(connectors.Precondition, op, p, "the file is gone")
	case opts.IfRev != "" && rev != opts.IfRev:
		return connectors.Errorf(connectors.Precondition, op, p, "the file changed since it was listed")
	}
	return nil
}

// copyIn copies src to f through a pooled buffer, checking ctx between
// chunks and that exactly size bytes arrive (when size >= 0).
func copyIn(ctx context.Context, f *os.File, src io.Reader, size int64) error {
	buf := getBuf()
	defer putBuf(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, rerr := src.Read(*buf)
		if k > 0 {
			n += int64(k)
			if size >= 0 && n > size {
				return &connectors.Error{Kind: connectors.Transient, Err: errors.New("got more bytes than announced")}
			}
			if _, err := f.Write((*buf)[:k]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			var ce *connectors.Error
			if errors.As(rerr, &ce) {
				return rerr
			}
			return &connectors.Error{Kind: connectors.KindOf(rerr), Err: rerr}
		}
	}
	if size >= 0 && n != size {
		return &connectors.Error{Kind: connectors.Transient, Err: errors.New("got fewer bytes than announced")}
	}
	return nil
}

// Mkdir creates the folder p and its missing parents.
func (c *Conn) Mkdir(ctx context.Context, p string) (connectors.Entry, error) {
	const op = "mkdir"
	r, err := c.open(op, p)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer r.Close()
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	if p != "" {
		if err := r.MkdirAll(p, 0o777); err != nil {
			if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, os.ErrExist) {
				return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "a file is in the way")
			}
			return connectors.Entry{}, c.wrap(op, p, err)
		}
	}
	e, err := c.Stat(ctx, p)
	if err != nil {
		return connectors.Entry{}, relabel(err, op)
	}
	if !e.IsDir() {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "a file is there")
	}
	return e, nil
}

// Delete removes the file (if its Rev is still ifRev, when given) or empty
// folder at p. The content is destroyed; Trash keeps it.
func (c *Conn) Delete(ctx context.Context, p string, ifRev string) error {
	const op = "delete"
	r, err := c.open(op, p)
	if err != nil {
		return err
	}
	defer r.Close()
	if p == "" {
		return connectors.Errorf(connectors.Invalid, op, p, "cannot delete the root")
	}
	if err := ctx.Err(); err != nil {
		return c.wrap(op, p, err)
	}
	d, name, err := openParent(r, p)
	if err != nil {
		return c.wrap(op, p, err)
	}
	defer d.Close()
	dirfd := int(d.Fd())
	st, err := statAt(dirfd, name)
	if err != nil {
		return c.wrap(op, p, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == unix.ENOTEMPTY || err == unix.EEXIST {
			return connectors.Errorf(connectors.Precondition, op, p, "folder is not empty")
		}
		return c.wrap(op, p, err)
	case unix.S_IFREG:
		if ifRev != "" && revOf(st.Size, st.Mtim.Nano(), uint64(st.Ino)) != ifRev {
			return connectors.Errorf(connectors.Precondition, op, p, "the file changed since it was listed")
		}
		return c.wrap(op, p, unix.Unlinkat(dirfd, name, 0))
	}
	perr := notSynced(st.Mode)
	return &connectors.Error{Kind: problemKind(perr), Op: op, Path: p, Err: perr}
}

// Move renames from to to, creating the parents of to. It never replaces
// anything at to (renameat2 RENAME_NOREPLACE where the file system has it),
// except that from and to may be the same file, as in a case-only rename on
// a case-insensitive file system.
func (c *Conn) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	const op = "move"
	if err := connectors.ValidPath(to); err != nil {
		return connectors.Entry{}, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: to, Err: err}
	}
	if c.hidden != "" && to != "" && connectors.Within(to, c.hidden) {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, op, to, "inside Dovetail's own folder")
	}
	r, err := c.open(op, from)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer r.Close()
	if from == "" || to == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, op, from, "cannot move the root")
	}
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	fd, fname, err := openParent(r, from)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	defer fd.Close()
	src, err := statAt(int(fd.Fd()), fname)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	if perr := notSynced(src.Mode); perr != nil {
		return connectors.Entry{}, &connectors.Error{Kind: problemKind(perr), Op: op, Path: from, Err: perr}
	}
	if parent := connectors.Parent(to); parent != "" {
		if err := r.MkdirAll(parent, 0o777); err != nil {
			return connectors.Entry{}, c.wrap(op, to, err)
		}
	}
	td, tname, err := openParent(r, to)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, to, err)
	}
	defer td.Close()
	same := false
	if dst, err := statAt(int(td.Fd()), tname); err == nil {
		if dst.Dev != src.Dev || dst.Ino != src.Ino {
			return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, to, "something is there already")
		}
		same = true
	}
	if same {
		err = unix.Renameat(int(fd.Fd()), fname, int(td.Fd()), tname)
	} else {
		err = renameNoReplace(int(fd.Fd()), fname, int(td.Fd()), tname)
		if err == errNoReplace {
			err = unix.Renameat(int(fd.Fd()), fname, int(td.Fd()), tname)
		}
	}
	if err == unix.EEXIST || err == unix.ENOTEMPTY {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, to, "something is there already")
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	st, err := statAt(int(td.Fd()), tname)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, to, err)
	}
	return entryOf(to, st), nil
}

// Recover removes the temporary files a killed Put of p left next to it.
// It is idempotent and succeeds when there is nothing to remove.
func (c *Conn) Recover(ctx context.Context, p string) error {
	const op = "recover"
	r, err := c.open(op, p)
	if err != nil {
		return err
	}
	defer r.Close()
	if p == "" {
		return nil
	}
	d, name, err := openParent(r, p)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return c.wrap(op, p, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return c.wrap(op, p, err)
	}
	for _, n := range names {
		if !isTempOf(n, name) {
			continue
		}
		if err := unix.Unlinkat(int(d.Fd()), n, 0); err != nil && err != unix.ENOENT {
			return c.wrap(op, p, err)
		}
	}
	return nil
}

// Sync makes every write that has returned durable with one syncfs(2) of
// the root's file system (and of the trash's, when it is elsewhere).
func (c *Conn) Sync(ctx context.Context) error {
	const op = "sync"
	r, err := c.open(op, "")
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := r.Open(".")
	if err != nil {
		return c.wrap(op, "", err)
	}
	defer f.Close()
	if err := syncfs(int(f.Fd())); err != nil {
		return c.wrap(op, "", err)
	}
	if c.trash == "" || c.trashRel != "" {
		return nil
	}
	t, err := os.Open(c.trash)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return c.wrap(op, "", err)
	}
	defer t.Close()
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) == nil && unix.Fstat(int(t.Fd()), &b) == nil && a.Dev == b.Dev {
		return nil
	}
	return c.wrap(op, "", syncfs(int(t.Fd())))
}
