package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/engine"
	"github.com/dovetail-sync/dovetail/connectors/local"
	"github.com/dovetail-sync/dovetail/statedb"
)

// syncedPair makes two local folders of files small files in folders of
// 100, syncs them once, and returns the pair (as the CLI builds it: local
// connectors with a trash folder, a state file) and the first folder's root.
func syncedPair(b *testing.B, files int) (*engine.Pair, string) {
	b.Helper()
	dir := b.TempDir()
	a, bb := filepath.Join(dir, "A"), filepath.Join(dir, "B")
	for i := 0; i < files; i++ {
		sub := filepath.Join(a, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%05d.dat", i)), fmt.Appendf(nil, "file %d\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Mkdir(bb, 0o755); err != nil {
		b.Fatal(err)
	}
	conn := func(root string) *local.Conn {
		c, err := local.New(root, local.Options{TrashDir: filepath.Join(root, ".dovetail", "trash")})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	db, err := statedb.Open(context.Background(), filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	p := &engine.Pair{Local: conn(a), Remote: conn(bb), LocalName: a, RemoteName: bb, DB: db}
	rep, err := p.Run(context.Background())
	if err != nil || rep.Failed() || len(rep.Outcomes) < files {
		b.Fatalf("initial sync: %d outcomes, %v, problems %v", len(rep.Outcomes), err, rep.Problems)
	}
	return p, a
}

// BenchmarkRunNoChange5k is a one-shot resync of a synced pair of 5,000
// files with nothing changed (list both sides, load the base, plan nothing),
// per path.
func BenchmarkRunNoChange5k(b *testing.B) {
	const files = 5000
	p, _ := syncedPair(b, files)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := p.Run(b.Context())
		if err != nil || rep.Failed() || len(rep.Plan.Actions) != 0 {
			b.Fatalf("no-change run: %d actions, %v", len(rep.Plan.Actions), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/files, "ns/path")
}

// BenchmarkRunScopeOneChange5k is the agent's cycle after a watcher saw one
// file change in a synced pair of 5,000 files: a scoped run that lists and
// copies only that file. Its cost must not grow with the tree.
func BenchmarkRunScopeOneChange5k(b *testing.B) {
	const files = 5000
	p, a := syncedPair(b, files)
	rel := "d042/f04242.dat"
	mt := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		mt = mt.Add(time.Second)
		if err := os.WriteFile(filepath.Join(a, rel), fmt.Appendf(nil, "change %d\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(a, rel), mt, mt); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		rep, err := p.RunScope(b.Context(), []engine.Scope{{Path: rel}})
		if err != nil || rep.Failed() || len(rep.Outcomes) != 1 {
			b.Fatalf("scoped run: %d outcomes, %v", len(rep.Outcomes), err)
		}
	}
}
