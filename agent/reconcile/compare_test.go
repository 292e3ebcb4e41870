package reconcile

import (
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors"
)

// A side whose Rev tracks the content reports a same-size file renamed
// over another within the same second as changed; other sides cannot.
func TestRevTracksContent(t *testing.T) {
	now := time.Unix(1000, 0)
	b := &Base{Size: 3, Hash: "h1", Meta: [2]Meta{{ModTime: now, Rev: "l1"}, {ModTime: now, Rev: "e1"}}}
	tracks := Options{}
	tracks.RevTracksContent[Remote] = true
	hashMode := tracks
	hashMode.Compare = CompareHash
	for _, c := range []struct {
		name string
		rev  string
		hash string
		o    Options
		want verdict
	}{
		{"new rev, side does not track content", "e2", "", Options{}, same},
		{"new rev, side tracks content", "e2", "", tracks, different},
		{"same rev", "e1", "", tracks, same},
		{"no rev listed", "", "", tracks, same},
		{"hash mode: new rev, same content", "e2", "h1", hashMode, same},
		{"hash mode: new rev, new content", "e2", "h2", hashMode, different},
		{"hash mode: new rev, hash unknown", "e2", "", hashMode, undecided},
	} {
		e := &connectors.Entry{Kind: connectors.File, Size: 3, ModTime: now, Rev: c.rev, Hash: c.hash}
		if got := changedVerdict(b, e, Remote, c.o); got != c.want {
			t.Errorf("%s: verdict %v, want %v", c.name, got, c.want)
		}
	}
}
