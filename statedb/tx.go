package statedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Tx is one write transaction, valid only inside the function passed to
// Update. Its methods prepare each statement once and reuse it for the rest
// of the transaction.
type Tx struct {
	ctx   context.Context
	db    *DB
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	done  bool

	historyAdded bool
}

// errTxDone is returned when a Tx is used after its Update returned.
var errTxDone = errors.New("statedb: Tx used after its Update returned")

// Update runs fn in one write transaction and commits it if fn returns nil;
// if fn returns an error or panics, nothing fn wrote is kept and the error is
// returned (the panic re-raised). Updates are serialised; fn must not call
// Update itself, and reads through db inside fn do not see fn's uncommitted
// writes. Each commit is synced to disk, so batch many changes into one Update.
func (db *DB) Update(ctx context.Context, fn func(tx *Tx) error) (err error) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()

	stx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update state file %s: %w", db.path, err)
	}
	tx := &Tx{ctx: ctx, db: db, tx: stx}
	committed := false
	defer func() {
		tx.done = true
		if !committed {
			_ = stx.Rollback()
		}
	}()

	if err := fn(tx); err != nil {
		return err
	}
	if tx.historyAdded {
		if err := tx.trimHistory(); err != nil {
			return err
		}
	}
	if err := stx.Commit(); err != nil {
		return classify(db.path, "commit to", err)
	}
	committed = true
	return nil
}

// stmt returns the prepared statement for query, preparing it on first use.
func (tx *Tx) stmt(query string) (*sql.Stmt, error) {
	if tx.done {
		return nil, errTxDone
	}
	if s, ok := tx.stmts[query]; ok {
		return s, nil
	}
	s, err := tx.tx.PrepareContext(tx.ctx, query)
	if err != nil {
		return nil, err
	}
	if tx.stmts == nil {
		tx.stmts = make(map[string]*sql.Stmt)
	}
	tx.stmts[query] = s
	return s, nil
}

// exec runs query with args through its cached prepared statement.
func (tx *Tx) exec(query string, args ...any) (sql.Result, error) {
	s, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(tx.ctx, args...)
}

const putBaseSQL = "INSERT OR REPLACE INTO base (" + baseColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

// PutBase inserts e, replacing any entry with the same Path.
func (tx *Tx) PutBase(e Entry) error {
	dir := 0
	if e.Dir {
		dir = 1
	}
	_, err := tx.exec(putBaseSQL, e.Path, dir, e.Size, e.Hash,
		toMtime(e.LocalModTime), e.LocalID, e.LocalRev,
		toMtime(e.RemoteModTime), e.RemoteID, e.RemoteRev)
	if err != nil {
		return fmt.Errorf("put base entry %s: %w", e.Path, err)
	}
	return nil
}

// DeleteBase removes the base entry for path; a missing entry is not an error.
func (tx *Tx) DeleteBase(path string) error {
	if _, err := tx.exec("DELETE FROM base WHERE path = ?", path); err != nil {
		return fmt.Errorf("delete base entry %s: %w", path, err)
	}
	return nil
}

// DeleteBaseUnder removes the entry dir and every entry below it, with the
// same matching as BaseUnder; dir "" empties the whole base tree.
func (tx *Tx) DeleteBaseUnder(dir string) error {
	dir = cleanDir(dir)
	var err error
	if dir == "" {
		_, err = tx.exec("DELETE FROM base")
	} else {
		self, lo, hi := subtreeBounds(dir)
		_, err = tx.exec("DELETE FROM base WHERE path >= ?1 AND path < ?3 AND (path = ?1 OR path >= ?2)", self, lo, hi)
	}
	if err != nil {
		return fmt.Errorf("delete base entries under %q: %w", dir, err)
	}
	return nil
}

// SetMeta stores value under key, replacing any previous value.
func (tx *Tx) SetMeta(key, value string) error {
	if _, err := tx.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, value); err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}

// AddIntent records in (its ID is ignored) and returns the new intent's ID,
// which is never reused for a later intent.
func (tx *Tx) AddIntent(in Intent) (int64, error) {
	res, err := tx.exec("INSERT INTO intents (time, op, side, path, dest) VALUES (?, ?, ?, ?, ?)",
		toNanos(in.Time), in.Op, in.Side, in.Path, in.Dest)
	if err != nil {
		return 0, fmt.Errorf("add intent %s %s: %w", in.Op, in.Path, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add intent %s %s: %w", in.Op, in.Path, err)
	}
	return id, nil
}

// DoneIntent removes the intent id. It is idempotent: an id already done is
// not an error, so recovery after a crash can replay it safely.
func (tx *Tx) DoneIntent(id int64) error {
	if _, err := tx.exec("DELETE FROM intents WHERE id = ?", id); err != nil {
		return fmt.Errorf("mark intent %d done: %w", id, err)
	}
	return nil
}

// AddHistory appends h (its ID is ignored). When the transaction commits,
// history is trimmed to the newest DB.HistoryLimit records.
func (tx *Tx) AddHistory(h HistoryRecord) error {
	_, err := tx.exec("INSERT INTO history (time, op, side, path, dest, size, err) VALUES (?, ?, ?, ?, ?, ?, ?)",
		toNanos(h.Time), h.Op, h.Side, h.Path, h.Dest, h.Size, h.Err)
	if err != nil {
		return fmt.Errorf("add history %s %s: %w", h.Op, h.Path, err)
	}
	tx.historyAdded = true
	return nil
}

// trimHistory keeps the newest HistoryLimit rows. History ids are contiguous
// (AUTOINCREMENT, and only this trim deletes, always from the oldest end), so
// one range delete on the primary key does it, whatever the table size.
func (tx *Tx) trimHistory() error {
	limit := tx.db.HistoryLimit
	if limit <= 0 {
		return nil
	}
	_, err := tx.exec("DELETE FROM history WHERE id <= (SELECT max(id) FROM history) - ?", limit)
	if err != nil {
		return fmt.Errorf("trim history: %w", err)
	}
	return nil
}

// AddConflict records c (its ID is ignored) and returns the new conflict's ID.
// A non-zero ResolvedAt records it as already resolved.
func (tx *Tx) AddConflict(c Conflict) (int64, error) {
	res, err := tx.exec("INSERT INTO conflicts (time, path, revision_path, kept_side, revision_side, reason, resolved_at)"+
		" VALUES (?, ?, ?, ?, ?, ?, ?)",
		toNanos(c.Time), c.Path, c.RevisionPath, c.KeptSide, c.RevisionSide, c.Reason, toNanos(c.ResolvedAt))
	if err != nil {
		return 0, fmt.Errorf("add conflict %s: %w", c.Path, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("add conflict %s: %w", c.Path, err)
	}
	return id, nil
}

// ResolveConflict marks conflict id resolved at the given time. Resolving an
// already resolved conflict keeps its first resolution time and is not an
// error; an unknown id fails with [ErrNotFound].
func (tx *Tx) ResolveConflict(id int64, at time.Time) error {
	if at.IsZero() {
		return fmt.Errorf("resolve conflict %d: the resolution time is zero", id)
	}
	if _, err := tx.exec("UPDATE conflicts SET resolved_at = ? WHERE id = ? AND resolved_at = 0", toNanos(at), id); err != nil {
		return fmt.Errorf("resolve conflict %d: %w", id, err)
	}
	s, err := tx.stmt("SELECT 1 FROM conflicts WHERE id = ?")
	if err != nil {
		return fmt.Errorf("resolve conflict %d: %w", id, err)
	}
	var one int
	err = s.QueryRowContext(tx.ctx, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("resolve conflict %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("resolve conflict %d: %w", id, err)
	}
	return nil
}
