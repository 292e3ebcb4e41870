package reconcile

import (
	"fmt"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Side names one of the two sides of a sync pair.
type Side uint8

const (
	// Local is the folder on this machine.
	Local Side = iota
	// Remote is the folder at the storage provider (or the second local path).
	Remote
)

func (s Side) String() string {
	if s == Local {
		return "local"
	}
	return "remote"
}

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s }

// Direction says which way changes flow.
type Direction uint8

const (
	// TwoWay applies changes from each side to the other.
	TwoWay Direction = iota
	// UploadOnly applies local changes to the remote side and never changes
	// the local side.
	UploadOnly
	// DownloadOnly applies remote changes to the local side and never changes
	// the remote side.
	DownloadOnly
)

var directionNames = [...]string{TwoWay: "two-way", UploadOnly: "upload", DownloadOnly: "download"}

func (d Direction) String() string { return directionNames[d] }

// ParseDirection parses "two-way", "upload" or "download".
func ParseDirection(s string) (Direction, error) {
	for i, n := range directionNames {
		if n == s {
			return Direction(i), nil
		}
	}
	return 0, fmt.Errorf("unknown direction %q (want two-way, upload or download)", s)
}

// allows reports whether changes may be written to side dst.
func (d Direction) allows(dst Side) bool {
	switch d {
	case UploadOnly:
		return dst == Remote
	case DownloadOnly:
		return dst == Local
	}
	return true
}

// Policy decides which version stays at a path changed on both sides. The
// other version is never dropped: it is kept as a conflict revision.
type Policy uint8

const (
	// KeepLocal keeps the local version at the path.
	KeepLocal Policy = iota
	// KeepRemote keeps the remote version at the path.
	KeepRemote
	// KeepNewer keeps the version with the later modification time (local on
	// a tie).
	KeepNewer
)

var policyNames = [...]string{KeepLocal: "keep-local", KeepRemote: "keep-remote", KeepNewer: "keep-newer"}

func (p Policy) String() string { return policyNames[p] }

// ParsePolicy parses "keep-local", "keep-remote" or "keep-newer".
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if n == s {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("unknown conflict policy %q (want keep-local, keep-remote or keep-newer)", s)
}

// Compare selects how a file is judged changed.
type Compare uint8

const (
	// CompareModTime: changed when size or modification time differ; content
	// hashes decide only where size and time cannot.
	CompareModTime Compare = iota
	// CompareHash: changed when size or content hash differ; a new
	// modification time alone is not a change.
	CompareHash
)

// ParseCompare parses "mtime" or "hash".
func ParseCompare(s string) (Compare, error) {
	switch s {
	case "mtime":
		return CompareModTime, nil
	case "hash":
		return CompareHash, nil
	}
	return 0, fmt.Errorf("unknown compare mode %q (want mtime or hash)", s)
}

func (c Compare) String() string {
	if c == CompareHash {
		return "hash"
	}
	return "mtime"
}

// Options are the per-pair settings the reconciler obeys.
type Options struct {
	Direction Direction
	Conflict  Policy
	Compare   Compare
	// Precision is each side's modification-time granularity (indexed by
	// Side): times closer than the coarser of the two relevant precisions
	// are equal.
	Precision [2]time.Duration
	// RevTracksContent says, per side, that a Rev different from the
	// base's means the content changed, even with the same size and time
	// (see connectors.Features.RevTracksContent).
	RevTracksContent [2]bool
}

// Base is what both sides agreed on for a path after its last successful
// sync. Each side's modification time, identity and version are kept apart
// because providers store times differently and assign their own ids.
type Base struct {
	Path string
	Dir  bool
	Size int64
	// Hash is the content hash (of the pair's hash type), "" if unknown.
	Hash string
	// Meta is indexed by Side.
	Meta [2]Meta
}

// Meta is one side's view of a synced path.
type Meta struct {
	ModTime time.Time
	ID      string
	Rev     string
}

// Input is everything Plan looks at. Local and Remote hold the current
// listings, Base the last agreed state; all three are keyed by path. Paths
// absent from all three are not touched. Now stamps conflict-revision names;
// it is an input so that Plan stays a pure function.
type Input struct {
	Base   map[string]Base
	Local  map[string]connectors.Entry
	Remote map[string]connectors.Entry
	Now    time.Time
	Options
}

// entries returns the listing of side s.
func (in *Input) entries(s Side) map[string]connectors.Entry {
	if s == Local {
		return in.Local
	}
	return in.Remote
}

// Op is the kind of an Action.
type Op uint8

const (
	// OpMove renames From to Path on Side (a folder moves with its contents).
	OpMove Op = iota + 1
	// OpDelete removes Path on Side (to the trash where there is one).
	OpDelete
	// OpMkdir creates the folder Path on Side.
	OpMkdir
	// OpCopy copies the file Path from Side.Other() to Side.
	OpCopy
	// OpRecord writes the base entry for Path from the Local and Remote
	// entries without touching either side.
	OpRecord
	// OpForget drops the base entry of Path (gone on both sides).
	OpForget
)

var opNames = [...]string{OpMove: "move", OpDelete: "delete", OpMkdir: "mkdir", OpCopy: "copy", OpRecord: "record", OpForget: "forget"}

func (o Op) String() string { return opNames[o] }

// Action is one step of a plan. Side is where the step writes.
type Action struct {
	Op   Op
	Side Side
	Path string
	// From is the source path of a move.
	From string
	// Dir reports whether the action is about a folder.
	Dir bool
	// Local and Remote are the entries at Path as listed (nil if absent
	// there). A copy reads its source from them where present.
	Local, Remote *connectors.Entry
	// IfRev and IfAbsent make the write at Side conditional on the
	// destination still being as listed, so a change made meanwhile is
	// never overwritten.
	IfRev    string
	IfAbsent bool
	// Base, on an OpRecord, is the base entry to write as it is (a base
	// entry re-pathed by a move); otherwise the record is built from Local
	// and Remote.
	Base *Base
	// Conflict is set on the move that sets a conflict revision aside.
	Conflict *Conflict
	// Reason says in a few words why the step is needed ("changed locally").
	Reason string
}

// Summary is a one-line description for humans and logs.
func (a Action) String() string {
	switch a.Op {
	case OpMove:
		return fmt.Sprintf("%s %s: move %q to %q (%s)", a.Op, a.Side, a.From, a.Path, a.Reason)
	case OpRecord, OpForget:
		return fmt.Sprintf("%s %q (%s)", a.Op, a.Path, a.Reason)
	}
	return fmt.Sprintf("%s %s %q (%s)", a.Op, a.Side, a.Path, a.Reason)
}

// Conflict describes a path changed on both sides.
type Conflict struct {
	Path string
	// RevisionPath is where the losing version is kept.
	RevisionPath string
	// Kept is the side whose version stays at Path; the revision holds the
	// other side's version.
	Kept   Side
	Reason string
}

// Plan is the result of reconciling: actions in the order they must run
// (moves, then deletes deepest first, then folder creations shallowest
// first, then copies, then base-only updates).
type Plan struct {
	Actions   []Action
	Conflicts []Conflict
	// NeedHash lists paths that size and time could not decide and whose
	// content hashes the input lacked. The plan treats them as different
	// (the safe side: a conflict keeps both versions); a caller that can
	// compute the hashes fills Entry.Hash and reconciles again.
	NeedHash []HashRequest
}

// HashRequest names a path and the sides whose content hash would decide it.
type HashRequest struct {
	Path          string
	Local, Remote bool
}
