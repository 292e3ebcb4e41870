package rules

import (
	"fmt"
	"strings"
	"testing"
)

// matches compiles pat as a single exclude rule and asks whether it
// excludes path: the same code path the engine uses.
func matches(t *testing.T, pat, path string, dir bool) bool {
	t.Helper()
	f, err := NewFilter([]Rule{{Pattern: pat}})
	if err != nil {
		t.Fatalf("NewFilter(%q): %v", pat, err)
	}
	return f.Excluded(path, dir)
}

func TestPatternLanguage(t *testing.T) {
	const file, dir = false, true
	tests := []struct {
		desc    string
		pattern string
		path    string
		dir     bool
		want    bool
	}{
		// A name without '/' matches the last name at any depth.
		{"name at root", "a.txt", "a.txt", file, true},
		{"name deep", "a.txt", "x/y/a.txt", file, true},
		{"name matches folders too", "build", "src/build", dir, true},
		{"name is the whole last name", "a.txt", "x/ba.txt", file, false},
		{"name not a middle element", "x", "x/a.txt", file, false},
		{"name is case-sensitive", "a.txt", "A.txt", file, false},

		// Trailing '/' matches folders only.
		{"folder-only on folder", "cache/", "a/cache", dir, true},
		{"folder-only on file", "cache/", "a/cache", file, false},
		{"folder-only anchored", "/tmp/", "tmp", dir, true},
		{"folder-only anchored not deep", "/tmp/", "a/tmp", dir, false},

		// Leading '/' anchors at the root.
		{"anchored at root", "/tmp", "tmp", file, true},
		{"anchored not deeper", "/tmp", "a/tmp", file, false},
		{"anchored full path", "/a/b", "a/b", file, true},
		{"anchored full path only", "/a/b", "x/a/b", file, false},
		{"anchored wildcard", "/*.log", "x.log", file, true},
		{"anchored wildcard not deeper", "/*.log", "d/x.log", file, false},

		// An inner '/' matches the end of the path on a name boundary.
		{"inner slash exact", "b/c", "b/c", file, true},
		{"inner slash suffix", "b/c", "a/b/c", file, true},
		{"inner slash deep suffix", "b/c", "x/y/a/b/c", file, true},
		{"inner slash not mid-name", "b/c", "ab/c", file, false},
		{"inner slash must reach the end", "b/c", "a/b/c/d", file, false},
		{"inner slash with star", "docs/*.md", "p/docs/r.md", file, true},
		{"inner slash star one level", "docs/*.md", "p/docs/x/r.md", file, false},

		// '*' never crosses '/'.
		{"star in name", "*.jpg", "a/b/c.jpg", file, true},
		{"star empty", "a*", "a", file, true},
		{"star not across slash", "/a*z", "ab/yz", file, false},
		{"star within one name", "/a*z", "abyz", file, true},
		{"star middle component", "/a/*/c", "a/b/c", file, true},
		{"star middle component not two", "/a/*/c", "a/b/b/c", file, false},
		{"star empty component no", "/a/*/c", "a/c", file, false},

		// '**' crosses '/'.
		{"dstar crosses", "/a/**", "a/b/c/d", file, true},
		{"dstar needs the slash", "/a/**", "a", dir, false},
		{"dstar middle", "/a/**/z", "a/b/c/z", file, true},
		{"dstar middle zero folders", "/a/**/z", "a/z", file, true},
		{"dstar middle not partial name", "/a/**/z", "a/bz", file, false},
		{"dstar prefix", "**/z", "a/b/z", file, true},
		{"dstar prefix at root", "**/z", "z", file, true},
		{"dstar inside name", "/a**z", "ab/c/yz", file, true},
		{"dstar unanchored floats", "foo**", "x/foo/b/c", file, true},
		{"dstar unanchored not mid-name", "foo**", "x/afoo/b", file, false},
		{"triple star is dstar", "/a/***", "a/b/c", file, true},
		{"dstar suffix", "**.bak", "x/y/z.bak", file, true},

		// '?' is one character, never '/'.
		{"question", "?.txt", "d/a.txt", file, true},
		{"question needs one", "?.txt", ".txt", file, false},
		{"question one only", "?.txt", "ab.txt", file, false},
		{"question not slash", "/a?b", "a/b", file, false},
		{"question one rune", "?.txt", "é.txt", file, true},
		{"question one rune cjk", "?", "日", file, true},

		// Character classes.
		{"class member", "[abc].txt", "b.txt", file, true},
		{"class non-member", "[abc].txt", "d.txt", file, false},
		{"class range", "img[0-9].png", "img7.png", file, true},
		{"class range miss", "img[0-9].png", "imgx.png", file, false},
		{"class two ranges", "[a-cx-z]", "y", file, true},
		{"class negated bang", "[!a-c]x", "dx", file, true},
		{"class negated bang miss", "[!a-c]x", "bx", file, false},
		{"class negated caret", "[^a-c]x", "dx", file, true},
		{"class negated caret miss", "[^a-c]x", "ax", file, false},
		{"class never slash", "/a[!x]b", "a/b", file, false},
		{"class close bracket first", "[]a]", "]", file, true},
		{"class escaped close", `[\]]`, "]", file, true},
		{"class unicode range", "[à-ü]", "é", file, true},
		{"class dash last literal", "[a-]", "-", file, true},

		// Escapes.
		{"escaped star literal", `\*.txt`, "*.txt", file, true},
		{"escaped star not wildcard", `\*.txt`, "a.txt", file, false},
		{"escaped question", `a\?`, "a?", file, true},
		{"escaped question not wildcard", `a\?`, "ab", file, false},
		{"escaped bracket", `\[x]`, "[x]", file, true},
		{"escaped backslash", `a\\b`, `a\b`, file, true},
		{"escaped hash", `\#recycle`, "#recycle", dir, true},
		{"escaped ordinary char", `\a`, "a", file, true},

		// Bytes that are not UTF-8 are single characters equal to nothing literal.
		{"invalid utf8 by star", "*.txt", "\xff.txt", file, true},
		{"invalid utf8 by question", "?.txt", "\xff.txt", file, true},
		{"invalid utf8 not a replacement char", "\uFFFD.txt", "\xff.txt", file, false},
		{"invalid utf8 negated class", "[!a]", "\xff", file, true},
	}
	for _, tt := range tests {
		if got := matches(t, tt.pattern, tt.path, tt.dir); got != tt.want {
			t.Errorf("%s: pattern %q path %q dir=%v: got %v, want %v", tt.desc, tt.pattern, tt.path, tt.dir, got, tt.want)
		}
	}
}

// The shortcuts must agree with the general matcher.
func TestFastPathsAgreeWithNFA(t *testing.T) {
	pats := append([]string{"a", "b/c", "/x/y", "*.part", "~$*", ".~lock.*#", ".*.swp", "a*", "*a", "*"}, DefaultIgnore...)
	paths := []string{"", "a", "b/c", "a/b/c", "x/y", "q/x/y", "f.part", ".part", "d/~$doc.docx", "my~$file",
		".~lock.x.odt#", ".~lock.#", ".a.swp", ".swp", "..swp", "ab", "ba", "a/b", ".DS_Store", "x/.DS_Store", "DS_Store.txt"}
	for _, src := range pats {
		p, err := compilePattern(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			var subject string
			floating := false
			switch p.mode {
			case modeName:
				subject = baseName(path)
			case modeAnchored:
				subject = path
			default:
				subject, floating = path, true
			}
			if got, want := p.matchSubject(subject, floating), p.nfa(subject, floating); got != want {
				t.Errorf("pattern %q on %q: shortcut says %v, automaton says %v", src, path, got, want)
			}
		}
	}
}

func TestBadPatterns(t *testing.T) {
	for _, pat := range []string{"", "/", "//", "[abc", "a[", "[!", `a\`, `[a\`, "[z-a]", "\xff"} {
		_, err := NewFilter([]Rule{{Pattern: pat}})
		if err == nil {
			t.Errorf("NewFilter accepted bad pattern %q", pat)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("pattern %q", pat)) {
			t.Errorf("error for %q does not name the pattern: %v", pat, err)
		}
	}
}
