package rules

import (
	"strings"
	"unicode/utf8"
)

// Name encoding maps the characters a rule set refuses to look-alike
// Unicode characters on the way to the provider and back on the way from
// it, in the spirit of rclone's lib/encoder:
//
//	NUL and controls 0x01-0x1F  ->  U+2400-U+241F  (␀ ␁ ... ␟, "symbol for")
//	space                       ->  U+2420 ␠
//	DEL                         ->  U+2421 ␡
//	! " # ... ~ (0x21-0x7E)     ->  U+FF01-U+FF5E  (fullwidth: ： ？ ＊ ＜ ＞ ｜ ＂ ＼ ．)
//
// A character is encoded where the rule set refuses it: anywhere for
// ForbiddenChars, control characters (when ForbiddenControl) and NUL, only
// as the first character for NoLeading, only as the last for NoTrailing.
// "report.txt " becomes "report.txt␠" for OneDrive; "a:b" becomes "a：b".
//
// Decoding turns every look-alike of the rule set back into the character
// it stands for, wherever it is. So that a name that really contains a
// look-alike survives, encoding escapes it with EscapeRune: "a：b" (a real
// fullwidth colon) is stored as "a‛：b" and decoded back to "a：b". The
// escape character itself is doubled where it precedes a look-alike or
// another escape character, and left alone elsewhere, so names that merely
// contain "‛" are not changed.
//
// Guarantees, for every valid UTF-8 name without "/" (tested by fuzzing):
//
//   - DecodeName(EncodeName(x)) == x;
//   - EncodeName(x) breaks none of the character rules of the rule set
//     (forbidden, control, leading, trailing); it can still be too long,
//     which Check reports;
//   - EncodeName(x) == x when x breaks no character rule and contains no
//     look-alike of the rule set and no EscapeRune: names never change
//     silently.
//
// Reserved names ("CON", "desktop.ini") are not encoded: rename them.

// EscapeRune marks a look-alike character that is meant literally:
// U+201B SINGLE HIGH-REVERSED-9 QUOTATION MARK, as in rclone.
const EscapeRune = '‛'

// lookAlike returns the character that stands for c, or c, false when c has
// none.
func lookAlike(c rune) (rune, bool) {
	switch {
	case c >= 0 && c < 0x20:
		return 0x2400 + c, true
	case c == ' ':
		return 0x2420, true
	case c == 0x7f:
		return 0x2421, true
	case c > ' ' && c < 0x7f:
		return c + 0xFEE0, true
	}
	return c, false
}

// original is the inverse of lookAlike.
func original(l rune) (rune, bool) {
	switch {
	case l >= 0x2400 && l < 0x2420:
		return l - 0x2400, true
	case l == 0x2420:
		return ' ', true
	case l == 0x2421:
		return 0x7f, true
	case l >= 0xFF01 && l <= 0xFF5E:
		return l - 0xFEE0, true
	}
	return l, false
}

// encodes reports whether c is a character this rule set encodes somewhere
// in a name (so its look-alike is decoded everywhere).
func (r *RuleSet) encodes(c rune) bool {
	if c == '/' {
		return false // never in a name
	}
	return r.forbidden(c) || strings.ContainsRune(r.NoLeading, c) || strings.ContainsRune(r.NoTrailing, c)
}

// special reports whether decoding treats l as a look-alike of this rule
// set.
func (r *RuleSet) special(l rune) bool {
	c, ok := original(l)
	return ok && r.encodes(c)
}

// EncodeName encodes one path element for storage at this provider (see
// the comment above EscapeRune). Bytes that are not valid UTF-8 are kept
// as they are.
func (r *RuleSet) EncodeName(name string) string {
	clean := true
	for i := 0; i < len(name); {
		c, w := utf8.DecodeRuneInString(name[i:])
		if c == EscapeRune || r.special(c) || r.mustEncodeAt(name, i, c, w) {
			clean = false
			break
		}
		i += w
	}
	if clean {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); {
		c, w := utf8.DecodeRuneInString(name[i:])
		switch {
		case r.mustEncodeAt(name, i, c, w):
			l, _ := lookAlike(c)
			b.WriteRune(l)
		case r.special(c):
			b.WriteRune(EscapeRune)
			b.WriteRune(c)
		case c == EscapeRune:
			b.WriteRune(EscapeRune)
			// Double it when what follows will begin with a look-alike or
			// an escape, which decoding would otherwise take as escaped.
			if j := i + w; j < len(name) {
				next, w2 := utf8.DecodeRuneInString(name[j:])
				if next == EscapeRune || r.special(next) || r.mustEncodeAt(name, j, next, w2) {
					b.WriteRune(EscapeRune)
				}
			}
		default:
			b.WriteString(name[i : i+w])
		}
		i += w
	}
	return b.String()
}

// mustEncodeAt reports whether c, at byte offset i of name, breaks a
// character rule and so must be replaced by its look-alike.
func (r *RuleSet) mustEncodeAt(name string, i int, c rune, w int) bool {
	if c == '/' || (c == utf8.RuneError && w == 1) {
		return false
	}
	if r.forbidden(c) {
		return true
	}
	if i == 0 && strings.ContainsRune(r.NoLeading, c) {
		return true
	}
	if i+w == len(name) && strings.ContainsRune(r.NoTrailing, c) {
		return true
	}
	return false
}

// DecodeName turns a name as stored at this provider back into the local
// name: look-alikes become the characters they stand for, escaped
// look-alikes and doubled escapes become themselves.
func (r *RuleSet) DecodeName(name string) string {
	clean := true
	for _, c := range name {
		if c == EscapeRune || r.special(c) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); {
		c, w := utf8.DecodeRuneInString(name[i:])
		switch {
		case c == EscapeRune && i+w < len(name):
			next, w2 := utf8.DecodeRuneInString(name[i+w:])
			if next == EscapeRune || r.special(next) {
				b.WriteRune(next)
				i += w + w2
				continue
			}
			b.WriteRune(c)
		case r.special(c):
			o, _ := original(c)
			b.WriteRune(o)
		default:
			b.WriteString(name[i : i+w])
		}
		i += w
	}
	return b.String()
}

// EncodePath encodes every element of a slash-separated path.
func (r *RuleSet) EncodePath(path string) string { return mapPath(path, r.EncodeName) }

// DecodePath decodes every element of a slash-separated path.
func (r *RuleSet) DecodePath(path string) string { return mapPath(path, r.DecodeName) }

func mapPath(path string, f func(string) string) string {
	if !strings.Contains(path, "/") {
		return f(path)
	}
	elems := strings.Split(path, "/")
	for i, e := range elems {
		elems[i] = f(e)
	}
	return strings.Join(elems, "/")
}
