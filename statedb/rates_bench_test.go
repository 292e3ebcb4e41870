package statedb

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// perSecond reports n operations per loop iteration as a rate.
func perSecond(b *testing.B, n int, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/s, unit)
	}
}

// BenchmarkBaseRates reports statedb's reads and writes per second on a base
// tree of 100,000 rows: the full load a one-shot run starts with, the
// batched writes it ends with, and the narrow reads and journal writes of
// the continuous agent (one path, one folder, a burst of dirty paths).
func BenchmarkBaseRates(b *testing.B) {
	const rows = 100000
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	db, _ := openTemp(b)
	update(b, db, func(tx *Tx) error {
		for i := 0; i < rows; i++ {
			if err := tx.PutBase(benchEntry(i, now)); err != nil {
				return err
			}
		}
		return nil
	})

	b.Run("LoadBase-100k", func(b *testing.B) {
		for b.Loop() {
			n := 0
			if err := db.LoadBase(ctx, func(Entry) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != rows {
				b.Fatalf("loaded %d rows, want %d", n, rows)
			}
		}
		perSecond(b, rows, "rows/s")
	})

	b.Run("PutBase-batch1000", func(b *testing.B) {
		const batch = 1000
		next := rows // new rows: the table keeps growing past 100k
		for b.Loop() {
			if err := db.Update(ctx, func(tx *Tx) error {
				for j := 0; j < batch; j++ {
					if err := tx.PutBase(benchEntry(next, now)); err != nil {
						return err
					}
					next++
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b, batch, "rows/s")
	})

	b.Run("BaseEntry", func(b *testing.B) {
		i := 0
		for b.Loop() {
			want := benchEntry(i*7919%rows, now).Path
			e, ok, err := db.BaseEntry(ctx, want)
			if err != nil || !ok || e.Path != want {
				b.Fatalf("BaseEntry(%q) = %q, %v, %v", want, e.Path, ok, err)
			}
			i++
		}
		perSecond(b, 1, "lookups/s")
	})

	b.Run("BaseUnder-folder", func(b *testing.B) {
		// benchEntry spreads rows over 25 years x 12 months: one month's
		// folder holds 1/300 of them, what an agent cycle re-reads when a
		// change lands in it.
		n := 0
		for b.Loop() {
			n = 0
			if err := db.BaseUnder(ctx, "photos/2003/04", func(Entry) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n < rows/300 {
				b.Fatalf("BaseUnder read %d rows, want at least %d", n, rows/300)
			}
		}
		perSecond(b, n, "rows/s")
	})

	b.Run("MarkDirty-burst100", func(b *testing.B) {
		const burst = 100
		ds := make([]Dirty, burst)
		for b.Loop() {
			for j := range ds {
				ds[j] = Dirty{Side: "local", Path: fmt.Sprintf("photos/2003/04/new-%03d.jpg", j), Time: time.Now()}
			}
			if err := db.Update(ctx, func(tx *Tx) error {
				for _, d := range ds {
					if err := tx.MarkDirty(d); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if err := db.Update(ctx, func(tx *Tx) error { return tx.ClearDirty(ds) }); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b, burst, "paths/s")
	})
}
