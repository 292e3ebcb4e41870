//go:build linux

package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWatch100k measures New on a tree of 100,000 files in 1,000
// folders (one walk, one ReadDir and one watch per folder), and reports the
// CPU the idle watcher uses over a second.
func BenchmarkWatch100k(b *testing.B) {
	root := b.TempDir()
	for d := range 1000 {
		dir := filepath.Join(root, fmt.Sprintf("d%02d/e%03d", d%10, d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		w, err := New(root, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := len(w.fsn.WatchList()); n != 1011 {
			b.Fatalf("%d watches, want 1011", n)
		}
		cpu := func() time.Duration {
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		before := cpu()
		time.Sleep(time.Second)
		b.ReportMetric(float64((cpu() - before).Microseconds()), "idle-cpu-µs/s")
		w.Close()
		b.StartTimer()
	}
}
