package webdav_test

import (
	"fmt"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/webdav"
	"github.com/dovetail-sync/dovetail/connectors/webdav/webdavtest"
)

// TestConformance runs the suite against Apache mod_dav, the real server,
// and against golang.org/x/net/webdav, which differs in ETags, If headers
// and depth. Each subtest gets its own root folder on one server.
func TestConformance(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *webdavtest.Server{
		"Apache":  webdavtest.Start,
		"XNetDAV": webdavtest.StartGo,
	} {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			n := 0
			conformance.Run(t, func(t *testing.T) connectors.Connector {
				n++
				return connect(t, srv.Config(fmt.Sprintf("c%03d", n)))
			})
		})
	}
}

// connect returns a connector for cfg, closed when the test ends.
func connect(t testing.TB, cfg webdav.Config) *webdav.Conn {
	t.Helper()
	c, err := webdav.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
