package s3_test

import (
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/s3"
	"github.com/dovetail-sync/dovetail/connectors/s3/s3test"
)

// TestMemoryBounded streams 256 MiB up and down: the heap stays far below
// the file size, bounded by the part buffers (Concurrency × PartSize).
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB; skipped with -short")
	}
	const size = 256 << 20
	srv := s3test.Start(t)
	c, sub := freshAt(t, srv, func(c *s3.Config) { c.PartSize = 8 << 20; c.Concurrency = 2 })
	ctx := t.Context()

	h := sha256.New()
	stop := peakHeap()
	e, err := c.Put(ctx, "huge.bin", io.TeeReader(stream(size, 7), h), connectors.PutOptions{Size: size})
	up := stop()
	if err != nil {
		t.Fatal(err)
	}
	want := h.Sum(nil)
	if st, err := os.Stat(filepath.Join(srv.Dir(), sub, "huge.bin")); err != nil || st.Size() != size || e.Size != size {
		t.Fatalf("stored %v (%v), Put returned size %d; want %d bytes", st, err, e.Size, size)
	}

	stop = peakHeap()
	r, err := c.Open(ctx, "huge.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, n := sum(t, r)
	r.Close()
	down := stop()
	if n != size || string(got) != string(want) {
		t.Errorf("read back %d bytes with another content", n)
	}
	t.Logf("heap peak: upload +%d MiB, download +%d MiB", up>>20, down>>20)
	const limit = 48 << 20 // 2 parts of 8 MiB, plus the SDK's and the runtime's share
	if up > limit || down > limit {
		t.Errorf("heap grew by %d MiB (upload) and %d MiB (download) moving %d MiB; want under %d MiB",
			up>>20, down>>20, size>>20, limit>>20)
	}
}
