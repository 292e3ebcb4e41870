package mem_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/mem"
)

func TestConformance(t *testing.T) {
	for name, opts := range map[string]mem.Options{
		"default":         {},
		"CaseInsensitive": {CaseInsensitive: true, Hash: connectors.MD5},
		"NoMoveNoTrash":   {NoMove: true, NoTrash: true, NoHash: true},
		"NoMove":          {NoMove: true, Hash: connectors.SHA1},
		"NoTrash":         {NoTrash: true},
		"NoSetModTime":    {NoSetModTime: true},
		"Seconds":         {ModTimePrecision: time.Second, CaseInsensitive: true},
	} {
		t.Run(name, func(t *testing.T) {
			conformance.Run(t, func(t *testing.T) connectors.Connector {
				return mem.New(opts).Connector()
			})
		})
	}
}

func TestNoMoveHidesMethods(t *testing.T) {
	c := mem.New(mem.Options{NoMove: true, NoTrash: true}).Connector()
	if _, ok := c.(connectors.Mover); ok {
		t.Error("NoMove connector implements Mover")
	}
	if _, ok := c.(connectors.Trasher); ok {
		t.Error("NoTrash connector implements Trasher")
	}
	if _, ok := c.(connectors.Hasher); !ok {
		t.Error("wrapped connector lost Hasher")
	}
	// The engine's fallback copies and deletes.
	ctx := t.Context()
	if _, err := c.Put(ctx, "a", strings.NewReader("x"), connectors.PutOptions{Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := connectors.Move(ctx, c, "a", "b"); err != nil {
		t.Fatalf("fallback Move: %v", err)
	}
	if _, err := c.Stat(ctx, "b"); err != nil {
		t.Errorf("after fallback Move: %v", err)
	}
}

func TestHook(t *testing.T) {
	c := mem.New(mem.Options{})
	ctx := t.Context()
	if err := c.WriteFile("dir/f", []byte("data"), time.Now()); err != nil {
		t.Fatal(err)
	}
	var calls []string
	c.SetHook(func(op, path string) error {
		calls = append(calls, op+" "+path)
		switch {
		case op == "put" && path == "dir/full":
			return &connectors.Error{Kind: connectors.NoSpace}
		case op == "open":
			return errors.New("plain failure")
		case op == "delete":
			return fs.ErrPermission
		}
		return nil
	})
	_, err := c.Put(ctx, "dir/full", strings.NewReader("x"), connectors.PutOptions{Size: 1})
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Kind != connectors.NoSpace || ce.Op != "put" || ce.Path != "dir/full" {
		t.Errorf("Put with a NoSpace hook: %#v", err)
	}
	if _, err := c.Open(ctx, "dir/f", 0, -1); connectors.KindOf(err) != connectors.Unknown || err == nil {
		t.Errorf("Open with a failing hook: %v", err)
	}
	if err := c.Delete(ctx, "dir/f", ""); connectors.KindOf(err) != connectors.Permission {
		t.Errorf("Delete with a permission hook: %v", err)
	}
	if _, err := c.Stat(ctx, "dir/f"); err != nil {
		t.Errorf("Stat with a passing hook: %v", err)
	}
	want := []string{"put dir/full", "open dir/f", "delete dir/f", "stat dir/f"}
	if !slices.Equal(calls, want) {
		t.Errorf("hook saw %q, want %q", calls, want)
	}
	if _, ok := c.Files()["dir/full"]; ok {
		t.Error("failed Put stored a file")
	}
	c.SetHook(nil)
	if err := c.Delete(ctx, "dir/f", ""); err != nil {
		t.Errorf("Delete after removing the hook: %v", err)
	}
}

func TestReadFault(t *testing.T) {
	c := mem.New(mem.Options{})
	data := bytes.Repeat([]byte("0123456789"), 10)
	if err := c.WriteFile("f", data, time.Now()); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("connection dropped")
	c.SetReadFault("f", 42, boom)
	r, err := c.Open(t.Context(), "f", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) || len(got) != 42 || !bytes.Equal(got, data[:42]) {
		t.Errorf("read %d bytes then %v; want 42 bytes then %v", len(got), err, boom)
	}
	r, _ = c.Open(t.Context(), "f", 40, 10)
	got, err = io.ReadAll(r)
	if !errors.Is(err, boom) || !bytes.Equal(got, data[40:42]) {
		t.Errorf("ranged read gave %q, %v", got, err)
	}
	if _, err := connectors.HashOf(t.Context(), withoutHasher{c}, "f", connectors.SHA256); !errors.Is(err, boom) {
		t.Errorf("hashing by reading gave %v", err)
	}
	c.SetReadFault("f", 0, nil)
	r, _ = c.Open(t.Context(), "f", 0, -1)
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after clearing the fault: %d bytes, %v", len(got), err)
	}
}

type withoutHasher struct{ connectors.Connector }

func TestTrashKeepsContent(t *testing.T) {
	c := mem.New(mem.Options{})
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	c.WriteFile("a/b", []byte("old"), mtime)
	if err := c.Trash(t.Context(), "a/b"); err != nil {
		t.Fatal(err)
	}
	got := c.Trashed()
	if len(got) != 1 || got[0].Path != "a/b" || string(got[0].Data) != "old" || !got[0].ModTime.Equal(mtime) {
		t.Errorf("Trashed() = %+v", got)
	}
	if err := c.Trash(t.Context(), "a"); connectors.KindOf(err) != connectors.Invalid {
		t.Errorf("Trash of a folder: %v", err)
	}
}

func TestHelpers(t *testing.T) {
	c := mem.New(mem.Options{CaseInsensitive: true})
	now := time.Now()
	c.WriteFile("Docs/Report.txt", []byte("r"), now)
	c.WriteFile("docs/sub/x", []byte("x"), now)
	if got := c.Dirs(); !slices.Equal(got, []string{"Docs", "Docs/sub"}) {
		t.Errorf("Dirs() = %q", got)
	}
	files := c.Files()
	if len(files) != 2 || string(files["Docs/Report.txt"]) != "r" || string(files["Docs/sub/x"]) != "x" {
		t.Errorf("Files() = %q", files)
	}
	if b, err := c.ReadFile("DOCS/REPORT.TXT"); err != nil || string(b) != "r" {
		t.Errorf("ReadFile in another case = %q, %v", b, err)
	}
	if _, err := c.ReadFile("nope"); !connectors.IsNotFound(err) {
		t.Errorf("ReadFile(nope) = %v", err)
	}
	if err := c.WriteFile("docs/report.txt/x", nil, now); err == nil {
		t.Error("WriteFile below a file succeeded")
	}
	if err := c.Remove("docs"); err != nil {
		t.Fatal(err)
	}
	if len(c.Files()) != 0 || len(c.Dirs()) != 0 {
		t.Errorf("Remove left %q %q", c.Files(), c.Dirs())
	}
	if err := c.Remove("docs"); !connectors.IsNotFound(err) {
		t.Errorf("second Remove = %v", err)
	}
}

func TestRevAndID(t *testing.T) {
	c := mem.New(mem.Options{})
	ctx := t.Context()
	e1, _ := c.Put(ctx, "f", strings.NewReader("a"), connectors.PutOptions{Size: 1})
	e2, _ := c.Put(ctx, "f", strings.NewReader("a"), connectors.PutOptions{Size: 1})
	if e1.Rev == e2.Rev || e1.ID != e2.ID {
		t.Errorf("rewrite: rev %q -> %q, id %q -> %q; want a new rev, the same id", e1.Rev, e2.Rev, e1.ID, e2.ID)
	}
	m, _ := c.Move(ctx, "f", "g")
	if m.Rev != e2.Rev || m.ID != e2.ID {
		t.Errorf("move changed rev or id: %+v -> %+v", e2, m)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := mem.New(mem.Options{})
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				p := fmt.Sprintf("d%d/f%d", i%3, j%5)
				c.Put(ctx, p, strings.NewReader("data"), connectors.PutOptions{Size: 4})
				c.Walk(ctx, "", func(connectors.Entry) error { return nil }, func(string, error) {})
				c.Stat(ctx, p)
				c.Move(ctx, p, p+".moved")
				c.Trash(ctx, p+".moved")
				c.Files()
			}
		})
	}
	wg.Wait()
}
