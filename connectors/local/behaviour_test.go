package local_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/local"
)

type walkResult struct {
	Entries  []string
	Problems map[string]connectors.ErrorKind
}

func walkAll(t *testing.T, c connectors.Connector, dir string) walkResult {
	t.Helper()
	res := walkResult{Problems: map[string]connectors.ErrorKind{}}
	err := c.Walk(t.Context(), dir, func(e connectors.Entry) error {
		res.Entries = append(res.Entries, e.Path)
		return nil
	}, func(p string, err error) {
		res.Problems[p] = connectors.KindOf(err)
	})
	if err != nil {
		t.Fatalf("Walk(%q): %v", dir, err)
	}
	slices.Sort(res.Entries)
	return res
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, what string, err error, k connectors.ErrorKind) {
	t.Helper()
	if got := connectors.KindOf(err); err == nil || got != k {
		t.Errorf("%s: got %v (kind %v), want kind %v", what, err, got, k)
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestSymlinkOutsideRoot(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "do not touch")
	writeFile(t, filepath.Join(root, "real/file"), "inside")
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	c := newConn(t, root, local.Options{})
	ctx := t.Context()

	res := walkAll(t, c, "")
	if !slices.Equal(res.Entries, []string{"real", "real/file"}) {
		t.Errorf("Walk listed %q", res.Entries)
	}
	if k, ok := res.Problems["link"]; !ok || k != connectors.Unimplemented {
		t.Errorf("Walk problems %v, want link with kind %v", res.Problems, connectors.Unimplemented)
	}
	if _, err := c.Put(ctx, "link/x", strings.NewReader("evil"), connectors.PutOptions{Size: 4}); err == nil {
		t.Error(`Put("link/x") succeeded`)
	}
	if _, err := c.Put(ctx, "link/secret", strings.NewReader("evil"), connectors.PutOptions{Size: 4}); err == nil {
		t.Error(`Put("link/secret") succeeded`)
	}
	if r, err := c.Open(ctx, "link/secret", 0, -1); err == nil {
		r.Close()
		t.Error(`Open("link/secret") succeeded`)
	}
	if _, err := c.Mkdir(ctx, "link/sub"); err == nil {
		t.Error(`Mkdir("link/sub") succeeded`)
	}
	if err := c.Delete(ctx, "link/secret", ""); err == nil {
		t.Error(`Delete("link/secret") succeeded`)
	}
	if _, err := c.Move(ctx, "real/file", "link/file"); err == nil {
		t.Error(`Move to "link/file" succeeded`)
	}
	_, err := c.Stat(ctx, "link")
	wantKind(t, `Stat("link")`, err, connectors.Unimplemented)
	err = c.Walk(ctx, "link", func(connectors.Entry) error { return nil }, func(string, error) {})
	wantKind(t, `Walk("link")`, err, connectors.Unimplemented)

	if got := listDir(t, outside); !slices.Equal(got, []string{"secret"}) {
		t.Errorf("outside folder now holds %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "do not touch" {
		t.Errorf("outside file now holds %q", b)
	}
}

func TestSymlinkInsideRootNotFollowed(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "target.txt"), "target")
	if err := os.Symlink("target.txt", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(root, "loop")); err != nil {
		t.Fatal(err)
	}
	c := newConn(t, root, local.Options{})
	res := walkAll(t, c, "")
	if !slices.Equal(res.Entries, []string{"target.txt"}) {
		t.Errorf("Walk listed %q", res.Entries)
	}
	for _, p := range []string{"alias", "loop"} {
		if k := res.Problems[p]; k != connectors.Unimplemented {
			t.Errorf("Walk problem for %s has kind %v, want %v (all: %v)", p, k, connectors.Unimplemented, res.Problems)
		}
	}
	_, err := c.Open(t.Context(), "alias", 0, -1)
	wantKind(t, `Open("alias")`, err, connectors.Unimplemented)
	wantKind(t, `Delete("alias")`, c.Delete(t.Context(), "alias", ""), connectors.Unimplemented)
}

func TestFifoIsReported(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "d/a"), "a")
	writeFile(t, filepath.Join(root, "d/z"), "z")
	if err := syscall.Mkfifo(filepath.Join(root, "d/pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newConn(t, root, local.Options{})
	res := walkAll(t, c, "")
	if !slices.Equal(res.Entries, []string{"d", "d/a", "d/z"}) {
		t.Errorf("Walk listed %q", res.Entries)
	}
	if k := res.Problems["d/pipe"]; k != connectors.Invalid || len(res.Problems) != 1 {
		t.Errorf("Walk problems %v, want d/pipe with kind %v", res.Problems, connectors.Invalid)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Open(t.Context(), "d/pipe", 0, -1)
		done <- err
	}()
	select {
	case err := <-done:
		wantKind(t, `Open("d/pipe")`, err, connectors.Invalid)
	case <-time.After(5 * time.Second):
		t.Fatal("Open of a fifo blocked")
	}
}

// TestUnreadableFolder checks that a folder Walk cannot open is reported
// with kind Permission and the walk carries on. Permission bits do not stop
// root, so as root the walk runs in a copy of the test binary started as
// user nobody.
func TestUnreadableFolder(t *testing.T) {
	base, err := os.MkdirTemp("", "dovetail-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(filepath.Join(base, "root/locked"), 0o755)
		os.RemoveAll(base)
	})
	root := filepath.Join(base, "root")
	writeFile(t, filepath.Join(root, "a/file"), "a")
	writeFile(t, filepath.Join(root, "locked/inside"), "hidden")
	writeFile(t, filepath.Join(root, "z/file"), "z")
	for _, d := range []string{base, root, filepath.Join(root, "a"), filepath.Join(root, "z")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}

	var res walkResult
	if os.Geteuid() != 0 {
		res = walkAll(t, newConn(t, root, local.Options{}), "")
	} else {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(base, "walker.test")
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-test.run=^TestUnreadableFolderHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "DOVETAIL_TEST_WALK_ROOT="+root)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("walking as user nobody: %v\n%s%s", err, out, stderr.Bytes())
		}
		line := out[bytes.IndexByte(out, '{'):]
		line = line[:bytes.IndexByte(line, '\n')]
		if err := json.Unmarshal(line, &res); err != nil {
			t.Fatalf("helper output %q: %v", out, err)
		}
	}
	want := []string{"a", "a/file", "locked", "z", "z/file"}
	if !slices.Equal(res.Entries, want) {
		t.Errorf("Walk listed %q, want %q", res.Entries, want)
	}
	if k, ok := res.Problems["locked"]; !ok || k != connectors.Permission || len(res.Problems) != 1 {
		t.Errorf("Walk problems %v, want locked with kind %v", res.Problems, connectors.Permission)
	}
}

// TestUnreadableFolderHelper is TestUnreadableFolder's walk when it runs as
// another user; on its own it skips.
func TestUnreadableFolderHelper(t *testing.T) {
	root := os.Getenv("DOVETAIL_TEST_WALK_ROOT")
	if root == "" {
		t.Skip("helper process for TestUnreadableFolder")
	}
	res := walkAll(t, newConn(t, root, local.Options{}), "")
	b, _ := json.Marshal(res)
	os.Stdout.Write(append(b, '\n'))
}

func TestPutKeepsReplacedContentInTrash(t *testing.T) {
	root := t.TempDir()
	trash := filepath.Join(root, ".dovetail", "trash")
	c := newConn(t, root, local.Options{TrashDir: trash})
	ctx := t.Context()
	old := time.Date(2020, 5, 6, 7, 8, 9, 10, time.UTC)
	for _, v := range []string{"one", "two", "three"} {
		if _, err := c.Put(ctx, "docs/report.txt", strings.NewReader(v), connectors.PutOptions{Size: int64(len(v)), ModTime: old}); err != nil {
			t.Fatal(err)
		}
	}
	runs := listDir(t, trash)
	if len(runs) != 1 {
		t.Fatalf("trash holds %q, want one run folder", runs)
	}
	dir := filepath.Join(trash, runs[0], "docs")
	for name, want := range map[string]string{"report.txt": "one", "report (1).txt": "two"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Errorf("trash %s = %q, %v; want %q", name, b, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "docs/report.txt")); string(b) != "three" {
		t.Errorf("file holds %q", b)
	}
	// The trash is neither listed nor writable through the connector.
	res := walkAll(t, c, "")
	if !slices.Equal(res.Entries, []string{"docs", "docs/report.txt"}) {
		t.Errorf("Walk listed %q", res.Entries)
	}
	_, err := c.Put(ctx, ".dovetail/trash/x", strings.NewReader("x"), connectors.PutOptions{Size: 1})
	wantKind(t, "Put into the trash", err, connectors.Invalid)
	if c.TrashPath() != trash {
		t.Errorf("TrashPath() = %q", c.TrashPath())
	}
}

func TestTrashCollision(t *testing.T) {
	root, trash := t.TempDir(), filepath.Join(t.TempDir(), "trash")
	c := newConn(t, root, local.Options{TrashDir: trash})
	ctx := t.Context()
	mtime := time.Date(2019, 1, 2, 3, 4, 5, 123456789, time.UTC)
	for i, v := range []string{"first", "second", "third"} {
		if _, err := c.Put(ctx, "a/r.txt", strings.NewReader(v), connectors.PutOptions{Size: int64(len(v)), ModTime: mtime}); err != nil {
			t.Fatal(err)
		}
		if err := c.Trash(ctx, "a/r.txt"); err != nil {
			t.Fatalf("Trash %d: %v", i, err)
		}
	}
	runs := listDir(t, trash)
	if len(runs) != 1 {
		t.Fatalf("trash holds %q", runs)
	}
	dir := filepath.Join(trash, runs[0], "a")
	got := listDir(t, dir)
	want := []string{"r (1).txt", "r (2).txt", "r.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("trash folder holds %q, want %q", got, want)
	}
	for name, v := range map[string]string{"r.txt": "first", "r (1).txt": "second", "r (2).txt": "third"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		fi, _ := os.Stat(filepath.Join(dir, name))
		if string(b) != v || !fi.ModTime().Equal(mtime) {
			t.Errorf("%s holds %q from %v, want %q from %v", name, b, fi.ModTime(), v, mtime)
		}
	}
	if res := walkAll(t, c, ""); !slices.Equal(res.Entries, []string{"a"}) {
		t.Errorf("Walk listed %q", res.Entries)
	}
	wantKind(t, "Trash of a folder", c.Trash(ctx, "a"), connectors.Invalid)
}

func TestPurgeTrash(t *testing.T) {
	root, trash := t.TempDir(), filepath.Join(t.TempDir(), "trash")
	c := newConn(t, root, local.Options{TrashDir: trash})
	if _, err := c.Put(t.Context(), "f", strings.NewReader("x"), connectors.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Trash(t.Context(), "f"); err != nil {
		t.Fatal(err)
	}
	current := listDir(t, trash)[0]
	writeFile(t, filepath.Join(trash, "20000101-000000/old/file"), "old")
	writeFile(t, filepath.Join(trash, "20010101-000000/older"), "old")
	writeFile(t, filepath.Join(trash, "20990101-000000/future"), "new")
	writeFile(t, filepath.Join(trash, "not-a-stamp/keep"), "keep")
	n, err := c.PurgeTrash(time.Now().Add(time.Hour))
	if err != nil || n != 2 {
		t.Errorf("PurgeTrash = %d, %v; want 2 removed", n, err)
	}
	want := []string{"20990101-000000", current, "not-a-stamp"}
	slices.Sort(want)
	if got := listDir(t, trash); !slices.Equal(got, want) {
		t.Errorf("trash holds %q, want %q", got, want)
	}
	if n, err := newConn(t, root, local.Options{}).PurgeTrash(time.Now()); n != 0 || err != nil {
		t.Errorf("PurgeTrash without a trash = %d, %v", n, err)
	}
}

func TestRecoverRemovesDebris(t *testing.T) {
	root := t.TempDir()
	c := newConn(t, root, local.Options{})
	writeFile(t, filepath.Join(root, "d/f.txt"), "keep")
	writeFile(t, filepath.Join(root, "d/.dovetail.tmp.f.txt.0123456789ab"), "debris")
	writeFile(t, filepath.Join(root, "d/.dovetail.tmp.f.txt.0123456789ac"), "debris")
	writeFile(t, filepath.Join(root, "d/.dovetail.tmp.f.txt.x.0123456789ab"), "another file's")
	if res := walkAll(t, c, ""); !slices.Equal(res.Entries, []string{"d", "d/f.txt"}) {
		t.Errorf("Walk listed %q; temporary files must not show", res.Entries)
	}
	for range 2 {
		if err := c.Recover(t.Context(), "d/f.txt"); err != nil {
			t.Fatalf("Recover: %v", err)
		}
	}
	if got := listDir(t, filepath.Join(root, "d")); !slices.Equal(got, []string{".dovetail.tmp.f.txt.x.0123456789ab", "f.txt"}) {
		t.Errorf("after Recover the folder holds %q", got)
	}
	if err := c.Recover(t.Context(), "missing/f"); err != nil {
		t.Errorf("Recover below a missing folder: %v", err)
	}
}

func TestFailedPutLeavesNoTempFile(t *testing.T) {
	root := t.TempDir()
	c := newConn(t, root, local.Options{})
	ctx := t.Context()
	writeFile(t, filepath.Join(root, "d/old"), "old")
	boom := errors.New("boom")
	for _, p := range []string{"d/old", "d/new"} {
		r := io.MultiReader(strings.NewReader(strings.Repeat("x", 300<<10)), iotestErr{boom})
		if _, err := c.Put(ctx, p, r, connectors.PutOptions{Size: -1}); !errors.Is(err, boom) {
			t.Errorf("Put(%s) from a failing reader: %v", p, err)
		}
		if _, err := c.Put(ctx, p, strings.NewReader("short"), connectors.PutOptions{Size: 10}); err == nil {
			t.Errorf("short Put(%s) succeeded", p)
		}
	}
	if got := listDir(t, filepath.Join(root, "d")); !slices.Equal(got, []string{"old"}) {
		t.Errorf("folder holds %q after failed Puts", got)
	}
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestModTimeNanoseconds(t *testing.T) {
	root := t.TempDir()
	c := newConn(t, root, local.Options{})
	mtime := time.Date(2023, 7, 8, 9, 10, 11, 987654321, time.UTC)
	e, err := c.Put(t.Context(), "f", strings.NewReader("x"), connectors.PutOptions{Size: 1, ModTime: mtime})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) || !e.ModTime.Equal(mtime) {
		t.Errorf("stored %v, returned %v, want %v", fi.ModTime(), e.ModTime, mtime)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if want := filepathID(st); e.ID != want {
		t.Errorf("ID = %q, want %q", e.ID, want)
	}
}

func filepathID(st *syscall.Stat_t) string {
	return strings.Join([]string{uitoa(uint64(st.Dev)), uitoa(st.Ino)}, ":")
}

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "not-mounted")
	c := newConn(t, root, local.Options{})
	ctx := t.Context()
	err := c.Walk(ctx, "", func(connectors.Entry) error { return nil }, func(string, error) {})
	wantKind(t, "Walk on a missing root", err, connectors.NotFound)
	_, err = c.Stat(ctx, "")
	wantKind(t, "Stat on a missing root", err, connectors.NotFound)
	_, err = c.Put(ctx, "f", strings.NewReader("x"), connectors.PutOptions{Size: 1})
	wantKind(t, "Put on a missing root", err, connectors.NotFound)
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing root was created: %v", err)
	}
	if _, err := local.New("", local.Options{}); err == nil {
		t.Error("New with an empty root succeeded")
	}
	if _, err := local.New(root, local.Options{TrashDir: "relative/trash"}); err == nil {
		t.Error("New with a relative trash folder succeeded")
	}
}

func TestPutKeepsPermissions(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "script"), "old")
	os.Chmod(filepath.Join(root, "script"), 0o750)
	c := newConn(t, root, local.Options{})
	if _, err := c.Put(t.Context(), "script", strings.NewReader("new"), connectors.PutOptions{Size: 3}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(root, "script"))
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("mode after Put = %v, want 0750", fi.Mode().Perm())
	}
}
