package statedb

import (
	"context"
	"time"
)

// Dirty is a path the agent must reconcile: a path a watcher or poller saw
// change, or with Subtree set, a folder whose whole contents must be listed
// again (a new folder, a watcher overflow; "" is the whole tree).
type Dirty struct {
	Side    string // "local" or "remote"
	Path    string
	Subtree bool
	Time    time.Time // when it was first seen
}

// MarkDirty records a path as dirty. A path already in the journal takes
// the later time (so that a run that started before this mark does not
// clear it); Subtree, once set, stays set until the row is cleared.
func (tx *Tx) MarkDirty(d Dirty) error {
	_, err := tx.exec(`INSERT INTO journal(side, path, subtree, time) VALUES(?, ?, ?, ?)
		ON CONFLICT(side, path) DO UPDATE SET subtree = max(subtree, excluded.subtree), time = max(time, excluded.time)`,
		d.Side, d.Path, boolInt(d.Subtree), toNanos(d.Time))
	return err
}

// ClearDirty removes the journal rows a finished run covered: each of ds as
// Journal returned it. A row marked again since (a later time) stays.
func (tx *Tx) ClearDirty(ds []Dirty) error {
	for _, d := range ds {
		if _, err := tx.exec(`DELETE FROM journal WHERE side = ? AND path = ? AND time <= ?`,
			d.Side, d.Path, toNanos(d.Time)); err != nil {
			return err
		}
	}
	return nil
}

// Journal returns every dirty path, oldest first.
//
// Journal reads outside any write transaction.
func (db *DB) Journal(ctx context.Context) ([]Dirty, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT side, path, subtree, time FROM journal ORDER BY time, side, path`)
	if err != nil {
		return nil, classify(db.path, "read the journal of", err)
	}
	defer rows.Close()
	var out []Dirty
	for rows.Next() {
		var d Dirty
		var sub int
		var t int64
		if err := rows.Scan(&d.Side, &d.Path, &sub, &t); err != nil {
			return nil, classify(db.path, "read the journal of", err)
		}
		d.Subtree, d.Time = sub != 0, fromNanos(t)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(db.path, "read the journal of", err)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
