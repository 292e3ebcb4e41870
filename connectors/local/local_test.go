package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/local"
)

func TestConformance(t *testing.T) {
	t.Run("TrashInsideRoot", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) connectors.Connector {
			root := t.TempDir()
			return newConn(t, root, local.Options{TrashDir: filepath.Join(root, ".dovetail", "trash")}).Connector()
		})
	})
	t.Run("TrashOutsideRoot", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) connectors.Connector {
			return newConn(t, t.TempDir(), local.Options{TrashDir: filepath.Join(t.TempDir(), "trash")}).Connector()
		})
	})
	t.Run("NoTrash", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) connectors.Connector {
			return newConn(t, t.TempDir(), local.Options{}).Connector()
		})
	})
}

// byElements makes newConn return connectors that resolve paths without
// openat2(2), as on old kernels. TestWithoutOpenat2 runs every test again
// in a copy of the test binary with it set.
var byElements = os.Getenv("DOVETAIL_TEST_NO_OPENAT2") != ""

func newConn(t *testing.T, root string, opts local.Options) *local.Conn {
	t.Helper()
	c, err := local.New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	if byElements {
		local.WithoutOpenat2(c)
	}
	return c
}

// TestWithoutOpenat2 runs all the other tests (conformance and behaviour)
// again with paths resolved one element at a time, the fallback for kernels
// without openat2(2).
func TestWithoutOpenat2(t *testing.T) {
	if byElements {
		t.Skip("this run is the one without openat2")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^Test", "-test.skip=^TestWithoutOpenat2$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.CommandContext(t.Context(), exe, args...)
	cmd.Env = append(os.Environ(), "DOVETAIL_TEST_NO_OPENAT2=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests without openat2: %v\n%s", err, out)
	}
	t.Logf("tests without openat2:\n%s", out)
}

func TestResolverInUse(t *testing.T) {
	c := newConn(t, t.TempDir(), local.Options{})
	if _, err := c.Stat(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	got := local.UsesOpenat2(c)
	if !got && !byElements {
		t.Skip("this kernel has no openat2(2): every run resolves paths without it")
	}
	if got == byElements {
		t.Errorf("UsesOpenat2 = %v with DOVETAIL_TEST_NO_OPENAT2=%q", got, os.Getenv("DOVETAIL_TEST_NO_OPENAT2"))
	}
}

// A few writes are flushed file by file; only a big batch (or a trash
// outside the root) costs a syncfs of the whole file system.
func TestSyncTargetsSmallBatches(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	c := newConn(t, root, local.Options{TrashDir: filepath.Join(root, ".dovetail", "trash")})
	put := func(p, data string) {
		t.Helper()
		if _, err := c.Put(ctx, p, strings.NewReader(data), connectors.PutOptions{Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
	}
	before := local.SyncfsCalls()
	put("a.txt", "a")
	put("d/b.txt", "b")
	put("a.txt", "a2") // an overwrite: the old content goes to the trash inside the root
	if _, err := c.Move(ctx, "d/b.txt", "e/b.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := local.SyncfsCalls() - before; n != 0 {
		t.Errorf("a sync after 4 writes called syncfs %d times, want 0 (fsync of each path)", n)
	}
	for i := range 100 {
		put(fmt.Sprintf("many/%03d", i), "x")
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := local.SyncfsCalls() - before; n != 1 {
		t.Errorf("a sync after 100 writes called syncfs %d times, want 1", n)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := local.SyncfsCalls() - before; n != 1 {
		t.Errorf("a sync with nothing written called syncfs again (%d)", n)
	}
}
