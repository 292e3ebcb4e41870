package resilient

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/webdav"
	"github.com/dovetail-sync/dovetail/connectors/webdav/webdavtest"
	"github.com/dovetail-sync/dovetail/internal/faultproxy"
)

// Against a real network connector behind a proxy that cuts connections: a
// download resumes byte-exact, an upload is retried once the server is
// reachable again.
func TestWebDAVThroughFaults(t *testing.T) {
	srv := webdavtest.StartGo(t)
	data := randomData(2 << 20)
	if err := os.WriteFile(filepath.Join(srv.Dir(), "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	proxy, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	proxy.CutAfter(300 << 10)
	dav, err := webdav.New(ctx, srv.ConfigAt(proxy.Addr(), ""))
	if err != nil {
		t.Fatal(err)
	}
	var retries atomic.Int64
	c := Wrap(dav, Options{Retries: 3, Sleep: func(ctx context.Context, d time.Duration) error {
		retries.Add(1)
		proxy.Refuse(false) // the server is back
		return ctx.Err()
	}})

	r, err := c.Open(ctx, "big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes of %d (equal: %v): %v", len(got), len(data), bytes.Equal(got, data), err)
	}
	if proxy.Cuts() == 0 || retries.Load() == 0 {
		t.Fatalf("%d cuts, %d retries: the test did not test resuming", proxy.Cuts(), retries.Load())
	}

	proxy.CutAfter(0)
	proxy.Refuse(true)
	proxy.DropAll()
	before := retries.Load()
	small := data[:100<<10]
	if _, err := c.Put(ctx, "up/small.bin", bytes.NewReader(small), connectors.PutOptions{Size: int64(len(small))}); err != nil {
		t.Fatalf("Put after the server came back: %v", err)
	}
	if retries.Load() == before {
		t.Error("Put succeeded without a retry although the server refused connections")
	}
	if got, err := os.ReadFile(filepath.Join(srv.Dir(), "up", "small.bin")); err != nil || !bytes.Equal(got, small) {
		t.Errorf("server holds %d bytes (%v), want %d", len(got), err, len(small))
	}
}
