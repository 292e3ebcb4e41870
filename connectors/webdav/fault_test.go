package webdav_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/internal/faultproxy"
)

func randomData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// realNames lists what is in dir on disk apart from Put's temporary files.
func realNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".dovetail.tmp.") {
			names = append(names, e.Name())
		}
	}
	return names
}

// TestFaults drops and cuts connections between the connector and the
// server mid-upload and mid-download: the operation fails with a
// Transient error, the real name holds the old content or nothing, and a
// retry succeeds.
func TestFaults(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			srv := s.start(t)
			proxy, err := faultproxy.New(srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { proxy.Close() })
			c := connect(t, srv.ConfigAt(proxy.Addr(), "faults"))
			dir := filepath.Join(srv.Dir(), "faults")
			ctx := t.Context()
			oldData, newData := randomData(6<<20, 1), randomData(6<<20, 2)
			put(t, c, "old.bin", string(oldData))

			// cut makes the connections opened from now on break after n
			// bytes; closing idle ones makes the next request open one.
			cut := func(n int64) {
				proxy.CutAfter(n)
				c.Close()
			}
			wantTransient := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s succeeded through a cut connection", what)
				}
				if k := connectors.KindOf(err); k != connectors.Transient {
					t.Errorf("%s: kind %v (%v), want Transient", what, k, err)
				}
			}

			t.Run("UploadCut", func(t *testing.T) {
				cut(1 << 20)
				_, err := c.Put(ctx, "new.bin", bytes.NewReader(newData), connectors.PutOptions{Size: int64(len(newData))})
				wantTransient("Put of a new file", err)
				_, err = c.Put(ctx, "old.bin", bytes.NewReader(newData), connectors.PutOptions{Size: -1})
				wantTransient("Put over a file", err)
				cut(0)
				// Apache notices the cut a moment after the client and
				// then removes its own temporary file (.davfs.tmp*).
				deadline := time.Now().Add(10 * time.Second)
				for got := realNames(t, dir); len(got) != 1 || got[0] != "old.bin"; got = realNames(t, dir) {
					if time.Now().After(deadline) {
						t.Fatalf("after the cut uploads the folder holds %q, want only old.bin", got)
					}
					time.Sleep(20 * time.Millisecond)
				}
				if !bytes.Equal([]byte(readFile(t, filepath.Join(dir, "old.bin"))), oldData) {
					t.Error("old.bin changed although its replacement was cut off")
				}
				put(t, c, "new.bin", string(newData))
				if !bytes.Equal([]byte(readFile(t, filepath.Join(dir, "new.bin"))), newData) {
					t.Error("retried upload stored different content")
				}
				for _, p := range []string{"new.bin", "old.bin"} {
					if err := c.Recover(ctx, p); err != nil {
						t.Errorf("Recover(%s): %v", p, err)
					}
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 2 {
					t.Errorf("after Recover the folder holds %d entries, want 2", len(ents))
				}
			})

			t.Run("DownloadCut", func(t *testing.T) {
				cut(2 << 20)
				r, err := c.Open(ctx, "old.bin", 0, -1)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				wantTransient("reading a cut download", err)
				if len(got) >= len(oldData) {
					t.Errorf("read all %d bytes through a connection cut after 2 MiB", len(got))
				}
				cut(0)
				r, err = c.Open(ctx, "old.bin", 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				_, err = io.Copy(h, r)
				r.Close()
				if err != nil || !bytes.Equal(h.Sum(nil), sha(oldData)) {
					t.Errorf("retried download: %v, or content differs", err)
				}
			})

			t.Run("Dropped", func(t *testing.T) {
				pr, pw := io.Pipe()
				go func() {
					pw.Write(newData[:2<<20])
					proxy.DropAll()
					pw.Write(newData[2<<20:])
					pw.Close()
				}()
				_, err := c.Put(ctx, "dropped.bin", pr, connectors.PutOptions{Size: int64(len(newData))})
				pr.CloseWithError(io.ErrClosedPipe)
				wantTransient("Put on a dropped connection", err)
				if _, err := os.Stat(filepath.Join(dir, "dropped.bin")); !os.IsNotExist(err) {
					t.Errorf("dropped.bin exists after the dropped upload: %v", err)
				}
				proxy.Refuse(true)
				c.Close()
				_, err = c.Stat(ctx, "old.bin")
				wantTransient("Stat with connections refused", err)
				proxy.Refuse(false)
				if _, err := c.Stat(ctx, "old.bin"); err != nil {
					t.Errorf("Stat after the server came back: %v", err)
				}
			})
		})
	}
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
