package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// Run runs the whole suite against the connectors newConn returns. newConn
// is called once per subtest and must return a connector whose root exists
// and is empty; use t.Cleanup to remove it afterwards.
func Run(t *testing.T, newConn func(t *testing.T) connectors.Connector) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, c connectors.Connector)
	}{
		{"Features", testFeatures},
		{"PutThenRead", testPutThenRead},
		{"PutModTimeNow", testPutModTimeNow},
		{"PutCreatesParents", testPutCreatesParents},
		{"PutReplaces", testPutReplaces},
		{"PutReplaceIsAtomic", testPutReplaceIsAtomic},
		{"RangedOpen", testRangedOpen},
		{"EmptyFile", testEmptyFile},
		{"LargeFile", testLargeFile},
		{"Names", testNames},
		{"UnicodeForms", testUnicodeForms},
		{"CaseForms", testCaseForms},
		{"Walk", testWalk},
		{"WalkSkipDir", testWalkSkipDir},
		{"WalkStopsOnError", testWalkStopsOnError},
		{"NotFound", testNotFound},
		{"Mkdir", testMkdir},
		{"PutOntoFolder", testPutOntoFolder},
		{"Delete", testDelete},
		{"DeleteNonEmptyFolder", testDeleteNonEmptyFolder},
		{"IfRev", testIfRev},
		{"IfAbsent", testIfAbsent},
		{"SizeMismatch", testSizeMismatch},
		{"ReaderError", testReaderError},
		{"CancelMidStream", testCancelMidStream},
		{"Hash", testHash},
		{"HostilePaths", testHostilePaths},
		{"ConcurrentPuts", testConcurrentPuts},
		{"MoveFile", testMoveFile},
		{"MoveFolder", testMoveFolder},
		{"MoveOntoExisting", testMoveOntoExisting},
		{"MoveCaseOnly", testMoveCaseOnly},
		{"MoveIntoItself", testMoveIntoItself},
		{"Trash", testTrash},
		{"Sync", testSync},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newConn(t)
			if got := walk(t, c, ""); len(got) != 0 {
				t.Fatalf("newConn returned a connector that is not empty: %q", paths(got))
			}
			tc.fn(t, c)
		})
	}
}

func testFeatures(t *testing.T, c connectors.Connector) {
	f := c.Features()
	if f.Name == "" {
		t.Error("Features().Name is empty")
	}
	if _, ok := c.(connectors.Mover); ok != f.ServerSideMove {
		t.Errorf("Features().ServerSideMove = %v, but implements Mover = %v", f.ServerSideMove, ok)
	}
	if _, ok := c.(connectors.Trasher); ok != f.Trash {
		t.Errorf("Features().Trash = %v, but implements Trasher = %v", f.Trash, ok)
	}
	if f.Hash != connectors.HashNone {
		if _, err := connectors.NewHash(f.Hash); err != nil {
			t.Errorf("Features().Hash = %q: %v", f.Hash, err)
		}
	}
	if f.ModTimePrecision < 0 {
		t.Errorf("Features().ModTimePrecision = %v, want >= 0", f.ModTimePrecision)
	}
}

func testPutThenRead(t *testing.T, c connectors.Connector) {
	data := []byte("hello, world\n")
	pe := put(t, c, "greeting.txt", data)
	if pe.Path != "greeting.txt" || pe.Kind != connectors.File || pe.Size != int64(len(data)) {
		t.Errorf("Put returned path %q kind %v size %d, want greeting.txt file %d", pe.Path, pe.Kind, pe.Size, len(data))
	}
	checkModTime(t, c, "entry returned by Put", pe.ModTime)

	se := stat(t, c, "greeting.txt")
	if se.Path != "greeting.txt" || se.Kind != connectors.File || se.Size != int64(len(data)) {
		t.Errorf("Stat returned path %q kind %v size %d, want greeting.txt file %d", se.Path, se.Kind, se.Size, len(data))
	}
	checkModTime(t, c, "Stat", se.ModTime)
	if se.Rev != pe.Rev || se.ID != pe.ID {
		t.Errorf("Stat gives rev %q id %q, Put returned rev %q id %q", se.Rev, se.ID, pe.Rev, pe.ID)
	}
	if se.Rev == "" {
		t.Error("Stat gives an empty Rev")
	}

	got := walk(t, c, "")
	wantPaths(t, "Walk", got, "greeting.txt")
	we := got["greeting.txt"]
	if we.Size != int64(len(data)) || we.Kind != connectors.File || we.Rev != pe.Rev || we.ID != pe.ID {
		t.Errorf("Walk entry %+v differs from Put's %+v", we, pe)
	}
	checkModTime(t, c, "Walk", we.ModTime)
	wantContent(t, c, "greeting.txt", data)

	if root, err := c.Stat(t.Context(), ""); err != nil || !root.IsDir() {
		t.Errorf("Stat(root) = %+v, %v; want a folder", root, err)
	}
}

func testPutModTimeNow(t *testing.T, c connectors.Connector) {
	e := putOpts(t, c, "now.txt", []byte("now"), connectors.PutOptions{Size: 3})
	if d := time.Since(stat(t, c, "now.txt").ModTime); d > 10*time.Minute || d < -10*time.Minute {
		t.Errorf("Put with zero ModTime stored a time %v away from now (returned %v)", d, e.ModTime)
	}
}

func testPutCreatesParents(t *testing.T, c connectors.Connector) {
	put(t, c, "a/b/c/d.txt", []byte("deep"))
	for _, p := range []string{"a", "a/b", "a/b/c"} {
		if e := stat(t, c, p); !e.IsDir() || e.Path != p || e.Size != 0 {
			t.Errorf("Stat(%q) = %+v, want a folder of size 0", p, e)
		}
	}
	got := walk(t, c, "")
	wantPaths(t, "Walk", got, "a", "a/b", "a/b/c", "a/b/c/d.txt")
	wantContent(t, c, "a/b/c/d.txt", []byte("deep"))
}

func testPutReplaces(t *testing.T, c connectors.Connector) {
	e1 := put(t, c, "f.txt", []byte("version one"))
	// Same size and modification time: only the content differs.
	e2 := put(t, c, "f.txt", []byte("version two"))
	if e2.Rev == e1.Rev {
		t.Errorf("Rev %q did not change when the content did", e2.Rev)
	}
	if e2.Size != 11 || e2.Path != "f.txt" {
		t.Errorf("second Put returned %+v", e2)
	}
	if s := stat(t, c, "f.txt"); s.Rev != e2.Rev {
		t.Errorf("Stat gives rev %q, second Put returned %q", s.Rev, e2.Rev)
	}
	wantContent(t, c, "f.txt", []byte("version two"))
	e3 := put(t, c, "f.txt", []byte("v3"))
	if e3.Rev == e2.Rev || e3.Rev == e1.Rev || e3.Size != 2 {
		t.Errorf("third Put returned %+v (earlier revs %q, %q)", e3, e1.Rev, e2.Rev)
	}
	wantContent(t, c, "f.txt", []byte("v3"))
	wantPaths(t, "Walk", walk(t, c, ""), "f.txt")
}

func testPutReplaceIsAtomic(t *testing.T, c connectors.Connector) {
	const size = 256 << 10
	a, b := bytes.Repeat([]byte("a"), size), bytes.Repeat([]byte("b"), size)
	put(t, c, "atomic.bin", a)

	ctx := t.Context()
	done := make(chan struct{})
	var writeErr error
	go func() {
		defer close(done)
		for i := range 20 {
			data := a
			if i%2 == 0 {
				data = b
			}
			if _, err := c.Put(ctx, "atomic.bin", bytes.NewReader(data), connectors.PutOptions{Size: size}); err != nil {
				writeErr = err
				return
			}
		}
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			if writeErr != nil {
				t.Fatalf("Put: %v", writeErr)
			}
			return
		default:
		}
		r, err := c.Open(ctx, "atomic.bin", 0, -1)
		if err != nil {
			t.Fatalf("Open during replacement (read %d): %v", reads, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("reading during replacement: %v", err)
		}
		if len(got) != size || !(bytes.Equal(got, a) || bytes.Equal(got, b)) {
			t.Fatalf("a reader saw a partial or mixed file (%d bytes) during replacement", len(got))
		}
	}
}

func testRangedOpen(t *testing.T, c connectors.Connector) {
	data := randomBytes(1000, 1)
	put(t, c, "r.bin", data)
	for _, tc := range []struct{ off, n, from, to int64 }{
		{0, -1, 0, 1000},
		{0, 1000, 0, 1000},
		{10, 20, 10, 30},
		{990, -1, 990, 1000},
		{995, 100, 995, 1000},
		{1000, -1, 1000, 1000},
		{1000, 5, 1000, 1000},
		{0, 0, 0, 0},
		{500, 0, 500, 500},
	} {
		got := readRange(t, c, "r.bin", tc.off, tc.n)
		if !bytes.Equal(got, data[tc.from:tc.to]) {
			t.Errorf("Open(offset %d, length %d) gave %d bytes, want bytes %d to %d", tc.off, tc.n, len(got), tc.from, tc.to)
		}
	}
}

func testEmptyFile(t *testing.T, c connectors.Connector) {
	e := put(t, c, "empty", nil)
	if e.Size != 0 || e.Kind != connectors.File {
		t.Errorf("Put returned %+v, want a file of size 0", e)
	}
	wantContent(t, c, "empty", nil)
	got := walk(t, c, "")
	if we, ok := got["empty"]; !ok || we.Kind != connectors.File || we.Size != 0 {
		t.Errorf("Walk gave %+v for the empty file", got)
	}
	// An unknown size works too.
	putOpts(t, c, "empty2", nil, connectors.PutOptions{Size: -1})
	wantContent(t, c, "empty2", nil)
}

func testLargeFile(t *testing.T, c connectors.Connector) {
	data := randomBytes(5<<20+123, 2)
	e := put(t, c, "big/large.bin", data)
	if e.Size != int64(len(data)) {
		t.Errorf("Put returned size %d, want %d", e.Size, len(data))
	}
	got := read(t, c, "big/large.bin")
	if hashHex(t, connectors.SHA256, got) != hashHex(t, connectors.SHA256, data) {
		t.Errorf("content read back (%d bytes) differs from the %d bytes written", len(got), len(data))
	}
	mid := readRange(t, c, "big/large.bin", 3<<20, 1<<20)
	if !bytes.Equal(mid, data[3<<20:4<<20]) {
		t.Error("a 1 MiB range from the middle differs from what was written")
	}
	// Unknown size.
	putOpts(t, c, "big/unknown.bin", data, connectors.PutOptions{Size: -1})
	if e := stat(t, c, "big/unknown.bin"); e.Size != int64(len(data)) {
		t.Errorf("Put with unknown size stored %d bytes, want %d", e.Size, len(data))
	}
}

func testNames(t *testing.T, c connectors.Connector) {
	long := strings.Repeat("n", 251) + ".txt"
	longUTF8 := strings.Repeat("é", 127) + "x" // 255 bytes, 128 characters
	longDir := strings.Repeat("d", 255)
	names := []string{
		"with space.txt",
		" leading and trailing ",
		"emoji 😀🎉.txt",
		"日本語のファイル.txt",
		"semi;colon,comma+plus=eq&amp#hash%percent'quote",
		"dots...in...name",
		".hidden",
		long,
		longUTF8,
		longDir + "/" + long,
	}
	for i, n := range names {
		data := []byte(fmt.Sprintf("content %d of %q", i, n))
		if e := put(t, c, n, data); e.Path != n {
			t.Errorf("Put(%q) returned path %q", n, e.Path)
		}
	}
	got := walk(t, c, "")
	wantPaths(t, "Walk", got, append([]string{longDir}, names...)...)
	for i, n := range names {
		wantContent(t, c, n, []byte(fmt.Sprintf("content %d of %q", i, n)))
	}
}

func testUnicodeForms(t *testing.T, c connectors.Connector) {
	const nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
	put(t, c, nfc, []byte("composed"))
	put(t, c, nfd, []byte("decomposed"))
	got := walk(t, c, "")
	if len(got) == 2 {
		wantPaths(t, "Walk", got, nfc, nfd)
		wantContent(t, c, nfc, []byte("composed"))
		wantContent(t, c, nfd, []byte("decomposed"))
		return
	}
	// A connector may treat the two forms as one name only where it is
	// case-insensitive too (macOS-style file systems): then both paths must
	// address the same file, holding what was written last.
	if !c.Features().CaseInsensitive {
		t.Fatalf("NFC and NFD forms of a name collapsed into %q on a case-sensitive connector; they must stay separate, byte-exact names", paths(got))
	}
	if len(got) != 1 {
		t.Fatalf("Walk listed %q for two names in different Unicode forms", paths(got))
	}
	t.Logf("connector treats Unicode forms as one name: listed %q", paths(got))
	wantContent(t, c, nfc, []byte("decomposed"))
	wantContent(t, c, nfd, []byte("decomposed"))
}

func testCaseForms(t *testing.T, c connectors.Connector) {
	put(t, c, "Report.TXT", []byte("upper"))
	if !c.Features().CaseInsensitive {
		put(t, c, "report.txt", []byte("lower"))
		wantPaths(t, "Walk", walk(t, c, ""), "Report.TXT", "report.txt")
		wantContent(t, c, "Report.TXT", []byte("upper"))
		wantContent(t, c, "report.txt", []byte("lower"))
		wantMissing(t, c, "REPORT.txt")
		return
	}
	e := stat(t, c, "report.txt")
	if e.Path != "Report.TXT" {
		t.Errorf("Stat(report.txt) on a case-insensitive connector gave path %q, want the stored case Report.TXT", e.Path)
	}
	put(t, c, "report.txt", []byte("lower"))
	got := walk(t, c, "")
	if len(got) != 1 {
		t.Fatalf("case-insensitive connector listed %q after writing two names differing in case", paths(got))
	}
	wantContent(t, c, "REPORT.txt", []byte("lower"))
	put(t, c, "Dir/a", []byte("a"))
	put(t, c, "DIR/b", []byte("b"))
	var listed []string
	err := c.Walk(t.Context(), "dir", func(e connectors.Entry) error {
		listed = append(listed, e.Path)
		return nil
	}, func(p string, err error) { t.Errorf("Walk(dir) reported a problem at %q: %v", p, err) })
	if err != nil || len(listed) != 2 {
		t.Errorf("Walk(dir) listed %q, %v; want both files of the one folder Dir", listed, err)
	}
}

func buildTree(t *testing.T, c connectors.Connector) []string {
	t.Helper()
	files := []string{"top.txt", "a/1", "a/2", "a/b/3", "a/b/c/4", "d/5", "d/e/6"}
	for _, f := range files {
		put(t, c, f, []byte(f))
	}
	mkdir(t, c, "empty/inner")
	return append(files, "a", "a/b", "a/b/c", "d", "d/e", "empty", "empty/inner")
}

func testWalk(t *testing.T, c connectors.Connector) {
	all := buildTree(t, c)
	got := walk(t, c, "")
	wantPaths(t, "Walk(root)", got, all...)
	for p, e := range got {
		wantDir := !strings.Contains(p, ".") && !strings.ContainsAny(connectors.Base(p), "0123456789")
		if e.IsDir() != wantDir {
			t.Errorf("Walk reported %q as %v", p, e.Kind)
		}
		if !e.IsDir() && e.Size != int64(len(p)) {
			t.Errorf("Walk reported %q with size %d, want %d", p, e.Size, len(p))
		}
	}
	wantPaths(t, "Walk(a)", walk(t, c, "a"), "a/1", "a/2", "a/b", "a/b/3", "a/b/c", "a/b/c/4")
	wantPaths(t, "Walk(a/b/c)", walk(t, c, "a/b/c"), "a/b/c/4")
	wantPaths(t, "Walk(empty/inner)", walk(t, c, "empty/inner"))

	err := c.Walk(t.Context(), "missing", func(e connectors.Entry) error {
		t.Errorf("Walk(missing) reported %q", e.Path)
		return nil
	}, func(string, error) {})
	wantKind(t, "Walk(missing)", err, connectors.NotFound)
	err = c.Walk(t.Context(), "a/missing", func(connectors.Entry) error { return nil }, func(string, error) {})
	wantKind(t, "Walk(a/missing)", err, connectors.NotFound)
}

func testWalkSkipDir(t *testing.T, c connectors.Connector) {
	buildTree(t, c)
	var seen []string
	err := c.Walk(t.Context(), "", func(e connectors.Entry) error {
		seen = append(seen, e.Path)
		if e.Path == "a" || e.Path == "d/e" {
			if !e.IsDir() {
				t.Errorf("%q reported as a file", e.Path)
			}
			return connectors.SkipDir
		}
		return nil
	}, func(p string, err error) { t.Errorf("problem at %q: %v", p, err) })
	if err != nil {
		t.Fatalf("Walk with SkipDir returned %v", err)
	}
	got := make(map[string]connectors.Entry)
	for _, p := range seen {
		got[p] = connectors.Entry{}
	}
	if len(got) != len(seen) {
		t.Errorf("Walk reported duplicates: %q", seen)
	}
	wantPaths(t, "Walk skipping a and d/e", got, "top.txt", "a", "d", "d/5", "d/e", "empty", "empty/inner")
}

func testWalkStopsOnError(t *testing.T, c connectors.Connector) {
	buildTree(t, c)
	stop := errors.New("stop here")
	calls := 0
	err := c.Walk(t.Context(), "", func(connectors.Entry) error {
		calls++
		return stop
	}, func(string, error) {})
	if !errors.Is(err, stop) {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("Walk called the callback %d times after it returned an error", calls)
	}
}

func testNotFound(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	put(t, c, "exists/file", []byte("x"))
	for _, p := range []string{"missing", "missing/deeper", "exists/missing"} {
		_, err := c.Stat(ctx, p)
		wantKind(t, "Stat("+p+")", err, connectors.NotFound)
		r, err := c.Open(ctx, p, 0, -1)
		if err == nil {
			r.Close()
		}
		wantKind(t, "Open("+p+")", err, connectors.NotFound)
		wantKind(t, "Delete("+p+")", c.Delete(ctx, p, ""), connectors.NotFound)
		wantKind(t, "Delete("+p+", rev)", c.Delete(ctx, p, "some-rev"), connectors.NotFound)
		if m, ok := c.(connectors.Mover); ok {
			_, err := m.Move(ctx, p, "elsewhere")
			wantKind(t, "Move("+p+")", err, connectors.NotFound)
		}
		if tr, ok := c.(connectors.Trasher); ok {
			wantKind(t, "Trash("+p+")", tr.Trash(ctx, p), connectors.NotFound)
		}
	}
	wantPaths(t, "Walk", walk(t, c, ""), "exists", "exists/file")
}

func testMkdir(t *testing.T, c connectors.Connector) {
	e := mkdir(t, c, "x/y/z")
	if !e.IsDir() || e.Path != "x/y/z" || e.Size != 0 {
		t.Errorf("Mkdir returned %+v, want folder x/y/z", e)
	}
	mkdir(t, c, "x/y/z")
	mkdir(t, c, "x/y")
	mkdir(t, c, "x")
	wantPaths(t, "Walk", walk(t, c, ""), "x", "x/y", "x/y/z")

	put(t, c, "x/file", []byte("data"))
	_, err := c.Mkdir(t.Context(), "x/file")
	wantKind(t, "Mkdir over a file", err, connectors.Exists)
	if _, err := c.Mkdir(t.Context(), "x/file/sub"); err == nil {
		t.Error("Mkdir below a file succeeded")
	}
	wantContent(t, c, "x/file", []byte("data"))
	if root, err := c.Mkdir(t.Context(), ""); err != nil || !root.IsDir() {
		t.Errorf("Mkdir(root) = %+v, %v; want the existing root folder", root, err)
	}
}

func testPutOntoFolder(t *testing.T, c connectors.Connector) {
	mkdir(t, c, "folder/inner")
	_, err := c.Put(t.Context(), "folder", strings.NewReader("x"), connectors.PutOptions{Size: 1})
	wantKind(t, "Put onto a folder", err, connectors.Exists)
	if e := stat(t, c, "folder"); !e.IsDir() {
		t.Errorf("folder became %+v", e)
	}
	put(t, c, "file", []byte("data"))
	if _, err := c.Put(t.Context(), "file/below", strings.NewReader("x"), connectors.PutOptions{Size: 1}); err == nil {
		t.Error("Put below a file succeeded")
	}
	wantContent(t, c, "file", []byte("data"))
	wantPaths(t, "Walk", walk(t, c, ""), "folder", "folder/inner", "file")
}

func testDelete(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	e := put(t, c, "d/f", []byte("x"))
	put(t, c, "d/g", []byte("y"))
	if err := c.Delete(ctx, "d/f", ""); err != nil {
		t.Fatalf("Delete(d/f): %v", err)
	}
	wantMissing(t, c, "d/f")
	g := stat(t, c, "d/g")
	if err := c.Delete(ctx, "d/g", g.Rev); err != nil {
		t.Fatalf("Delete(d/g, current rev): %v", err)
	}
	if err := c.Delete(ctx, "d", ""); err != nil {
		t.Fatalf("Delete(empty folder d): %v", err)
	}
	wantMissing(t, c, "d")
	wantPaths(t, "Walk", walk(t, c, ""))
	wantKind(t, "Delete of a deleted file", c.Delete(ctx, "d/f", e.Rev), connectors.NotFound)
}

func testDeleteNonEmptyFolder(t *testing.T, c connectors.Connector) {
	put(t, c, "full/sub/file", []byte("keep me"))
	wantKind(t, "Delete(full)", c.Delete(t.Context(), "full", ""), connectors.Precondition)
	wantKind(t, "Delete(full/sub)", c.Delete(t.Context(), "full/sub", ""), connectors.Precondition)
	wantPaths(t, "Walk", walk(t, c, ""), "full", "full/sub", "full/sub/file")
	wantContent(t, c, "full/sub/file", []byte("keep me"))
}

func testIfRev(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	old := put(t, c, "f", []byte("one"))
	cur := put(t, c, "f", []byte("two"))
	if old.Rev == cur.Rev {
		t.Fatalf("Rev %q did not change when the content did", cur.Rev)
	}
	wantKind(t, "Delete with a stale rev", c.Delete(ctx, "f", old.Rev), connectors.Precondition)
	wantContent(t, c, "f", []byte("two"))

	_, err := c.Put(ctx, "f", strings.NewReader("three"), connectors.PutOptions{Size: 5, IfRev: old.Rev})
	wantKind(t, "Put with a stale rev", err, connectors.Precondition)
	wantContent(t, c, "f", []byte("two"))

	_, err = c.Put(ctx, "never", strings.NewReader("x"), connectors.PutOptions{Size: 1, IfRev: old.Rev})
	wantKind(t, "Put with a rev onto a missing file", err, connectors.Precondition)
	wantMissing(t, c, "never")

	next, err := c.Put(ctx, "f", strings.NewReader("three"), connectors.PutOptions{Size: 5, IfRev: cur.Rev})
	if err != nil {
		t.Fatalf("Put with the current rev: %v", err)
	}
	wantContent(t, c, "f", []byte("three"))
	if err := c.Delete(ctx, "f", next.Rev); err != nil {
		t.Fatalf("Delete with the current rev: %v", err)
	}
	wantMissing(t, c, "f")
}

func testIfAbsent(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	if _, err := c.Put(ctx, "new", strings.NewReader("first"), connectors.PutOptions{Size: 5, IfAbsent: true}); err != nil {
		t.Fatalf("Put IfAbsent onto nothing: %v", err)
	}
	_, err := c.Put(ctx, "new", strings.NewReader("second"), connectors.PutOptions{Size: 6, IfAbsent: true})
	wantKind(t, "Put IfAbsent onto a file", err, connectors.Precondition, connectors.Exists)
	wantContent(t, c, "new", []byte("first"))
	mkdir(t, c, "dir")
	_, err = c.Put(ctx, "dir", strings.NewReader("x"), connectors.PutOptions{Size: 1, IfAbsent: true})
	wantKind(t, "Put IfAbsent onto a folder", err, connectors.Precondition, connectors.Exists)
}

func testSizeMismatch(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	put(t, c, "old", []byte("old content"))
	for _, tc := range []struct {
		name string
		data string
		size int64
	}{
		{"fewer bytes", "short", 100},
		{"more bytes", strings.Repeat("long", 100), 10},
	} {
		if _, err := c.Put(ctx, "old", strings.NewReader(tc.data), connectors.PutOptions{Size: tc.size}); err == nil {
			t.Errorf("Put over a file with %s than announced succeeded", tc.name)
		}
		wantContent(t, c, "old", []byte("old content"))
		if _, err := c.Put(ctx, "new/file", strings.NewReader(tc.data), connectors.PutOptions{Size: tc.size}); err == nil {
			t.Errorf("Put of a new file with %s than announced succeeded", tc.name)
		}
		wantMissing(t, c, "new/file")
	}
	got := walk(t, c, "")
	delete(got, "new") // a connector may leave the parent folder it created
	wantPaths(t, "Walk", got, "old")
}

func testReaderError(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	put(t, c, "old", []byte("old content"))
	boom := errors.New("connection reset by peer")
	if _, err := c.Put(ctx, "old", &failingReader{n: 100 << 10, err: boom}, connectors.PutOptions{Size: 1 << 20}); err == nil {
		t.Error("Put over a file from a failing reader succeeded")
	}
	wantContent(t, c, "old", []byte("old content"))
	if _, err := c.Put(ctx, "new", &failingReader{n: 100 << 10, err: boom}, connectors.PutOptions{Size: -1}); err == nil {
		t.Error("Put of a new file from a failing reader succeeded")
	}
	wantMissing(t, c, "new")
	wantPaths(t, "Walk", walk(t, c, ""), "old")
}

func testCancelMidStream(t *testing.T, c connectors.Connector) {
	put(t, c, "dir/old", []byte("old content"))
	for _, p := range []string{"dir/new", "dir/old"} {
		ctx, cancel := context.WithCancel(t.Context())
		r := &stallingReader{ctx: ctx, first: 64 << 10, total: 1 << 20, stalled: make(chan struct{})}
		go func() {
			select {
			case <-r.stalled:
			case <-time.After(10 * time.Second):
			}
			cancel()
		}()
		_, err := c.Put(ctx, p, r, connectors.PutOptions{Size: int64(r.total)})
		cancel()
		if err == nil {
			t.Errorf("Put(%q) succeeded although its context was cancelled mid-stream", p)
		}
	}
	wantMissing(t, c, "dir/new")
	wantContent(t, c, "dir/old", []byte("old content"))
	wantPaths(t, "Walk", walk(t, c, ""), "dir", "dir/old")
}

func testHash(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	files := map[string][]byte{
		"h/empty": nil,
		"h/small": []byte("hash me"),
		"h/big":   randomBytes(3<<20+7, 3),
	}
	ret := make(map[string]connectors.Entry)
	for p, data := range files {
		ret[p] = put(t, c, p, data)
	}
	ht := c.Features().Hash
	listed := walk(t, c, "")
	for p, data := range files {
		for _, typ := range []connectors.HashType{connectors.SHA256, connectors.MD5, connectors.SHA1} {
			got, err := connectors.HashOf(ctx, c, p, typ)
			if err != nil {
				t.Errorf("HashOf(%q, %s): %v", p, typ, err)
			} else if want := hashHex(t, typ, data); got != want {
				t.Errorf("HashOf(%q, %s) = %s, want %s", p, typ, got, want)
			}
		}
		if ht == connectors.HashNone {
			continue
		}
		want := hashHex(t, ht, data)
		if h := ret[p].Hash; h != want {
			t.Errorf("Put(%q) returned %s hash %q, want %q", p, ht, h, want)
		}
		if h := stat(t, c, p).Hash; h != want {
			t.Errorf("Stat(%q) gives %s hash %q, want %q", p, ht, h, want)
		}
		if h := listed[p].Hash; h != want {
			t.Errorf("Walk gives %s hash %q for %q, want %q", ht, h, p, want)
		}
	}
	if ht != connectors.HashNone {
		if h := listed["h"].Hash; h != "" {
			t.Errorf("Walk gives folder h the hash %q, want none", h)
		}
	}
}

var hostilePaths = []string{
	"../x", "..", "/abs", "/", "a/../../b", "a/./b", "a\x00b", ".", "a//b", "a/", "./a", "\xff\xfe",
}

func testHostilePaths(t *testing.T, c connectors.Connector) {
	ctx := t.Context()
	put(t, c, "a/b", []byte("target"))
	for _, p := range hostilePaths {
		what := func(op string) string { return fmt.Sprintf("%s(%q)", op, p) }
		r := &countingReader{r: strings.NewReader("evil")}
		_, err := c.Put(ctx, p, r, connectors.PutOptions{Size: 4})
		wantKind(t, what("Put"), err, connectors.Invalid)
		if r.n != 0 {
			t.Errorf("%s read %d bytes of content before rejecting the path", what("Put"), r.n)
		}
		_, err = c.Mkdir(ctx, p)
		wantKind(t, what("Mkdir"), err, connectors.Invalid)
		_, err = c.Stat(ctx, p)
		wantKind(t, what("Stat"), err, connectors.Invalid)
		wantKind(t, what("Delete"), c.Delete(ctx, p, ""), connectors.Invalid)
		rc, err := c.Open(ctx, p, 0, -1)
		if err == nil {
			rc.Close()
		}
		wantKind(t, what("Open"), err, connectors.Invalid)
		err = c.Walk(ctx, p, func(e connectors.Entry) error {
			t.Errorf("%s reported %q", what("Walk"), e.Path)
			return nil
		}, func(string, error) {})
		wantKind(t, what("Walk"), err, connectors.Invalid)
		if m, ok := c.(connectors.Mover); ok {
			_, err := m.Move(ctx, "a/b", p)
			wantKind(t, what("Move to"), err, connectors.Invalid)
			_, err = m.Move(ctx, p, "moved")
			wantKind(t, what("Move from"), err, connectors.Invalid)
		}
		if tr, ok := c.(connectors.Trasher); ok {
			wantKind(t, what("Trash"), tr.Trash(ctx, p), connectors.Invalid)
		}
		if h, ok := c.(connectors.Hasher); ok {
			_, err := h.Hash(ctx, p, connectors.SHA256)
			wantKind(t, what("Hash"), err, connectors.Invalid)
		}
	}
	wantPaths(t, "Walk after hostile paths", walk(t, c, ""), "a", "a/b")
	wantContent(t, c, "a/b", []byte("target"))
}

func testConcurrentPuts(t *testing.T, c connectors.Connector) {
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			data := []byte(fmt.Sprintf("file number %d", i))
			_, errs[i] = c.Put(t.Context(), fmt.Sprintf("c/d/f%02d", i), bytes.NewReader(data), connectors.PutOptions{Size: int64(len(data))})
		})
	}
	wg.Wait()
	want := []string{"c", "c/d"}
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Put %d: %v", i, err)
		}
		want = append(want, fmt.Sprintf("c/d/f%02d", i))
	}
	wantPaths(t, "Walk", walk(t, c, ""), want...)
	for i := range n {
		wantContent(t, c, fmt.Sprintf("c/d/f%02d", i), []byte(fmt.Sprintf("file number %d", i)))
	}
}

func mover(t *testing.T, c connectors.Connector) connectors.Mover {
	t.Helper()
	m, ok := c.(connectors.Mover)
	if !ok {
		t.Skip("connector does not implement Mover")
	}
	return m
}

func testMoveFile(t *testing.T, c connectors.Connector) {
	m := mover(t, c)
	src := put(t, c, "a/f.txt", []byte("moving"))
	e, err := m.Move(t.Context(), "a/f.txt", "b/c/g.txt")
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	if e.Path != "b/c/g.txt" || e.Kind != connectors.File || e.Size != 6 {
		t.Errorf("Move returned %+v", e)
	}
	if src.ID != "" && e.ID != src.ID {
		t.Errorf("Move changed the ID from %q to %q", src.ID, e.ID)
	}
	checkModTime(t, c, "moved file", stat(t, c, "b/c/g.txt").ModTime)
	wantMissing(t, c, "a/f.txt")
	wantContent(t, c, "b/c/g.txt", []byte("moving"))
	wantPaths(t, "Walk", walk(t, c, ""), "a", "b", "b/c", "b/c/g.txt")
}

func testMoveFolder(t *testing.T, c connectors.Connector) {
	m := mover(t, c)
	put(t, c, "d/x", []byte("x"))
	put(t, c, "d/e/y", []byte("y"))
	before := walk(t, c, "")
	e, err := m.Move(t.Context(), "d", "n/d2")
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	if e.Path != "n/d2" || !e.IsDir() {
		t.Errorf("Move returned %+v", e)
	}
	after := walk(t, c, "")
	wantPaths(t, "Walk", after, "n", "n/d2", "n/d2/x", "n/d2/e", "n/d2/e/y")
	for old, nw := range map[string]string{"d": "n/d2", "d/x": "n/d2/x", "d/e": "n/d2/e", "d/e/y": "n/d2/e/y"} {
		if id := before[old].ID; id != "" && after[nw].ID != id {
			t.Errorf("%s moved to %s changed ID from %q to %q", old, nw, id, after[nw].ID)
		}
	}
	wantContent(t, c, "n/d2/e/y", []byte("y"))
	wantMissing(t, c, "d")
}

func testMoveOntoExisting(t *testing.T, c connectors.Connector) {
	m := mover(t, c)
	put(t, c, "p", []byte("p"))
	put(t, c, "q", []byte("q"))
	mkdir(t, c, "dir")
	_, err := m.Move(t.Context(), "p", "q")
	wantKind(t, "Move onto a file", err, connectors.Exists)
	_, err = m.Move(t.Context(), "p", "dir")
	wantKind(t, "Move onto a folder", err, connectors.Exists)
	_, err = m.Move(t.Context(), "dir", "q")
	wantKind(t, "Move a folder onto a file", err, connectors.Exists)
	wantContent(t, c, "p", []byte("p"))
	wantContent(t, c, "q", []byte("q"))
	wantPaths(t, "Walk", walk(t, c, ""), "p", "q", "dir")
}

func testMoveCaseOnly(t *testing.T, c connectors.Connector) {
	m := mover(t, c)
	src := put(t, c, "Case.txt", []byte("case"))
	put(t, c, "Folder/in", []byte("in"))
	e, err := m.Move(t.Context(), "Case.txt", "case.txt")
	if err != nil {
		t.Fatalf("case-only Move: %v", err)
	}
	if e.Path != "case.txt" || (src.ID != "" && e.ID != src.ID) {
		t.Errorf("case-only Move returned %+v (ID was %q)", e, src.ID)
	}
	if _, err := m.Move(t.Context(), "Folder", "FOLDER"); err != nil {
		t.Fatalf("case-only Move of a folder: %v", err)
	}
	wantPaths(t, "Walk", walk(t, c, ""), "case.txt", "FOLDER", "FOLDER/in")
	wantContent(t, c, "case.txt", []byte("case"))
	wantContent(t, c, "FOLDER/in", []byte("in"))
}

func testMoveIntoItself(t *testing.T, c connectors.Connector) {
	m := mover(t, c)
	put(t, c, "d/x", []byte("x"))
	if _, err := m.Move(t.Context(), "d", "d/sub"); err == nil {
		t.Error("moving a folder into itself succeeded")
	}
	wantPaths(t, "Walk", walk(t, c, ""), "d", "d/x")
}

func testTrash(t *testing.T, c connectors.Connector) {
	tr, ok := c.(connectors.Trasher)
	if !ok {
		t.Skip("connector does not implement Trasher")
	}
	put(t, c, "t/x", []byte("trash me"))
	put(t, c, "t/y", []byte("keep me"))
	if err := tr.Trash(t.Context(), "t/x"); err != nil {
		t.Fatalf("Trash: %v", err)
	}
	wantMissing(t, c, "t/x")
	got := walk(t, c, "")
	if _, ok := got["t/x"]; ok {
		t.Error("Walk still lists the trashed file")
	}
	if _, ok := got["t/y"]; !ok {
		t.Error("Walk lost the file next to the trashed one")
	}
	wantContent(t, c, "t/y", []byte("keep me"))
	// A new file may take the trashed one's place.
	put(t, c, "t/x", []byte("again"))
	if err := tr.Trash(t.Context(), "t/x"); err != nil {
		t.Fatalf("Trash of a second file at the same path: %v", err)
	}
	wantMissing(t, c, "t/x")
}

func testSync(t *testing.T, c connectors.Connector) {
	s, ok := c.(connectors.Syncer)
	if !ok {
		t.Skip("connector does not implement Syncer")
	}
	put(t, c, "synced", []byte("durable"))
	if err := s.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	wantContent(t, c, "synced", []byte("durable"))
}
