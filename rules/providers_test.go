package rules

import (
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

func rs(t testing.TB, name string) *RuleSet {
	t.Helper()
	r, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pathOf builds a path of exactly n units of u out of short folders, the
// last element being a file name.
func pathOf(n int, u Unit) string {
	var b strings.Builder
	for count(b.String(), u) < n {
		left := n - count(b.String(), u)
		switch {
		case left >= 51:
			b.WriteString(strings.Repeat("d", 50) + "/")
		default:
			b.WriteString(strings.Repeat("f", left))
		}
	}
	return b.String()
}

type checkCase struct {
	path string
	dir  bool
	size int64
	rule string // "" for no violation
}

func runChecks(t *testing.T, r *RuleSet, cases []checkCase) {
	t.Helper()
	for _, c := range cases {
		v := r.Check(c.path, c.dir, c.size)
		got := ""
		if v != nil {
			got = v.Rule
			if v.Path != c.path || v.Message == "" || v.Hint == "" {
				t.Errorf("%s: Check(%.40q): incomplete violation %+v", r.Name, c.path, v)
			}
			if !strings.Contains(v.Message, r.Title) && v.Rule != RuleInvalidUTF8 {
				t.Errorf("%s: Check(%.40q): message %q does not name the provider", r.Name, c.path, v.Message)
			}
		}
		if got != c.rule {
			msg := ""
			if v != nil {
				msg = v.Message
			}
			t.Errorf("%s: Check(%.60q, dir=%v, size=%d) = %q (%s), want %q", r.Name, c.path, c.dir, c.size, got, msg, c.rule)
		}
	}
}

// TestProviderRules pins the documented values of every rule set, one
// table per provider, every rule it has at and across its limit.
func TestProviderRules(t *testing.T) {
	const (
		ok       = ""
		forbid   = RuleForbiddenChar
		lead     = RuleLeadingChar
		trail    = RuleTrailingChar
		reserved = RuleReservedName
		longName = RuleNameTooLong
		longPath = RulePathTooLong
		tooBig   = RuleFileTooBig
	)
	rep := strings.Repeat
	tables := map[string][]checkCase{
		"linux": {
			{path: "a:b*?<>|\"\\.txt", rule: ok},
			{path: "CON.txt", rule: ok},
			{path: "trailing. ", rule: ok},
			{path: " lead", rule: ok},
			{path: "tab\there", rule: ok},
			{path: "nul\x00", rule: forbid},
			{path: "bad\xffutf8", rule: RuleInvalidUTF8},
			{path: rep("a", 255), rule: ok},
			{path: rep("a", 256), rule: longName},
			{path: rep("é", 127), rule: ok},
			{path: rep("é", 128), rule: longName}, // 256 bytes: counted in bytes
			{path: pathOf(4095, Bytes), rule: ok},
			{path: pathOf(4096, Bytes), rule: longPath},
			{path: "big", size: 1 << 50, rule: ok},
		},
		"macos": {
			{path: "a:b", rule: ok},
			{path: rep("a", 255), rule: ok},
			{path: rep("a", 256), rule: longName},
			{path: pathOf(1023, Bytes), rule: ok},
			{path: pathOf(1024, Bytes), rule: longPath},
		},
		"windows": {
			{path: "a<b", rule: forbid}, {path: "a>b", rule: forbid}, {path: "a:b", rule: forbid},
			{path: `a"b`, rule: forbid}, {path: `a\b`, rule: forbid}, {path: "a|b", rule: forbid},
			{path: "a?b", rule: forbid}, {path: "a*b", rule: forbid}, {path: "a\x01b", rule: forbid},
			{path: "a\x1fb", rule: forbid},
			{path: "trailing.", rule: trail}, {path: "trailing ", rule: trail},
			{path: "dir./file", rule: trail},
			{path: " leading", rule: ok}, {path: ".hidden", rule: ok},
			{path: "CON", rule: reserved}, {path: "con.txt", rule: reserved},
			{path: "Com1.tar.gz", rule: reserved}, {path: "LPT9", rule: reserved},
			{path: "LPT¹", rule: reserved}, {path: "NUL .txt", rule: reserved},
			{path: "docs/aux/readme", rule: reserved},
			{path: "CONSOLE", rule: ok}, {path: "COM10", rule: ok}, {path: "xCON", rule: ok},
			{path: rep("😀", 127) + "a", rule: ok}, // 255 UTF-16 units
			{path: rep("😀", 128), rule: longName}, // 256 UTF-16 units
			{path: rep("é", 255), rule: ok},       // 510 bytes, 255 units
			{path: "a:b/c.txt", rule: forbid},
		},
		"gdrive": {
			{path: `a:b*?<>|"\`, rule: ok},
			{path: "ctl\x01", rule: ok},
			{path: "trailing. ", rule: ok},
			{path: rep("a", 256), rule: longName},
			{path: pathOf(5000, Bytes), rule: ok},
			{path: "f", size: 5_000_000_000_000, rule: ok},
			{path: "f", size: 5_000_000_000_001, rule: tooBig},
			{path: "d", dir: true, size: 1 << 60, rule: ok}, // size is for files only
		},
		"dropbox": {
			{path: `a\b`, rule: forbid},
			{path: "a\x7fb", rule: forbid},
			{path: "a\x02b", rule: forbid},
			{path: "a:b?", rule: ok},
			{path: "space ", rule: trail},
			{path: " space", rule: ok},
			{path: ".dropbox", rule: reserved},
			{path: "x.Dropbox.cache", rule: reserved},
			{path: rep("é", 255), rule: ok}, // counted in characters
			{path: rep("é", 256), rule: longName},
			{path: pathOf(259, Chars), rule: ok},
			{path: pathOf(260, Chars), rule: longPath},
			{path: "f", size: 350_000_000_000, rule: ok},
			{path: "f", size: 350_000_000_001, rule: tooBig},
		},
		"mega": {
			{path: `a:b*?<>|"\ . `, rule: ok},
			{path: rep("a", 255), rule: ok},
			{path: rep("a", 256), rule: longName},
			{path: "f", size: 1 << 50, rule: ok},
		},
		"s3": {
			{path: `a:b*?<>|"\{}^%#~[]`, rule: ok},
			{path: "a\x01b", rule: forbid},
			{path: "trailing. ", rule: ok},
			{path: rep("a", 1000), rule: ok}, // no per-element limit
			{path: pathOf(1024, Bytes), rule: ok},
			{path: pathOf(1025, Bytes), rule: longPath},
			{path: rep("é", 512), rule: ok},
			{path: rep("é", 512) + "x", rule: longPath}, // bytes, not characters
			{path: "f", size: 5 << 40, rule: ok},
			{path: "f", size: 5<<40 + 1, rule: tooBig},
		},
		"b2": {
			{path: `a\b`, rule: forbid},
			{path: "a\x7fb", rule: forbid},
			{path: "a\x1fb", rule: forbid},
			{path: "a:b*?", rule: ok},
			{path: ".bzEmpty", rule: reserved},
			{path: rep("a", 250), rule: ok},
			{path: rep("a", 251), rule: longName},
			{path: pathOf(1024, Bytes), rule: ok},
			{path: pathOf(1025, Bytes), rule: longPath},
			{path: "f", size: 10_000_000_000_000, rule: ok},
			{path: "f", size: 10_000_000_000_001, rule: tooBig},
		},
		"azure": {
			{path: `a\b`, rule: forbid},
			{path: "a\x01", rule: forbid},
			{path: "name.", rule: trail},
			{path: "name ", rule: ok},
			{path: "a:b", rule: ok},
			{path: ".synoemptyblob", rule: reserved},
			{path: rep("😀", 127) + "a", rule: ok},
			{path: rep("😀", 128), rule: longName},
			{path: pathOf(1024, UTF16), rule: ok},
			{path: pathOf(1025, UTF16), rule: longPath},
			{path: "f", size: 50000 * 4000 << 20, rule: ok},
			{path: "f", size: 50000*4000<<20 + 1, rule: tooBig},
		},
		"onedrive": {
			{path: `a"b`, rule: forbid}, {path: "a*b", rule: forbid}, {path: "a:b", rule: forbid},
			{path: "a<b", rule: forbid}, {path: "a>b", rule: forbid}, {path: "a?b", rule: forbid},
			{path: `a\b`, rule: forbid}, {path: "a|b", rule: forbid}, {path: "a\tb", rule: forbid},
			{path: "a#b%c&d", rule: ok},
			{path: " lead", rule: lead},
			{path: "trail ", rule: trail}, {path: "trail.", rule: trail},
			{path: ".lock", rule: reserved}, {path: "desktop.ini", rule: reserved},
			{path: "Desktop.INI", rule: reserved}, {path: "~$report.docx", rule: reserved},
			{path: "my_vti_file", rule: reserved}, {path: "CON.txt", rule: reserved},
			{path: "COM0", rule: reserved}, {path: "lpt5.doc", rule: reserved},
			{path: "~report.docx", rule: ok}, {path: "file.lock", rule: ok},
			{path: rep("a", 255), rule: ok},
			{path: rep("a", 256), rule: longName},
			{path: pathOf(400, UTF16), rule: ok},
			{path: pathOf(401, UTF16), rule: longPath},
			{path: "f", size: 250_000_000_000, rule: ok},
			{path: "f", size: 250_000_000_001, rule: tooBig},
		},
		"webdav": {
			{path: `a:b*?<>|"\`, rule: ok},
			{path: "a\x1fb", rule: forbid},
			{path: rep("a", 256), rule: longName},
			{path: pathOf(4096, Bytes), rule: longPath},
		},
		"sftp": {
			{path: `a:b*?<>|"\`, rule: ok},
			{path: "a\x1fb", rule: ok},
			{path: rep("a", 255), rule: ok},
			{path: rep("a", 256), rule: longName},
			{path: pathOf(4095, Bytes), rule: ok},
			{path: pathOf(4096, Bytes), rule: longPath},
		},
	}
	for _, name := range Names() {
		cases, found := tables[name]
		if !found {
			t.Errorf("no test table for rule set %q", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			r := rs(t, name)
			// Every rule set: the empty path and a plain name are fine, NUL
			// is refused.
			cases = append(cases,
				checkCase{path: "", rule: ok},
				checkCase{path: "Documents/report 2024.pdf", rule: ok},
				checkCase{path: "a\x00b", rule: forbid},
			)
			runChecks(t, r, cases)
		})
	}
}

// TestProviderRulesFromData checks every rule set against its own data, so
// that a value added to a literal is exercised even without a table entry.
func TestProviderRulesFromData(t *testing.T) {
	for _, name := range Names() {
		r := rs(t, name)
		t.Run(name, func(t *testing.T) {
			var cases []checkCase
			for _, c := range r.ForbiddenChars {
				cases = append(cases, checkCase{path: "a" + string(c) + "b", rule: RuleForbiddenChar})
			}
			if r.ForbiddenControl {
				for c := rune(1); c < 0x20; c++ {
					cases = append(cases, checkCase{path: "a" + string(c) + "b", rule: RuleForbiddenChar})
				}
			}
			for _, c := range r.NoLeading {
				cases = append(cases, checkCase{path: string(c) + "a", rule: RuleLeadingChar},
					checkCase{path: "a" + string(c) + "a", rule: ""})
			}
			for _, c := range r.NoTrailing {
				cases = append(cases, checkCase{path: "a" + string(c), rule: RuleTrailingChar},
					checkCase{path: "a" + string(c) + "a", rule: ""})
			}
			for _, res := range r.Reserved {
				cases = append(cases, checkCase{path: res, rule: RuleReservedName},
					checkCase{path: "x/" + res, dir: true, rule: RuleReservedName},
					checkCase{path: res + "x", rule: ""})
				if r.ReservedFold {
					cases = append(cases, checkCase{path: strings.ToUpper(res), rule: RuleReservedName})
				}
				if r.ReservedIgnoreExt && !strings.Contains(res, ".") {
					cases = append(cases, checkCase{path: res + ".txt", rule: RuleReservedName})
				}
			}
			for _, p := range r.ReservedPrefixes {
				cases = append(cases, checkCase{path: p + "x", rule: RuleReservedName})
			}
			for _, s := range r.ReservedContains {
				cases = append(cases, checkCase{path: "x" + s + "x", rule: RuleReservedName})
			}
			if r.MaxName > 0 {
				cases = append(cases, checkCase{path: strings.Repeat("n", r.MaxName), rule: ""},
					checkCase{path: strings.Repeat("n", r.MaxName+1), rule: RuleNameTooLong})
			}
			if r.MaxPath > 0 {
				cases = append(cases, checkCase{path: pathOf(r.MaxPath, r.PathUnit), rule: ""},
					checkCase{path: pathOf(r.MaxPath+1, r.PathUnit), rule: RulePathTooLong})
			}
			if r.MaxFileSize > 0 {
				cases = append(cases, checkCase{path: "f", size: r.MaxFileSize, rule: ""},
					checkCase{path: "f", size: r.MaxFileSize + 1, rule: RuleFileTooBig},
					checkCase{path: "d", dir: true, size: r.MaxFileSize + 1, rule: ""})
			}
			runChecks(t, r, cases)
		})
	}
}

func TestProviderData(t *testing.T) {
	names := Names()
	if !sort.StringsAreSorted(names) {
		t.Errorf("Names() not sorted: %v", names)
	}
	want := []string{"azure", "b2", "dropbox", "gdrive", "linux", "macos", "mega", "onedrive", "s3", "sftp", "webdav", "windows"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("Names() = %v, want %v", names, want)
	}
	for _, name := range names {
		r := rs(t, name)
		if r.Name != name || r.Title == "" || r.Source == "" {
			t.Errorf("%s: Name/Title/Source missing: %+v", name, r)
		}
		if r.MaxName < 0 || r.MaxPath < 0 || r.MaxFileSize < 0 {
			t.Errorf("%s: negative limit", name)
		}
		if r.Normalization != "" && r.Normalization != "NFC" && r.Normalization != "NFD" {
			t.Errorf("%s: Normalization %q", name, r.Normalization)
		}
		// Everything the rule set refuses must have a look-alike, or name
		// encoding could not repair it.
		for _, c := range r.ForbiddenChars + r.NoLeading + r.NoTrailing {
			if c == '/' {
				continue
			}
			l, ok := lookAlike(c)
			if !ok {
				t.Errorf("%s: %q has no look-alike", name, c)
			}
			if r.encodes(l) || r.forbidden(l) {
				t.Errorf("%s: look-alike %q of %q is itself refused", name, l, c)
			}
		}
	}
	if r, err := Lookup(" OneDrive "); err != nil || r.Name != "onedrive" {
		t.Errorf("Lookup is not lenient about case and spaces: %v %v", r, err)
	}
	_, err := Lookup("icloud")
	if err == nil || !strings.Contains(err.Error(), "icloud") || !strings.Contains(err.Error(), strings.Join(names, ", ")) {
		t.Errorf("Lookup(unknown) error %v does not list the valid names", err)
	}
}

func TestProviderMessages(t *testing.T) {
	for _, c := range []struct {
		set, path string
		dir       bool
		size      int64
		msg, hint string
	}{
		{"onedrive", "a:b.txt", false, 0, `name contains ":" which OneDrive does not allow`, "--encode-names"},
		{"windows", "notes. ", false, 0, `name ends with a space which Windows does not allow`, "--encode-names"},
		{"windows", "x/CON.txt", false, 0, `"CON.txt" is a reserved name at Windows`, "rename"},
		{"windows", "a\tb", false, 0, `control character U+0009`, "rename"},
		{"linux", strings.Repeat("a", 300), false, 0, "name is 300 bytes long; Linux allows at most 255", "shorten"},
		{"dropbox", "f", false, 400_000_000_000, "file is 400.0 GB (400000000000 bytes); Dropbox allows at most 350.0 GB", "exclude"},
		{"s3", pathOf(2000, Bytes), false, 0, "path is 2000 bytes long; Amazon S3 allows at most 1024", "shorten"},
		{"onedrive", "bad:dir/file", false, 0, `folder "bad:dir": name contains ":"`, "rename"},
	} {
		v := rs(t, c.set).Check(c.path, c.dir, c.size)
		if v == nil || !strings.Contains(v.Message, c.msg) || !strings.Contains(v.Hint, c.hint) {
			t.Errorf("%s: Check(%.30q) = %+v, want message containing %q and hint containing %q", c.set, c.path, v, c.msg, c.hint)
		}
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		s                  string
		bytes, chars, u16s int
	}{
		{"abc", 3, 3, 3},
		{"é", 2, 1, 1},
		{"e\u0301", 3, 2, 2},
		{"箱", 3, 1, 1},
		{"😀", 4, 1, 2},
	} {
		if b, ch, u := count(c.s, Bytes), count(c.s, Chars), count(c.s, UTF16); b != c.bytes || ch != c.chars || u != c.u16s {
			t.Errorf("count(%q) = %d/%d/%d, want %d/%d/%d", c.s, b, ch, u, c.bytes, c.chars, c.u16s)
		}
	}
}

func TestFoldKey(t *testing.T) {
	nfc, nfd := "caf\u00e9.txt", "cafe\u0301.txt"
	for _, c := range []struct {
		set     string
		a, b    string
		collide bool
	}{
		{"linux", nfc, nfd, true}, // NFC/NFD twins collide everywhere
		{"s3", nfc, nfd, true},
		{"linux", "Readme.md", "README.md", false},
		{"s3", "Readme.md", "README.md", false},
		{"onedrive", "Readme.md", "README.md", true},
		{"windows", "docs/Readme.md", "DOCS/readme.MD", true},
		{"macos", "Café.txt", "CAFE\u0301.TXT", true},
		{"dropbox", "Straße", "STRASSE", true}, // full case folding, not ToLower
		{"dropbox", "ΣΊΣΥΦΟΣ", "σίσυφος", true},
		{"windows", "a", "b", false},
		{"windows", "a:b", "a：b", false}, // look-alikes are different names
	} {
		r := rs(t, c.set)
		if got := r.FoldKey(c.a) == r.FoldKey(c.b); got != c.collide {
			t.Errorf("%s: FoldKey(%q) == FoldKey(%q) is %v, want %v", c.set, c.a, c.b, got, c.collide)
		}
	}
}

func FuzzProviderCheck(f *testing.F) {
	for _, s := range []string{"a:b/c", "CON.txt", "x. ", " y", "é/e\u0301", "‛：", "\x00", "\xff", "a//b"} {
		f.Add(s, false, int64(0))
	}
	f.Fuzz(func(t *testing.T, path string, dir bool, size int64) {
		for _, r := range ruleSets {
			v := r.Check(path, dir, size)
			if v != nil && (v.Rule == "" || v.Message == "") {
				t.Fatalf("%s: empty violation for %q", r.Name, path)
			}
			if !utf8.ValidString(path) {
				continue
			}
			k := r.FoldKey(path)
			if r.FoldKey(k) != k {
				t.Fatalf("%s: FoldKey not idempotent on %q: %q then %q", r.Name, path, k, r.FoldKey(k))
			}
			// An encoded path never breaks a character rule.
			if v := r.Check(r.EncodePath(path), dir, 0); v != nil {
				switch v.Rule {
				case RuleForbiddenChar, RuleLeadingChar, RuleTrailingChar:
					t.Fatalf("%s: encoded %q breaks %s: %s", r.Name, path, v.Rule, v.Message)
				}
			}
		}
	})
}
