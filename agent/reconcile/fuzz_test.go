package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/dovetail-sync/dovetail/connectors"
)

var fuzzPaths = []string{"a", "b", "a/x", "a/y", "b/z", "a/x/q", "c", "A", "b/z/w"}

// mutate applies one user change, described by two bytes, to side s. It
// keeps the tree well-formed (no file with children), as a file system is.
func mutate(w *world, s Side, op, arg byte, n int) {
	m := w.side[s]
	path := fuzzPaths[int(arg)%len(fuzzPaths)]
	fileAncestor := func(p string) bool {
		for d := connectors.Parent(p); d != ""; d = connectors.Parent(d) {
			if x, ok := m[d]; ok && !x.dir {
				return true
			}
		}
		return false
	}
	switch op % 5 {
	case 0: // write a file
		if fileAncestor(path) {
			return
		}
		if x, ok := m[path]; ok && x.dir {
			w.remove(s, path)
		}
		w.put(s, path, fmt.Sprintf("c%d%s", n, s))
	case 1: // delete
		w.remove(s, path)
	case 2: // make a folder
		if fileAncestor(path) {
			return
		}
		if x, ok := m[path]; ok && !x.dir {
			w.remove(s, path)
		}
		w.mkdirAll(s, path)
	case 3: // rename
		to := fuzzPaths[int(arg/16)%len(fuzzPaths)]
		if _, ok := m[path]; !ok || connectors.Within(to, path) || connectors.Within(path, to) || fileAncestor(to) {
			return
		}
		if _, ok := m[to]; ok {
			return
		}
		w.rename(s, path, to)
	case 4: // touch
		if x, ok := m[path]; ok && !x.dir {
			x.mtime = w.tick()
			m[path] = x
		}
	}
}

func FuzzReconcile(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 2, 1, 3})
	f.Add([]byte{1, 0, 2, 0, 5, 3, 0x21, 1, 0, 0, 2, 0, 7})
	f.Add([]byte{4, 2, 3, 1, 3, 0x10, 0, 0, 1})
	f.Add([]byte{9, 1, 2, 1, 5, 2, 5, 0, 5, 1, 5})
	f.Add([]byte{0, 5, 0, 0, 0, 1, 0, 2, 3, 0x51, 0, 3, 1, 5, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		cfg := data[0]
		w := newWorld()
		w.opts = Options{
			Direction: Direction(cfg % 3),
			Conflict:  Policy(cfg / 3 % 3),
			Compare:   Compare(cfg / 9 % 2),
		}
		w.hashes = cfg/18%2 == 1
		nInit := int(data[1] % 8)
		data = data[2:]
		// Build a synced starting tree from the first pairs, then let each
		// side change independently.
		n := 0
		for ; n < nInit && len(data) >= 2; n++ {
			mutate(w, Local, data[0]%3, data[1], n)
			data = data[2:]
		}
		for p, x := range w.side[Local] {
			x.id = w.id()
			w.side[Remote][p] = x
		}
		for p := range w.side[Local] {
			if err := w.recordBase(p); err != nil {
				t.Fatal(err)
			}
		}
		for ; len(data) >= 3; n++ {
			mutate(w, Side(data[0]%2), data[1], data[2], n)
			data = data[3:]
		}
		var baseDump []string
		for p, b := range w.base {
			baseDump = append(baseDump, fmt.Sprintf("%s(dir=%v,%s/%s)", p, b.Dir, b.Meta[0].ID, b.Meta[1].ID))
		}
		slices.Sort(baseDump)
		before := w.contents()
		startL, startR := w.tree(Local), w.tree(Remote)
		plan, err := w.sync()
		if err != nil {
			t.Fatalf("%v\nopts %+v\nbase: %v\nlocal:  %s\nremote: %s\nplan:\n%s", err, w.opts, baseDump, startL, startR, dump(plan))
		}
		lt, rt := w.tree(Local), w.tree(Remote)
		ctx := fmt.Sprintf("opts %+v\nstart local:  %s\nstart remote: %s\nend local:  %s\nend remote: %s\nplan:\n%s", w.opts, startL, startR, lt, rt, dump(plan))
		after := w.contents()
		for d := range before {
			if !after[d] {
				t.Fatalf("content %q lost\n%s", d, ctx)
			}
		}
		switch w.opts.Direction {
		case TwoWay:
			if lt != rt {
				t.Fatalf("sides differ\n%s", ctx)
			}
		case UploadOnly:
			if lt != startL {
				t.Fatalf("upload-only changed the local side\n%s", ctx)
			}
		case DownloadOnly:
			if rt != startR {
				t.Fatalf("download-only changed the remote side\n%s", ctx)
			}
		}
		if again := w.plan(); len(again.Actions) != 0 {
			t.Fatalf("second run not empty:\n%s\n%s", dump(again), ctx)
		}
		for _, a := range plan.Actions {
			if strings.Contains(a.Path, "..") || connectors.ValidPath(a.Path) != nil {
				t.Fatalf("invalid path in plan: %v", a)
			}
		}
	})
}
