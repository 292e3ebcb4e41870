package watch

import (
	"slices"
	"strings"
	"time"
)

// Batch is one delivery of paths that may have changed under a root.
//
// Its fields match agent.Change, so a consumer converts it with a plain
// type conversion.
type Batch struct {
	// Paths are slash-separated, relative to the root, sorted and unique;
	// each may be a file or a folder (a folder stands for its subtree when
	// it was removed or renamed away). "" never appears here, and no path
	// lies under an entry of Rescan.
	Paths []string
	// Rescan holds subtrees whose contents may have changed without
	// individual events (a new folder, an overflow, an unwatched folder);
	// "" is the whole root. The consumer lists these subtrees fully. Sorted,
	// and no entry lies under another.
	Rescan []string
	// Reason says why a rescan was asked ("overflow", "new folder",
	// "watch limit", "root replaced", ...), for logs; several reasons are
	// joined with ", ". Empty when Rescan is.
	Reason string
}

// Reasons for a rescan, as they appear in Batch.Reason.
const (
	ReasonNewFolder    = "new folder"
	ReasonOverflow     = "overflow"
	ReasonWatchLimit   = "watch limit"
	ReasonNotWatched   = "folder not watched"
	ReasonRootRemoved  = "root removed"
	ReasonRootReplaced = "root replaced"
	ReasonTooMany      = "too many changes"
	ReasonError        = "watcher error"
)

// pathState is what a pending batch knows about one path.
type pathState uint8

const (
	// stFresh: the first event for the path in this batch created it, so it
	// did not exist before the batch began.
	stFresh pathState = 1 << iota
	// stGone: the last event for the path removed it or renamed it away.
	stGone
)

// pending accumulates the events of one batch: it coalesces them by path,
// folds paths under a rescanned subtree into that rescan, and keeps its
// memory bounded by collapsing a storm of paths into rescans of their
// folders. It does no I/O and reads no clock: times are passed in.
type pending struct {
	maxPaths  int // more pending paths than this collapse to folder rescans
	maxRescan int // more rescans than this collapse to the whole root

	paths   map[string]pathState
	rescan  map[string]struct{}
	reasons []string
	first   time.Time // first event of the batch; zero when empty
	last    time.Time // latest event
}

func newPending(maxPaths, maxRescan int) *pending {
	return &pending{
		maxPaths:  maxPaths,
		maxRescan: maxRescan,
		paths:     make(map[string]pathState),
		rescan:    make(map[string]struct{}),
	}
}

func (p *pending) empty() bool { return len(p.paths) == 0 && len(p.rescan) == 0 }

func (p *pending) touch(now time.Time) {
	if p.first.IsZero() {
		p.first = now
	}
	p.last = now
}

// due is when the batch should be delivered: after a quiet period of
// debounce, and never later than maxDelay after its first event.
func (p *pending) due(debounce, maxDelay time.Duration) time.Time {
	d := p.last.Add(debounce)
	if m := p.first.Add(maxDelay); m.Before(d) {
		return m
	}
	return d
}

// covered reports whether rel lies in (or is) a subtree already pending
// a rescan.
func (p *pending) covered(rel string) bool {
	if len(p.rescan) == 0 {
		return false
	}
	for {
		if _, ok := p.rescan[rel]; ok {
			return true
		}
		if rel == "" {
			return false
		}
		rel = parent(rel)
	}
}

// addPath records an event for rel. fresh says the event created a name
// that did not exist before (not a rename over an existing one); gone says
// the path no longer exists after it.
func (p *pending) addPath(now time.Time, rel string, fresh, gone bool) {
	p.touch(now)
	if p.covered(rel) {
		return
	}
	st, seen := p.paths[rel]
	if !seen && fresh {
		st |= stFresh
	}
	if gone {
		st |= stGone
	} else {
		st &^= stGone
	}
	p.paths[rel] = st
	if len(p.paths) > p.maxPaths {
		p.collapse()
	}
}

// addRescan asks for the subtree rel to be listed again, for reason.
func (p *pending) addRescan(now time.Time, rel, reason string) {
	p.touch(now)
	if !slices.Contains(p.reasons, reason) {
		p.reasons = append(p.reasons, reason)
	}
	if p.covered(rel) {
		return
	}
	p.rescan[rel] = struct{}{}
	if len(p.rescan) > p.maxRescan {
		clear(p.rescan)
		clear(p.paths)
		p.rescan[""] = struct{}{}
	}
}

// collapse trades the pending paths for rescans of their folders, so that
// a storm of events keeps memory bounded; the consumer then lists those
// folders instead of looking at each path.
func (p *pending) collapse() {
	if !slices.Contains(p.reasons, ReasonTooMany) {
		p.reasons = append(p.reasons, ReasonTooMany)
	}
	for rel := range p.paths {
		dir := parent(rel)
		if !p.covered(dir) {
			p.rescan[dir] = struct{}{}
		}
	}
	clear(p.paths)
	if len(p.rescan) > p.maxRescan {
		clear(p.rescan)
		p.rescan[""] = struct{}{}
	}
}

// take empties the pending batch and returns it in delivery form. drop,
// if not nil, is asked about each path that would be delivered and may
// leave it out (an event of the agent's own write, a temporary file that
// came and went). ok is false when nothing is left to deliver.
func (p *pending) take(drop func(rel string, st pathState) bool) (b Batch, ok bool) {
	rescan := make([]string, 0, len(p.rescan))
	for rel := range p.rescan {
		// A subtree inside another one to rescan adds nothing.
		if rel == "" || !p.covered(parent(rel)) {
			rescan = append(rescan, rel)
		}
	}
	slices.Sort(rescan)

	var paths []string
	for rel, st := range p.paths {
		if p.covered(rel) || (drop != nil && drop(rel, st)) {
			continue
		}
		paths = append(paths, rel)
	}
	slices.Sort(paths)

	if len(rescan) > 0 {
		b.Rescan = rescan
		b.Reason = strings.Join(p.reasons, ", ")
	}
	b.Paths = paths
	clear(p.paths)
	clear(p.rescan)
	p.reasons = p.reasons[:0]
	p.first, p.last = time.Time{}, time.Time{}
	return b, len(b.Paths) > 0 || len(b.Rescan) > 0
}

// parent is the folder holding rel; "" for a top-level name.
func parent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// under reports whether rel is dir or lies inside it.
func under(rel, dir string) bool {
	return dir == "" || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// join appends a name to a relative folder path.
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
