package s3_test

import (
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/s3"
	"github.com/dovetail-sync/dovetail/connectors/s3/s3test"
)

// config returns the Config of srv's URL for sub, with the test
// credentials filled in and then changed by mods.
func config(t testing.TB, srv *s3test.Server, sub string, mods ...func(*s3.Config)) s3.Config {
	t.Helper()
	u, err := url.Parse(srv.URL(sub))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s3.ParseURL(u)
	if err != nil {
		t.Fatalf("ParseURL(%s): %v", u, err)
	}
	cfg.AccessKeyID, cfg.SecretAccessKey = s3test.AccessKey, s3test.SecretKey
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

func connect(t testing.TB, cfg s3.Config) *s3.Conn {
	t.Helper()
	c, err := s3.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var subs atomic.Int64

// fresh returns a connector on a new, empty folder of srv.
func fresh(t testing.TB, srv *s3test.Server, mods ...func(*s3.Config)) *s3.Conn {
	t.Helper()
	c, _ := freshAt(t, srv, mods...)
	return c
}

// freshAt is fresh that also returns the folder's key prefix.
func freshAt(t testing.TB, srv *s3test.Server, mods ...func(*s3.Config)) (*s3.Conn, string) {
	t.Helper()
	sub := fmt.Sprintf("root%d", subs.Add(1))
	return connect(t, config(t, srv, sub, mods...)), sub
}

func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	for name, mod := range map[string]func(*s3.Config){
		"metadata-mtime": func(*s3.Config) {},
		"server-mtime":   func(c *s3.Config) { c.ServerModTime = true },
		// Small parts so the suite's large files go through multipart.
		"multipart": func(c *s3.Config) { c.MultipartThreshold = 1 << 20; c.PartSize = 5 << 20; c.Concurrency = 2 },
	} {
		t.Run(name, func(t *testing.T) {
			conformance.Run(t, func(t *testing.T) connectors.Connector { return fresh(t, srv, mod) })
		})
	}
}

func TestConformanceBucketRoot(t *testing.T) {
	srv := s3test.Start(t)
	conformance.Run(t, func(t *testing.T) connectors.Connector {
		c := connect(t, config(t, srv, ""))
		t.Cleanup(func() { emptyBucket(t, srv) })
		return c
	})
}
