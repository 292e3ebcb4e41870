package local

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Options configure a Conn.
type Options struct {
	// TrashDir is the absolute path of the folder that keeps replaced and
	// trashed content, normally <root>/.dovetail/trash. "" means no trash:
	// the Conn does not implement Trash's promise and Put overwrites.
	TrashDir string
}

// Conn is a connector rooted at a local folder. It is safe for concurrent
// use.
type Conn struct {
	root     string // absolute, clean
	trash    string // absolute, clean, or ""
	trashRel string // trash relative to root when inside it, else ""
	hidden   string // the folder Walk does not report: trashRel or the state folder holding it
	stamp    string // this run's trash folder name
	feat     connectors.Features

	rootMu sync.Mutex                // serializes opening the root
	rootH  atomic.Pointer[dirHandle] // the root's descriptor, nil until opened (see rootDir)

	noOpenat2 bool // test hook: resolve paths without openat2

	durMu sync.Mutex
	dur   durability // what the next Sync flushes
}

var (
	_ connectors.Connector = (*Conn)(nil)
	_ connectors.Mover     = (*Conn)(nil)
	_ connectors.Hasher    = (*Conn)(nil)
	_ connectors.Trasher   = (*Conn)(nil)
	_ connectors.Recoverer = (*Conn)(nil)
	_ connectors.Syncer    = (*Conn)(nil)
)

// stampLayout names one run's folder in the trash.
const stampLayout = "20060102-150405"

// tmpPrefix starts the name of every temporary file Put writes; Walk never
// reports such files.
const tmpPrefix = connectors.TempPrefix

func tempName(name string) string { return connectors.TempName(name, 0) }

func isTempOf(entry, name string) bool {
	suffix, ok := connectors.TempOf(entry, name, 0)
	return ok && suffix == ""
}

// New returns a connector for the folder root. root need not exist yet:
// operations on a missing root fail with kind NotFound, which lets the
// engine tell an unmounted disk from an empty folder.
func New(root string, opts Options) (*Conn, error) {
	if root == "" {
		return nil, errors.New("local: empty root path")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	c := &Conn{root: abs, stamp: time.Now().Format(stampLayout)}
	if opts.TrashDir != "" {
		if !filepath.IsAbs(opts.TrashDir) {
			return nil, fmt.Errorf("local: trash folder %q is not an absolute path", opts.TrashDir)
		}
		c.trash = filepath.Clean(opts.TrashDir)
		if c.trash == abs {
			return nil, errors.New("local: the trash folder cannot be the root itself")
		}
		if rel, err := filepath.Rel(abs, c.trash); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			c.trashRel = filepath.ToSlash(rel)
			c.hidden = c.trashRel
			// Dovetail's own state folder (.dovetail) holding the trash is
			// not synced either.
			for p := connectors.Parent(c.trashRel); p != ""; p = connectors.Parent(p) {
				if strings.HasPrefix(connectors.Base(p), ".dovetail") {
					c.hidden = p
				}
			}
		}
	}
	c.feat = connectors.Features{
		Name:             "local",
		Hash:             connectors.HashNone,
		SetModTime:       true,
		ModTimePrecision: 0,
		ServerSideMove:   true,
		ConditionalWrite: false,
		RevTracksContent: true, // size, time and inode: a file renamed over another is new
		CaseInsensitive:  false,
		Trash:            c.trash != "",
		Rules:            "linux",
	}
	return c, nil
}

// Features returns the connector's capabilities. Trash is set only when
// Options.TrashDir is; see Connector.
func (c *Conn) Features() connectors.Features { return c.feat }

// Connector returns c as the engine should see it. Without a trash folder
// that is a wrapper whose method set lacks Trash, so that it does not
// satisfy connectors.Trasher and connectors.Remove deletes instead (Trash
// on the Conn itself then fails with kind Unimplemented).
func (c *Conn) Connector() connectors.Connector {
	if c.trash == "" {
		return noTrash{c}
	}
	return c
}

// untrashed is every interface Conn implements except Trasher.
type untrashed interface {
	connectors.Connector
	connectors.Mover
	connectors.Hasher
	connectors.Recoverer
	connectors.Syncer
}

type noTrash struct{ untrashed }

// TrashPath returns the absolute path of the trash folder, or "".
func (c *Conn) TrashPath() string { return c.trash }

// Root returns the absolute path of the root folder.
func (c *Conn) Root() string { return c.root }

// wrap turns an OS error into a *connectors.Error for op on the relative
// path p, dropping the absolute paths os errors carry.
func (c *Conn) wrap(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		if ce.Op == "" {
			e := *ce
			e.Op, e.Path = op, p
			return &e
		}
		return err
	}
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	k := connectors.KindOf(err)
	switch {
	case errors.Is(err, syscall.ELOOP):
		k = connectors.Unimplemented
		err = errors.New("symbolic link, not synced")
	case err.Error() == "path escapes from parent":
		k = connectors.Invalid
	case errors.Is(err, context.Canceled):
		k = connectors.Unknown
	}
	return &connectors.Error{Kind: k, Op: op, Path: p, Err: err}
}

// statAt describes name in the folder dirfd without following a link.
func statAt(dirfd int, name string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &st, nil
	}
}

// notSynced returns the problem with a non-regular, non-folder object of
// mode, or nil for files and folders.
func notSynced(mode uint32) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
		return nil
	case unix.S_IFLNK:
		return errSymlink
	case unix.S_IFIFO:
		return errors.New("named pipe, not a regular file")
	case unix.S_IFSOCK:
		return errors.New("socket, not a regular file")
	case unix.S_IFCHR, unix.S_IFBLK:
		return errors.New("device, not a regular file")
	}
	return errors.New("not a regular file")
}

var errSymlink = errors.New("symbolic link, not synced")

var errNoReplace = errors.New("no atomic rename without replace")

// problemKind is the kind an unsynced object's error gets.
func problemKind(err error) connectors.ErrorKind {
	if err == errSymlink {
		return connectors.Unimplemented
	}
	return connectors.Invalid
}

func entryOf(p string, st *unix.Stat_t) connectors.Entry {
	e := connectors.Entry{
		Path:    p,
		ModTime: time.Unix(0, mtimeNs(st)),
		ID:      idOf(uint64(st.Dev), uint64(st.Ino)),
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		e.Kind = connectors.Dir
	} else {
		e.Kind = connectors.File
		e.Size = st.Size
	}
	e.Rev = revOf(e.Size, e.ModTime.UnixNano(), uint64(st.Ino))
	return e
}

func idOf(dev, ino uint64) string {
	var b [41]byte
	s := strconv.AppendUint(b[:0], dev, 10)
	s = append(s, ':')
	s = strconv.AppendUint(s, ino, 10)
	return string(s)
}

func revOf(size, mtimeNs int64, ino uint64) string {
	var b [48]byte
	s := strconv.AppendInt(b[:0], size, 36)
	s = append(s, '.')
	s = strconv.AppendInt(s, mtimeNs, 36)
	s = append(s, '.')
	s = strconv.AppendUint(s, ino, 36)
	return string(s)
}

// Stat returns the entry at p. A symbolic link gives kind Unimplemented and
// any other special file kind Invalid, as Walk reports them.
func (c *Conn) Stat(ctx context.Context, p string) (connectors.Entry, error) {
	const op = "stat"
	h, err := c.begin(op, p, p == "")
	if err != nil {
		return connectors.Entry{}, err
	}
	defer runtime.KeepAlive(h)
	if err := ctx.Err(); err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	if p == "" {
		var st unix.Stat_t
		if err := unix.Fstat(h.fd, &st); err != nil {
			return connectors.Entry{}, c.wrap(op, p, err)
		}
		return entryOf("", &st), nil
	}
	dirfd, err := c.openDir(h, connectors.Parent(p))
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	st, err := statAt(dirfd, connectors.Base(p))
	closeDir(h, dirfd)
	if err != nil {
		return connectors.Entry{}, c.wrap(op, p, err)
	}
	if err := notSynced(uint32(st.Mode)); err != nil {
		return connectors.Entry{}, &connectors.Error{Kind: problemKind(err), Op: op, Path: p, Err: err}
	}
	return entryOf(p, st), nil
}

// Open returns a reader of the file at p from offset, length bytes long or
// to the end when length < 0. The reader fails once ctx is done.
func (c *Conn) Open(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	const op = "open"
	h, err := c.begin(op, p, false)
	if err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(h)
	if p == "" {
		return nil, connectors.Errorf(connectors.Exists, op, p, "is a folder")
	}
	if offset < 0 {
		return nil, connectors.Errorf(connectors.Invalid, op, p, "negative offset %d", offset)
	}
	if err := ctx.Err(); err != nil {
		return nil, c.wrap(op, p, err)
	}
	fd, err := c.openFile(h, p)
	if err != nil {
		return nil, c.wrap(op, p, err)
	}
	return newFileReader(ctx, c, p, fd, offset, length), nil
}

// openFile opens the regular file p for reading without following a
// symbolic link and without blocking on a fifo. The descriptor keeps
// O_NONBLOCK, which reads of a regular file ignore (see fileReader.Read).
func (c *Conn) openFile(h *dirHandle, p string) (int, error) {
	fd, err := c.openBeneath(h.fd, p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		unix.Close(fd)
		return -1, &connectors.Error{Kind: connectors.Exists, Err: errors.New("is a folder")}
	}
	if err := notSynced(uint32(st.Mode)); err != nil {
		unix.Close(fd)
		return -1, &connectors.Error{Kind: problemKind(err), Err: err}
	}
	return fd, nil
}

// Hash reads the file at p and returns its hash of type t.
func (c *Conn) Hash(ctx context.Context, p string, t connectors.HashType) (string, error) {
	h, err := connectors.NewHash(t)
	if err != nil {
		return "", &connectors.Error{Kind: connectors.Unimplemented, Op: "hash", Path: p, Err: err}
	}
	rc, err := c.Open(ctx, p, 0, -1)
	if err != nil {
		return "", relabel(err, "hash")
	}
	defer rc.Close()
	buf := getBuf()
	defer putBuf(buf)
	if _, err := io.CopyBuffer(h, rc, *buf); err != nil {
		return "", relabel(err, "hash")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func relabel(err error, op string) error {
	var ce *connectors.Error
	if errors.As(err, &ce) && ce.Op != op {
		e := *ce
		e.Op = op
		return &e
	}
	return err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }
