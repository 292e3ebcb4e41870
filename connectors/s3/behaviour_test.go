package s3_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/s3"
	"github.com/dovetail-sync/dovetail/connectors/s3/s3test"
)

// counter counts the requests that pass through it by kind.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := r.Method
	if r.URL.Query().Has("list-type") {
		kind = "LIST"
	}
	c.mu.Lock()
	c.n[kind]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

func put(t testing.TB, c connectors.Connector, p string, data []byte, opts connectors.PutOptions) connectors.Entry {
	t.Helper()
	opts.Size = int64(len(data))
	e, err := c.Put(t.Context(), p, bytes.NewBufferString(string(data)), opts)
	if err != nil {
		t.Fatalf("Put(%q): %v", p, err)
	}
	return e
}

func walkPaths(t testing.TB, c connectors.Connector, dir string) []string {
	t.Helper()
	var got []string
	err := c.Walk(t.Context(), dir, func(e connectors.Entry) error {
		got = append(got, e.Path)
		return nil
	}, func(p string, err error) { t.Errorf("problem at %q: %v", p, err) })
	if err != nil {
		t.Fatalf("Walk(%q): %v", dir, err)
	}
	return got
}

func TestFolderMarkers(t *testing.T) {
	srv := s3test.Start(t)
	c := connect(t, config(t, srv, "m"))
	ctx := t.Context()
	if _, err := c.Mkdir(ctx, "empty/inner"); err != nil {
		t.Fatal(err)
	}
	// The marker is the object "m/empty/inner/", a folder on versitygw's disk.
	if _, err := srv.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s3test.Bucket), Key: aws.String("m/empty/inner/")}); err != nil {
		t.Errorf("no marker object for the empty folder: %v", err)
	}
	if st, err := os.Stat(filepath.Join(srv.Dir(), "m/empty/inner")); err != nil || !st.IsDir() {
		t.Errorf("empty folder not on the server's disk: %v", err)
	}
	// A folder whose last file goes away stays, as it would on a disk.
	put(t, c, "docs/only.txt", []byte("x"), connectors.PutOptions{})
	if err := c.Delete(ctx, "docs/only.txt", ""); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Stat(ctx, "docs"); err != nil || !e.IsDir() {
		t.Errorf("Stat(docs) after deleting its only file = %+v, %v; want the folder", e, err)
	}
	if got := walkPaths(t, c, ""); strings.Join(got, ",") != "docs,empty,empty/inner" {
		t.Errorf("Walk = %q", got)
	}
	// The marker is no entry of its own, and a folder holding it is empty.
	if err := c.Delete(ctx, "empty", ""); connectors.KindOf(err) != connectors.Precondition {
		t.Errorf("Delete of a folder holding an empty folder = %v, want Precondition", err)
	}
	for _, p := range []string{"empty/inner", "empty", "docs"} {
		if err := c.Delete(ctx, p, ""); err != nil {
			t.Errorf("Delete(%q): %v", p, err)
		}
	}
	if got := walkPaths(t, c, ""); len(got) != 0 {
		t.Errorf("Walk after deleting everything = %q", got)
	}
}

func TestWalkIsOneListing(t *testing.T) {
	srv := s3test.Start(t)
	cnt := &counter{n: map[string]int{}}
	c, sub := freshAt(t, srv, func(c *s3.Config) { c.HTTPClient = &http.Client{Transport: cnt}; c.ServerModTime = true })
	// More keys than one page (1000) in a nested tree.
	const files = 1100
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p := fmt.Sprintf("l1-%d/l2-%d/l3-%d/f%04d", i%3, i%5, i%7, i)
			if _, err := c.Put(t.Context(), p, strings.NewReader("x"), connectors.PutOptions{Size: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	cnt.take()
	got := walkPaths(t, c, "")
	if n := len(got) - countDirs(got); n != files {
		t.Errorf("Walk reported %d files, want %d", n, files)
	}
	if n := cnt.take(); n["LIST"] != 2 || len(n) != 1 {
		t.Errorf("Walk made requests %v, want exactly the 2 pages of one ListObjectsV2", n)
	}
	// Reading stored times costs a HEAD per file, and still one listing.
	cm := connect(t, config(t, srv, sub, func(cfg *s3.Config) { cfg.HTTPClient = &http.Client{Transport: cnt} }))
	cnt.take()
	got = walkPaths(t, cm, "l1-0/l2-0")
	if n := cnt.take(); n["LIST"] != 1 || n["HEAD"] != len(got)-countDirs(got) || len(n) != 2 {
		t.Errorf("Walk of %d entries with stored times made requests %v, want 1 LIST and a HEAD per file", len(got), n)
	}
}

// countDirs counts the folders among the paths of TestWalkIsOneListing
// (files are named f0000 and up).
func countDirs(paths []string) int {
	n := 0
	for _, p := range paths {
		if !strings.HasPrefix(connectors.Base(p), "f") {
			n++
		}
	}
	return n
}

// stream is n bytes of reproducible noise, never held in memory at once.
func stream(n int64, seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(s), n)
}

func sum(t testing.TB, r io.Reader) ([]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("reading after %d bytes: %v", n, err)
	}
	return h.Sum(nil), n
}

// peakHeap samples the heap in use until stop is called and returns the
// highest value above the level when it started.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

func TestMultipartUpload(t *testing.T) {
	srv := s3test.Start(t)
	const size = 100 << 20
	c, sub := freshAt(t, srv, func(c *s3.Config) { c.PartSize = 5 << 20; c.MultipartThreshold = 8 << 20; c.Concurrency = 2 })
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		size int64 // announced
	}{{"known size", size}, {"unknown size", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			h := sha256.New()
			stop := peakHeap()
			mtime := time.Date(2020, 5, 6, 7, 8, 9, 10, time.UTC)
			e, err := c.Put(ctx, "big/file.bin", io.TeeReader(stream(size, 1), h), connectors.PutOptions{Size: tc.size, ModTime: mtime})
			peak := stop()
			if err != nil {
				t.Fatal(err)
			}
			if e.Size != size || e.Hash != "" || !e.ModTime.Equal(mtime) {
				t.Errorf("Put returned %+v; want size %d, no hash (multipart), the given time", e, size)
			}
			if peak > 40<<20 {
				t.Errorf("heap grew by %d MiB uploading %d MiB in 5 MiB parts, 2 at a time", peak>>20, size>>20)
			}
			t.Logf("heap peak +%d MiB", peak>>20)
			head, err := srv.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s3test.Bucket), Key: aws.String(sub + "/big/file.bin")})
			if err != nil {
				t.Fatal(err)
			}
			if etag := aws.ToString(head.ETag); !strings.HasSuffix(strings.Trim(etag, `"`), "-20") {
				t.Errorf("ETag %s: want a multipart upload of 20 parts", etag)
			}
			if se, err := c.Stat(ctx, "big/file.bin"); err != nil || se.Rev != e.Rev || se.Hash != "" || se.Size != size {
				t.Errorf("Stat = %+v, %v; Put returned %+v", se, err, e)
			}
			r, err := c.Open(ctx, "big/file.bin", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, n := sum(t, r)
			r.Close()
			if n != size || !bytes.Equal(got, h.Sum(nil)) {
				t.Errorf("read back %d bytes with another content", n)
			}
		})
	}
	// A reader that fails after some parts leaves nothing: the upload is
	// aborted, no parts are kept.
	_, err := c.Put(ctx, "big/broken.bin", io.MultiReader(stream(12<<20, 2), &failing{}), connectors.PutOptions{Size: 20 << 20})
	if err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if _, err := c.Stat(ctx, "big/broken.bin"); !connectors.IsNotFound(err) {
		t.Errorf("Stat after a failed multipart upload = %v, want NotFound", err)
	}
	wantNoUploads(t, srv)
}

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errors.New("disk read error") }

func wantNoUploads(t testing.TB, srv *s3test.Server) {
	t.Helper()
	out, err := srv.Client().ListMultipartUploads(t.Context(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(s3test.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %q left behind", aws.ToString(u.Key))
	}
}

func TestConditionalWrites(t *testing.T) {
	srv := s3test.Start(t)
	for name, mod := range map[string]func(*s3.Config){
		"single":    func(*s3.Config) {},
		"multipart": func(c *s3.Config) { c.PartSize = 5 << 20; c.MultipartThreshold = 1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := fresh(t, srv, mod)
			ctx := t.Context()
			base := put(t, c, "doc.txt", []byte("base version"), connectors.PutOptions{})
			// Two writers saw the same version; the first wins.
			mine := put(t, c, "doc.txt", []byte("mine"), connectors.PutOptions{IfRev: base.Rev})
			_, err := c.Put(ctx, "doc.txt", strings.NewReader("theirs"), connectors.PutOptions{Size: 6, IfRev: base.Rev})
			if connectors.KindOf(err) != connectors.Precondition {
				t.Errorf("Put with a stale rev = %v, want Precondition", err)
			}
			_, err = c.Put(ctx, "doc.txt", strings.NewReader("new"), connectors.PutOptions{Size: 3, IfAbsent: true})
			if connectors.KindOf(err) != connectors.Precondition {
				t.Errorf("Put IfAbsent onto a file = %v, want Precondition", err)
			}
			if err := c.Delete(ctx, "doc.txt", base.Rev); connectors.KindOf(err) != connectors.Precondition {
				t.Errorf("Delete with a stale rev = %v, want Precondition", err)
			}
			r, _ := c.Open(ctx, "doc.txt", 0, -1)
			got, _ := io.ReadAll(r)
			r.Close()
			if string(got) != "mine" {
				t.Errorf("content %q, want the first writer's", got)
			}
			if err := c.Delete(ctx, "doc.txt", mine.Rev); err != nil {
				t.Errorf("Delete with the current rev: %v", err)
			}
			wantNoUploads(t, srv)
		})
	}
}

// TestConditionalPutAtServer shows the 412 comes from the server, not from
// a check made before: the object changes after the connector last looked.
func TestConditionalPutAtServer(t *testing.T) {
	srv := s3test.Start(t)
	c := connect(t, config(t, srv, "cond"))
	ctx := t.Context()
	base := put(t, c, "f", []byte("one"), connectors.PutOptions{})
	if _, err := srv.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s3test.Bucket), Key: aws.String("cond/f"), Body: strings.NewReader("other")}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Put(ctx, "f", strings.NewReader("two"), connectors.PutOptions{Size: 3, IfRev: base.Rev})
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.Precondition || !strings.Contains(err.Error(), "412") {
		t.Errorf("Put after a change by someone else = %v, want Precondition from a 412", err)
	}
}

func TestModTimes(t *testing.T) {
	srv := s3test.Start(t)
	c := connect(t, config(t, srv, "times"))
	ctx := t.Context()
	for _, mt := range []time.Time{
		time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 58, 500000000, time.UTC),
		time.Date(2038, 1, 19, 3, 14, 8, 1, time.UTC),
	} {
		e := put(t, c, "t.txt", []byte("time"), connectors.PutOptions{ModTime: mt})
		var listed connectors.Entry
		c.Walk(ctx, "", func(e connectors.Entry) error { listed = e; return nil }, func(string, error) {})
		st, err := c.Stat(ctx, "t.txt")
		if err != nil || !e.ModTime.Equal(mt) || !st.ModTime.Equal(mt) || !listed.ModTime.Equal(mt) {
			t.Errorf("stored %v: Put gave %v, Stat %v (%v), Walk %v", mt, e.ModTime, st.ModTime, err, listed.ModTime)
		}
	}
	// rclone's key and format, readable by rclone.
	head, err := srv.Client().HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s3test.Bucket), Key: aws.String("times/t.txt")})
	if err != nil || head.Metadata["mtime"] != "2147483648.000000001" {
		t.Errorf("x-amz-meta-mtime = %q (%v), want 2147483648.000000001", head.Metadata["mtime"], err)
	}
	// Moves keep the time.
	if m, err := c.Move(ctx, "t.txt", "moved/t.txt"); err != nil || !m.ModTime.Equal(time.Date(2038, 1, 19, 3, 14, 8, 1, time.UTC)) {
		t.Errorf("Move = %+v, %v; want the stored time kept", m, err)
	}
	// Objects from other tools: rclone's time, or none (LastModified).
	for key, meta := range map[string]map[string]string{"times/rclone": {"mtime": "1600000000.5"}, "times/plain": nil} {
		if _, err := srv.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(s3test.Bucket), Key: aws.String(key), Body: strings.NewReader("x"), Metadata: meta}); err != nil {
			t.Fatal(err)
		}
	}
	if e, _ := c.Stat(ctx, "rclone"); !e.ModTime.Equal(time.Unix(1600000000, 5e8)) {
		t.Errorf("rclone's time read as %v", e.ModTime)
	}
	if e, _ := c.Stat(ctx, "plain"); time.Since(e.ModTime) > time.Minute || time.Since(e.ModTime) < -time.Minute {
		t.Errorf("object without a stored time reports %v, want its LastModified (now)", e.ModTime)
	}
	// With server times, Put reports what the listing will.
	cs := connect(t, config(t, srv, "times", func(c *s3.Config) { c.ServerModTime = true }))
	e := put(t, cs, "server.txt", []byte("x"), connectors.PutOptions{ModTime: time.Unix(1, 0)})
	if st, _ := cs.Stat(ctx, "server.txt"); !st.ModTime.Equal(e.ModTime) || e.ModTime.Before(time.Now().Add(-time.Minute)) {
		t.Errorf("server times: Put reported %v, Stat %v", e.ModTime, st.ModTime)
	}
}

func TestRecover(t *testing.T) {
	srv := s3test.Start(t)
	c := connect(t, config(t, srv, "rec"))
	ctx := t.Context()
	for _, key := range []string{"rec/a/file", "rec/a/file2"} {
		if _, err := srv.Client().CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(s3test.Bucket), Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Recover(ctx, "a/file"); err != nil {
		t.Fatal(err)
	}
	out, err := srv.Client().ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(s3test.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].Key) != "rec/a/file2" {
		t.Errorf("uploads left: %d, want only the one of another file", len(out.Uploads))
	}
	if err := c.Recover(ctx, "a/file"); err != nil {
		t.Errorf("second Recover: %v", err)
	}
}

func TestMoveLargeInParts(t *testing.T) {
	defer s3.SetCopyLimit(1 << 20)()
	srv := s3test.Start(t)
	c := connect(t, config(t, srv, "mv"))
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	mt := time.Date(2022, 2, 2, 2, 2, 2, 2, time.UTC)
	put(t, c, "src/big", data, connectors.PutOptions{ModTime: mt})
	put(t, c, "src/small", []byte("small"), connectors.PutOptions{ModTime: mt})
	if _, err := c.Move(t.Context(), "src", "dst"); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][]byte{"dst/big": data, "dst/small": []byte("small")} {
		got, err := os.ReadFile(filepath.Join(srv.Dir(), "mv", p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s on disk: %d bytes, %v", p, len(got), err)
		}
		if e, err := c.Stat(t.Context(), p); err != nil || !e.ModTime.Equal(mt) {
			t.Errorf("Stat(%s) = %+v, %v; want the time kept", p, e, err)
		}
	}
	if got := walkPaths(t, c, ""); strings.Join(got, ",") != "dst,dst/big,dst/small" {
		t.Errorf("Walk after the move = %q", got)
	}
}

// TestPlainFiles checks the contract of s3test: objects are the files
// under Dir() at the same paths, both ways.
func TestPlainFiles(t *testing.T) {
	srv := s3test.Start(t)
	c := connect(t, config(t, srv, "plain/root"))
	put(t, c, "a/b.txt", []byte("through S3"), connectors.PutOptions{})
	if got, err := os.ReadFile(filepath.Join(srv.Dir(), "plain/root/a/b.txt")); err != nil || string(got) != "through S3" {
		t.Errorf("file on disk: %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(srv.Dir(), "plain/root/a/disk.txt"), []byte("from disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := c.Stat(t.Context(), "a/disk.txt")
	if err != nil || e.Size != 9 || e.Rev == "" {
		t.Errorf("Stat of a file written to disk = %+v, %v", e, err)
	}
	// versitygw lists a folder only if it holds objects or was made
	// through S3 (see the s3test package comment).
	if err := os.MkdirAll(filepath.Join(srv.Dir(), "plain/root/a/empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := walkPaths(t, c, ""); strings.Join(got, ",") != "a,a/b.txt,a/disk.txt" {
		t.Errorf("Walk = %q", got)
	}
	if _, err := c.Mkdir(t.Context(), "made/here"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(srv.Dir(), "plain/root/made/here")); err != nil || !st.IsDir() {
		t.Errorf("folder made through S3 is not a folder on disk: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	srv := s3test.Start(t)
	t.Run("from the environment", func(t *testing.T) {
		srv.SetEnv(t)
		cfg := config(t, srv, "env")
		cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
		c := connect(t, cfg)
		put(t, c, "x", []byte("x"), connectors.PutOptions{})
	})
	t.Run("wrong secret", func(t *testing.T) {
		cfg := config(t, srv, "env")
		cfg.SecretAccessKey = "not-the-secret"
		_, err := s3.New(t.Context(), cfg)
		if connectors.KindOf(err) != connectors.Permission || strings.Contains(err.Error(), "not-the-secret") {
			t.Errorf("New with a wrong secret = %v, want Permission without the secret", err)
		}
	})
	t.Run("none", func(t *testing.T) {
		srv.SetEnv(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		cfg := config(t, srv, "env")
		cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
		_, err := s3.New(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "no credentials found") {
			t.Errorf("New without credentials = %v", err)
		}
	})
	t.Run("missing bucket", func(t *testing.T) {
		cfg := config(t, srv, "env")
		cfg.Bucket = "nope"
		_, err := s3.New(t.Context(), cfg)
		if connectors.KindOf(err) != connectors.NotFound || !strings.Contains(err.Error(), `bucket "nope" does not exist`) {
			t.Errorf("New for a missing bucket = %v", err)
		}
	})
}
