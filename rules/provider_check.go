package rules

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Stable rule identifiers of a Violation, for scripts and JSON output.
const (
	RuleInvalidUTF8   = "invalid-utf8"
	RuleForbiddenChar = "forbidden-char"
	RuleLeadingChar   = "leading-char"
	RuleTrailingChar  = "trailing-char"
	RuleReservedName  = "reserved-name"
	RuleNameTooLong   = "name-too-long"
	RulePathTooLong   = "path-too-long"
	RuleFileTooBig    = "file-too-big"
	// Collisions between two paths are found by comparing FoldKeys (see
	// dovetail check); Check itself never returns these.
	RuleCaseConflict          = "case-conflict"
	RuleNormalizationConflict = "normalization-conflict"
)

// A Violation is the first rule of a RuleSet that a path breaks.
type Violation struct {
	// Path is the path that was checked.
	Path string
	// Rule is a stable identifier: one of the Rule* constants.
	Rule string
	// Message says what is wrong in words, naming the offending character
	// or length, the limit and the provider.
	Message string
	// Hint says what the user can do about it.
	Hint string
}

func (v *Violation) Error() string {
	if v.Hint == "" {
		return v.Path + ": " + v.Message
	}
	return v.Path + ": " + v.Message + " (" + v.Hint + ")"
}

const (
	hintChars    = "rename it, exclude it, or turn on name encoding (--encode-names)"
	hintReserved = "rename it or exclude it"
	hintName     = "shorten the name or exclude it"
	hintPath     = "shorten the folder names, move it higher up, or exclude it"
	hintSize     = "exclude it, or split it into smaller files"
	hintUTF8     = "rename it: the name is not valid UTF-8 (convmv converts names from legacy encodings)"
)

// Check returns the first rule that path breaks at this provider, or nil.
// path is relative and slash-separated; every element is checked as a name
// (all but the last are folders; the last is a folder when dir is set),
// then the whole path's length, then, for a file, its size.
func (r *RuleSet) Check(path string, dir bool, size int64) *Violation {
	if path == "" {
		return nil
	}
	elems := strings.Split(path, "/")
	for i, name := range elems {
		last := i == len(elems)-1
		if rule, msg, hint := r.checkName(name); rule != "" {
			if !last {
				msg = fmt.Sprintf("folder %q: %s", name, msg)
			}
			return &Violation{Path: path, Rule: rule, Message: msg, Hint: hint}
		}
	}
	if r.MaxPath > 0 {
		if n := count(path, r.PathUnit); n > r.MaxPath {
			return &Violation{Path: path, Rule: RulePathTooLong,
				Message: fmt.Sprintf("path is %d %s long; %s allows at most %d", n, r.PathUnit, r.Title, r.MaxPath),
				Hint:    hintPath}
		}
	}
	if !dir && r.MaxFileSize > 0 && size > r.MaxFileSize {
		return &Violation{Path: path, Rule: RuleFileTooBig,
			Message: fmt.Sprintf("file is %s (%d bytes); %s allows at most %s", humanBytes(size), size, r.Title, humanBytes(r.MaxFileSize)),
			Hint:    hintSize}
	}
	return nil
}

// checkName checks one path element. It returns the rule broken, a message
// and a hint, or "" for a good name.
func (r *RuleSet) checkName(name string) (rule, msg, hint string) {
	if !utf8.ValidString(name) {
		return RuleInvalidUTF8, fmt.Sprintf("name %q is not valid UTF-8, which Dovetail cannot sync", name), hintUTF8
	}
	if rule, msg = r.checkReserved(name); rule != "" {
		return rule, msg, hintReserved
	}
	if rule, msg = r.checkChars(name); rule != "" {
		return rule, msg, hintChars
	}
	if r.MaxName > 0 {
		if n := count(name, r.NameUnit); n > r.MaxName {
			return RuleNameTooLong, fmt.Sprintf("name is %d %s long; %s allows at most %d", n, r.NameUnit, r.Title, r.MaxName), hintName
		}
	}
	return "", "", ""
}

// checkChars applies the character rules (forbidden, control, leading,
// trailing) to a name: exactly the rules that name encoding repairs.
func (r *RuleSet) checkChars(name string) (rule, msg string) {
	for _, c := range name {
		if r.forbidden(c) {
			return RuleForbiddenChar, fmt.Sprintf("name contains %s which %s does not allow", describe(c), r.Title)
		}
	}
	if c, _ := utf8.DecodeRuneInString(name); c != utf8.RuneError && strings.ContainsRune(r.NoLeading, c) {
		return RuleLeadingChar, fmt.Sprintf("name begins with %s which %s does not allow", describe(c), r.Title)
	}
	if c, _ := utf8.DecodeLastRuneInString(name); c != utf8.RuneError && strings.ContainsRune(r.NoTrailing, c) {
		return RuleTrailingChar, fmt.Sprintf("name ends with %s which %s does not allow", describe(c), r.Title)
	}
	return "", ""
}

// forbidden reports whether c may not appear anywhere in a name.
func (r *RuleSet) forbidden(c rune) bool {
	return c == 0 || (r.ForbiddenControl && c < 0x20) || strings.ContainsRune(r.ForbiddenChars, c)
}

func (r *RuleSet) checkReserved(name string) (rule, msg string) {
	eq := func(a, b string) bool { return a == b }
	has := strings.Contains
	pre := strings.HasPrefix
	if r.ReservedFold {
		eq = strings.EqualFold
		has = func(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }
		pre = func(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }
	}
	stem := name
	if i := strings.IndexByte(name, '.'); i >= 0 {
		stem = name[:i]
	}
	stem = strings.TrimRight(stem, " ")
	for _, res := range r.Reserved {
		if eq(name, res) || (r.ReservedIgnoreExt && !strings.Contains(res, ".") && eq(stem, res)) {
			return RuleReservedName, fmt.Sprintf("%q is a reserved name at %s", name, r.Title)
		}
	}
	for _, p := range r.ReservedPrefixes {
		if pre(name, p) {
			return RuleReservedName, fmt.Sprintf("names beginning with %q are reserved at %s", p, r.Title)
		}
	}
	for _, s := range r.ReservedContains {
		if has(name, s) {
			return RuleReservedName, fmt.Sprintf("names containing %q are reserved at %s", s, r.Title)
		}
	}
	return "", ""
}

// count measures s in unit u.
func count(s string, u Unit) int {
	switch u {
	case Chars:
		return utf8.RuneCountInString(s)
	case UTF16:
		n := 0
		for _, c := range s {
			if utf16.IsSurrogate(c) || c > 0xFFFF {
				n += 2
			} else {
				n++
			}
		}
		return n
	}
	return len(s)
}

// describe names a character for a message: `":"`, "a space", "control
// character U+0009".
func describe(c rune) string {
	switch {
	case c == ' ':
		return "a space"
	case c < 0x20 || c == 0x7f:
		return fmt.Sprintf("control character U+%04X", c)
	}
	return fmt.Sprintf("%q", string(c))
}

// humanBytes formats n in decimal units, as providers state their limits.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// FoldKey returns the key under which paths collide at this provider: two
// paths with the same FoldKey cannot both exist there (or, for
// normalization, look identical and are treated as one). The key is the
// NFC form of the path and, when the provider is case-insensitive, its
// Unicode full case folding (golang.org/x/text/cases Fold: "Straße" and
// "STRASSE" collide, which strings.ToLower would miss). Full folding is
// stricter than some file systems (NTFS folds ß to itself): Dovetail would
// rather report a collision that might not happen than lose a file.
func (r *RuleSet) FoldKey(path string) string {
	k := norm.NFC.String(path)
	if r.CaseInsensitive {
		k = norm.NFC.String(cases.Fold().String(k))
	}
	return k
}
