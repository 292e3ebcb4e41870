package local

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"

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
	h, err := c.begin(op, p, false)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer runtime.KeepAlive(h)
	if p == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "the root is a folder")
	}
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	parent, name := connectors.Parent(p), connectors.Base(p)
	dirfd, err := c.openDir(h, parent)
	if err == unix.ENOENT {
		if opts.IfRev != "" {
			return connectors.Entry{}, connectors.Errorf(connectors.Precondition, op, p, "the file is gone")
		}
		dirfd, err = c.createDirs(h, parent)
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	defer closeDir(h, dirfd)

	// Fail early, before reading any content, when the write cannot succeed.
	perm := uint32(0) // permissions to keep, of the file being replaced
	if old, err := statAt(dirfd, name); err == nil {
		isDir := old.Mode&unix.S_IFMT == unix.S_IFDIR
		if err := checkDest(op, p, isDir, true, revOf(old.Size, mtimeNs(old), uint64(old.Ino)), opts); err != nil {
			return connectors.Entry{}, err
		}
		if old.Mode&unix.S_IFMT == unix.S_IFREG {
			perm = uint32(old.Mode)&0o777 | 1<<31
		}
	} else if opts.IfRev != "" && err == unix.ENOENT {
		return connectors.Entry{}, connectors.Errorf(connectors.Precondition, op, p, "the file is gone")
	}

	tmp := tempName(name)
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
	})
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	done := false
	defer func() {
		if !done {
			unix.Unlinkat(dirfd, tmp, 0)
		}
	}()
	err = copyIn(ctx, fd, src, opts.Size)
	if err == nil && perm != 0 {
		err = unix.Fchmod(fd, perm&0o777)
	}
	if err == nil && !opts.ModTime.IsZero() {
		err = setMtime(fd, opts.ModTime)
	}
	var st unix.Stat_t
	if err == nil {
		err = unix.Fstat(fd, &st)
	}
	if cerr := unix.Close(fd); err == nil && cerr != unix.EINTR {
		err = cerr
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}

	if opts.IfAbsent {
		// renameat2 RENAME_NOREPLACE is the check: no stat before it.
		err = renameNoReplace(dirfd, tmp, dirfd, name)
		if err == errNoReplace {
			// The file system cannot: check, then rename (a race window).
			if old, serr := statAt(dirfd, name); serr == nil {
				return connectors.Entry{}, checkDest(op, p, old.Mode&unix.S_IFMT == unix.S_IFDIR, true, "", opts)
			}
			err = unix.Renameat(dirfd, tmp, dirfd, name)
		} else if err == unix.EEXIST {
			if old, serr := statAt(dirfd, name); serr == nil && old.Mode&unix.S_IFMT == unix.S_IFDIR {
				return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "a folder is there")
			}
			return connectors.Entry{}, connectors.Errorf(connectors.Precondition, op, p, "a file appeared meanwhile")
		}
	} else {
		// Re-check the destination just before the rename.
		old, err := statAt(dirfd, name)
		exists := err == nil
		if err != nil && err != unix.ENOENT {
			return connectors.Entry{}, c.wrap(op, p, err)
		}
		if exists {
			isDir := old.Mode&unix.S_IFMT == unix.S_IFDIR
			if err := checkDest(op, p, isDir, true, revOf(old.Size, mtimeNs(old), uint64(old.Ino)), opts); err != nil {
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
		err = unix.Renameat(dirfd, tmp, dirfd, name)
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	done = true
	c.touched(p, connectors.Parent(p))
	return entryOf(p, &st), nil
}

// lookup opens the folder holding p (release it with closeDir) and stats
// p in it, without following a link.
func (c *Conn) lookup(op string, h *dirHandle, p string) (dirfd int, name string, st *unix.Stat_t, err error) {
	dirfd, err = c.openDir(h, connectors.Parent(p))
	if err != nil {
		return -1, "", nil, c.wrap(op, p, err)
	}
	name = connectors.Base(p)
	if st, err = statAt(dirfd, name); err != nil {
		closeDir(h, dirfd)
		return -1, "", nil, c.wrap(op, p, err)
	}
	return dirfd, name, st, nil
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

// copyIn copies src to the file fd through a pooled buffer, checking ctx
// between chunks and that exactly size bytes arrive (when size >= 0).
func copyIn(ctx context.Context, fd int, src io.Reader, size int64) error {
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
			if err := writeAll(fd, (*buf)[:k]); err != nil {
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
	if p == "" {
		// Creating the root itself: the first sync into a folder that
		// does not exist yet, or one removed on purpose (--force).
		if err := os.MkdirAll(c.root, 0o777); err != nil {
			return connectors.Entry{}, c.wrap(op, p, err)
		}
		return c.Stat(ctx, "")
	}
	h, err := c.begin(op, p, false)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer runtime.KeepAlive(h)
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	parent, name := connectors.Parent(p), connectors.Base(p)
	dirfd, err := c.openDir(h, parent)
	if err == unix.ENOENT {
		dirfd, err = c.createDirs(h, parent)
	}
	if err == unix.ENOTDIR {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "a file is in the way")
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	defer closeDir(h, dirfd)
	if err := unix.Mkdirat(dirfd, name, 0o777); err != nil && err != unix.EEXIST {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	st, err := statAt(dirfd, name)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		c.touched("", p, connectors.Parent(p))
		return entryOf(p, st), nil
	case unix.S_IFREG:
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, p, "a file is there")
	}
	perr := notSynced(uint32(st.Mode))
	return connectors.Entry{}, &connectors.Error{Kind: problemKind(perr), Op: op, Path: p, Err: perr}
}

// Delete removes the file (if its Rev is still ifRev, when given) or empty
// folder at p. The content is destroyed; Trash keeps it.
func (c *Conn) Delete(ctx context.Context, p string, ifRev string) error {
	const op = "delete"
	h, err := c.begin(op, p, false)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(h)
	if p == "" {
		return connectors.Errorf(connectors.Invalid, op, p, "cannot delete the root")
	}
	if err := ctx.Err(); err != nil {
		return c.wrap(op, p, err)
	}
	dirfd, name, st, err := c.lookup(op, h, p)
	if err != nil {
		return err
	}
	defer closeDir(h, dirfd)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		if err == unix.ENOTEMPTY || err == unix.EEXIST {
			return connectors.Errorf(connectors.Precondition, op, p, "folder is not empty")
		}
		if err == nil {
			c.touched("", connectors.Parent(p))
		}
		return c.wrap(op, p, err)
	case unix.S_IFREG:
		if ifRev != "" && revOf(st.Size, mtimeNs(st), uint64(st.Ino)) != ifRev {
			return connectors.Errorf(connectors.Precondition, op, p, "the file changed since it was listed")
		}
		err := unix.Unlinkat(dirfd, name, 0)
		if err == nil {
			c.touched("", connectors.Parent(p))
		}
		return c.wrap(op, p, err)
	}
	perr := notSynced(uint32(st.Mode))
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
	h, err := c.begin(op, from, false)
	if err != nil {
		return connectors.Entry{}, err
	}
	defer runtime.KeepAlive(h)
	if from == "" || to == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, op, from, "cannot move the root")
	}
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	fdir, err := c.openDir(h, connectors.Parent(from))
	if err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	defer closeDir(h, fdir)
	fname := connectors.Base(from)
	src, err := statAt(fdir, fname)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	if perr := notSynced(uint32(src.Mode)); perr != nil {
		return connectors.Entry{}, &connectors.Error{Kind: problemKind(perr), Op: op, Path: from, Err: perr}
	}
	tparent := connectors.Parent(to)
	tdir, err := c.openDir(h, tparent)
	if err == unix.ENOENT {
		tdir, err = c.createDirs(h, tparent)
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, to, err)
	}
	defer closeDir(h, tdir)
	tname := connectors.Base(to)
	same := false
	if dst, err := statAt(tdir, tname); err == nil {
		if dst.Dev != src.Dev || dst.Ino != src.Ino {
			return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, to, "something is there already")
		}
		same = true
	}
	if same {
		err = unix.Renameat(fdir, fname, tdir, tname)
	} else {
		err = renameNoReplace(fdir, fname, tdir, tname)
		if err == errNoReplace {
			err = unix.Renameat(fdir, fname, tdir, tname)
		}
	}
	if err == unix.EEXIST || err == unix.ENOTEMPTY {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, op, to, "something is there already")
	}
	if err != nil {
		return connectors.Entry{}, c.wrap(op, from, err)
	}
	c.touched("", connectors.Parent(from), connectors.Parent(to))
	st, err := statAt(tdir, tname)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, to, err)
	}
	return entryOf(to, st), nil
}

// Recover removes the temporary files a killed Put of p left next to it.
// It is idempotent and succeeds when there is nothing to remove.
func (c *Conn) Recover(ctx context.Context, p string) error {
	const op = "recover"
	h, err := c.begin(op, p, false)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(h)
	if p == "" {
		return nil
	}
	fd, err := c.openBeneath(h.fd, connectors.Parent(p), unix.O_RDONLY|unix.O_DIRECTORY)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return c.wrap(op, p, err)
	}
	d := os.NewFile(uintptr(fd), connectors.Parent(p))
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return c.wrap(op, p, err)
	}
	name := connectors.Base(p)
	for _, n := range names {
		if !isTempOf(n, name) {
			continue
		}
		if err := unix.Unlinkat(fd, n, 0); err != nil && err != unix.ENOENT {
			return c.wrap(op, p, err)
		}
	}
	return nil
}

// Sync makes every write that has returned durable: a few writes with an
// fsync of each file and folder they changed, many with one syncfs(2) of
// the root's file system (and of the trash's, when it is elsewhere). See
// durable.go.
func (c *Conn) Sync(ctx context.Context) error {
	const op = "sync"
	h, err := c.begin(op, "", false)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(h)
	if d := c.takeDurability(); !d.all {
		return c.syncTargeted(h, d)
	}
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Openat(h.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return c.wrap(op, "", err)
	}
	defer unix.Close(fd)
	syncfsCalls.Add(1)
	if err := syncfs(fd); err != nil {
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
	if unix.Fstat(fd, &a) == nil && unix.Fstat(int(t.Fd()), &b) == nil && a.Dev == b.Dev {
		return nil
	}
	return c.wrap(op, "", syncfs(int(t.Fd())))
}
