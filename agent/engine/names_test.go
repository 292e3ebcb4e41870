package engine

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dovetail-sync/dovetail/connectors/mem"
	"github.com/dovetail-sync/dovetail/connectors/namecode"
	"github.com/dovetail-sync/dovetail/rules"
)

const (
	nfc = "caf\u00e9"  // é as one code point
	nfd = "cafe\u0301" // e + combining acute
)

func keys(m map[string][]byte) []string { return slices.Sorted(maps.Keys(m)) }

func problemRules(rep *Report) map[string]string {
	out := map[string]string{}
	for _, p := range rep.Problems {
		out[p.Path] = p.Rule
	}
	return out
}

// An NFD name on one side and its NFC twin on the other are one file: no
// copy, no flip-flop, and each side keeps its own spelling.
func TestNormalizationTwinsAcrossSidesAreOneFile(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{nfd + "/doc.txt": "same"})
	write(t, f.r, map[string]string{nfc + "/doc.txt": "same"})
	rep := f.mustSync()
	for _, a := range rep.Plan.Actions {
		if a.Op.String() == "copy" || a.Op.String() == "mkdir" {
			t.Errorf("planned %v for names equal under NFC", a)
		}
	}
	// A new file inside the NFD folder lands in the remote's NFC folder,
	// not in a new NFD twin of it.
	write(t, f.l, map[string]string{nfd + "/new.txt": "n"})
	f.mustSync()
	if got := keys(f.r.Files()); !slices.Equal(got, []string{nfc + "/doc.txt", nfc + "/new.txt"}) {
		t.Errorf("remote files = %q", got)
	}
	if got := keys(f.l.Files()); !slices.Equal(got, []string{nfd + "/doc.txt", nfd + "/new.txt"}) {
		t.Errorf("local files = %q", got)
	}
	if rep := f.mustSync(); len(rep.Plan.Actions) != 0 {
		t.Errorf("third run not empty: %v", rep.Plan.Actions)
	}
}

// NFC and NFD twins on the same side: one syncs, the other is reported and
// left alone.
func TestNormalizationTwinsOnOneSide(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{nfc + ".txt": "composed", nfd + ".txt": "decomposed"})
	rep, err := f.sync(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := problemRules(rep); got[nfd+".txt"] != "normalization-conflict" {
		t.Errorf("problems = %q, want the NFD twin reported", got)
	}
	if got := contents(f.r); len(got) != 1 || got[nfc+".txt"] != "composed" {
		t.Errorf("remote = %q, want only the NFC twin", got)
	}
	if len(f.l.Files()) != 2 {
		t.Error("a local twin was touched")
	}
}

// A name the remote provider cannot store is not transferred, not deleted
// anywhere, and reported with the rule; the rest syncs.
func TestProviderRuleViolationIsSkippedAndReported(t *testing.T) {
	f := newFixture(t)
	f.r = mem.New(mem.Options{Rules: "windows", CaseInsensitive: true})
	write(t, f.l, map[string]string{"ok.txt": "1", "a:b.txt": "2", "CON.txt": "3", "Readme.md": "4", "README.md": "5"})
	rep, err := f.sync(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := problemRules(rep)
	if got["a:b.txt"] != "forbidden-char" || got["CON.txt"] != "reserved-name" {
		t.Errorf("problems = %q", got)
	}
	if got["README.md"] != "case-conflict" && got["Readme.md"] != "case-conflict" {
		t.Errorf("no case conflict reported: %q", got)
	}
	if !rep.Failed() {
		t.Error("report says everything is in sync")
	}
	r := keys(f.r.Files())
	if len(r) != 2 || !slices.Contains(r, "ok.txt") {
		t.Errorf("remote = %q, want ok.txt and one of the Readme twins", r)
	}
	if len(f.l.Files()) != 5 {
		t.Errorf("local files changed: %q", keys(f.l.Files()))
	}
	// Again: nothing new happens, nothing is deleted.
	rep, err = f.sync(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Plan.Actions) != 0 || len(f.l.Files()) != 5 {
		t.Errorf("second run: plan %v, local %q", rep.Plan.Actions, keys(f.l.Files()))
	}
}

func TestSizeFilterSkipsOnBothSides(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"small": "x", "big": strings.Repeat("x", 100)})
	write(t, f.r, map[string]string{"big2": strings.Repeat("y", 100)})
	if _, err := f.sync(func(p *Pair) { p.MaxSize = 10 }); err != nil {
		t.Fatal(err)
	}
	if got := keys(f.r.Files()); !slices.Equal(got, []string{"big2", "small"}) {
		t.Errorf("remote = %q", got)
	}
	if got := keys(f.l.Files()); !slices.Equal(got, []string{"big", "small"}) {
		t.Errorf("local = %q", got)
	}
	// A synced file that grows past the limit is left alone on both sides,
	// not deleted on the side where it is still small.
	write(t, f.l, map[string]string{"small": strings.Repeat("z", 50)})
	if _, err := f.sync(func(p *Pair) { p.MaxSize = 10 }); err != nil {
		t.Fatal(err)
	}
	if got := contents(f.r)["small"]; got != "x" {
		t.Errorf("remote small = %q, want the old version kept", got)
	}
}

func TestSelectiveSyncAndIgnoreFile(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{
		"keep/a.txt": "1", "keep/sub/b.txt": "2", "skip/c.txt": "3", "top.txt": "4",
		"keep/build/out.o": "5", IgnoreFile: "- build/\n",
	})
	if _, err := f.sync(func(p *Pair) { p.Folders = []string{"keep"} }); err != nil {
		t.Fatal(err)
	}
	if got := keys(f.r.Files()); !slices.Equal(got, []string{"keep/a.txt", "keep/sub/b.txt"}) {
		t.Errorf("remote = %q", got)
	}
}

// A folder deleted on one side whose twin holds only excluded files (a
// .DS_Store) is kept, reported as such, and later runs are quiet and clean.
func TestFolderHoldingExcludedFilesIsKept(t *testing.T) {
	f := newFixture(t)
	write(t, f.l, map[string]string{"photos/a.jpg": "1", "other": "2", "more": "3"})
	f.mustSync()
	write(t, f.r, map[string]string{"photos/.DS_Store": "junk"})
	f.l.Remove("photos")
	for run := range 2 {
		rep, err := f.sync(nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed() {
			t.Fatalf("run %d failed: %+v %v", run, rep.Problems, failed(rep))
		}
		if got := problemRules(rep)["photos"]; got != "folder-kept" {
			t.Errorf("run %d: photos not reported as kept: %q", run, problemRules(rep))
		}
	}
	if got := keys(f.r.Files()); !slices.Equal(got, []string{"more", "other", "photos/.DS_Store"}) {
		t.Errorf("remote = %q", got)
	}
}

// With name encoding on, a name the provider forbids syncs under its
// look-alike form and comes back under its own name.
func TestEncodedNamesSync(t *testing.T) {
	f := newFixture(t)
	inner := mem.New(mem.Options{Rules: "windows"})
	rs, err := rules.Lookup("windows")
	if err != nil {
		t.Fatal(err)
	}
	write(t, f.l, map[string]string{"a:b?.txt": "1"})
	sync := func() *Report {
		rep, err := f.sync(func(p *Pair) { p.Remote = namecode.New(inner, rs); p.EncodeNames = true })
		if err != nil || rep.Failed() {
			t.Fatalf("sync: %v %+v %v", err, rep.Problems, failed(rep))
		}
		return rep
	}
	sync()
	stored := keys(inner.Files())
	if len(stored) != 1 || rs.Check(stored[0], false, 1) != nil {
		t.Fatalf("stored as %q", stored)
	}
	if rep := sync(); len(rep.Plan.Actions) != 0 {
		t.Errorf("second run not empty: %v", rep.Plan.Actions)
	}
	// A remote edit comes back under the original name.
	inner.WriteFile(stored[0], []byte("edited"), t0.Add(time.Hour))
	sync()
	if got := contents(f.l); got["a:b?.txt"] != "edited" || len(got) != 1 {
		t.Errorf("local = %q", got)
	}
}
