package rules

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	tests := []struct {
		line    string
		want    Rule
		wantErr string
	}{
		{line: "+ *.jpg", want: Rule{Include: true, Pattern: "*.jpg"}},
		{line: "- *.jpg", want: Rule{Include: false, Pattern: "*.jpg"}},
		{line: "*.jpg", want: Rule{Include: false, Pattern: "*.jpg"}},
		{line: "+\t  a b", want: Rule{Include: true, Pattern: "a b"}},
		{line: "  - x  ", want: Rule{Include: false, Pattern: "x"}},
		{line: "- x\r", want: Rule{Include: false, Pattern: "x"}},
		{line: `- a\ `, want: Rule{Include: false, Pattern: `a\ `}},
		{line: `- a\\ `, want: Rule{Include: false, Pattern: `a\\`}},
		{line: "- -x", want: Rule{Include: false, Pattern: "-x"}},
		{line: "#recycle/", want: Rule{Include: false, Pattern: "#recycle/"}},
		{line: "", wantErr: "empty rule"},
		{line: "   ", wantErr: "empty rule"},
		{line: "+", wantErr: "no pattern"},
		{line: "- ", wantErr: "no pattern"},
		{line: "+foo", wantErr: "put a blank"},
		{line: "-foo", wantErr: "put a blank"},
		{line: "- [abc", wantErr: `pattern "[abc"`},
		{line: "+ a\\", wantErr: "trailing backslash"},
	}
	for _, tt := range tests {
		got, err := ParseRule(tt.line)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseRule(%q) error = %v, want one containing %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
		}
	}
}

func TestParseFilterFile(t *testing.T) {
	in := "\uFEFF# photos only\n" +
		"\n" +
		"; also a comment\n" +
		"   # indented comment\n" +
		"+ *.jpg\r\n" +
		"- /tmp/\n" +
		"node_modules/\n" +
		`- \#literal-hash` + "\n"
	got, err := ParseFilterFile(strings.NewReader(in), "my.filter")
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{{true, "*.jpg"}, {false, "/tmp/"}, {false, "node_modules/"}, {false, `\#literal-hash`}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d = %v, want %v", i, got[i], want[i])
		}
	}
	f, err := NewFilter(got)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Excluded("#literal-hash", false) {
		t.Error(`escaped "\#literal-hash" does not exclude "#literal-hash"`)
	}
}

func TestParseFilterFileErrors(t *testing.T) {
	tests := []struct {
		in   string
		line int
		msg  string
	}{
		{"+ *.jpg\n- [oops\n", 2, `rules.txt:2: pattern "[oops": unclosed character class`},
		{"# c\n\n\n+nospace\n", 4, "rules.txt:4: rule \"+nospace\""},
		{"a\nb\n-\n- [x\n", 3, "rules.txt:3: rule \"-\" has no pattern"}, // the first error wins
		{"a\n- /\n", 2, `rules.txt:2: pattern "/": empty pattern`},
	}
	for _, tt := range tests {
		_, err := ParseFilterFile(strings.NewReader(tt.in), "rules.txt")
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: error %v is not a *ParseError", tt.in, err)
			continue
		}
		if pe.File != "rules.txt" || pe.Line != tt.line || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("%q: error %q (line %d), want prefix %q (line %d)", tt.in, err, pe.Line, tt.msg, tt.line)
		}
	}
}

type judge struct {
	path string
	dir  bool
	want bool // excluded
}

func checkFilter(t *testing.T, desc string, f *Filter, cases []judge) {
	t.Helper()
	for _, c := range cases {
		if got := f.Excluded(c.path, c.dir); got != c.want {
			t.Errorf("%s: Excluded(%q, dir=%v) = %v, want %v", desc, c.path, c.dir, got, c.want)
		}
	}
}

func checkTracker(t *testing.T, desc string, f *Filter, cases []judge) {
	t.Helper()
	tr := f.NewTracker()
	for _, c := range cases {
		if got := tr.Excluded(c.path, c.dir); got != c.want {
			t.Errorf("%s: Tracker.Excluded(%q, dir=%v) = %v, want %v", desc, c.path, c.dir, got, c.want)
		}
	}
}

func mustFilter(t *testing.T, rules ...Rule) *Filter {
	t.Helper()
	f, err := NewFilter(rules)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFirstMatchWins(t *testing.T) {
	f := mustFilter(t, Rule{true, "keep.log"}, Rule{false, "*.log"}, Rule{true, "*.log"})
	checkFilter(t, "first match", f, []judge{
		{"keep.log", false, false},
		{"a/keep.log", false, false},
		{"other.log", false, true}, // the later "+ *.log" never gets a say
		{"a.txt", false, true},     // "+ *.log" is no exception to anything: "only" mode
	})
	g := mustFilter(t, Rule{false, "*.log"}, Rule{true, "keep.log"})
	checkFilter(t, "order reversed", g, []judge{{"keep.log", false, true}})
	h := mustFilter(t, Rule{true, "keep.log"}, Rule{false, "*.log"})
	checkFilter(t, "exception", h, []judge{
		{"keep.log", false, false},
		{"other.log", false, true},
		{"a.txt", false, false}, // "+ keep.log" is an exception to "- *.log": not "only" mode
	})
}

func TestNoRulesIncludesEverything(t *testing.T) {
	checkFilter(t, "empty", mustFilter(t), []judge{{"a", false, false}, {"a/b", true, false}, {"", true, false}})
}

func TestIncludeMeansOnly(t *testing.T) {
	f := mustFilter(t, Rule{true, "*.jpg"})
	checkFilter(t, "only jpgs", f, []judge{
		{"a.jpg", false, false},
		{"2024/summer/b.jpg", false, false},
		{"a.png", false, true}, // file matching no rule: excluded
		{"notes", false, true}, // even without an extension
		{"2024", true, false},  // folder matching no rule: still traversed
		{"2024/summer", true, false},
		{"x.jpg", true, false}, // a folder the include matches
	})
	checkTracker(t, "only jpgs walk", f, []judge{
		{"2024", true, false},
		{"2024/summer", true, false},
		{"2024/summer/b.jpg", false, false},
		{"2024/summer/b.txt", false, true},
	})
	// Excludes alone never switch "only" on.
	checkFilter(t, "excludes only", mustFilter(t, Rule{false, "*.png"}), []judge{{"a.txt", false, false}, {"a.png", false, true}})
	// An include followed by an unrelated exclude is still "only".
	g := mustFilter(t, Rule{true, "*.jpg"}, Rule{false, "/tmp/"})
	checkFilter(t, "only jpgs, not in tmp", g, []judge{{"a.jpg", false, false}, {"a.txt", false, true}, {"tmp", true, true}})
}

func TestIncludeExceptions(t *testing.T) {
	// "+ /Videos/keep/" punches a hole in "- /Videos/*": not "only" mode.
	f := mustFilter(t, Rule{true, "/Videos/keep/"}, Rule{false, "/Videos/*"})
	checkTracker(t, "keep one video folder", f, []judge{
		{"Videos", true, false},
		{"Videos/keep", true, false},
		{"Videos/keep/a.mp4", false, false},
		{"Videos/keep/sub/b.mp4", false, false},
		{"Videos/big", true, true},
		{"Videos/big/c.mp4", false, true},
		{"Videos/loose.mp4", false, true},
		{"Documents/report.pdf", false, false},
		{"notes.txt", false, false},
	})
	// An include under a folder a later rule excludes is an exception even
	// though it cannot take effect: the folder hides it.
	g := mustFilter(t, Rule{true, "/Videos/keep/**"}, Rule{true, "/Videos/keep/"}, Rule{false, "/Videos/"})
	checkTracker(t, "exclude the parent folder", g, []judge{
		{"notes.txt", false, false},
		{"Videos", true, true},
		{"Videos/keep", true, true},
		{"Videos/keep/a.mp4", false, true},
	})
	// The same pattern excluded later: an opt-back-in, not "only".
	h := mustFilter(t, Rule{true, "._*"}, Rule{false, "._*"})
	checkFilter(t, "same pattern", h, []judge{{"._x", false, false}, {"x", false, false}})
}

func TestTrackerHidesContents(t *testing.T) {
	f := mustFilter(t, Rule{false, "node_modules/"}, Rule{false, "/build"})
	// In walk order.
	checkTracker(t, "walk", f, []judge{
		{"app", true, false},
		{"app/node_modules", true, true},
		{"app/node_modules/x", true, true},
		{"app/node_modules/x/index.js", false, true},
		{"app/node_modules.txt", false, false},
		{"build", true, true},
		{"build/out.bin", false, true},
		{"src", true, false},
		{"src/build", true, false},
		{"src/build/x", false, false},
	})
	// Contents arriving before (or without) their folders.
	checkTracker(t, "unseen folders", f, []judge{
		{"app/node_modules/x/y/z/index.js", false, true},
		{"build/a/b", false, true},
		{"app/src/main.js", false, false},
		{"app/node_modules", true, true},
	})
	// The filter alone judges one path and does not look at folders above.
	checkFilter(t, "filter alone", f, []judge{{"app/node_modules/x/index.js", false, false}})
}

func TestTrackerMatchesFilterOnAncestors(t *testing.T) {
	// Tracker.Excluded(p) == Filter.Excluded on p or any folder above p.
	f, err := Build([]Rule{{true, "/keep/**"}, {false, "/a/*/c/"}, {true, "*.jpg"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"a/b/c/d.jpg", "a/b/c", "a/b/x.jpg", "@eaDir/x.jpg", "p/@eaDir/q/r.jpg", "keep/a/b.txt",
		".dovetail/state.db", "x/.dovetail/y.jpg", "x/.dovetail.tmp.123", "a/b/c/.DS_Store"}
	tr := f.NewTracker()
	for _, p := range paths {
		want := f.Excluded(p, false)
		for a := parentDir(p); a != ""; a = parentDir(a) {
			want = want || f.Excluded(a, true)
		}
		if got := tr.Excluded(p, false); got != want {
			t.Errorf("Tracker.Excluded(%q) = %v, filter on it and its folders says %v", p, got, want)
		}
	}
}

// The worked examples in docs/filters.md do what the page says.
func TestDocExamples(t *testing.T) {
	home := `# ~/.config/dovetail/home.filter
- /Downloads/
- /.cache/
- node_modules/
- *.o
+ /Projects/important.log
- *.log
`
	user, err := ParseFilterFile(strings.NewReader(home), "home.filter")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Build(user, false)
	if err != nil {
		t.Fatal(err)
	}
	checkTracker(t, "home.filter", f, []judge{
		{"Downloads", true, true}, {"Downloads/x.iso", false, true}, {"a/Downloads", true, false},
		{"web/node_modules/react/index.js", false, true}, {"c/main.o", false, true},
		{"Projects/important.log", false, false}, {"Projects/other.log", false, true},
		{"Projects/main.c", false, false}, {"notes.txt", false, false}, {"Projects/.DS_Store", false, true},
	})
	only, err := Build([]Rule{{true, "*.jpg"}, {true, "*.jpeg"}, {true, "*.heic"}, {true, "*.JPG"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	checkTracker(t, "only photos", only, []judge{
		{"2024", true, false}, {"2024/a.JPG", false, false}, {"2024/b.heic", false, false},
		{"2024/a.png", false, true}, {"2024/._a.jpg", false, true}, // the default "._*" still applies
	})
	comment, err := ParseRule("- *.tmp # scratch")
	if err != nil || comment.Pattern != "*.tmp # scratch" {
		t.Errorf("inline # parsed as %+v, %v", comment, err)
	}
	checkFilter(t, "foo**", mustFilter(t, Rule{false, "foo**"}), []judge{
		{"foo", false, true}, {"foo/bar/baz", false, true}, {"x/foobar", false, true}, {"xfoo", false, false},
	})
}
