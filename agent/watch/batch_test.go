package watch

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// op is one event fed to a pending batch in a table case.
type op struct {
	path   string
	rescan string // when set, a rescan of this subtree instead of a path
	fresh  bool
	gone   bool
}

func TestPendingTake(t *testing.T) {
	gone := func(rel string, st pathState) bool { return st&(stFresh|stGone) == stFresh|stGone }
	cases := []struct {
		name       string
		ops        []op
		drop       func(string, pathState) bool
		wantPaths  []string
		wantRescan []string
		wantReason string
	}{
		{
			name:      "paths are sorted and unique",
			ops:       []op{{path: "b"}, {path: "a/x"}, {path: "b"}, {path: "a"}},
			wantPaths: []string{"a", "a/x", "b"},
		},
		{
			name:       "a path under a rescan folds into it, whatever the order",
			ops:        []op{{path: "d/x"}, {rescan: "d"}, {path: "d/y"}, {path: "d"}, {path: "dd/z"}},
			wantPaths:  []string{"dd/z"},
			wantRescan: []string{"d"},
			wantReason: ReasonNewFolder,
		},
		{
			name: "nested rescans keep the outer one, even with names that sort between",
			ops: []op{{rescan: "a/b/c"}, {rescan: "a b"}, {rescan: "a/b"}, {rescan: "a"},
				{rescan: "a.x"}},
			wantRescan: []string{"a", "a b", "a.x"},
			wantReason: ReasonNewFolder,
		},
		{
			name:       "the whole root swallows everything",
			ops:        []op{{path: "x"}, {rescan: "d"}, {rescan: ""}, {path: "y"}},
			wantRescan: []string{""},
			wantReason: ReasonNewFolder,
		},
		{
			name: "a fresh path gone again is offered to drop; one that existed before is not",
			ops: []op{
				{path: "tmp", fresh: true}, {path: "tmp", gone: true},
				{path: "old", gone: true},
				{path: "replaced"}, {path: "replaced", gone: true}, // first event not a fresh create
				{path: "back", fresh: true}, {path: "back", gone: true}, {path: "back"},
			},
			drop:      gone,
			wantPaths: []string{"back", "old", "replaced"},
		},
		{
			name: "a later fresh create does not make an existing path fresh",
			ops:  []op{{path: "f"}, {path: "f", fresh: true}, {path: "f", gone: true}},
			drop: gone, wantPaths: []string{"f"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newPending(100, 100)
			now := time.Unix(1000, 0)
			for _, o := range tc.ops {
				if o.path == "" {
					p.addRescan(now, o.rescan, ReasonNewFolder)
				} else {
					p.addPath(now, o.path, o.fresh, o.gone)
				}
			}
			b, ok := p.take(tc.drop)
			if want := len(tc.wantPaths)+len(tc.wantRescan) > 0; ok != want {
				t.Fatalf("take ok = %v, want %v", ok, want)
			}
			if !slices.Equal(b.Paths, tc.wantPaths) || !slices.Equal(b.Rescan, tc.wantRescan) || b.Reason != tc.wantReason {
				t.Errorf("got paths %q rescan %q reason %q\nwant paths %q rescan %q reason %q",
					b.Paths, b.Rescan, b.Reason, tc.wantPaths, tc.wantRescan, tc.wantReason)
			}
			if !p.empty() {
				t.Errorf("pending not empty after take")
			}
			if b, ok := p.take(nil); ok {
				t.Errorf("second take returned %+v", b)
			}
		})
	}
}

func TestPendingCollapse(t *testing.T) {
	now := time.Unix(1000, 0)
	t.Run("too many paths become rescans of their folders", func(t *testing.T) {
		p := newPending(10, 100)
		for i := range 12 {
			p.addPath(now, fmt.Sprintf("d%d/f%d", i%3, i), false, false)
		}
		p.addPath(now, "d1/late", false, false) // under a rescan now
		p.addPath(now, "top", false, false)
		b, _ := p.take(nil)
		if want := []string{"d0", "d1", "d2"}; !slices.Equal(b.Rescan, want) || !slices.Equal(b.Paths, []string{"top"}) {
			t.Errorf("got paths %q rescan %q, want paths [top] rescan %q", b.Paths, b.Rescan, want)
		}
		if b.Reason != ReasonTooMany {
			t.Errorf("reason %q, want %q", b.Reason, ReasonTooMany)
		}
	})
	t.Run("too many folders become the whole root", func(t *testing.T) {
		p := newPending(10, 5)
		for i := range 11 {
			p.addPath(now, fmt.Sprintf("d%d/f", i), false, false)
		}
		b, _ := p.take(nil)
		if !slices.Equal(b.Rescan, []string{""}) || len(b.Paths) != 0 {
			t.Errorf("got paths %q rescan %q, want rescan [\"\"]", b.Paths, b.Rescan)
		}
	})
	t.Run("memory stays bounded in a storm", func(t *testing.T) {
		p := newPending(1000, 100)
		for i := range 200_000 {
			p.addPath(now, fmt.Sprintf("d%d/f%d", i%50, i), false, false)
			if len(p.paths) > 1000 || len(p.rescan) > 100 {
				t.Fatalf("after %d events: %d paths, %d rescans pending", i+1, len(p.paths), len(p.rescan))
			}
		}
	})
}

func TestPendingDue(t *testing.T) {
	p := newPending(10, 10)
	t0 := time.Unix(1000, 0)
	p.addPath(t0, "a", false, false)
	if got, want := p.due(100*time.Millisecond, time.Second), t0.Add(100*time.Millisecond); !got.Equal(want) {
		t.Errorf("due after one event = %v, want %v", got, want)
	}
	// Events every 50ms keep the quiet period from ending; MaxDelay caps it.
	for i := 1; i <= 30; i++ {
		p.addPath(t0.Add(time.Duration(i)*50*time.Millisecond), "a", false, false)
	}
	if got, want := p.due(100*time.Millisecond, time.Second), t0.Add(time.Second); !got.Equal(want) {
		t.Errorf("due in a storm = %v, want %v", got, want)
	}
}
