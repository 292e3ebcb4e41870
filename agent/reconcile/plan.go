package reconcile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Reconcile compares base, local and remote and returns the plan that makes
// both sides equal without losing any version of any file. It does no I/O
// and reads no clock; the same input always gives the same plan.
func Reconcile(in Input) Plan {
	p := &planner{
		opts:  in.Options,
		now:   in.Now,
		base:  in.Base,
		ent:   [2]map[string]connectors.Entry{in.Local, in.Remote},
		surv:  [2]map[string]bool{{}, {}},
		taken: map[string]bool{},
	}
	if p.base == nil {
		p.base = map[string]Base{}
	}
	for s := range p.ent {
		if p.ent[s] == nil {
			p.ent[s] = map[string]connectors.Entry{}
		}
	}
	p.detectMoves()

	// Files first (their decisions never depend on anything else), then
	// every path involving a folder, deepest first, so that a folder is
	// decided knowing whether anything inside it survives on each side.
	var dirs []string
	visit := func(path string) {
		if p.isDirPath(path) {
			dirs = append(dirs, path)
		} else {
			p.decide(path)
		}
	}
	for path := range p.base {
		visit(path)
	}
	for s := range p.ent {
		for path := range p.ent[s] {
			if p.seen(path, Side(s)) {
				continue
			}
			visit(path)
		}
	}
	slices.SortFunc(dirs, byDepthDesc)
	for _, path := range dirs {
		p.decide(path)
	}
	return p.plan()
}

type planner struct {
	opts Options
	now  time.Time
	base map[string]Base
	ent  [2]map[string]connectors.Entry
	// surv[s][dir] is true when something inside dir exists on side s once
	// the plan has run.
	surv [2]map[string]bool
	// relocated holds paths whose base entry was moved by a detected move:
	// their base must be rewritten even if nothing else changes.
	relocated map[string]bool
	// taken holds names given to conflict revisions in this plan.
	taken    map[string]bool
	copied   bool // maps are private copies (after the first relocation)
	needHash []HashRequest
	moves    []Action
	deletes  []Action
	mkdirs   []Action
	copies   []Action
	records  []Action
	confl    []Conflict
}

// seen reports whether path was already visited from the base or an earlier
// side's listing.
func (p *planner) seen(path string, s Side) bool {
	if _, ok := p.base[path]; ok {
		return true
	}
	if s == Remote {
		_, ok := p.ent[Local][path]
		return ok
	}
	return false
}

func (p *planner) isDirPath(path string) bool {
	if b, ok := p.base[path]; ok && b.Dir {
		return true
	}
	for s := range p.ent {
		if e, ok := p.ent[s][path]; ok && e.IsDir() {
			return true
		}
	}
	return false
}

func (p *planner) lookup(path string) (*Base, [2]*connectors.Entry) {
	var b *Base
	if v, ok := p.base[path]; ok {
		b = &v
	}
	var e [2]*connectors.Entry
	for s := range p.ent {
		if v, ok := p.ent[s][path]; ok {
			e[s] = &v
		}
	}
	return b, e
}

// exists notes which sides hold path once the plan has run.
func (p *planner) exists(path string, local, remote bool) {
	if path == "" {
		return
	}
	parent := connectors.Parent(path)
	if local {
		p.surv[Local][parent] = true
	}
	if remote {
		p.surv[Remote][parent] = true
	}
}

// decide plans one path. A path whose base was moved by a detected move
// always gets its base rewritten at the new path, even if nothing else is
// to be done (or a one-way direction ignores its change).
func (p *planner) decide(path string) {
	n := p.count()
	p.decideOne(path)
	if p.relocated[path] && p.count() == n {
		b := p.base[path]
		p.records = append(p.records, Action{Op: OpRecord, Path: path, Dir: b.Dir, Base: &b, Reason: "moved"})
	}
}

func (p *planner) count() int {
	return len(p.moves) + len(p.deletes) + len(p.mkdirs) + len(p.copies) + len(p.records)
}

func (p *planner) decideOne(path string) {
	// Fast path for the common case: present and unchanged on both sides.
	// It allocates nothing and needs no exists() mark: a folder is only
	// asked about what survives inside it when it is missing, or a file, on
	// one side, and then none of its children can be on both sides.
	if b, ok := p.base[path]; ok && !p.relocated[path] {
		l, lok := p.ent[Local][path]
		r, rok := p.ent[Remote][path]
		if lok && rok && changedVerdict(&b, &l, Local, p.opts) == same && changedVerdict(&b, &r, Remote, p.opts) == same {
			return
		}
	}
	b, e := p.lookup(path)
	if nl, nr := NeedsHash(b, e[Local], e[Remote], p.opts); nl || nr {
		p.needHash = append(p.needHash, HashRequest{Path: path, Local: nl, Remote: nr})
	}
	l, r := e[Local], e[Remote]
	if l == nil && r == nil {
		if b != nil {
			p.records = append(p.records, Action{Op: OpForget, Path: path, Dir: b.Dir, Reason: "gone on both sides"})
		}
		return
	}
	lv := changedVerdict(b, l, Local, p.opts)
	rv := changedVerdict(b, r, Remote, p.opts)
	if l != nil && r != nil && equalVerdict(b, l, r, p.opts) == same {
		if b == nil || lv != same || rv != same || p.relocated[path] {
			p.record(path, l, r, "same on both sides")
		}
		p.exists(path, true, true)
		return
	}
	lc, rc := lv != same, rv != same
	switch {
	case !lc && !rc:
		p.exists(path, l != nil, r != nil)
	case lc && !rc:
		p.propagate(path, e, Local)
	case rc && !lc:
		p.propagate(path, e, Remote)
	case l == nil:
		p.restore(path, e, Remote)
	case r == nil:
		p.restore(path, e, Local)
	case l.IsDir() != r.IsDir():
		fileSide := Local
		if l.IsDir() {
			fileSide = Remote
		}
		p.fileVsFolder(path, e, fileSide, "a file on one side, a folder on the other")
	default:
		p.conflictFiles(path, e)
	}
}

func (p *planner) record(path string, l, r *connectors.Entry, why string) {
	p.records = append(p.records, Action{Op: OpRecord, Path: path, Dir: l.IsDir(), Local: l, Remote: r, Reason: why})
}

// propagate applies the change made on side src (the other side still
// matches the base) to the other side.
func (p *planner) propagate(path string, e [2]*connectors.Entry, src Side) {
	dst := src.Other()
	s, d := e[src], e[dst]
	if s == nil && d.IsDir() && p.surv[src][path] {
		// Edit beats delete: the folder src deleted will hold something
		// once the plan has run, so it comes back there.
		p.mkdir(src, path, e, "folder deleted "+src.String()+" but has new content "+dst.String())
		p.exists(path, true, true)
		return
	}
	if !p.opts.Direction.allows(dst) {
		p.exists(path, e[Local] != nil, e[Remote] != nil)
		return
	}
	why := "changed " + src.String()
	switch {
	case s == nil:
		why = "deleted " + src.String()
		if d.IsDir() && p.surv[dst][path] {
			// Edit beats delete: the folder holds something new or changed
			// on dst, so it stays there and comes back on src where the
			// direction allows.
			if p.opts.Direction.allows(src) {
				p.mkdir(src, path, e, "folder deleted "+src.String()+" but has new content "+dst.String())
			}
			p.exists(path, p.opts.Direction.allows(src) || src != Local, p.opts.Direction.allows(src) || src != Remote)
			return
		}
		p.delete(dst, path, d, why)
		p.exists(path, false, false)
		return
	case s.IsDir():
		if d != nil { // a file at dst became a folder at src
			p.delete(dst, path, d, "replaced by a folder "+src.String())
		}
		p.mkdir(dst, path, e, why)
	case d == nil:
		p.copy(dst, path, e, "", true, "new "+src.String())
	case d.IsDir():
		if p.surv[dst][path] {
			p.fileVsFolder(path, e, src, "folder replaced by a file "+src.String()+" but has new content "+dst.String())
			return
		}
		p.delete(dst, path, d, "replaced by a file "+src.String())
		p.copy(dst, path, e, "", true, why)
	default:
		p.copy(dst, path, e, d.Rev, false, why)
	}
	p.exists(path, true, true)
}

// restore handles a path deleted on one side and changed on side src: the
// edit beats the delete and comes back where it was deleted.
func (p *planner) restore(path string, e [2]*connectors.Entry, src Side) {
	dst := src.Other()
	if !p.opts.Direction.allows(dst) {
		p.exists(path, e[Local] != nil, e[Remote] != nil)
		return
	}
	why := "changed " + src.String() + ", deleted " + dst.String() + ": the change wins"
	if e[src].IsDir() {
		p.mkdir(dst, path, e, why)
	} else {
		p.copy(dst, path, e, "", true, why)
	}
	p.exists(path, true, true)
}

// writable returns the side that a one-way sync writes to, and whether the
// sync is one-way at all.
func (p *planner) writable() (Side, bool) {
	switch p.opts.Direction {
	case UploadOnly:
		return Remote, true
	case DownloadOnly:
		return Local, true
	}
	return 0, false
}

// fileVsFolder keeps both a file and a folder that claim the same path: the
// file is set aside under a conflict name (both sides get the folder and
// the renamed file). In a one-way sync the destination's version is set
// aside there instead, whichever it is.
func (p *planner) fileVsFolder(path string, e [2]*connectors.Entry, fileSide Side, why string) {
	if w, oneWay := p.writable(); oneWay {
		p.oneWayConflict(path, e, w, why)
		return
	}
	folderSide := fileSide.Other()
	rev := p.setAside(fileSide, path, e[fileSide], fileSide.Other(), why)
	p.mkdir(fileSide, path, e, why)
	p.copy(folderSide, rev, [2]*connectors.Entry{}, "", true, "conflict revision")
	p.exists(path, true, true)
	p.exists(rev, true, true)
}

// conflictFiles settles a file changed differently on both sides.
func (p *planner) conflictFiles(path string, e [2]*connectors.Entry) {
	why := "changed on both sides"
	if w, oneWay := p.writable(); oneWay {
		p.oneWayConflict(path, e, w, why)
		return
	}
	winner := Local
	switch p.opts.Conflict {
	case KeepRemote:
		winner = Remote
	case KeepNewer:
		if e[Remote].ModTime.After(e[Local].ModTime) {
			winner = Remote
		}
	}
	loser := winner.Other()
	rev := p.setAside(loser, path, e[loser], winner, why)
	p.copy(loser, path, e, "", true, why+": "+winner.String()+" version kept")
	p.copy(winner, rev, [2]*connectors.Entry{}, "", true, "conflict revision")
	p.exists(path, true, true)
	p.exists(rev, true, true)
}

// oneWayConflict: the destination w's version is set aside on w, and the
// source's version takes its place.
func (p *planner) oneWayConflict(path string, e [2]*connectors.Entry, w Side, why string) {
	src := w.Other()
	if e[w].IsDir() {
		// The whole folder is kept as the revision, contents and all, so
		// anything planned inside it is moot.
		p.dropUnder(path)
	}
	p.setAside(w, path, e[w], src, why)
	if e[src].IsDir() {
		p.mkdir(w, path, e, why)
	} else {
		p.copy(w, path, e, "", true, why+": "+src.String()+" version kept")
	}
	p.exists(path, true, true)
}

// dropUnder removes planned actions strictly inside folder dir.
func (p *planner) dropUnder(dir string) {
	keep := func(a Action) bool { return a.Path == dir || !connectors.Within(a.Path, dir) }
	for _, list := range []*[]Action{&p.moves, &p.deletes, &p.mkdirs, &p.copies, &p.records} {
		*list = slices.DeleteFunc(*list, func(a Action) bool { return !keep(a) })
	}
}

// setAside moves side s's version of path to a new conflict-revision name
// and returns that name.
func (p *planner) setAside(s Side, path string, e *connectors.Entry, kept Side, why string) string {
	rev := p.conflictName(path, s)
	c := Conflict{Path: path, RevisionPath: rev, Kept: kept, Reason: why}
	p.confl = append(p.confl, c)
	p.moves = append(p.moves, Action{Op: OpMove, Side: s, From: path, Path: rev, Dir: e.IsDir(),
		IfRev: e.Rev, Conflict: &c, Reason: "conflict: " + s.String() + " version kept as a revision"})
	return rev
}

// conflictName returns an unused sibling name for side s's version of path:
// "report.conflict-remote-20261123-101500.pdf".
func (p *planner) conflictName(path string, s Side) string {
	dir, name := connectors.Parent(path), connectors.Base(path)
	ext := connectors.Ext(name)
	if len(ext) > 16 || strings.ContainsAny(ext, " ") {
		ext = "" // not a real extension
	}
	stem := name[:len(name)-len(ext)]
	stamp := p.now.Format("20060102-150405")
	for i := 1; ; i++ {
		suffix := ".conflict-" + s.String() + "-" + stamp
		if i > 1 {
			suffix += fmt.Sprintf("-%d", i)
		}
		st := truncateUTF8(stem, 255-len(suffix)-len(ext))
		cand := connectors.Join(dir, st+suffix+ext)
		if !p.used(cand) {
			p.taken[cand] = true
			return cand
		}
	}
}

func (p *planner) used(path string) bool {
	if p.taken[path] {
		return true
	}
	if _, ok := p.base[path]; ok {
		return true
	}
	for s := range p.ent {
		if _, ok := p.ent[s][path]; ok {
			return true
		}
	}
	return false
}

// truncateUTF8 shortens s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if n < 1 {
		n = 1
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func (p *planner) delete(s Side, path string, e *connectors.Entry, why string) {
	a := Action{Op: OpDelete, Side: s, Path: path, Dir: e.IsDir(), Reason: why}
	if !e.IsDir() {
		a.IfRev = e.Rev
	}
	a.Local, a.Remote = p.entry(Local, path), p.entry(Remote, path)
	p.deletes = append(p.deletes, a)
}

func (p *planner) mkdir(s Side, path string, e [2]*connectors.Entry, why string) {
	p.mkdirs = append(p.mkdirs, Action{Op: OpMkdir, Side: s, Path: path, Dir: true, Local: e[Local], Remote: e[Remote], Reason: why})
}

func (p *planner) copy(s Side, path string, e [2]*connectors.Entry, ifRev string, ifAbsent bool, why string) {
	p.copies = append(p.copies, Action{Op: OpCopy, Side: s, Path: path, Local: e[Local], Remote: e[Remote],
		IfRev: ifRev, IfAbsent: ifAbsent, Reason: why})
}

func (p *planner) entry(s Side, path string) *connectors.Entry {
	if v, ok := p.ent[s][path]; ok {
		return &v
	}
	return nil
}

// plan orders the collected actions.
func (p *planner) plan() Plan {
	slices.SortStableFunc(p.deletes, func(a, b Action) int { return byDepthDesc(a.Path, b.Path) })
	slices.SortStableFunc(p.mkdirs, func(a, b Action) int { return byDepthDesc(b.Path, a.Path) })
	slices.SortStableFunc(p.copies, func(a, b Action) int { return cmp.Compare(a.Path, b.Path) })
	slices.SortStableFunc(p.records, func(a, b Action) int { return cmp.Compare(a.Path, b.Path) })
	n := len(p.moves) + len(p.deletes) + len(p.mkdirs) + len(p.copies) + len(p.records)
	acts := make([]Action, 0, n)
	acts = append(acts, p.moves...)
	acts = append(acts, p.deletes...)
	acts = append(acts, p.mkdirs...)
	acts = append(acts, p.copies...)
	acts = append(acts, p.records...)
	slices.SortFunc(p.needHash, func(a, b HashRequest) int { return cmp.Compare(a.Path, b.Path) })
	return Plan{Actions: acts, Conflicts: p.confl, NeedHash: p.needHash}
}

// byDepthDesc orders deeper paths first, then by path.
func byDepthDesc(a, b string) int {
	if c := cmp.Compare(strings.Count(b, "/"), strings.Count(a, "/")); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// detectMoves finds objects that one side moved (same ID at a new path, and
// unchanged content) and plans the same move on the other side instead of a
// delete plus a new copy. Folder moves carry everything inside them; nested
// moves are found in later rounds.
func (p *planner) detectMoves() {
	for round := 0; round < 8; round++ {
		found := false
		for _, s := range []Side{Local, Remote} {
			if p.detectMovesOn(s) {
				found = true
			}
		}
		if !found {
			return
		}
	}
}

// detectMovesOn finds moves made on side s and plans them on the other.
func (p *planner) detectMovesOn(s Side) bool {
	dst := s.Other()
	if !p.opts.Direction.allows(dst) {
		return false
	}
	ent := p.ent[s]
	gone := map[string]string{} // ID on s -> base path no longer on s
	for path, b := range p.base {
		if id := b.Meta[s].ID; id != "" {
			if _, ok := ent[path]; !ok {
				gone[id] = path
			}
		}
	}
	if len(gone) == 0 {
		return false
	}
	var news []string
	for path, e := range ent {
		if e.ID == "" {
			continue
		}
		if _, ok := gone[e.ID]; !ok {
			continue
		}
		if _, ok := p.base[path]; !ok {
			news = append(news, path)
		}
	}
	slices.SortFunc(news, func(a, b string) int { return byDepthDesc(b, a) })
	moved := false
	for _, to := range news {
		e := ent[to]
		from := gone[e.ID]
		if !p.movable(s, from, to, e) {
			continue
		}
		delete(gone, e.ID)
		p.moves = append(p.moves, Action{Op: OpMove, Side: dst, From: from, Path: to, Dir: e.IsDir(),
			Reason: "moved " + s.String()})
		p.relocate(from, to, dst)
		moved = true
	}
	return moved
}

// movable reports whether the object at from (in the base) that side s now
// lists at to can be moved the same way on the other side.
func (p *planner) movable(s Side, from, to string, e connectors.Entry) bool {
	dst := s.Other()
	if _, ok := p.base[to]; ok { // taken by an earlier relocation
		return false
	}
	b, ok := p.base[from]
	if !ok || b.Dir != e.IsDir() {
		return false
	}
	if _, ok := p.ent[s][from]; ok {
		return false
	}
	if changedVerdict(&b, &e, s, p.opts) != same && !b.Dir {
		return false // moved and edited: handled as a delete plus a new file
	}
	d, ok := p.ent[dst][from]
	if !ok || d.IsDir() != b.Dir {
		return false
	}
	if !b.Dir && changedVerdict(&b, &d, dst, p.opts) != same {
		return false
	}
	if _, ok := p.ent[dst][to]; ok {
		return false
	}
	// A file where the move needs a folder would have to be set aside
	// first; leave that case to the per-path rules (copy, then delete).
	for d := connectors.Parent(to); d != ""; d = connectors.Parent(d) {
		if x, ok := p.ent[dst][d]; ok && !x.IsDir() {
			return false
		}
	}
	return true
}

// relocate rewrites the base and side dst's listing as if everything at or
// below from had been at to all along.
func (p *planner) relocate(from, to string, dst Side) {
	if !p.copied {
		p.base = maps.Clone(p.base)
		p.ent[dst] = maps.Clone(p.ent[dst])
		p.ent[dst.Other()] = maps.Clone(p.ent[dst.Other()])
		p.relocated = map[string]bool{}
		p.copied = true
	}
	var olds []string
	for path := range p.base {
		if connectors.Within(path, from) {
			olds = append(olds, path)
		}
	}
	for _, old := range olds {
		b := p.base[old]
		delete(p.base, old)
		b.Path = connectors.Rebase(old, from, to)
		p.base[b.Path] = b
		p.relocated[b.Path] = true
	}
	olds = olds[:0]
	for path := range p.ent[dst] {
		if connectors.Within(path, from) {
			olds = append(olds, path)
		}
	}
	for _, old := range olds {
		e := p.ent[dst][old]
		delete(p.ent[dst], old)
		e.Path = connectors.Rebase(old, from, to)
		p.ent[dst][e.Path] = e
	}
}
