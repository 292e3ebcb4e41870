package rules

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind is one element of a compiled pattern.
type tokKind uint8

const (
	tokLit   tokKind = iota // one literal character
	tokAny                  // ? : one character except '/'
	tokClass                // [...] : one character except '/' in (or not in) a set
	tokStar                 // * : any run of characters except '/'
	tokDStar                // ** : any run of characters, '/' included
	tokSkip                 // consumes nothing; may jump over the next two tokens (see "**/")
)

type token struct {
	kind   tokKind
	r      rune        // tokLit
	neg    bool        // tokClass
	ranges []runeRange // tokClass
}

type runeRange struct{ lo, hi rune }

func (t *token) classMatch(r rune) bool {
	in := false
	if r >= 0 { // r < 0 is a byte that is not valid UTF-8: in no range.
		for _, rg := range t.ranges {
			if rg.lo <= r && r <= rg.hi {
				in = true
				break
			}
		}
	}
	return in != t.neg
}

// matchMode says what part of the path a pattern is matched against.
type matchMode uint8

const (
	modeName     matchMode = iota // no '/' and no "**": the last name only, at any depth
	modeAnchored                  // leading '/': the full path, from the root
	modeFloating                  // '/' or "**" inside: a trailing part of the path that starts on a name boundary
)

// fastKind is a precompiled shortcut for the common shapes of pattern, so
// that the default ignore list costs a few string comparisons per path.
type fastKind uint8

const (
	fastNone    fastKind = iota // run the general matcher
	fastLiteral                 // subject == lit
	fastAffix                   // HasPrefix(subject, pre) && HasSuffix(subject, suf), one '*' between, no '/' in subject
)

// pattern is one compiled pattern.
type pattern struct {
	src     string // as written by the user
	mode    matchMode
	dirOnly bool
	toks    []token

	fast     fastKind
	lit      string // fastLiteral
	pre, suf string // fastAffix
	// head is the literal text before the first wildcard; a subject that
	// does not start with it cannot match (not floating), so most names
	// are turned away before the automaton runs.
	head string
}

// errEmptyPattern is returned for "", "/" and "//"-like patterns that name nothing.
var errEmptyPattern = errors.New("empty pattern")

// compilePattern parses a pattern of the language documented in
// docs/filters.md. Errors name the pattern.
func compilePattern(src string) (*pattern, error) {
	p, err := compile(src)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	return p, nil
}

func compile(src string) (*pattern, error) {
	if !utf8.ValidString(src) {
		return nil, errors.New("not valid UTF-8")
	}
	p := &pattern{src: src}
	s := src
	if strings.HasSuffix(s, "/") && !escapedAt(s, len(s)-1) {
		p.dirOnly = true
		s = s[:len(s)-1]
	}
	anchored := false
	if strings.HasPrefix(s, "/") {
		anchored = true
		s = s[1:]
	}
	if s == "" {
		return nil, errEmptyPattern
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p.toks = toks
	hasSlash, hasDStar := false, false
	for _, t := range toks {
		switch {
		case t.kind == tokLit && t.r == '/':
			hasSlash = true
		case t.kind == tokDStar:
			hasDStar = true
		}
	}
	switch {
	case anchored:
		p.mode = modeAnchored
	case hasSlash || hasDStar:
		p.mode = modeFloating
	default:
		p.mode = modeName
	}
	p.precompile()
	return p, nil
}

// escapedAt reports whether the byte at i is preceded by an odd run of
// backslashes, that is, escaped.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// tokenize turns the pattern body (without a leading '/' or trailing '/')
// into tokens. s is valid UTF-8.
func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash escapes nothing")
			}
			r, w := utf8.DecodeRuneInString(s[i+1:])
			toks = append(toks, token{kind: tokLit, r: r})
			i += 1 + w
		case '?':
			toks = append(toks, token{kind: tokAny})
			i++
		case '*':
			j := i
			for j < len(s) && s[j] == '*' {
				j++
			}
			if j-i == 1 {
				toks = append(toks, token{kind: tokStar})
				i = j
				break
			}
			// Two or more stars are one "**". Followed by '/' and at the
			// start or after a '/', it also matches zero folders, so
			// "a/**/b" matches "a/b" as well as "a/x/y/b".
			atBoundary := i == 0 || (len(toks) > 0 && toks[len(toks)-1].kind == tokLit && toks[len(toks)-1].r == '/')
			if atBoundary && j < len(s) && s[j] == '/' {
				// "" or (anything, then '/'): a skip over "**" "/".
				toks = append(toks, token{kind: tokSkip}, token{kind: tokDStar}, token{kind: tokLit, r: '/'})
				i = j + 1
				break
			}
			toks = append(toks, token{kind: tokDStar})
			i = j
		case '[':
			t, n, err := parseClass(s[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
		default:
			r, w := utf8.DecodeRuneInString(s[i:])
			toks = append(toks, token{kind: tokLit, r: r})
			i += w
		}
	}
	return toks, nil
}

// parseClass parses a character class at the start of s ("[...]") and
// returns it and the number of bytes it used. A ']' right after "[" or "[!"
// is a member, not the end; '\' escapes the next character; "a-z" is a
// range; '!' or '^' first negates.
func parseClass(s string) (token, int, error) {
	t := token{kind: tokClass}
	i := 1
	if i < len(s) && (s[i] == '!' || s[i] == '^') {
		t.neg = true
		i++
	}
	first := true
	for {
		if i >= len(s) {
			return token{}, 0, errors.New("unclosed character class '['")
		}
		if s[i] == ']' && !first {
			return t, i + 1, nil
		}
		first = false
		lo, n, err := classChar(s[i:])
		if err != nil {
			return token{}, 0, err
		}
		i += n
		hi := lo
		if i+1 < len(s) && s[i] == '-' && s[i+1] != ']' {
			hi, n, err = classChar(s[i+1:])
			if err != nil {
				return token{}, 0, err
			}
			i += 1 + n
			if hi < lo {
				return token{}, 0, fmt.Errorf("character range %q-%q is reversed", lo, hi)
			}
		}
		t.ranges = append(t.ranges, runeRange{lo, hi})
	}
}

func classChar(s string) (rune, int, error) {
	if s[0] == '\\' {
		if len(s) < 2 {
			return 0, 0, errors.New("unclosed character class '['")
		}
		r, w := utf8.DecodeRuneInString(s[1:])
		return r, 1 + w, nil
	}
	r, w := utf8.DecodeRuneInString(s)
	return r, w, nil
}

// precompile picks a shortcut when the pattern is a plain literal or a
// literal with exactly one '*' (the shapes of nearly every default).
func (p *pattern) precompile() {
	k := 0
	for k < len(p.toks) && p.toks[k].kind == tokLit {
		k++
	}
	p.head = litString(p.toks[:k])
	stars, other := 0, false
	starAt := -1
	for i, t := range p.toks {
		switch t.kind {
		case tokLit:
		case tokStar:
			stars++
			starAt = i
		default:
			other = true
		}
	}
	if other || stars > 1 {
		return
	}
	if stars == 0 {
		p.fast, p.lit = fastLiteral, litString(p.toks)
		return
	}
	// One '*' cannot cross '/', so the shortcut only holds for a subject
	// with no '/', that is, a name.
	if p.mode == modeName {
		p.fast = fastAffix
		p.pre, p.suf = litString(p.toks[:starAt]), litString(p.toks[starAt+1:])
	}
}

func litString(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteRune(t.r)
	}
	return b.String()
}

// match reports whether the pattern matches path (relative, slash-separated)
// which is a folder when dir is set.
//
// Hook: names are compared byte for byte (after UTF-8 decoding). When the
// engine normalizes names (NFC/NFD), normalize both the path and, once in
// compile, the pattern's literals at this point.
func (p *pattern) match(path string, dir bool) bool {
	if p.dirOnly && !dir {
		return false
	}
	switch p.mode {
	case modeName:
		return p.matchSubject(baseName(path), false)
	case modeAnchored:
		return p.matchSubject(path, false)
	default:
		return p.matchSubject(path, true)
	}
}

// matchSubject matches the whole subject, or with floating any part of it
// that begins at the start or right after a '/' and runs to the end.
func (p *pattern) matchSubject(s string, floating bool) bool {
	switch p.fast {
	case fastLiteral:
		if !floating {
			return s == p.lit
		}
		return s == p.lit || (len(s) > len(p.lit) && s[len(s)-len(p.lit)-1] == '/' && s[len(s)-len(p.lit):] == p.lit)
	case fastAffix: // only in modeName, so s has no '/'
		return len(s) >= len(p.pre)+len(p.suf) && strings.HasPrefix(s, p.pre) && strings.HasSuffix(s, p.suf)
	}
	if !floating && !strings.HasPrefix(s, p.head) {
		return false
	}
	return p.nfa(s, floating)
}

// nfa runs the pattern as a nondeterministic automaton over the characters
// of s: O(len(s) × len(pattern)) in the worst case, never exponential.
// State i means "the first i tokens have matched".
func (p *pattern) nfa(s string, floating bool) bool {
	n := len(p.toks)
	words := n/64 + 1
	var buf [2][4]uint64
	var cur, next []uint64
	if words <= len(buf[0]) {
		cur, next = buf[0][:words], buf[1][:words]
	} else {
		cur, next = make([]uint64, words), make([]uint64, words)
	}
	set := func(b []uint64, i int) { b[i/64] |= 1 << (i % 64) }
	has := func(b []uint64, i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
	closure := func(b []uint64) {
		for i := 0; i < n; i++ {
			if has(b, i) {
				switch p.toks[i].kind {
				case tokStar, tokDStar:
					set(b, i+1)
				case tokSkip:
					set(b, i+1)
					set(b, i+3)
				}
			}
		}
	}
	set(cur, 0)
	closure(cur)
	for pos := 0; pos < len(s); {
		r, w := utf8.DecodeRuneInString(s[pos:])
		if r == utf8.RuneError && w == 1 {
			r = -1 // a byte that is not UTF-8 equals no pattern character
		}
		pos += w
		slash := r == '/'
		clear(next)
		any := false
		for i := 0; i < n; i++ {
			if !has(cur, i) {
				continue
			}
			t := &p.toks[i]
			switch t.kind {
			case tokLit:
				if r == t.r {
					set(next, i+1)
					any = true
				}
			case tokAny:
				if !slash {
					set(next, i+1)
					any = true
				}
			case tokClass:
				if !slash && t.classMatch(r) {
					set(next, i+1)
					any = true
				}
			case tokStar:
				if !slash {
					set(next, i)
					any = true
				}
			case tokDStar:
				set(next, i)
				any = true
			}
		}
		if floating && slash {
			set(next, 0)
			any = true
		}
		if !any {
			if !floating {
				return false
			}
			// Nothing alive: the next chance is a restart after the next '/'.
			k := strings.IndexByte(s[pos:], '/')
			if k < 0 {
				return false
			}
			pos += k + 1
			set(next, 0)
		}
		closure(next)
		cur, next = next, cur
	}
	return has(cur, n)
}

// baseName is the last name of a slash-separated path (connectors.Base,
// repeated here so that rules depends on nothing).
func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// parentDir is the folder holding p, "" for a top-level name
// (connectors.Parent).
func parentDir(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// fixedPrefix returns the folder or path the pattern names before its first
// wildcard, as a path from the root, for deciding whether an include rule is
// an exception to a later exclude (see NewFilter). ok is false when the
// pattern names no fixed place (it starts with a wildcard, or is unanchored
// and has no complete folder before its first wildcard).
func (p *pattern) fixedPrefix() (path string, dir, exact, ok bool) {
	k := 0
	for k < len(p.toks) && p.toks[k].kind == tokLit {
		k++
	}
	lit := litString(p.toks[:k])
	if k == len(p.toks) {
		return lit, p.dirOnly, true, true
	}
	i := strings.LastIndexByte(lit, '/')
	if i <= 0 {
		return "", false, false, false
	}
	return lit[:i], true, false, true
}
