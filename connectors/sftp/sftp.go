package sftp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Conn is a connector rooted at a folder on an SFTP server. It is safe for
// concurrent use.
type Conn struct {
	cfg   Config
	root  string // absolute path of the root on the server
	stamp string // this run's trash folder name
	feat  connectors.Features
	keys  []ssh.Signer // the key files, loaded once

	mu     sync.Mutex
	s      *session // nil until dialled, and after the connection is lost
	closed bool

	noPosixRename bool         // test hook: replace files as if the server lacked posix-rename
	renames       atomic.Int64 // files replaced with posix-rename, for tests

	dirs sync.Map // relative paths of folders known to exist (see mkdirAll)
}

var (
	_ connectors.Connector = (*Conn)(nil)
	_ connectors.Mover     = (*Conn)(nil)
	_ connectors.Recoverer = (*Conn)(nil)
	_ connectors.Trasher   = (*Conn)(nil)
)

// Names Dovetail keeps for itself in the root.
const (
	// stateDir holds the trash; Walk never reports it.
	stateDir = ".dovetail"
	// trashDir is the trash below the root.
	trashDir = stateDir + "/trash"
	// tmpPrefix starts every temporary name Put writes; Walk never reports
	// such files.
	tmpPrefix = connectors.TempPrefix
	// stampLayout names one run's folder in the trash.
	stampLayout = "20060102-150405"
)

// New connects to the server cfg names and returns a connector rooted at
// cfg.Path. The root need not exist: operations on a missing root fail with
// kind NotFound, and Mkdir("") creates it.
func New(ctx context.Context, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	if cfg.Host == "" {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: "connect", Err: errors.New("no host given")}
	}
	keys, err := loadKeys(cfg)
	if err != nil {
		return nil, err
	}
	c := &Conn{cfg: cfg, stamp: time.Now().Format(stampLayout), keys: keys}
	s, err := dial(ctx, cfg, keys)
	if err != nil {
		return nil, err
	}
	c.s = s
	root := cfg.Path
	if !path.IsAbs(root) {
		home, err := s.sftp.Getwd()
		if err != nil {
			s.close()
			return nil, c.wrap(s, "connect", "", fmt.Errorf("asking for the login folder: %w", err))
		}
		root = path.Join(home, root)
	}
	c.root = path.Clean(root)
	c.feat = connectors.Features{
		Name:             "sftp",
		Hash:             connectors.HashNone,
		SetModTime:       true,
		ModTimePrecision: time.Second,
		ServerSideMove:   true,
		ConditionalWrite: false,
		CaseInsensitive:  false,
		Trash:            !cfg.NoTrash,
		Rules:            "sftp",
	}
	return c, nil
}

// Connector returns c as the engine should see it: without a trash
// (Config.NoTrash) it is a value that does not implement
// connectors.Trasher, so deletes are deletes.
func (c *Conn) Connector() connectors.Connector {
	if c.cfg.NoTrash {
		return noTrash{c}
	}
	return c
}

type untrashed interface {
	connectors.Connector
	connectors.Mover
	connectors.Recoverer
}

type noTrash struct{ untrashed }

// Features returns the connector's capabilities.
func (c *Conn) Features() connectors.Features { return c.feat }

// Root returns the absolute path of the root folder on the server.
func (c *Conn) Root() string { return c.root }

// PosixRename reports whether the server offers posix-rename@openssh.com,
// which Put uses to replace files atomically.
func (c *Conn) PosixRename(ctx context.Context) (bool, error) {
	s, err := c.session(ctx)
	if err != nil {
		return false, err
	}
	return s.posixRename, nil
}

// Close closes the connection. Calls after Close fail.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.s != nil {
		c.s.close()
		c.s = nil
	}
	return nil
}

// session returns the live session, dialling a new one if the last was
// lost.
func (c *Conn) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: "connect", Err: errors.New("connection closed")}
	}
	if c.s != nil && !c.s.dead() {
		return c.s, nil
	}
	if c.s != nil {
		c.s.close()
		c.s = nil
	}
	if err := ctx.Err(); err != nil {
		return nil, connectors.Wrap("connect", "", err)
	}
	s, err := dial(ctx, c.cfg, c.keys)
	if err != nil {
		return nil, err
	}
	c.s = s
	return s, nil
}

// lost forgets s after its connection failed, so that the next call dials.
func (c *Conn) lost(s *session) {
	s.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == s {
		c.s = nil
	}
}

// do runs fn with a live session. When fn fails because a connection that
// had been idle turns out to be lost, do dials once more and runs fn
// again: fn must be safe to repeat (a read, or an idempotent write).
func (c *Conn) do(ctx context.Context, op, p string, fn func(s *session) error) error {
	for attempt := 0; ; attempt++ {
		s, err := c.session(ctx)
		if err != nil {
			return err
		}
		err = c.wrap(s, op, p, fn(s))
		if err == nil || attempt > 0 || !s.dead() || ctx.Err() != nil {
			return err
		}
	}
}

// once runs fn with a live session, without repeating it: for writes that
// are not idempotent (a repeated rename or remove would report NotFound
// for what the first one did).
func (c *Conn) once(ctx context.Context, op, p string, fn func(s *session) error) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	return c.wrap(s, op, p, fn(s))
}

// isConnErr reports whether err is a failure of the connection rather than
// an answer of the server.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}

// wrap turns err into a *connectors.Error: a lost connection is Transient
// (and s is forgotten), SFTP status codes map to kinds.
func (c *Conn) wrap(s *session, op, p string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	if s != nil && (isConnErr(err) || s.dead()) {
		c.lost(s)
		return &connectors.Error{Kind: connectors.Transient, Op: op, Path: p, Err: fmt.Errorf("connection to %s lost: %w", c.cfg.Addr(), err)}
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		switch se.FxCode() {
		case sftp.ErrSSHFxOpUnsupported:
			return &connectors.Error{Kind: connectors.Unimplemented, Op: op, Path: p, Err: err}
		case sftp.ErrSSHFxNoSuchFile:
			return &connectors.Error{Kind: connectors.NotFound, Op: op, Path: p, Err: err}
		case sftp.ErrSSHFxPermissionDenied:
			return &connectors.Error{Kind: connectors.Permission, Op: op, Path: p, Err: err}
		}
	}
	return connectors.Wrap(op, p, err)
}

// abs returns the server path of the valid relative path p.
func (c *Conn) abs(p string) string {
	if p == "" {
		return c.root
	}
	return c.root + "/" + p
}

// check validates a path argument.
func check(op, p string) error {
	if err := connectors.ValidPath(p); err != nil {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	return nil
}

// hidden reports whether p is Dovetail's own: the state folder at the top
// of the root, or a temporary file.
func hidden(p string) bool {
	return p == stateDir || strings.HasPrefix(connectors.Base(p), tmpPrefix)
}

// entry converts file information from the server into an Entry. It fails
// for anything but a regular file or folder.
func entry(p string, fi os.FileInfo) (connectors.Entry, error) {
	e := connectors.Entry{Path: p, ModTime: fi.ModTime()}
	switch m := fi.Mode(); {
	case m.IsDir():
		e.Kind = connectors.Dir
	case m.IsRegular():
		e.Kind = connectors.File
		e.Size = fi.Size()
		e.Rev = rev(fi)
	case m&fs.ModeSymlink != 0:
		return e, errors.New("is a symbolic link, which Dovetail does not follow")
	default:
		return e, fmt.Errorf("is not a regular file or folder (%v)", m.Type())
	}
	return e, nil
}

// rev is size, modification time and access time (see the package
// comment).
func rev(fi os.FileInfo) string {
	return strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().Unix(), 10) + "-" + strconv.FormatInt(atime(fi), 10)
}

// atime returns the access time of fi in Unix seconds, 0 if unknown.
func atime(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return int64(st.Atime)
	}
	return 0
}

// lstat returns the entry at p without following a symbolic link; a link or
// a special file gives kind Invalid.
func (c *Conn) lstat(s *session, op, p string) (connectors.Entry, os.FileInfo, error) {
	stat := s.sftp.Lstat
	if p == "" {
		stat = s.sftp.Stat // the root itself may be a link to a folder
	}
	fi, err := stat(c.abs(p))
	if err != nil {
		return connectors.Entry{}, nil, c.wrapMissing(s, op, p, err)
	}
	e, err := entry(p, fi)
	if err != nil {
		return e, fi, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err}
	}
	return e, fi, nil
}

// wrapMissing wraps err, turning a failure on a path below a file into
// NotFound (OpenSSH answers ENOTDIR with a plain failure).
func (c *Conn) wrapMissing(s *session, op, p string, err error) error {
	err = c.wrap(s, op, p, err)
	if connectors.KindOf(err) != connectors.Unknown || p == "" {
		return err
	}
	for par := connectors.Parent(p); ; par = connectors.Parent(par) {
		fi, serr := s.sftp.Lstat(c.abs(par))
		if serr == nil && !fi.IsDir() {
			return &connectors.Error{Kind: connectors.NotFound, Op: op, Path: p, Err: fmt.Errorf("%q is a file", par)}
		}
		if serr == nil || par == "" {
			return err
		}
	}
}

// Stat returns the entry at p.
func (c *Conn) Stat(ctx context.Context, p string) (connectors.Entry, error) {
	const op = "stat"
	if err := check(op, p); err != nil {
		return connectors.Entry{}, err
	}
	var e connectors.Entry
	err := c.do(ctx, op, p, func(s *session) error {
		var err error
		e, _, err = c.lstat(s, op, p)
		return err
	})
	return e, err
}

// Walk reports every entry below dir, a folder before its contents, reading
// one folder at a time. Symbolic links and special files are reported to
// problem; so are names a server should never send ("..", names with a
// slash or NUL, invalid UTF-8).
func (c *Conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	const op = "walk"
	if err := check(op, dir); err != nil {
		return err
	}
	var top connectors.Entry
	err := c.do(ctx, op, dir, func(s *session) error {
		var err error
		top, _, err = c.lstat(s, op, dir)
		return err
	})
	if err != nil {
		return err
	}
	if !top.IsDir() {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: dir, Err: errors.New("is a file, not a folder")}
	}
	return c.walk(ctx, dir, fn, problem)
}

func (c *Conn) walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	const op = "walk"
	var list []os.FileInfo
	err := c.do(ctx, op, dir, func(s *session) error {
		var err error
		list, err = s.sftp.ReadDirContext(ctx, c.abs(dir))
		return err
	})
	if err != nil {
		if k := connectors.KindOf(err); k == connectors.Transient || k == connectors.RateLimited || ctx.Err() != nil {
			return err
		}
		if dir == "" {
			return err
		}
		problem(dir, err)
		return nil
	}
	for _, fi := range list {
		if err := ctx.Err(); err != nil {
			return connectors.Wrap(op, dir, err)
		}
		name := fi.Name()
		if name == "." || name == ".." {
			continue
		}
		p := connectors.Join(dir, name)
		if strings.ContainsRune(name, '/') || !utf8.ValidString(name) || connectors.ValidPath(p) != nil {
			problem(p, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: fmt.Errorf("the server listed an unusable name %q", name)})
			continue
		}
		if (dir == "" && name == stateDir) || strings.HasPrefix(name, tmpPrefix) {
			continue
		}
		e, err := entry(p, fi)
		if err != nil {
			problem(p, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: err})
			continue
		}
		switch err := fn(e); {
		case errors.Is(err, connectors.SkipDir):
			continue
		case err != nil:
			return err
		}
		if e.IsDir() {
			if err := c.walk(ctx, p, fn, problem); err != nil {
				return err
			}
		}
	}
	return nil
}

// Open returns a reader of the file at p from offset, of length bytes (to
// the end when length < 0). A connection lost while reading gives a read
// error of kind Transient.
func (c *Conn) Open(ctx context.Context, p string, offset, length int64) (io.ReadCloser, error) {
	const op = "open"
	if err := check(op, p); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("negative offset")}
	}
	var (
		f    *sftp.File
		sess *session
	)
	err := c.do(ctx, op, p, func(s *session) error {
		e, _, err := c.lstat(s, op, p)
		if err != nil {
			return err
		}
		if e.IsDir() {
			return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("is a folder")}
		}
		f, err = s.sftp.OpenFile(c.abs(p), os.O_RDONLY)
		if err != nil {
			return err
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return err
		}
		sess = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	r := &reader{c: c, s: sess, ctx: ctx, p: p, f: f}
	// A large buffer turns small reads into requests of up to 1 MiB, which
	// pkg/sftp splits into concurrent packets.
	var src io.Reader = f
	if length >= 0 {
		src = io.LimitReader(f, length)
	}
	r.r = bufio.NewReaderSize(src, 1<<20)
	return r, nil
}

// reader reads a remote file, honouring ctx and classifying errors.
type reader struct {
	c   *Conn
	s   *session
	ctx context.Context
	p   string
	f   *sftp.File
	r   io.Reader
}

func (r *reader) Read(b []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, connectors.Wrap("read", r.p, err)
	}
	n, err := r.r.Read(b)
	if err != nil && err != io.EOF {
		err = r.c.wrap(r.s, "read", r.p, err)
	}
	return n, err
}

func (r *reader) Close() error {
	err := r.f.Close()
	if err != nil && r.s.dead() {
		return nil // nothing to release on a connection that is gone
	}
	return r.c.wrap(r.s, "read", r.p, err)
}

// Mkdir creates the folder p and its missing parents.
func (c *Conn) Mkdir(ctx context.Context, p string) (connectors.Entry, error) {
	const op = "mkdir"
	if err := check(op, p); err != nil {
		return connectors.Entry{}, err
	}
	var e connectors.Entry
	err := c.do(ctx, op, p, func(s *session) error {
		if err := c.mkdirAll(s, op, p, true); err != nil {
			return err
		}
		var err error
		e, _, err = c.lstat(s, op, p)
		return err
	})
	return e, err
}

// mkdirAll creates the folder p and its missing parents, but not a missing
// root unless createRoot: a root that vanished (an unmounted volume) gives
// kind NotFound rather than being recreated empty. It refuses to go
// through a symbolic link, which could lead out of the root. Folders found
// or made are remembered (see forgetDirs), so that a Put into a known
// folder costs no extra round trip.
func (c *Conn) mkdirAll(s *session, op, p string, createRoot bool) error {
	if _, ok := c.dirs.Load(p); ok {
		return nil
	}
	if p != "" {
		if err := c.mkdirAll(s, op, connectors.Parent(p), createRoot); err != nil {
			return err
		}
	}
	full := c.abs(p)
	stat := s.sftp.Lstat
	if p == "" {
		stat = s.sftp.Stat // the root itself may be a link to a folder
	}
	fi, err := stat(full)
	if errors.Is(err, fs.ErrNotExist) {
		switch {
		case p == "" && !createRoot:
			return &connectors.Error{Kind: connectors.NotFound, Op: op, Err: fmt.Errorf("the root folder %s is missing", c.root)}
		case p == "":
			err = s.sftp.MkdirAll(full)
		default:
			err = s.sftp.Mkdir(full)
		}
		if err == nil {
			c.dirs.Store(p, struct{}{})
			return nil
		}
		// Someone else may have made it meanwhile.
		fi, err = stat(full)
	}
	if err != nil {
		return c.wrap(s, op, p, err)
	}
	switch {
	case fi.IsDir():
		c.dirs.Store(p, struct{}{})
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("is a symbolic link, which Dovetail does not follow")}
	}
	return &connectors.Error{Kind: connectors.Exists, Op: op, Path: p, Err: errors.New("a file is in the way")}
}

// forgetDirs drops p and the folders below it from what mkdirAll
// remembers; "" forgets everything.
func (c *Conn) forgetDirs(p string) {
	c.dirs.Range(func(k, _ any) bool {
		if connectors.Within(k.(string), p) {
			c.dirs.Delete(k)
		}
		return true
	})
}

// Delete removes the file or empty folder at p; a file only while its Rev
// is ifRev (when given).
func (c *Conn) Delete(ctx context.Context, p string, ifRev string) error {
	const op = "delete"
	if err := check(op, p); err != nil {
		return err
	}
	if p == "" {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: p, Err: errors.New("cannot delete the root")}
	}
	return c.once(ctx, op, p, func(s *session) error {
		e, _, err := c.lstat(s, op, p)
		if err != nil {
			return err
		}
		if e.IsDir() {
			c.forgetDirs(p)
			err := s.sftp.RemoveDirectory(c.abs(p))
			if err != nil && !isConnErr(err) {
				if list, lerr := s.sftp.ReadDir(c.abs(p)); lerr == nil && len(list) > 0 {
					return &connectors.Error{Kind: connectors.Precondition, Op: op, Path: p, Err: errors.New("folder is not empty")}
				}
			}
			return err
		}
		if ifRev != "" && e.Rev != ifRev {
			return &connectors.Error{Kind: connectors.Precondition, Op: op, Path: p, Err: errors.New("changed since it was listed")}
		}
		return s.sftp.Remove(c.abs(p))
	})
}

// Move renames from to to on the server, creating to's parents. It fails
// with kind Exists if something is at to (a plain SFTP rename never
// replaces: OpenSSH links then unlinks).
func (c *Conn) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	const op = "move"
	if err := check(op, from); err != nil {
		return connectors.Entry{}, err
	}
	if err := check(op, to); err != nil {
		return connectors.Entry{}, err
	}
	if from == "" || to == "" {
		return connectors.Entry{}, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: from, Err: errors.New("cannot move the root")}
	}
	if connectors.Within(to, from) && to != from {
		return connectors.Entry{}, &connectors.Error{Kind: connectors.Invalid, Op: op, Path: from, Err: fmt.Errorf("cannot move a folder into itself (%q)", to)}
	}
	var e connectors.Entry
	err := c.once(ctx, op, from, func(s *session) error {
		if _, _, err := c.lstat(s, op, from); err != nil {
			return err
		}
		if _, _, err := c.lstat(s, op, to); err == nil {
			return &connectors.Error{Kind: connectors.Exists, Op: op, Path: to, Err: errors.New("something is already there")}
		} else if !connectors.IsNotFound(err) {
			return err
		}
		if err := c.mkdirAll(s, op, connectors.Parent(to), false); err != nil {
			return err
		}
		c.forgetDirs(from)
		if err := s.sftp.Rename(c.abs(from), c.abs(to)); err != nil {
			if _, _, serr := c.lstat(s, op, to); serr == nil {
				return &connectors.Error{Kind: connectors.Exists, Op: op, Path: to, Err: err}
			}
			return c.wrap(s, op, from, err)
		}
		var err error
		e, _, err = c.lstat(s, op, to)
		return err
	})
	return e, err
}
