package namecode

import (
	"context"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/conformance"
	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/rules"
)

func windows(t *testing.T) *rules.RuleSet {
	rs, err := rules.Lookup("windows")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// The wrapped connector is a connector like any other.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) connectors.Connector {
		return New(mem.New(mem.Options{}), windows(t))
	})
	t.Run("no move, no trash", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T) connectors.Connector {
			return New(mem.New(mem.Options{NoMove: true, NoTrash: true}).Connector(), windows(t))
		})
	})
}

// A name the provider forbids is stored encoded and listed back as it was.
func TestForbiddenNameRoundTrips(t *testing.T) {
	ctx := context.Background()
	inner := mem.New(mem.Options{})
	rs := windows(t)
	c := New(inner, rs)
	const name = `notes: draft?.txt`
	if _, err := c.Put(ctx, name, stringsReader("x"), connectors.PutOptions{Size: 1, ModTime: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	stored := ""
	for p := range inner.Files() {
		stored = p
	}
	if stored == name || rs.Check(stored, false, 1) != nil {
		t.Errorf("stored as %q, which the provider cannot hold", stored)
	}
	var listed []string
	c.Walk(ctx, "", func(e connectors.Entry) error { listed = append(listed, e.Path); return nil }, func(string, error) {})
	if len(listed) != 1 || listed[0] != name {
		t.Errorf("listed %q, want %q", listed, name)
	}
	// A name that was fine is stored as it is.
	c.Put(ctx, "plain.txt", stringsReader("y"), connectors.PutOptions{Size: 1})
	if _, err := inner.ReadFile("plain.txt"); err != nil {
		t.Errorf("plain name was changed: %v", err)
	}
}
