package connectors

import (
	"context"
	"errors"
	"io"
	"time"
)

// Kind says whether an entry is a regular file or a folder. Connectors never
// report symbolic links, devices or sockets as entries: they report them as
// problems through the Walk callback's error path or skip them (see Walk).
type Kind uint8

const (
	// File is a regular file with content.
	File Kind = iota + 1
	// Dir is a folder.
	Dir
)

func (k Kind) String() string {
	switch k {
	case File:
		return "file"
	case Dir:
		return "folder"
	}
	return "none"
}

// HashType names a content hash. The empty HashType means "no hash".
type HashType string

const (
	// HashNone means the connector reports no content hash.
	HashNone HashType = ""
	// MD5 is the hex MD5 of the content (S3 single-part ETag, Drive md5Checksum).
	MD5 HashType = "md5"
	// SHA1 is the hex SHA-1 of the content.
	SHA1 HashType = "sha1"
	// SHA256 is the hex SHA-256 of the content. Dovetail uses it when neither
	// side gives a hash of its own, computing it on both sides.
	SHA256 HashType = "sha256"
)

// Entry describes one file or folder as a listing saw it.
type Entry struct {
	// Path is relative to the connector's root, slash-separated and clean.
	Path string
	Kind Kind
	// Size is the content length in bytes; 0 for folders.
	Size int64
	// ModTime is the modification time the connector reports. For folders it
	// is informational only; Dovetail never compares folder times.
	ModTime time.Time
	// Hash is the content hash of Features().Hash type, when the listing
	// carries one for free; otherwise "". Callers needing a hash the listing
	// lacks use HashOf.
	Hash string
	// ID identifies the object across renames: an inode ("dev:ino") for local
	// files, a provider file id elsewhere. "" when the connector has none.
	ID string
	// Rev is an opaque version token that changes whenever the content
	// changes (an ETag, a Dropbox rev, or size+mtime+inode locally). Put and
	// Delete accept it to make a write conditional on the version last seen.
	Rev string
}

// IsDir reports whether e is a folder.
func (e Entry) IsDir() bool { return e.Kind == Dir }

// Features are a connector's capabilities, resolved once when it is created.
type Features struct {
	// Name is a short human name for logs and messages ("local", "mem", "sftp").
	Name string
	// Hash is the hash type listings carry in Entry.Hash, or HashNone.
	Hash HashType
	// SetModTime reports whether Put stores the given ModTime so that a later
	// listing returns it (to ModTimePrecision).
	SetModTime bool
	// ModTimePrecision is the granularity of stored modification times; two
	// times closer than this are equal. 0 means exact (nanoseconds).
	ModTimePrecision time.Duration
	// ServerSideMove reports whether the connector implements Mover.
	ServerSideMove bool
	// ConditionalWrite reports whether Put and Delete honour PutOptions.IfRev
	// and IfAbsent atomically at the server. When false they still check
	// before writing (best effort), which leaves a small race window.
	ConditionalWrite bool
	// CaseInsensitive reports whether names differing only in case are the
	// same object at this connector.
	CaseInsensitive bool
	// Trash reports whether the connector implements Trasher, so deleted and
	// overwritten content is kept rather than destroyed.
	Trash bool
	// RevTracksContent reports that Entry.Rev changes whenever the content
	// changes, even when size and time stay the same (an ETag, a file
	// replaced by another with a new inode), and not on mere reads. The
	// engine then counts a new Rev as a change, which size and time alone
	// can miss (two same-size versions written within the time precision).
	RevTracksContent bool
	// Rules names the provider rule set (see package rules) that paths stored
	// here must satisfy; "" means no restrictions beyond ValidPath.
	Rules string
}

// PutOptions qualify a Put.
type PutOptions struct {
	// ModTime is stored as the file's modification time where the connector
	// can (Features.SetModTime). The zero time means "now".
	ModTime time.Time
	// Size is the exact number of bytes the reader yields, or -1 if unknown.
	// A connector that gets a different number of bytes returns an error and
	// leaves nothing at Path.
	Size int64
	// IfRev makes the write succeed only while the current object at Path has
	// this Rev; otherwise Put returns an error of kind Precondition and
	// changes nothing.
	IfRev string
	// IfAbsent makes the write succeed only while nothing exists at Path;
	// otherwise Put returns an error of kind Precondition (or Exists).
	IfAbsent bool
}

// Connector is a storage location rooted at a folder. Implementations are
// safe for concurrent use by multiple goroutines.
//
// Contract common to all methods: path arguments are valid relative paths
// (ValidPath); errors are *Error values (or wrap one) whose Kind callers act
// on; a missing object gives Kind NotFound; methods honour ctx cancellation.
type Connector interface {
	// Features returns the connector's capabilities. It does no I/O.
	Features() Features

	// Walk calls fn for every entry below dir (not dir itself), recursively.
	// A folder is always reported before anything inside it; no other order
	// is promised. If fn returns SkipDir for a folder, Walk does not descend
	// into it. Any other error from fn stops the walk and is returned.
	//
	// An object below dir that cannot be listed or is not a file or folder
	// (an unreadable folder, a symlink, a fifo) does not stop the walk: Walk
	// calls problem with its path and reason, then carries on. A missing dir
	// is an error of kind NotFound.
	Walk(ctx context.Context, dir string, fn func(Entry) error, problem func(path string, err error)) error

	// Stat returns the entry at path.
	Stat(ctx context.Context, path string) (Entry, error)

	// Open returns a reader of length bytes of the file at path starting at
	// offset; length < 0 reads to the end.
	Open(ctx context.Context, path string, offset, length int64) (io.ReadCloser, error)

	// Put stores the content of r as the file at path, creating missing
	// parent folders, replacing an existing file atomically: a reader of
	// path sees the old or the new content, never a partial one, and a
	// failed or cancelled Put leaves the old content (or nothing) at path.
	// Put on an existing folder fails with kind Exists. It returns the new
	// entry as a listing would report it.
	Put(ctx context.Context, path string, r io.Reader, opts PutOptions) (Entry, error)

	// Mkdir creates the folder at path and any missing parents. It succeeds
	// if the folder exists already and fails with kind Exists if a file does.
	Mkdir(ctx context.Context, path string) (Entry, error)

	// Delete removes the file or empty folder at path. A non-empty folder
	// gives kind Precondition. If ifRev is not "", a file is removed only if
	// its Rev still equals ifRev (kind Precondition otherwise). Deleting a
	// missing path gives kind NotFound.
	Delete(ctx context.Context, path string, ifRev string) error
}

// Mover is implemented by connectors that rename or move an object
// server-side, keeping its ID. Move fails with kind Exists if something is
// at to (except when from and to differ only in case), with kind NotFound if
// from is missing; parents of to are created. Moving a folder moves all it
// holds.
type Mover interface {
	Move(ctx context.Context, from, to string) (Entry, error)
}

// Hasher is implemented by connectors that compute (or look up) a content
// hash of a type other than the one their listings carry.
type Hasher interface {
	Hash(ctx context.Context, path string, t HashType) (string, error)
}

// Trasher is implemented by connectors that keep deleted content in a trash
// (the provider's, or a trash folder for local roots) instead of destroying
// it. Trash moves the file at path there; folders are deleted with Delete
// once empty.
type Trasher interface {
	Trash(ctx context.Context, path string) error
}

// Recoverer is implemented by connectors that can leave debris when a process
// is killed mid-write (temporary files, incomplete uploads). Recover removes
// any such debris belonging to path. It is called on start-up for paths with
// an unfinished intent and must be idempotent.
type Recoverer interface {
	Recover(ctx context.Context, path string) error
}

// SkipDir is returned by a Walk callback to skip a folder's contents.
var SkipDir = errSkipDir{}

type errSkipDir struct{}

func (errSkipDir) Error() string { return "skip this folder" }

// Syncer is implemented by connectors that buffer writes. Sync makes every
// Put, Mkdir, Move, Delete and Trash that has returned durable (the local
// connector calls syncfs once instead of an fsync per file). The engine calls
// it before it records completed work in the state DB.
type Syncer interface {
	Sync(ctx context.Context) error
}

// ChangeFeed is implemented by connectors whose provider reports what
// changed since a point in time (Google Drive's changes.list, Dropbox's
// list_folder/continue, Mega's event stream), so that the agent need not
// list the whole remote at every poll. Connectors without one (SFTP, S3,
// WebDAV) are polled by listing.
type ChangeFeed interface {
	// Cursor returns a cursor for now: Changes(cursor) later reports every
	// change made after this call.
	Cursor(ctx context.Context) (string, error)
	// Changes returns the paths that may have changed since cursor (a
	// folder's path means anything below it may have changed) and the
	// cursor to continue from. A cursor the provider no longer knows gives
	// an error wrapping ErrCursorExpired: the caller then lists everything.
	Changes(ctx context.Context, cursor string) (paths []string, next string, err error)
}

// ErrCursorExpired is wrapped by ChangeFeed.Changes when the cursor is too
// old or unknown to the provider.
var ErrCursorExpired = errors.New("change cursor expired")
