package local_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/local"
)

var (
	tree100kOnce sync.Once
	tree100k     string
	tree100kErr  error
)

// makeTree100k creates 100,000 small files in 1,000 folders once per test
// binary run; TestMain removes it.
func makeTree100k() (string, error) {
	tree100kOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dovetail-walk100k-")
		if err != nil {
			tree100kErr = err
			return
		}
		tree100k = dir
		for d := range 1000 {
			sub := filepath.Join(dir, fmt.Sprintf("dir%03d", d/100), fmt.Sprintf("sub%03d", d))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				tree100kErr = err
				return
			}
			for f := range 100 {
				if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%03d.txt", f)), []byte("x"), 0o644); err != nil {
					tree100kErr = err
					return
				}
			}
		}
	})
	return tree100k, tree100kErr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tree100k != "" {
		os.RemoveAll(tree100k)
	}
	os.Exit(code)
}

// BenchmarkWalk100k walks 100,000 files in 1,000 folders (warm cache) and
// reports the time relative to `find DIR -type f | wc -l` as x-find.
func BenchmarkWalk100k(b *testing.B) {
	dir, err := makeTree100k()
	if err != nil {
		b.Fatal(err)
	}
	c, err := local.New(dir, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	findTime := timeFind(b, "find "+dir+" -type f | wc -l")
	// find that also stats every file, as Walk must for size, time and inode.
	findStat := timeFind(b, "find "+dir+" -type f -printf '%i %s %T@\\n' | wc -l")
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		files := 0
		err := c.Walk(b.Context(), "", func(e connectors.Entry) error {
			if !e.IsDir() {
				files++
			}
			return nil
		}, func(p string, err error) { b.Errorf("problem at %s: %v", p, err) })
		if err != nil || files != 100000 {
			b.Fatalf("Walk: %d files, %v", files, err)
		}
	}
	per := time.Since(start) / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(findTime), "x-find")
	b.Logf("Walk %v per run; find -type f | wc -l %v (best of 3): %.2fx; find -printf inode,size,mtime %v: %.2fx",
		per, findTime, float64(per)/float64(findTime), findStat, float64(per)/float64(findStat))
}

func timeFind(b *testing.B, script string) time.Duration {
	b.Helper()
	best := time.Duration(1<<63 - 1)
	for range 3 {
		start := time.Now()
		out, err := exec.Command("sh", "-c", script).Output()
		d := time.Since(start)
		if err != nil || strings.TrimSpace(string(out)) != "100000" {
			b.Fatalf("find: %q, %v", out, err)
		}
		best = min(best, d)
	}
	return best
}
