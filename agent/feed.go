package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/statedb"
)

// cursorKey is the state DB meta key holding the remote change cursor.
const cursorKey = "remote_cursor"

// feedSource turns a connector's change feed into a Source: every poll
// period it asks for the changes since its cursor. The cursor is stored in
// the state DB only once the changes it covers are in the journal (on the
// next call of Next), so a crash in between replays them rather than
// losing them.
type feedSource struct {
	feed    connectors.ChangeFeed
	db      *statedb.DB
	poll    time.Duration
	log     *slog.Logger
	cursor  string
	pending string // cursor to store once the last batch is recorded
}

// FeedSource returns a Source that polls feed every poll period. It takes
// the cursor stored in db, or a new one now (before the task's first full
// run, so nothing made meanwhile is missed).
func FeedSource(ctx context.Context, feed connectors.ChangeFeed, db *statedb.DB, poll time.Duration, log *slog.Logger) (Source, error) {
	cur, ok, err := db.Meta(ctx, cursorKey)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &feedSource{feed: feed, db: db, poll: poll, log: log, cursor: cur}
	if !ok || cur == "" {
		if f.cursor, err = feed.Cursor(ctx); err != nil {
			return nil, fmt.Errorf("start following the remote's changes: %w", err)
		}
		if err := f.save(ctx, f.cursor); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *feedSource) save(ctx context.Context, cursor string) error {
	return f.db.Update(ctx, func(tx *statedb.Tx) error { return tx.SetMeta(cursorKey, cursor) })
}

func (f *feedSource) Next(ctx context.Context) (Change, error) {
	if f.pending != "" {
		if err := f.save(ctx, f.pending); err != nil {
			return Change{}, err
		}
		f.cursor, f.pending = f.pending, ""
	}
	timer := time.NewTimer(f.poll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return Change{}, ctx.Err()
		case <-timer.C:
		}
		paths, next, err := f.feed.Changes(ctx, f.cursor)
		switch {
		case errors.Is(err, connectors.ErrCursorExpired):
			// Take a new cursor first, then list everything: a change made
			// in between is in both.
			cur, cerr := f.feed.Cursor(ctx)
			if cerr != nil {
				return Change{}, cerr
			}
			f.pending = cur
			return Change{Rescan: []string{""}, Reason: "the remote's change cursor expired"}, nil
		case err != nil:
			if ctx.Err() != nil {
				return Change{}, ctx.Err()
			}
			// A failed poll is tried again at the next period.
			f.log.Warn("asking the remote for changes failed; trying again", "in", f.poll.String(), "err", err)
			timer.Reset(f.poll)
			continue
		}
		f.pending = next
		if len(paths) == 0 {
			if next != f.cursor {
				if err := f.save(ctx, next); err != nil {
					return Change{}, err
				}
				f.cursor, f.pending = next, ""
			}
			timer.Reset(f.poll)
			continue
		}
		return Change{Paths: paths}, nil
	}
}

func (f *feedSource) Expect(string, int64, time.Time) {}

func (f *feedSource) Close() error { return nil }
