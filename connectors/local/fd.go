package local

import (
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/dovetail-sync/dovetail/connectors"
)

// The connector works on raw descriptors: the root folder's descriptor is
// opened once and kept (see rootDir), every path below it is resolved in a
// single openat2(2) call that the kernel confines to the root and that
// follows no symbolic link anywhere in the path, and short-lived
// descriptors are never wrapped in an *os.File (which would cost an
// epoll_ctl and a finalizer each).

// dirHandle is an open descriptor of a folder. The descriptor is closed by
// a cleanup once the handle is unreachable, so an operation that holds the
// handle (runtime.KeepAlive) can use fd safely even if the Conn replaces
// its handle meanwhile.
type dirHandle struct {
	fd       int
	dev, ino uint64
}

func newDirHandle(fd int, st *unix.Stat_t) *dirHandle {
	h := &dirHandle{fd: fd, dev: uint64(st.Dev), ino: uint64(st.Ino)}
	runtime.AddCleanup(h, func(fd int) { unix.Close(fd) }, fd)
	return h
}

// rootDir returns the handle of the root folder, opening it on first use,
// and again on later uses for as long as the root is missing.
//
// Once open, the handle is kept for the Conn's lifetime: if the root folder
// is renamed away (or replaced by another folder of the same name) while
// the Conn holds it, operations keep working on the original folder, wherever
// it now is, until the next revalidation. With revalidate set (Walk and Stat
// of the root, which start every sync run) rootDir checks that the root
// path still names the folder it holds and reopens it if not, so a new run
// never continues on a folder that has moved away or been removed.
func (c *Conn) rootDir(revalidate bool) (*dirHandle, error) {
	h := c.rootH.Load()
	if h != nil && !revalidate {
		return h, nil
	}
	c.rootMu.Lock()
	defer c.rootMu.Unlock()
	h = c.rootH.Load()
	if h != nil {
		if !revalidate {
			return h, nil
		}
		var cur, held unix.Stat_t
		if unix.Stat(c.root, &cur) == nil && uint64(cur.Dev) == h.dev && uint64(cur.Ino) == h.ino &&
			unix.Fstat(h.fd, &held) == nil && held.Nlink > 0 {
			return h, nil
		}
		// Moved, replaced or removed: operations still holding the old
		// handle finish on it; its descriptor closes when they are done.
		c.rootH.Store(nil)
	}
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(c.root, oPath|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	probeOpenat2(fd)
	h = newDirHandle(fd, &st)
	c.rootH.Store(h)
	return h, nil
}

// begin validates p for op and returns the root's handle. The caller keeps
// the handle alive (runtime.KeepAlive) until it is done with its
// descriptor.
func (c *Conn) begin(op, p string, revalidate bool) (*dirHandle, error) {
	if err := connectors.ValidPath(p); err != nil {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	if c.hidden != "" && p != "" && connectors.Within(p, c.hidden) {
		return nil, connectors.Errorf(connectors.Invalid, op, p, "inside Dovetail's own folder")
	}
	h, err := c.rootDir(revalidate)
	if err != nil {
		return nil, c.wrap(op, p, err)
	}
	return h, nil
}

// openat2 support: 0 not known yet, 1 usable, 2 missing (old kernel, or
// blocked by a seccomp filter).
var openat2State atomic.Int32

// probeOpenat2 finds out once whether openat2 works, on the folder dirfd.
func probeOpenat2(dirfd int) {
	if openat2State.Load() != 0 {
		return
	}
	fd, err := openat2(dirfd, ".", oPath|unix.O_DIRECTORY|unix.O_CLOEXEC)
	switch err {
	case nil:
		unix.Close(fd)
		openat2State.CompareAndSwap(0, 1)
	case unix.ENOSYS, unix.EPERM, unix.EINVAL, unix.E2BIG:
		openat2State.Store(2)
	}
}

var errEscapes = errors.New("path escapes from parent")

// openBeneath opens rel ("" is dirfd itself) below the folder dirfd with
// flags (O_CLOEXEC is added). No symbolic link is followed anywhere in rel:
// one gives ELOOP, except that O_PATH|O_NOFOLLOW opens a final link itself.
// The kernel (openat2 RESOLVE_BENEATH) keeps the resolution below dirfd;
// without openat2, rel is opened one element at a time with O_NOFOLLOW,
// which gives the same result for the valid paths Conn works with.
func (c *Conn) openBeneath(dirfd int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	if !c.noOpenat2 && openat2State.Load() != 2 {
		for tries := 0; ; tries++ {
			fd, err := openat2(dirfd, rel, flags|unix.O_CLOEXEC)
			// EAGAIN: a rename raced with the lookup; try again.
			if (err == unix.EINTR || err == unix.EAGAIN) && tries < 64 {
				continue
			}
			if err == unix.EXDEV {
				return -1, errEscapes
			}
			if err != unix.ENOSYS {
				return fd, err
			}
			openat2State.Store(2)
			break
		}
	}
	return openByElements(dirfd, rel, flags)
}

// openByElements is openBeneath without openat2: each folder on the way is
// opened with O_PATH|O_DIRECTORY|O_NOFOLLOW relative to the previous one,
// and "." and ".." are refused, so no step can leave dirfd's tree.
func openByElements(dirfd int, rel string, flags int) (int, error) {
	if rel == "." {
		return ignoringEINTR(func() (int, error) { return unix.Openat(dirfd, ".", flags|unix.O_CLOEXEC, 0) })
	}
	cur := dirfd
	for rest := rel; ; {
		elem, more, found := strings.Cut(rest, "/")
		rest = more
		if elem == "" || elem == "." || elem == ".." {
			if cur != dirfd {
				unix.Close(cur)
			}
			return -1, errEscapes
		}
		fl := oPath | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if !found {
			fl = flags | unix.O_NOFOLLOW | unix.O_CLOEXEC
		}
		fd, err := ignoringEINTR(func() (int, error) { return unix.Openat(cur, elem, fl, 0) })
		if err == unix.ENOTDIR && fl&unix.O_DIRECTORY != 0 {
			// O_NOFOLLOW|O_DIRECTORY gives ENOTDIR for a link; say ELOOP
			// as openat2 does.
			if st, serr := statAt(cur, elem); serr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		if !found {
			return fd, nil
		}
		cur = fd
	}
}

// openDir opens the folder rel for use as the dirfd of *at calls (O_PATH).
// For the root it returns the root's own descriptor: release with closeDir.
func (c *Conn) openDir(h *dirHandle, rel string) (int, error) {
	if rel == "" {
		return h.fd, nil
	}
	return c.openBeneath(h.fd, rel, oPath|unix.O_DIRECTORY)
}

// closeDir closes a descriptor from openDir or createDirs.
func closeDir(h *dirHandle, fd int) {
	if fd >= 0 && fd != h.fd {
		unix.Close(fd)
	}
}

// createDirs creates the missing folder rel and any missing parents, each
// with mkdirat relative to its parent's descriptor, starting from the
// deepest folder that exists, and returns rel's descriptor as openDir
// does. A file (or link) in the way gives ENOTDIR (or ELOOP).
func (c *Conn) createDirs(h *dirHandle, rel string) (int, error) {
	if rel == "" {
		return h.fd, nil
	}
	parent, name := connectors.Parent(rel), connectors.Base(rel)
	pfd, err := c.openDir(h, parent)
	if err == unix.ENOENT {
		pfd, err = c.createDirs(h, parent)
	}
	if err != nil {
		return -1, err
	}
	defer closeDir(h, pfd)
	if err := unix.Mkdirat(pfd, name, 0o777); err != nil && err != unix.EEXIST {
		return -1, err
	}
	return c.openBeneath(pfd, name, oPath|unix.O_DIRECTORY)
}

// ignoringEINTR calls f until it does not fail with EINTR.
func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		fd, err := f()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// fileReader reads a file opened by Open from its raw descriptor with
// pread(2), checking ctx before each read.
type fileReader struct {
	ctx     context.Context
	fd      int
	off     int64
	left    int64 // bytes still to read, or -1 for "to the end"
	c       *Conn
	path    string
	cleanup runtime.Cleanup
}

func newFileReader(ctx context.Context, c *Conn, p string, fd int, offset, length int64) *fileReader {
	r := &fileReader{ctx: ctx, fd: fd, off: offset, left: length, c: c, path: p}
	if length < 0 {
		r.left = -1
	}
	// A reader dropped without Close does not leak its descriptor.
	r.cleanup = runtime.AddCleanup(r, func(fd int) { unix.Close(fd) }, fd)
	return r
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.fd < 0 {
		return 0, r.c.wrap("read", r.path, os.ErrClosed)
	}
	if err := r.ctx.Err(); err != nil {
		return 0, r.c.wrap("read", r.path, err)
	}
	if r.left == 0 {
		return 0, io.EOF
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Pread(r.fd, p, r.off)
		runtime.KeepAlive(r)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			// Open leaves O_NONBLOCK set (it guards against fifos), which
			// regular files ignore on local file systems; should one not,
			// clear it and retry.
			if serr := unix.SetNonblock(r.fd, false); serr == nil {
				continue
			}
		}
		if err != nil {
			return 0, r.c.wrap("read", r.path, err)
		}
		if n == 0 {
			return 0, io.EOF
		}
		r.off += int64(n)
		if r.left > 0 {
			r.left -= int64(n)
		}
		return n, nil
	}
}

func (r *fileReader) Close() error {
	if r.fd < 0 {
		return r.c.wrap("close", r.path, os.ErrClosed)
	}
	r.cleanup.Stop()
	err := unix.Close(r.fd)
	r.fd = -1
	if err != nil && err != unix.EINTR {
		return r.c.wrap("close", r.path, err)
	}
	return nil
}

// writeAll writes b to fd, retrying short writes.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b = b[n:]
	}
	return nil
}
