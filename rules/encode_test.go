package rules

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodeNameExamples(t *testing.T) {
	for _, c := range []struct {
		set, in, out string
	}{
		{"onedrive", "a:b.txt", "a：b.txt"},
		{"onedrive", `what?<>|"*\.txt`, `what？＜＞｜＂＊＼.txt`},
		{"onedrive", " lead", "␠lead"},
		{"onedrive", "trail ", "trail␠"},
		{"onedrive", "trail.", "trail．"},
		{"onedrive", "mid dle.x", "mid dle.x"}, // allowed where it is
		{"onedrive", "a：b", "a‛：b"},            // a real fullwidth colon is escaped
		{"onedrive", "a‛b", "a‛b"},             // a lone escape stays
		{"onedrive", "a‛:b", "a‛‛：b"},          // escape before an encoded char is doubled
		{"onedrive", "a‛：b", "a‛‛‛：b"},         // ... and before an escaped look-alike
		{"onedrive", "‛‛", "‛‛‛"},              // ... and before another escape
		{"onedrive", "tab\there", "tab␉here"},  // controls -> U+2400 + c
		{"onedrive", "x\x7f", "x\x7f"},         // DEL is allowed at OneDrive
		{"windows", "CON.txt", "CON.txt"},      // reserved names are not encoded
		{"windows", "trailing.", "trailing．"},  // U+FF0E
		{"windows", "trailing ", "trailing␠"},  // U+2420
		{"windows", "a. .", "a. ．"},            // only the last character
		{"windows", "．start", "‛．start"},       // look-alikes are escaped anywhere
		{"dropbox", `a\b `, "a＼b␠"},            // fullwidth reverse solidus, symbol for space
		{"dropbox", "del\x7f", "del␡"},         // U+2421
		{"dropbox", "a:b", "a:b"},              // allowed at Dropbox
		{"dropbox", "a：b", "a：b"},              // not a look-alike of Dropbox's rules
		{"linux", "nul\x00", "nul␀"},           // NUL is refused everywhere
		{"linux", "a:b\\c ", "a:b\\c "},        // nothing else at Linux
		{"linux", "␀", "‛␀"},                   // the look-alike of NUL is escaped
		{"s3", "bell\x07", "bell␇"},            //
		{"s3", "a：b", "a：b"},                   // fullwidth is not special at S3
		{"b2", "\x7f\\", "␡＼"},                 //
		{"azure", "end.", "end．"},              //
		{"gdrive", `any:thing?*"<>|\ .`, `any:thing?*"<>|\ .`},
		{"windows", "bad\xffutf8:", "bad\xffutf8："}, // invalid bytes are kept
	} {
		r := rs(t, c.set)
		if got := r.EncodeName(c.in); got != c.out {
			t.Errorf("%s: EncodeName(%q) = %q, want %q", c.set, c.in, got, c.out)
		}
		if back := r.DecodeName(c.out); back != c.in {
			t.Errorf("%s: DecodeName(%q) = %q, want %q", c.set, c.out, back, c.in)
		}
	}
}

func TestEncodePath(t *testing.T) {
	r := rs(t, "onedrive")
	in := "Q&A: notes/what?/draft ./x"
	want := "Q&A： notes/what？/draft ．/x"
	if got := r.EncodePath(in); got != want {
		t.Errorf("EncodePath(%q) = %q, want %q", in, got, want)
	}
	if got := r.DecodePath(want); got != in {
		t.Errorf("DecodePath(%q) = %q, want %q", want, got, in)
	}
	if r.EncodePath("") != "" || r.DecodePath("") != "" {
		t.Error("empty path changed")
	}
}

// TestEncodeDecodesForeignNames: names created at the provider by other
// programs with look-alikes come down as the characters they stand for,
// and a lone escape character is left alone.
func TestEncodeDecodesForeignNames(t *testing.T) {
	r := rs(t, "onedrive")
	for in, want := range map[string]string{
		"Meeting：Notes": "Meeting:Notes",
		"‛":             "‛",
		"x‛y":           "x‛y",
		"plain":         "plain",
		"end‛":          "end‛",
	} {
		if got := r.DecodeName(in); got != want {
			t.Errorf("DecodeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkEncoding asserts the three promises of name encoding for one name
// at one rule set.
func checkEncoding(t *testing.T, r *RuleSet, name string) {
	t.Helper()
	enc := r.EncodeName(name)
	if dec := r.DecodeName(enc); dec != name {
		t.Fatalf("%s: DecodeName(EncodeName(%q)) = %q (encoded %q)", r.Name, name, dec, enc)
	}
	if rule, msg := r.checkChars(enc); rule != "" {
		t.Fatalf("%s: EncodeName(%q) = %q breaks %s: %s", r.Name, name, enc, rule, msg)
	}
	if rule, _ := r.checkChars(name); rule == "" && !hasSpecial(r, name) && enc != name {
		t.Fatalf("%s: EncodeName(%q) = %q changed a name that breaks no rule", r.Name, name, enc)
	}
	if strings.Contains(enc, "/") {
		t.Fatalf("%s: EncodeName(%q) = %q contains a slash", r.Name, name, enc)
	}
}

func hasSpecial(r *RuleSet, name string) bool {
	for _, c := range name {
		if c == EscapeRune || r.special(c) {
			return true
		}
	}
	return false
}

func TestEncodeProperties(t *testing.T) {
	var names []string
	// Every ASCII character and every look-alike, alone, in front, in the
	// middle and at the end, with and without escapes.
	var specials []rune
	for c := rune(0); c < 0x80; c++ {
		specials = append(specials, c)
		if l, ok := lookAlike(c); ok {
			specials = append(specials, l)
		}
	}
	specials = append(specials, EscapeRune, 'é', '😀')
	for _, c := range specials {
		if c == '/' {
			continue
		}
		s := string(c)
		for _, n := range []string{s, s + "x", "x" + s, "x" + s + "x", s + s, "‛" + s, s + "‛", "‛‛" + s + "‛", s + ".", s + " "} {
			names = append(names, n)
		}
	}
	for _, r := range ruleSets {
		for _, n := range names {
			checkEncoding(t, r, n)
		}
	}
}

func FuzzEncodeName(f *testing.F) {
	for _, s := range []string{"a:b.txt", "trailing.", "trailing ", " lead", "‛", "‛：", "：‛", "‛‛:", "\x00", "␀", "CON", "a‛", "．．", "\x01\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || strings.Contains(name, "/") {
			return
		}
		for _, r := range ruleSets {
			checkEncoding(t, r, name)
		}
	})
}
