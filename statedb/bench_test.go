package statedb

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// benchEntry is a realistic base row: a nested path, a hash, both sides' ids.
func benchEntry(i int, now time.Time) Entry {
	return Entry{
		Path:          fmt.Sprintf("photos/%04d/%02d/IMG_%07d.jpg", 2000+i%25, i%12+1, i),
		Size:          int64(1000 + i),
		Hash:          fmt.Sprintf("%032x", i*7919),
		LocalModTime:  now.Add(time.Duration(i) * time.Second),
		LocalID:       "2049:" + strconv.Itoa(1000000+i),
		RemoteModTime: now.Add(time.Duration(i) * time.Second),
		RemoteID:      "id:" + strconv.Itoa(i*31),
		RemoteRev:     strconv.FormatInt(int64(i)*977, 16),
	}
}

func BenchmarkLoadBase(b *testing.B) {
	const rows = 100000
	db, _ := openTemp(b)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	update(b, db, func(tx *Tx) error {
		for i := 0; i < rows; i++ {
			if err := tx.PutBase(benchEntry(i, now)); err != nil {
				return err
			}
		}
		return nil
	})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := db.LoadBase(ctx, func(Entry) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != rows {
			b.Fatalf("loaded %d rows, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
}

func BenchmarkPutBaseBatch(b *testing.B) {
	const batch = 1000
	db, _ := openTemp(b)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	next := 0
	b.ReportAllocs()
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
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/row")
}
