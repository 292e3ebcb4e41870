package rules

import (
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// escapeLiteral turns s into a pattern that matches exactly s.
func escapeLiteral(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\*?[`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// validPath mirrors connectors.ValidPath for a non-root path.
func validPath(p string) bool {
	if p == "" || !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
		return false
	}
	for _, n := range strings.Split(p, "/") {
		if n == "" || n == "." || n == ".." {
			return false
		}
	}
	return true
}

func FuzzMatch(f *testing.F) {
	seeds := []struct {
		pat, p1, p2 string
		dir         bool
	}{
		{"*.jpg", "a/b.jpg", "a.jpg/b", false},
		{"/a/**/z", "a/z", "a/b/z", false},
		{"b/c", "a/b/c", "ab/c", true},
		{"[!a-c]x", "dx", "bx", false},
		{`\*\?\[`, "*?[", "a", false},
		{"foo**", "x/foo/b", "xfoo/b", false},
		{"**/", "a", "a/b", true},
		{"[]-]", "]", "-", false},
		{".~lock.*#", ".~lock.a#", "x/.~lock.#", false},
		{"a/*/b/**/c?d", "a/x/b/c1d", "a/x/y/b/c/c1d", false},
		{"é?[à-ü]", "éxü", "\xff", false},
	}
	for _, s := range seeds {
		f.Add(s.pat, s.p1, s.p2, s.dir)
	}
	f.Fuzz(func(t *testing.T, pat, p1, p2 string, dir bool) {
		// Matching is O(len(path) × len(pattern)) and the reference check
		// below is one more factor of len(path): keep inputs to sizes that
		// let the fuzzer run many of them.
		if len(pat) > 80 || len(p1) > 160 || len(p2) > 160 {
			t.Skip()
		}
		// 1. Any pattern on any path: no panic, and the shortcuts agree with
		// the automaton, and the three modes mean what they say.
		if p, err := compilePattern(pat); err == nil {
			for _, s := range []string{p1, p2} {
				for _, floating := range []bool{false, true} {
					if p.fast == fastLiteral || (p.fast == fastAffix && !floating && !strings.Contains(s, "/")) {
						if got, want := p.matchSubject(s, floating), p.nfa(s, floating); got != want {
							t.Fatalf("pattern %q on %q floating=%v: shortcut %v, automaton %v", pat, s, floating, got, want)
						}
					}
				}
				got := p.match(s, dir)
				var want bool
				switch {
				case p.dirOnly && !dir:
					want = false
				case p.mode == modeName:
					want = p.nfa(baseName(s), false)
				case p.mode == modeAnchored:
					want = p.nfa(s, false)
				default:
					// Floating: the anchored pattern matches some tail that
					// starts on a name boundary.
					for i := 0; i <= len(s); i++ {
						if (i == 0 || s[i-1] == '/') && p.nfa(s[i:], false) {
							want = true
							break
						}
					}
				}
				if got != want {
					t.Fatalf("pattern %q (mode %d) on %q dir=%v: %v, reference %v", pat, p.mode, s, dir, got, want)
				}
				// Agreement with path.Match where the languages overlap.
				if p.mode == modeAnchored && !strings.Contains(pat, "**") && !strings.Contains(pat, "[!") &&
					!strings.Contains(pat, "[]") && !strings.Contains(pat, "[^]") && utf8.ValidString(s) {
					body := strings.TrimPrefix(pat, "/")
					if p.dirOnly { // the trailing '/' was not escaped
						body = body[:len(body)-1]
					}
					if ok, err := path.Match(body, s); err == nil {
						if ok != p.nfa(s, false) {
							t.Fatalf("pattern %q on %q: %v, path.Match says %v", pat, s, p.nfa(s, false), ok)
						}
					}
				}
			}
			fl, err := NewFilter([]Rule{{Include: dir, Pattern: pat}, {Pattern: "*"}})
			if err != nil {
				t.Fatalf("compiles alone, not in a filter: %v", err)
			}
			fl.Excluded(p1, dir)
			tr := fl.NewTracker()
			tr.Excluded(p1, dir)
			tr.Excluded(p2, !dir)
		}

		// 2. An escaped literal matches exactly its own path.
		if validPath(p1) {
			lit := "/" + escapeLiteral(p1)
			p, err := compilePattern(lit)
			if err != nil {
				t.Fatalf("literal %q of %q does not compile: %v", lit, p1, err)
			}
			if !p.match(p1, dir) {
				t.Fatalf("literal %q does not match its own path %q", lit, p1)
			}
			if p.match(p2, dir) != (p1 == p2) {
				t.Fatalf("literal %q on %q: %v", lit, p2, !(p1 == p2))
			}
			name := escapeLiteral(baseName(p1))
			q, err := compilePattern(name)
			if err != nil {
				t.Fatalf("name %q does not compile: %v", name, err)
			}
			if q.match(p2, dir) != (baseName(p1) == baseName(p2) && p2 != "") {
				t.Fatalf("name pattern %q on %q: wrong", name, p2)
			}
		}

		// 3. "/*" and "*" never cross '/'; "/**" matches everything.
		star, _ := compilePattern("/*")
		if strings.Contains(p1, "/") && star.match(p1, dir) {
			t.Fatalf(`"/*" matches %q`, p1)
		}
		if dstar, _ := compilePattern("/**"); p1 != "" && !dstar.match(p1, dir) {
			t.Fatalf(`"/**" does not match %q`, p1)
		}

		// 4. The tracker says what the filter says about the path and its folders.
		if validPath(p1) && validPath(p2) {
			fl, err := Build([]Rule{{Include: true, Pattern: p2}, {Pattern: escapeLiteral(baseName(p2)) + "/"}}, false)
			if err != nil {
				return
			}
			want := fl.Excluded(p1, dir)
			for a := parentDir(p1); a != ""; a = parentDir(a) {
				want = want || fl.Excluded(a, true)
			}
			if got := fl.NewTracker().Excluded(p1, dir); got != want {
				t.Fatalf("tracker on %q: %v, filter on it and its folders: %v", p1, got, want)
			}
		}
	})
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"+ *.jpg", "- /tmp/", "node_modules/", "+", "-x", "  + a\\ ", "- [", "#x", "+\t\tb\r", "- a\\", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRule(line)
		if err != nil {
			if r != (Rule{}) {
				t.Fatalf("error %v with a rule %+v", err, r)
			}
			return
		}
		if r.Pattern == "" {
			t.Fatalf("%q parsed to an empty pattern", line)
		}
		if _, err := NewFilter([]Rule{r}); err != nil {
			t.Fatalf("%q parsed but does not compile: %v", line, err)
		}
		back, err := ParseRule(r.String())
		if err != nil || back != r {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", line, r, r.String(), back, err)
		}
		// The same line in a filter file gives the same rule, or is a comment.
		// (A byte-order mark on the first line of a file is dropped.)
		if !strings.ContainsAny(line, "\n\r") && !strings.HasPrefix(line, "\uFEFF") {
			rules, err := ParseFilterFile(strings.NewReader(line), "f")
			t1 := strings.Trim(line, " \t\r")
			isComment := t1 != "" && (t1[0] == '#' || t1[0] == ';')
			if err != nil || (!isComment && (len(rules) != 1 || rules[0] != r)) {
				t.Fatalf("file with line %q: %v, %v", line, rules, err)
			}
		}
	})
}
