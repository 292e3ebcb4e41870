package rules

import (
	"strings"
	"testing"
)

func TestDefaultIgnore(t *testing.T) {
	f, err := Build(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	junk := []struct {
		name string
		dir  bool
	}{
		{".DS_Store", false}, {"._photo.jpg", false}, {"._", false}, {".AppleDouble", true},
		{".Spotlight-V100", true}, {".Trashes", true}, {".fseventsd", true}, {".TemporaryItems", true},
		{"Icon\r", false}, {"Thumbs.db", false}, {"ehthumbs.db", false}, {"desktop.ini", false},
		{"$RECYCLE.BIN", true}, {"@eaDir", true}, {"#recycle", true}, {"#snapshot", true}, {".snapshot", true},
		{"~$report.docx", false}, {".~lock.budget.ods#", false}, {"film.mkv.crdownload", false},
		{"iso.part", false}, {"a.partial", false}, {"setup.dmg.download", true}, {"setup.dmg.download", false},
		{".notes.txt.swp", false}, {".x.swx", false}, {".x.swo", false}, {".Trash-1000", true},
		{".nfs000000000123abcd00000001", false}, {".fuse_hidden0000001a00000002", false},
		{".goutputstream-ABC123", false}, {"@Recycle", true}, {".@__thumb", true},
		{"System Volume Information", true},
	}
	for _, j := range junk {
		for _, dir := range []string{"", "a/", "deep/er/still/"} {
			if !f.Excluded(dir+j.name, j.dir) {
				t.Errorf("default ignores keep %q (dir=%v)", dir+j.name, j.dir)
			}
		}
	}
	nearMiss := []struct {
		name string
		dir  bool
	}{
		{"DS_Store.txt", false}, {".DS_Store.txt", false}, {"x.DS_Store", false}, {"my~$file", false},
		{"desktop.ini.bak", false}, {"Desktop.ini", false}, {"thumbs.db", false}, {"Thumbs.db.old", false},
		{"a._b", false}, {"report.tmp", false}, {"notes~", false}, {"part", false}, {"a.part.txt", false},
		{".swp", false}, {"x.swp", false}, {".lock.x#", false}, {".~lock.x", false}, {"Icon", false},
		{"@eaDir", false},    // a file, not the folder
		{"#recycle", false},  // a file, not the folder
		{".snapshots", true}, // a different name
		{".nfsrc", false},    // not an NFS silly-rename name
		{"eaDir", true}, {"recycle", true}, {"Trash-1000", true}, {".Trash", true},
	}
	for _, j := range nearMiss {
		for _, dir := range []string{"", "a/"} {
			if f.Excluded(dir+j.name, j.dir) {
				t.Errorf("default ignores drop near miss %q (dir=%v)", dir+j.name, j.dir)
			}
		}
	}
	// lost+found only at the root.
	checkFilter(t, "lost+found", f, []judge{{"lost+found", true, true}, {"a/lost+found", true, false}, {"lost+found", false, false}})
	// Every default compiles, and each is a name-level or anchored rule,
	// never "only" mode.
	if f.onlyMode {
		t.Error("the default list switches on only mode")
	}
	checkFilter(t, "ordinary files", f, []judge{{"photos/2024/a.jpg", false, false}, {"photos", true, false}})
}

func TestDefaultIgnoreOff(t *testing.T) {
	f, err := Build(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, "no defaults", f, []judge{
		{".DS_Store", false, false}, {"a/desktop.ini", false, false}, {"@eaDir", true, false},
		{".dovetail", true, true}, {"a/.dovetail.tmp.1", false, true}, // internal rules stay
	})
}

func TestBuildOrder(t *testing.T) {
	// A user include opts one default back in, and changes nothing else.
	f, err := Build([]Rule{{Include: true, Pattern: "desktop.ini"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, "+ desktop.ini", f, []judge{
		{"desktop.ini", false, false}, {"music/desktop.ini", false, false},
		{"Thumbs.db", false, true}, {"notes.txt", false, false}, {"a/b/c.jpg", false, false},
	})
	// Same for a folder default and for a wildcard default.
	g, err := Build([]Rule{{true, "@eaDir/"}, {true, "._*"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, "+ @eaDir/ + ._*", g, []judge{{"x/@eaDir", true, false}, {"._a", false, false}, {"z.txt", false, false}, {".DS_Store", false, true}})

	// Partial opt-in: the default still applies elsewhere.
	m, err := Build([]Rule{{true, "/music/desktop.ini"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, "+ /music/desktop.ini", m, []judge{
		{"music/desktop.ini", false, false}, {"desktop.ini", false, true}, {"video/desktop.ini", false, true}, {"a.txt", false, false},
	})
	// An "only" include does not bring junk back with it.
	o, err := Build([]Rule{{true, "*.jpg"}, {true, "*.docx"}, {true, "/photos/**"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkTracker(t, "only + junk", o, []judge{
		{"._a.jpg", false, true}, {"~$r.docx", false, true}, {"photos", true, false}, {"photos/.DS_Store", false, true},
		{"photos/x.png", false, false}, {"a.jpg", false, false}, {"r.docx", false, false}, {"a.png", false, true},
		{"photos/@eaDir", true, true}, {"photos/@eaDir/a.jpg", false, true},
	})
	// Internal rules cannot be overridden.
	h, err := Build([]Rule{{true, "/.dovetail/"}, {true, ".dovetail/"}, {true, "**"}, {true, ".dovetail.tmp.*"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	checkTracker(t, "internal", h, []judge{
		{".dovetail", true, true}, {".dovetail/state.db", false, true},
		{"a/.dovetail.tmp.x", false, true}, {".dovetail.tmp.7", false, true},
		{"a/.dovetail", true, false}, // only the one at the root is Dovetail's
		{"a/b", false, false},
	})
	// User rules come before defaults: a user exclude of a default-included name works too.
	k, err := Build([]Rule{{false, "*.jpg"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkFilter(t, "user exclude", k, []judge{{"a.jpg", false, true}, {".DS_Store", false, true}, {"a.png", false, false}})
	if _, err := Build([]Rule{{false, "[bad"}}, false); err == nil || !strings.Contains(err.Error(), `"[bad"`) {
		t.Errorf("Build with a bad user pattern: %v", err)
	}
}

func TestDefaultIgnoreRulesMatchList(t *testing.T) {
	rules := DefaultIgnoreRules()
	if len(rules) != len(DefaultIgnore) {
		t.Fatal("length differs")
	}
	for i, r := range rules {
		if r.Include || r.Pattern != DefaultIgnore[i] {
			t.Errorf("rule %d = %v", i, r)
		}
		if strings.HasSuffix(r.Pattern, "\r") {
			continue // "Icon\r": a filter file cannot spell a trailing CR (lines end in CR LF)
		}
		if back, err := ParseRule(r.String()); err != nil || back != r {
			t.Errorf("default %q does not round-trip through ParseRule: %v, %v", r.Pattern, back, err)
		}
	}
}
