package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/dovetail-sync/dovetail/agent/watch"
	"github.com/dovetail-sync/dovetail/connectors"
)

// SkipInternal leaves out of watching what Dovetail itself keeps in a
// folder: the .dovetail folder (trash) at its root and temporary files of
// writes in progress.
func SkipInternal(rel string, isDir bool) bool {
	if rel == ".dovetail" || strings.HasPrefix(rel, ".dovetail/") {
		return true
	}
	return strings.HasPrefix(connectors.Base(rel), ".dovetail.tmp.")
}

// WatchFolder watches a local folder recursively and reports its changes
// as a Source.
func WatchFolder(root string, skip func(rel string, isDir bool) bool, log *slog.Logger) (Source, error) {
	w, err := watch.New(root, watch.Options{Skip: skip, Logger: log})
	if err != nil {
		return nil, err
	}
	return watchSource{w}, nil
}

type watchSource struct{ w *watch.Watcher }

func (s watchSource) Next(ctx context.Context) (Change, error) {
	select {
	case b, ok := <-s.w.Batches():
		if !ok {
			if err := s.w.Err(); err != nil {
				return Change{}, err
			}
			return Change{}, errors.New("the watcher stopped")
		}
		return Change{Paths: b.Paths, Rescan: b.Rescan, Reason: b.Reason}, nil
	case <-ctx.Done():
		return Change{}, ctx.Err()
	}
}

func (s watchSource) Expect(rel string, size int64, mtime time.Time) { s.w.Expect(rel, size, mtime) }

func (s watchSource) Close() error { return s.w.Close() }
