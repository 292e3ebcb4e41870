package s3_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors/s3/s3test"
)

// emptyBucket removes every object of the test bucket, through the file
// system that backs it.
func emptyBucket(t testing.TB, srv *s3test.Server) {
	t.Helper()
	entries, err := os.ReadDir(srv.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == ".sgwtmp" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(srv.Dir(), e.Name())); err != nil {
			t.Fatal(err)
		}
	}
}
