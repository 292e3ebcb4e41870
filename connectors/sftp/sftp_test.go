package sftp_test

import (
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/sftp"
	"github.com/dovetail-sync/dovetail/connectors/sftp/sftptest"
)

// open opens a connector, closed when t ends.
func open(t testing.TB, cfg sftp.Config) *sftp.Conn {
	t.Helper()
	c, err := sftp.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New(%v): %v", cfg, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// connect opens a connector and makes its root folder.
func connect(t testing.TB, cfg sftp.Config) *sftp.Conn {
	t.Helper()
	c := open(t, cfg)
	if _, err := c.Mkdir(t.Context(), ""); err != nil {
		t.Fatalf("Mkdir(root): %v", err)
	}
	return c
}

// TestConformance runs the connector suite against OpenSSH's sshd.
func TestConformance(t *testing.T) {
	srv := sftptest.Start(t)
	conformance.Run(t, func(t *testing.T) connectors.Connector {
		return connect(t, srv.Config(t.Name()))
	})
}
