package resilient

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
	"github.com/dovetail-sync/dovetail/connectors/mem"
)

// feedMem is a mem connector with a change feed whose first call fails
// transiently and whose cursor "old" has expired.
type feedMem struct {
	*mem.Conn
	calls int
}

func (f *feedMem) Cursor(ctx context.Context) (string, error) { return "now", nil }

func (f *feedMem) Changes(ctx context.Context, cursor string) ([]string, string, error) {
	f.calls++
	if cursor == "old" {
		return nil, "", fmt.Errorf("cursor %q: %w", cursor, connectors.ErrCursorExpired)
	}
	if f.calls == 1 {
		return nil, "", connectors.Errorf(connectors.Transient, "changes", "", "connection reset")
	}
	return []string{"a"}, "next", nil
}

func TestChangeFeedForwarded(t *testing.T) {
	inner := &feedMem{Conn: mem.New(mem.Options{})}
	w := Wrap(inner, Options{Sleep: func(context.Context, time.Duration) error { return nil }})
	feed, ok := w.(connectors.ChangeFeed)
	if !ok {
		t.Fatal("the wrapper hides the connector's ChangeFeed")
	}
	if _, ok := Wrap(mem.New(mem.Options{}), Options{}).(connectors.ChangeFeed); ok {
		t.Fatal("the wrapper claims a ChangeFeed the connector lacks")
	}
	ctx := context.Background()
	paths, next, err := feed.Changes(ctx, "now")
	if err != nil || len(paths) != 1 || next != "next" || inner.calls != 2 {
		t.Errorf("Changes = %v, %q, %v after %d calls; want the retried answer", paths, next, err, inner.calls)
	}
	if _, _, err := feed.Changes(ctx, "old"); !errors.Is(err, connectors.ErrCursorExpired) {
		t.Errorf("expired cursor: %v, want ErrCursorExpired", err)
	}
}
