package s3_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/s3"
	"github.com/dovetail-sync/dovetail/connectors/s3/s3test"
	"github.com/dovetail-sync/dovetail/internal/faultproxy"
)

// TestFaults puts a proxy that cuts, drops and refuses connections between
// the connector and versitygw: every failed operation is of kind Transient,
// nothing partial appears at the real name, and a retry succeeds.
func TestFaults(t *testing.T) {
	srv := s3test.Start(t)
	proxy, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	tune := func(c *s3.Config) {
		c.PartSize, c.MultipartThreshold, c.Concurrency = 5<<20, 6<<20, 2
		c.MaxAttempts = 1 // show the fault itself, not the SDK's retry
	}
	direct, sub := freshAt(t, srv, tune)
	c := connect(t, config(t, srv, sub, tune, func(c *s3.Config) { c.Endpoint = "http://" + proxy.Addr() }))
	ctx := t.Context()

	heal := func() {
		proxy.CutAfter(0)
		proxy.Refuse(false)
		proxy.Stall(0)
		proxy.DropAll()
	}
	old := []byte("old content")
	for _, tc := range []struct {
		name  string
		size  int
		fault func()
	}{
		{"single PUT cut", 3 << 20, func() { proxy.CutAfter(1 << 20) }},
		{"multipart cut", 14 << 20, func() { proxy.CutAfter(7 << 20) }},
		{"refused", 1 << 20, func() { proxy.Refuse(true) }},
		{"dropped while stalled", 2 << 20, func() {
			proxy.Stall(20 * time.Millisecond)
			time.AfterFunc(300*time.Millisecond, proxy.DropAll)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte(tc.size)}, tc.size)
			put(t, direct, "exists.bin", old, connectors.PutOptions{})
			for _, p := range []string{"exists.bin", "new.bin"} {
				tc.fault()
				proxy.DropAll() // faults apply to new connections
				_, err := c.Put(ctx, p, bytes.NewBufferString(string(data)), connectors.PutOptions{Size: int64(tc.size)})
				if connectors.KindOf(err) != connectors.Transient {
					t.Errorf("Put(%s) through a failing connection = %v, want kind Transient", p, err)
				}
				heal()
			}

			wantFile(t, srv, sub+"/exists.bin", old)
			if _, err := direct.Stat(ctx, "new.bin"); !connectors.IsNotFound(err) {
				t.Errorf("Stat(new.bin) after the failed upload = %v, want NotFound", err)
			}
			// A multipart upload whose abort (or whose creation's answer)
			// was cut is invisible but kept: Recover, which the engine runs
			// for interrupted writes, removes it.
			for _, p := range []string{"exists.bin", "new.bin"} {
				if err := c.Recover(ctx, p); err != nil {
					t.Errorf("Recover(%s): %v", p, err)
				}
			}
			wantNoUploads(t, srv)

			for _, p := range []string{"exists.bin", "new.bin"} {
				if _, err := c.Put(ctx, p, bytes.NewReader(data), connectors.PutOptions{Size: int64(tc.size)}); err != nil {
					t.Errorf("retried Put(%s): %v", p, err)
				}
				wantFile(t, srv, sub+"/"+p, data)
			}
			if err := direct.Delete(ctx, "new.bin", ""); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("download cut", func(t *testing.T) {
		data := bytes.Repeat([]byte("download"), 512<<10) // 4 MiB
		put(t, direct, "down.bin", data, connectors.PutOptions{})
		proxy.CutAfter(1 << 20)
		proxy.DropAll()
		r, err := c.Open(ctx, "down.bin", 0, -1)
		if err == nil {
			var got []byte
			got, err = io.ReadAll(r)
			r.Close()
			if err == nil {
				t.Fatalf("read %d bytes through a cut connection without an error", len(got))
			}
		}
		if connectors.KindOf(err) != connectors.Transient {
			t.Errorf("download through a cut connection = %v, want kind Transient", err)
		}
		heal()
		r, err = c.Open(ctx, "down.bin", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("retried download: %d bytes, %v", len(got), err)
		}
	})

	t.Run("listing refused", func(t *testing.T) {
		proxy.Refuse(true)
		proxy.DropAll()
		defer heal()
		err := c.Walk(ctx, "", func(connectors.Entry) error { return nil }, func(string, error) {})
		if connectors.KindOf(err) != connectors.Transient {
			t.Errorf("Walk through a refused connection = %v, want kind Transient", err)
		}
	})
}

// wantFile checks the object at key through the server's disk.
func wantFile(t testing.TB, srv *s3test.Server, key string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(srv.Dir(), key))
	if err != nil {
		t.Errorf("object %s: %v", key, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("object %s holds %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			key, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}
