package local_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/local"
)

// BenchmarkWalk10k lists a tree of 10,000 small files in 100 folders (warm
// cache) and reports the cost per file: the scan every sync starts with.
func BenchmarkWalk10k(b *testing.B) {
	const dirs, per = 100, 100
	dir := b.TempDir()
	for d := range dirs {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", d))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range per {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%03d.dat", f)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	c, err := local.New(dir, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		files := 0
		err := c.Walk(b.Context(), "", func(e connectors.Entry) error {
			if !e.IsDir() {
				files++
			}
			return nil
		}, func(p string, err error) { b.Errorf("problem at %s: %v", p, err) })
		if err != nil || files != dirs*per {
			b.Fatalf("Walk: %d files, %v", files, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(dirs*per), "ns/file")
}

// BenchmarkHash hashes a 64 MiB file through the connector's Hasher (warm
// cache), for each hash type a provider may ask for; MB/s is the rate.
func BenchmarkHash(b *testing.B) {
	const size = 64 << 20
	dir := b.TempDir()
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	c, err := local.New(dir, local.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range []connectors.HashType{connectors.SHA256, connectors.SHA1, connectors.MD5} {
		b.Run(string(t), func(b *testing.B) {
			h, err := connectors.NewHash(t)
			if err != nil {
				b.Fatal(err)
			}
			h.Write(data)
			want := fmt.Sprintf("%x", h.Sum(nil))
			b.SetBytes(size)
			for b.Loop() {
				got, err := connectors.HashOf(b.Context(), c, "big.bin", t)
				if err != nil || got != want {
					b.Fatalf("HashOf = %s, %v; want %s", got, err, want)
				}
			}
		})
	}
}
