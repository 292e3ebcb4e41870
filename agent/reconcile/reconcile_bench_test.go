package reconcile_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/agent/reconcile"
	"github.com/dovetail-sync/dovetail/connectors"
)

// benchTree builds the input of a synced pair of files in folders (100
// files per folder): base, local and remote agree, with each side's own ids
// and revs as a real listing has them. changed files (spread evenly) then
// get a new size, time and rev on the local side.
func benchTree(files, changed int) reconcile.Input {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	in := reconcile.Input{
		Base:   make(map[string]reconcile.Base, files+files/100),
		Local:  make(map[string]connectors.Entry, files+files/100),
		Remote: make(map[string]connectors.Entry, files+files/100),
		Now:    t0.Add(time.Hour),
	}
	add := func(path string, kind connectors.Kind, size int64, mt time.Time, i int) {
		lid, rid := fmt.Sprintf("2049:%d", 1000000+i), fmt.Sprintf("2050:%d", 2000000+i)
		in.Base[path] = reconcile.Base{
			Path: path, Dir: kind == connectors.Dir, Size: size,
			Meta: [2]reconcile.Meta{
				{ModTime: mt, ID: lid, Rev: "l" + lid},
				{ModTime: mt, ID: rid, Rev: "r" + rid},
			},
		}
		in.Local[path] = connectors.Entry{Path: path, Kind: kind, Size: size, ModTime: mt, ID: lid, Rev: "l" + lid}
		in.Remote[path] = connectors.Entry{Path: path, Kind: kind, Size: size, ModTime: mt, ID: rid, Rev: "r" + rid}
	}
	for d := 0; d < (files+99)/100; d++ {
		add(fmt.Sprintf("d%04d", d), connectors.Dir, 0, t0, files+d)
	}
	for i := 0; i < files; i++ {
		add(fmt.Sprintf("d%04d/f%07d.dat", i/100, i), connectors.File, int64(1024+i%7168), t0.Add(time.Duration(i)*time.Second), i)
	}
	for j := 0; j < changed; j++ {
		i := j * (files / changed)
		p := fmt.Sprintf("d%04d/f%07d.dat", i/100, i)
		e := in.Local[p]
		e.Size++
		e.ModTime = e.ModTime.Add(time.Hour)
		e.Rev += "+"
		in.Local[p] = e
	}
	return in
}

// BenchmarkReconcile100k plans a pair of 100,000 files in 1,000 folders
// with nothing changed and with 1% of the files changed on one side, and
// reports the cost per path.
func BenchmarkReconcile100k(b *testing.B) {
	const files = 100000
	for _, bc := range []struct {
		name    string
		changed int
	}{
		{"no-change", 0},
		{"1pct-changed", files / 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := benchTree(files, bc.changed)
			paths := len(in.Base)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				plan := reconcile.Reconcile(in)
				copies := 0
				for _, a := range plan.Actions {
					if a.Op == reconcile.OpCopy {
						copies++
					}
				}
				if copies != bc.changed || len(plan.Conflicts) != 0 {
					b.Fatalf("plan copies %d files with %d conflicts, want %d and none", copies, len(plan.Conflicts), bc.changed)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(paths), "ns/path")
		})
	}
}
