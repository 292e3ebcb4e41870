package sftp_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/sftp"
	"github.com/dovetail-sync/dovetail/connectors/sftp/sftptest"
	"github.com/dovetail-sync/dovetail/internal/faultproxy"
)

// viaProxy returns a Config for srv reached through a fault proxy.
func viaProxy(t *testing.T, srv *sftptest.Server, sub string) (sftp.Config, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	srv.TrustAddr(t, p.Addr())
	cfg := srv.Config(sub)
	host, port, _ := net.SplitHostPort(p.Addr())
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	return cfg, p
}

func randomData(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// noDebrisAt fails if anything but the listed names is in dir on disk.
func onlyNames(t *testing.T, dir string, want ...string) {
	t.Helper()
	got := listDir(t, dir)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s holds %q, want %q", dir, got, want)
	}
}

func TestFaults(t *testing.T) {
	srv := sftptest.Start(t)
	data := randomData(8 << 20)
	disk := func(p string) string { return filepath.Join(srv.Dir(), "faults", p) }

	t.Run("cut mid-upload", func(t *testing.T) {
		cfg, proxy := viaProxy(t, srv, "faults")
		proxy.CutAfter(2 << 20) // the connection dies 2 MiB into the upload
		c := connect(t, cfg)
		writeFile(t, disk("up/old.bin"), []byte("old content"))
		for _, p := range []string{"up/new.bin", "up/old.bin"} {
			_, err := c.Put(t.Context(), p, bytes.NewReader(data), connectors.PutOptions{Size: int64(len(data))})
			wantErr(t, "Put through a cut connection", err, connectors.Transient)
			proxy.CutAfter(2 << 20)
		}
		if got := readFile(t, disk("up/old.bin")); got != "old content" {
			t.Errorf("the old file holds %d bytes after a failed replacement", len(got))
		}
		if _, err := os.Stat(disk("up/new.bin")); !os.IsNotExist(err) {
			t.Errorf("a cut upload left something at the real name: %v", err)
		}
		// Retry on a good connection: the next call redials.
		proxy.CutAfter(0)
		for _, p := range []string{"up/new.bin", "up/old.bin"} {
			if err := c.Recover(t.Context(), p); err != nil {
				t.Fatalf("Recover(%q): %v", p, err)
			}
			e, err := c.Put(t.Context(), p, bytes.NewReader(data), connectors.PutOptions{Size: int64(len(data))})
			if err != nil || e.Size != int64(len(data)) {
				t.Fatalf("retried Put(%q) = %+v, %v", p, e, err)
			}
			if got := readFile(t, disk(p)); got != string(data) {
				t.Errorf("%s holds %d bytes that differ from the %d written", p, len(got), len(data))
			}
		}
		onlyNames(t, disk("up"), "new.bin", "old.bin")
	})

	t.Run("cut mid-download", func(t *testing.T) {
		writeFile(t, disk("down/f.bin"), data)
		cfg, proxy := viaProxy(t, srv, "faults")
		proxy.CutAfter(2 << 20)
		c := connect(t, cfg)
		r, err := c.Open(t.Context(), "down/f.bin", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		wantErr(t, "reading through a cut connection", err, connectors.Transient)
		if len(got) >= len(data) {
			t.Errorf("read all %d bytes through a connection cut after 2 MiB", len(got))
		}
		proxy.CutAfter(0)
		r, err = c.Open(t.Context(), "down/f.bin", 0, -1)
		if err != nil {
			t.Fatalf("Open after the cut: %v", err)
		}
		got, err = io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("retried read: %d bytes, %v", len(got), err)
		}
	})

	t.Run("dropped mid-upload", func(t *testing.T) {
		cfg, proxy := viaProxy(t, srv, "faults")
		c := connect(t, cfg)
		var sent atomic.Int64
		src := readerFunc(func(b []byte) (int, error) {
			if sent.Add(int64(len(b))) > 3<<20 {
				proxy.DropAll()
			}
			return len(b), nil
		})
		_, err := c.Put(t.Context(), "drop/f.bin", io.LimitReader(src, 8<<20), connectors.PutOptions{Size: 8 << 20})
		wantErr(t, "Put while the connection is dropped", err, connectors.Transient)
		if _, err := os.Stat(disk("drop/f.bin")); !os.IsNotExist(err) {
			t.Errorf("a dropped upload left something at the real name: %v", err)
		}
		if _, err := c.Stat(t.Context(), "drop/f.bin"); !connectors.IsNotFound(err) {
			t.Errorf("Stat after the drop = %v, want NotFound", err)
		}
		if err := c.Recover(t.Context(), "drop/f.bin"); err != nil {
			t.Fatal(err)
		}
		onlyNames(t, disk("drop"))
	})

	t.Run("dropped while idle", func(t *testing.T) {
		cfg, proxy := viaProxy(t, srv, "faults")
		c := connect(t, cfg)
		put(t, c, "idle/f", "x", time.Time{})
		for i := range 3 {
			proxy.DropAll()
			time.Sleep(50 * time.Millisecond)
			// The next call dials again, without an error.
			if e, err := c.Stat(t.Context(), "idle/f"); err != nil || e.Size != 1 {
				t.Fatalf("Stat after drop %d = %+v, %v", i, e, err)
			}
		}
		if proxy.Cuts() < 3 {
			t.Errorf("the proxy dropped %d connections, want 3", proxy.Cuts())
		}
	})

	t.Run("server stops answering", func(t *testing.T) {
		cfg, proxy := viaProxy(t, srv, "faults")
		cfg.KeepAlive = 200 * time.Millisecond
		c := connect(t, cfg)
		put(t, c, "stall/f", "x", time.Time{})
		proxy.Stall(2 * time.Second)
		start := time.Now()
		// Put is not repeated by itself (a read would redial and go on).
		_, err := c.Put(t.Context(), "stall/f", strings.NewReader("y"), connectors.PutOptions{Size: 1})
		proxy.Stall(0)
		wantErr(t, "Put while the server does not answer", err, connectors.Transient)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a stalled call took %v to fail", d)
		}
		if e, err := c.Stat(t.Context(), "stall/f"); err != nil || e.Size != 1 {
			t.Errorf("Stat once the server answers again = %+v, %v", e, err)
		}
	})

	t.Run("server unreachable", func(t *testing.T) {
		cfg, proxy := viaProxy(t, srv, "faults")
		c := connect(t, cfg)
		proxy.Refuse(true)
		proxy.DropAll()
		time.Sleep(50 * time.Millisecond)
		_, err := c.Stat(t.Context(), "")
		wantErr(t, "Stat while the server refuses connections", err, connectors.Transient)
		proxy.Refuse(false)
		if _, err := c.Stat(t.Context(), ""); err != nil {
			t.Errorf("Stat once the server is back: %v", err)
		}
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// TestStreamsWithBoundedMemory moves 256 MiB each way and checks that the
// heap stays far below that.
func TestStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	srv := sftptest.Start(t)
	c := connect(t, srv.Config("mem"))
	const size = 256 << 20
	const limit = 48 << 20

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	runtime.GC()

	src := &patternReader{left: size}
	e, err := c.Put(t.Context(), "big.bin", src, connectors.PutOptions{Size: size})
	if err != nil || e.Size != size {
		t.Fatalf("Put = %+v, %v", e, err)
	}
	r, err := c.Open(t.Context(), "big.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	r.Close()
	close(stop)
	<-sampled
	if err != nil || n != size {
		t.Fatalf("read back %d bytes: %v", n, err)
	}
	want := sha256.New()
	io.Copy(want, &patternReader{left: size})
	if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Error("the content read back differs from what was written")
	}
	t.Logf("peak heap in use %d MiB for %d MiB each way", peak.Load()>>20, size>>20)
	if peak.Load() > limit {
		t.Errorf("peak heap in use %d MiB, want below %d MiB", peak.Load()>>20, limit>>20)
	}
}

// patternReader yields left bytes of a pattern without holding them.
type patternReader struct {
	left int64
	off  int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		x := p.off + int64(i)
		b[i] = byte(x ^ x>>8 ^ x>>16)
	}
	p.off += int64(len(b))
	p.left -= int64(len(b))
	return len(b), nil
}
