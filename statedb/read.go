package statedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Entry is one row of the base tree: what both sides agreed on after the last
// successful sync of Path.
type Entry struct {
	// Path is the relative slash-separated path, unique in the tree.
	Path string
	// Dir reports whether the entry is a folder.
	Dir bool
	// Size is the file size in bytes.
	Size int64
	// Hash is the content hash of the synced content, "" when unknown; the
	// caller records which hash type it is in meta.
	Hash string
	// LocalModTime is the local modification time; the zero time means unknown.
	LocalModTime time.Time
	// LocalID identifies the local file ("dev:ino") for rename detection.
	LocalID string
	// LocalRev is an optional local revision marker.
	LocalRev string
	// RemoteModTime is the provider's modification time; zero means unknown.
	RemoteModTime time.Time
	// RemoteID is the provider's file id, used for rename detection.
	RemoteID string
	// RemoteRev is the provider's revision (Dropbox rev, ETag ...).
	RemoteRev string
}

// Intent is an action recorded before it is carried out, so a crash in the
// middle can be resolved on restart.
type Intent struct {
	// ID is assigned by AddIntent.
	ID int64
	// Time is when the intent was recorded.
	Time time.Time
	// Op names the action, e.g. "delete" or "move".
	Op string
	// Side is the side the action is applied to, e.g. "local" or "remote".
	Side string
	// Path is the path the action applies to.
	Path string
	// Dest is the destination of a move or copy, "" otherwise.
	Dest string
}

// HistoryRecord is one line of the bounded log of what Dovetail did.
type HistoryRecord struct {
	// ID is assigned on insert and grows with every record.
	ID int64
	// Time is when the action finished.
	Time time.Time
	// Op names the action, e.g. "upload".
	Op string
	// Side is the side that was changed.
	Side string
	// Path is the path acted on.
	Path string
	// Dest is the destination of a move, "" otherwise.
	Dest string
	// Size is the number of bytes transferred or affected.
	Size int64
	// Err is the failure message, "" when the action succeeded.
	Err string
}

// Conflict records a conflict revision Dovetail created.
type Conflict struct {
	// ID is assigned by AddConflict.
	ID int64
	// Time is when the conflict was detected.
	Time time.Time
	// Path is the path whose two versions conflicted.
	Path string
	// RevisionPath is where the other version was kept.
	RevisionPath string
	// KeptSide is the side whose version stayed at Path.
	KeptSide string
	// RevisionSide is the side whose version went to RevisionPath.
	RevisionSide string
	// Reason says why it was a conflict, for the user.
	Reason string
	// ResolvedAt is when the user resolved it; the zero time means open.
	ResolvedAt time.Time
}

// toNanos stores the zero time as 0, so it round-trips (UnixNano of the
// zero time is out of int64 range).
func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of toNanos. An instant of exactly 1970-01-01
// 00:00:00 UTC therefore reads back as the zero time.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// noMtime stores an unknown modification time in the base. Modification
// times are kept apart from the other times because a file may really have
// been modified at the instant 0 (1970-01-01, the time tools such as Nix
// and reproducible builds set): that instant is stored as 0, as any other
// instant. Base rows written before this distinction hold 0 for both, and
// read back as the epoch, which is what a file time of 0 is; only folders,
// whose times are never compared, had unknown ones.
const noMtime = math.MinInt64

// toMtime stores a modification time of the base.
func toMtime(t time.Time) int64 {
	if t.IsZero() {
		return noMtime
	}
	return t.UnixNano()
}

// fromMtime is the inverse of toMtime.
func fromMtime(n int64) time.Time {
	if n == noMtime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

const baseColumns = "path, dir, size, hash, local_mtime, local_id, local_rev, remote_mtime, remote_id, remote_rev"

// subtreeBounds returns the key range holding dir and everything below it:
// [dir, dir+"0") in byte order, since '0' is the byte after '/'. The range also
// holds siblings such as "dir.txt" or "dir b", which the query filters out
// with path = dir OR path >= dir+"/".
func subtreeBounds(dir string) (self, childLo, hi string) {
	return dir, dir + "/", dir + "0"
}

// cleanDir turns "a/b/" into "a/b"; "" and "/" mean the root.
func cleanDir(dir string) string {
	return strings.TrimRight(dir, "/")
}

// LoadBase calls fn for every base entry in byte order of Path. It stops and
// returns fn's error if fn fails. fn may read the database and call Update;
// the rows it sees are a snapshot taken when LoadBase started.
func (db *DB) LoadBase(ctx context.Context, fn func(Entry) error) error {
	return db.scanBase(ctx, "SELECT "+baseColumns+" FROM base ORDER BY path", fn)
}

// BaseUnder calls fn, in byte order of Path, for the entry dir itself and
// every entry below it; "a" matches "a" and "a/b" but not "ab" or "a.txt".
// dir "" means the whole tree. It stops and returns fn's error if fn fails.
func (db *DB) BaseUnder(ctx context.Context, dir string, fn func(Entry) error) error {
	dir = cleanDir(dir)
	if dir == "" {
		return db.LoadBase(ctx, fn)
	}
	self, lo, hi := subtreeBounds(dir)
	return db.scanBase(ctx, "SELECT "+baseColumns+" FROM base"+
		" WHERE path >= ?1 AND path < ?3 AND (path = ?1 OR path >= ?2) ORDER BY path", fn, self, lo, hi)
}

// scanBase streams query's rows into fn, reusing the scan targets so the
// only per-row allocations are the strings themselves.
func (db *DB) scanBase(ctx context.Context, query string, fn func(Entry) error, args ...any) error {
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read base tree from %s: %w", db.path, err)
	}
	defer rows.Close()
	var (
		e              Entry
		dir            int64
		lmtime, rmtime int64
	)
	dest := []any{&e.Path, &dir, &e.Size, &e.Hash, &lmtime, &e.LocalID, &e.LocalRev, &rmtime, &e.RemoteID, &e.RemoteRev}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("read base tree from %s: %w", db.path, err)
		}
		e.Dir = dir != 0
		e.LocalModTime = fromMtime(lmtime)
		e.RemoteModTime = fromMtime(rmtime)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read base tree from %s: %w", db.path, err)
	}
	return nil
}

// BaseEntry returns the base entry for path; ok is false when there is none.
func (db *DB) BaseEntry(ctx context.Context, path string) (e Entry, ok bool, err error) {
	err = db.scanBase(ctx, "SELECT "+baseColumns+" FROM base WHERE path = ?", func(got Entry) error {
		e, ok = got, true
		return nil
	}, path)
	return e, ok, err
}

// BaseCount returns how many files and folders the base tree holds.
func (db *DB) BaseCount(ctx context.Context) (files, dirs int, err error) {
	err = db.sql.QueryRowContext(ctx,
		"SELECT coalesce(sum(dir = 0), 0), coalesce(sum(dir != 0), 0) FROM base").Scan(&files, &dirs)
	if err != nil {
		return 0, 0, fmt.Errorf("count base tree in %s: %w", db.path, err)
	}
	return files, dirs, nil
}

// Meta returns the value stored under key; ok is false when there is none.
func (db *DB) Meta(ctx context.Context, key string) (value string, ok bool, err error) {
	err = db.sql.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read meta %q from %s: %w", key, db.path, err)
	}
	return value, true, nil
}

// Intents returns the intents not yet marked done, oldest first.
func (db *DB) Intents(ctx context.Context) ([]Intent, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT id, time, op, side, path, dest FROM intents ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read intents from %s: %w", db.path, err)
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		var t int64
		if err := rows.Scan(&in.ID, &t, &in.Op, &in.Side, &in.Path, &in.Dest); err != nil {
			return nil, fmt.Errorf("read intents from %s: %w", db.path, err)
		}
		in.Time = fromNanos(t)
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read intents from %s: %w", db.path, err)
	}
	return out, nil
}

// History returns up to limit history records, newest first. A limit of zero
// or less returns all that are kept.
func (db *DB) History(ctx context.Context, limit int) ([]HistoryRecord, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.sql.QueryContext(ctx,
		"SELECT id, time, op, side, path, dest, size, err FROM history ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("read history from %s: %w", db.path, err)
	}
	defer rows.Close()
	var out []HistoryRecord
	for rows.Next() {
		var h HistoryRecord
		var t int64
		if err := rows.Scan(&h.ID, &t, &h.Op, &h.Side, &h.Path, &h.Dest, &h.Size, &h.Err); err != nil {
			return nil, fmt.Errorf("read history from %s: %w", db.path, err)
		}
		h.Time = fromNanos(t)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read history from %s: %w", db.path, err)
	}
	return out, nil
}

// Conflicts returns the recorded conflicts, oldest first; with openOnly, only
// those not yet resolved.
func (db *DB) Conflicts(ctx context.Context, openOnly bool) ([]Conflict, error) {
	q := "SELECT id, time, path, revision_path, kept_side, revision_side, reason, resolved_at FROM conflicts"
	if openOnly {
		q += " WHERE resolved_at = 0"
	}
	rows, err := db.sql.QueryContext(ctx, q+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read conflicts from %s: %w", db.path, err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var c Conflict
		var t, r int64
		if err := rows.Scan(&c.ID, &t, &c.Path, &c.RevisionPath, &c.KeptSide, &c.RevisionSide, &c.Reason, &r); err != nil {
			return nil, fmt.Errorf("read conflicts from %s: %w", db.path, err)
		}
		c.Time, c.ResolvedAt = fromNanos(t), fromNanos(r)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read conflicts from %s: %w", db.path, err)
	}
	return out, nil
}
