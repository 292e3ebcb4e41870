package reconcile

import (
	"strings"
	"testing"
)

const stamp = "20261123-101500"

type tcase struct {
	name   string
	base   []string // tree both sides hold after the last sync ("a/b=data", "dir" for a folder)
	first  bool     // no base: a first run over two pre-filled trees
	local  func(w *world)
	remote func(w *world)
	opts   Options
	hashes bool
	// want is the tree both sides must hold afterwards (two-way), or
	// wantLocal/wantRemote for one-way runs.
	want, wantLocal, wantRemote string
	// ops lists "op side path" strings that must appear in the plan;
	// noOps lists op names that must not.
	ops   []string
	noOps []string
}

func TestReconcile(t *testing.T) {
	cases := []tcase{
		{name: "nothing changed", base: []string{"a=1", "d/b=2"}, want: "a=1 d/ d/b=2", noOps: []string{"copy", "delete", "move", "mkdir", "record"}},
		{name: "new local file is uploaded", base: []string{"a=1"}, local: put("b", "2"), want: "a=1 b=2", ops: []string{"copy remote b"}},
		{name: "new remote file is downloaded", base: []string{"a=1"}, remote: put("d/e/b", "2"), want: "a=1 d/ d/e/ d/e/b=2", ops: []string{"mkdir local d", "mkdir local d/e", "copy local d/e/b"}},
		{name: "local edit is uploaded", base: []string{"a=1"}, local: put("a", "1b"), want: "a=1b", ops: []string{"copy remote a"}},
		{name: "remote edit is downloaded", base: []string{"a=1"}, remote: put("a", "1c"), want: "a=1c", ops: []string{"copy local a"}},
		{name: "local delete is applied remotely", base: []string{"a=1", "b=2"}, local: del("a"), want: "b=2", ops: []string{"delete remote a"}},
		{name: "remote delete is applied locally", base: []string{"a=1", "b=2"}, remote: del("a"), want: "b=2", ops: []string{"delete local a"}},
		{name: "deleted on both sides is forgotten", base: []string{"a=1", "b=2"}, local: del("a"), remote: del("a"), want: "b=2", ops: []string{"forget  a"}},
		{name: "local folder delete removes contents remotely", base: []string{"d/x=1", "d/y=2", "k=3"}, local: del("d"), want: "k=3", ops: []string{"delete remote d/x", "delete remote d"}},
		{name: "empty folder created", base: []string{"a=1"}, local: put("e", "/"), want: "a=1 e/", ops: []string{"mkdir remote e"}},
		{name: "empty folder deleted", base: []string{"a=1", "e"}, remote: del("e"), want: "a=1", ops: []string{"delete local e"}},

		// Conflicts: one version at the path, the other as a revision.
		{name: "conflict keep-local", base: []string{"doc.txt=v1"}, local: put("doc.txt", "L"), remote: put("doc.txt", "R"),
			want: "doc.conflict-remote-" + stamp + ".txt=R doc.txt=L", ops: []string{"move remote doc.conflict-remote-" + stamp + ".txt", "copy remote doc.txt", "copy local doc.conflict-remote-" + stamp + ".txt"}},
		{name: "conflict keep-remote", base: []string{"doc.txt=v1"}, local: put("doc.txt", "L"), remote: put("doc.txt", "R"), opts: Options{Conflict: KeepRemote},
			want: "doc.conflict-local-" + stamp + ".txt=L doc.txt=R"},
		{name: "conflict keep-newer picks the later edit", base: []string{"doc.txt=v1"}, local: put("doc.txt", "L"), remote: put("doc.txt", "R"), opts: Options{Conflict: KeepNewer},
			want: "doc.conflict-local-" + stamp + ".txt=L doc.txt=R"},
		{name: "conflict revision name is unique", base: []string{"doc.txt=v1", "doc.conflict-remote-" + stamp + ".txt=old"}, local: put("doc.txt", "L"), remote: put("doc.txt", "R"),
			want: "doc.conflict-remote-" + stamp + "-2.txt=R doc.conflict-remote-" + stamp + ".txt=old doc.txt=L"},
		{name: "conflict on a name without extension", base: []string{"Makefile=v1"}, local: put("Makefile", "L"), remote: put("Makefile", "R"),
			want: "Makefile.conflict-remote-" + stamp + "=R Makefile=L"},
		{name: "same edit on both sides is no conflict", base: []string{"a=1"}, local: put("a", "same"), remote: put("a", "same"), hashes: true,
			want: "a=same", noOps: []string{"copy", "move"}},
		{name: "first run: equal trees with different times are in sync", first: true,
			local: func(w *world) { w.put(Local, "a", "1"); w.put(Local, "d/b", "2") }, remote: func(w *world) { w.put(Remote, "a", "1"); w.put(Remote, "d/b", "2") },
			want: "a=1 d/ d/b=2", ops: []string{"record  a", "record  d/b"}, noOps: []string{"copy", "move"}},
		{name: "first run: different content is a conflict", first: true, local: put("a", "L"), remote: put("a", "R"),
			want: "a.conflict-remote-" + stamp + "=R a=L"},
		{name: "first run: union of both trees", first: true, local: put("l", "1"), remote: put("r", "2"), want: "l=1 r=2"},

		// Edit beats delete.
		{name: "local delete, remote edit: edit wins", base: []string{"a=1"}, local: del("a"), remote: put("a", "R"), want: "a=R", ops: []string{"copy local a"}, noOps: []string{"delete"}},
		{name: "local edit, remote delete: edit wins", base: []string{"a=1"}, local: put("a", "L"), remote: del("a"), want: "a=L", ops: []string{"copy remote a"}},
		{name: "folder deleted locally, file added remotely inside it", base: []string{"d/x=1", "d/y=2"}, local: del("d"), remote: put("d/new", "N"),
			want: "d/ d/new=N", ops: []string{"delete remote d/x", "mkdir local d", "copy local d/new"}, noOps: []string{"delete remote d"}},
		{name: "folder deleted remotely, file edited locally inside it", base: []string{"d/e/x=1", "d/y=2"}, remote: del("d"), local: put("d/e/x", "L"),
			want: "d/ d/e/ d/e/x=L", ops: []string{"mkdir remote d", "mkdir remote d/e", "delete local d/y"}},

		// File versus folder.
		{name: "file and folder created at the same path", first: true, local: put("p", "file"), remote: put("p/inner", "in"),
			want: "p.conflict-local-" + stamp + "=file p/ p/inner=in"},
		{name: "local file replaced by a folder", base: []string{"p=old"}, local: func(w *world) { w.remove(Local, "p"); w.put(Local, "p/x", "1") },
			want: "p/ p/x=1", ops: []string{"delete remote p", "mkdir remote p", "copy remote p/x"}},
		{name: "remote folder replaced by a file", base: []string{"p/x=1"}, remote: func(w *world) { w.remove(Remote, "p"); w.put(Remote, "p", "F") },
			want: "p=F", ops: []string{"delete local p/x", "delete local p", "copy local p"}},
		{name: "folder replaced by a file while the folder gained content", base: []string{"p/x=1"},
			local: func(w *world) { w.remove(Local, "p"); w.put(Local, "p", "F") }, remote: put("p/new", "N"),
			want: "p.conflict-local-" + stamp + "=F p/ p/new=N"},

		// Moves and renames.
		{name: "local file rename is a move", base: []string{"a=1", "b=2"}, local: mv("a", "c"), want: "b=2 c=1", ops: []string{"move remote c"}, noOps: []string{"copy", "delete"}},
		{name: "remote file move into a folder", base: []string{"a=1", "d/b=2"}, remote: mv("a", "d/a"), want: "d/ d/a=1 d/b=2", ops: []string{"move local d/a"}, noOps: []string{"copy", "delete"}},
		{name: "local folder rename is one move", base: []string{"d/x=1", "d/y=2", "d/s/z=3"}, local: mv("d", "e"),
			want: "e/ e/s/ e/s/z=3 e/x=1 e/y=2", ops: []string{"move remote e", "record  e/s/z"}, noOps: []string{"copy", "delete", "mkdir"}},
		{name: "remote folder rename with a local edit inside", base: []string{"d/x=1", "d/y=2"}, remote: mv("d", "e"), local: put("d/x", "L"),
			want: "e/ e/x=L e/y=2", ops: []string{"move local e", "copy remote e/x"}},
		{name: "case-only rename", base: []string{"readme.md=1"}, local: mv("readme.md", "README.md"), want: "README.md=1", ops: []string{"move remote README.md"}, noOps: []string{"copy"}},
		{name: "folder renamed and a file inside renamed", base: []string{"d/x=1", "d/y=2"}, local: func(w *world) { w.rename(Local, "d", "e"); w.rename(Local, "e/x", "e/z") },
			want: "e/ e/y=2 e/z=1", ops: []string{"move remote e", "move remote e/z"}, noOps: []string{"copy", "delete"}},
		{name: "moved and edited file", base: []string{"a=1"}, local: func(w *world) { w.rename(Local, "a", "b"); w.put(Local, "b", "2") },
			want: "b=2", ops: []string{"delete remote a", "copy remote b"}},
		{name: "moved on both sides to different names keeps both", base: []string{"a=1"}, local: mv("a", "l"), remote: mv("a", "r"), want: "l=1 r=1"},

		// Directions.
		{name: "upload: remote edit is ignored", base: []string{"a=1", "b=2"}, remote: put("a", "R"), local: put("b", "L"), opts: Options{Direction: UploadOnly},
			wantLocal: "a=1 b=L", wantRemote: "a=R b=L"},
		{name: "upload: conflict keeps remote version aside on the remote", base: []string{"a=1"}, remote: put("a", "R"), local: put("a", "L"), opts: Options{Direction: UploadOnly},
			wantLocal: "a=L", wantRemote: "a.conflict-remote-" + stamp + "=R a=L"},
		{name: "upload: remote delete not applied locally", base: []string{"a=1"}, remote: del("a"), opts: Options{Direction: UploadOnly}, wantLocal: "a=1", wantRemote: ""},
		{name: "download: local file is never uploaded", base: []string{"a=1"}, local: put("n", "L"), remote: put("a", "R"), opts: Options{Direction: DownloadOnly},
			wantLocal: "a=R n=L", wantRemote: "a=R"},
		{name: "download: conflict keeps local version aside locally", base: []string{"a=1"}, remote: put("a", "R"), local: put("a", "L"), opts: Options{Direction: DownloadOnly},
			wantLocal: "a.conflict-local-" + stamp + "=L a=R", wantRemote: "a=R"},

		// Equal size and time are not proof of equal content once both
		// sides changed since the base.
		{name: "both changed, same size and time, different content: conflict", base: []string{"a=v1"},
			local: seq(put("a", "LL"), stamp999("a")), remote: seq(put("a", "RR"), stamp999("a")),
			want: "a.conflict-remote-" + stamp + "=RR a=LL"},
		{name: "hash mode: first merge with same size and time but different content: conflict", first: true, opts: Options{Compare: CompareHash},
			local: seq(put("a", "LL"), stamp999("a")), remote: seq(put("a", "RR"), stamp999("a")),
			want: "a.conflict-remote-" + stamp + "=RR a=LL"},
		{name: "mtime mode: first merge trusts equal size and time (quick check)", first: true,
			local: seq(put("a", "LL"), stamp999("a")), remote: seq(put("a", "RR"), stamp999("a")),
			wantLocal: "a=LL", wantRemote: "a=RR", noOps: []string{"copy"}},

		// Compare by hash.
		{name: "hash mode: touched file is not transferred", base: []string{"a=1"}, local: touch("a"), opts: Options{Compare: CompareHash}, hashes: false,
			want: "a=1", noOps: []string{"copy"}},
		{name: "mtime mode: touched file is uploaded", base: []string{"a=1"}, local: touch("a"), want: "a=1", ops: []string{"copy remote a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

func runCase(t *testing.T, c tcase) {
	t.Helper()
	w := synced(c.base...)
	if c.first {
		w = newWorld()
	}
	w.opts, w.hashes = c.opts, c.hashes
	if c.local != nil {
		w.target = Local
		c.local(w)
	}
	if c.remote != nil {
		w.target = Remote
		c.remote(w)
	}
	before := w.contents() // what exists when the sync starts must survive it
	plan, err := w.sync()
	if err != nil {
		t.Fatalf("apply: %v\nplan:\n%s", err, dump(plan))
	}
	lt, rt := w.tree(Local), w.tree(Remote)
	if c.want != "" || (c.wantLocal == "" && c.wantRemote == "") {
		if lt != c.want || rt != c.want {
			t.Errorf("after sync\n local: %s\nremote: %s\n  want: %s\nplan:\n%s", lt, rt, c.want, dump(plan))
		}
	} else if lt != c.wantLocal || rt != c.wantRemote {
		t.Errorf("after sync\n local: %s\nremote: %s\nwant local: %s\nwant remote: %s\nplan:\n%s", lt, rt, c.wantLocal, c.wantRemote, dump(plan))
	}
	got := map[string]bool{}
	ops := map[string]bool{}
	for _, a := range plan.Actions {
		side := a.Side.String()
		if a.Op == OpRecord || a.Op == OpForget {
			side = ""
		}
		got[a.Op.String()+" "+side+" "+a.Path] = true
		ops[a.Op.String()] = true
	}
	for _, o := range c.ops {
		if !got[o] {
			t.Errorf("plan lacks %q:\n%s", o, dump(plan))
		}
	}
	for _, o := range c.noOps {
		if ops[o] {
			t.Errorf("plan has a %s action, want none:\n%s", o, dump(plan))
		}
	}
	for d := range before {
		if !w.contents()[d] {
			t.Errorf("content %q was lost", d)
		}
	}
	again := w.plan()
	if len(again.Actions) != 0 {
		t.Errorf("second run is not empty:\n%s", dump(again))
	}
}

func dump(p Plan) string {
	var b strings.Builder
	for _, a := range p.Actions {
		b.WriteString("  " + a.String() + "\n")
	}
	return b.String()
}

// Mutations apply to the side being changed (world.target, set by runCase).
func put(path, data string) func(*world) {
	return func(w *world) { w.put(w.target, path, data) }
}

// seq runs mutations in order.
func seq(fs ...func(*world)) func(*world) {
	return func(w *world) {
		for _, f := range fs {
			f(w)
		}
	}
}

// stamp999 gives path a fixed modification time, to make two versions look
// alike by size and time.
func stamp999(path string) func(*world) {
	return func(w *world) {
		n := w.side[w.target][path]
		n.mtime = 999
		w.side[w.target][path] = n
	}
}

func del(path string) func(*world) {
	return func(w *world) { w.remove(w.target, path) }
}

func mv(from, to string) func(*world) {
	return func(w *world) { w.rename(w.target, from, to) }
}

func touch(path string) func(*world) {
	return func(w *world) {
		n := w.side[w.target][path]
		n.mtime = w.tick()
		w.side[w.target][path] = n
	}
}
