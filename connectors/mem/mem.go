package mem

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Options choose which provider limits a Conn imitates. The zero value is a
// case-sensitive store with SHA-256 hashes in listings, exact modification
// times, server-side move and a trash.
type Options struct {
	// Hash is the hash type listings carry; the default is SHA256.
	Hash connectors.HashType
	// NoHash makes listings carry no hash at all (Features.Hash is HashNone),
	// which Hash cannot express because its zero value means SHA256.
	NoHash bool
	// CaseInsensitive makes names that differ only in case the same object;
	// the case a name was created with is kept and reported.
	CaseInsensitive bool
	// ModTimePrecision truncates stored modification times, like a provider
	// that keeps only seconds.
	ModTimePrecision time.Duration
	// NoSetModTime makes Put ignore PutOptions.ModTime and store the time of
	// the write, like a provider that cannot set modification times.
	NoSetModTime bool
	// NoMove removes server-side move: Connector returns a value without a
	// Move method.
	NoMove bool
	// NoTrash removes the trash: Connector returns a value without a Trash
	// method, so removals destroy content.
	NoTrash bool
	// Rules is reported as Features.Rules.
	Rules string
}

// TrashedFile is a file that Trash moved into the trash, with its content.
type TrashedFile struct {
	Path    string
	Data    []byte
	ModTime time.Time
}

type node struct {
	path  string // as created, in its stored case
	dir   bool
	data  []byte // never modified in place once stored
	mtime time.Time
	hash  string
	id    string
	rev   string
}

type readFault struct {
	after int64
	err   error
}

// Conn is an in-memory connector. It is safe for concurrent use.
type Conn struct {
	opts Options
	feat connectors.Features

	mu      sync.Mutex
	nodes   map[string]*node // by key(path); the root is implicit
	seq     uint64
	trashed []TrashedFile
	hook    func(op, path string) error
	faults  map[string]readFault
}

var (
	_ connectors.Connector = (*Conn)(nil)
	_ connectors.Mover     = (*Conn)(nil)
	_ connectors.Trasher   = (*Conn)(nil)
	_ connectors.Hasher    = (*Conn)(nil)
)

// New returns an empty store configured by opts.
func New(opts Options) *Conn {
	h := opts.Hash
	if h == connectors.HashNone {
		h = connectors.SHA256
	}
	if opts.NoHash {
		h = connectors.HashNone
	}
	opts.Hash = h
	return &Conn{
		opts: opts,
		feat: connectors.Features{
			Name:             "mem",
			Hash:             h,
			SetModTime:       !opts.NoSetModTime,
			ModTimePrecision: opts.ModTimePrecision,
			ServerSideMove:   !opts.NoMove,
			ConditionalWrite: true,
			RevTracksContent: true,
			CaseInsensitive:  opts.CaseInsensitive,
			Trash:            !opts.NoTrash,
			Rules:            opts.Rules,
		},
		nodes:  make(map[string]*node),
		faults: make(map[string]readFault),
	}
}

// Connector returns c as the engine should see it: c itself, or, when
// Options.NoMove or Options.NoTrash is set, a wrapper whose method set lacks
// Move or Trash so that type assertions for connectors.Mover and
// connectors.Trasher fail as they would for such a provider.
func (c *Conn) Connector() connectors.Connector {
	switch {
	case c.opts.NoMove && c.opts.NoTrash:
		return plain{c}
	case c.opts.NoMove:
		return withTrash{plain{c}}
	case c.opts.NoTrash:
		return withMove{plain{c}}
	}
	return c
}

type base interface {
	connectors.Connector
	connectors.Hasher
}

// plain hides Move and Trash of the Conn it wraps.
type plain struct{ base }

type withTrash struct{ plain }

func (w withTrash) Trash(ctx context.Context, path string) error {
	return w.base.(*Conn).Trash(ctx, path)
}

type withMove struct{ plain }

func (w withMove) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	return w.base.(*Conn).Move(ctx, from, to)
}

// Features returns the capabilities chosen by the Options.
func (c *Conn) Features() connectors.Features { return c.feat }

// SetHook installs fn, called at the start of every operation with op one of
// "walk", "stat", "open", "put", "mkdir", "delete", "move", "trash", "hash"
// and the operation's path (the source path for "move"). A non-nil result
// fails the operation with that error: an *connectors.Error keeps its kind,
// anything else is classified with connectors.KindOf. nil removes the hook.
// The hook runs without the store's lock held and may call c.
func (c *Conn) SetHook(fn func(op, path string) error) {
	c.mu.Lock()
	c.hook = fn
	c.mu.Unlock()
}

// SetReadFault makes readers returned by Open for path fail with err after
// yielding the file's first after bytes (counted from the start of the file,
// whatever offset Open was given). A nil err removes the fault.
func (c *Conn) SetReadFault(path string, after int64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		delete(c.faults, c.key(path))
		return
	}
	c.faults[c.key(path)] = readFault{after: after, err: err}
}

// Trashed returns copies of the files Trash has moved to the trash, oldest
// first.
func (c *Conn) Trashed() []TrashedFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TrashedFile, len(c.trashed))
	for i, t := range c.trashed {
		t.Data = bytes.Clone(t.Data)
		out[i] = t
	}
	return out
}

// WriteFile stores data at path with modification time mtime (truncated to
// ModTimePrecision), creating missing parent folders. It bypasses the hook.
func (c *Conn) WriteFile(path string, data []byte, mtime time.Time) error {
	if err := c.check("write", path); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.nodes[c.key(path)]; n != nil && n.dir {
		return connectors.Errorf(connectors.Exists, "write", path, "a folder is there")
	}
	_, err := c.store(path, bytes.Clone(data), mtime, "write")
	return err
}

// ReadFile returns a copy of the content of the file at path. It bypasses
// the hook and read faults.
func (c *Conn) ReadFile(path string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[c.key(path)]
	switch {
	case n == nil:
		return nil, connectors.Errorf(connectors.NotFound, "read", path, "no such file")
	case n.dir:
		return nil, connectors.Errorf(connectors.Exists, "read", path, "is a folder")
	}
	return bytes.Clone(n.data), nil
}

// Files returns a copy of every file's content by path.
func (c *Conn) Files() map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]byte)
	for _, n := range c.nodes {
		if !n.dir {
			out[n.path] = bytes.Clone(n.data)
		}
	}
	return out
}

// Dirs returns the paths of all folders, sorted.
func (c *Conn) Dirs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.nodes {
		if n.dir {
			out = append(out, n.path)
		}
	}
	sort.Strings(out)
	return out
}

// Remove deletes path and, for a folder, everything below it. It bypasses
// the hook and the trash.
func (c *Conn) Remove(path string) error {
	if path == "" {
		c.mu.Lock()
		clear(c.nodes)
		c.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.key(path)
	if c.nodes[k] == nil {
		return connectors.Errorf(connectors.NotFound, "remove", path, "no such file or folder")
	}
	for kk := range c.nodes {
		if connectors.Within(kk, k) {
			delete(c.nodes, kk)
		}
	}
	return nil
}

// Walk lists a snapshot of everything below dir in path order, so folders
// come before their contents. fn runs without the lock held.
func (c *Conn) Walk(ctx context.Context, dir string, fn func(connectors.Entry) error, problem func(string, error)) error {
	if err := c.begin(ctx, "walk", dir); err != nil {
		return err
	}
	c.mu.Lock()
	k := c.key(dir)
	if dir != "" {
		n := c.nodes[k]
		if n == nil {
			c.mu.Unlock()
			return connectors.Errorf(connectors.NotFound, "walk", dir, "no such folder")
		}
		if !n.dir {
			c.mu.Unlock()
			return connectors.Errorf(connectors.Exists, "walk", dir, "not a folder")
		}
	}
	var list []connectors.Entry
	for kk, n := range c.nodes {
		if kk != k && connectors.Within(kk, k) {
			list = append(list, c.entry(n))
		}
	}
	c.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].Path < list[j].Path })

	skip := "\x00" // no path is Within it
	for i, e := range list {
		if skip != "\x00" && connectors.Within(e.Path, skip) {
			continue
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return connectors.Wrap("walk", dir, err)
			}
		}
		err := fn(e)
		if err == connectors.SkipDir {
			if e.IsDir() {
				skip = e.Path
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Stat returns the entry at path; the root is a folder.
func (c *Conn) Stat(ctx context.Context, path string) (connectors.Entry, error) {
	if err := c.begin(ctx, "stat", path); err != nil {
		return connectors.Entry{}, err
	}
	if path == "" {
		return connectors.Entry{Kind: connectors.Dir}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[c.key(path)]
	if n == nil {
		return connectors.Entry{}, connectors.Errorf(connectors.NotFound, "stat", path, "no such file or folder")
	}
	return c.entry(n), nil
}

// Open returns a reader of a snapshot of the file's content: a Put that
// replaces the file meanwhile does not change what the reader yields.
func (c *Conn) Open(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error) {
	if err := c.begin(ctx, "open", path); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, connectors.Errorf(connectors.Invalid, "open", path, "negative offset %d", offset)
	}
	c.mu.Lock()
	n := c.nodes[c.key(path)]
	fault, faulty := c.faults[c.key(path)]
	var data []byte
	if n != nil {
		data = n.data // a snapshot: stored slices are never modified
	}
	c.mu.Unlock()
	switch {
	case path == "" || n != nil && n.dir:
		return nil, connectors.Errorf(connectors.Exists, "open", path, "is a folder")
	case n == nil:
		return nil, connectors.Errorf(connectors.NotFound, "open", path, "no such file")
	}
	end := int64(len(data))
	if offset > end {
		offset = end
	}
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	r := &reader{ctx: ctx, path: path, data: data[offset:end], pos: offset, failAt: -1}
	if faulty {
		r.failAt, r.err = fault.after, fault.err
	}
	return r, nil
}

type reader struct {
	ctx    context.Context
	path   string
	data   []byte
	pos    int64 // offset in the file of data[0]
	failAt int64 // file offset at which reads fail, or -1
	err    error
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, connectors.Wrap("read", r.path, err)
	}
	if r.failAt >= 0 && r.pos >= r.failAt {
		return 0, connectors.Wrap("read", r.path, r.err)
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if n > len(r.data) {
		n = len(r.data)
	}
	if r.failAt >= 0 && r.pos+int64(n) > r.failAt {
		n = int(r.failAt - r.pos)
	}
	copy(p, r.data[:n])
	r.data = r.data[n:]
	r.pos += int64(n)
	return n, nil
}

func (r *reader) Close() error { return nil }

// Put stores the content of r at path once all of it has been read, so a
// failed or cancelled Put changes nothing. The IfRev and IfAbsent checks and
// the write happen under one lock: they are atomic.
func (c *Conn) Put(ctx context.Context, path string, r io.Reader, opts connectors.PutOptions) (connectors.Entry, error) {
	if err := c.begin(ctx, "put", path); err != nil {
		return connectors.Entry{}, err
	}
	if path == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, "put", path, "the root is a folder")
	}
	c.mu.Lock()
	err := c.putCheck(path, opts)
	c.mu.Unlock()
	if err != nil {
		return connectors.Entry{}, err
	}

	var buf bytes.Buffer
	if opts.Size > 0 {
		buf.Grow(int(min(opts.Size, 64<<20)))
	}
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return connectors.Entry{}, connectors.Wrap("put", path, err)
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if opts.Size >= 0 && int64(buf.Len()) > opts.Size {
			return connectors.Entry{}, connectors.Errorf(connectors.Transient, "put", path, "got more than the %d bytes announced", opts.Size)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return connectors.Entry{}, connectors.Wrap("put", path, err)
		}
	}
	if opts.Size >= 0 && int64(buf.Len()) != opts.Size {
		return connectors.Entry{}, connectors.Errorf(connectors.Transient, "put", path, "got %d bytes, %d announced", buf.Len(), opts.Size)
	}

	mtime := opts.ModTime
	if mtime.IsZero() || c.opts.NoSetModTime {
		mtime = time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.putCheck(path, opts); err != nil {
		return connectors.Entry{}, err
	}
	n, err := c.store(path, buf.Bytes(), mtime, "put")
	if err != nil {
		return connectors.Entry{}, err
	}
	return c.entry(n), nil
}

// putCheck runs Put's preconditions; c.mu is held.
func (c *Conn) putCheck(path string, opts connectors.PutOptions) error {
	n := c.nodes[c.key(path)]
	switch {
	case n != nil && n.dir:
		return connectors.Errorf(connectors.Exists, "put", path, "a folder is there")
	case opts.IfAbsent && n != nil:
		return connectors.Errorf(connectors.Precondition, "put", path, "a file is there already")
	case opts.IfRev != "" && n == nil:
		return connectors.Errorf(connectors.Precondition, "put", path, "the file is gone")
	case opts.IfRev != "" && n.rev != opts.IfRev:
		return connectors.Errorf(connectors.Precondition, "put", path, "the file changed since it was listed")
	}
	return c.parentsOK("put", path)
}

// parentsOK checks that no ancestor of path is a file; c.mu is held.
func (c *Conn) parentsOK(op, path string) error {
	for p := connectors.Parent(path); p != ""; p = connectors.Parent(p) {
		if n := c.nodes[c.key(p)]; n != nil && !n.dir {
			return connectors.Errorf(connectors.Exists, op, path, "%q is a file", n.path)
		}
	}
	return nil
}

// store writes a file node, creating parents; c.mu is held and path is not
// a folder.
func (c *Conn) store(path string, data []byte, mtime time.Time, op string) (*node, error) {
	stored, err := c.mkdirs(op, connectors.Parent(path), mtime)
	if err != nil {
		return nil, err
	}
	k := c.key(path)
	n := c.nodes[k]
	if n == nil {
		n = &node{path: connectors.Join(stored, connectors.Base(path)), id: c.next("f")}
		c.nodes[k] = n
	}
	n.data = data
	n.mtime = c.trunc(mtime)
	n.rev = c.next("r")
	n.hash = ""
	if c.feat.Hash != connectors.HashNone {
		n.hash = hashOf(c.feat.Hash, data)
	}
	return n, nil
}

// mkdirs creates dir and its missing parents and returns dir's stored path;
// c.mu is held.
func (c *Conn) mkdirs(op, dir string, mtime time.Time) (string, error) {
	if dir == "" {
		return "", nil
	}
	parent, err := c.mkdirs(op, connectors.Parent(dir), mtime)
	if err != nil {
		return "", err
	}
	k := c.key(dir)
	n := c.nodes[k]
	switch {
	case n == nil:
		n = &node{path: connectors.Join(parent, connectors.Base(dir)), dir: true, mtime: c.trunc(mtime), id: c.next("d")}
		n.rev = c.next("r")
		c.nodes[k] = n
	case !n.dir:
		return "", connectors.Errorf(connectors.Exists, op, dir, "a file is there")
	}
	return n.path, nil
}

// Mkdir creates the folder at path and its missing parents.
func (c *Conn) Mkdir(ctx context.Context, path string) (connectors.Entry, error) {
	if err := c.begin(ctx, "mkdir", path); err != nil {
		return connectors.Entry{}, err
	}
	if path == "" {
		return connectors.Entry{Kind: connectors.Dir}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.mkdirs("mkdir", path, time.Now()); err != nil {
		return connectors.Entry{}, err
	}
	return c.entry(c.nodes[c.key(path)]), nil
}

// Delete removes the file or empty folder at path.
func (c *Conn) Delete(ctx context.Context, path string, ifRev string) error {
	if err := c.begin(ctx, "delete", path); err != nil {
		return err
	}
	if path == "" {
		return connectors.Errorf(connectors.Invalid, "delete", path, "cannot delete the root")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.key(path)
	n := c.nodes[k]
	if n == nil {
		return connectors.Errorf(connectors.NotFound, "delete", path, "no such file or folder")
	}
	if n.dir {
		for kk := range c.nodes {
			if kk != k && connectors.Within(kk, k) {
				return connectors.Errorf(connectors.Precondition, "delete", path, "folder is not empty")
			}
		}
	} else if ifRev != "" && n.rev != ifRev {
		return connectors.Errorf(connectors.Precondition, "delete", path, "the file changed since it was listed")
	}
	delete(c.nodes, k)
	return nil
}

// Move renames from to to, keeping IDs. A folder moves with all it holds.
// Without Options.NoMove this is what connectors.Mover promises; with it,
// Move fails with kind Unimplemented (use Connector to hide the method).
func (c *Conn) Move(ctx context.Context, from, to string) (connectors.Entry, error) {
	if err := c.begin(ctx, "move", from); err != nil {
		return connectors.Entry{}, err
	}
	if err := c.check("move", to); err != nil {
		return connectors.Entry{}, err
	}
	if c.opts.NoMove {
		return connectors.Entry{}, connectors.Errorf(connectors.Unimplemented, "move", from, "server-side move is switched off")
	}
	if from == "" || to == "" {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, "move", from, "cannot move the root")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fk, tk := c.key(from), c.key(to)
	src := c.nodes[fk]
	if src == nil {
		return connectors.Entry{}, connectors.Errorf(connectors.NotFound, "move", from, "no such file or folder")
	}
	if fk != tk && c.nodes[tk] != nil {
		return connectors.Entry{}, connectors.Errorf(connectors.Exists, "move", to, "something is there already")
	}
	if fk != tk && connectors.Within(tk, fk) {
		return connectors.Entry{}, connectors.Errorf(connectors.Invalid, "move", to, "cannot move a folder into itself")
	}
	// Detach the moved subtree first so that creating parents of to cannot
	// see it.
	var moved []*node
	for kk, n := range c.nodes {
		if connectors.Within(kk, fk) {
			moved = append(moved, n)
			delete(c.nodes, kk)
		}
	}
	stored, err := c.mkdirs("move", connectors.Parent(to), time.Now())
	if err != nil {
		for _, n := range moved {
			c.nodes[c.key(n.path)] = n
		}
		return connectors.Entry{}, err
	}
	newPath := connectors.Join(stored, connectors.Base(to))
	oldPath := src.path
	for _, n := range moved {
		n.path = connectors.Rebase(n.path, oldPath, newPath)
		c.nodes[c.key(n.path)] = n
	}
	return c.entry(src), nil
}

// Trash moves the file at path into the trash (see Trashed). Folders are
// deleted with Delete. With Options.NoTrash it fails with kind
// Unimplemented (use Connector to hide the method).
func (c *Conn) Trash(ctx context.Context, path string) error {
	if err := c.begin(ctx, "trash", path); err != nil {
		return err
	}
	if c.opts.NoTrash {
		return connectors.Errorf(connectors.Unimplemented, "trash", path, "trash is switched off")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.key(path)
	n := c.nodes[k]
	switch {
	case n == nil:
		return connectors.Errorf(connectors.NotFound, "trash", path, "no such file")
	case n.dir:
		return connectors.Errorf(connectors.Invalid, "trash", path, "is a folder; delete it once empty")
	}
	delete(c.nodes, k)
	c.trashed = append(c.trashed, TrashedFile{Path: n.path, Data: n.data, ModTime: n.mtime})
	return nil
}

// Hash computes the hash of type t of the file at path.
func (c *Conn) Hash(ctx context.Context, path string, t connectors.HashType) (string, error) {
	if err := c.begin(ctx, "hash", path); err != nil {
		return "", err
	}
	if _, err := connectors.NewHash(t); err != nil {
		return "", &connectors.Error{Kind: connectors.Unimplemented, Op: "hash", Path: path, Err: err}
	}
	c.mu.Lock()
	n := c.nodes[c.key(path)]
	var data []byte
	var sum string
	if n != nil {
		data, sum = n.data, n.hash
	}
	c.mu.Unlock()
	switch {
	case n == nil:
		return "", connectors.Errorf(connectors.NotFound, "hash", path, "no such file")
	case n.dir:
		return "", connectors.Errorf(connectors.Exists, "hash", path, "is a folder")
	}
	if t == c.feat.Hash && sum != "" {
		return sum, nil
	}
	return hashOf(t, data), nil
}

// begin validates path, checks ctx and runs the hook.
func (c *Conn) begin(ctx context.Context, op, path string) error {
	if err := c.check(op, path); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return connectors.Wrap(op, path, err)
	}
	c.mu.Lock()
	hook := c.hook
	c.mu.Unlock()
	if hook == nil {
		return nil
	}
	err := hook(op, path)
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		e := *ce
		if e.Op == "" {
			e.Op = op
		}
		if e.Path == "" {
			e.Path = path
		}
		return &e
	}
	return connectors.Wrap(op, path, err)
}

func (c *Conn) check(op, path string) error {
	if err := connectors.ValidPath(path); err != nil {
		return &connectors.Error{Kind: connectors.Invalid, Op: op, Path: path, Err: err}
	}
	return nil
}

func (c *Conn) entry(n *node) connectors.Entry {
	e := connectors.Entry{Path: n.path, ModTime: n.mtime, ID: n.id, Rev: n.rev}
	if n.dir {
		e.Kind = connectors.Dir
		return e
	}
	e.Kind = connectors.File
	e.Size = int64(len(n.data))
	e.Hash = n.hash
	return e
}

func (c *Conn) next(prefix string) string {
	c.seq++
	return prefix + strconv.FormatUint(c.seq, 10)
}

func (c *Conn) trunc(t time.Time) time.Time {
	if c.opts.ModTimePrecision > 0 {
		return t.Truncate(c.opts.ModTimePrecision)
	}
	return t
}

// key is the map key of path: path itself, or its case-folded form.
func (c *Conn) key(path string) string {
	if !c.opts.CaseInsensitive {
		return path
	}
	return fold(path)
}

// fold maps every rune to the smallest rune of its simple case-folding
// orbit, so that fold(a) == fold(b) exactly when strings.EqualFold(a, b).
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'a' <= c && c <= 'z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	b := make([]rune, 0, len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b = append(b, m)
	}
	return string(b)
}

func hashOf(t connectors.HashType, data []byte) string {
	h, err := connectors.NewHash(t)
	if err != nil {
		panic(fmt.Sprintf("mem: %v", err))
	}
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}
