package local

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Trash moves the file at p to <TrashDir>/<run stamp>/<p>, adding " (1)",
// " (2)" ... before the extension when that name is taken. Across file
// systems it copies and then removes. Folders are deleted with Delete.
func (c *Conn) Trash(ctx context.Context, p string) error {
	const op = "trash"
	h, err := c.begin(op, p, false)
	if err != nil {
		return err
	}
	defer runtime.KeepAlive(h)
	if c.trash == "" {
		return connectors.Errorf(connectors.Unimplemented, op, p, "no trash folder configured")
	}
	if p == "" {
		return connectors.Errorf(connectors.Invalid, op, p, "cannot trash the root")
	}
	if err := ctx.Err(); err != nil {
		return c.wrap(op, p, err)
	}
	dirfd, name, st, err := c.lookup(op, h, p)
	if err != nil {
		return err
	}
	defer closeDir(h, dirfd)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return connectors.Errorf(connectors.Invalid, op, p, "is a folder; delete it once empty")
	}
	if perr := notSynced(uint32(st.Mode)); perr != nil {
		return &connectors.Error{Kind: problemKind(perr), Op: op, Path: p, Err: perr}
	}
	return c.toTrash(op, dirfd, name, p, st, true)
}

// keep puts a hard link to (or a copy of) the file name in dirfd, which is
// at p, into the trash before Put replaces it.
func (c *Conn) keep(dirfd int, name, p string, st *unix.Stat_t) error {
	return c.toTrash("put", dirfd, name, p, st, false)
}

// toTrash moves (move) or links the file name in dirfd into this run's
// trash folder under p, falling back to a copy when the trash is on another
// file system or does not allow links.
func (c *Conn) toTrash(op string, dirfd int, name, p string, st *unix.Stat_t, move bool) error {
	if c.trashRel != "" {
		// The trash is inside the root: flush the folders whose entries
		// change (the folder p leaves and the trash folders it goes to).
		run := c.trashRel + "/" + c.stamp
		c.touched("", connectors.Parent(p), connectors.Join(run, connectors.Parent(p)), run, c.trashRel)
	} else {
		c.touchedAll() // the trash folder may be anywhere: flush the file system
	}
	dir := filepath.Join(c.trash, c.stamp, filepath.FromSlash(connectors.Parent(p)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c.wrap(op, p, err)
	}
	t, err := os.Open(dir)
	if err != nil {
		return c.wrap(op, p, err)
	}
	defer t.Close()
	tfd := int(t.Fd())
	copyIt := false
	for i := 0; ; i++ {
		cand := suffixed(name, i)
		if copyIt {
			err = copyFile(dirfd, name, tfd, cand, st)
		} else if move {
			err = renameNoReplace(dirfd, name, tfd, cand)
			if err == errNoReplace {
				if _, serr := statAt(tfd, cand); serr == nil {
					continue
				}
				err = unix.Renameat(dirfd, name, tfd, cand)
			}
		} else {
			err = unix.Linkat(dirfd, name, tfd, cand, 0)
		}
		switch {
		case err == nil:
			if copyIt && move {
				return c.wrap(op, p, unix.Unlinkat(dirfd, name, 0))
			}
			return nil
		case errors.Is(err, unix.EEXIST):
			continue
		case !copyIt && (err == unix.EXDEV || err == unix.EPERM || err == unix.EMLINK || err == unix.ENOTSUP):
			copyIt = true
			i--
			continue
		}
		return c.wrap(op, p, err)
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

// copyFile copies the regular file name in srcfd to a new file dst in
// dstfd, keeping its modification time and permissions.
func copyFile(srcfd int, name string, dstfd int, dst string, st *unix.Stat_t) (err error) {
	in, err := unix.Openat(srcfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	src := os.NewFile(uintptr(in), name)
	defer src.Close()
	out, err := unix.Openat(dstfd, dst, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(st.Mode)&0o777)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(out), dst)
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			unix.Unlinkat(dstfd, dst, 0)
		}
	}()
	buf := getBuf()
	defer putBuf(buf)
	if _, err := io.CopyBuffer(f, src, *buf); err != nil {
		return err
	}
	return unix.UtimesNanoAt(dstfd, dst, statTimes(st), unix.AT_SYMLINK_NOFOLLOW)
}

// PurgeTrash removes the run folders of the trash whose stamp is older than
// before, except the current run's, and returns how many it removed.
func (c *Conn) PurgeTrash(before time.Time) (removed int, err error) {
	if c.trash == "" {
		return 0, nil
	}
	ents, err := os.ReadDir(c.trash)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, c.wrap("purge trash", "", err)
	}
	for _, e := range ents {
		if !e.IsDir() || e.Name() == c.stamp || len(e.Name()) != len(stampLayout) {
			continue
		}
		t, perr := time.ParseInLocation(stampLayout, e.Name(), time.Local)
		if perr != nil || !t.Before(before) {
			continue
		}
		if rerr := os.RemoveAll(filepath.Join(c.trash, e.Name())); rerr != nil {
			return removed, c.wrap("purge trash", "", rerr)
		}
		removed++
	}
	return removed, nil
}
