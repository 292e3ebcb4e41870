package local_test

import (
	"path/filepath"
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

func newConn(t *testing.T, root string, opts local.Options) *local.Conn {
	t.Helper()
	c, err := local.New(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
