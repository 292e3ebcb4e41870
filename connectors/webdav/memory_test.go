package webdav_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/webdav/webdavtest"
)

// patternReader yields n bytes of a repeating, position-dependent pattern
// without holding them.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(p)), r.n-r.off))
	for i := range k {
		x := uint64(r.off + int64(i))
		p[i] = byte(x ^ x>>8 ^ x>>16 ^ x>>24)
	}
	r.off += int64(k)
	return k, nil
}

// peakHeap samples the heap in use until stop is called, and returns the
// highest value seen above the level at the start.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// TestLargeFileMemory moves 256 MiB up and down through Apache and checks
// that the connector streams: the heap never grows by more than a small
// fraction of the file.
func TestLargeFileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 256 MiB; skipped with -short")
	}
	const size = 256 << 20
	const limit = 32 << 20
	srv := webdavtest.Start(t)
	c := connect(t, srv.Config("big"))
	ctx := t.Context()

	want := sha256.New()
	io.Copy(want, &patternReader{n: size})

	stop := peakHeap()
	e, err := c.Put(ctx, "dir/large.bin", &patternReader{n: size}, connectors.PutOptions{Size: size})
	up := stop()
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if e.Size != size {
		t.Errorf("Put returned size %d", e.Size)
	}
	if st, err := os.Stat(filepath.Join(srv.Dir(), "big", "dir", "large.bin")); err != nil || st.Size() != size {
		t.Fatalf("file on disk: %v, %v", st, err)
	}

	stop = peakHeap()
	r, err := c.Open(ctx, "dir/large.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, r)
	r.Close()
	down := stop()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("downloaded content differs from what was uploaded")
	}
	t.Logf("heap growth: upload %d KiB, download %d KiB", up>>10, down>>10)
	if up > limit || down > limit {
		t.Errorf("heap grew by %d MiB (upload) and %d MiB (download) for a %d MiB file; want under %d MiB", up>>20, down>>20, size>>20, limit>>20)
	}
}
