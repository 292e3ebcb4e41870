package reconcile

import (
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// sameTime reports whether a and b are equal to within precision p.
func sameTime(a, b time.Time, p time.Duration) bool {
	if p <= 0 {
		return a.Equal(b)
	}
	d := a.Sub(b)
	if d < 0 {
		d = -d
	}
	return d < p
}

// verdict is the outcome of comparing two versions of a file.
type verdict uint8

const (
	same verdict = iota
	different
	undecided // size and time cannot tell; a hash would
)

// Changed reports whether e (side s's entry, nil if absent) differs from
// base b (nil if none). It is the one definition of "changed" in Dovetail.
func Changed(b *Base, e *connectors.Entry, s Side, o Options) bool {
	return changedVerdict(b, e, s, o) != same
}

// changedVerdict is Changed with "undecided" kept apart, for NeedsHash.
// Undecided counts as changed: a hash that cannot be had never hides an
// edit.
func changedVerdict(b *Base, e *connectors.Entry, s Side, o Options) verdict {
	switch {
	case b == nil && e == nil:
		return same
	case b == nil || e == nil:
		return different
	case b.Dir != e.IsDir():
		return different
	case b.Dir:
		return same
	case e.Size != b.Size:
		return different
	}
	timeSame := sameTime(e.ModTime, b.Meta[s].ModTime, o.Precision[s])
	if timeSame && o.RevTracksContent[s] && e.Rev != "" && b.Meta[s].Rev != "" && e.Rev != b.Meta[s].Rev {
		// Same size and time, but the side says the content is new (a
		// same-size file renamed over it within the same second).
		timeSame = false
	}
	if o.Compare == CompareHash {
		if timeSame {
			return same
		}
		if e.Hash == "" || b.Hash == "" {
			return undecided
		}
		if e.Hash == b.Hash {
			return same
		}
		return different
	}
	if timeSame {
		return same
	}
	return different
}

// equalVerdict compares the local and remote versions of a path directly.
// Equal size and time count as equal only for a first merge (no base) in
// mtime mode, the quick check rsync and unison make too; when both sides
// changed since the base, or in hash mode, only the content decides.
func equalVerdict(b *Base, l, r *connectors.Entry, o Options) verdict {
	switch {
	case l == nil || r == nil:
		if l == r {
			return same
		}
		return different
	case l.IsDir() != r.IsDir():
		return different
	case l.IsDir():
		return same
	case l.Size != r.Size:
		return different
	case l.Hash != "" && r.Hash != "":
		if l.Hash == r.Hash {
			return same
		}
		return different
	case b == nil && o.Compare == CompareModTime && sameTime(l.ModTime, r.ModTime, max(o.Precision[Local], o.Precision[Remote])):
		return same
	}
	return undecided
}

// NeedsHash reports which sides' content hashes Plan would use to decide
// path (given its base and both listings) and does not have yet. The caller
// computes those hashes, fills Entry.Hash, and then calls Plan; where a hash
// cannot be had, Plan errs on the safe side (a conflict keeps both versions).
func NeedsHash(b *Base, l, r *connectors.Entry, o Options) (local, remote bool) {
	lv := changedVerdict(b, l, Local, o)
	rv := changedVerdict(b, r, Remote, o)
	local = lv == undecided && l.Hash == ""
	remote = rv == undecided && r.Hash == ""
	if b == nil || (lv != same && rv != same) {
		if equalVerdict(b, l, r, o) == undecided {
			local = local || l.Hash == ""
			remote = remote || r.Hash == ""
		}
	}
	return local, remote
}
