package reconcile

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// world is a pure simulation of two sides, a base and trash, used to run
// plans the way the executor does and check the outcome a user would see.
type world struct {
	side   [2]map[string]node
	trash  [2][]string // contents set aside by deletes and overwrites
	base   map[string]Base
	clock  int64
	nextID int
	hashes bool // listings carry content hashes
	now    time.Time
	opts   Options
	target Side // the side a test mutation changes
}

type node struct {
	dir   bool
	data  string
	mtime int64
	id    string
}

func newWorld() *world {
	return &world{
		side: [2]map[string]node{{}, {}},
		base: map[string]Base{},
		now:  time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC),
	}
}

func (w *world) tick() int64 { w.clock += 1000; return w.clock }

func (w *world) id() string { w.nextID++; return fmt.Sprintf("id%d", w.nextID) }

// put creates parents and writes a file (or folder when data is "/").
func (w *world) put(s Side, path, data string) {
	w.mkdirAll(s, connectors.Parent(path))
	if data == "/" {
		w.side[s][path] = node{dir: true, id: w.id()}
		return
	}
	old, ok := w.side[s][path]
	id := w.id()
	if ok && !old.dir {
		id = old.id // an in-place edit keeps the inode
	}
	w.side[s][path] = node{data: data, mtime: w.tick(), id: id}
}

func (w *world) mkdirAll(s Side, dir string) {
	for d := dir; d != ""; d = connectors.Parent(d) {
		if _, ok := w.side[s][d]; !ok {
			w.side[s][d] = node{dir: true, id: w.id()}
		}
	}
}

// remove deletes path and everything below it on side s.
func (w *world) remove(s Side, path string) {
	for p := range w.side[s] {
		if connectors.Within(p, path) {
			delete(w.side[s], p)
		}
	}
}

// rename moves path (and its contents) on side s, keeping ids.
func (w *world) rename(s Side, from, to string) {
	w.mkdirAll(s, connectors.Parent(to))
	for p, n := range w.side[s] {
		if connectors.Within(p, from) {
			delete(w.side[s], p)
			w.side[s][connectors.Rebase(p, from, to)] = n
		}
	}
}

func (w *world) entry(s Side, path string, n node) connectors.Entry {
	e := connectors.Entry{Path: path, Kind: connectors.File, ID: n.id}
	if n.dir {
		e.Kind = connectors.Dir
		return e
	}
	e.Size = int64(len(n.data))
	e.ModTime = time.Unix(0, n.mtime)
	e.Rev = fmt.Sprintf("%s.%d.%d", n.id, n.mtime, len(n.data))
	if w.hashes {
		e.Hash = "h:" + n.data
	}
	return e
}

func (w *world) listing(s Side) map[string]connectors.Entry {
	m := make(map[string]connectors.Entry, len(w.side[s]))
	for p, n := range w.side[s] {
		m[p] = w.entry(s, p, n)
	}
	return m
}

func (w *world) input() Input {
	in := Input{Base: w.base, Local: w.listing(Local), Remote: w.listing(Remote), Now: w.now, Options: w.opts}
	return in
}

// plan reconciles as the engine does: once, then again with the content
// hashes the first plan asked for.
func (w *world) plan() Plan {
	in := w.input()
	p := Reconcile(in)
	if len(p.NeedHash) == 0 {
		return p
	}
	for _, h := range p.NeedHash {
		if h.Local {
			e := in.Local[h.Path]
			e.Hash = "h:" + w.side[Local][h.Path].data
			in.Local[h.Path] = e
		}
		if h.Remote {
			e := in.Remote[h.Path]
			e.Hash = "h:" + w.side[Remote][h.Path].data
			in.Remote[h.Path] = e
		}
	}
	return Reconcile(in)
}

// sync reconciles and applies the plan; it returns the plan.
func (w *world) sync() (Plan, error) {
	p := w.plan()
	return p, w.apply(p)
}

func (w *world) recordBase(path string) error {
	l, lok := w.side[Local][path]
	r, rok := w.side[Remote][path]
	if !lok || !rok {
		return fmt.Errorf("record %q: not on both sides", path)
	}
	le, re := w.entry(Local, path, l), w.entry(Remote, path, r)
	w.base[path] = Base{Path: path, Dir: l.dir, Size: le.Size, Hash: "h:" + l.data,
		Meta: [2]Meta{{le.ModTime, le.ID, le.Rev}, {re.ModTime, re.ID, re.Rev}}}
	return nil
}

// apply runs a plan against the simulated sides as the executor would,
// failing on anything the real connectors would refuse.
func (w *world) apply(p Plan) error {
	for _, a := range p.Actions {
		if err := w.applyOne(a); err != nil {
			return fmt.Errorf("%v: %w", a, err)
		}
	}
	return nil
}

func (w *world) applyOne(a Action) error {
	s := a.Side
	m := w.side[s]
	switch a.Op {
	case OpMove:
		if _, ok := m[a.From]; !ok {
			return fmt.Errorf("move source missing")
		}
		if _, ok := m[a.Path]; ok {
			return fmt.Errorf("move target exists")
		}
		w.rename(s, a.From, a.Path)
		for p := range w.base {
			if connectors.Within(p, a.From) {
				delete(w.base, p)
			}
		}
	case OpDelete:
		n, ok := m[a.Path]
		if !ok {
			return fmt.Errorf("delete: missing")
		}
		if n.dir {
			for p := range m {
				if p != a.Path && connectors.Within(p, a.Path) {
					return fmt.Errorf("delete: folder not empty (%s)", p)
				}
			}
		} else {
			if a.IfRev != "" && w.entry(s, a.Path, n).Rev != a.IfRev {
				return fmt.Errorf("delete: rev changed")
			}
			w.trash[s] = append(w.trash[s], n.data)
		}
		delete(m, a.Path)
		delete(w.base, a.Path)
	case OpMkdir:
		if n, ok := m[a.Path]; ok && !n.dir {
			return fmt.Errorf("mkdir: a file is there")
		}
		if _, ok := m[connectors.Parent(a.Path)]; !ok && connectors.Parent(a.Path) != "" {
			return fmt.Errorf("mkdir: parent missing")
		}
		if _, ok := m[a.Path]; !ok {
			m[a.Path] = node{dir: true, id: w.id()}
		}
		if _, ok := w.side[s.Other()][a.Path]; ok {
			return w.recordBase(a.Path)
		}
	case OpCopy:
		src, ok := w.side[s.Other()][a.Path]
		if !ok || src.dir {
			return fmt.Errorf("copy: no source file")
		}
		old, exists := m[a.Path]
		if a.IfAbsent && exists {
			return fmt.Errorf("copy: destination exists")
		}
		if a.IfRev != "" && (!exists || w.entry(s, a.Path, old).Rev != a.IfRev) {
			return fmt.Errorf("copy: destination changed")
		}
		if exists && old.dir {
			return fmt.Errorf("copy: a folder is there")
		}
		if exists {
			w.trash[s] = append(w.trash[s], old.data)
		}
		w.mkdirAll(s, connectors.Parent(a.Path))
		m[a.Path] = node{data: src.data, mtime: src.mtime, id: w.id()}
		return w.recordBase(a.Path)
	case OpRecord:
		if a.Base != nil {
			w.base[a.Path] = *a.Base
			return nil
		}
		return w.recordBase(a.Path)
	case OpForget:
		delete(w.base, a.Path)
	}
	return nil
}

// tree renders side s as sorted "path=data" lines ("path/" for folders).
func (w *world) tree(s Side) string {
	var lines []string
	for p, n := range w.side[s] {
		if n.dir {
			lines = append(lines, p+"/")
		} else {
			lines = append(lines, p+"="+n.data)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, " ")
}

// contents returns every file content on both sides plus the trash.
func (w *world) contents() map[string]bool {
	m := map[string]bool{}
	for s := range w.side {
		for _, n := range w.side[s] {
			if !n.dir {
				m[n.data] = true
			}
		}
		for _, d := range w.trash[s] {
			m[d] = true
		}
	}
	return m
}

// synced builds a world whose sides both hold tree and whose base records it.
func synced(tree ...string) *world {
	w := newWorld()
	for _, t := range tree {
		path, data, _ := strings.Cut(t, "=")
		if data == "" {
			data = "/"
		}
		w.put(Local, path, data)
	}
	for p, n := range w.side[Local] {
		n.id = w.id()
		w.side[Remote][p] = n
	}
	for p := range w.side[Local] {
		if err := w.recordBase(p); err != nil {
			panic(err)
		}
	}
	return w
}
