package sftp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/pkg/sftp"

	"github.com/dovetail-sync/dovetail/connectors"
)

// oldSuffix ends the name the fallback replacement (without posix-rename)
// moves the old file to for a moment.
const oldSuffix = ".old"

// atimeLead is how far ahead of the clock Put sets access times (see the
// package comment).
const atimeLead = 24 * time.Hour

// Put uploads r to a temporary file next to p, sets its times, and renames
// it into place. With posix-rename@openssh.com the rename replaces p
// atomically. Without it, an existing file is first renamed to
// ".dovetail.tmp.<name>.<random>.old", the new one renamed to p, and the
// old one removed: for that moment p is missing (a reader gets NotFound,
// never partial content), and Recover puts the old file back if the
// connection is lost in between.
//
// IfRev and IfAbsent are checked before the upload and again just before
// the rename; a change in between those checks and the rename is not
// detected (Features.ConditionalWrite is false). A replaced file is kept in
// the trash when the server offers hardlink@openssh.com.
func (c *Conn) Put(ctx context.Context, p string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	const op = "put"
	if err := check(op, p); err != nil {
		return connectors.Entry{}, err
	}
	if p == "" {
		return connectors.Entry{}, &connectors.Error{Kind: connectors.Exists, Op: op, Path: p, Err: errors.New("the root is a folder")}
	}
	if hidden(p) || (connectors.Within(p, stateDir)) {
		return connectors.Entry{}, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("the name is reserved for Dovetail's own files")}
	}
	var e connectors.Entry
	err := c.once(ctx, op, p, func(s *session) error {
		var err error
		e, err = c.put(ctx, s, p, r, opts)
		return err
	})
	return e, err
}

func (c *Conn) put(ctx context.Context, s *session, p string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	const op = "put"
	cur, curFi, err := c.lstat(s, op, p)
	exists := err == nil
	if err != nil && !connectors.IsNotFound(err) {
		return cur, err
	}
	if err := precondition(op, p, cur, exists, opts); err != nil {
		return cur, err
	}
	full := c.abs(p)
	tmp := c.abs(connectors.Join(connectors.Parent(p), tempName(connectors.Base(p))))
	f, err := c.create(s, op, p, tmp)
	if err != nil {
		return cur, err
	}
	done := false
	defer func() {
		if !done && !s.dead() {
			s.sftp.Remove(tmp)
		}
	}()

	src := &sourceReader{ctx: ctx, r: r}
	if opts.Size >= 0 {
		// A LimitedReader tells pkg/sftp how many packets to send at once;
		// one byte more than announced shows a reader that yields too many.
		_, err = f.ReadFrom(&io.LimitedReader{R: src, N: opts.Size + 1})
	} else {
		_, err = f.ReadFromWithConcurrency(src, 0)
	}
	if src.err != nil {
		f.Close()
		// The source's own error, classified by the source (a Transient
		// from another connector stays Transient).
		return cur, connectors.Wrap(op, p, src.err)
	}
	if err != nil {
		f.Close()
		return cur, c.wrap(s, op, p, err)
	}
	if err := f.Close(); err != nil {
		return cur, c.wrap(s, op, p, err)
	}
	if opts.Size >= 0 && src.n != opts.Size {
		return cur, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: fmt.Errorf("the content had %s bytes, %d were announced", countString(src.n, opts.Size), opts.Size)}
	}
	mtime := opts.ModTime
	if mtime.IsZero() {
		mtime = time.Now()
	}
	if err := s.sftp.Chtimes(tmp, versionTime(mtime, curFi), mtime); err != nil {
		return cur, c.wrap(s, op, p, err)
	}
	fi, err := s.sftp.Lstat(tmp)
	if err != nil {
		return cur, c.wrap(s, op, p, err)
	}
	if fi.Size() != src.n {
		return cur, &connectors.Error{Kind: connectors.Transient, Op: op, Path: p, Err: fmt.Errorf("the server stored %d of %d bytes", fi.Size(), src.n)}
	}
	if err := ctx.Err(); err != nil {
		return cur, connectors.Wrap(op, p, err)
	}

	// Check again just before the rename: a best-effort conditional write.
	now, nowFi, err := c.lstat(s, op, p)
	nowExists := err == nil
	if err != nil && !connectors.IsNotFound(err) {
		return cur, err
	}
	if opts.IfRev != "" || opts.IfAbsent {
		if err := precondition(op, p, now, nowExists, opts); err != nil {
			return cur, err
		}
	} else if nowExists && now.IsDir() {
		return cur, &connectors.Error{Kind: connectors.Exists, Op: op, Path: p, Err: errors.New("a folder is in the way")}
	}
	if nowExists && !c.cfg.NoTrash && s.hardlink {
		if err := c.keep(s, p, nowFi); err != nil {
			return cur, err
		}
	}
	if err := c.replace(s, p, tmp, full, nowExists); err != nil {
		return cur, err
	}
	done = true
	e, err := entry(p, fi)
	if err != nil {
		return e, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	return e, nil
}

// create makes the new file tmp in p's folder, making the folder and its
// missing parents first. A folder remembered as existing that someone else
// removed is made again.
func (c *Conn) create(s *session, op, p, tmp string) (*sftp.File, error) {
	for attempt := 0; ; attempt++ {
		if err := c.mkdirAll(s, op, connectors.Parent(p), false); err != nil {
			return nil, err
		}
		f, err := s.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt > 0 {
			return nil, c.wrap(s, op, p, err)
		}
		c.forgetDirs("")
	}
}

// precondition checks PutOptions against what is at p now.
func precondition(op, p string, cur connectors.Entry, exists bool, opts connectors.PutOptions) error {
	switch {
	case exists && cur.IsDir():
		return &connectors.Error{Kind: connectors.Exists, Op: op, Path: p, Err: errors.New("a folder is in the way")}
	case opts.IfAbsent && exists:
		return &connectors.Error{Kind: connectors.Precondition, Op: op, Path: p, Err: errors.New("a file appeared there")}
	case opts.IfRev != "" && !exists:
		return &connectors.Error{Kind: connectors.Precondition, Op: op, Path: p, Err: errors.New("the file was removed since it was listed")}
	case opts.IfRev != "" && cur.Rev != opts.IfRev:
		return &connectors.Error{Kind: connectors.Precondition, Op: op, Path: p, Err: errors.New("the file changed since it was listed")}
	}
	return nil
}

// versionTime returns the access time that marks a new version (see the
// package comment): a second after the one it replaces, after its own
// modification time, and a day ahead of the clock.
func versionTime(mtime time.Time, old os.FileInfo) time.Time {
	t := time.Now().Add(atimeLead).Truncate(time.Second)
	if m := mtime.Truncate(time.Second).Add(time.Second); m.After(t) {
		t = m
	}
	if old != nil {
		if a := time.Unix(atime(old)+1, 0); a.After(t) {
			t = a
		}
	}
	return t
}

// replace renames the finished upload tmp to full.
func (c *Conn) replace(s *session, p, tmp, full string, exists bool) error {
	const op = "put"
	if s.posixRename && !c.noPosixRename {
		c.renames.Add(1)
		return c.wrap(s, op, p, s.sftp.PosixRename(tmp, full))
	}
	if !exists {
		if err := s.sftp.Rename(tmp, full); err != nil {
			if _, serr := s.sftp.Lstat(full); serr == nil {
				return &connectors.Error{Kind: connectors.Precondition, Op: op, Path: p, Err: errors.New("a file appeared there")}
			}
			return c.wrap(s, op, p, err)
		}
		return nil
	}
	old := tmp + oldSuffix
	if err := s.sftp.Rename(full, old); err != nil {
		return c.wrap(s, op, p, err)
	}
	if err := s.sftp.Rename(tmp, full); err != nil {
		if !s.dead() {
			s.sftp.Rename(old, full)
		}
		return c.wrap(s, op, p, err)
	}
	if err := s.sftp.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return c.wrap(s, op, p, err)
	}
	return nil
}

// sourceReader reads Put's content, stopping when ctx ends, counting bytes
// and keeping the source's own error apart from the server's.
type sourceReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		s.err = err
		return 0, err
	}
	n, err := s.r.Read(b)
	s.n += int64(n)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func countString(n, announced int64) string {
	if n > announced {
		return "more"
	}
	return fmt.Sprint(n)
}

// Recover removes the temporary files an interrupted Put of p left in p's
// folder. If a Put without posix-rename was cut between moving the old
// file aside and renaming the new one into place, the old file is put
// back. It is idempotent.
func (c *Conn) Recover(ctx context.Context, p string) error {
	const op = "recover"
	if err := check(op, p); err != nil {
		return err
	}
	if p == "" {
		return nil
	}
	return c.do(ctx, op, p, func(s *session) error {
		dir := c.abs(connectors.Parent(p))
		list, err := s.sftp.ReadDirContext(ctx, dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return c.wrapMissing(s, op, p, err)
		}
		name := connectors.Base(p)
		_, serr := s.sftp.Lstat(c.abs(p))
		missing := errors.Is(serr, fs.ErrNotExist)
		for _, fi := range list {
			isTemp, isOld := isTempOf(fi.Name(), name)
			if !isTemp || !fi.Mode().IsRegular() {
				continue
			}
			tmp := dir + "/" + fi.Name()
			if isOld && missing {
				if err := s.sftp.Rename(tmp, c.abs(p)); err != nil {
					return err
				}
				missing = false
				continue
			}
			if err := s.sftp.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// tempName returns a fresh temporary name for the file name, leaving room
// for the fallback's ".old" suffix.
func tempName(name string) string { return connectors.TempName(name, len(oldSuffix)) }

// isTempOf reports whether entry is a temporary name tempName(name) made,
// or the fallback's ".old" name derived from one.
func isTempOf(entry, name string) (isTemp, isOld bool) {
	suffix, ok := connectors.TempOf(entry, name, len(oldSuffix))
	switch {
	case ok && suffix == "":
		return true, false
	case ok && suffix == oldSuffix:
		return true, true
	}
	return false, false
}
